"""Pictures and small experiments for notebook 3 (training).

* ``plot_schedules``: √ᾱ_t (how much of the sprite is left) and √(1 − ᾱ_t) (how much noise is in) against t, for
  the linear schedule of DDPM (Ho et al., 2020, eq. 4 with β_t linear) and the cosine schedule of Nichol & Dhariwal
  (2021, eq. 17, ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2)).
* ``loss_per_t``: the simplified loss of Ho et al. (2020, eq. 14), ‖ε − ε_θ(√ᾱ_t x₀ + √(1 − ᾱ_t) ε, t/T, c)‖², averaged
  per bucket of t instead of over all t (fp32, a fixed generator, t stratified so every bucket gets the same number
  of images), with each image's own error kept for standard errors; ``paired_difference`` compares two models on the
  same images, t and noise. ``plot_loss_per_t`` draws one curve per model.
* ``train_steps``: notebook 3's train step, repeated on random batches. ``fixed_t_loss`` / ``train_with_fixed_t``:
  the same loss and step with one fixed t for every image, the "wrong" recipe the notebook compares with
  Algorithm 1's random t.
* ``LiveLossPlot``: a loss curve that redraws itself in the notebook while a training loop runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F

from dlhelpers.devices import model_device, same_device
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.validation import check_generator, check_image_batch, check_positive_int, check_real
from dlhelpers.notebook.i18n import fmt, tr


def _check_schedule(schedule, name: str = "schedule") -> None:
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"{name} must be a dlhelpers.schedules.NoiseSchedule, got {type(schedule).__name__}")


def _check_data(images, contexts) -> None:
    check_image_batch(images, "images")
    if contexts is not None:
        if not isinstance(contexts, torch.Tensor) or contexts.ndim != 2 or contexts.shape[0] != images.shape[0]:
            got = tuple(contexts.shape) if isinstance(contexts, torch.Tensor) else type(contexts).__name__
            raise ValueError(f"contexts must be a (N, n_cfeat) tensor with N = {images.shape[0]}, got {got}")
        if not same_device(images.device, contexts.device):
            raise ValueError(f"images and contexts must be on the same device, got {images.device} and "
                             f"{contexts.device}")


# --------------------------------------------------------------------------------------------- schedules
def plot_schedules(schedules: dict[str, NoiseSchedule], ax=None):
    """√ᾱ_t (solid) and √(1 − ᾱ_t) (dashed) against t, one colour per schedule; returns the axes."""
    import matplotlib.pyplot as plt

    if not isinstance(schedules, dict) or not schedules:
        raise TypeError("schedules must be a non-empty dict {name: NoiseSchedule}")
    for name, s in schedules.items():
        _check_schedule(s, f"schedules[{name!r}]")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    for k, (name, s) in enumerate(schedules.items()):
        ab, t = s.alpha_bar.detach().cpu(), torch.arange(s.timesteps + 1)
        ax.plot(t, ab.sqrt(), color=f"C{k}", label=fmt("√ᾱ_t, {0} (sprite)", name))
        ax.plot(t, (1 - ab).sqrt(), color=f"C{k}", ls="--", label=fmt("√(1−ᾱ_t), {0} (noise)", name))
    ax.set(xlabel="t", ylabel=tr("factor"), ylim=(0, 1.02), title=tr("how much sprite and how much noise is in x_t"))
    ax.legend(fontsize=8, loc="center right")
    return ax


# --------------------------------------------------------------------------------------------- loss per t
@dataclass
class LossPerT:
    edges: list[int]          # bucket b holds t in edges[b] < t ≤ edges[b + 1]
    mse: list[float]          # mean squared error of the predicted noise in each bucket
    n: int                    # images per bucket
    per_image: torch.Tensor | None = None   # (buckets, n): each image's own MSE, for standard errors

    @property
    def centers(self) -> list[float]:
        return [(a + b + 1) / 2 for a, b in zip(self.edges[:-1], self.edges[1:])]

    @property
    def se(self) -> list[float]:
        """The standard error of each bucket's MSE over its n images."""
        return (self.per_image.std(dim=1) / self.n ** 0.5).tolist()


def paired_difference(a: LossPerT, b: LossPerT) -> tuple[list[float], list[float]]:
    """Per bucket: the mean of b − a over the same images, t and noise (``loss_per_t`` with equally seeded
    generators), and its standard error. Pairing removes the image-to-image spread both curves share."""
    if not isinstance(a, LossPerT) or not isinstance(b, LossPerT) or a.per_image is None or b.per_image is None:
        raise TypeError("a and b must be LossPerT results of loss_per_t")
    if a.edges != b.edges or a.per_image.shape != b.per_image.shape:
        raise ValueError("a and b must come from loss_per_t with the same buckets and per_bucket")
    d = b.per_image - a.per_image                                                   # (buckets, n)
    return d.mean(dim=1).tolist(), (d.std(dim=1) / d.shape[1] ** 0.5).tolist()


@torch.no_grad()
def loss_per_t(model, images, contexts, schedule, generator: torch.Generator, buckets: int = 10,
               per_bucket: int = 50, batch_size: int = 250) -> LossPerT:
    """Eq. (14) per t bucket: for each of ``buckets`` equal ranges of 1…T, its own ``per_bucket`` images (bucket b
    takes images[b·per_bucket:(b + 1)·per_bucket]) each get a random t in that range and a fresh ε from
    ``generator``."""
    _check_schedule(schedule)
    _check_data(images, contexts)
    check_positive_int(buckets, "buckets", high=schedule.timesteps)
    check_positive_int(per_bucket, "per_bucket")
    if buckets * per_bucket > images.shape[0]:
        raise ValueError(f"buckets · per_bucket = {buckets * per_bucket} exceeds the {images.shape[0]} images given")
    check_positive_int(batch_size, "batch_size")
    check_generator(generator)
    if generator is None:
        raise TypeError("generator must be a torch.Generator (every random draw takes one)")
    device, T = model_device(model), schedule.timesteps
    s = schedule.to(device)
    n = buckets * per_bucket
    x0 = images[:n].to(device).float()                                              # (n, C, H, W)
    c = contexts[:n].to(device).float() if contexts is not None else None           # (n, K)
    edges = [round(b * T / buckets) for b in range(buckets + 1)]
    was_training = model.training
    model.eval()
    rows = []
    try:
        for b, (lo, hi) in enumerate(pairwise(edges)):
            first, row = b * per_bucket, []
            for i in range(first, first + per_bucket, batch_size):
                xb = x0[i:min(i + batch_size, first + per_bucket)]
                t = torch.randint(lo + 1, hi + 1, (len(xb),), generator=generator, device=device)    # (b,)
                eps = torch.randn(xb.shape, generator=generator, device=device)                       # (b, C, H, W)
                pred = model(s.add_noise(xb, t, eps), t.float() / T, c[i:i + len(xb)] if c is not None else None)
                row.append((pred.float() - eps).pow(2).flatten(1).mean(1).double().cpu())            # (b,)
            rows.append(torch.cat(row))
    finally:
        model.train(was_training)
    per_image = torch.stack(rows)                                                                     # (buckets, n)
    return LossPerT(edges, per_image.mean(dim=1).tolist(), per_bucket, per_image)


def plot_loss_per_t(curves: dict[str, LossPerT], ax=None, title: str = "loss against t"):
    """One line per model: the mean squared noise error in each t bucket, ± 1 s.e.; returns the axes."""
    import matplotlib.pyplot as plt

    if not isinstance(curves, dict) or not curves:
        raise TypeError("curves must be a non-empty dict {label: LossPerT}")
    for label, curve in curves.items():
        if not isinstance(curve, LossPerT):
            raise TypeError(f"curves[{label!r}] must be a LossPerT (from loss_per_t), got {type(curve).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    for label, curve in curves.items():
        ax.errorbar(curve.centers, curve.mse, yerr=None if curve.per_image is None else curve.se, fmt="o-", ms=3,
                    capsize=2, label=label)                            # error bars: ± 1 s.e. over the images
    n = next(iter(curves.values())).n
    ax.set(xlabel=tr("t (bucket centre)"), ylabel=tr("MSE of the predicted noise"), yscale="log",
           title=fmt("{0} ({1} images per bucket)", title, n))
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------------------------- fixed t
def fixed_t_loss(model, x0, context, schedule, generator, t_fixed: int):
    """Eq. (14) with every image at the same timestep ``t_fixed`` (the recipe *not* to use); a scalar tensor."""
    _check_schedule(schedule)
    check_image_batch(x0, "x0")
    check_positive_int(t_fixed, "t_fixed", high=schedule.timesteps)
    check_generator(generator)
    B, T = x0.shape[0], schedule.timesteps
    t = torch.full((B,), t_fixed, device=x0.device, dtype=torch.long)                       # (B,)
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)                   # (B, C, H, W)
    return F.mse_loss(model(schedule.to(x0.device).add_noise(x0, t, noise), t.float() / T, context), noise)


def train_steps(train_step, model, optimizer, images, contexts, schedule, generator, steps: int, batch_size: int,
                p_uncond: float = 0.0) -> list[float]:
    """``steps`` calls of ``train_step(model, optimizer, x0, context, schedule, generator, p_uncond)`` (notebook 3's
    step: it drops contexts, computes its loss, steps the optimizer and returns the loss) on random batches drawn
    from ``generator``; returns the losses."""
    if not callable(train_step):
        raise TypeError(f"train_step must be a function, got {type(train_step).__name__}")
    _check_data(images, contexts)
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size", high=images.shape[0])
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if generator is None:
        raise TypeError("generator must be a torch.Generator (every random draw takes one)")
    p_uncond = check_real(p_uncond, "p_uncond", low=0.0, high=1.0)
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, images.shape[0], (batch_size,), generator=generator, device=images.device)   # (B,)
        c = contexts[idx] if contexts is not None else None
        losses.append(float(train_step(model, optimizer, images[idx], c, schedule, generator, p_uncond)))
    return losses


def train_with_fixed_t(model, optimizer, images, contexts, schedule, generator, t_fixed: int, steps: int,
                       batch_size: int, p_uncond: float = 0.0) -> list[float]:
    """``train_steps`` with the fixed-t loss: zero_grad, each context replaced by the null context (zeros) with
    probability ``p_uncond`` as in ``train``, ``fixed_t_loss``, backward, step; returns the losses."""
    _check_schedule(schedule)
    check_positive_int(t_fixed, "t_fixed", high=schedule.timesteps)

    def fixed_step(model, optimizer, x0, c, schedule, generator, p_uncond):
        if c is not None and p_uncond > 0:
            c = c * (torch.rand((x0.shape[0], 1), generator=generator, device=c.device) >= p_uncond)    # (B, K)
        optimizer.zero_grad()
        loss = fixed_t_loss(model, x0, c, schedule, generator, t_fixed)
        loss.backward()
        optimizer.step()
        return loss.item()
    return train_steps(fixed_step, model, optimizer, images, contexts, schedule, generator, steps, batch_size,
                       p_uncond)


# --------------------------------------------------------------------------------------------- live plot
class LiveLossPlot:
    """A loss-against-step plot shown once and redrawn in place (``update``) while a loop runs."""

    def __init__(self, steps: int, ylim=(0.05, 1.5), title: str = "training loss"):
        import matplotlib.pyplot as plt
        from IPython.display import display

        check_positive_int(steps, "steps")
        self.fig, self.ax = plt.subplots(figsize=(6, 3))
        (self.line,) = self.ax.plot([], [], "o-", ms=2)
        self.ax.set(xlim=(0, steps), ylim=ylim, yscale="log", xlabel=tr("step"), ylabel=tr("loss (MSE)"), title=title)
        self.handle = display(self.fig, display_id=True)
        plt.close(self.fig)                                   # shown through the handle only
        self.steps: list[int] = []
        self.losses: list[float] = []

    def update(self, step: int, loss: float, redraw: bool | None = True) -> None:
        self.steps.append(int(step))
        self.losses.append(float(loss))
        if redraw:
            self.line.set_data(self.steps, self.losses)
            if self.handle is not None:
                self.handle.update(self.fig)
