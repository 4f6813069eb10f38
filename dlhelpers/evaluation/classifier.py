"""The sprite classifier behind the evaluation metrics: its architecture, how it is trained, the file it lives in.

A small CNN trained with cross-entropy (label smoothing 0.05; Szegedy et al., "Rethinking the Inception
Architecture", CVPR 2016, arXiv:1512.00567, Sec. 7) on the training split of the committed sprite set, with
random flips and random-strength Gaussian noise so slightly noisy diffusion samples do not throw it. Its
penultimate layer supplies the features of the sprite Fréchet distance (``metrics.sprite_fd``, the FID recipe of
Heusel et al., arXiv:1706.08500, with this network in place of Inception-v3).

The weights (``data/classifier.pt``, fp16) are checked against the sha256 recorded in ``data/classifier.json``,
beside the held-out accuracy; the held-out split (``dlhelpers.sprites.default_split``) holds whole base designs the
classifier never saw. Regenerate both with ``python -m dlhelpers classifier``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Dict, Optional

import torch
from torch import nn

from dlhelpers.devices import resolve
from dlhelpers.io import DATA_DIR, CorruptFileError, PathLike, atomic_torch_save, atomic_write_bytes, \
    safe_torch_load, sha256_file, verify_file
from dlhelpers.sprites import CLASS_NAMES, NUM_CLASSES, default_split, images_to_tensor, load_metadata, load_sprites

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
        return self.head(self.features(x))  # (N, NUM_CLASSES)


# --------------------------------------------------------------------------------------------- training
def _meta_path(path: Path) -> Path:
    return path.with_suffix(".json")


@torch.no_grad()
def predict_labels(model: nn.Module, x: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    """Predicted classes (N,) int64 on the CPU for images ``x`` (N, 3, 16, 16), in batches on the model's device."""
    dev = next(model.parameters()).device
    return torch.cat([model(x[i:i + batch].to(dev)).argmax(1).cpu() for i in range(0, len(x), batch)])


def train_classifier(epochs: int = 3, batch_size: int = 128, lr: float = 3e-3, seed: int = TRAIN_SEED,
                     verbose: bool = True):
    """Train ``SpriteClassifier`` on the training split of the committed sprites (CPU is fine: about 2 minutes on
    2 cores).

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
    pred = predict_labels(model, x[test_idx])
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
    pred = predict_labels(stored, images_to_tensor(images[test_idx]))
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
    device = resolve(torch.device("cpu" if device is None else device))  # "cuda" and "cuda:0" share one entry
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

