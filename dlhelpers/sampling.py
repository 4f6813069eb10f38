"""The one reverse loop every sampler runs through, and classifier-free guidance.

A sampler is a time grid and a step (k-diffusion's ``sampling.py`` pattern): the loop walks the grid from noise
to data, reads the network through the path's prediction (``dlhelpers.predictions``: the output becomes (x̂₀, ε̂)),
and hands both to the step, which may call the network again (Heun). Frames and x̂₀ previews go through a callback,
so a caller that wants none asks for none (``save_every=None``).

References
- Ho et al., DDPM, 2020, arXiv:2006.11239 — Algorithm 2 (sampling): start from x_T ~ N(0, I), step t = T…1.
- Song, Meng & Ermon, DDIM, 2021, arXiv:2010.02502 — the same loop over a subsequence τ of the timesteps.
- Karras et al., "Elucidating the Design Space of Diffusion-Based Generative Models", 2022, arXiv:2206.00364 —
  Algorithm 1: a sampler as a time grid and a step, the step evaluating the denoiser once or twice.
- Ho & Salimans, "Classifier-Free Diffusion Guidance", 2022, arXiv:2207.12598 — eq. (6):
      ε̃ = ε_θ(x_t, ∅) + w · (ε_θ(x_t, c) − ε_θ(x_t, ∅)),
  written with w = 1 meaning plain conditional sampling (the paper's w is our w − 1). Guidance is linear, so it
  is applied to the raw output whatever the network predicts (ε, or flow matching's velocity).

The loop does no per-step work that scales with the model and never waits on the GPU: inputs are validated once
before it starts, the grid's coefficients (a_t, s_t, for the prediction table) and network times are tensors made
once on the model's device, saved frames stay on the device until the end, and nothing calls ``.item()``.

Key: grid = [t_0 = T (noise), …, t_K (data)], i = the step's index, x = x_{t_i}, x0 = x̂₀, eps = ε̂, w = guidance.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Sequence

import torch

from . import devices
from .precision import autocast, to_memory_format
from . import predictions
from .path import GaussianPath
from .validation import (check_context, check_finite, check_generator, check_image_batch, check_positive_int,
                         check_precision, check_real)


@dataclass
class SampleResult:
    """``samples`` (N, C, H, W) in about [−1, 1]; ``frames`` (F, N, C, H, W) on the CPU: x_t at
    ``frame_timesteps`` (descending, ending at the data end); ``x0_preds`` the model's estimate of x̂₀ at the same
    steps. ``frames`` and ``x0_preds`` are None when none were asked for (``save_every=None``)."""

    samples: torch.Tensor
    frames: torch.Tensor | None
    frame_timesteps: List = field(default_factory=list)
    x0_preds: torch.Tensor | None = None


def guided_output(model, x: torch.Tensor, t_in: torch.Tensor, context: torch.Tensor | None,
                  guidance_scale: float = 1.0) -> torch.Tensor:
    """The network's output for a batch, with classifier-free guidance when ``guidance_scale`` ≠ 1 (one batched
    forward): out_∅ + w (out_c − out_∅), eq. (6), on whatever the network predicts."""
    if context is None or guidance_scale == 1.0:
        return model(x, t_in, context).float()
    B = x.shape[0]
    out = model(torch.cat([x, x]), torch.cat([t_in, t_in]), torch.cat([context, torch.zeros_like(context)])).float()
    out_cond, out_uncond = out[:B], out[B:]
    return out_uncond + guidance_scale * (out_cond - out_uncond)


predict_noise = guided_output   # notebook 4's name: an ε-network's guided output is ε̃


def model_geometry(model):
    try:
        return model.in_channels, model.h, model.n_cfeat
    except AttributeError:
        raise TypeError("model must be a ContextUnet-like module with in_channels, h and n_cfeat attributes") from None


class FrameRecorder:
    """The loop's callback that keeps x_t and x̂₀ at every ``every``-th step (on the device), and the end."""

    def __init__(self, every: int):
        self.every, self.frames, self.x0s, self.times = every, [], [], []

    def __call__(self, i: int, t, x: torch.Tensor, x0: torch.Tensor) -> None:
        if i % self.every == 0:
            self.frames.append(x.float())
            self.x0s.append(x0.float())
            self.times.append(t)

    def finish(self, x: torch.Tensor, t) -> tuple:
        """(frames (F, N, C, H, W), x̂₀ (F, …), times) on the CPU, the last frame being the sample itself."""
        self.frames.append(x.float())
        self.x0s.append(x.float())
        self.times.append(t)
        return torch.stack(self.frames).cpu(), torch.stack(self.x0s).cpu(), self.times


def sample_loop(model, path, n_samples: int, grid: Sequence, make_step: Callable, *, context=None,
                guidance_scale: float = 1.0, generator=None, x_T=None, save_every: int | None = 1,
                progress: bool = True, precision: str = "auto", callback: Callable | None = None,
                desc: str = "sampling") -> SampleResult:
    """Walk ``grid`` (descending path times) from x_T: at each i, (x̂₀, ε̂) = the network read through
    ``path.prediction``, then x ← step(x, i, x̂₀, ε̂, denoise, generator), where ``step = make_step(path)`` is made
    once, after the checks, with the path on the model's device. ``denoise(x, j)`` gives (x̂₀, ε̂) at grid[j] (a
    second call, as Heun's). ``callback(i, t, x, x̂₀)`` runs before each step; ``save_every`` keeps every k-th
    frame (None: none)."""
    from tqdm.auto import tqdm

    x, context, device = start_loop(model, n_samples, context, x_T, generator, save_every, guidance_scale, precision)
    path = path.to(device)
    step = make_step(path)
    times = torch.tensor(list(grid), device=device)                                   # (K,)
    a, s = path.coefficients(times, (len(grid), *x.shape[1:]))                       # (K, 1, 1, 1) each
    t_in = path.network_time(times).unsqueeze(1).expand(len(grid), x.shape[0])       # (K, N), made once
    split = predictions.get(path.prediction).split

    def denoise(x, j):   # (x̂₀, ε̂) at grid[j], (N, C, H, W) each; guidance on the raw output, one batched forward
        return split(guided_output(model, to_memory_format(x), t_in[j], context, guidance_scale), x, a[j], s[j])

    recorder = FrameRecorder(save_every) if save_every is not None else None
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast(precision, device):
            for i in tqdm(range(len(grid) - 1), desc=desc, disable=not progress, leave=False):
                x0, eps = denoise(x, i)
                if recorder is not None:
                    recorder(i, grid[i], x, x0)
                if callback is not None:
                    callback(i, grid[i], x, x0)
                x = step(x, i, x0, eps, denoise, generator)
    finally:
        model.train(was_training)
    frames, x0s, frame_ts = recorder.finish(x, grid[-1]) if recorder is not None else (None, None, [])
    return SampleResult(samples=x.float().clone(), frames=frames, frame_timesteps=frame_ts, x0_preds=x0s)


def start_loop(model, n_samples, context, x_T, generator, save_every, guidance_scale, precision):
    """Every sampler's checks, once, before its loop; returns (x_T (N, C, H, W) on the model's device, the
    context (N, n_cfeat) or None, the device). x_T is drawn from ``generator`` unless given."""
    n_samples = check_positive_int(n_samples, "n_samples")
    if save_every is not None:
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


def check_path(model, path, family: str, arg: str = "path") -> None:
    """A sampler walks one path: DDPM's samplers a ``NoiseSchedule``, the flow samplers a ``FlowPath``. A model
    loaded by ``load_pretrained`` carries its ``run_spec``; sampling it on another path is refused. ``arg``: the
    argument's name in the caller's signature, for the message."""
    kind = path.PATH if isinstance(path, GaussianPath) else None
    if kind != family:
        want = {"ddpm": "a NoiseSchedule (dlhelpers.schedules)", "flow": "a FlowPath (dlhelpers.flow)"}.get(
            family, f"a {family!r} path (dlhelpers.spec)")
        raise TypeError(f"{arg} must be {want} for this sampler, got {type(path).__name__}; "
                        f"see dlhelpers.samplers.SAMPLERS for the samplers of each path")
    trained = getattr(model, "run_spec", None)
    if trained is not None and (trained.path, trained.prediction) != (kind, path.prediction):
        raise ValueError(f"{arg} is a {kind!r} path predicting {path.prediction!r}, but the model was "
                         f"trained on {trained.path!r} predicting {trained.prediction!r}; sample it with the path "
                         f"load_pretrained returned")


def draw_noise(x: torch.Tensor, generator) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


# ------------------------------------------------------------------------------------------------- samplers
# every numeric option, checked once for every sampler: in range, the message naming it
OPTIONS = {
    "steps": lambda v: check_positive_int(v, "steps"),
    "eta": lambda v: check_real(v, "eta", low=0.0, high=1.0),
    "guidance_scale": lambda v: check_real(v, "guidance_scale", low=0.0),
    "extra_noise": lambda v: _check_bool(v, "extra_noise"),
}
COMMON = ("guidance_scale",)   # options every sampler takes


def _check_bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Sampler:
    """One sampler: the path it walks, its grid and step, its own options, its network calls per run.

    ``grid(path, steps)`` → the descending times; ``make_step(path, grid, **options)`` → the step the loop calls,
    ``step(x, i, x0, eps, denoise, generator)`` → x at grid[i + 1]."""

    name: str
    path: str                      # "ddpm" (a NoiseSchedule) or "flow" (a FlowPath): ``dlhelpers.spec``
    grid: Callable
    make_step: Callable
    options: tuple = ()            # the keyword options it uses besides the common ones (keys of OPTIONS)
    calls: Callable = lambda steps, T=500: steps   # network calls per sample (guidance doubles the batch, not
    #                                                 the calls); T: the schedule's length, for DDPM's all-T sampler
    default_steps: int | None = None
    save_every: int = 1            # default frame spacing (DDPM's 500 steps: every 20th)
    label: str | None = None       # its title in reports and progress bars, "{steps}" filled in; None: the name,
    #                                with "-{steps}" when it takes steps

    def title(self, steps=None) -> str:
        """The sampler's name in a report row or progress bar, e.g. "DDIM-25"."""
        label = self.label or (self.name + ("-{steps}" if "steps" in self.options else ""))
        return label.format(steps=steps if steps is not None else self.default_steps)

    def check_options(self, options: dict) -> dict:
        """``options`` checked: each in range, and none that this sampler ignores."""
        out = {}
        for key, value in options.items():
            if key not in self.options + COMMON:
                takes = ", ".join(self.options + COMMON)
                raise ValueError(f"{key} is not an option of the {self.name} sampler (it takes {takes}); leave it out")
            out[key] = OPTIONS[key](value)
        return out

    def run(self, model, n_samples: int, path, arg: str = "path", **kwargs) -> SampleResult:
        """Sample: own options (``steps``, ``eta``, …) and ``guidance_scale`` checked; ``context``, ``generator``,
        ``x_T``, ``save_every``, ``progress``, ``precision``, ``callback`` go to ``sample_loop``. ``arg``: what the
        caller calls ``path`` (DDPM's samplers: ``schedule``), for the messages."""
        check_path(model, path, self.path, arg)   # first: a FlowPath has no timesteps to read
        own = self.check_options({k: kwargs.pop(k) for k in list(kwargs) if k in OPTIONS})
        kwargs.setdefault("save_every", self.save_every)
        if "guidance_scale" in own:
            kwargs["guidance_scale"] = own.pop("guidance_scale")
        steps = own.pop("steps", self.default_steps)
        grid = self.grid(path, steps)
        return sample_loop(model, path, n_samples, grid, lambda on_device: self.make_step(on_device, grid, **own),
                           desc=self.title(steps), **kwargs)


def reverse_loop(model, schedule, n_samples: int, pairs: Sequence[tuple], step: Callable, **options) -> SampleResult:
    """Notebook 5's entry: the one loop with an ε-step ``step(x, t, t_prev, ε̂, schedule, generator)`` over
    consecutive ``pairs`` = [(t, t_prev), …] from t = T down."""
    check_path(model, schedule, "ddpm", "schedule")
    pairs = [tuple(pair) for pair in pairs]
    if not pairs or any(len(pair) != 2 for pair in pairs):
        raise ValueError("pairs must be a non-empty list of (t, t_prev) pairs")
    if any(a[1] != b[0] for a, b in zip(pairs, pairs[1:])):
        raise ValueError(f"pairs must chain, each t_prev the next pair's t (one walk from T down), got {pairs}")
    grid = [pairs[0][0]] + [t_prev for _, t_prev in pairs]

    def make_step(on_device):
        def eps_step(x, i, x0, eps, denoise, generator):
            return step(x, pairs[i][0], pairs[i][1], eps, on_device, generator)
        return eps_step

    options.setdefault("save_every", 20)
    return sample_loop(model, schedule, n_samples, grid, make_step, **options)
