"""Helpers the notebooks call: exercise checks and fallbacks, pictures and animations, widgets. Serves students;
the diffusion core never imports it."""
