"""Evaluation: the sprite classifier (``classifier``) and the metrics built on it (``metrics``: context accuracy and
the sprite Fréchet distance of Heusel et al., arXiv:1706.08500). Serves the benchmark and notebooks 02, 04 and 05;
the diffusion core never imports it."""
