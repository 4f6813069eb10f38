"""The five per-class sprite painters behind ``dlhelpers.sprites``, and the kit they share (``common``).

Each painter takes a ``numpy.random.Generator`` and returns a ``common.Canvas``: a 16×16 map of palette slots
(0 background, 1 outline, 2 main colour, 3 its shade, 4..6 accents) and a 7-colour palette, drawn from random,
composable parts. ``DRAW[label]`` is the painter of class ``label`` (hero, non-hero, food, spell, side-facing:
the order of ``dlhelpers.sprites.CLASS_NAMES``). The painters' random draws, in order, define the committed
data set: a change to any of them changes ``data/sprites_16x16.npz``.
"""
from dlhelpers.sprites.painters.common import Canvas
from dlhelpers.sprites.painters.food import food
from dlhelpers.sprites.painters.hero import hero
from dlhelpers.sprites.painters.nonhero import nonhero
from dlhelpers.sprites.painters.side import side
from dlhelpers.sprites.painters.spell import spell

DRAW = (hero, nonhero, food, spell, side)  # indexed by the class label

__all__ = ["DRAW", "Canvas", "hero", "nonhero", "food", "spell", "side"]
