"""dlhelpers — the library behind the course "How Diffusion Models Work" (runs on a laptop CPU).

The diffusion core, one concept per module: path (what a path is: the ``GaussianPath`` protocol and the predictions
each path allows), schedules (DDPM's path: β, ᾱ, forward noising), flow (flow matching's straight path, its Euler
and Heun steps), predictions (what a network predicts: target, the way back to (x̂₀, ε̂), loss weight), spec (the
run spec: path and prediction), unet (ContextUnet), sampling (the one reverse loop, guidance, the ``Sampler``
record), ddpm, ddim and dpm_solver (their grids and steps), samplers (the registry), training (the loss and the
trainer), recipes (the named training runs), ema, precision (the bf16 / channels-last fast path), devices, io,
validation, pretrained (shipped weights).

Folders by audience: sprites/ (our data set), evaluation/ (the classifier, accuracy and Fréchet distance),
notebook/ (what the notebooks import: pictures, widgets, exercise checks), tools/ (``python -m dlhelpers``: the CLI,
instructors' and maintainers' tools, the benchmark).
"""
__version__ = "0.1.0"

from .schedules import NoiseSchedule  # noqa: F401 - re-exported: `from dlhelpers import NoiseSchedule`
