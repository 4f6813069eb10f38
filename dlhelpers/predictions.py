"""What a network predicts, and how to read its output: the one table every loss and sampler goes through.

On a Gaussian path x_t = a_t · x₀ + s_t · ε (``dlhelpers.spec``), a ``Prediction`` gives the training target and
the way back from an output to (x̂₀, ε̂):
- ``"eps"``: ε, DDPM's simplified loss (Ho et al. 2020, arXiv:2006.11239, eq. 14); x̂₀ = (x_t − s ε̂) / a (DDIM's
  "predicted x₀", Song et al. 2021, eq. 12);
- ``"velocity"``: flow matching's u = ε − x₀ (Lipman et al. 2023, arXiv:2210.02747, eq. 23 with σ_min = 0), on
  the straight path a = 1 − t, s = t: x̂₀ = x_t − t·u, ε̂ = x_t + (1 − t)·u.

Key: a = a_t (signal coefficient), s = s_t (noise coefficient), out = the network's output, x_t = x_t.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Prediction:
    """What a network predicts: ``target(x0, eps, a, s)`` for the loss, ``split(out, x_t, a, s)`` → (x̂₀, ε̂)."""

    target: Callable
    split: Callable


PREDICTIONS = {
    # ε-prediction: target ε; x̂₀ = (x_t − s ε̂) / a (DDIM eq. 12's "predicted x₀")
    "eps": Prediction(target=lambda x0, eps, a, s: eps,
                      split=lambda out, x_t, a, s: ((x_t - s * out) / a, out)),
    # flow matching's velocity u = ε − x₀ (on the straight path, dx_t/dt): x̂₀ = x_t − t·u, ε̂ = x_t + (1 − t)·u
    "velocity": Prediction(target=lambda x0, eps, a, s: eps - x0,
                           split=lambda out, x_t, a, s: (x_t - s * out, x_t + a * out)),
}


def split_output(path, out: torch.Tensor, x_t: torch.Tensor, a, s) -> tuple:
    """(x̂₀, ε̂) from a network output on ``path`` at coefficients (a, s)."""
    return PREDICTIONS[path.prediction].split(out, x_t, a, s)


def training_target(path, x0: torch.Tensor, eps: torch.Tensor, a, s) -> torch.Tensor:
    """What the network should output for x_t = a·x₀ + s·ε on ``path``: the loss's target."""
    return PREDICTIONS[path.prediction].target(x0, eps, a, s)
