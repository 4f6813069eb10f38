"""The course's own sprite set (CC0): how it is drawn, and the file the notebooks load.

* ``painters/``   one painter per class (``hero``, ``nonhero``, ``food``, ``spell``, ``side``) and the drawing
                  kit they share (``common``: grid, shape masks, colours, outline and rim shading);
* ``generator``   base designs and their vectorised variations: ``generate_sprites(n, seed)``;
* ``dataset``     the bit-for-bit reproducible ``data/sprites_16x16.npz`` (write, load and verify), the held-out
                  split and ``SpriteDataset``.

Public API, imported by the notebooks and the rest of the package: ``CLASS_NAMES``, ``SpriteDataset``,
``load_sprites``, ``images_to_tensor``, ``default_split``; ``build_dataset_file`` regenerates
``data/sprites_16x16.npz`` bit for bit (``python -m dlhelpers data``).
"""
from dlhelpers.sprites.dataset import (DEFAULT_GALLERY, DEFAULT_PATH, REGENERATE_COMMAND, SpriteDataset,
                                       build_dataset_file, default_split, images_to_tensor, load_metadata,
                                       load_sprites, save_gallery, train_test_split, write_sprites_file)
from dlhelpers.sprites.generator import (CLASS_NAMES, DEFAULT_N, DEFAULT_SEED, GENERATOR_VERSION, NUM_CLASSES,
                                         VARIATIONS_PER_BASE, base_designs_per_class, generate_sprites)
from dlhelpers.sprites.generator import _generate  # noqa: F401 - re-exported: the tests read the base designs

__all__ = ["CLASS_NAMES", "DEFAULT_GALLERY", "DEFAULT_N", "DEFAULT_PATH", "DEFAULT_SEED", "GENERATOR_VERSION",
           "NUM_CLASSES", "REGENERATE_COMMAND", "VARIATIONS_PER_BASE", "SpriteDataset", "base_designs_per_class",
           "build_dataset_file", "default_split", "generate_sprites", "images_to_tensor", "load_metadata",
           "load_sprites", "save_gallery", "train_test_split", "write_sprites_file"]
