"""The reverse-process loop shared by the DDPM and DDIM samplers, and classifier-free guidance.

References
- Ho et al., DDPM, 2020, arXiv:2006.11239 — Algorithm 2 (sampling): start from x_T ~ N(0, I), step t = T…1.
- Song, Meng & Ermon, DDIM, 2021, arXiv:2010.02502 — the same loop over a subsequence τ of the timesteps.
- Ho & Salimans, "Classifier-Free Diffusion Guidance", 2022, arXiv:2207.12598 — eq. (6):
      ε̃ = ε_θ(x_t, ∅) + w · (ε_θ(x_t, c) − ε_θ(x_t, ∅)),
  written with w = 1 meaning plain conditional sampling (the paper's w is our w − 1).

The loop does no per-step work that scales with the model and never waits on the GPU: inputs are validated once
before it starts, schedule values live on the model's device, the normalised times t/T are one precomputed tensor,
saved frames stay on the device until the end, and nothing calls ``.item()``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Sequence

import torch

from . import devices
from .precision import autocast, to_memory_format
from .schedules import x0_from_eps
from .predictions import split_output
from .validation import (check_context, check_finite, check_generator, check_image_batch, check_positive_int,
                         check_precision, check_real)


@dataclass
class SampleResult:
    """``samples`` (N, C, H, W) in about [−1, 1]; ``frames`` (F, N, C, H, W) on the CPU: x_t at
    ``frame_timesteps`` (descending, ending at 0); ``x0_preds`` the model's estimate of x̂₀ at the same steps."""

    samples: torch.Tensor
    frames: torch.Tensor
    frame_timesteps: List[int] = field(default_factory=list)
    x0_preds: torch.Tensor | None = None


def predict_noise(model, x: torch.Tensor, t_norm: torch.Tensor, context: torch.Tensor | None,
                  guidance_scale: float = 1.0) -> torch.Tensor:
    """ε for a batch, with classifier-free guidance when ``guidance_scale`` ≠ 1 (one batched forward)."""
    if context is None or guidance_scale == 1.0:
        return model(x, t_norm, context).float()
    B = x.shape[0]
    eps = model(torch.cat([x, x]), torch.cat([t_norm, t_norm]),
                torch.cat([context, torch.zeros_like(context)])).float()
    eps_cond, eps_uncond = eps[:B], eps[B:]
    return eps_uncond + guidance_scale * (eps_cond - eps_uncond)


def model_geometry(model):
    try:
        return model.in_channels, model.h, model.n_cfeat
    except AttributeError:
        raise TypeError("model must be a ContextUnet-like module with in_channels, h and n_cfeat attributes") from None


def reverse_loop(model, schedule, n_samples: int, pairs: Sequence[tuple], step: Callable,
                 context=None, guidance_scale: float = 1.0, generator=None, x_T=None,
                 save_every: int = 20, progress: bool = True, precision: str = "auto",
                 desc: str = "sampling") -> SampleResult:
    """Run x ← step(x, t, t_prev, ε, schedule, generator) over ``pairs`` = [(t, t_prev), …] from t = T down."""
    from tqdm.auto import tqdm

    check_path(model, schedule, "ddpm")
    x, context, device = start_loop(model, n_samples, context, x_T, generator, save_every, guidance_scale, precision)
    n_samples = x.shape[0]
    schedule = schedule.to(device)
    T = schedule.timesteps
    t_norm = (torch.arange(T + 1, device=device, dtype=torch.float32) / T).unsqueeze(1).expand(T + 1, n_samples)
    alpha_bar = schedule.alpha_bar
    eps_model = schedule.prediction == "eps"   # other predictions are turned into ε̂ (``dlhelpers.spec``)

    frames, x0s, frame_ts = [], [], []   # kept on the device; one copy to the CPU at the end
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast(precision, device):
            for i, (t, t_prev) in enumerate(tqdm(pairs, desc=desc, disable=not progress, leave=False)):
                out = predict_noise(model, to_memory_format(x), t_norm[t], context, guidance_scale)
                x0_pred, eps = (None, out) if eps_model else split_output(       # x̂₀ only when it is needed
                    schedule, out, x, alpha_bar[t].sqrt(), (1 - alpha_bar[t]).sqrt())
                if i % save_every == 0:
                    frames.append(x.float())
                    x0s.append((x0_from_eps(x, alpha_bar[t], eps) if x0_pred is None else x0_pred).float())
                    frame_ts.append(int(t))
                x = step(x, t, t_prev, eps, schedule, generator)
        frames.append(x.float())
        x0s.append(x.float())
        frame_ts.append(int(pairs[-1][1]))
    finally:
        model.train(was_training)
    return SampleResult(samples=x.float().clone(), frames=torch.stack(frames).cpu(), frame_timesteps=frame_ts,
                        x0_preds=torch.stack(x0s).cpu())


def start_loop(model, n_samples, context, x_T, generator, save_every, guidance_scale, precision):
    """Every sampler's checks, once, before its loop; returns (x_T (N, C, H, W) on the model's device, the
    context (N, n_cfeat) or None, the device). x_T is drawn from ``generator`` unless given."""
    n_samples = check_positive_int(n_samples, "n_samples")
    check_positive_int(save_every, "save_every")
    check_real(guidance_scale, "guidance_scale", low=0.0)
    check_generator(generator)
    check_precision(precision)
    channels, height, n_cfeat = model_geometry(model)
    device = devices.model_device(model)
    devices.check_on_device(generator, "generator", device)
    context = check_context(context, n_samples, n_cfeat, "context", device=device)
    if x_T is None:
        return torch.randn((n_samples, channels, height, height), generator=generator, device=device), context, device
    check_image_batch(x_T, "x_T", channels=channels, finite=False)
    if tuple(x_T.shape) != (n_samples, channels, height, height):
        raise ValueError(f"x_T must have shape {(n_samples, channels, height, height)}, got {tuple(x_T.shape)}")
    devices.check_on_device(x_T, "x_T", device)
    check_finite(x_T, "x_T")
    return x_T.float().clone(), context, device


def check_path(model, schedule, family: str) -> None:
    """A sampler walks one path: DDPM's samplers a ``NoiseSchedule``, the flow samplers a ``FlowPath``. A model
    loaded by ``load_pretrained`` carries its ``run_spec``; sampling it on another path is refused."""
    kind = getattr(schedule, "PATH", None)
    if kind != family:
        other = "a FlowPath (dlhelpers.flow)" if family == "flow" else "a NoiseSchedule (dlhelpers.schedules)"
        raise TypeError(f"schedule must be {other} for this sampler, got {type(schedule).__name__}; "
                        f"see dlhelpers.samplers.SAMPLERS for the samplers of each path")
    trained = getattr(model, "run_spec", None)
    if trained is not None and (trained.path, trained.prediction) != (kind, schedule.prediction):
        raise ValueError(f"schedule is a {kind!r} path predicting {schedule.prediction!r}, but the model was "
                         f"trained on {trained.path!r} predicting {trained.prediction!r}; sample it with the path "
                         f"load_pretrained returned")


def draw_noise(x: torch.Tensor, generator) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
