import json

import numpy as np
import pytest
import torch

from dlhelpers import sprites as S
from support import corrupt_copy
from dlhelpers.io import CorruptFileError, sha256_file


@pytest.fixture(scope="module")
def committed():
    images, labels = S.load_sprites()
    return images, labels, S.load_metadata()


def test_generate_shapes_dtypes_and_determinism():
    a, la = S.generate_sprites(120, seed=3)
    b, lb = S.generate_sprites(120, seed=3)
    c, _ = S.generate_sprites(120, seed=4)
    assert a.shape == (120, 16, 16, 3) and a.dtype == np.uint8
    assert la.shape == (120,) and la.dtype == np.int64
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)
    assert set(np.unique(la)) <= set(range(len(S.CLASS_NAMES)))


def test_prefix_does_not_depend_on_n():
    small, ls = S.generate_sprites(37, seed=11)
    big, lb = S.generate_sprites(300, seed=11)
    assert np.array_equal(small, big[:37]) and np.array_equal(ls, lb[:37])


def test_committed_file_matches_fresh_generation_prefix(committed):
    images, labels, meta = committed
    k = 3000
    fresh, fl = S.generate_sprites(k, seed=meta["seed"])
    assert meta["generator_version"] == S.GENERATOR_VERSION
    assert np.array_equal(images[:k], fresh) and np.array_equal(labels[:k], fl)


def test_committed_metadata_counts_and_shares(committed):
    images, labels, meta = committed
    n = len(labels)
    assert images.shape == (n, 16, 16, 3) and n == meta["n_images"] >= 45_000
    counts = np.bincount(labels, minlength=5)
    assert [meta["images_per_class"][c] for c in S.CLASS_NAMES] == counts.tolist()
    shares = counts / n
    assert shares.min() >= 0.08
    hero, nonhero, food, spell, side = shares
    assert spell > hero and nonhero > hero
    assert sum(meta["base_designs_per_class"].values()) >= 1500
    assert sum(meta["distinct_shapes_per_class"].values()) >= 1500
    assert meta["size_bytes"] <= 15_000_000


def test_fresh_base_designs_are_distinct():
    _, _, maps, pals, lb = S._generate(400 * S.VARIATIONS_PER_BASE, 5)
    counts = S.base_designs_per_class(maps, pals, lb)
    assert sum(v["designs"] for v in counts.values()) >= 0.97 * len(lb)


def test_background_is_not_class_specific_and_palettes_small():
    images, labels = S.generate_sprites(4000, seed=1)
    corners = images[:, [0, 0, 15, 15], [0, 15, 0, 15]].reshape(len(images), -1, 3).astype(float)
    overall = corners.mean((0, 1))
    for c in range(5):
        assert np.abs(corners[labels == c].mean((0, 1)) - overall).max() < 8
    n_colours = [len(np.unique(im.reshape(-1, 3), axis=0)) for im in images[::40]]
    assert 4 <= min(n_colours) and max(n_colours) <= 7  # background + 3..6 sprite colours


def test_classes_have_same_size_on_average():
    images, labels = S.generate_sprites(4000, seed=2)
    bg = images[:, :1, :1]
    fg = (images != bg).any(-1).sum((1, 2))
    means = np.array([fg[labels == c].mean() for c in range(5)])
    assert means.max() / means.min() < 1.6


def test_corrupt_or_missing_file_raises(tmp_path):
    dst = tmp_path / "sprites_16x16.npz"
    corrupt_copy(S.DEFAULT_PATH, dst)
    with pytest.raises(CorruptFileError, match="python -m dlhelpers data"):
        S.load_sprites(dst)
    dst.unlink()
    with pytest.raises(CorruptFileError, match="python -m dlhelpers data"):
        S.load_sprites(dst)


def test_write_small_file_is_reproducible_and_loadable(tmp_path):
    m1 = S.write_sprites_file(tmp_path / "a.npz", n=500, seed=9)
    m2 = S.write_sprites_file(tmp_path / "b.npz", n=500, seed=9)
    assert m1["sha256"] == m2["sha256"] == sha256_file(tmp_path / "a.npz")
    images, labels = S.load_sprites(tmp_path / "a.npz")
    fresh, fl = S.generate_sprites(500, seed=9)
    assert np.array_equal(images, fresh) and np.array_equal(labels, fl)
    with np.load(tmp_path / "a.npz") as z:
        assert str(z["version"]) == S.GENERATOR_VERSION and int(z["seed"]) == 9
    meta = json.loads((tmp_path / "a.json").read_text())
    assert meta["sha256"] == m1["sha256"] and sum(meta["images_per_class"].values()) == 500


@pytest.mark.slow
def test_full_regeneration_matches_committed_sha(tmp_path, committed):
    _, _, meta = committed
    new = S.write_sprites_file(tmp_path / "sprites_16x16.npz", n=meta["n_images"], seed=meta["seed"])
    assert new["sha256"] == meta["sha256"]


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(n=0, seed=0), ValueError, "n"),
    (dict(n=-5, seed=0), ValueError, "n"),
    (dict(n=2.5, seed=0), TypeError, "n"),
    (dict(n="10", seed=0), TypeError, "n"),
    (dict(n=True, seed=0), TypeError, "n"),
    (dict(n=10, seed=-1), ValueError, "seed"),
    (dict(n=10, seed=1.0), TypeError, "seed"),
    (dict(n=10, seed=None), TypeError, "seed"),
])
def test_bad_arguments(kwargs, exc, name):
    # every message starts with the argument's full name (anchored: a one-letter name must not match anywhere)
    with pytest.raises(exc, match=f"^{name} must"):
        S.generate_sprites(**kwargs)


def test_train_test_split():
    tr, te = S.train_test_split(1000, 0.2, seed=1)
    tr2, te2 = S.train_test_split(1000, 0.2, seed=1)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    assert len(te) == 200 and len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == 1000
    tr, te = S.train_test_split(1000, 0.1, seed=0, group_size=10)
    assert len(np.intersect1d(tr // 10, te // 10)) == 0


@pytest.mark.parametrize("args, kwargs, exc, name", [
    ((100, 1.5), {}, ValueError, "test_fraction"),
    ((100, 0.0), {}, ValueError, "test_fraction"),
    ((100, "0.1"), {}, TypeError, "test_fraction"),
    ((10.0, 0.5), {}, TypeError, "n"),
    ((1, 0.5), {}, ValueError, "n"),
    ((100, 0.1), dict(seed=-1), ValueError, "seed"),
    ((100, 0.1), dict(group_size=0), ValueError, "group_size"),
    ((100, 0.1), dict(group_size=2.0), TypeError, "group_size"),
    ((10, 0.1), dict(group_size=10), ValueError, "group_size"),
])
def test_train_test_split_bad_arguments(args, kwargs, exc, name):
    with pytest.raises(exc, match=f"^{name} must"):
        S.train_test_split(*args, **kwargs)


def test_file_functions_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="^path must"):
        S.write_sprites_file(123, n=10, seed=0)
    with pytest.raises(TypeError, match="^meta_path must"):
        S.write_sprites_file(tmp_path / "a.npz", n=10, seed=0, meta_path=1.5)
    with pytest.raises(TypeError, match="^path must"):
        S.load_sprites(42)
    with pytest.raises(CorruptFileError, match="python -m dlhelpers data"):
        S.load_metadata(tmp_path / "missing.npz")


def test_images_to_tensor_checks():
    x = S.images_to_tensor(np.array([[[[0, 255, 0]]]], np.uint8))  # (1,1,1,3) -> (1,3,1,1)
    assert x.shape == (1, 3, 1, 1) and x.flatten().tolist() == [-1.0, 1.0, -1.0]
    with pytest.raises(TypeError, match="^images must"):
        S.images_to_tensor([[0, 0, 0]])
    with pytest.raises(TypeError, match="^images must"):
        S.images_to_tensor(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="^images must"):
        S.images_to_tensor(np.zeros((2, 16, 16), np.uint8))


def test_dataset_ranges_onehot_null_context(committed):
    images, labels, _ = committed
    ds = S.SpriteDataset(images[:500], labels[:500])
    x, ctx = ds.tensors
    assert x.shape == (500, 3, 16, 16) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() == -1  # outlines are close to black
    assert ctx.shape == (500, 5) and torch.equal(ctx.sum(1), torch.ones(500))
    assert torch.equal(ctx.argmax(1), torch.from_numpy(labels[:500]))
    img, c = ds[3]
    assert img.shape == (3, 16, 16) and c.shape == (5,)
    null = S.SpriteDataset(images[:50], labels[:50], null_context=True)
    assert torch.count_nonzero(null.tensors[1]) == 0
    sub = S.SpriteDataset(images, labels, indices=[5, 7, 9])
    assert len(sub) == 3 and torch.equal(sub.tensors[0][1], ds.tensors[0][7])


def test_dataset_default_split(committed):
    images, labels, _ = committed
    train = S.SpriteDataset(images, labels, split="train")
    test = S.SpriteDataset(images, labels, split="test")
    assert len(train) + len(test) == len(labels)
    assert 0.05 < len(test) / len(labels) < 0.15



@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(split="val"), ValueError, "split"),
    (dict(split=1), TypeError, "split"),
    (dict(split="train", indices=[1]), ValueError, "split"),
    (dict(indices=[0, 10]), ValueError, "indices"),
    (dict(indices=[[0, 1]]), ValueError, "indices"),
    (dict(indices=[0.5]), TypeError, "indices"),
    (dict(null_context=1), TypeError, "null_context"),
    (dict(n_labels=9), ValueError, "labels"),
    (dict(label_offset=5), ValueError, "labels"),
    (dict(label_dtype=np.float32), TypeError, "labels"),
    (dict(image_dtype=np.float32), TypeError, "images"),
    (dict(no_labels=True), ValueError, "images"),
])
def test_dataset_bad_arguments(committed, kwargs, exc, name):
    images, labels, _ = committed
    images, labels = images[:10].astype(kwargs.pop("image_dtype", np.uint8)), labels[:kwargs.pop("n_labels", 10)]
    labels = (labels + kwargs.pop("label_offset", 0)).astype(kwargs.pop("label_dtype", np.int64))
    if kwargs.pop("no_labels", False):
        labels = None
    with pytest.raises(exc, match=f"^{name} (must|and)"):
        S.SpriteDataset(images, labels, **kwargs)


def test_gallery(tmp_path, committed):
    from PIL import Image
    images, labels, _ = committed
    p = S.save_gallery(tmp_path / "g.png", images, labels, per_class=12, scale=3)
    with Image.open(p) as im:
        assert im.size[1] == 5 * (16 * 3 + 2) + 2
    assert S.DEFAULT_GALLERY.stat().st_size < 300_000
    for kwargs, exc, name in [(dict(per_class=0), ValueError, "per_class"), (dict(scale=2.0), TypeError, "scale"),
                              (dict(gap=-1), ValueError, "gap"), (dict(label_rows="yes"), TypeError, "label_rows")]:
        with pytest.raises(exc, match=f"^{name} must"):
            S.save_gallery(tmp_path / "g.png", images, labels, **kwargs)
    with pytest.raises(ValueError, match="^images must"):
        S.save_gallery(tmp_path / "g.png", images[:, :8], labels)
    with pytest.raises(ValueError, match="^labels must"):
        S.save_gallery(tmp_path / "g.png", images, labels[:-1])


def test_painter_registry():
    """One painter per class, in class order, each drawing an outlined shape. (The sprites modules' sizes are
    capped with every other module's in tests/test_architecture.py::test_modules_stay_small.)"""
    from dlhelpers.sprites import painters
    assert [f.__name__ for f in painters.DRAW] == ["hero", "nonhero", "food", "spell", "side"]
    assert len(painters.DRAW) == S.NUM_CLASSES
    for label, draw in enumerate(painters.DRAW):
        canvas = draw(np.random.default_rng([0, label]))
        assert canvas.m.shape == (16, 16) and canvas.m.dtype == np.uint8 and canvas.m.max() <= 6
        assert (canvas.m == 1).any() and (canvas.m >= 2).any()  # an outline around a shape
