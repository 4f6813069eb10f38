"""The drawing kit every sprite painter shares: the 16×16 grid, shape masks, colours and the ``Canvas``.

Not from a paper: plain pixel-art conventions. A sprite is a 16×16 map of palette *slots* (0 background,
1 outline, 2 main colour, 3 its shade, 4..6 accents) plus a 7-colour palette. Shapes are rasterised as boolean
masks on the fixed grid ``YY, XX`` (pixel centres at integer coordinates): ellipses, rectangles, polygons
(even-odd rule) and lines. ``Canvas.outline`` adds the 1-pixel dark outline (a 4-neighbour dilation of the shape)
and ``Canvas.shade`` the rim shading on the lower right of the main colour.
"""
from __future__ import annotations

import colorsys

import numpy as np

SIZE = 16
YY, XX = np.mgrid[0:SIZE, 0:SIZE]  # (16, 16) each: row and column index of every pixel

# slots of the palette
BG, OUTLINE, MAIN, SHADE = 0, 1, 2, 3
SHADE_FACTOR = 0.62  # brightness of the shade slot relative to the main colour


# --------------------------------------------------------------------------------------------- shape masks
def ellipse(cy, cx, ry, rx) -> np.ndarray:
    """(16, 16) bool: pixels inside the axis-aligned ellipse centred at (cy, cx) with radii (ry, rx)."""
    return ((YY - cy) / ry) ** 2 + ((XX - cx) / rx) ** 2 <= 1.0


def rect(y0, x0, y1, x1) -> np.ndarray:
    """(16, 16) bool: the rectangle of rows y0..y1 and columns x0..x1, both inclusive."""
    return (YY >= y0) & (YY <= y1) & (XX >= x0) & (XX <= x1)


def poly(pts) -> np.ndarray:
    """(16, 16) bool: pixels whose centre lies inside the polygon ``pts`` = [(y, x), ...] (even-odd rule)."""
    inside = np.zeros((SIZE, SIZE), bool)
    py, px = YY + 0.0, XX + 0.0
    for i in range(len(pts)):
        y1, x1 = pts[i]
        y2, x2 = pts[(i + 1) % len(pts)]
        if y1 == y2:
            continue
        crosses = (y1 > py) != (y2 > py)
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (px < x_cross)
    return inside


def line(y0, x0, y1, x1) -> np.ndarray:
    """(16, 16) bool: a 1-pixel line from (y0, x0) to (y1, x1), clipped to the grid."""
    m = np.zeros((SIZE, SIZE), bool)
    steps = int(max(abs(y1 - y0), abs(x1 - x0))) + 1
    for t in np.linspace(0.0, 1.0, steps):
        y, x = int(round(y0 + (y1 - y0) * t)), int(round(x0 + (x1 - x0) * t))
        if 0 <= y < SIZE and 0 <= x < SIZE:
            m[y, x] = True
    return m


# --------------------------------------------------------------------------------------------- colours
def hsv(h, s, v) -> list:
    """An [r, g, b] int colour (0..255) from hue (wraps around), saturation and value (clipped to 0..1)."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return [int(round(255 * r)), int(round(255 * g)), int(round(255 * b))]


def pick(rng: np.random.Generator, seq):
    """One element of ``seq``, uniformly (one ``rng.integers`` draw)."""
    return seq[int(rng.integers(len(seq)))]


def col(rng: np.random.Generator, base_hsv, jitter=0.04) -> list:
    """``base_hsv`` = (h, s, v) with a little random jitter, as an [r, g, b] colour."""
    h, s, v = base_hsv
    return hsv(h + rng.uniform(-jitter, jitter) * 0.5, s + rng.uniform(-jitter, jitter) * 2,
               v + rng.uniform(-jitter, jitter) * 2)


# base (h, s, v) colours shared by the two humanoid classes (hero, side-facing)
SKIN = [(0.07, 0.30, 0.98), (0.07, 0.42, 0.92), (0.06, 0.50, 0.80), (0.06, 0.55, 0.62), (0.05, 0.55, 0.45),
        (0.08, 0.35, 0.88), (0.30, 0.45, 0.70)]  # the last one is an orc-green tone
HAIR = [(0.08, 0.75, 0.35), (0.07, 0.70, 0.55), (0.12, 0.70, 0.95), (0.03, 0.80, 0.75), (0.0, 0.0, 0.18),
        (0.0, 0.0, 0.92), (0.6, 0.6, 0.8), (0.9, 0.5, 0.9), (0.1, 0.5, 0.75)]
METAL = [(0.6, 0.08, 0.78), (0.13, 0.75, 0.95), (0.6, 0.05, 0.6), (0.08, 0.6, 0.7)]


def random_main(rng: np.random.Generator) -> tuple:
    """A random saturated, mid-bright (h, s, v) main colour (tunics, most creatures)."""
    return rng.random(), rng.uniform(0.45, 0.9), rng.uniform(0.45, 0.9)


# --------------------------------------------------------------------------------------------- canvas
class Canvas:
    """A 16×16 map of palette slots with a 7-colour palette (slot 0 is the background, set per image)."""

    def __init__(self):
        self.m = np.zeros((SIZE, SIZE), np.uint8)   # (16, 16) slot per pixel
        self.pal = np.zeros((7, 3), np.int16)       # (7, 3) RGB per slot

    def put(self, mask, slot):
        """Paint the pixels of a (16, 16) bool ``mask`` with ``slot``."""
        self.m[mask] = slot

    def px(self, pts, slot, only_bg=False):
        """Paint single pixels [(y, x), ...] (off-grid ones are skipped; ``only_bg``: only empty pixels)."""
        for y, x in pts:
            if 0 <= y < SIZE and 0 <= x < SIZE and (not only_bg or self.m[y, x] == BG):
                self.m[y, x] = slot

    def top(self) -> int:
        """The first row that holds anything."""
        return int(np.argmax((self.m != BG).any(1)))

    def symmetrize(self):
        """Mirror the left half onto the right half."""
        self.m[:, SIZE // 2:] = self.m[:, SIZE // 2 - 1::-1]

    def flip_lr(self):
        self.m = self.m[:, ::-1].copy()

    def flip_ud(self):
        self.m = self.m[::-1].copy()

    def outline(self):
        """Empty pixels next to the shape (4-neighbourhood) become the outline slot."""
        filled = self.m != BG
        grown = filled.copy()
        grown[1:] |= filled[:-1]
        grown[:-1] |= filled[1:]
        grown[:, 1:] |= filled[:, :-1]
        grown[:, :-1] |= filled[:, 1:]
        self.m[grown & ~filled] = OUTLINE

    def shade(self):
        """Rim shading: main-colour pixels whose right or lower neighbour is outline/background get darker."""
        main = self.m == MAIN
        pad = np.pad(self.m, 1, constant_values=BG)
        right, below = pad[1:-1, 2:], pad[2:, 1:-1]
        rim = main & (np.isin(right, (BG, OUTLINE)) | np.isin(below, (BG, OUTLINE)))
        self.m[rim] = SHADE

    def outline_and_shade(self):
        self.outline()
        self.shade()

    def palette(self, main, accents=(), outline=None):
        """Main colour (h, s, v), its shade, the outline (dark main hue unless given) and up to 3 accents."""
        h, s, v = main
        self.pal[MAIN] = hsv(h, s, v)
        self.pal[SHADE] = hsv(h + 0.02, min(1.0, s * 1.1 + 0.05), v * SHADE_FACTOR)
        self.pal[OUTLINE] = outline if outline is not None else hsv(h, 0.55, 0.13)
        for i, colour in enumerate(accents):
            self.pal[4 + i] = colour
