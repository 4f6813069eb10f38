"""Procedural generation of the course's 16x16 pixel-art sprite set (data CC0-1.0, code MIT).

Not from a paper: a small procedural generator, written so that a toy diffusion model has something to learn.
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
3 its shade, 4..6 accents) plus a 7-colour palette, drawn by the painter of its class (``painters.DRAW``).
Each base design then gets ``VARIATIONS_PER_BASE`` variations made in one vectorised pass (``_render``): a
mirror image (every class stays what it is when flipped left-right; a side-facing sprite just faces the other
way), a 1-pixel shift that never crops, a small palette jitter and a background colour. The background is drawn
from the same light, low-saturation distribution for every class, and sprites are centred and the same size,
so a model has to tell the classes apart by shape and colour scheme, not by a trivial cue.

Everything comes from ``np.random.default_rng([seed, base_index])``: image ``i`` belongs to base design
``i // VARIATIONS_PER_BASE`` and does not depend on ``n``, so ``generate_sprites(k, seed)`` is exactly the first
``k`` images of ``generate_sprites(n, seed)`` for any ``k <= n``. The file format lives in ``dataset``.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from dlhelpers.sprites.painters import DRAW
from dlhelpers.sprites.painters.common import XX, YY, hsv
from dlhelpers.validation import check_positive_int

CLASS_NAMES = ("hero", "non-hero", "food", "spell", "side-facing")
NUM_CLASSES = len(CLASS_NAMES)
GENERATOR_VERSION = "1.0"
DEFAULT_SEED = 20240601
DEFAULT_N = 50_000
VARIATIONS_PER_BASE = 10
# Base designs per class in every cycle of 50: hero 16 %, non-hero 26 %, food 16 %, spell 26 %, side 16 %.
_SHARES = (8, 13, 8, 13, 8)
_CHUNK = 8192  # images rendered per vectorised pass (bounds the temporary arrays)


def _make_pattern() -> np.ndarray:
    """(50,) int64: the class of base design ``b`` is ``pattern[b % 50]``, classes interleaved evenly (no RNG)."""
    slots = []
    for c, k in enumerate(_SHARES):
        slots += [((j + 0.5) / k, c) for j in range(k)]
    slots.sort()
    return np.array([c for _, c in slots], dtype=np.int64)


_CLASS_PATTERN = _make_pattern()


def check_n_seed(n, seed) -> Tuple[int, int]:
    """``n`` (images, ≥ 1) and ``seed`` (≥ 0) as ints; a TypeError/ValueError naming the argument otherwise."""
    return check_positive_int(n, "n", low=1), check_positive_int(seed, "seed", low=0)


def _base_design(b: int, seed: int):
    """Base design ``b``: its label, slot map (16,16) uint8, palette (7,3) int16 and its variation parameters
    ``(flip, dy, dx, jitter, bright, bg)``, each with a leading axis of ``VARIATIONS_PER_BASE``."""
    rng = np.random.default_rng([int(seed), int(b)])
    label = int(_CLASS_PATTERN[b % len(_CLASS_PATTERN)])
    canvas = DRAW[label](rng)
    rows, cols = np.nonzero(canvas.m)
    V = VARIATIONS_PER_BASE
    flip = rng.random(V) < 0.5                                       # (V,) bool
    dy = rng.integers(max(-1, -rows.min()), min(1, 15 - rows.max()) + 1, size=V)
    lo, hi = max(-1, -cols.min()), min(1, 15 - cols.max())           # shift range, unflipped
    flo, fhi = max(-1, -(15 - cols.max())), min(1, cols.min())       # shift range, flipped
    u = rng.random(V)
    dx = np.where(flip, np.floor(flo + u * (fhi - flo + 1)), np.floor(lo + u * (hi - lo + 1))).astype(np.int64)
    jitter = rng.integers(-10, 11, size=(V, 7, 3))                   # (V, 7, 3) per-channel palette jitter
    bright = rng.uniform(0.92, 1.06, size=(V, 1, 1))                 # (V, 1, 1) brightness factor
    bg_h, bg_s, bg_v = rng.random(V), rng.uniform(0.0, 0.16, V), rng.uniform(0.84, 0.97, V)
    bg = np.array([hsv(h, s, v) for h, s, v in zip(bg_h, bg_s, bg_v)], np.int16)  # (V, 3)
    return label, canvas.m, canvas.pal.copy(), (flip, dy, dx, jitter, bright, bg)


def _render(maps, pals, bidx, flip, dy, dx, jitter, bright, bg) -> np.ndarray:
    """Vectorised variations: maps (B,16,16), pals (B,7,3); ``bidx`` and the parameters have one entry per
    image (N,). Returns uint8 (N,16,16,3)."""
    N = len(bidx)
    out = np.empty((N, 16, 16, 3), np.uint8)
    for s in range(0, N, _CHUNK):
        e = min(N, s + _CHUNK)
        sl = slice(s, e)
        ys = YY[None] - dy[sl, None, None]                               # (n, 16, 16) source row
        xs = XX[None] - dx[sl, None, None]                               # (n, 16, 16) source column
        valid = (ys >= 0) & (ys < 16) & (xs >= 0) & (xs < 16)
        xs = np.where(flip[sl, None, None], 15 - xs, xs)
        idx = maps[bidx[sl, None, None], ys.clip(0, 15), xs.clip(0, 15)] * valid  # (n, 16, 16) slot
        pal = pals[bidx[sl]].astype(np.float64) * bright[sl] + jitter[sl]         # (n, 7, 3)
        pal[:, 1] = pals[bidx[sl], 1] + jitter[sl, 1] * 0.3  # keep the outline dark
        pal[:, 0] = bg[sl]
        pal = np.clip(np.rint(pal), 0, 255).astype(np.uint8)
        out[sl] = pal[np.arange(e - s)[:, None, None], idx]
    return out


def _generate(n: int, seed: int):
    """``(images (n,16,16,3) uint8, labels (n,) int64, maps (B,16,16), pals (B,7,3), base labels (B,))`` for
    the ``B = ceil(n / VARIATIONS_PER_BASE)`` base designs behind the first ``n`` images (arguments unchecked)."""
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
    n, seed = check_n_seed(n, seed)
    images, labels, *_ = _generate(n, seed)
    return images, labels


def base_designs_per_class(maps: np.ndarray, pals: np.ndarray, labels_b: np.ndarray) -> dict:
    """Distinct base designs per class: distinct (slot map, palette) pairs and distinct shapes (slot maps).

    ``maps`` (B,16,16), ``pals`` (B,7,3) and ``labels_b`` (B,) as returned by ``_generate``.
    """
    for name, arr, ndim in (("labels_b", labels_b, 1), ("maps", maps, 3), ("pals", pals, 3)):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(arr).__name__}")
        if arr.ndim != ndim or len(arr) != len(labels_b):
            raise ValueError(f"{name} must have {ndim} dims and {len(labels_b)} rows (one per base design), "
                             f"got shape {arr.shape}")
    out = {}
    for c, name in enumerate(CLASS_NAMES):
        rows = np.nonzero(labels_b == c)[0]
        designs = {maps[i].tobytes() + pals[i, 1:].tobytes() for i in rows}
        shapes = {maps[i].tobytes() for i in rows}
        out[name] = {"designs": len(designs), "shapes": len(shapes)}
    return out
