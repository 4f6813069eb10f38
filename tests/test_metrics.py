import json
import math

import numpy as np
import pytest
import torch

from dlhelpers.evaluation import classifier as C
from dlhelpers.evaluation import metrics as M
from support import corrupt_copy
from dlhelpers.io import CorruptFileError


@pytest.fixture(scope="module")
def heldout():
    return M.heldout_samples(labels=True)


def test_classifier_file_small_and_checked():
    meta = json.loads(C.DEFAULT_CLASSIFIER_PATH.with_suffix(".json").read_text())
    assert C.DEFAULT_CLASSIFIER_PATH.stat().st_size <= 1_000_000
    assert meta["size_bytes"] == C.DEFAULT_CLASSIFIER_PATH.stat().st_size
    model = C.load_classifier()
    assert not model.training
    assert C.load_classifier() is model  # cached
    assert C.load_classifier("cpu") is model


def test_metrics_reexports_the_classifier_and_dropped_classify():
    assert M.load_classifier is C.load_classifier and M.DEFAULT_CLASSIFIER_PATH == C.DEFAULT_CLASSIFIER_PATH
    assert not hasattr(M, "classify")  # dead code, removed


def test_heldout_accuracy_at_least_98_percent(heldout):
    x, y = heldout
    acc = M.context_accuracy(x, y)
    assert acc["overall"] >= 0.98, acc
    assert min(acc["per_class"].values()) >= 0.95, acc


def test_real_vs_real_and_noise(heldout):
    x, y = heldout
    n = 500
    base = M.real_vs_real_fd(n, seed=0)
    # real sprites from the *training* split against held-out ones: close to the baseline
    from dlhelpers.sprites import default_split, images_to_tensor, load_sprites
    images, labels = load_sprites()
    train_idx, _ = default_split(len(labels))
    pick = np.random.default_rng(1).choice(train_idx, n, replace=False)
    ref = M.heldout_samples(n, seed=1)  # random held-out sprites (x itself is in file order)
    real_fd = M.sprite_fd(images_to_tensor(images[pick]), ref)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(n, 3, 16, 16, generator=g).clamp(-1, 1)
    noise_fd = M.sprite_fd(noise, ref)
    assert real_fd < 3 * base + 0.5
    assert noise_fd > 20 * base
    acc_noise = M.context_accuracy(noise, torch.arange(n) % 5)
    assert acc_noise["overall"] < 0.5
    acc_real = M.context_accuracy(images_to_tensor(images[pick]), torch.from_numpy(labels[pick]))
    assert acc_real["overall"] > 0.98


def test_features_and_per_class_nan(heldout):
    x, y = heldout
    f = M.classifier_features(x[:10])
    assert f.shape == (10, M.FEATURE_DIM) and f.dtype == torch.float32
    acc = M.context_accuracy(x[:10][y[:10] == y[0]], y[:10][y[:10] == y[0]])
    names = [n for n in acc["per_class"] if not math.isnan(acc["per_class"][n])]
    assert len(names) == 1


def test_context_accuracy_per_class_fractions(heldout):
    x, y = heldout
    from dlhelpers.sprites import CLASS_NAMES
    hero, food, spell = (CLASS_NAMES.index(n) for n in ("hero", "food", "spell"))
    pick = torch.cat([(y == hero).nonzero()[:4, 0], (y == food).nonzero()[:6, 0]])
    asked = y[pick].clone()
    asked[4:7] = spell                      # three of the six food sprites are requested as spells: all misses
    acc = M.context_accuracy(x[pick], asked)
    assert acc["per_class"]["hero"] == 1.0
    assert acc["per_class"]["food"] == 1.0   # the three still requested as food are food
    assert acc["per_class"]["spell"] == 0.0
    assert math.isnan(acc["per_class"]["non-hero"])
    assert acc["n_per_class"] == {"hero": 4, "non-hero": 0, "food": 3, "spell": 3, "side-facing": 0}
    assert acc["overall"] == pytest.approx(7 / 10)
    assert list(acc["per_class"]) == list(CLASS_NAMES)


def test_frechet_distance_math():
    mu = torch.zeros(1)
    assert M.frechet_distance(mu, torch.eye(1), mu, 4 * torch.eye(1)) == pytest.approx(1.0)
    a = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    c = a.T @ a / 199
    assert M.frechet_distance(a.mean(0), c, a.mean(0), c) == pytest.approx(0.0, abs=1e-8)
    assert M.frechet_distance(torch.zeros(8), c, torch.ones(8), c) == pytest.approx(8.0, abs=1e-6)


def test_bad_inputs(heldout):
    x, y = heldout
    x, y = x[:8], y[:8]
    with pytest.raises(ValueError, match="samples"):
        M.context_accuracy(x[0], y)                      # wrong rank
    with pytest.raises(ValueError, match="samples"):
        M.context_accuracy(x[:, :1], y)                  # wrong channels
    with pytest.raises(ValueError, match="requested_labels"):
        M.context_accuracy(x, y[:5])                     # length mismatch
    with pytest.raises(ValueError, match="requested_labels"):
        M.context_accuracy(x, torch.full((8,), 5))       # out of range
    with pytest.raises(TypeError, match="requested_labels"):
        M.context_accuracy(x, y.float())
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="samples"):
        M.classifier_features(bad)
    with pytest.raises(ValueError, match="reference"):
        M.sprite_fd(x, bad)
    with pytest.raises(TypeError, match="samples"):
        M.sprite_fd(x.numpy(), x)
    with pytest.raises(TypeError, match="samples"):
        M.classifier_features((x * 127).to(torch.uint8))
    with pytest.raises(ValueError, match="n"):
        M.real_vs_real_fd(10**6)


def test_corrupt_classifier_raises(tmp_path):
    dst = tmp_path / "classifier.pt"
    corrupt_copy(C.DEFAULT_CLASSIFIER_PATH, dst)
    with pytest.raises(CorruptFileError, match="python -m dlhelpers classifier"):
        C.load_classifier(path=dst)
    dst.unlink()
    with pytest.raises(CorruptFileError, match="python -m dlhelpers classifier"):
        C.load_classifier(path=dst)


def test_jackknife_se_of_the_mean_is_the_textbook_standard_error():
    """For the mean, the leave-one-out values are (n·x̄ − x_i)/(n − 1) and the jackknife s.e. is exactly s/√n."""
    from dlhelpers.evaluation.metrics import jackknife_se
    x = torch.tensor([1.0, 4.0, 2.0, 8.0, 5.0], dtype=torch.float64)
    loo = (x.sum() - x) / (len(x) - 1)
    assert jackknife_se(loo) == pytest.approx(float(x.std() / len(x) ** 0.5), rel=1e-12)
    with pytest.raises(ValueError, match="^leave_one_out"):
        jackknife_se([1.0])


def test_class_matched_reference_has_the_samples_class_counts():
    """per_class held-out sprites of each class, in class order, a seeded pick: the classifier finds the same mix
    as in samples requested per_class per class, and another seed picks other sprites."""
    from dlhelpers.evaluation.metrics import class_matched_reference, heldout_samples

    ref = class_matched_reference(30)
    assert ref.shape == (150, 3, 16, 16)
    images, y = heldout_samples(labels=True)
    rows = {tuple(im.flatten().tolist()): int(c) for im, c in zip(images, y)}
    labels = [rows[tuple(im.flatten().tolist())] for im in ref]
    assert labels == [c for c in range(5) for _ in range(30)]               # the held-out labels, 30 of each
    assert torch.equal(ref, class_matched_reference(30))
    assert not torch.equal(ref, class_matched_reference(30, seed=1))
    for bad in (1, 0, True, 2.0):
        with pytest.raises(ValueError, match="per_class"):
            class_matched_reference(bad)
    with pytest.raises(ValueError, match="per_class must be at most"):
        class_matched_reference(10 ** 6)
