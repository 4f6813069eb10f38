"""Training a diffusion or flow model: random time per image, predict the path's target, MSE.

References
- Ho et al., DDPM, 2020, arXiv:2006.11239 — Algorithm 1 and the simplified loss, eq. (14):
      L = E_{t, x₀, ε} ‖ε − ε_θ(√ᾱ_t x₀ + √(1 − ᾱ_t) ε, t)‖², t ~ Uniform{1…T}.
- Ho & Salimans, "Classifier-Free Diffusion Guidance", 2022, arXiv:2207.12598 — Algorithm 1: replace the
  context by the null context with probability p_uncond, so one network learns ε(x_t, c) and ε(x_t, ∅).
- Lipman et al., "Flow Matching for Generative Modeling", 2023, arXiv:2210.02747 — eq. (23): on the straight
  path (``dlhelpers.flow.FlowPath``) the same loop regresses the velocity ε − x₀ at t ~ U[0, 1].
  What the network predicts, its target and its loss weight are the path's prediction's
  (``dlhelpers.predictions``); this file draws, noises, weighs and averages.
- Polyak averaging of the weights (EMA), as in Song & Ermon 2020 and DDPM's released code.

The trainer knows nothing about the UNet: any module ``model(x_t, time, context)`` works, ``time`` being t/T on
DDPM's path and t on the flow path. Every random draw (batch order, t, ε, context dropout) comes from generators
seeded by ``TrainConfig.seed``; the generator state, optimizer, EMA and loss history live in the checkpoint, so a
run killed at any moment resumes to the very same weights as an uninterrupted one.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import torch

from .devices import model_device
from .ema import EMA
from .io import CorruptFileError, atomic_torch_save, safe_torch_load
from .precision import autocast, prepare_model, to_memory_format
from .predictions import min_snr_weight, training_target
from .validation import check_positive_int, check_precision, check_real


@dataclass
class TrainConfig:
    """The training recipe's numbers. The defaults are the shipped weights' recipe (``dlhelpers.recipes.PRESETS``'s
    "course"): trial C of reports/recipe_trials.md with a longer warm-up, trained to full length. A named run (the
    model, the path and these numbers) is a ``dlhelpers.recipes.Preset``."""

    steps: int = 9000                 # optimizer steps in total: the shipped run's (its manifest records the time)
    batch_size: int = 100             # the course's batch; large enough for BatchNorm, small enough for a CPU
    lr: float = 2e-3                  # Adam's peak learning rate; 2e-3 beat the course's 1e-3 (trial B,
    #                                   reports/recipe_trials.md)
    warmup_steps: int = 500           # linear warm-up before the linear decay; keeps the first, larger Adam steps small
    p_uncond: float = 0.1             # drop the context this often so the same model samples unconditionally (CFG)
    ema_decay: Optional[float] = 0.999  # weight averaging (~1000-step window) for smoother samples; None turns it off
    min_snr_gamma: Optional[float] = 5.0  # Hang et al. 2023: weight t's loss by its prediction's min-SNR-γ weight
    #                                       (dlhelpers.predictions; ε: min(SNR_t, γ)/SNR_t); it won trial C.
    #                                       None = the plain MSE, which the flow trials (S4, S8–S16) measured
    checkpoint_every: int = 250       # steps between atomic checkpoints: at most what a kill loses
    seed: int = 0                     # seeds batch order, timesteps, noise and context dropout
    precision: str = "auto"           # "auto": bf16 autocast where the CPU/GPU runs it natively;
    #                                   "fp32" for exact tests
    log_every: int = 10               # steps between loss records / callback calls (and the only host syncs)

    def validate(self) -> "TrainConfig":
        check_positive_int(self.steps, "steps")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.checkpoint_every, "checkpoint_every")
        check_positive_int(self.log_every, "log_every")
        check_positive_int(self.warmup_steps, "warmup_steps", low=0)
        check_real(self.lr, "lr", low=0.0)
        check_real(self.p_uncond, "p_uncond", low=0.0, high=1.0)
        if self.ema_decay is not None:
            check_real(self.ema_decay, "ema_decay", low=0.0, high=1.0)
        if self.min_snr_gamma is not None:
            # open at 0: γ = 0 would weight every t by 0
            check_real(self.min_snr_gamma, "min_snr_gamma", low=0.0, open_interval=True)
        check_precision(self.precision)
        return self


@dataclass
class TrainResult:
    steps_done: int
    losses: List[float] = field(default_factory=list)   # mean plain MSE (eq. 14) over each log_every window
    loss_steps: List[int] = field(default_factory=list)
    seconds: float = 0.0
    ema_state: Optional[dict] = None


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then the course's linear decay lr · (1 − progress) towards 0."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * max(0.0, 1.0 - progress)


def dataset_tensors(dataset):
    """(images (N, C, H, W) in [−1, 1], contexts (N, K) or None) from a TensorDataset or any map-style dataset."""
    if hasattr(dataset, "tensors"):
        images = dataset.tensors[0]
        contexts = dataset.tensors[1] if len(dataset.tensors) > 1 else None
    else:
        items = [dataset[i] for i in range(len(dataset))]
        images = torch.stack([it[0] if isinstance(it, (tuple, list)) else it for it in items])
        contexts = torch.stack([it[1] for it in items]) if isinstance(items[0], (tuple, list)) else None
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[0] == 0:
        raise ValueError("dataset must yield images shaped (C, H, W); got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    if not images.is_floating_point() or images.min() < -1.001 or images.max() > 1.001:
        raise ValueError("dataset images must be float tensors scaled to [−1, 1]")
    if contexts is not None and (contexts.ndim != 2 or contexts.shape[0] != images.shape[0]):
        raise ValueError(f"dataset contexts must be shaped (N, n_cfeat), got {tuple(contexts.shape)}")
    return images.float(), (contexts.float() if contexts is not None else None)


def coupled_noise(dataset, images: torch.Tensor):
    """The ε paired with each image (N, C, H, W) — a dataset's third tensor, as reflow's pairs carry it
    (``dlhelpers.reflow.PairDataset``) — or None: the trainer then draws fresh noise every step."""
    tensors = getattr(dataset, "tensors", ())
    if len(tensors) < 3:
        return None
    noise = tensors[2]
    if not isinstance(noise, torch.Tensor) or noise.shape != images.shape or not noise.is_floating_point():
        raise ValueError(f"dataset's third tensor must be the noise paired with each image, shaped "
                         f"{tuple(images.shape)}, got {tuple(getattr(noise, 'shape', ()))}")
    return noise.float()


def min_snr_weights(path, gamma: float) -> torch.Tensor:
    """Hang et al., "Efficient Diffusion Training via Min-SNR Weighting Strategy", 2023, arXiv:2303.09556: the
    weight of each of a discrete path's steps t = 0…T, shape (T+1,), for what the path's network predicts
    (``dlhelpers.predictions``: ε's is eq. (7), min(SNR_t, γ)/SNR_t with SNR_t = ᾱ_t / (1 − ᾱ_t)); w_0 is never
    drawn and set to 1. The loss computes the same weights per batch (``diffusion_loss``)."""
    if not hasattr(path, "timesteps"):
        raise TypeError(f"path must be a discrete path such as a NoiseSchedule (a table over t = 0…T), got "
                        f"{type(path).__name__}; diffusion_loss weighs a continuous path's t per batch")
    t = torch.arange(1, path.timesteps + 1, device=path.alpha_bar.device)
    w = min_snr_weight(path, path.snr(t), gamma)                                         # (T,) float64
    return torch.cat([torch.ones(1, dtype=w.dtype, device=w.device), w]).float()


def diffusion_loss(model, x0, context, path, generator, p_uncond: float = 0.0, precision: str = "fp32",
                   min_snr_gamma: float | None = None, return_mse: bool = False, noise: torch.Tensor | None = None):
    """One batch's loss on ``path``: t drawn by the path (DDPM: t ~ U{1…T}; flow: t ~ U[0, 1] or logit-normal),
    ε ~ N(0, I), the MSE between the network's output and its target (``dlhelpers.predictions``: ε, eq. (14), or
    the velocity ε − x₀, Lipman et al. eq. (23)), computed in fp32. With ``min_snr_gamma`` each image's squared
    error is weighted by its prediction's min-SNR-γ weight at its t (``predictions.min_snr_weight``).
    ``return_mse``: return ``(loss, mse)``, where ``mse`` is the plain, unweighted MSE of the same draws, detached
    (what ``train`` records in its loss history whatever the weighting). ``noise``: each x₀'s coupled ε (reflow)
    instead of a fresh draw.

    The one loss of the package: ``train``, the notebooks' checks and the benchmark call it. No argument checks
    and no host sync: ``train`` validated everything once and calls this every step."""
    path = path.to(x0.device)                    # the same object when it is there already (train moved it once)
    t, per_image = _per_image_mse(model, x0, context, path, generator, p_uncond, precision, noise)   # (B,), (B,)
    if min_snr_gamma is None:
        loss = per_image.mean()
    else:
        loss = (min_snr_weight(path, path.snr(t), min_snr_gamma).to(per_image.dtype) * per_image).mean()
    return (loss, per_image.detach().mean()) if return_mse else loss


def _per_image_mse(model, x0, context, path, generator, p_uncond, precision, noise=None):
    """(t (B,), each image's MSE (B,)): draws t, then ε (unless coupled), then the context dropout, in that order."""
    B = x0.shape[0]
    t, x_t, time_in, noise = path.draw_training_example(x0, generator, noise)                   # (B,), x_t (B, C, H, W)
    target = training_target(path, x0, noise, *path.coefficients(t, x0.shape))          # (B, C, H, W)
    if context is not None and p_uncond > 0:
        keep = torch.rand((B, 1), generator=generator, device=x0.device) >= p_uncond   # (B, 1)
        context = context * keep
    with autocast(precision, x0.device, training=True):
        pred = model(to_memory_format(x_t), time_in, context)
    return t, (pred.float() - target).pow(2).mean(dim=(1, 2, 3))                       # (B,), (B,)


def train(model: torch.nn.Module, dataset, path, config: TrainConfig | None = None,
          checkpoint_path: str | Path | None = None, callback: Callable | None = None,
          progress: bool = True, stop_after: int | None = None, snapshot_steps=(),
          on_snapshot: Callable | None = None) -> TrainResult:
    """Train ``model`` in place on ``path`` (a ``NoiseSchedule`` or a ``FlowPath``: ``dlhelpers.path.GaussianPath``)
    with ``config`` (default: ``TrainConfig()``, the course's recipe). Resumes from
    ``checkpoint_path`` if it exists and writes it every ``checkpoint_every`` steps and at the end.
    ``callback(step, loss, model)`` runs every ``log_every`` steps. ``on_snapshot(step, state_dict)`` receives the
    EMA weights (or the raw ones without EMA) after each step in ``snapshot_steps``. ``stop_after`` ends this call
    early after that many total steps (resume later)."""
    from tqdm.auto import tqdm

    cfg = (config if config is not None else TrainConfig()).validate()
    device = model_device(model)
    images, contexts = dataset_tensors(dataset)
    noises = coupled_noise(dataset, images)
    noises = to_memory_format(noises.to(device)) if noises is not None else None
    images = to_memory_format(images.to(device))
    contexts = contexts.to(device) if contexts is not None else None
    path = path.to(device)
    N, B = images.shape[0], min(cfg.batch_size, images.shape[0])
    batches_per_epoch = N // B

    prepare_model(model, device)
    model.train()
    optimizer = make_optimizer(model.parameters(), cfg.lr, device)
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    ema = EMA(model, cfg.ema_decay) if cfg.ema_decay is not None else None
    result = TrainResult(steps_done=0)

    if checkpoint_path is not None and Path(checkpoint_path).exists():
        _load_checkpoint(checkpoint_path, model, optimizer, generator, ema, result, cfg)

    t_start = time.perf_counter() - result.seconds
    window: List[torch.Tensor] = []
    last = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    bar = tqdm(range(result.steps_done, last), initial=result.steps_done, total=cfg.steps,
               disable=not progress, desc="training")
    for step in bar:
        epoch, k = divmod(step, batches_per_epoch)
        # Batch order depends only on (seed, epoch): resuming mid-epoch reproduces it without saved state.
        perm = _epoch_permutation(N, cfg.seed, epoch, str(device))
        idx = perm[k * B:(k + 1) * B]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch_contexts = contexts[idx] if contexts is not None else None
        batch_noise = noises[idx] if noises is not None else None
        # the loss drives the gradient (min-SNR-weighted when configured); mse, plain eq. (14), goes to the history
        loss, mse = diffusion_loss(model, images[idx], batch_contexts, path, generator, cfg.p_uncond,
                                   cfg.precision, min_snr_gamma=cfg.min_snr_gamma, return_mse=True,
                                   noise=batch_noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if ema is not None:
            ema.update(model)
        window.append(mse.detach())
        done = step + 1
        if done % cfg.log_every == 0 or done == last:
            mean_loss = torch.stack(window).mean().item()
            window.clear()
            result.losses.append(mean_loss)
            result.loss_steps.append(done)
            bar.set_postfix(loss=f"{mean_loss:.4f}")
            if callback is not None:
                callback(done, mean_loss, model)
        result.steps_done = done
        if on_snapshot is not None and done in snapshot_steps:
            on_snapshot(done, ema.state_dict() if ema is not None else model.state_dict())
        if checkpoint_path is not None and (done % cfg.checkpoint_every == 0 or done == last):
            result.seconds = time.perf_counter() - t_start
            _save_checkpoint(checkpoint_path, model, optimizer, generator, ema, result, cfg)
    bar.close()
    result.seconds = time.perf_counter() - t_start
    result.ema_state = ema.state_dict() if ema is not None else None
    return result


def make_optimizer(params, lr: float, device) -> torch.optim.Optimizer:
    """Adam; the fused kernel where PyTorch has one (CPU since 2.4, CUDA): one pass over all weights instead of a
    dozen, measured about 3× faster per optimizer step than the default on the course machine."""
    params = list(params)
    if torch.device(device).type in ("cpu", "cuda"):
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam(params, lr=lr)


@functools.lru_cache(maxsize=1)   # one epoch's order at a time: drawn once per epoch, not once per step
def _epoch_permutation(N: int, seed: int, epoch: int, device: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(N, generator=g).to(device)


def _save_checkpoint(path, model, optimizer, generator, ema, result: TrainResult, cfg: TrainConfig) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generator": generator.get_state(),
        "ema": ema.state_dict() if ema is not None else None,
        "steps_done": result.steps_done,
        "losses": result.losses,
        "loss_steps": result.loss_steps,
        "seconds": result.seconds,
        "config": asdict(cfg),
    }
    atomic_torch_save(state, path)


def _load_checkpoint(path, model, optimizer, generator, ema, result: TrainResult, cfg: TrainConfig) -> None:
    state = safe_torch_load(path, map_location=model_device(model))
    if not isinstance(state, dict) or "model" not in state or "steps_done" not in state:
        raise CorruptFileError(f"{path} is not a training checkpoint; delete it to start afresh")
    saved = state.get("config", {})
    for key in ("seed", "batch_size", "steps", "lr", "p_uncond", "ema_decay", "warmup_steps", "min_snr_gamma"):
        if key in saved and saved[key] != getattr(cfg, key):
            raise ValueError(f"checkpoint {path} was made with {key}={saved[key]!r}, but config has "
                             f"{key}={getattr(cfg, key)!r}; use the same config to resume or delete the checkpoint")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"].cpu() if hasattr(state["generator"], "cpu") else state["generator"])
    if ema is not None and state.get("ema") is not None:
        ema.load_state_dict(state["ema"], updates=int(state["steps_done"]))
    result.steps_done = int(state["steps_done"])
    result.losses = list(state["losses"])
    result.loss_steps = list(state["loss_steps"])
    result.seconds = float(state.get("seconds", 0.0))
    if math.isnan(result.seconds):
        result.seconds = 0.0
