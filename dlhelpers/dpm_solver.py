"""DPM-Solver++(2M): a second-order solver of the same ODE that DDIM (η = 0) solves to first order.

Reference: Lu, Zhou, Bao, Chen, Li & Zhu, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
Models", 2022, arXiv:2211.01095 — Algorithm 2 (multistep, data prediction). With α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t),
λ_t = log(α_t / σ_t) and the data prediction x̂₀ (the same x̂₀ as DDIM's), one step s → t with h = λ_t − λ_s is

    x_t = (σ_t / σ_s) · x_s − α_t · (e^{−h} − 1) · D,
    first order:   D = x̂₀(s)                                   (exactly DDIM's η = 0 step)
    second order:  D = (1 + 1/(2r)) · x̂₀(s) − 1/(2r) · x̂₀(s′),  r = h_prev / h,

where s′ is the step before s: the previous model call is reused, so the order goes up at no extra network cost.
The first step is first order (no history yet), and so is the last one, into t = 0, where σ_0 = 0 and λ = ∞: it
returns D, as diffusers' ``DPMSolverMultistepScheduler`` does with ``lower_order_final``.

Key: alpha = α_t = √ᾱ_t, sigma = σ_t, lam = λ_t, x0 = x̂₀, h = h_i, r = r_i. Timesteps: ``ddim_timesteps``.
"""
from __future__ import annotations

import torch

from .ddim import ddim_grid
from .sampling import Sampler, SampleResult


def dpm_solver_coefficients(alpha_bar: torch.Tensor, timesteps: list[int]) -> list[tuple]:
    """Per step i (timesteps[i] → timesteps[i+1]): (σ_t/σ_s, α_t(e^{−h} − 1), 1/(2r) or None for first order).

    Computed once, in float64, from the schedule's ᾱ; the loop then only multiplies tensors."""
    ab = alpha_bar.detach().cpu().double()    # on the CPU first: MPS has no float64
    alpha, sigma = ab.sqrt(), (1 - ab).sqrt()
    lam = torch.log(alpha) - torch.log(sigma)          # λ_t; +inf at t = 0
    coeffs, h_prev = [], None
    for s, t in zip(timesteps[:-1], timesteps[1:]):
        last = t == 0
        h = lam[t] - lam[s]
        ratio = float(sigma[t] / sigma[s])
        scale = -1.0 if last else float(alpha[t] * torch.expm1(-h))   # α_0(e^{−∞} − 1) = −1
        half_inv_r = None if (h_prev is None or last) else float(h / (2 * h_prev))
        coeffs.append((ratio, scale, half_inv_r))
        h_prev = h
    return coeffs


def make_dpm_solver_step(schedule, grid):
    """Algorithm 2's step from the loop's x̂₀, its coefficients made once; the previous x̂₀ kept for order 2."""
    coeffs = dpm_solver_coefficients(schedule.alpha_bar, grid)
    history: dict = {}

    def step(x, i, x0, eps, denoise, generator):
        ratio, scale, half_inv_r = coeffs[i]
        d = x0 if half_inv_r is None else (1 + half_inv_r) * x0 - half_inv_r * history["x0"]   # (B, C, H, W)
        history["x0"] = x0
        return ratio * x - scale * d
    return step


DPM_SOLVER = Sampler("dpm-solver", "ddpm", ddim_grid, make_dpm_solver_step, options=("steps",), default_steps=20,
                     label="DPM-Solver++(2M)-{steps}")


def sample_dpm_solver(model, n_samples: int, schedule, steps: int = 20, **options) -> SampleResult:
    """DPM-Solver++(2M) over ``ddim_timesteps(T, steps)``: deterministic, one network call per step; the other
    options (``context``, ``generator``, ``x_T``, ``guidance_scale``, ``save_every`` = 1, …) are ``Sampler.run``'s."""
    return DPM_SOLVER.run(model, n_samples, schedule, arg="schedule", steps=steps, **options)
