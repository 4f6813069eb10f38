"""Class 4, ``side-facing``: a character in profile, drawn facing right and flipped to face left half the time.

Parts, in drawing (and random-draw) order: a cape or backpack at the back, the head with a protruding nose,
hair at the back or a hat (wizard hat, helmet with visor, cap), the body, legs in one of three walking poses
(``STRIDES``) with boots, an arm swinging forward (maybe holding a spear) or back; then outline, rim shading,
one eye and maybe a mouth. Slots: 2 tunic, 3 its shade (also the legs), 4 skin, 5 hair, 6 accent.
"""
from __future__ import annotations

import numpy as np

from dlhelpers.sprites.painters.common import HAIR, METAL, SKIN, Canvas, col, hsv, pick, poly, random_main, rect

SK, HR, AC = 4, 5, 6  # skin, hair, accent

# Walking poses: (back leg, front leg) as (dy, dx) offsets from (first leg row, body column); the last two
# pixels of each leg are its boot.
STRIDES = (
    # wide stride
    (((0, 0), (0, 1), (1, -1), (1, 0), (2, -2), (2, -1)), ((0, 2), (0, 3), (1, 3), (1, 4), (2, 4), (2, 5))),
    # mid stride, one knee up
    (((0, 0), (0, 1), (1, 0), (1, 1), (2, -1), (2, 0)), ((0, 2), (0, 3), (0, 4), (1, 4), (1, 5))),
    # passing pose
    (((0, 1), (1, 1), (2, 0), (2, 1)), ((0, 2), (1, 3), (2, 3), (2, 4))),
)


def _head(c: Canvas, rng: np.random.Generator, hat: int, y0: int, hx: int):
    """Skin with a nose at column hx+5, then hair at the back and/or one of the hats."""
    c.put(rect(y0, hx, y0 + 4, hx + 4), SK)
    c.px([(y0 + 2, hx + 5)], SK)
    hs = int(rng.integers(4))  # hair style
    if hat == 0 or hat >= 3:
        c.put(rect(y0, hx, y0, hx + 4) | rect(y0, hx, y0 + 2 + hs % 2 * 2, hx + 1), HR)
        if hs == 2:
            c.put(rect(y0 + 1, hx - 1, y0 + 5, hx - 1), HR)  # pony tail / long hair
        if hs == 3:
            c.px([(y0 - 1, hx + 1), (y0 - 1, hx + 3)], HR)
    if hat == 1:    # pointy wizard hat leaning back
        c.put(poly([(y0 + 0.5, hx - 1.4), (y0 + 0.5, hx + 5.4), (y0 - 3.2, hx - 1.5)]), AC)
        c.put(rect(y0, hx, y0 + 2, hx + 1), HR)
    elif hat == 2:  # helmet with a visor
        c.put(rect(y0, hx, y0 + 1, hx + 4) | rect(y0, hx, y0 + 3, hx + 1), AC)
    elif hat == 3:  # cap with a brim to the front
        c.put(rect(y0, hx, y0, hx + 4), AC)
        c.px([(y0, hx + 5), (y0, hx + 6)], AC)


def _legs(c: Canvas, rng: np.random.Generator, ly: int, bx: int):
    """Both legs in a random walking pose, from row ``ly`` down; legs in the shade slot, boots in one colour."""
    back_leg, front_leg = ([(ly + dy, bx + dx) for dy, dx in leg] for leg in STRIDES[int(rng.integers(3))])
    boots = pick(rng, (1, HR, AC))
    c.px(back_leg[:-2], 3)
    c.px(back_leg[-2:], boots)
    c.px(front_leg[:-2], 3)
    c.px(front_leg[-2:], boots)


def _arm(c: Canvas, rng: np.random.Generator, by: int, bx: int):
    """An arm swinging forward (maybe holding a spear or staff) or back, with a hand."""
    if rng.random() < 0.5:
        c.px([(by + 1, bx + 4), (by + 2, bx + 5)], 2)
        c.px([(by + 3, bx + 5)], SK)
        if rng.random() < 0.4:
            c.put(rect(by - 3, bx + 6, by + 5, bx + 6), pick(rng, (HR, AC)))
    else:
        c.px([(by + 1, bx - 1), (by + 2, bx - 2)], 2)
        c.px([(by + 3, bx - 2)], SK)


def side(rng: np.random.Generator) -> Canvas:
    c = Canvas()
    tunic = random_main(rng)
    skin, hair = col(rng, pick(rng, SKIN)), col(rng, pick(rng, HAIR))
    accent = col(rng, pick(rng, METAL)) if rng.random() < 0.6 else hsv(rng.random(), 0.7, 0.6)
    c.palette(tunic, [skin, hair, accent])
    hx = int(rng.integers(6, 8))          # head columns hx..hx+4, facing right (+x)
    bx = hx + int(rng.integers(0, 2))     # body columns bx..bx+3
    hat = int(rng.integers(5))            # 0 or 4: none, 1 wizard hat, 2 helmet, 3 cap
    y0 = 3 if hat == 1 else 2             # the wizard hat pushes the head down a row
    by = y0 + 5                           # top row of the body
    back = int(rng.integers(3))           # back items first: nothing, a cape or a backpack
    if back == 1:
        c.put(poly([(by, bx + 0.5), (by, bx - 0.6), (by + 5.4, bx - 2.6), (by + 5.4, bx + 0.5)]), AC)
    elif back == 2:
        c.put(rect(by, bx - 2, by + 3, bx - 1), HR)
    _head(c, rng, hat, y0, hx)
    c.put(rect(by, bx, by + 3, bx + 3), 2)
    _legs(c, rng, by + 4, bx)
    _arm(c, rng, by, bx)
    c.outline_and_shade()
    c.px([(y0 + 2, hx + 3)], 1)  # one eye
    if rng.random() < 0.4:
        c.px([(y0 + 4, hx + 4)], 3)  # mouth
    if rng.random() < 0.5:  # face left instead of right
        c.flip_lr()
    return c
