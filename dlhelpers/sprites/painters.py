"""The drawing kit and the five per-class sprite painters behind ``dlhelpers.sprites``.

Each painter takes a ``numpy.random.Generator`` and returns a ``_Canvas``: a 16×16 map of palette slots
(0 background, 1 outline, 2 main colour, 3 its shade, 4..6 accents) and a 7-colour palette, drawn from random,
composable parts (hero, non-hero, food, spell, side-facing; ``DRAW`` is indexed by the class label). Shapes are
rasterised with small numpy masks (ellipses, rectangles, polygons, lines) on a fixed 16×16 grid.
"""
from __future__ import annotations

import colorsys

import numpy as np

# --------------------------------------------------------------------------------------------- drawing kit
_YY, _XX = np.mgrid[0:16, 0:16]


def _ellipse(cy, cx, ry, rx):
    return ((_YY - cy) / ry) ** 2 + ((_XX - cx) / rx) ** 2 <= 1.0


def _rect(y0, x0, y1, x1):
    return (_YY >= y0) & (_YY <= y1) & (_XX >= x0) & (_XX <= x1)


def _poly(pts):
    """Pixels whose centre lies inside the polygon ``pts`` = [(y, x), ...] (even-odd rule)."""
    inside = np.zeros((16, 16), bool)
    py, px = _YY + 0.0, _XX + 0.0
    n = len(pts)
    for i in range(n):
        y1, x1 = pts[i]
        y2, x2 = pts[(i + 1) % n]
        if y1 == y2:
            continue
        cond = (y1 > py) != (y2 > py)
        xint = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= cond & (px < xint)
    return inside


def _line(y0, x0, y1, x1):
    m = np.zeros((16, 16), bool)
    steps = int(max(abs(y1 - y0), abs(x1 - x0))) + 1
    for t in np.linspace(0.0, 1.0, steps):
        y, x = int(round(y0 + (y1 - y0) * t)), int(round(x0 + (x1 - x0) * t))
        if 0 <= y < 16 and 0 <= x < 16:
            m[y, x] = True
    return m


def _hsv(h, s, v):
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return [int(round(255 * r)), int(round(255 * g)), int(round(255 * b))]


class _Canvas:
    """A 16x16 map of palette slots with a 7-colour palette (slot 0 is the background, set per image)."""

    def __init__(self):
        self.m = np.zeros((16, 16), np.uint8)
        self.pal = np.zeros((7, 3), np.int16)

    def put(self, mask, slot):
        self.m[mask] = slot

    def px(self, pts, slot, only_bg=False):
        for y, x in pts:
            if 0 <= y < 16 and 0 <= x < 16 and (not only_bg or self.m[y, x] == 0):
                self.m[y, x] = slot

    def symmetrize(self):
        self.m[:, 8:] = self.m[:, 7::-1]

    def outline(self):
        filled = self.m != 0
        d = filled.copy()
        d[1:] |= filled[:-1]
        d[:-1] |= filled[1:]
        d[:, 1:] |= filled[:, :-1]
        d[:, :-1] |= filled[:, 1:]
        self.m[d & ~filled] = 1

    def shade(self, slot=2, to=3):
        """Rim shading: main-colour pixels whose right or lower neighbour is outline/background get darker."""
        a = self.m == slot
        pad = np.pad(self.m, 1, constant_values=0)
        right = pad[1:-1, 2:]
        below = pad[2:, 1:-1]
        rim = a & (np.isin(right, (0, 1)) | np.isin(below, (0, 1)))
        self.m[rim] = to

    def palette(self, main, accents=(), outline=None, shade_factor=0.62):
        h, s, v = main
        self.pal[2] = _hsv(h, s, v)
        self.pal[3] = _hsv(h + 0.02, min(1.0, s * 1.1 + 0.05), v * shade_factor)
        self.pal[1] = outline if outline is not None else _hsv(h, 0.55, 0.13)
        for i, col in enumerate(accents):
            self.pal[4 + i] = col


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


_SKIN = [(0.07, 0.30, 0.98), (0.07, 0.42, 0.92), (0.06, 0.50, 0.80), (0.06, 0.55, 0.62), (0.05, 0.55, 0.45),
         (0.08, 0.35, 0.88), (0.30, 0.45, 0.70)]  # the last one is an orc-green tone
_HAIR = [(0.08, 0.75, 0.35), (0.07, 0.70, 0.55), (0.12, 0.70, 0.95), (0.03, 0.80, 0.75), (0.0, 0.0, 0.18),
         (0.0, 0.0, 0.92), (0.6, 0.6, 0.8), (0.9, 0.5, 0.9), (0.1, 0.5, 0.75)]
_METAL = [(0.6, 0.08, 0.78), (0.13, 0.75, 0.95), (0.6, 0.05, 0.6), (0.08, 0.6, 0.7)]


def _col(rng, hsv, jitter=0.04):
    h, s, v = hsv
    return _hsv(h + rng.uniform(-jitter, jitter) * 0.5, s + rng.uniform(-jitter, jitter) * 2,
                v + rng.uniform(-jitter, jitter) * 2)


# --------------------------------------------------------------------------------------------- hero
def _hero(rng):
    c = _Canvas()
    tunic = (rng.random(), rng.uniform(0.45, 0.9), rng.uniform(0.45, 0.9))
    skin, hair = _col(rng, _pick(rng, _SKIN)), _col(rng, _pick(rng, _HAIR))
    helmet = rng.random() < 0.3
    cape = rng.random() < 0.3
    accent = _col(rng, _pick(rng, _METAL)) if (helmet or not cape) else _hsv(rng.random(), 0.75, 0.75)
    c.palette(tunic, [skin, hair, accent])
    SK, HR, AC = 4, 5, 6
    y0 = int(rng.integers(2, 4)) if not helmet else 3
    hw = int(_pick(rng, (4, 6, 6)))
    hx0 = 8 - hw // 2
    bw = int(_pick(rng, (4, 4, 6))) if hw == 6 else 4
    bx0 = 8 - bw // 2
    # cape behind the body
    if cape:
        c.put(_poly([(y0 + 4, bx0 - 1.5), (y0 + 4, 7.5), (y0 + 10.4, 7.5), (y0 + 10.4, bx0 - 2.6)]), AC)
    # head and hair
    c.put(_rect(y0, hx0, y0 + 3, 7), SK)
    style = int(rng.integers(6))
    if helmet:
        c.put(_rect(y0, hx0, y0 + 1, 7), AC)
        c.put(_rect(y0 + 2, hx0, y0 + 3, hx0), AC)
        if rng.random() < 0.5:
            c.px([(y0 - 1, hx0), (y0 - 2, hx0 - 1)] if rng.random() < 0.5 else [(y0 - 1, 7)], AC)
    elif style == 0:    # short
        c.put(_rect(y0, hx0, y0, 7), HR)
        c.px([(y0 + 1, hx0)], HR)
    elif style == 1:    # long
        c.put(_rect(y0, hx0, y0, 7), HR)
        c.put(_rect(y0, hx0 - 1, y0 + 4, hx0 - 1) | _rect(y0 + 1, hx0, y0 + 2, hx0), HR)
    elif style == 2:    # spiky
        c.put(_rect(y0, hx0, y0, 7), HR)
        c.px([(y0 - 1, hx0), (y0 - 1, hx0 + 2), (y0 + 1, hx0)], HR)
    elif style == 3:    # hood in the tunic colour
        c.put(_rect(y0 - 1, hx0, y0, 7) | _rect(y0, hx0 - 1, y0 + 4, hx0 - 1) | _rect(y0 + 1, hx0, y0 + 3, hx0), 2)
    elif style == 4:    # bowl cut with fringe
        c.put(_rect(y0, hx0, y0 + 1, 7), HR)
        c.px([(y0 + 2, hx0)], HR)
    else:               # bun / top knot
        c.put(_rect(y0, hx0, y0, 7), HR)
        c.px([(y0 - 1, 7)], HR)
        c.px([(y0 + 1, hx0)], HR)
    # body, arms, legs
    by = y0 + 4
    c.put(_rect(by, bx0, by + 3, 7), 2)
    arm_x = bx0 - 1
    c.put(_rect(by, arm_x, by + 2, arm_x), 2)
    c.px([(by + 3, arm_x)], SK)
    if rng.random() < 0.5:  # belt
        c.put(_rect(by + 2, bx0, by + 2, 7), _pick(rng, (HR, AC, 1)))
    legs = int(rng.integers(3))
    if legs == 0:
        c.put(_rect(by + 4, bx0, by + 5, bx0 + 1), 3)
    elif legs == 1:
        c.put(_rect(by + 4, bx0 + (bw == 6), by + 5, bx0 + 1 + (bw == 6)), 3)
    else:  # robe down to the feet
        c.put(_rect(by + 4, bx0, by + 5, 7), 2)
    c.put(_rect(by + 6, bx0, by + 6, bx0 + 1 + (bw == 6)), _pick(rng, (HR, 1, AC)))
    c.symmetrize()
    # asymmetric extras: raised arm, weapon, shield
    weapon = int(rng.integers(4))
    side = 15 - arm_x  # the right-hand arm column
    if weapon == 1:    # sword held up
        c.put(_rect(by - 4, side + 1, by + 1, side + 1), AC)
        c.px([(by + 2, side), (by + 2, side + 1), (by + 2, side + 2)], HR)
    elif weapon == 2:  # staff with a gem
        c.put(_rect(by - 2, side + 1, by + 6, side + 1), HR)
        c.px([(by - 3, side + 1)], AC)
    elif weapon == 3:  # shield on the other arm
        sx = arm_x - 2
        c.put(_rect(by + 1, sx, by + 4, sx + 2), AC)
        c.px([(by + 2, sx + 1)], HR)
    c.outline()
    c.shade()
    # face: eyes, maybe a mouth
    ey = y0 + 2 if not helmet else y0 + 2
    c.px([(ey, hx0 + 1), (ey, 14 - hx0)], 1)
    if helmet and rng.random() < 0.5:
        c.put(_rect(y0 + 2, hx0 + 1, y0 + 2, 14 - hx0) & (c.m == SK), 1)
    if rng.random() < 0.3 and hw == 6:
        c.px([(y0 + 3, 7), (y0 + 3, 8)], 3)
    return c


# --------------------------------------------------------------------------------------------- side-facing
def _side(rng):
    c = _Canvas()
    tunic = (rng.random(), rng.uniform(0.45, 0.9), rng.uniform(0.45, 0.9))
    skin, hair = _col(rng, _pick(rng, _SKIN)), _col(rng, _pick(rng, _HAIR))
    accent = _col(rng, _pick(rng, _METAL)) if rng.random() < 0.6 else _hsv(rng.random(), 0.7, 0.6)
    c.palette(tunic, [skin, hair, accent])
    SK, HR, AC = 4, 5, 6
    y0 = 2
    hx = int(rng.integers(6, 8))          # head columns hx..hx+4, facing right (+x)
    bx = hx + int(rng.integers(0, 2))     # body columns bx..bx+3
    hat = int(rng.integers(5))
    if hat == 1:   # pointy wizard hat leaning back, head pushed down a row
        y0 = 3
    # back items first: cape or backpack
    back = int(rng.integers(3))
    by = y0 + 5
    if back == 1:
        c.put(_poly([(by, bx + 0.5), (by, bx - 0.6), (by + 5.4, bx - 2.6), (by + 5.4, bx + 0.5)]), AC)
    elif back == 2:
        c.put(_rect(by, bx - 2, by + 3, bx - 1), HR)
    # head: skin with a protruding nose, hair at the back
    c.put(_rect(y0, hx, y0 + 4, hx + 4), SK)
    c.px([(y0 + 2, hx + 5)], SK)
    hs = int(rng.integers(4))
    if hat == 0 or hat >= 3:
        c.put(_rect(y0, hx, y0, hx + 4) | _rect(y0, hx, y0 + 2 + hs % 2 * 2, hx + 1), HR)
        if hs == 2:
            c.put(_rect(y0 + 1, hx - 1, y0 + 5, hx - 1), HR)  # pony tail / long hair
        if hs == 3:
            c.px([(y0 - 1, hx + 1), (y0 - 1, hx + 3)], HR)
    if hat == 1:
        c.put(_poly([(y0 + 0.5, hx - 1.4), (y0 + 0.5, hx + 5.4), (y0 - 3.2, hx - 1.5)]), AC)
        c.put(_rect(y0, hx, y0 + 2, hx + 1), HR)
    elif hat == 2:  # helmet with a visor
        c.put(_rect(y0, hx, y0 + 1, hx + 4) | _rect(y0, hx, y0 + 3, hx + 1), AC)
    elif hat == 3:  # cap with a brim to the front
        c.put(_rect(y0, hx, y0, hx + 4), AC)
        c.px([(y0, hx + 5), (y0, hx + 6)], AC)
    # body
    c.put(_rect(by, bx, by + 3, bx + 3), 2)
    # legs in a walking pose
    stride = int(rng.integers(3))
    ly = by + 4
    if stride == 0:   # wide stride
        back_leg = [(ly, bx), (ly, bx + 1), (ly + 1, bx - 1), (ly + 1, bx), (ly + 2, bx - 2), (ly + 2, bx - 1)]
        front_leg = [(ly, bx + 2), (ly, bx + 3), (ly + 1, bx + 3), (ly + 1, bx + 4), (ly + 2, bx + 4), (ly + 2, bx + 5)]
    elif stride == 1:  # mid stride, one knee up
        back_leg = [(ly, bx), (ly, bx + 1), (ly + 1, bx), (ly + 1, bx + 1), (ly + 2, bx - 1), (ly + 2, bx)]
        front_leg = [(ly, bx + 2), (ly, bx + 3), (ly, bx + 4), (ly + 1, bx + 4), (ly + 1, bx + 5)]
    else:  # passing pose
        back_leg = [(ly, bx + 1), (ly + 1, bx + 1), (ly + 2, bx), (ly + 2, bx + 1)]
        front_leg = [(ly, bx + 2), (ly + 1, bx + 3), (ly + 2, bx + 3), (ly + 2, bx + 4)]
    boots = _pick(rng, (1, HR, AC))
    c.px(back_leg[:-2] if len(back_leg) > 4 else back_leg[:2], 3)
    c.px(back_leg[-2:], boots)
    c.px(front_leg[:-2], 3)
    c.px(front_leg[-2:], boots)
    # arm swinging forward or back, with a hand
    if rng.random() < 0.5:
        c.px([(by + 1, bx + 4), (by + 2, bx + 5)], 2)
        c.px([(by + 3, bx + 5)], SK)
        if rng.random() < 0.4:  # holding a spear / staff
            c.put(_rect(by - 3, bx + 6, by + 5, bx + 6), _pick(rng, (HR, AC)))
    else:
        c.px([(by + 1, bx - 1), (by + 2, bx - 2)], 2)
        c.px([(by + 3, bx - 2)], SK)
    c.outline()
    c.shade()
    c.px([(y0 + 2, hx + 3)], 1)  # one eye
    if rng.random() < 0.4:
        c.px([(y0 + 4, hx + 4)], 3)  # mouth
    if rng.random() < 0.5:  # face left instead of right
        c.m = c.m[:, ::-1].copy()
    return c


# --------------------------------------------------------------------------------------------- non-hero
def _creature_palette(rng, c, kind):
    if kind == "ghost":
        main = (rng.uniform(0.45, 0.8), rng.uniform(0.0, 0.25), rng.uniform(0.88, 0.98))
    elif kind == "skull":
        main = (rng.uniform(0.1, 0.16), rng.uniform(0.05, 0.3), rng.uniform(0.85, 0.97))
    else:
        main = (rng.random(), rng.uniform(0.45, 0.9), rng.uniform(0.45, 0.9))
    eye = _hsv(_pick(rng, (0.0, 0.15, 0.33, 0.55, 0.8)), 0.9, 0.95)
    horn = _col(rng, _pick(rng, [(0.12, 0.25, 0.95), (0.1, 0.5, 0.6), (0.0, 0.0, 0.35), (0.75, 0.4, 0.8)]))
    c.palette(main, [_hsv(main[0] + 0.05, main[1] * 0.5, min(1.0, main[2] + 0.3)), eye, horn])
    return 4, 5, 6  # LIGHT, EYE, HORN/TEETH


def _eyes(c, rng, y, xs, tall, EYE):
    for x in xs:
        if rng.random() < 0.5 or EYE is None:
            c.px([(y, x)] + ([(y + 1, x)] if tall else []), 1)
        else:
            c.px([(y, x)], EYE)
            c.px([(y + 1, x)] if tall else [], 1)


def _nonhero(rng):
    c = _Canvas()
    kind = _pick(rng, ("slime", "ghost", "bat", "skull", "beast", "eyeball", "bug"))
    LT, EYE, HORN = _creature_palette(rng, c, kind)
    if kind == "slime":
        ry, rx = rng.uniform(3.6, 5.6), rng.uniform(4.6, 6.0)
        c.put(_ellipse(13.4 - ry + 0.6 * ry, 7.5, ry, rx) & (_YY <= 13), 2)
        top = int(np.argmax((c.m != 0).any(1)))
        if rng.random() < 0.5:
            c.px([(top - 1, 7), (top - 1, 8), (top - 2, 8)] if rng.random() < 0.5 else [(top - 1, 7)], 2)
        if rng.random() < 0.35:  # horns
            c.px([(top, 4), (top - 1, 4)], HORN)
        c.symmetrize()
        c.outline()
        c.shade()
        ey = min(12, top + 3)
        _eyes(c, rng, ey, (6, 9) if rng.random() < 0.6 else (5, 10), True, None)
        if rng.random() < 0.6:
            c.px([(ey + 2, 7), (ey + 2, 8)], 3)
        c.px([(top + 1, 4), (top + 1, 5), (top + 2, 4)] if rx > 5 else [(top + 1, 5)], LT)
    elif kind == "ghost":
        cy = rng.uniform(6.5, 7.5)
        c.put(_ellipse(cy, 7.5, rng.uniform(3.5, 4.5), rng.uniform(3.8, 4.6)) | _rect(int(cy), 4, 12, 11), 2)
        wave = int(rng.integers(2))
        c.px([(13, x) for x in range(4 + wave, 12, 2)], 2)
        if rng.random() < 0.5:
            c.px([(9, 3), (9, 2)], 2)  # little arm
        c.symmetrize()
        c.outline()
        c.shade()
        _eyes(c, rng, 6, (6, 9), True, EYE if rng.random() < 0.3 else None)
        c.px([(9, 7), (9, 8), (10, 7), (10, 8)] if rng.random() < 0.5 else [(9, 7), (9, 8)], 1)
    elif kind == "bat":
        c.put(_ellipse(8.5, 7.5, rng.uniform(2.4, 3.2), 2.0), 2)
        c.px([(5, 6), (4, 6)], 2)  # ear (mirrored)
        tip = int(rng.integers(3, 6))
        c.put(_poly([(7, 6.5), (tip - 0.5, 1.4), (9.6, 1.4), (9.6, 6.5)]), 2)
        c.px([(10, 2), (10, 4)], 2)
        c.px([(10, 3), (10, 5)], 0)
        c.symmetrize()
        c.outline()
        c.shade()
        c.px([(7, 6), (7, 9)], EYE)
        c.px([(9, 6), (9, 9)] if rng.random() < 0.6 else [], HORN)
    elif kind == "skull":
        c.put(_ellipse(7.2, 7.5, rng.uniform(4.0, 4.8), rng.uniform(4.2, 5.0)) & (_YY <= 10), 2)
        c.put(_rect(11, 5, 12, 7), 2)
        if rng.random() < 0.35:
            c.px([(4, 3), (3, 2), (2, 2)], HORN)
        c.symmetrize()
        c.outline()
        c.shade()
        glow = rng.random() < 0.4
        for x0 in (5, 9):
            c.put(_rect(7, x0, 8, x0 + 1), 1)
            if glow:
                c.px([(7, x0 + (x0 == 5))], EYE)
        c.px([(10, 7), (10, 8)] if rng.random() < 0.5 else [(9, 7), (9, 8)], 1)
        c.px([(12, 6), (12, 8)], 1)
        c.px([(11, 6), (11, 9)], 1) if rng.random() < 0.5 else None
    elif kind == "beast":
        ry, rx = rng.uniform(3.6, 4.8), rng.uniform(4.2, 5.6)
        cy = 12.6 - ry
        c.put(_ellipse(cy, 7.5, ry, rx), 2)
        c.px([(12, 5), (13, 5), (13, 4)], 2)  # feet
        top = int(np.argmax((c.m != 0).any(1)))
        horns = int(rng.integers(3))
        if horns == 1:
            c.px([(top, 4), (top - 1, 4), (top - 2, 3)], HORN)
        elif horns == 2:
            c.px([(top, 5), (top - 1, 5), (top, 4)], 2)  # pointy ears
        if rng.random() < 0.4:  # small wings
            c.px([(int(cy) - 1, 2), (int(cy), 1), (int(cy), 2), (int(cy) + 1, 2)], LT)
        c.symmetrize()
        c.outline()
        c.shade()
        ey = int(round(cy)) - 1
        _eyes(c, rng, ey, (6, 9) if rx < 5 else (5, 10), False, EYE)
        c.px([(ey - 1, 5), (ey - 1, 10)] if rng.random() < 0.5 else [], 1)  # angry brows
        my = ey + 2
        c.put(_rect(my, 5, my, 10), 1)
        c.px([(my, 6), (my, 9)] if rng.random() < 0.5 else [(my, 5), (my, 7), (my, 8), (my, 10)], HORN)
    elif kind == "eyeball":
        r = rng.uniform(4.2, 5.0)
        c.put(_ellipse(7.0, 7.5, r, r), 2)
        nt = int(rng.integers(2, 4))
        for k in range(nt):
            x = 3 + 2 * k
            c.px([(11, x), (12, x), (13, x + (k % 2))], 2)
        c.symmetrize()
        c.outline()
        c.shade()
        c.put(_ellipse(7.0, 7.5, 2.6, 2.6), HORN)
        c.put(_ellipse(7.0, 7.5, 1.5, 1.5), EYE)
        c.px([(7, 7), (7, 8)] if rng.random() < 0.5 else [(6, 7), (7, 7), (6, 8), (7, 8)], 1)
        c.px([(5, 6)], 6)
    else:  # bug / spider
        r = rng.uniform(2.8, 3.6)
        c.put(_ellipse(8.5, 7.5, r + 0.4, r), 2)
        c.put(_ellipse(4.8, 7.5, 1.6, 2.0), 2)
        for k, (dy, dx) in enumerate([(-1, -1), (0, -1), (1, -1)][: int(rng.integers(2, 4))]):
            y = 7 + 2 * k
            c.px([(y, 3), (y + dy, 2), (y + dy + 1, 1)], 1)
        if rng.random() < 0.5:
            c.px([(3, 6), (2, 5)], 1)  # antenna
        c.symmetrize()
        c.outline()
        c.shade()
        c.px([(5, 6), (5, 9)], EYE)
        if rng.random() < 0.5:
            c.put(_rect(8, 7, 11, 8), LT)
    return c


# --------------------------------------------------------------------------------------------- food
def _food(rng):
    c = _Canvas()
    kind = _pick(rng, ("apple", "cherries", "banana", "carrot", "mushroom", "bread", "cake", "pear",
                       "drumstick", "egg", "watermelon", "grapes", "cheese"))
    brown = _col(rng, (0.08, 0.7, 0.4))
    green = _col(rng, (rng.uniform(0.25, 0.36), 0.75, 0.65))
    white = _hsv(0.1, 0.06, 0.98)

    def light(hsv):
        return _hsv(hsv[0], hsv[1] * 0.45, min(1.0, hsv[2] + 0.35))

    if kind in ("apple", "pear"):
        main = _pick(rng, [(0.0, 0.85, 0.85), (0.27, 0.75, 0.75), (0.14, 0.8, 0.95), (0.07, 0.9, 0.95)])
        main = (main[0] + rng.uniform(-0.02, 0.02), main[1], main[2] + rng.uniform(-0.1, 0.05))
        c.palette(main, [light(main), brown, green])
        r = rng.uniform(4.2, 5.2)
        if kind == "apple":
            c.put(_ellipse(13.5 - r, 7.5, r, r + rng.uniform(0.0, 0.6)), 2)
            top = int(np.argmax((c.m != 0).any(1)))
            c.px([(top, 7), (top, 8)], 0)
        else:
            c.put(_ellipse(13.5 - r * 0.85, 7.5, r * 0.85, r * 0.95) | _ellipse(6.0, 7.5, 2.3, 2.2), 2)
            top = int(np.argmax((c.m != 0).any(1)))
        c.outline()
        c.shade()
        sl = int(rng.integers(2))
        c.px([(top, 7 + sl), (top - 1, 7 + sl), (top - 2, 8 - sl)], 5)
        if rng.random() < 0.8:
            c.px([(top - 1, 9), (top - 1, 10), (top - 2, 10), (top - 2, 11)] if sl == 0 else
                 [(top - 1, 6), (top - 1, 5), (top - 2, 5)], 6)
        c.px([(top + 2, 5), (top + 3, 4), (top + 2, 4)] if r > 4.6 else [(top + 2, 5)], 4)
    elif kind == "cherries":
        main = (rng.uniform(-0.03, 0.02), rng.uniform(0.75, 0.95), rng.uniform(0.6, 0.9))
        c.palette(main, [light(main), green, brown])
        r = rng.uniform(2.2, 2.8)
        yl, yr = 13.5 - r, 13.5 - r - rng.integers(0, 2)
        c.put(_ellipse(yl, 4.8, r, r) | _ellipse(yr, 10.2, r, r), 2)
        c.outline()
        c.shade()
        jy, jx = int(rng.integers(2, 4)), int(rng.integers(7, 9))
        c.put(_line(int(yl - r), 5, jy, jx) | _line(int(yr - r), 10, jy, jx), 5)
        if rng.random() < 0.7:
            c.px([(jy, jx + 1), (jy - 1, jx + 2), (jy, jx + 2), (jy - 1, jx + 3)], 5)
        c.px([(int(yl) - 1, 4), (int(yr) - 1, 9)], 4)
    elif kind == "banana":
        main = (rng.uniform(0.12, 0.16), rng.uniform(0.7, 0.9), rng.uniform(0.88, 1.0))
        c.palette(main, [light(main), brown, _hsv(0.25, 0.6, 0.7)])
        R = rng.uniform(6.5, 8.0)
        cy = 13.0 - R
        arc = _ellipse(cy, 7.5, R, R) & ~_ellipse(cy - rng.uniform(1.8, 2.6), 7.5, R, R) & (_YY >= 4)
        c.put(arc & _rect(0, 2, 15, 13), 2)
        c.outline()
        c.shade()
        ys, xs = np.nonzero(c.m >= 2)
        c.px([(ys[np.argmin(xs)], xs.min()), (ys[np.argmax(xs)], xs.max())], 5)
    elif kind == "carrot":
        main = (rng.uniform(0.05, 0.09), rng.uniform(0.8, 0.95), rng.uniform(0.85, 1.0))
        c.palette(main, [light(main), green, brown])
        w = rng.uniform(2.6, 3.4)
        tip = rng.uniform(-1.0, 1.0)
        c.put(_poly([(5.5, 7.5 - w), (5.5, 7.5 + w), (13.6, 7.5 + tip)]), 2)
        c.outline()
        c.shade()
        for y in (7, 9, 11):
            c.px([(y, 6 + (y % 4 == 1))], 3)
        fr = int(rng.integers(2, 4))
        leaves = [(4, 7), (3, 7), (2, 6), (4, 8), (3, 9), (2, 9), (1, 10), (3, 6)][: 3 + fr]
        c.px(leaves, 5)
    elif kind == "mushroom":
        main = _pick(rng, [(0.0, 0.85, 0.85), (0.07, 0.7, 0.6), (0.78, 0.6, 0.7), (0.1, 0.7, 0.9), (0.55, 0.6, 0.8)])
        c.palette(main, [_hsv(0.12, 0.25, 0.95), white, light(main)])
        ry, rx = rng.uniform(3.8, 5.0), rng.uniform(5.0, 6.2)
        cy = rng.uniform(8.0, 8.8)
        c.put(_ellipse(cy, 7.5, ry, rx) & (_YY <= int(cy)), 2)
        sw = int(rng.integers(1, 3))
        c.put(_rect(int(cy) + 1, 8 - sw, 13, 7 + sw), 4)
        c.outline()
        c.shade()
        top = int(np.argmax((c.m != 0).any(1)))
        spots = [(top + 2, 5), (top + 3, 9), (top + 1, 8), (int(cy) - 1, 4), (int(cy) - 1, 11), (top + 3, 6)]
        idx = rng.permutation(len(spots))[: int(rng.integers(3, 6))]
        c.px([spots[i] for i in idx], 5, only_bg=False)
        c.px([(int(cy) + 2, 7 - sw + 1)], 1) if rng.random() < 0.5 else None
    elif kind == "bread":
        main = (rng.uniform(0.07, 0.1), rng.uniform(0.6, 0.8), rng.uniform(0.75, 0.9))
        c.palette(main, [light(main), _hsv(0.08, 0.75, 0.5), white])
        shape = int(rng.integers(3))
        if shape == 0:   # loaf
            c.put(_ellipse(9.5, 7.5, 3.8, 6.0) & (_YY <= 12), 2)
            c.outline()
            c.shade()
            for k in range(int(rng.integers(2, 4))):
                x = 5 + 2 * k + (k > 0)
                c.px([(7, x + 1), (8, x)], 4)
        elif shape == 1:  # slice of toast
            c.put(_ellipse(6.0, 7.5, 2.8, 5.2) | _rect(6, 3, 13, 12), 5)
            c.put(_ellipse(6.3, 7.5, 1.8, 4.2) | _rect(6, 4, 12, 11), 4)
            c.outline()
        else:  # baguette, diagonal
            c.put(_poly([(11.5, 1.5), (13.5, 3.5), (4.5, 13.5), (2.5, 11.5)]), 2)
            c.outline()
            c.shade()
            c.px([(10, 5), (9, 5), (8, 8), (7, 8), (6, 11), (5, 11)], 4)
    elif kind == "cake":
        sponge = _pick(rng, [(0.1, 0.45, 0.95), (0.06, 0.75, 0.45), (0.95, 0.35, 0.95)])
        icing = _pick(rng, [(0.0, 0.0, 0.97), (0.93, 0.35, 0.98), (0.08, 0.7, 0.45), (0.55, 0.3, 0.95)])
        sponge = (sponge[0] + rng.uniform(-0.02, 0.02), sponge[1] * rng.uniform(0.85, 1.1), sponge[2] * rng.uniform(0.85, 1.0))
        c.palette(sponge, [_col(rng, icing), _col(rng, (0.0, 0.9, 0.85)), _hsv(0.95, 0.3, 0.95)])
        if rng.random() < 0.5:  # layered cake
            top = int(rng.integers(6, 8))
            c.put(_rect(top, 3, 13, 12), 2)
            c.put(_rect(top, 3, top + 1, 12), 4)
            c.px([(top + 2, 4), (top + 2, 7), (top + 3, 7), (top + 2, 10)], 4)
            c.px([(top - 1, 7), (top - 1, 8), (top - 2, 7), (top - 2, 8)], 5)  # cherry
            c.outline()
            c.shade()
            c.put(_rect(top + 4, 4, top + 4, 11) & (c.m == 2), 6)
        else:  # cupcake
            c.put(_poly([(9.5, 3.5), (9.5, 11.5), (13.5, 10.5), (13.5, 4.5)]), 2)
            c.put(_ellipse(8.0, 7.5, 2.8, 4.8) & (_YY <= 9), 4)
            c.px([(5, 7), (5, 8), (4, 7)], 4)
            c.outline()
            c.shade()
            c.px([(11, 5), (11, 7), (11, 9), (12, 6), (12, 8)], 3)
            c.px([(3, 8), (3, 7)] if rng.random() < 0.6 else [], 5)
    elif kind == "drumstick":
        main = (rng.uniform(0.05, 0.09), rng.uniform(0.65, 0.85), rng.uniform(0.55, 0.8))
        c.palette(main, [light(main), white, _hsv(0.1, 0.1, 0.8)])
        c.put(_ellipse(6.5, 6.5, 4.2, 3.8), 2)
        c.put(_line(9, 9, 12, 12) | _line(10, 9, 12, 11), 5)
        c.px([(13, 12), (12, 13), (13, 13)], 5)
        c.outline()
        c.shade()
        c.px([(4, 5), (5, 4)], 4)
        if rng.random() < 0.5:
            c.m = c.m[:, ::-1].copy()
    elif kind == "egg":
        yolk = (rng.uniform(0.1, 0.14), rng.uniform(0.8, 0.95), rng.uniform(0.9, 1.0))
        c.palette((0.1, rng.uniform(0.02, 0.1), rng.uniform(0.92, 1.0)),
                  [_hsv(*yolk), _hsv(0.07, 0.9, 0.9), _hsv(0.0, 0.0, 1.0)])
        blob = _ellipse(8.0, 7.5, 4.8, 5.6)
        for _ in range(3):
            blob |= _ellipse(rng.uniform(5, 11), rng.uniform(4, 11), rng.uniform(1.5, 2.5), rng.uniform(1.5, 2.5))
        c.put(blob & _rect(2, 2, 13, 13), 2)
        c.outline()
        c.shade()
        yy, yx = rng.uniform(7, 9), rng.uniform(6.5, 8.5)
        c.put(_ellipse(yy, yx, 2.1, 2.1), 4)
        c.px([(int(yy) - 1, int(yx) - 1)], 6)
    elif kind == "watermelon":
        c.palette((rng.uniform(0.96, 1.0), rng.uniform(0.6, 0.85), rng.uniform(0.85, 1.0)),
                  [_col(rng, (0.3, 0.8, 0.55)), _col(rng, (0.25, 0.3, 0.9)), _hsv(0.0, 0.0, 0.1)])
        base = rng.uniform(4.5, 6.5)
        c.put(_ellipse(base, 7.5, 8.0, 6.2) & (_YY >= base), 4)
        c.put(_ellipse(base, 7.5, 6.8, 5.0) & (_YY >= base), 5)
        c.put(_ellipse(base, 7.5, 5.8, 4.2) & (_YY >= base), 2)
        c.outline()
        b = int(np.ceil(base))
        c.px([(b + 1, 5), (b + 1, 10), (b + 3, 7), (b + 2, 8)][: int(rng.integers(2, 5))], 6)
    elif kind == "grapes":
        main = _pick(rng, [(0.78, 0.65, 0.6), (0.25, 0.6, 0.75), (0.9, 0.6, 0.6)])
        c.palette(main, [light(main), brown, green])
        for (y, x) in [(5.5, 5.5), (5.5, 9.5), (8.5, 4.0), (8.5, 7.5), (8.5, 11.0), (11.5, 5.8), (11.5, 9.2)]:
            c.put(_ellipse(y + rng.uniform(-0.3, 0.3), x, 1.7, 1.7), 2)
        c.outline()
        c.shade()
        c.px([(3, 7), (2, 8)], 5)
        c.px([(2, 9), (2, 10), (3, 10)], 6) if rng.random() < 0.7 else None
        c.px([(5, 5), (8, 7), (11, 5)], 4)
    else:  # cheese wedge
        main = (rng.uniform(0.12, 0.15), rng.uniform(0.6, 0.85), rng.uniform(0.9, 1.0))
        c.palette(main, [light(main), _hsv(0.11, 0.9, 0.75), white])
        c.put(_poly([(12.5, 1.5), (12.5, 13.5), (rng.uniform(3.5, 5.5), 13.5)]), 2)
        c.put(_rect(12, 2, 12, 13) & (c.m == 2), 5)
        c.outline()
        c.shade()
        c.px([(11, 6), (10, 10), (9, 11), (11, 11)][: int(rng.integers(2, 5))], 5)
    return c


# --------------------------------------------------------------------------------------------- spell
def _sparkles(c, rng, slot=6):
    corners = [(2, 2), (2, 13), (13, 2), (13, 13), (2, 8), (8, 13)]
    for i in rng.permutation(len(corners))[: int(rng.integers(1, 4))]:
        y, x = corners[i]
        if rng.random() < 0.5:
            c.px([(y, x), (y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)], slot, only_bg=True)
        else:
            c.px([(y, x)], slot, only_bg=True)


def _spell(rng):
    c = _Canvas()
    kind = _pick(rng, ("orb", "fireball", "star", "lightning", "swirl", "potion", "crystal", "rune"))
    h = rng.random()
    main = (h, rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.0))
    glow = _hsv(h + 0.05, main[1] * 0.4, 1.0)
    core = _hsv(h, 0.08, 1.0)
    spark = _hsv(h + rng.uniform(-0.15, 0.15), 0.35, 1.0)
    c.palette(main, [glow, core, spark], outline=_hsv(h, 0.7, 0.25))
    if kind == "orb":
        r = rng.uniform(3.8, 4.8)
        c.put(_ellipse(7.5, 7.5, r, r), 2)
        c.put(_ellipse(7.0, 7.0, r * 0.62, r * 0.62), 4)
        c.put(_ellipse(6.5, 6.5, r * 0.28 + 0.3, r * 0.28 + 0.3), 5)
        c.outline()
        c.shade()
        _sparkles(c, rng)
    elif kind == "fireball":
        hy = rng.uniform(9.5, 10.5)
        r = rng.uniform(2.8, 3.4)
        w = rng.uniform(0.0, 1.2)
        c.put(_ellipse(hy, 15 - hy, r, r) | _poly([(hy - r, 15 - hy - 0.5), (hy + 0.5, 15 - hy + r),
                                                  (2 + w, 13 - w)]), 2)
        c.px([(5, 7), (4, 8), (7, 11), (8, 12)], 2)
        c.put(_ellipse(hy - 0.3, 15 - hy + 0.3, r * 0.65, r * 0.65) | _line(hy - 1, 15 - hy + 1, 5, 10), 4)
        c.put(_ellipse(hy, 15 - hy, r * 0.3 + 0.2, r * 0.3 + 0.2), 5)
        c.outline()
        c.shade()
        t = int(rng.integers(4))
        if t & 1:
            c.m = c.m[:, ::-1].copy()
        if t & 2:
            c.m = c.m[::-1].copy()
    elif kind == "star":
        n = int(_pick(rng, (4, 5, 5, 6)))
        ro, ri = rng.uniform(5.5, 6.4), rng.uniform(2.0, 2.8)
        rot = rng.uniform(-0.2, 0.2)
        pts = []
        for k in range(2 * n):
            a = np.pi * k / n + rot - np.pi / 2
            rr = ro if k % 2 == 0 else ri
            pts.append((7.5 + rr * np.sin(a), 7.5 + rr * np.cos(a)))
        c.put(_poly(pts), 2)
        c.put(_ellipse(7.3, 7.3, 1.4, 1.4), 4)
        c.outline()
        c.shade()
        c.px([(7, 7)], 5)
        if rng.random() < 0.4:
            c.px([(8, 6), (8, 9)], 1)  # a face
        _sparkles(c, rng)
    elif kind == "lightning":
        a, b = rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)
        c.put(_poly([(1.6, 8.5 + a), (1.6, 12.0 + a), (6.6, 9.5), (6.6, 11.5 + b), (13.8, 4.5),
                     (8.4, 6.8), (8.4, 4.5 + b), (1.6, 8.5 + a)]), 2)
        c.outline()
        c.shade()
        c.put(_line(3, 10, 6, 8) | _line(9, 8, 12, 6), 5)
        if rng.random() < 0.5:
            c.m = c.m[:, ::-1].copy()
        _sparkles(c, rng)
    elif kind == "swirl":
        th = np.linspace(0, 4.2 * np.pi, 80)
        rr = 0.35 + th * rng.uniform(0.40, 0.46)
        sgn = 1 if rng.random() < 0.5 else -1
        for t, r in zip(th, rr):
            y, x = int(round(7.5 + r * np.sin(sgn * t))), int(round(7.5 + r * np.cos(t)))
            if 1 <= y <= 14 and 1 <= x <= 14:
                c.m[y, x] = 2 if t > 1.5 * np.pi else 4
        c.outline()
        c.px([(8, 8)], 5)
        _sparkles(c, rng)
    elif kind == "potion":
        glass = _hsv(0.55, 0.1, 0.95)
        c.pal[5] = glass
        cork = _hsv(0.08, 0.6, 0.55)
        shape = int(rng.integers(3))
        if shape == 0:   # round flask
            r = rng.uniform(3.6, 4.2)
            body = _ellipse(13.4 - r, 7.5, r, r)
        elif shape == 1:  # conical flask
            body = _poly([(6.5, 6.5), (6.5, 8.5), (13.5, 12.5), (13.5, 2.5)])
        else:  # tall bottle
            body = _rect(6, 5, 13, 10) & ~(_rect(6, 5, 6, 5) | _rect(6, 10, 6, 10))
        top = int(np.argmax(body.any(1)))
        c.put(body, 5)
        level = int(rng.integers(top + 1, top + 4))
        c.put(body & (_YY >= level), 2)
        c.put(_rect(top - 2, 7, top - 1, 8), 5)
        c.put(_rect(top - 4, 7, top - 3, 8), 6)
        c.pal[6] = cork
        c.outline()
        c.shade()
        c.px([(level + 1, 6), (level + 2, 9)], 4)
        c.px([(level - 1 if level - 1 > top else level + 2, 5)], 4)
    elif kind == "crystal":
        w = rng.uniform(3.5, 4.6)
        mid = rng.uniform(5.0, 7.0)
        if rng.random() < 0.5:  # diamond gem
            c.put(_poly([(1.6, 7.5), (mid, 7.5 + w), (13.8, 7.5), (mid, 7.5 - w)]), 2)
        else:  # hexagonal crystal
            c.put(_poly([(1.6, 7.5), (4.2, 7.5 + w), (11.5, 7.5 + w), (13.8, 7.5), (11.5, 7.5 - w), (4.2, 7.5 - w)]), 2)
        c.put(c.m.astype(bool) & (_XX <= 7), 4)
        c.outline()
        c.shade()
        c.put(_line(3, 7, 12, 7) & (c.m > 1), 5)
        _sparkles(c, rng)
    else:  # rune circle
        ro = rng.uniform(5.6, 6.3)
        ring = _ellipse(7.5, 7.5, ro, ro) & ~_ellipse(7.5, 7.5, ro - 1.6, ro - 1.6)
        c.put(ring, 2)
        sym = int(rng.integers(3))
        if sym == 0:
            c.put(_rect(5, 7, 10, 8) | _rect(7, 5, 8, 10), 4)
        elif sym == 1:
            c.put(_poly([(4.4, 7.5), (10.4, 10.6), (10.4, 4.4)]), 4)
        else:
            c.put(_ellipse(7.5, 7.5, 1.6, 1.6), 4)
        c.outline()
        c.shade()
        for k in range(int(rng.integers(3, 7))):
            a = 2 * np.pi * k / 6 + 0.3
            c.px([(int(round(7.5 + (ro - 0.8) * np.sin(a))), int(round(7.5 + (ro - 0.8) * np.cos(a))))], 5)
    return c


_DRAW = (_hero, _nonhero, _food, _spell, _side)


# the names dlhelpers.sprites uses
DRAW, XX, YY, hsv = _DRAW, _XX, _YY, _hsv
