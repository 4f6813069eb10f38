"""How good are generated sprites? Two numbers from one small classifier trained on the sprite set.

* ``context_accuracy``: a sample generated for class *c* should be recognised as class *c* by a classifier that
  was trained on real sprites. Reported overall and per class.
* ``sprite_fd``: the Fréchet distance between Gaussian fits of the classifier's penultimate-layer features of
  two sets of images, as in the Fréchet Inception Distance (FID) of Heusel, Ramsauer, Unterthiner, Nessler and
  Hochreiter, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017
  (arXiv:1706.08500), Eq. (6)::

      FD = |mu_1 - mu_2|^2 + tr(C_1 + C_2 - 2 (C_1^{1/2} C_2 C_1^{1/2})^{1/2})

  Here the features come from our own 16x16 sprite classifier (``dlhelpers.evaluation.classifier``) instead of
  Inception-v3, so the numbers are only comparable with other numbers from this module (same weights, same sample
  count), never with published FIDs. FD has a bias that grows as the sample count shrinks, so always compare
  against ``real_vs_real_fd`` at the same ``n``: two disjoint sets of *real* held-out sprites are the best a
  generator can hope for.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from dlhelpers.evaluation.classifier import (  # noqa: F401 - re-exported: notebooks and older code import them here
    DEFAULT_CLASSIFIER_PATH, FEATURE_DIM, load_classifier, predict_labels, train_classifier_file)
from dlhelpers.sprites import CLASS_NAMES, NUM_CLASSES, default_split, images_to_tensor, load_sprites


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


# --------------------------------------------------------------------------------------------- metrics
@torch.no_grad()
def context_accuracy(samples: torch.Tensor, requested_labels: torch.Tensor, device=None) -> dict:
    """Fraction of samples the classifier assigns to the class they were generated for.

    ``samples`` (N, 3, 16, 16) floats in [-1, 1]; ``requested_labels`` (N,) integer classes in [0, NUM_CLASSES).
    Returns ``{"overall": fraction, "per_class": {class name: fraction, or nan for a class with no samples},
    "n_per_class": {class name: number of samples requested for it}}``, class names as in
    ``dlhelpers.sprites.CLASS_NAMES``.
    """
    x = _check_samples(samples)                                   # (N, 3, 16, 16)
    y = _check_labels(requested_labels, x.shape[0])               # (N,)
    pred = predict_labels(load_classifier(device if device is not None else x.device), x)  # (N,)
    hit = (pred == y).float()                                     # (N,)
    counts = {name: int((y == c).sum()) for c, name in enumerate(CLASS_NAMES)}
    per_class = {name: (float(hit[y == c].mean()) if counts[name] else float("nan"))
                 for c, name in enumerate(CLASS_NAMES)}
    return {"overall": float(hit.mean()), "per_class": per_class, "n_per_class": counts}


@torch.no_grad()
def classifier_features(samples: torch.Tensor, device=None, batch: int = 2048) -> torch.Tensor:
    """Penultimate-layer features (N, FEATURE_DIM) float32 on the CPU."""
    x = _check_samples(samples)                                   # (N, 3, 16, 16)
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


def class_matched_reference(per_class: int, n_classes: int = 5, seed: int = 0) -> torch.Tensor:
    """``per_class`` held-out sprites of each class, class by class ((n_classes · per_class, 3, 16, 16)): the FD
    reference for samples requested ``per_class`` per class. The held-out split's own class mix (16/26/16/26/16 %)
    would add a class-mix term to every FD of such samples; with the same counts it does not. Each class's sprites
    are a seeded random pick (neighbours in the split share a design)."""
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 2:
        raise ValueError(f"per_class must be an int >= 2, got {per_class!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    images, y = heldout_samples(labels=True)
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(n_classes):
        idx = torch.nonzero(y == c).flatten()
        if len(idx) < per_class:
            raise ValueError(f"per_class must be at most {len(idx)} (class {c}'s held-out sprites), got {per_class}")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    return images[torch.cat(picks)]


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


def jackknife_se(leave_one_out) -> float:
    """The jackknife standard error from a statistic recomputed with each of n samples left out (Efron & Stein,
    1981): √((n − 1)/n · Σ (θ₋ᵢ − θ̄)²)."""
    loo = torch.as_tensor(leave_one_out, dtype=torch.float64)
    n = loo.numel()
    if n < 2:
        raise ValueError(f"leave_one_out needs at least 2 values, got {n}")
    return float(((n - 1) / n * (loo - loo.mean()).pow(2).sum()).sqrt())
