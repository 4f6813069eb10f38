"""Class 0, ``hero``: a front-facing humanoid, drawn as its left half and mirrored, then given one-sided extras.

Parts, in drawing (and random-draw) order: cape, head with one of six hair styles or a helmet, tunic body with
arms, an optional belt, legs (two stances or a robe), boots; then, after mirroring, a sword, staff or shield
on one side, the outline and rim shading, and the face. Slots: 2 tunic, 3 its shade, 4 skin, 5 hair, 6 accent.
"""
from __future__ import annotations

import numpy as np

from dlhelpers.sprites.painters.common import HAIR, METAL, SKIN, Canvas, col, hsv, pick, poly, random_main, rect

SK, HR, AC = 4, 5, 6  # skin, hair, accent (metal or cape colour)


def _hair(c: Canvas, style: int, y0: int, hx0: int):
    """One of six hair styles on the left half of a head whose top-left corner is (y0, hx0)."""
    if style == 0:    # short
        c.put(rect(y0, hx0, y0, 7), HR)
        c.px([(y0 + 1, hx0)], HR)
    elif style == 1:  # long
        c.put(rect(y0, hx0, y0, 7), HR)
        c.put(rect(y0, hx0 - 1, y0 + 4, hx0 - 1) | rect(y0 + 1, hx0, y0 + 2, hx0), HR)
    elif style == 2:  # spiky
        c.put(rect(y0, hx0, y0, 7), HR)
        c.px([(y0 - 1, hx0), (y0 - 1, hx0 + 2), (y0 + 1, hx0)], HR)
    elif style == 3:  # hood in the tunic colour
        c.put(rect(y0 - 1, hx0, y0, 7) | rect(y0, hx0 - 1, y0 + 4, hx0 - 1) | rect(y0 + 1, hx0, y0 + 3, hx0), 2)
    elif style == 4:  # bowl cut with fringe
        c.put(rect(y0, hx0, y0 + 1, 7), HR)
        c.px([(y0 + 2, hx0)], HR)
    else:             # bun / top knot
        c.put(rect(y0, hx0, y0, 7), HR)
        c.px([(y0 - 1, 7)], HR)
        c.px([(y0 + 1, hx0)], HR)


def _helmet(c: Canvas, rng: np.random.Generator, y0: int, hx0: int):
    """A helmet with cheek guards, maybe with a horn or a crest."""
    c.put(rect(y0, hx0, y0 + 1, 7), AC)
    c.put(rect(y0 + 2, hx0, y0 + 3, hx0), AC)
    if rng.random() < 0.5:
        c.px([(y0 - 1, hx0), (y0 - 2, hx0 - 1)] if rng.random() < 0.5 else [(y0 - 1, 7)], AC)


def _body(c: Canvas, rng: np.random.Generator, by: int, bx0: int, bw: int):
    """Tunic, arm with a hand, optional belt, legs or robe, boots (left half; body top at row ``by``)."""
    c.put(rect(by, bx0, by + 3, 7), 2)
    arm_x = bx0 - 1
    c.put(rect(by, arm_x, by + 2, arm_x), 2)
    c.px([(by + 3, arm_x)], SK)
    if rng.random() < 0.5:  # belt
        c.put(rect(by + 2, bx0, by + 2, 7), pick(rng, (HR, AC, 1)))
    wide = int(bw == 6)
    legs = int(rng.integers(3))
    if legs == 0:
        c.put(rect(by + 4, bx0, by + 5, bx0 + 1), 3)
    elif legs == 1:
        c.put(rect(by + 4, bx0 + wide, by + 5, bx0 + 1 + wide), 3)
    else:  # robe down to the feet
        c.put(rect(by + 4, bx0, by + 5, 7), 2)
    c.put(rect(by + 6, bx0, by + 6, bx0 + 1 + wide), pick(rng, (HR, 1, AC)))


def _held_item(c: Canvas, rng: np.random.Generator, by: int, arm_x: int):
    """Nothing, a raised sword, a staff with a gem (right hand) or a shield (left arm)."""
    weapon = int(rng.integers(4))
    side = 15 - arm_x  # the right-hand arm column
    if weapon == 1:    # sword held up
        c.put(rect(by - 4, side + 1, by + 1, side + 1), AC)
        c.px([(by + 2, side), (by + 2, side + 1), (by + 2, side + 2)], HR)
    elif weapon == 2:  # staff with a gem
        c.put(rect(by - 2, side + 1, by + 6, side + 1), HR)
        c.px([(by - 3, side + 1)], AC)
    elif weapon == 3:  # shield on the other arm
        sx = arm_x - 2
        c.put(rect(by + 1, sx, by + 4, sx + 2), AC)
        c.px([(by + 2, sx + 1)], HR)


def hero(rng: np.random.Generator) -> Canvas:
    c = Canvas()
    tunic = random_main(rng)
    skin, hair = col(rng, pick(rng, SKIN)), col(rng, pick(rng, HAIR))
    helmet = rng.random() < 0.3
    cape = rng.random() < 0.3
    accent = col(rng, pick(rng, METAL)) if (helmet or not cape) else hsv(rng.random(), 0.75, 0.75)
    c.palette(tunic, [skin, hair, accent])
    y0 = int(rng.integers(2, 4)) if not helmet else 3   # top row of the head
    hw = int(pick(rng, (4, 6, 6)))                      # head width
    hx0 = 8 - hw // 2
    bw = int(pick(rng, (4, 4, 6))) if hw == 6 else 4    # body width
    bx0 = 8 - bw // 2
    if cape:  # behind the body
        c.put(poly([(y0 + 4, bx0 - 1.5), (y0 + 4, 7.5), (y0 + 10.4, 7.5), (y0 + 10.4, bx0 - 2.6)]), AC)
    c.put(rect(y0, hx0, y0 + 3, 7), SK)
    style = int(rng.integers(6))  # drawn even under a helmet (keeps the random stream of the committed set)
    if helmet:
        _helmet(c, rng, y0, hx0)
    else:
        _hair(c, style, y0, hx0)
    by = y0 + 4
    _body(c, rng, by, bx0, bw)
    c.symmetrize()
    _held_item(c, rng, by, arm_x=bx0 - 1)
    c.outline_and_shade()
    # face: eyes, a visor slit under a helmet, maybe a mouth
    c.px([(y0 + 2, hx0 + 1), (y0 + 2, 14 - hx0)], 1)
    if helmet and rng.random() < 0.5:
        c.put(rect(y0 + 2, hx0 + 1, y0 + 2, 14 - hx0) & (c.m == SK), 1)
    if rng.random() < 0.3 and hw == 6:
        c.px([(y0 + 3, 7), (y0 + 3, 8)], 3)
    return c
