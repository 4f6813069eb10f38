"""Flow matching: the same kind of network, trained so that the path from noise to data is a straight line.

References
- Lipman, Chen, Ben-Hamu, Nickel & Le, "Flow Matching for Generative Modeling", 2023, arXiv:2210.02747 —
  eq. (20)–(23) with σ_min = 0: the conditional path x_t = (1 − t)·x₀ + t·ε and its velocity u_t = ε − x₀;
  the loss (conditional flow matching, eq. 9) L = E_{t, x₀, ε} ‖u_θ(x_t, t) − (ε − x₀)‖², t ~ U[0, 1].
- Liu, Gong & Liu, "Flow Straight and Fast: ... Rectified Flow", 2023, arXiv:2209.03003 — the same straight path;
  sampling solves the ODE dx/dt = u_θ(x, t) from t = 1 (noise) to t = 0 (data).
- Euler: x_{t'} = x_t + (t' − t) · u_θ(x_t, t) (diffusers' ``FlowMatchEulerDiscreteScheduler.step`` with σ = t).
- Heun (Karras et al. 2022, arXiv:2206.00364, Algorithm 1): an Euler guess, then the average of the two slopes;
  the last step, into t = 0, stays Euler. ``steps`` steps cost 2·steps − 1 network calls.
- Classifier-free guidance on the velocity: ũ = u_∅ + w (u_c − u_∅) (Ho & Salimans 2022, eq. 6, on u, not ε).
- Esser et al., "Scaling Rectified Flow Transformers for High-Resolution Image Synthesis" (SD3), 2024,
  arXiv:2403.03206, §3.1 eq. (19): logit-normal timesteps, t = sigmoid(n) with n ~ N(0, 1), which train the middle
  of the path more often (``FlowPath(t_sampling="logit-normal")``; the student preset's, reports/student_trials.md).
- Lee, Lin & Fanti, "Improving the Training of Rectified Flows", 2024, arXiv:2405.20320, §4.1: a U-shaped
  distribution p(t) ∝ exp(a·t) + exp(a·(1 − t)), a = 4, which trains the ends of the path more often — where one
  and two calls of a reflowed model read the network (``FlowPath(t_sampling="u-shaped")``; the reflow preset's).

Time runs the same way as in DDPM: t = 1 is pure noise, t = 0 the clean image; the network sees t itself (DDPM's
network sees t/T), so the same ``ContextUnet`` works unchanged.

Key: x_t = x_t, t = t, t_prev = t', velocity = u_θ(x_t, t), x0 = x₀, noise = ε.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from .sampling import Sampler, SampleResult
from .path import check_prediction, wide_float
from .validation import check_image_batch, check_positive_int, check_real, check_same_device


T_SAMPLING = ("uniform", "logit-normal", "u-shaped")
U_SHAPE_A = 4.0   # Lee et al.'s a: the ends are (e^a + 1)/(2·e^(a/2)) ≈ 3.8 times as likely as the middle


@dataclass(frozen=True)
class FlowPath:
    """The straight path x_t = (1 − t)·x₀ + t·ε, t ∈ [0, 1]; the network predicts the velocity ε − x₀."""

    PATH: ClassVar[str] = "flow"   # the path's name in a run spec (``dlhelpers.spec``)
    prediction: str = "velocity"
    t_sampling: str = "uniform"    # how training draws t: "uniform" (Lipman et al.), "logit-normal" (SD3, eq. 19:
    #                                the middle more often) or "u-shaped" (Lee et al. 2024: the ends more often)

    def __post_init__(self):
        check_prediction(self.PATH, self.prediction)
        if self.t_sampling not in T_SAMPLING:
            raise ValueError(f"t_sampling must be one of {T_SAMPLING}, got {self.t_sampling!r}")

    def to(self, device) -> "FlowPath":
        return self

    def coefficients(self, t: torch.Tensor, x_shape) -> tuple:
        """(a_t, s_t) = (1 − t, t), shaped (B, 1, 1, 1) to broadcast over images."""
        t = t.reshape(-1, *([1] * (len(x_shape) - 1)))
        return 1 - t, t

    def network_time(self, t: torch.Tensor) -> torch.Tensor:
        """The network sees the path time itself, t ∈ [0, 1]."""
        return t.float()

    def snr(self, t: torch.Tensor) -> torch.Tensor:
        """SNR_t = (1 − t)² / t² (B,), in float64: ∞ at t = 0, 0 at t = 1."""
        t = t.to(wide_float(t.device))
        return ((1 - t) / t) ** 2

    def add_noise(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """x_t = (1 − t)·x₀ + t·ε. x0, noise: (B, C, H, W); t: a float in [0, 1] or a (B,) float tensor."""
        check_image_batch(x0, "x0")
        check_image_batch(noise, "noise")
        check_same_device(x0=x0, noise=noise)
        if noise.shape != x0.shape:
            raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
        t = check_flow_time(t, x0.shape[0], "t", x0)
        a, s = self.coefficients(t, x0.shape)
        return a * x0 + s * noise

    def draw_training_example(self, x0: torch.Tensor, generator, noise: torch.Tensor | None = None) -> tuple:
        """The draws of one training batch, in this order: t (``draw_t``), then ε ~ N(0, I)
        unless ``noise`` gives each x₀ its coupled ε (reflow: Liu et al. 2023, Algorithm 1, the pairs (X₀, X₁) drawn
        by the previous flow). Returns (t (B,), x_t, the network's time input (= t), ε)."""
        t = self.draw_t(x0.shape[0], generator, x0.device)                                  # (B,)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device)            # (B, C, H, W)
        a, s = self.coefficients(t, x0.shape)
        return t, a * x0 + s * noise, t, noise

    def draw_t(self, n: int, generator, device) -> torch.Tensor:
        """n training times (n,) from ``t_sampling``: U[0, 1]; sigmoid(N(0, 1)); or the U shape, drawn as the
        exponential density a·e^(a·t)/(e^a − 1) by its inverse CDF t = log(1 + u·(e^a − 1))/a, mirrored to 1 − t on a
        fair coin (the mixture of the two halves is ∝ e^(a·t) + e^(a·(1 − t)))."""
        if self.t_sampling == "logit-normal":
            return torch.sigmoid(torch.randn((n,), generator=generator, device=device))
        u = torch.rand((n,), generator=generator, device=device)
        if self.t_sampling == "uniform":
            return u
        a = U_SHAPE_A
        t = torch.log1p(u * math.expm1(a)) / a                                             # (n,) ∝ e^(a·t)
        flip = torch.rand((n,), generator=generator, device=device) < 0.5
        return torch.where(flip, 1 - t, t)

    def __repr__(self) -> str:
        return "FlowPath(straight, velocity" + ("" if self.t_sampling == "uniform" else f", t {self.t_sampling}") + ")"


def check_flow_time(t, batch: int, name: str, like: torch.Tensor) -> torch.Tensor:
    """A float in [0, 1] or a (B,) float tensor in [0, 1] → a (B,) tensor with ``like``'s device and dtype."""
    if isinstance(t, torch.Tensor):
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a float time in [0, 1], got a {t.dtype} tensor (flow time is not "
                            f"an integer step: use t / T)")
        if t.ndim == 0:
            t = t.reshape(1).expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"{name} must be a number or have shape ({batch},), got {tuple(t.shape)}")
        if bool(((t < 0) | (t > 1)).any()):
            raise ValueError(f"{name} must be in [0, 1], got values from {float(t.min())} to {float(t.max())}")
        return t.to(like.device, like.dtype)
    t = check_real(t, name, low=0.0, high=1.0)
    return torch.full((batch,), t, device=like.device, dtype=like.dtype)


def flow_timesteps(steps: int) -> list[float]:
    """``steps + 1`` evenly spaced times from 1 (noise) down to 0 (data): t_i = i / steps."""
    steps = check_positive_int(steps, "steps")
    return [i / steps for i in range(steps, -1, -1)]


def euler_step(x_t: torch.Tensor, t: float, t_prev: float, velocity: torch.Tensor) -> torch.Tensor:
    """One Euler step of dx/dt = u along t → t_prev (t_prev < t): x_{t'} = x_t + (t' − t) · u."""
    check_image_batch(x_t, "x_t")
    check_image_batch(velocity, "velocity")
    if velocity.shape != x_t.shape:
        raise ValueError(f"velocity must have the shape of x_t {tuple(x_t.shape)}, got {tuple(velocity.shape)}")
    t, t_prev = check_real(t, "t", 0.0, 1.0), check_real(t_prev, "t_prev", 0.0, 1.0)
    if not t_prev < t:
        raise ValueError(f"t_prev must be smaller than t (the sampler walks from 1 down to 0), got t={t}, "
                         f"t_prev={t_prev}")
    return euler(x_t, t, t_prev, velocity)


# The samplers' arithmetic, unchecked (they run once per step on tensors the loop made): one function per formula.
def euler(x_t, t: float, t_prev: float, velocity):
    """x_{t'} = x_t + (t' − t) · u."""
    return x_t + (t_prev - t) * velocity


def heun(x_t, t: float, t_prev: float, velocity, velocity_at_guess):
    """x_{t'} = x_t + (t' − t) · ½ (u(x_t, t) + u(x̃_{t'}, t')), x̃_{t'} the Euler guess (Karras et al., Alg. 1)."""
    return x_t + (t_prev - t) * 0.5 * (velocity + velocity_at_guess)


def flow_grid(path, steps: int) -> list[float]:
    """``flow_timesteps(steps)``: 1 = noise … 0 = data."""
    return flow_timesteps(steps)


def velocity_of(x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """u = dx_t/dt = ε̂ − x̂₀ on the straight path x_t = (1 − t)·x̂₀ + t·ε̂: the ODE's slope from the loop's pair,
    whatever the network predicts (for a velocity network it is its own output, to rounding)."""
    return eps - x0


def make_euler_step(path, grid):
    """x_{t'} = x_t + (t' − t) · u."""
    def step(x, i, x0, eps, denoise, generator):
        return euler(x, grid[i], grid[i + 1], velocity_of(x0, eps))
    return step


def make_heun_step(path, grid):
    """1. the Euler guess; 2. Heun: the slope at the guess averaged in (not into t = 0, which stays Euler)."""
    def step(x, i, x0, eps, denoise, generator):
        t, t_prev = grid[i], grid[i + 1]
        u = velocity_of(x0, eps)
        x_next = euler(x, t, t_prev, u)                                    # 1. Euler
        if t_prev > 0:                                                     # 2. Heun, one more network call
            x_next = heun(x, t, t_prev, u, velocity_of(*denoise(x_next, i + 1)))
        return x_next
    return step


FLOW_EULER = Sampler("flow-euler", "flow", flow_grid, make_euler_step, options=("steps",), default_steps=10,
                     label="flow-Euler-{steps}")
FLOW_HEUN = Sampler("flow-heun", "flow", flow_grid, make_heun_step, options=("steps",), default_steps=5,
                    calls=lambda steps, T=500: 2 * steps - 1, label="flow-Heun-{steps}")


def sample_flow_euler(model, n_samples: int, path=None, steps: int = 10, **options) -> SampleResult:
    """Euler from t = 1 to 0 in ``steps`` equal steps: ``steps`` network calls. ``path``: a ``FlowPath``
    (default ``FlowPath()``); the other options (``context``, ``generator``, ``x_T``, ``guidance_scale``,
    ``save_every`` = 1, …) are ``Sampler.run``'s."""
    return FLOW_EULER.run(model, n_samples, FlowPath() if path is None else path, steps=steps, **options)


def sample_flow_heun(model, n_samples: int, path=None, steps: int = 5, **options) -> SampleResult:
    """Heun (second order) from t = 1 to 0 in ``steps`` equal steps: 2·steps − 1 network calls."""
    return FLOW_HEUN.run(model, n_samples, FlowPath() if path is None else path, steps=steps, **options)


def straightness(frames: torch.Tensor) -> torch.Tensor:
    """Per trajectory, chord ÷ arc length: ‖x_end − x_start‖ / Σ_k ‖x_{k+1} − x_k‖ over the saved frames
    (F, N, C, H, W). 1 is a straight line; a path that bends scores below 1. Shape (N,)."""
    if not isinstance(frames, torch.Tensor) or frames.ndim != 5 or frames.shape[0] < 2:
        raise ValueError("frames must be a (F ≥ 2, N, C, H, W) tensor, e.g. SampleResult.frames")
    flat = frames.double().flatten(2)                                    # (F, N, D)
    arc = (flat[1:] - flat[:-1]).norm(dim=2).sum(0)                      # (N,)
    chord = (flat[-1] - flat[0]).norm(dim=1)                             # (N,)
    return (chord / arc.clamp(min=1e-12)).float()
