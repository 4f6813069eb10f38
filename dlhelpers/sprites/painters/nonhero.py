"""Class 1, ``non-hero``: monsters and creatures, one painter per kind (``KINDS``), mostly mirror-symmetric.

Every kind draws its left half, mirrors it, adds outline and rim shading, then the face (eyes, dark or glowing;
mouth, teeth, fangs). Slots: 2 body, 3 its shade, 4 a light tint of the body, 5 eye glow, 6 horns/teeth.
"""
from __future__ import annotations

import numpy as np

from dlhelpers.sprites.painters.common import YY, Canvas, col, ellipse, hsv, pick, poly, random_main, rect

LT, EYE, HORN = 4, 5, 6  # light tint, eye glow, horns/teeth
_HORN_COLOURS = [(0.12, 0.25, 0.95), (0.1, 0.5, 0.6), (0.0, 0.0, 0.35), (0.75, 0.4, 0.8)]


def _palette(c: Canvas, rng: np.random.Generator, kind: str):
    if kind == "ghost":    # pale
        main = (rng.uniform(0.45, 0.8), rng.uniform(0.0, 0.25), rng.uniform(0.88, 0.98))
    elif kind == "skull":  # bone
        main = (rng.uniform(0.1, 0.16), rng.uniform(0.05, 0.3), rng.uniform(0.85, 0.97))
    else:
        main = random_main(rng)
    eye = hsv(pick(rng, (0.0, 0.15, 0.33, 0.55, 0.8)), 0.9, 0.95)
    horn = col(rng, pick(rng, _HORN_COLOURS))
    c.palette(main, [hsv(main[0] + 0.05, main[1] * 0.5, min(1.0, main[2] + 0.3)), eye, horn])


def _eyes(c: Canvas, rng: np.random.Generator, y: int, xs, tall: bool, glow):
    """One eye per column in ``xs`` at row ``y`` (two pixels high if ``tall``): dark, or glowing (slot ``glow``)
    on top when ``glow`` is not None, each with probability 1/2."""
    for x in xs:
        if rng.random() < 0.5 or glow is None:  # the draw comes first: one per eye whatever ``glow`` is
            c.px([(y, x)] + ([(y + 1, x)] if tall else []), 1)
        else:
            c.px([(y, x)], glow)
            c.px([(y + 1, x)] if tall else [], 1)


def _slime(c: Canvas, rng: np.random.Generator):
    ry, rx = rng.uniform(3.6, 5.6), rng.uniform(4.6, 6.0)
    c.put(ellipse(13.4 - ry + 0.6 * ry, 7.5, ry, rx) & (YY <= 13), 2)
    top = c.top()
    if rng.random() < 0.5:  # a drip on top
        c.px([(top - 1, 7), (top - 1, 8), (top - 2, 8)] if rng.random() < 0.5 else [(top - 1, 7)], 2)
    if rng.random() < 0.35:  # horns
        c.px([(top, 4), (top - 1, 4)], HORN)
    c.symmetrize()
    c.outline_and_shade()
    ey = min(12, top + 3)
    _eyes(c, rng, ey, (6, 9) if rng.random() < 0.6 else (5, 10), True, None)
    if rng.random() < 0.6:
        c.px([(ey + 2, 7), (ey + 2, 8)], 3)
    c.px([(top + 1, 4), (top + 1, 5), (top + 2, 4)] if rx > 5 else [(top + 1, 5)], LT)


def _ghost(c: Canvas, rng: np.random.Generator):
    cy = rng.uniform(6.5, 7.5)
    c.put(ellipse(cy, 7.5, rng.uniform(3.5, 4.5), rng.uniform(3.8, 4.6)) | rect(int(cy), 4, 12, 11), 2)
    wave = int(rng.integers(2))
    c.px([(13, x) for x in range(4 + wave, 12, 2)], 2)
    if rng.random() < 0.5:
        c.px([(9, 3), (9, 2)], 2)  # little arm
    c.symmetrize()
    c.outline_and_shade()
    _eyes(c, rng, 6, (6, 9), True, EYE if rng.random() < 0.3 else None)
    c.px([(9, 7), (9, 8), (10, 7), (10, 8)] if rng.random() < 0.5 else [(9, 7), (9, 8)], 1)


def _bat(c: Canvas, rng: np.random.Generator):
    c.put(ellipse(8.5, 7.5, rng.uniform(2.4, 3.2), 2.0), 2)
    c.px([(5, 6), (4, 6)], 2)  # ear (mirrored)
    tip = int(rng.integers(3, 6))
    c.put(poly([(7, 6.5), (tip - 0.5, 1.4), (9.6, 1.4), (9.6, 6.5)]), 2)
    c.px([(10, 2), (10, 4)], 2)
    c.px([(10, 3), (10, 5)], 0)
    c.symmetrize()
    c.outline_and_shade()
    c.px([(7, 6), (7, 9)], EYE)
    c.px([(9, 6), (9, 9)] if rng.random() < 0.6 else [], HORN)  # fangs


def _skull(c: Canvas, rng: np.random.Generator):
    c.put(ellipse(7.2, 7.5, rng.uniform(4.0, 4.8), rng.uniform(4.2, 5.0)) & (YY <= 10), 2)
    c.put(rect(11, 5, 12, 7), 2)
    if rng.random() < 0.35:
        c.px([(4, 3), (3, 2), (2, 2)], HORN)
    c.symmetrize()
    c.outline_and_shade()
    glow = rng.random() < 0.4
    for x0 in (5, 9):
        c.put(rect(7, x0, 8, x0 + 1), 1)
        if glow:
            c.px([(7, x0 + (x0 == 5))], EYE)
    c.px([(10, 7), (10, 8)] if rng.random() < 0.5 else [(9, 7), (9, 8)], 1)  # nose
    c.px([(12, 6), (12, 8)], 1)
    if rng.random() < 0.5:
        c.px([(11, 6), (11, 9)], 1)


def _beast(c: Canvas, rng: np.random.Generator):
    ry, rx = rng.uniform(3.6, 4.8), rng.uniform(4.2, 5.6)
    cy = 12.6 - ry
    c.put(ellipse(cy, 7.5, ry, rx), 2)
    c.px([(12, 5), (13, 5), (13, 4)], 2)  # feet
    top = c.top()
    horns = int(rng.integers(3))
    if horns == 1:
        c.px([(top, 4), (top - 1, 4), (top - 2, 3)], HORN)
    elif horns == 2:
        c.px([(top, 5), (top - 1, 5), (top, 4)], 2)  # pointy ears
    if rng.random() < 0.4:  # small wings
        c.px([(int(cy) - 1, 2), (int(cy), 1), (int(cy), 2), (int(cy) + 1, 2)], LT)
    c.symmetrize()
    c.outline_and_shade()
    ey = int(round(cy)) - 1
    _eyes(c, rng, ey, (6, 9) if rx < 5 else (5, 10), False, EYE)
    c.px([(ey - 1, 5), (ey - 1, 10)] if rng.random() < 0.5 else [], 1)  # angry brows
    my = ey + 2
    c.put(rect(my, 5, my, 10), 1)
    c.px([(my, 6), (my, 9)] if rng.random() < 0.5 else [(my, 5), (my, 7), (my, 8), (my, 10)], HORN)


def _eyeball(c: Canvas, rng: np.random.Generator):
    r = rng.uniform(4.2, 5.0)
    c.put(ellipse(7.0, 7.5, r, r), 2)
    for k in range(int(rng.integers(2, 4))):  # tentacles
        x = 3 + 2 * k
        c.px([(11, x), (12, x), (13, x + (k % 2))], 2)
    c.symmetrize()
    c.outline_and_shade()
    c.put(ellipse(7.0, 7.5, 2.6, 2.6), HORN)
    c.put(ellipse(7.0, 7.5, 1.5, 1.5), EYE)
    c.px([(7, 7), (7, 8)] if rng.random() < 0.5 else [(6, 7), (7, 7), (6, 8), (7, 8)], 1)  # pupil
    c.px([(5, 6)], HORN)  # highlight


def _bug(c: Canvas, rng: np.random.Generator):
    """A bug or spider: body, head, two or three legs per side, maybe antennae and a stripe."""
    r = rng.uniform(2.8, 3.6)
    c.put(ellipse(8.5, 7.5, r + 0.4, r), 2)
    c.put(ellipse(4.8, 7.5, 1.6, 2.0), 2)
    for k, dy in enumerate((-1, 0, 1)[: int(rng.integers(2, 4))]):
        y = 7 + 2 * k
        c.px([(y, 3), (y + dy, 2), (y + dy + 1, 1)], 1)
    if rng.random() < 0.5:
        c.px([(3, 6), (2, 5)], 1)  # antenna
    c.symmetrize()
    c.outline_and_shade()
    c.px([(5, 6), (5, 9)], EYE)
    if rng.random() < 0.5:
        c.put(rect(8, 7, 11, 8), LT)


KINDS = {"slime": _slime, "ghost": _ghost, "bat": _bat, "skull": _skull, "beast": _beast, "eyeball": _eyeball,
         "bug": _bug}  # the order is part of the random stream


def nonhero(rng: np.random.Generator) -> Canvas:
    c = Canvas()
    kind = pick(rng, tuple(KINDS))
    _palette(c, rng, kind)
    KINDS[kind](c, rng)
    return c
