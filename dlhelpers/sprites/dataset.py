"""The committed sprite file ``data/sprites_16x16.npz``: writing it bit for bit, loading and verifying it, the
held-out split, and the PyTorch ``SpriteDataset`` the notebooks train on (pixels scaled linearly from
{0, ..., 255} to [-1, 1], as in DDPM: Ho et al. 2020, §3.3). How the sprites are drawn lives in ``generator``.

The .npz is a zip of .npy members written with fixed timestamps and attributes, so identical arrays give identical
bytes; its sha256 is recorded in ``sprites_16x16.json`` beside it and checked on every load. Regenerate the file,
its metadata and the gallery with ``python -m dlhelpers data``.
"""
from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import TensorDataset

from dlhelpers.io import DATA_DIR, CorruptFileError, PathLike, atomic_write_bytes, sha256_file, verify_file
from dlhelpers.sprites.generator import (CLASS_NAMES, DEFAULT_N, DEFAULT_SEED, GENERATOR_VERSION, NUM_CLASSES,
                                         VARIATIONS_PER_BASE, _generate, base_designs_per_class, check_n_seed)
from dlhelpers.validation import check_positive_int, check_real

REGENERATE_COMMAND = "python -m dlhelpers data"
DEFAULT_PATH = DATA_DIR / "sprites_16x16.npz"
DEFAULT_GALLERY = DATA_DIR / "sprites_gallery.png"
DEFAULT_TEST_FRACTION = 0.1
DEFAULT_SPLIT_SEED = 0
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------------------------- argument checks
def _as_path(value, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(value).__name__}")
    return Path(value)


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def _check_images(images, name: str = "images", size: Optional[int] = None) -> None:
    """A uint8 numpy array (N, H, W, 3) (H = W = ``size`` when given)."""
    if not isinstance(images, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise TypeError(f"{name} must have dtype uint8, got {images.dtype}")
    hw = "H,W" if size is None else f"{size},{size}"
    if images.ndim != 4 or images.shape[-1] != 3 or (size is not None and images.shape[1:3] != (size, size)):
        raise ValueError(f"{name} must have shape (N,{hw},3), got {images.shape}")


def _check_labels(labels, n: int, name: str = "labels") -> np.ndarray:
    """A 1-D integer array of ``n`` class labels in [0, NUM_CLASSES)."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) (one per image), got {labels.shape}")
    if n and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"{name} must be in [0, {NUM_CLASSES}), got range [{labels.min()}, {labels.max()}]")
    return labels


# --------------------------------------------------------------------------------------------- file I/O
def _npz_bytes(arrays: dict) -> bytes:
    """A .npz (zip of .npy members) with fixed timestamps and attributes, so identical arrays give identical bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buf.getvalue()


def _meta_path(path: Path) -> Path:
    return path.with_suffix(".json")


def write_sprites_file(path: PathLike = DEFAULT_PATH, n: int = DEFAULT_N, seed: int = DEFAULT_SEED,
                       meta_path: Optional[PathLike] = None) -> dict:
    """Generate ``n`` sprites and write them bit-for-bit reproducibly to ``path`` (npz: images, labels, version,
    seed, variations_per_base), then the metadata JSON beside it (``<path>.json`` unless ``meta_path``).

    Returns the metadata dict.
    """
    n, seed = check_n_seed(n, seed)
    path = _as_path(path, "path")
    meta_path = _meta_path(path) if meta_path is None else _as_path(meta_path, "meta_path")
    t0 = time.perf_counter()
    images, labels, maps, pals, labels_b = _generate(n, seed)
    gen_s = time.perf_counter() - t0
    atomic_write_bytes(path, _npz_bytes({
        "images": images,
        "labels": labels,
        "version": np.array(GENERATOR_VERSION),
        "seed": np.array(seed, np.int64),
        "variations_per_base": np.array(VARIATIONS_PER_BASE, np.int64),
    }))
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    bases = base_designs_per_class(maps, pals, labels_b)
    meta = {
        "file": path.name,
        "sha256": sha256_file(path),
        "size_bytes": path.stat().st_size,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "n_images": n,
        "variations_per_base": VARIATIONS_PER_BASE,
        "n_base_designs": int(len(labels_b)),
        "shape": [n, 16, 16, 3],
        "dtype": "uint8",
        "class_names": list(CLASS_NAMES),
        "images_per_class": {name: int(counts[i]) for i, name in enumerate(CLASS_NAMES)},
        "base_designs_per_class": {name: bases[name]["designs"] for name in CLASS_NAMES},
        "distinct_shapes_per_class": {name: bases[name]["shapes"] for name in CLASS_NAMES},
        "license": "CC0-1.0 (data), MIT (generator code)",
        "regenerate": REGENERATE_COMMAND,
    }
    text = json.dumps(meta, indent=2) + "\n"  # no timings in the file: it is byte-for-byte reproducible too
    atomic_write_bytes(meta_path, text.encode())
    meta["generation_seconds"] = round(gen_s, 2)  # reported to the caller, kept out of the JSON (reproducible)
    return meta


def load_metadata(path: Optional[PathLike] = None) -> dict:
    """The metadata JSON beside the sprite file ``path`` (default: the committed one); ``CorruptFileError`` if it
    is missing or unreadable."""
    meta_file = _meta_path(DEFAULT_PATH if path is None else _as_path(path, "path"))
    try:
        meta = json.loads(meta_file.read_text())
        if "sha256" not in meta:
            raise KeyError("sha256")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{meta_file} is missing or unreadable ({exc}). "
                               f"Regenerate it with: {REGENERATE_COMMAND}") from exc
    return meta


def load_sprites(path: Optional[PathLike] = None) -> Tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N,16,16,3), labels int64 (N,))`` from the committed file, after checking its sha256
    against ``sprites_16x16.json``; a missing or corrupt file raises ``CorruptFileError``."""
    path = DEFAULT_PATH if path is None else _as_path(path, "path")
    verify_file(path, load_metadata(path)["sha256"], REGENERATE_COMMAND)
    try:
        with np.load(path, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
    except Exception as exc:
        raise CorruptFileError(f"{path} could not be read ({exc}). Regenerate it with: {REGENERATE_COMMAND}") from exc
    if (images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (16, 16, 3)
            or len(labels) != len(images)):
        raise CorruptFileError(f"{path} has unexpected contents. Regenerate it with: {REGENERATE_COMMAND}")
    return images, labels.astype(np.int64)


# --------------------------------------------------------------------------------------------- splits
def train_test_split(n: int, test_fraction: float = 0.1, seed: int = 0,
                     group_size: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """Deterministic ``(train_idx, test_idx)`` over ``range(n)``, both sorted int64.

    Indices are split in consecutive groups of ``group_size``: with ``group_size=VARIATIONS_PER_BASE`` every
    variation of a base design lands on the same side, so the held-out split contains unseen designs.
    """
    n = check_positive_int(n, "n", low=2)
    test_fraction = check_real(test_fraction, "test_fraction")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    seed = check_positive_int(seed, "seed", low=0)
    group_size = check_positive_int(group_size, "group_size", low=1)
    n_groups = -(-n // group_size)
    if n_groups < 2:
        raise ValueError(f"group_size must be smaller than n ({n}) so that there are 2 groups, got {group_size}")
    n_test = min(n_groups - 1, max(1, int(round(n_groups * test_fraction))))
    perm = np.random.default_rng([seed, 7]).permutation(n_groups)
    test_groups = np.zeros(n_groups, bool)
    test_groups[perm[:n_test]] = True
    is_test = test_groups[np.arange(n) // group_size]
    return np.nonzero(~is_test)[0].astype(np.int64), np.nonzero(is_test)[0].astype(np.int64)


def default_split(n: int) -> Tuple[np.ndarray, np.ndarray]:
    """The course's held-out split of the committed set: 10 % of base designs, all variations together."""
    return train_test_split(n, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED, group_size=VARIATIONS_PER_BASE)


# --------------------------------------------------------------------------------------------- dataset
def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N,H,W,3) -> float32 (N,3,H,W) in [-1, 1]."""
    _check_images(images)
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).contiguous()


class SpriteDataset(TensorDataset):
    """The sprites as ``(image float32 (3,16,16) in [-1,1], context float32 one-hot (5,))`` pairs.

    ``images, labels`` default to ``load_sprites()``. ``split="train"``/``"test"`` keeps the course's default
    held-out split (``default_split``), or pass explicit ``indices``. ``null_context=True`` makes every context a
    zero vector (unconditional training).
    """

    def __init__(self, images: Optional[np.ndarray] = None, labels: Optional[np.ndarray] = None, *,
                 indices: Optional[Sequence[int]] = None, split: Optional[str] = None, null_context: bool = False):
        if (images is None) != (labels is None):
            raise ValueError("images and labels must be given together (or neither, for the committed set)")
        null_context = _check_bool(null_context, "null_context")
        if split is not None and indices is not None:
            raise ValueError("split and indices must not both be given")
        if split is not None and not isinstance(split, str):
            raise TypeError(f"split must be 'train', 'test' or None, got {type(split).__name__}")
        if split is not None and split not in ("train", "test"):
            raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")
        if images is None:
            images, labels = load_sprites()
        _check_images(images)
        labels = _check_labels(labels, len(images))
        if split is not None:
            train, test = default_split(len(labels))
            indices = train if split == "train" else test
        if indices is not None:
            indices = np.asarray(indices)
            if indices.size and not np.issubdtype(indices.dtype, np.integer):
                raise TypeError(f"indices must hold integers, got dtype {indices.dtype}")
            indices = indices.astype(np.int64)
            if indices.ndim != 1 or (len(indices) and (indices.min() < 0 or indices.max() >= len(labels))):
                raise ValueError(f"indices must be a 1-D array of positions in [0, {len(labels)})")
            images, labels = images[indices], labels[indices]
        x = images_to_tensor(np.ascontiguousarray(images))                                   # (N, 3, 16, 16)
        ctx = torch.nn.functional.one_hot(torch.as_tensor(labels, dtype=torch.long), NUM_CLASSES).float()  # (N, 5)
        if null_context:
            ctx.zero_()
        super().__init__(x, ctx)
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.null_context = null_context


# --------------------------------------------------------------------------------------------- gallery
def save_gallery(path: PathLike, images: np.ndarray, labels: np.ndarray, per_class: int = 12, scale: int = 4,
                 gap: int = 2, label_rows: bool = True) -> Path:
    """A grid with one row per class (first ``per_class`` sprites of each, spread over different base designs),
    scaled up with nearest neighbour, written atomically as PNG. Class names are written at the left when
    ``label_rows``."""
    from PIL import Image, ImageDraw

    path = _as_path(path, "path")
    _check_images(images, size=16)
    labels = _check_labels(labels, len(images))
    per_class = check_positive_int(per_class, "per_class", low=1)
    scale = check_positive_int(scale, "scale", low=1)
    gap = check_positive_int(gap, "gap", low=0)
    label_rows = _check_bool(label_rows, "label_rows")
    cell = 16 * scale + gap
    left = 84 if label_rows else 0
    W, H = left + per_class * cell + gap, NUM_CLASSES * cell + gap
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, name in enumerate(CLASS_NAMES):
        idx = np.nonzero(labels == c)[0]
        if len(idx) >= per_class * VARIATIONS_PER_BASE:
            picks = idx[::VARIATIONS_PER_BASE][:per_class]            # one variation per base design
        else:
            picks = idx[:per_class]
        if label_rows:
            draw.text((4, c * cell + gap + 8 * scale - 6), name, fill=(0, 0, 0))
        for j, i in enumerate(picks):
            tile = Image.fromarray(images[i]).resize((16 * scale, 16 * scale), Image.NEAREST)
            canvas.paste(tile, (left + gap + j * cell, gap + c * cell))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", optimize=True)
    return atomic_write_bytes(path, buf.getvalue())


def build_dataset_file(quiet: bool = False) -> dict:
    """Regenerate ``data/sprites_16x16.npz``, its JSON metadata and ``data/sprites_gallery.png``; print a summary."""
    quiet = _check_bool(quiet, "quiet")
    t0 = time.perf_counter()
    meta = write_sprites_file(DEFAULT_PATH, DEFAULT_N, DEFAULT_SEED)
    images, labels = load_sprites(DEFAULT_PATH)
    save_gallery(DEFAULT_GALLERY, images, labels)
    if not quiet:
        print(f"wrote {DEFAULT_PATH} ({meta['size_bytes'] / 1e6:.1f} MB, sha256 {meta['sha256'][:12]}…) "
              f"in {time.perf_counter() - t0:.1f} s (generation {meta['generation_seconds']} s)")
        print(f"generator {meta['generator_version']}, seed {meta['seed']}, {meta['n_images']} images, "
              f"{sum(meta['base_designs_per_class'].values())} distinct base designs")
        for name in CLASS_NAMES:
            print(f"  {name:12s} {meta['images_per_class'][name]:6d} images "
                  f"{meta['base_designs_per_class'][name]:5d} base designs")
        print(f"gallery: {DEFAULT_GALLERY}")
    return meta
