"""What a network predicts: the one table every loss and sampler goes through.

On a Gaussian path x_t = a_t · x₀ + s_t · ε (``dlhelpers.spec``), a ``Prediction`` gives
- the training target (what the network should output for x_t),
- the way back from an output to (x̂₀, ε̂), the pair every sampler's step is written in,
- the min-SNR-γ loss weight of that output (Hang et al., "Efficient Diffusion Training via Min-SNR Weighting
  Strategy", 2023, arXiv:2303.09556).

Entries:
- ``"eps"``: ε, DDPM's simplified loss (Ho et al. 2020, arXiv:2006.11239, eq. 14); x̂₀ = (x_t − s ε̂) / a (DDIM's
  "predicted x₀", Song et al. 2021, eq. 12);
- ``"velocity"``: flow matching's u = ε − x₀ (Lipman et al. 2023, arXiv:2210.02747, eq. 23 with σ_min = 0), on
  the straight path a = 1 − t, s = t: x̂₀ = x_t − t·u, ε̂ = x_t + (1 − t)·u.

The loss weight. Hang et al. weight the x₀ error by min(SNR_t, γ), SNR_t = a_t² / s_t² (their eq. 5–7). A
network that outputs y has an x₀ error of (∂x̂₀/∂y)² times its own squared error, so its weight is

    w(SNR) = min(SNR, γ) · (∂x̂₀/∂y)²:
    ε:        ∂x̂₀/∂ε = −s/a,               w = min(SNR, γ) / SNR            (their eq. 7);
    v:        ∂x̂₀/∂v = −s when a² + s² = 1, w = min(SNR, γ) / (SNR + 1)      (their eq. 8; Salimans & Ho 2022;
              not in the table yet: adding it is its entry and its name in ``dlhelpers.path.ALLOWED``);
    velocity: ∂x̂₀/∂u = −t = −s,            w = min(SNR, γ) · t² = min(SNR, γ) / (1 + √SNR)²
              (on the straight path √SNR = (1 − t)/t, so t = 1 / (1 + √SNR)).

Key: a = a_t (signal coefficient), s = s_t (noise coefficient), out = the network's output, x_t = x_t,
snr = SNR_t = a_t² / s_t², gamma = γ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Prediction:
    """What a network predicts: ``target(x0, eps, a, s)`` for the loss, ``split(out, x_t, a, s)`` → (x̂₀, ε̂),
    ``min_snr_weight(snr, gamma)`` the min-SNR-γ weight of its squared error."""

    target: Callable
    split: Callable
    min_snr_weight: Callable


PREDICTIONS = {
    # ε-prediction: target ε; x̂₀ = (x_t − s ε̂) / a (DDIM eq. 12's "predicted x₀"); Hang et al. eq. (7)
    "eps": Prediction(target=lambda x0, eps, a, s: eps,
                      split=lambda out, x_t, a, s: ((x_t - s * out) / a, out),
                      min_snr_weight=lambda snr, gamma: snr.clamp(max=gamma) / snr),
    # flow matching's velocity u = ε − x₀ (on the straight path, dx_t/dt): x̂₀ = x_t − t·u, ε̂ = x_t + (1 − t)·u;
    # weight min(SNR, γ)·t², derived in the module docstring
    "velocity": Prediction(target=lambda x0, eps, a, s: eps - x0,
                           split=lambda out, x_t, a, s: (x_t - s * out, x_t + a * out),
                           min_snr_weight=lambda snr, gamma: snr.clamp(max=gamma) / (1 + snr.sqrt()) ** 2),
}


def get(prediction: str) -> Prediction:
    """The table's entry for ``prediction``; an unknown name is a ValueError naming the known ones."""
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {sorted(PREDICTIONS)}, got {prediction!r}")
    return PREDICTIONS[prediction]


def training_target(path, x0: torch.Tensor, eps: torch.Tensor, a, s) -> torch.Tensor:
    """What the network should output for x_t = a·x₀ + s·ε on ``path``: the loss's target."""
    return PREDICTIONS[path.prediction].target(x0, eps, a, s)


def min_snr_weight(path, snr: torch.Tensor, gamma: float) -> torch.Tensor:
    """The min-SNR-γ weight of the squared error of ``path``'s prediction at signal-to-noise ratios ``snr``."""
    return PREDICTIONS[path.prediction].min_snr_weight(snr, gamma)
