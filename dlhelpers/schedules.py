"""Noise schedules and the forward (noising) process.

References
- Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models" (DDPM), 2020, arXiv:2006.11239.
  Eq. (4): q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I), with α_t = 1 − β_t and ᾱ_t = ∏_{s=1}^{t} α_s.
- Nichol & Dhariwal, "Improved Denoising Diffusion Probabilistic Models", 2021, arXiv:2102.09672.
  Eq. (17): ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s) · π/2); here rescaled to end at ᾱ_T > 0 (see
  ``NoiseSchedule.cosine``).

Every tensor has shape (T+1,) and is indexed by t = 0…T exactly as in the paper: index 0 is the clean image
(ᾱ_0 = 1, the empty product), index T is (almost) pure noise. The course's linear schedule puts β on
``linspace(0, 1, T+1)`` between β_1 and β_2; we keep that, and compute ᾱ as the exact product over s = 1…t.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from .path import check_prediction, wide_float
from .validation import check_image_batch, check_int_timesteps, check_real, check_same_device, check_tensor


def extract(values: torch.Tensor, t, x_shape) -> torch.Tensor:
    """values[t] shaped to broadcast over a batch of images: (B,) → (B, 1, 1, 1); an int t → a 0-d tensor."""
    if isinstance(t, int):
        return values[t]
    out = values.gather(0, t.reshape(-1))
    return out.reshape(-1, *([1] * (len(x_shape) - 1)))


def x0_from_eps(x_t: torch.Tensor, alpha_bar_t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x̂₀ = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t, with ᾱ_t already shaped to broadcast, for ε on DDPM's path (the public
    ``predict_x0``, ``ddim_step``). The sampling loop reads x̂₀ from the prediction table instead
    (``dlhelpers.predictions``: the same formula in a_t = √ᾱ_t, s_t = √(1 − ᾱ_t))."""
    return (x_t - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()


@dataclass(frozen=True)
class NoiseSchedule:
    """β_t, α_t, ᾱ_t for t = 0…T (each of shape (T+1,)), computed once.

    Key: beta = β_t, alpha = α_t = 1 − β_t, alpha_bar = ᾱ_t = ∏_{s≤t} α_s, timesteps = T.
    """

    PATH: ClassVar[str] = "ddpm"   # the path's name in a run spec (``dlhelpers.spec``)
    beta: torch.Tensor
    alpha: torch.Tensor
    alpha_bar: torch.Tensor
    timesteps: int
    name: str = "custom"
    prediction: str = "eps"   # what a network trained on this path predicts (``dlhelpers.predictions``)

    def __post_init__(self):
        check_prediction(self.PATH, self.prediction)

    @classmethod
    def from_betas(cls, beta: torch.Tensor, name: str = "custom") -> "NoiseSchedule":
        if not isinstance(beta, torch.Tensor) or beta.ndim != 1 or beta.numel() < 2:
            raise ValueError("beta must be a 1-D tensor of length T+1 ≥ 2 (index 0 is the clean image)")
        if not torch.isfinite(beta).all() or (beta[1:] <= 0).any() or (beta >= 1).any():
            raise ValueError("beta must be finite with 0 < β_t < 1 for t = 1…T")
        beta = beta.to(torch.float32)
        alpha = 1.0 - beta
        # ᾱ_0 = 1 (empty product); ᾱ_t = α_1 · … · α_t. Products in float64 so ᾱ_T keeps its digits.
        alpha_bar = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(alpha[1:].double(), 0)]).float()
        return cls(beta=beta, alpha=alpha, alpha_bar=alpha_bar, timesteps=beta.numel() - 1, name=name)

    @classmethod
    def linear(cls, timesteps: int = 500, beta_start: float = 1e-4, beta_end: float = 0.02) -> "NoiseSchedule":
        """The course's schedule: β linear in t over ``linspace(0, 1, T+1)``, from β_start to β_end (the names
        diffusers uses; the course's code called them beta1 and beta2, and old manifests still do)."""
        _check_timesteps(timesteps)
        if not (isinstance(beta_start, (int, float)) and isinstance(beta_end, (int, float))):
            raise TypeError(f"beta_start and beta_end must be numbers, got {type(beta_start).__name__}, "
                            f"{type(beta_end).__name__}")
        if not (0 < beta_start < beta_end < 1):
            raise ValueError(f"beta_start and beta_end must satisfy 0 < beta_start < beta_end < 1, got "
                             f"beta_start={beta_start}, beta_end={beta_end}")
        beta = (beta_end - beta_start) * torch.linspace(0, 1, timesteps + 1, dtype=torch.float64) + beta_start
        return cls.from_betas(beta, name=f"linear({beta_start:g}→{beta_end:g})")

    @classmethod
    def cosine(cls, timesteps: int = 500, s: float = 0.008, alpha_bar_T: float = 0.0063) -> "NoiseSchedule":
        """Nichol & Dhariwal's cosine shape (eq. 17), rescaled so that ᾱ ends at ``alpha_bar_T``, not at ≈ 0:

            ᾱ_t = ᾱ_T + (1 − ᾱ_T) · (f(t) − f(T)) / (f(0) − f(T)).

        Why the floor: an ε-model's x̂₀ = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t divides by √ᾱ_t. The paper's version (β
        clipped at 0.999) ends at ᾱ_T ≈ 1e-8, so at t = T every error in ε̂ is multiplied by ~10⁴; a model trained
        on it sampled badly with DDIM and DDPM (issue 14). The default ᾱ_T = 0.0063 is where the course's linear
        schedule ends (T = 500, β 1e-4 → 0.02): x_T is as close to pure noise as there. Lin et al. (2024,
        arXiv:2305.08891, section 3) make the same point from the other side: ᾱ_T = 0 needs v-prediction."""
        _check_timesteps(timesteps)
        # open: 0 makes x̂₀ divide by zero at t = T, 1 adds no noise at all
        alpha_bar_T = check_real(alpha_bar_T, "alpha_bar_T", low=0.0, high=1.0, open_interval=True)
        t = torch.arange(timesteps + 1, dtype=torch.float64)
        f = torch.cos(((t / timesteps) + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = alpha_bar_T + (1 - alpha_bar_T) * (f - f[-1]) / (f[0] - f[-1])    # (T+1,), 1 → ᾱ_T
        beta = torch.zeros(timesteps + 1, dtype=torch.float64)
        beta[1:] = 1 - alpha_bar[1:] / alpha_bar[:-1]
        beta[0] = beta[1]  # unused (t = 0 is the clean image); keeps 0 < β < 1 everywhere
        return cls.from_betas(beta, name="cosine")

    def to(self, device) -> "NoiseSchedule":
        if self.beta.device == torch.device(device):
            return self
        return NoiseSchedule(self.beta.to(device), self.alpha.to(device), self.alpha_bar.to(device),
                             self.timesteps, self.name, self.prediction)

    @property
    def device(self) -> torch.device:
        return self.beta.device

    def add_noise(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """Forward process, DDPM eq. (4) reparameterised: x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε.

        x0, noise: (B, C, H, W); t: an int in 0…T or a (B,) integer tensor.
        """
        check_image_batch(x0, "x0")
        check_tensor(noise, "noise")
        check_same_device(x0=x0, noise=noise)
        check_image_batch(noise, "noise")
        if noise.shape != x0.shape:
            raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
        t = check_int_timesteps(t, self.timesteps, x0.shape[0], "t", x0.device)
        return self.add_noise_unchecked(x0, t, noise)

    def add_noise_unchecked(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """``add_noise`` without argument checks, for loops that drew ``t`` themselves (the trainer): checking
        values would make the GPU wait on every step."""
        ab = extract(self.alpha_bar.to(x0.device), t, x0.shape).to(x0.dtype)   # (B, 1, 1, 1) or 0-d
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
        """The clean image implied by x_t and a noise estimate: eq. (4) solved for x0 (DDIM eq. 12's x̂₀),
        x̂₀ = (x_t − √(1 − ᾱ_t) · ε) / √ᾱ_t.  x_t, eps: (B, C, H, W); t: an int in 0…T or a (B,) integer tensor."""
        check_image_batch(x_t, "x_t", finite=False)
        check_image_batch(eps, "eps", finite=False)
        check_same_device(x_t=x_t, eps=eps)
        if eps.shape != x_t.shape:
            raise ValueError(f"eps must have the shape of x_t {tuple(x_t.shape)}, got {tuple(eps.shape)}")
        t = check_int_timesteps(t, self.timesteps, x_t.shape[0], "t", x_t.device)
        return x0_from_eps(x_t, extract(self.alpha_bar.to(x_t.device), t, x_t.shape).to(x_t.dtype), eps)

    def coefficients(self, t, x_shape) -> tuple:
        """(a_t, s_t) with x_t = a_t · x₀ + s_t · ε: (√ᾱ_t, √(1 − ᾱ_t)), shaped like ``extract``'s output."""
        ab = extract(self.alpha_bar, t, x_shape)
        return ab.sqrt(), (1 - ab).sqrt()

    def network_time(self, t: torch.Tensor) -> torch.Tensor:
        """What the network sees for integer steps ``t``: t / T, a float in [0, 1]."""
        return t.float() / self.timesteps

    def snr(self, t: torch.Tensor) -> torch.Tensor:
        """SNR_t = ᾱ_t / (1 − ᾱ_t) for integer steps ``t`` (B,), in float64."""
        ab = self.alpha_bar.to(t.device).gather(0, t.reshape(-1)).to(wide_float(t.device))
        return ab / (1 - ab)

    def draw_training_example(self, x0: torch.Tensor, generator, noise: torch.Tensor | None = None) -> tuple:
        """Algorithm 1's draws for a batch, in this order: t ~ U{1…T}, then ε ~ N(0, I) (unless ``noise`` couples
        each x₀ to its ε). Returns (t (B,) int, x_t, the network's time input t/T (B,), ε) — the trainer's and the
        loss's one source."""
        B, T = x0.shape[0], self.timesteps
        t = torch.randint(1, T + 1, (B,), generator=generator, device=x0.device)            # (B,)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device)            # (B, C, H, W)
        return t, self.add_noise_unchecked(x0, t, noise), self.network_time(t), noise

    def __repr__(self) -> str:
        return f"NoiseSchedule({self.name}, T={self.timesteps})"


def _check_timesteps(timesteps) -> None:
    if isinstance(timesteps, bool) or not isinstance(timesteps, int):
        raise TypeError(f"timesteps must be an int, got {type(timesteps).__name__}")
    if timesteps < 1:
        raise ValueError(f"timesteps must be ≥ 1, got {timesteps}")
