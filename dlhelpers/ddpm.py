"""DDPM sampling: the reverse step and the full 500-step sampler.

Reference: Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", 2020, arXiv:2006.11239.
- Eq. (11): μ_θ(x_t, t) = 1/√α_t · (x_t − β_t/√(1 − ᾱ_t) · ε_θ(x_t, t)).
- Algorithm 2: x_{t−1} = μ_θ(x_t, t) + σ_t z, with σ_t² = β_t and z ~ N(0, I) if t > 1, else z = 0.

Key: x_t = x_t, eps_pred = ε_θ(x_t, t), schedule.beta = β, schedule.alpha = α, schedule.alpha_bar = ᾱ, z = z.
"""
from __future__ import annotations

import torch

from .sampling import Sampler, SampleResult, draw_noise
from .schedules import extract
from .validation import check_generator, check_int_timesteps, check_step_tensors


def ddpm_step(x_t: torch.Tensor, t, eps_pred: torch.Tensor, schedule, z: torch.Tensor | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """One reverse step x_t → x_{t−1}. ``t`` is an int in 1…T or a (B,) integer tensor.

    No noise is added where t = 1 (the last step lands on the clean image), whatever ``z`` says.
    """
    check_step_tensors(x_t, eps_pred, z)
    check_generator(generator)
    t = check_int_timesteps(t, schedule.timesteps, x_t.shape[0], "t", x_t.device)
    if isinstance(t, int) and t < 1 or isinstance(t, torch.Tensor) and bool((t < 1).any()):
        raise ValueError("t must be in 1…T for a reverse step (t = 0 is already the clean image)")
    schedule = schedule.to(x_t.device)
    return _ddpm_update(x_t, t, eps_pred.to(x_t.dtype), schedule, z, generator)


def _ddpm_update(x_t, t, eps_pred, schedule, z, generator, extra_noise=True):
    beta_t = extract(schedule.beta, t, x_t.shape)
    alpha_t = extract(schedule.alpha, t, x_t.shape)
    alpha_bar_t = extract(schedule.alpha_bar, t, x_t.shape)
    # 1. posterior mean μ_θ, eq. (11)
    mean = (x_t - eps_pred * (1 - alpha_t) / (1 - alpha_bar_t).sqrt()) / alpha_t.sqrt()
    # 2. Algorithm 2: σ_t z with σ_t = √β_t, and z = 0 on the last step (t = 1)
    if not extra_noise:
        return mean
    if isinstance(t, int):
        if t == 1:
            return mean
        z = draw_noise(x_t, generator) if z is None else z
        return mean + beta_t.sqrt() * z
    z = draw_noise(x_t, generator) if z is None else z
    keep = (t > 1).to(x_t.dtype).reshape(-1, *([1] * (x_t.ndim - 1)))
    return mean + keep * beta_t.sqrt() * z


def ddpm_grid(schedule, steps=None) -> list[int]:
    """Every step, T, T − 1, …, 0 (DDPM takes no ``steps``)."""
    return list(range(schedule.timesteps, -1, -1))


def make_ddpm_step(schedule, grid, extra_noise: bool = True):
    """Algorithm 2's step on the loop's ε̂ (x̂₀ unused); ``extra_noise=False`` drops σ_t z."""
    def step(x, i, x0, eps, denoise, generator):
        return _ddpm_update(x, grid[i], eps, schedule, None, generator, extra_noise)
    return step


DDPM = Sampler("ddpm", "ddpm", ddpm_grid, make_ddpm_step, options=("extra_noise",),
               calls=lambda steps, T=500: T, save_every=20, label="DDPM")


def sample_ddpm(model, n_samples: int, schedule, context=None, extra_noise: bool = True, **options) -> SampleResult:
    """Algorithm 2 over all T steps. ``extra_noise=False`` drops σ_t z (the "without extra noise" demo, which
    collapses to blurry averages); ``context`` (N, n_cfeat) or (n_cfeat,) or None for the null context; the other
    options (``generator``, ``x_T``, ``guidance_scale``, ``save_every`` = 20, …) are ``Sampler.run``'s."""
    return DDPM.run(model, n_samples, schedule, arg="schedule", context=context, extra_noise=extra_noise, **options)
