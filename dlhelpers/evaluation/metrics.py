"""How good are generated sprites? Two numbers from one small classifier trained on the sprite set.

* ``context_accuracy``: a sample generated for class *c* should be recognised as class *c* by a classifier that
  was trained on real sprites. Reported overall and per class.
* ``sprite_fd``: the Fréchet distance between Gaussian fits of the classifier's penultimate-layer features of
  two sets of images, as in the Fréchet Inception Distance (FID) of Heusel, Ramsauer, Unterthiner, Nessler and
  Hochreiter, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017
  (arXiv:1706.08500)::

      FD = |mu_1 - mu_2|^2 + tr(C_1 + C_2 - 2 (C_1^{1/2} C_2 C_1^{1/2})^{1/2})

  Here the features come from our own 16x16 sprite classifier instead of Inception-v3, so the numbers are only
  comparable with other numbers from this module (same weights, same sample count), never with published FIDs.
  FD has a bias that grows as the sample count shrinks, so always compare against ``real_vs_real_fd`` at the
  same ``n``: two disjoint sets of *real* held-out sprites are the best a generator can hope for.

The classifier (``data/classifier.pt``, fp16, with its sha256 and held-out accuracy in ``data/classifier.json``)
is trained by ``train_classifier_file`` on the training split of the committed sprite set; the held-out split
(``dlhelpers.sprites.default_split``) holds whole base designs the classifier never saw. Regenerate it with
``python -m dlhelpers classifier``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from dlhelpers.io import DATA_DIR, CorruptFileError, atomic_torch_save, atomic_write_bytes, safe_torch_load, sha256_file, \
    verify_file
from dlhelpers.sprites import CLASS_NAMES, NUM_CLASSES, default_split, images_to_tensor, load_metadata, \
    load_sprites

from dlhelpers.io import PathLike

DEFAULT_CLASSIFIER_PATH = DATA_DIR / "classifier.pt"
REGENERATE_COMMAND = "python -m dlhelpers classifier"
FEATURE_DIM = 64
TRAIN_SEED = 0


class SpriteClassifier(nn.Module):
    """A small CNN: 16x16 -> 8x8 -> 4x4, global average pool to ``FEATURE_DIM`` features, linear head."""

    def __init__(self, width: int = 24, feature_dim: int = FEATURE_DIM, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, feature_dim, 3, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# --------------------------------------------------------------------------------------------- validation
def _check_samples(x, name: str = "samples") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N,3,16,16), got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must be a float tensor in [-1, 1], got dtype {x.dtype}")
    if x.ndim != 4 or tuple(x.shape[1:]) != (3, 16, 16):
        raise ValueError(f"{name} must have shape (N,3,16,16), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return x.detach().float().clamp(-1.0, 1.0)


def _check_labels(labels, n: int, name: str = "requested_labels") -> torch.Tensor:
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels)
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be an integer torch.Tensor of shape (N,), got {type(labels).__name__}")
    if torch.is_floating_point(labels) or labels.dtype == torch.bool or torch.is_complex(labels):
        raise TypeError(f"{name} must be an integer tensor, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(labels.shape)}")
    if labels.shape[0] != n:
        raise ValueError(f"{name} has length {labels.shape[0]} but samples has {n}")
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise ValueError(f"{name} must be in [0, {NUM_CLASSES}), got range [{int(labels.min())}, {int(labels.max())}]")
    return labels.long().cpu()


# --------------------------------------------------------------------------------------------- training
def _meta_path(path: Path) -> Path:
    return path.with_suffix(".json")


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    dev = next(model.parameters()).device
    return torch.cat([model(x[i:i + batch].to(dev)).argmax(1).cpu() for i in range(0, len(x), batch)])


def train_classifier(epochs: int = 3, batch_size: int = 128, lr: float = 3e-3, seed: int = TRAIN_SEED,
                     verbose: bool = True):
    """Train ``SpriteClassifier`` on the training split of the committed sprites (CPU is fine: about 2 minutes on 2 cores).

    Augmentation: random left-right flips (every class keeps its label) and Gaussian noise of a random
    strength, so the classifier is not thrown by the slightly noisy samples a diffusion model produces.
    Returns ``(model, report)``.
    """
    images, labels = load_sprites()
    train_idx, test_idx = default_split(len(labels))
    x = images_to_tensor(images)
    y = torch.from_numpy(labels)
    xtr, ytr = x[train_idx], y[train_idx]
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SpriteClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(xtr) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    t0 = time.perf_counter()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=g)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(xtr), batch_size):
            b = perm[i:i + batch_size]
            xb, yb = xtr[b], ytr[b]
            flip = torch.rand(len(b), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            sigma = torch.rand(len(b), 1, 1, 1, generator=g) * 0.4 * (torch.rand(len(b), 1, 1, 1, generator=g) < 0.5)
            xb = (xb + sigma * torch.randn(xb.shape, generator=g)).clamp(-1, 1)
            out = model(xb)
            loss = nn.functional.cross_entropy(out, yb, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(b)
            correct += int((out.argmax(1) == yb).sum())
            total += len(b)
        if verbose:
            print(f"epoch {ep + 1}/{epochs}: loss {loss_sum / total:.4f} train acc {correct / total:.4f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    model.eval()
    pred = _predict(model, x[test_idx])
    ytest = y[test_idx]
    per_class = {name: float((pred[ytest == c] == c).float().mean()) for c, name in enumerate(CLASS_NAMES)}
    report = {
        "heldout_accuracy": float((pred == ytest).float().mean()),
        "heldout_per_class": per_class,
        "n_train": int(len(train_idx)),
        "n_heldout": int(len(test_idx)),
        "epochs": epochs,
        "seed": seed,
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    return model, report


def train_classifier_file(path: PathLike = DEFAULT_CLASSIFIER_PATH, epochs: int = 3, seed: int = TRAIN_SEED,
                          verbose: bool = True) -> dict:
    """Train the classifier, save its fp16 ``state_dict`` atomically to ``path`` and write ``<path>.json`` with
    its sha256, size and held-out accuracy. Returns that metadata."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    path = Path(path)
    model, report = train_classifier(epochs=epochs, seed=seed, verbose=verbose)
    state = {k: v.detach().half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    atomic_torch_save(state, path)
    # accuracy of the weights as stored (fp16), which is what load_classifier gives everyone
    _CACHE.clear()
    stored = SpriteClassifier()
    stored.load_state_dict({k: v.float() for k, v in state.items()})
    stored.eval()
    images, labels = load_sprites()
    _, test_idx = default_split(len(labels))
    pred = _predict(stored, images_to_tensor(images[test_idx]))
    report["heldout_accuracy_fp16"] = float((pred == torch.from_numpy(labels[test_idx])).float().mean())
    meta = {
        "file": path.name,
        "sha256": sha256_file(path),
        "size_bytes": path.stat().st_size,
        "architecture": "SpriteClassifier(width=24, feature_dim=64)",
        "dtype": "float16",
        "sprites_sha256": load_metadata()["sha256"],
        **report,
        "regenerate": REGENERATE_COMMAND,
    }
    atomic_write_bytes(_meta_path(path), (json.dumps(meta, indent=2) + "\n").encode())
    if verbose:
        print(f"wrote {path} ({meta['size_bytes'] / 1e3:.0f} kB); held-out accuracy "
              f"{meta['heldout_accuracy_fp16']:.4f} on {meta['n_heldout']} sprites of unseen base designs")
    return meta


# --------------------------------------------------------------------------------------------- loading
_CACHE: Dict[str, SpriteClassifier] = {}


def load_classifier(device=None, path: Optional[PathLike] = None) -> SpriteClassifier:
    """The trained classifier in eval mode (cached per device), after checking its sha256."""
    path = DEFAULT_CLASSIFIER_PATH if path is None else Path(path)
    device = torch.device("cpu" if device is None else device)
    try:
        meta = json.loads(_meta_path(path).read_text())
        expected = meta["sha256"]
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptFileError(f"{_meta_path(path)} is missing or unreadable ({exc}). "
                               f"Regenerate it with: {REGENERATE_COMMAND}") from exc
    key = f"{path}|{expected}|{device}"
    if key in _CACHE:
        return _CACHE[key]
    verify_file(path, expected, REGENERATE_COMMAND)
    try:
        state = safe_torch_load(path, map_location="cpu")
        model = SpriteClassifier()
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except CorruptFileError as exc:
        raise CorruptFileError(f"{exc}. Regenerate it with: {REGENERATE_COMMAND}") from exc
    except (RuntimeError, KeyError, AttributeError) as exc:
        raise CorruptFileError(f"{path} does not hold SpriteClassifier weights ({exc}). "
                               f"Regenerate it with: {REGENERATE_COMMAND}") from exc
    model.to(device).eval().requires_grad_(False)
    _CACHE[key] = model
    return model


# --------------------------------------------------------------------------------------------- metrics
@torch.no_grad()
def classify(samples: torch.Tensor, device=None) -> torch.Tensor:
    """Predicted labels (N,) int64 for float samples (N,3,16,16) in [-1, 1]."""
    x = _check_samples(samples)
    return _predict(load_classifier(device if device is not None else x.device), x)


@torch.no_grad()
def context_accuracy(samples: torch.Tensor, requested_labels: torch.Tensor, device=None) -> dict:
    """Fraction of samples the classifier assigns to the class they were generated for.

    Returns ``{"overall": float, "per_class": {name: float, or nan for a class with no samples}}``.
    """
    x = _check_samples(samples)
    y = _check_labels(requested_labels, x.shape[0])
    pred = _predict(load_classifier(device if device is not None else x.device), x)
    hit = (pred == y).float()
    per_class = {name: (float(hit[y == c].mean()) if bool((y == c).any()) else float("nan"))
                 for c, name in enumerate(CLASS_NAMES)}
    return {"overall": float(hit.mean()), "per_class": per_class}


@torch.no_grad()
def classifier_features(samples: torch.Tensor, device=None, batch: int = 2048) -> torch.Tensor:
    """Penultimate-layer features (N, FEATURE_DIM) float32 on the CPU."""
    x = _check_samples(samples)
    model = load_classifier(device if device is not None else x.device)
    dev = next(model.parameters()).device
    return torch.cat([model.features(x[i:i + batch].to(dev)).cpu() for i in range(0, len(x), batch)])


def _sqrt_psd(c: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(c)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(mu1: torch.Tensor, c1: torch.Tensor, mu2: torch.Tensor, c2: torch.Tensor) -> float:
    """Fréchet distance between N(mu1, c1) and N(mu2, c2), in float64, with symmetric eigen-decompositions only.

    ``tr((C1 C2)^{1/2}) = tr((S C2 S)^{1/2})`` with ``S = C1^{1/2}``; ``S C2 S`` is symmetric PSD, so both
    square roots come from ``torch.linalg.eigh`` with negative round-off eigenvalues clamped to zero.
    """
    mu1, mu2, c1, c2 = (t.double() for t in (mu1, mu2, c1, c2))
    s1 = _sqrt_psd(c1)
    m = s1 @ c2 @ s1
    m = (m + m.T) / 2
    tr_covmean = torch.linalg.eigvalsh(m).clamp_min(0).sqrt().sum()
    fd = (mu1 - mu2).pow(2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * tr_covmean
    return float(fd.clamp_min(0))


def _gaussian(f: torch.Tensor):
    f = f.double()
    mu = f.mean(0)
    d = f - mu
    return mu, d.T @ d / (f.shape[0] - 1)


def sprite_fd(samples: torch.Tensor, reference: torch.Tensor, device=None) -> float:
    """Fréchet distance between classifier features of ``samples`` and ``reference`` (both (N,3,16,16) in
    [-1, 1], at least 2 each). Compare with ``real_vs_real_fd`` at the same N."""
    x = _check_samples(samples, "samples")
    r = _check_samples(reference, "reference")
    if x.shape[0] < 2:
        raise ValueError(f"samples needs at least 2 images, got {x.shape[0]}")
    if r.shape[0] < 2:
        raise ValueError(f"reference needs at least 2 images, got {r.shape[0]}")
    fx = classifier_features(x, device=device)
    fr = classifier_features(r, device=device)
    return frechet_distance(*_gaussian(fx), *_gaussian(fr))


def heldout_samples(n: Optional[int] = None, seed: int = 0, labels: bool = False):
    """``n`` random real sprites (float (n,3,16,16) in [-1,1]) from the held-out split, e.g. as the FD reference;
    with ``labels=True`` returns ``(images, labels)``. ``n=None`` gives the whole held-out split in order."""
    images, y = load_sprites()
    _, test_idx = default_split(len(y))
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if not 1 <= n <= len(test_idx):
            raise ValueError(f"n must be in [1, {len(test_idx)}], got {n}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        test_idx = np.sort(np.random.default_rng(seed).choice(test_idx, n, replace=False))
    x = images_to_tensor(images[test_idx])
    return (x, torch.from_numpy(y[test_idx])) if labels else x


def real_vs_real_fd(n: int = 1000, seed: int = 0) -> float:
    """Baseline: FD between two disjoint random sets of ``n`` real held-out sprites each."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    images, y = load_sprites()
    _, test_idx = default_split(len(y))
    if not 2 <= n <= len(test_idx) // 2:
        raise ValueError(f"n must be in [2, {len(test_idx) // 2}], got {n}")
    pick = np.random.default_rng(seed).permutation(test_idx)[: 2 * n]
    x = images_to_tensor(images[pick])
    return sprite_fd(x[:n], x[n:])
