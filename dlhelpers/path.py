"""What a path is: the protocol every path of the package satisfies, and which predictions each path allows.

A path noises data x₀ towards noise ε as x_t = a_t · x₀ + s_t · ε (Kingma et al., "Variational Diffusion Models",
2021, arXiv:2107.00630, eq. 1–2, whose α_t, σ_t are our a_t, s_t). DDPM's discrete schedule
(``dlhelpers.schedules.NoiseSchedule``) and flow matching's straight path (``dlhelpers.flow.FlowPath``) are the two
the course uses; ``dlhelpers.spec`` names them in a run spec. This module imports nothing of the package, so both
path classes and everything that takes a path can depend on it.

Key: t = the path time, a = a_t, s = s_t, SNR_t = a_t² / s_t².
"""
from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import torch

# which predictions each path supports (velocity u = ε − x₀ is the derivative only on the straight path)
ALLOWED = {"ddpm": ("eps",), "flow": ("velocity",)}


@runtime_checkable
class GaussianPath(Protocol):
    """A path x_t = a_t · x₀ + s_t · ε from data (small t) to noise (large t): what ``train``, ``diffusion_loss`` and
    ``dlhelpers.sampling.sample_loop`` use, and nothing more. ``t`` is a path time: an integer step on DDPM's
    path, a float in [0, 1] on the flow path; tensors of them are (B,)."""

    PATH: ClassVar[str]      # the path's name in a run spec: a key of ALLOWED
    prediction: str          # what a network on this path outputs: a key of ALLOWED[PATH] and of PREDICTIONS

    def to(self, device) -> "GaussianPath":
        """The same path with its tensors on ``device``."""

    def coefficients(self, t, x_shape) -> tuple:
        """(a_t, s_t) for a (B,) tensor of times, shaped (B, 1, …) to broadcast over ``x_shape``."""

    def network_time(self, t):
        """The time input the network sees for path times ``t`` (B,): a float tensor (t/T on DDPM's path)."""

    def snr(self, t):
        """SNR_t = a_t² / s_t² for path times ``t`` (B,), in ``wide_float`` (the min-SNR-γ weights)."""

    def draw_training_example(self, x0, generator, noise=None) -> tuple:
        """One training batch's draws: (t (B,), x_t, the network's time input (B,), ε); ``noise``: the ε coupled to
        each x₀ (reflow's pairs, ``dlhelpers.reflow``) instead of a fresh draw."""

    def add_noise(self, x0, t, noise):
        """x_t = a_t · x₀ + s_t · ε, with checked arguments."""


def check_prediction(path: str, prediction) -> str:
    """``prediction`` if a network on ``path`` may predict it, else a ValueError naming the argument."""
    if prediction not in ALLOWED[path]:
        raise ValueError(f"prediction must be one of {ALLOWED[path]} on the {path!r} path, got {prediction!r}")
    return prediction


def wide_float(device) -> torch.dtype:
    """float64 for SNRs and loss weights, float32 on Apple's MPS, which has no float64."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64
