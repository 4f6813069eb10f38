"""A procedural 16x16 pixel-art sprite set that the course owns outright (data CC0-1.0, code MIT).

Five classes, drawn from composable parts (``CLASS_NAMES``; the label is the index):

* ``hero``        front-facing humanoids: skin tones, hair styles and colours, tunic or armour, arms, legs,
                  optional helmet, cape, sword, staff or shield;
* ``non-hero``    monsters and creatures: slimes, ghosts, bats, skulls, horned beasts, eyeball monsters, bugs;
* ``food``        apples, cherries, bananas, carrots, mushrooms, bread, cakes, pears, drumsticks, eggs,
                  watermelon, grapes, cheese;
* ``spell``       magic effects and items: orbs, fireballs, stars, lightning bolts, swirls, potions, crystals,
                  rune circles;
* ``side-facing`` characters in profile, facing left or right, in walking poses.

How it is made. Each *base design* is a 16x16 map of palette slots (0 background, 1 outline, 2 main colour,
3 its shade, 4..6 accents) plus a 7-colour palette, drawn by a small function per class from random parts; an
automatic 1-pixel dark outline and rim shading make it look like a game sprite. Each base design then gets
``VARIATIONS_PER_BASE`` variations made in one vectorised pass: a mirror image (allowed for every class: all of
them stay what they are when flipped left-right, a side-facing sprite just faces the other way), a 1-pixel
shift that never crops, a small palette jitter and a background colour. The background is drawn from the same
light, low-saturation distribution for every class, and sprites are centred and the same size, so a model has
to tell the classes apart by shape and colour scheme, not by a trivial cue.

Everything comes from ``np.random.default_rng([seed, base_index])``: image ``i`` belongs to base design
``i // VARIATIONS_PER_BASE`` and does not depend on ``n``, so ``generate_sprites(k, seed)`` is exactly the first
``k`` images of ``generate_sprites(n, seed)`` for any ``k <= n``.

Regenerate the committed file, its metadata and gallery with ``python -m dlhelpers data``.
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

from dlhelpers.sprites.painters import DRAW as _DRAW, XX as _XX, YY as _YY, hsv as _hsv
from dlhelpers.io import DATA_DIR, CorruptFileError, atomic_write_bytes, sha256_file, verify_file

from dlhelpers.io import PathLike

CLASS_NAMES = ("hero", "non-hero", "food", "spell", "side-facing")
NUM_CLASSES = len(CLASS_NAMES)
GENERATOR_VERSION = "1.0"
DEFAULT_SEED = 20240601
DEFAULT_N = 50_000
VARIATIONS_PER_BASE = 10
# Class of base design b is _CLASS_PATTERN[b % 50]: hero 16 %, non-hero 26 %, food 16 %, spell 26 %, side 16 %.
_SHARES = (8, 13, 8, 13, 8)
REGENERATE_COMMAND = "python -m dlhelpers data"

DEFAULT_PATH = DATA_DIR / "sprites_16x16.npz"
DEFAULT_GALLERY = DATA_DIR / "sprites_gallery.png"
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def _make_pattern() -> np.ndarray:
    # interleave the classes evenly over the 50-slot cycle (deterministic, no RNG)
    slots = []
    for c, k in enumerate(_SHARES):
        slots += [((j + 0.5) / k, c) for j in range(k)]
    slots.sort()
    return np.array([c for _, c in slots], dtype=np.int64)


_CLASS_PATTERN = _make_pattern()

# --------------------------------------------------------------------------------------------- generation
def _check_n_seed(n, seed):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def _base_design(b: int, seed: int):
    """Base design ``b``: its label, slot map (16,16) uint8, palette (7,3) int16 and its variation parameters."""
    rng = np.random.default_rng([int(seed), int(b)])
    label = int(_CLASS_PATTERN[b % len(_CLASS_PATTERN)])
    canvas = _DRAW[label](rng)
    m = canvas.m
    rows, cols = np.nonzero(m)
    V = VARIATIONS_PER_BASE
    flip = rng.random(V) < 0.5
    dy = rng.integers(max(-1, -rows.min()), min(1, 15 - rows.max()) + 1, size=V)
    lo, hi = max(-1, -cols.min()), min(1, 15 - cols.max())      # unflipped
    flo, fhi = max(-1, -(15 - cols.max())), min(1, cols.min())  # flipped
    u = rng.random(V)
    dx = np.where(flip, np.floor(flo + u * (fhi - flo + 1)), np.floor(lo + u * (hi - lo + 1))).astype(np.int64)
    jitter = rng.integers(-10, 11, size=(V, 7, 3))
    bright = rng.uniform(0.92, 1.06, size=(V, 1, 1))
    bg_h, bg_s, bg_v = rng.random(V), rng.uniform(0.0, 0.16, V), rng.uniform(0.84, 0.97, V)
    bg = np.array([_hsv(h, s, v) for h, s, v in zip(bg_h, bg_s, bg_v)], np.int16)
    return label, m, canvas.pal.copy(), (flip, dy, dx, jitter, bright, bg)


def _render(maps, pals, bidx, flip, dy, dx, jitter, bright, bg):
    """Vectorised variations: maps (B,16,16), pals (B,7,3); per-image arrays of length N."""
    N = len(bidx)
    out = np.empty((N, 16, 16, 3), np.uint8)
    for s in range(0, N, 8192):
        e = min(N, s + 8192)
        sl = slice(s, e)
        ys = _YY[None] - dy[sl, None, None]
        xs = _XX[None] - dx[sl, None, None]
        valid = (ys >= 0) & (ys < 16) & (xs >= 0) & (xs < 16)
        xs = np.where(flip[sl, None, None], 15 - xs, xs)
        idx = maps[bidx[sl, None, None], ys.clip(0, 15), xs.clip(0, 15)] * valid
        pal = pals[bidx[sl]].astype(np.float64) * bright[sl] + jitter[sl]
        pal[:, 1] = pals[bidx[sl], 1] + jitter[sl, 1] * 0.3  # keep the outline dark
        pal[:, 0] = bg[sl]
        pal = np.clip(np.rint(pal), 0, 255).astype(np.uint8)
        out[sl] = pal[np.arange(e - s)[:, None, None], idx]
    return out


def _generate(n: int, seed: int):
    V = VARIATIONS_PER_BASE
    n_base = -(-n // V)
    maps = np.empty((n_base, 16, 16), np.uint8)
    pals = np.empty((n_base, 7, 3), np.int16)
    labels_b = np.empty(n_base, np.int64)
    params = []
    for b in range(n_base):
        labels_b[b], maps[b], pals[b], p = _base_design(b, seed)
        params.append(p)
    flip, dy, dx, jitter, bright, bg = (np.concatenate([p[k] for p in params])[:n] for k in range(6))
    bidx = np.arange(n) // V
    images = _render(maps, pals, bidx, flip, dy, dx, jitter, bright, bg)
    return images, labels_b[bidx], maps, pals, labels_b


def generate_sprites(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` sprites as ``(images uint8 (n,16,16,3), labels int64 (n,))``, deterministic for ``seed``.

    Image ``i`` comes from base design ``i // VARIATIONS_PER_BASE``, so the first ``k`` images do not depend on
    ``n``. Uses only ``np.random.default_rng`` (no global RNG).
    """
    _check_n_seed(n, seed)
    images, labels, *_ = _generate(int(n), int(seed))
    return images, labels


def base_designs_per_class(maps: np.ndarray, pals: np.ndarray, labels_b: np.ndarray) -> dict:
    """Distinct base designs per class: distinct (slot map, palette) pairs and distinct shapes (slot maps)."""
    out = {}
    for c, name in enumerate(CLASS_NAMES):
        sel = labels_b == c
        designs = {maps[i].tobytes() + pals[i, 1:].tobytes() for i in np.nonzero(sel)[0]}
        shapes = {maps[i].tobytes() for i in np.nonzero(sel)[0]}
        out[name] = {"designs": len(designs), "shapes": len(shapes)}
    return out


def class_of_image(i: np.ndarray) -> np.ndarray:
    """Label of image index ``i`` (any seed): the class pattern is fixed."""
    return _CLASS_PATTERN[(np.asarray(i) // VARIATIONS_PER_BASE) % len(_CLASS_PATTERN)]


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
    _check_n_seed(n, seed)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    t0 = time.perf_counter()
    images, labels, maps, pals, labels_b = _generate(int(n), int(seed))
    gen_s = time.perf_counter() - t0
    data = _npz_bytes({
        "images": images,
        "labels": labels,
        "version": np.array(GENERATOR_VERSION),
        "seed": np.array(int(seed), np.int64),
        "variations_per_base": np.array(VARIATIONS_PER_BASE, np.int64),
    })
    atomic_write_bytes(path, data)
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    bases = base_designs_per_class(maps, pals, labels_b)
    meta = {
        "file": path.name,
        "sha256": sha256_file(path),
        "size_bytes": path.stat().st_size,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n_images": int(n),
        "variations_per_base": VARIATIONS_PER_BASE,
        "n_base_designs": int(len(labels_b)),
        "shape": [int(n), 16, 16, 3],
        "dtype": "uint8",
        "class_names": list(CLASS_NAMES),
        "images_per_class": {name: int(counts[i]) for i, name in enumerate(CLASS_NAMES)},
        "base_designs_per_class": {name: bases[name]["designs"] for name in CLASS_NAMES},
        "distinct_shapes_per_class": {name: bases[name]["shapes"] for name in CLASS_NAMES},
        "license": "CC0-1.0 (data), MIT (generator code)",
        "regenerate": REGENERATE_COMMAND,
    }
    text = json.dumps(meta, indent=2) + "\n"  # no timings in the file: it is byte-for-byte reproducible too
    atomic_write_bytes(_meta_path(path) if meta_path is None else Path(meta_path), text.encode())
    meta["generation_seconds"] = round(gen_s, 2)  # reported to the caller, kept out of the JSON (reproducible)
    return meta


def load_sprites(path: Optional[PathLike] = None) -> Tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (N,16,16,3), labels int64 (N,))`` from the committed file, after checking its sha256
    against ``sprites_16x16.json``; a missing or corrupt file raises ``CorruptFileError``."""
    path = DEFAULT_PATH if path is None else Path(path)
    meta_file = _meta_path(path)
    try:
        meta = json.loads(meta_file.read_text())
        expected = meta["sha256"]
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptFileError(f"{meta_file} is missing or unreadable ({exc}). "
                               f"Regenerate it with: {REGENERATE_COMMAND}") from exc
    verify_file(path, expected, REGENERATE_COMMAND)
    try:
        with np.load(path, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
    except Exception as exc:
        raise CorruptFileError(f"{path} could not be read ({exc}). Regenerate it with: {REGENERATE_COMMAND}") from exc
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (16, 16, 3) or len(labels) != len(images):
        raise CorruptFileError(f"{path} has unexpected contents. Regenerate it with: {REGENERATE_COMMAND}")
    return images, labels.astype(np.int64)


def load_metadata(path: Optional[PathLike] = None) -> dict:
    path = DEFAULT_PATH if path is None else Path(path)
    return json.loads(_meta_path(path).read_text())


# --------------------------------------------------------------------------------------------- dataset
def train_test_split(n: int, test_fraction: float = 0.1, seed: int = 0,
                     group_size: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """Deterministic ``(train_idx, test_idx)`` over ``range(n)``, both sorted int64.

    Indices are split in consecutive groups of ``group_size``: with ``group_size=VARIATIONS_PER_BASE`` every
    variation of a base design lands on the same side, so the held-out split contains unseen designs.
    """
    for name, v in (("n", n), ("seed", seed), ("group_size", group_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (float, int)):
        raise TypeError(f"test_fraction must be a float, got {type(test_fraction).__name__}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_groups = -(-n // group_size)
    if n_groups < 2:
        raise ValueError(f"n={n} with group_size={group_size} gives fewer than 2 groups")
    n_test = min(n_groups - 1, max(1, int(round(n_groups * test_fraction))))
    perm = np.random.default_rng([int(seed), 7]).permutation(n_groups)
    test_groups = np.zeros(n_groups, bool)
    test_groups[perm[:n_test]] = True
    is_test = test_groups[np.arange(n) // group_size]
    return np.nonzero(~is_test)[0].astype(np.int64), np.nonzero(is_test)[0].astype(np.int64)


DEFAULT_TEST_FRACTION = 0.1
DEFAULT_SPLIT_SEED = 0


def default_split(n: int) -> Tuple[np.ndarray, np.ndarray]:
    """The course's held-out split of the committed set: 10 % of base designs, all variations together."""
    return train_test_split(n, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED, group_size=VARIATIONS_PER_BASE)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N,16,16,3) -> float32 (N,3,16,16) in [-1, 1]."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be a uint8 array of shape (N,H,W,3), got "
                         f"{getattr(images, 'dtype', type(images))} {getattr(images, 'shape', '')}")
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
            raise ValueError("images and labels must be given together")
        if images is None:
            images, labels = load_sprites()
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
        if len(labels) != len(images):
            raise ValueError(f"labels has length {len(labels)} but images has {len(images)}")
        if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
            raise ValueError(f"labels must be in [0, {NUM_CLASSES}), got range [{labels.min()}, {labels.max()}]")
        if split is not None and indices is not None:
            raise ValueError("give either split or indices, not both")
        if split is not None:
            if split not in ("train", "test"):
                raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")
            train, test = default_split(len(labels))
            indices = train if split == "train" else test
        if indices is not None:
            indices = np.asarray(indices, dtype=np.int64)
            if indices.ndim != 1 or (len(indices) and (indices.min() < 0 or indices.max() >= len(labels))):
                raise ValueError("indices must be a 1-D array of valid positions")
            images, labels = images[indices], labels[indices]
        x = images_to_tensor(np.ascontiguousarray(images))
        ctx = torch.nn.functional.one_hot(torch.as_tensor(labels, dtype=torch.long), NUM_CLASSES).float()
        if null_context:
            ctx.zero_()
        super().__init__(x, ctx)
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.null_context = bool(null_context)


# --------------------------------------------------------------------------------------------- gallery
def save_gallery(path: PathLike, images: np.ndarray, labels: np.ndarray, per_class: int = 12, scale: int = 4,
                 gap: int = 2, label_rows: bool = True) -> Path:
    """A grid with one row per class (first ``per_class`` sprites of each), scaled up with nearest neighbour,
    written atomically as PNG. Class names are written at the left when ``label_rows``."""
    from PIL import Image, ImageDraw

    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive int, got {per_class!r}")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.shape[1:] != (16, 16, 3):
        raise ValueError("images must be a uint8 array of shape (N,16,16,3)")
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
    cell = 16 * scale + gap
    left = 84 if label_rows else 0
    W, H = left + per_class * cell + gap, NUM_CLASSES * cell + gap
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, name in enumerate(CLASS_NAMES):
        idx = np.nonzero(labels == c)[0]
        # spread the picks over different base designs
        picks = idx[:: max(1, VARIATIONS_PER_BASE)][:per_class] if len(idx) >= per_class * VARIATIONS_PER_BASE \
            else idx[:per_class]
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
