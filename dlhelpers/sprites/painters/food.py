"""Class 2, ``food``: thirteen kinds of food (``KINDS``), one painter each.

Every food shares a jittered brown (stems, crusts) and green (leaves) drawn before the kind's own palette; each
painter draws the shape, adds outline and rim shading, then stems, leaves, seeds and highlights on top. Slots:
2 main colour, 3 its shade, 4..6 per kind (usually 4 a light tint of the main colour for highlights).
"""
from __future__ import annotations

import numpy as np

from dlhelpers.sprites.painters.common import YY, Canvas, col, ellipse, hsv, line, pick, poly, rect

WHITE = hsv(0.1, 0.06, 0.98)


def _light(base_hsv) -> list:
    """A pale tint of ``base_hsv`` for highlights."""
    return hsv(base_hsv[0], base_hsv[1] * 0.45, min(1.0, base_hsv[2] + 0.35))


def _apple_or_pear(c: Canvas, rng: np.random.Generator, brown, green, pear: bool):
    main = pick(rng, [(0.0, 0.85, 0.85), (0.27, 0.75, 0.75), (0.14, 0.8, 0.95), (0.07, 0.9, 0.95)])
    main = (main[0] + rng.uniform(-0.02, 0.02), main[1], main[2] + rng.uniform(-0.1, 0.05))
    c.palette(main, [_light(main), brown, green])
    r = rng.uniform(4.2, 5.2)
    if pear:
        c.put(ellipse(13.5 - r * 0.85, 7.5, r * 0.85, r * 0.95) | ellipse(6.0, 7.5, 2.3, 2.2), 2)
        top = c.top()
    else:  # apple, with a dent at the top
        c.put(ellipse(13.5 - r, 7.5, r, r + rng.uniform(0.0, 0.6)), 2)
        top = c.top()
        c.px([(top, 7), (top, 8)], 0)
    c.outline_and_shade()
    sl = int(rng.integers(2))  # stem slant
    c.px([(top, 7 + sl), (top - 1, 7 + sl), (top - 2, 8 - sl)], 5)
    if rng.random() < 0.8:  # leaf
        c.px([(top - 1, 9), (top - 1, 10), (top - 2, 10), (top - 2, 11)] if sl == 0 else
             [(top - 1, 6), (top - 1, 5), (top - 2, 5)], 6)
    c.px([(top + 2, 5), (top + 3, 4), (top + 2, 4)] if r > 4.6 else [(top + 2, 5)], 4)


def _apple(c, rng, brown, green):
    _apple_or_pear(c, rng, brown, green, pear=False)


def _pear(c, rng, brown, green):
    _apple_or_pear(c, rng, brown, green, pear=True)


def _cherries(c: Canvas, rng: np.random.Generator, brown, green):
    main = (rng.uniform(-0.03, 0.02), rng.uniform(0.75, 0.95), rng.uniform(0.6, 0.9))
    c.palette(main, [_light(main), green, brown])
    r = rng.uniform(2.2, 2.8)
    yl, yr = 13.5 - r, 13.5 - r - rng.integers(0, 2)  # centre rows of the left and right cherry
    c.put(ellipse(yl, 4.8, r, r) | ellipse(yr, 10.2, r, r), 2)
    c.outline_and_shade()
    jy, jx = int(rng.integers(2, 4)), int(rng.integers(7, 9))  # where the stems join
    c.put(line(int(yl - r), 5, jy, jx) | line(int(yr - r), 10, jy, jx), 5)
    if rng.random() < 0.7:
        c.px([(jy, jx + 1), (jy - 1, jx + 2), (jy, jx + 2), (jy - 1, jx + 3)], 5)
    c.px([(int(yl) - 1, 4), (int(yr) - 1, 9)], 4)


def _banana(c: Canvas, rng: np.random.Generator, brown, green):
    main = (rng.uniform(0.12, 0.16), rng.uniform(0.7, 0.9), rng.uniform(0.88, 1.0))
    c.palette(main, [_light(main), brown, hsv(0.25, 0.6, 0.7)])
    R = rng.uniform(6.5, 8.0)
    cy = 13.0 - R
    arc = ellipse(cy, 7.5, R, R) & ~ellipse(cy - rng.uniform(1.8, 2.6), 7.5, R, R) & (YY >= 4)
    c.put(arc & rect(0, 2, 15, 13), 2)
    c.outline_and_shade()
    ys, xs = np.nonzero(c.m >= 2)
    c.px([(ys[np.argmin(xs)], xs.min()), (ys[np.argmax(xs)], xs.max())], 5)  # brown tips


def _carrot(c: Canvas, rng: np.random.Generator, brown, green):
    main = (rng.uniform(0.05, 0.09), rng.uniform(0.8, 0.95), rng.uniform(0.85, 1.0))
    c.palette(main, [_light(main), green, brown])
    w = rng.uniform(2.6, 3.4)
    tip = rng.uniform(-1.0, 1.0)
    c.put(poly([(5.5, 7.5 - w), (5.5, 7.5 + w), (13.6, 7.5 + tip)]), 2)
    c.outline_and_shade()
    for y in (7, 9, 11):
        c.px([(y, 6 + (y % 4 == 1))], 3)
    fronds = int(rng.integers(2, 4))
    c.px([(4, 7), (3, 7), (2, 6), (4, 8), (3, 9), (2, 9), (1, 10), (3, 6)][: 3 + fronds], 5)


def _mushroom(c: Canvas, rng: np.random.Generator, brown, green):
    main = pick(rng, [(0.0, 0.85, 0.85), (0.07, 0.7, 0.6), (0.78, 0.6, 0.7), (0.1, 0.7, 0.9), (0.55, 0.6, 0.8)])
    c.palette(main, [hsv(0.12, 0.25, 0.95), WHITE, _light(main)])
    ry, rx = rng.uniform(3.8, 5.0), rng.uniform(5.0, 6.2)
    cy = rng.uniform(8.0, 8.8)
    c.put(ellipse(cy, 7.5, ry, rx) & (YY <= int(cy)), 2)       # cap
    sw = int(rng.integers(1, 3))
    c.put(rect(int(cy) + 1, 8 - sw, 13, 7 + sw), 4)             # stalk
    c.outline_and_shade()
    top = c.top()
    spots = [(top + 2, 5), (top + 3, 9), (top + 1, 8), (int(cy) - 1, 4), (int(cy) - 1, 11), (top + 3, 6)]
    idx = rng.permutation(len(spots))[: int(rng.integers(3, 6))]
    c.px([spots[i] for i in idx], 5)
    if rng.random() < 0.5:
        c.px([(int(cy) + 2, 7 - sw + 1)], 1)


def _bread(c: Canvas, rng: np.random.Generator, brown, green):
    main = (rng.uniform(0.07, 0.1), rng.uniform(0.6, 0.8), rng.uniform(0.75, 0.9))
    c.palette(main, [_light(main), hsv(0.08, 0.75, 0.5), WHITE])
    shape = int(rng.integers(3))
    if shape == 0:    # loaf with scores
        c.put(ellipse(9.5, 7.5, 3.8, 6.0) & (YY <= 12), 2)
        c.outline_and_shade()
        for k in range(int(rng.integers(2, 4))):
            x = 5 + 2 * k + (k > 0)
            c.px([(7, x + 1), (8, x)], 4)
    elif shape == 1:  # slice of toast: crust (5) around the crumb (4)
        c.put(ellipse(6.0, 7.5, 2.8, 5.2) | rect(6, 3, 13, 12), 5)
        c.put(ellipse(6.3, 7.5, 1.8, 4.2) | rect(6, 4, 12, 11), 4)
        c.outline()
    else:             # baguette, diagonal
        c.put(poly([(11.5, 1.5), (13.5, 3.5), (4.5, 13.5), (2.5, 11.5)]), 2)
        c.outline_and_shade()
        c.px([(10, 5), (9, 5), (8, 8), (7, 8), (6, 11), (5, 11)], 4)


def _cake(c: Canvas, rng: np.random.Generator, brown, green):
    sponge = pick(rng, [(0.1, 0.45, 0.95), (0.06, 0.75, 0.45), (0.95, 0.35, 0.95)])
    icing = pick(rng, [(0.0, 0.0, 0.97), (0.93, 0.35, 0.98), (0.08, 0.7, 0.45), (0.55, 0.3, 0.95)])
    sponge = (sponge[0] + rng.uniform(-0.02, 0.02), sponge[1] * rng.uniform(0.85, 1.1),
              sponge[2] * rng.uniform(0.85, 1.0))
    c.palette(sponge, [col(rng, icing), col(rng, (0.0, 0.9, 0.85)), hsv(0.95, 0.3, 0.95)])
    if rng.random() < 0.5:  # layered cake with icing drips and a cherry
        top = int(rng.integers(6, 8))
        c.put(rect(top, 3, 13, 12), 2)
        c.put(rect(top, 3, top + 1, 12), 4)
        c.px([(top + 2, 4), (top + 2, 7), (top + 3, 7), (top + 2, 10)], 4)
        c.px([(top - 1, 7), (top - 1, 8), (top - 2, 7), (top - 2, 8)], 5)
        c.outline_and_shade()
        c.put(rect(top + 4, 4, top + 4, 11) & (c.m == 2), 6)  # cream layer
    else:  # cupcake
        c.put(poly([(9.5, 3.5), (9.5, 11.5), (13.5, 10.5), (13.5, 4.5)]), 2)
        c.put(ellipse(8.0, 7.5, 2.8, 4.8) & (YY <= 9), 4)
        c.px([(5, 7), (5, 8), (4, 7)], 4)
        c.outline_and_shade()
        c.px([(11, 5), (11, 7), (11, 9), (12, 6), (12, 8)], 3)
        c.px([(3, 8), (3, 7)] if rng.random() < 0.6 else [], 5)


def _drumstick(c: Canvas, rng: np.random.Generator, brown, green):
    main = (rng.uniform(0.05, 0.09), rng.uniform(0.65, 0.85), rng.uniform(0.55, 0.8))
    c.palette(main, [_light(main), WHITE, hsv(0.1, 0.1, 0.8)])
    c.put(ellipse(6.5, 6.5, 4.2, 3.8), 2)
    c.put(line(9, 9, 12, 12) | line(10, 9, 12, 11), 5)  # bone
    c.px([(13, 12), (12, 13), (13, 13)], 5)
    c.outline_and_shade()
    c.px([(4, 5), (5, 4)], 4)
    if rng.random() < 0.5:
        c.flip_lr()


def _egg(c: Canvas, rng: np.random.Generator, brown, green):
    yolk = (rng.uniform(0.1, 0.14), rng.uniform(0.8, 0.95), rng.uniform(0.9, 1.0))
    c.palette((0.1, rng.uniform(0.02, 0.1), rng.uniform(0.92, 1.0)),
              [hsv(*yolk), hsv(0.07, 0.9, 0.9), hsv(0.0, 0.0, 1.0)])
    egg_white = ellipse(8.0, 7.5, 4.8, 5.6)
    for _ in range(3):  # a wobbly edge
        egg_white |= ellipse(rng.uniform(5, 11), rng.uniform(4, 11), rng.uniform(1.5, 2.5), rng.uniform(1.5, 2.5))
    c.put(egg_white & rect(2, 2, 13, 13), 2)
    c.outline_and_shade()
    yy, yx = rng.uniform(7, 9), rng.uniform(6.5, 8.5)
    c.put(ellipse(yy, yx, 2.1, 2.1), 4)
    c.px([(int(yy) - 1, int(yx) - 1)], 6)


def _watermelon(c: Canvas, rng: np.random.Generator, brown, green):
    c.palette((rng.uniform(0.96, 1.0), rng.uniform(0.6, 0.85), rng.uniform(0.85, 1.0)),
              [col(rng, (0.3, 0.8, 0.55)), col(rng, (0.25, 0.3, 0.9)), hsv(0.0, 0.0, 0.1)])
    base = rng.uniform(4.5, 6.5)
    c.put(ellipse(base, 7.5, 8.0, 6.2) & (YY >= base), 4)  # rind
    c.put(ellipse(base, 7.5, 6.8, 5.0) & (YY >= base), 5)  # pale band
    c.put(ellipse(base, 7.5, 5.8, 4.2) & (YY >= base), 2)  # flesh
    c.outline()
    b = int(np.ceil(base))
    c.px([(b + 1, 5), (b + 1, 10), (b + 3, 7), (b + 2, 8)][: int(rng.integers(2, 5))], 6)  # seeds


def _grapes(c: Canvas, rng: np.random.Generator, brown, green):
    main = pick(rng, [(0.78, 0.65, 0.6), (0.25, 0.6, 0.75), (0.9, 0.6, 0.6)])
    c.palette(main, [_light(main), brown, green])
    for (y, x) in [(5.5, 5.5), (5.5, 9.5), (8.5, 4.0), (8.5, 7.5), (8.5, 11.0), (11.5, 5.8), (11.5, 9.2)]:
        c.put(ellipse(y + rng.uniform(-0.3, 0.3), x, 1.7, 1.7), 2)
    c.outline_and_shade()
    c.px([(3, 7), (2, 8)], 5)
    if rng.random() < 0.7:
        c.px([(2, 9), (2, 10), (3, 10)], 6)
    c.px([(5, 5), (8, 7), (11, 5)], 4)


def _cheese(c: Canvas, rng: np.random.Generator, brown, green):
    """A cheese wedge with a rind and holes."""
    main = (rng.uniform(0.12, 0.15), rng.uniform(0.6, 0.85), rng.uniform(0.9, 1.0))
    c.palette(main, [_light(main), hsv(0.11, 0.9, 0.75), WHITE])
    c.put(poly([(12.5, 1.5), (12.5, 13.5), (rng.uniform(3.5, 5.5), 13.5)]), 2)
    c.put(rect(12, 2, 12, 13) & (c.m == 2), 5)
    c.outline_and_shade()
    c.px([(11, 6), (10, 10), (9, 11), (11, 11)][: int(rng.integers(2, 5))], 5)


KINDS = {"apple": _apple, "cherries": _cherries, "banana": _banana, "carrot": _carrot, "mushroom": _mushroom,
         "bread": _bread, "cake": _cake, "pear": _pear, "drumstick": _drumstick, "egg": _egg,
         "watermelon": _watermelon, "grapes": _grapes, "cheese": _cheese}  # the order is part of the random stream


def food(rng: np.random.Generator) -> Canvas:
    c = Canvas()
    kind = pick(rng, tuple(KINDS))
    brown = col(rng, (0.08, 0.7, 0.4))
    green = col(rng, (rng.uniform(0.25, 0.36), 0.75, 0.65))
    KINDS[kind](c, rng, brown, green)
    return c
