"""Evaluation: the sprite classifier (context accuracy) and the sprite Fréchet distance. Serves the benchmark and
notebooks 04–05; the diffusion core never imports it."""
