"""The course's own sprite set (CC0): generator, painters per class, the dataset and its file.

Public API, imported by the notebooks and the rest of the package: ``CLASS_NAMES``, ``SpriteDataset``,
``load_sprites``, ``images_to_tensor``, ``default_split``; ``build_dataset_file`` regenerates
``data/sprites_16x16.npz`` bit for bit (``python -m dlhelpers data``). See ``dataset`` for how it is made.
"""
from dlhelpers.sprites.dataset import (CLASS_NAMES, DEFAULT_GALLERY, DEFAULT_N, DEFAULT_PATH, DEFAULT_SEED,  # noqa: F401
                                       GENERATOR_VERSION, NUM_CLASSES, REGENERATE_COMMAND, VARIATIONS_PER_BASE,
                                       SpriteDataset, _generate, base_designs_per_class, build_dataset_file,
                                       default_split, generate_sprites, images_to_tensor, load_metadata, load_sprites,
                                       save_gallery, train_test_split, write_sprites_file)
