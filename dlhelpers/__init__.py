"""dlhelpers — the library behind the course "How Diffusion Models Work" (runs on a laptop CPU).

Modules, one concept each: schedules (β, ᾱ, forward noising), unet (ContextUnet), ddpm, ddim and dpm_solver
(samplers), flow (flow matching: the straight path, Euler and Heun), spec (the run spec: path and prediction),
samplers (the registry), sampling (the shared reverse loop, guidance), training, precision (the bf16 /
channels-last fast path), sprites (our data set), metrics (classifier accuracy and Fréchet distance), pretrained
(shipped weights), checks (exercise feedback), viz and widgets (pictures), bench and cli (``python -m dlhelpers``).
"""
__version__ = "0.1.0"

from .schedules import NoiseSchedule  # noqa: F401 - re-exported: `from dlhelpers import NoiseSchedule`
