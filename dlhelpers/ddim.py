"""DDIM: a different sampler for the same trained ε-model, in far fewer steps.

Reference: Song, Meng & Ermon, "Denoising Diffusion Implicit Models", 2021, arXiv:2010.02502.
- Eq. (12): x_{t−1} = √ᾱ_{t−1} · x̂₀ + √(1 − ᾱ_{t−1} − σ_t²) · ε_θ(x_t) + σ_t z,
  with x̂₀ = (x_t − √(1 − ᾱ_t) · ε_θ(x_t)) / √ᾱ_t ("predicted x₀").
- Eq. (16): σ_t(η) = η · √((1 − ᾱ_{t−1}) / (1 − ᾱ_t)) · √(1 − ᾱ_t / ᾱ_{t−1}).
  η = 0 is deterministic; η = 1 gives DDPM's posterior variance β̃_t when t_prev = t − 1.
- Section 4.2: any increasing subsequence τ of 1…T works; "t−1" becomes the previous element of τ.

Key: t = τ_i, t_prev = τ_{i−1}, alpha_bar_t = ᾱ_t, alpha_bar_prev = ᾱ_{t_prev}, eps_pred = ε_θ(x_t), eta = η.
"""
from __future__ import annotations

import torch

from .sampling import Sampler, SampleResult, draw_noise
from .schedules import x0_from_eps, extract
from .validation import check_generator, check_int_timesteps, check_positive_int, check_real, check_step_tensors


def ddim_timesteps(T: int, n: int) -> list[int]:
    """``n + 1`` strictly descending ints from T to 0, as evenly spaced as integers allow, for every n in 1…T.

    t_i = ⌊i · T / n⌋ for i = n…0: exact integer arithmetic, gaps of ⌊T/n⌋ or ⌈T/n⌉, never a repeat — unlike
    ``range(T, 0, -(T // n))``, which gives the wrong number of steps whenever n does not divide T.
    """
    T = check_positive_int(T, "T")
    n = check_positive_int(n, "n", low=1, high=T)
    return [i * T // n for i in range(n, -1, -1)]


def ddim_step(x_t: torch.Tensor, t, t_prev, eps_pred: torch.Tensor, schedule, eta: float = 0.0,
              z: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """One DDIM step x_t → x_{t_prev}, eq. (12). ``t``, ``t_prev``: ints (0 ≤ t_prev < t ≤ T) or (B,) tensors."""
    check_step_tensors(x_t, eps_pred, z)
    check_generator(generator)
    eta = check_real(eta, "eta", low=0.0, high=1.0)
    B, T = x_t.shape[0], schedule.timesteps
    t = check_int_timesteps(t, T, B, "t", x_t.device)
    t_prev = check_int_timesteps(t_prev, T, B, "t_prev", x_t.device)
    if not bool(torch.all(torch.as_tensor(t_prev) < torch.as_tensor(t))):
        raise ValueError("t_prev must be smaller than t (the sampler walks from T down to 0)")
    schedule = schedule.to(x_t.device)
    return _ddim_update(x_t, t, t_prev, eps_pred.to(x_t.dtype), schedule, eta, z, generator)


def _ddim_update(x_t, t, t_prev, eps_pred, schedule, eta, z, generator, x0_pred=None):
    alpha_bar_t = extract(schedule.alpha_bar, t, x_t.shape)
    alpha_bar_prev = extract(schedule.alpha_bar, t_prev, x_t.shape)
    # 1. predicted x₀, eq. (12) first term (the sampling loop hands it over, read through the prediction table)
    if x0_pred is None:
        x0_pred = x0_from_eps(x_t, alpha_bar_t, eps_pred)
    # 2. σ_t(η), eq. (16)
    sigma = eta * ((1 - alpha_bar_prev) / (1 - alpha_bar_t)).sqrt() * (1 - alpha_bar_t / alpha_bar_prev).sqrt()
    # 3. "direction pointing to x_t", eq. (12) second term; clamp guards rounding below zero
    dir_xt = (1 - alpha_bar_prev - sigma ** 2).clamp(min=0).sqrt() * eps_pred
    x_prev = alpha_bar_prev.sqrt() * x0_pred + dir_xt
    # 4. random noise σ_t z, eq. (12) third term (σ = 0 when η = 0 or t_prev = 0)
    if eta > 0:
        z = draw_noise(x_t, generator) if z is None else z
        x_prev = x_prev + sigma * z
    return x_prev


def ddim_grid(schedule, steps: int) -> list[int]:
    """``ddim_timesteps(T, steps)``, ``steps`` in 1…T."""
    return ddim_timesteps(schedule.timesteps, check_positive_int(steps, "steps", low=1, high=schedule.timesteps))


def make_ddim_step(schedule, grid, eta: float = 0.0):
    """Eq. (12) from the loop's (x̂₀, ε̂), grid[i] → grid[i + 1]."""
    def step(x, i, x0, eps, denoise, generator):
        return _ddim_update(x, grid[i], grid[i + 1], eps, schedule, eta, None, generator, x0_pred=x0)
    return step


DDIM = Sampler("ddim", "ddpm", ddim_grid, make_ddim_step, options=("steps", "eta"), default_steps=25,
               label="DDIM-{steps}")


def sample_ddim(model, n_samples: int, schedule, steps: int = 25, eta: float = 0.0, **options) -> SampleResult:
    """DDIM over ``ddim_timesteps(T, steps)``; any ``steps`` in 1…T and any η in [0, 1]; the other options
    (``context``, ``generator``, ``x_T``, ``guidance_scale``, ``save_every`` = 1, …) are ``Sampler.run``'s."""
    return DDIM.run(model, n_samples, schedule, arg="schedule", steps=steps, eta=eta, **options)
