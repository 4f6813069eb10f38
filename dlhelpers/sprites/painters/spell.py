"""Class 3, ``spell``: magic effects and items (``KINDS``), one painter each, in one glowing hue per sprite.

The palette is a saturated main colour with a dark outline of the same hue, a pale glow (slot 4), a near-white
core (slot 5) and a sparkle colour (slot 6); many kinds scatter sparkles into the empty corners.
"""
from __future__ import annotations

import numpy as np

from dlhelpers.sprites.painters.common import XX, YY, Canvas, ellipse, hsv, line, pick, poly, rect

GLOW, CORE, SPARK = 4, 5, 6
_SPARKLE_SPOTS = [(2, 2), (2, 13), (13, 2), (13, 13), (2, 8), (8, 13)]


def _sparkles(c: Canvas, rng: np.random.Generator):
    """One to three sparkles (a plus or a dot) at spots that are still empty."""
    for i in rng.permutation(len(_SPARKLE_SPOTS))[: int(rng.integers(1, 4))]:
        y, x = _SPARKLE_SPOTS[i]
        if rng.random() < 0.5:
            c.px([(y, x), (y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)], SPARK, only_bg=True)
        else:
            c.px([(y, x)], SPARK, only_bg=True)


def _orb(c: Canvas, rng: np.random.Generator):
    r = rng.uniform(3.8, 4.8)
    c.put(ellipse(7.5, 7.5, r, r), 2)
    c.put(ellipse(7.0, 7.0, r * 0.62, r * 0.62), GLOW)
    c.put(ellipse(6.5, 6.5, r * 0.28 + 0.3, r * 0.28 + 0.3), CORE)
    c.outline_and_shade()
    _sparkles(c, rng)


def _fireball(c: Canvas, rng: np.random.Generator):
    """A ball with a flame tail, flying in one of four diagonal directions."""
    hy = rng.uniform(9.5, 10.5)   # the ball's centre is (hy, 15 - hy)
    r = rng.uniform(2.8, 3.4)
    w = rng.uniform(0.0, 1.2)
    c.put(ellipse(hy, 15 - hy, r, r) | poly([(hy - r, 15 - hy - 0.5), (hy + 0.5, 15 - hy + r), (2 + w, 13 - w)]), 2)
    c.px([(5, 7), (4, 8), (7, 11), (8, 12)], 2)
    c.put(ellipse(hy - 0.3, 15 - hy + 0.3, r * 0.65, r * 0.65) | line(hy - 1, 15 - hy + 1, 5, 10), GLOW)
    c.put(ellipse(hy, 15 - hy, r * 0.3 + 0.2, r * 0.3 + 0.2), CORE)
    c.outline_and_shade()
    direction = int(rng.integers(4))
    if direction & 1:
        c.flip_lr()
    if direction & 2:
        c.flip_ud()


def _star(c: Canvas, rng: np.random.Generator):
    n = int(pick(rng, (4, 5, 5, 6)))  # points
    ro, ri = rng.uniform(5.5, 6.4), rng.uniform(2.0, 2.8)
    rot = rng.uniform(-0.2, 0.2)
    pts = []
    for k in range(2 * n):
        a = np.pi * k / n + rot - np.pi / 2
        rr = ro if k % 2 == 0 else ri
        pts.append((7.5 + rr * np.sin(a), 7.5 + rr * np.cos(a)))
    c.put(poly(pts), 2)
    c.put(ellipse(7.3, 7.3, 1.4, 1.4), GLOW)
    c.outline_and_shade()
    c.px([(7, 7)], CORE)
    if rng.random() < 0.4:
        c.px([(8, 6), (8, 9)], 1)  # a face
    _sparkles(c, rng)


def _lightning(c: Canvas, rng: np.random.Generator):
    a, b = rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)
    c.put(poly([(1.6, 8.5 + a), (1.6, 12.0 + a), (6.6, 9.5), (6.6, 11.5 + b), (13.8, 4.5),
                (8.4, 6.8), (8.4, 4.5 + b), (1.6, 8.5 + a)]), 2)
    c.outline_and_shade()
    c.put(line(3, 10, 6, 8) | line(9, 8, 12, 6), CORE)
    if rng.random() < 0.5:
        c.flip_lr()
    _sparkles(c, rng)


def _swirl(c: Canvas, rng: np.random.Generator):
    """An Archimedean spiral, glowing near its centre, turning either way."""
    th = np.linspace(0, 4.2 * np.pi, 80)
    rr = 0.35 + th * rng.uniform(0.40, 0.46)
    sgn = 1 if rng.random() < 0.5 else -1
    for t, r in zip(th, rr):
        y, x = int(round(7.5 + r * np.sin(sgn * t))), int(round(7.5 + r * np.cos(t)))
        if 1 <= y <= 14 and 1 <= x <= 14:
            c.m[y, x] = 2 if t > 1.5 * np.pi else GLOW
    c.outline()
    c.px([(8, 8)], CORE)
    _sparkles(c, rng)


def _potion(c: Canvas, rng: np.random.Generator):
    """A glass flask (round, conical or tall) filled to a random level, with a cork."""
    c.pal[CORE] = hsv(0.55, 0.1, 0.95)   # glass
    c.pal[SPARK] = hsv(0.08, 0.6, 0.55)  # cork
    shape = int(rng.integers(3))
    if shape == 0:    # round flask
        r = rng.uniform(3.6, 4.2)
        body = ellipse(13.4 - r, 7.5, r, r)
    elif shape == 1:  # conical flask
        body = poly([(6.5, 6.5), (6.5, 8.5), (13.5, 12.5), (13.5, 2.5)])
    else:             # tall bottle
        body = rect(6, 5, 13, 10) & ~(rect(6, 5, 6, 5) | rect(6, 10, 6, 10))
    top = int(np.argmax(body.any(1)))
    c.put(body, CORE)
    level = int(rng.integers(top + 1, top + 4))
    c.put(body & (YY >= level), 2)
    c.put(rect(top - 2, 7, top - 1, 8), CORE)   # neck
    c.put(rect(top - 4, 7, top - 3, 8), SPARK)  # cork
    c.outline_and_shade()
    c.px([(level + 1, 6), (level + 2, 9)], GLOW)  # bubbles
    c.px([(level - 1 if level - 1 > top else level + 2, 5)], GLOW)


def _crystal(c: Canvas, rng: np.random.Generator):
    w = rng.uniform(3.5, 4.6)
    mid = rng.uniform(5.0, 7.0)
    if rng.random() < 0.5:  # diamond gem
        c.put(poly([(1.6, 7.5), (mid, 7.5 + w), (13.8, 7.5), (mid, 7.5 - w)]), 2)
    else:  # hexagonal crystal
        c.put(poly([(1.6, 7.5), (4.2, 7.5 + w), (11.5, 7.5 + w), (13.8, 7.5), (11.5, 7.5 - w), (4.2, 7.5 - w)]), 2)
    c.put(c.m.astype(bool) & (XX <= 7), GLOW)  # lit left facet
    c.outline_and_shade()
    c.put(line(3, 7, 12, 7) & (c.m > 1), CORE)
    _sparkles(c, rng)


def _rune(c: Canvas, rng: np.random.Generator):
    """A rune circle: a ring with a cross, triangle or dot inside and glowing marks on the ring."""
    ro = rng.uniform(5.6, 6.3)
    c.put(ellipse(7.5, 7.5, ro, ro) & ~ellipse(7.5, 7.5, ro - 1.6, ro - 1.6), 2)
    symbol = int(rng.integers(3))
    if symbol == 0:
        c.put(rect(5, 7, 10, 8) | rect(7, 5, 8, 10), GLOW)
    elif symbol == 1:
        c.put(poly([(4.4, 7.5), (10.4, 10.6), (10.4, 4.4)]), GLOW)
    else:
        c.put(ellipse(7.5, 7.5, 1.6, 1.6), GLOW)
    c.outline_and_shade()
    for k in range(int(rng.integers(3, 7))):
        a = 2 * np.pi * k / 6 + 0.3
        c.px([(int(round(7.5 + (ro - 0.8) * np.sin(a))), int(round(7.5 + (ro - 0.8) * np.cos(a))))], CORE)


KINDS = {"orb": _orb, "fireball": _fireball, "star": _star, "lightning": _lightning, "swirl": _swirl,
         "potion": _potion, "crystal": _crystal, "rune": _rune}  # the order is part of the random stream


def spell(rng: np.random.Generator) -> Canvas:
    c = Canvas()
    kind = pick(rng, tuple(KINDS))
    h = rng.random()
    main = (h, rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.0))
    glow = hsv(h + 0.05, main[1] * 0.4, 1.0)
    core = hsv(h, 0.08, 1.0)
    spark = hsv(h + rng.uniform(-0.15, 0.15), 0.35, 1.0)
    c.palette(main, [glow, core, spark], outline=hsv(h, 0.7, 0.25))
    KINDS[kind](c, rng)
    return c
