"""Pictures for notebook 4 (context control): a mixing sweep between two classes, and guidance's trade-off.

* ``mixing_sweep``: contexts c(a) = mix((1 − a)·e_start + a·e_end) for a = 0…1 (Ho et al.'s ε_θ(x_t, t, c) is a
  smooth function of c, so a mixture is a valid input it never saw), every column sampled with DDIM (Song et al.,
  2021, eq. 12, η = 0) from the *same* starting noise x_T, and the sprite classifier's class probabilities
  p(k | x) = softmax(f(x))_k averaged over the samples of each column. ``plot_mixing_sweep`` draws a sprite grid
  (one column per a) with the probability curves under it.
* ``within_class_spread``: the diversity of samples drawn for one class — the mean distance |f̂_i − f̂_j| between
  the classifier's penultimate features, scaled to unit length (f̂ = f / |f|), over every pair i ≠ j of samples
  requested for the same class, averaged over the classes (0 = all alike, at most 2). ``plot_guidance_tradeoff`` draws context accuracy and
  this spread against the guidance weight w of classifier-free guidance (Ho & Salimans, 2022, eq. 6, written
  ε̃ = ε_∅ + w (ε_c − ε_∅), so w = 1 is plain conditional sampling; their w is our w − 1).

The classifier is ``dlhelpers.evaluation.metrics.load_classifier`` (trained on real sprites only).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from dlhelpers.sprites import CLASS_NAMES
from dlhelpers.validation import check_generator, check_image_batch, check_positive_int, check_tensor

N_CLASSES = len(CLASS_NAMES)


def _class_index(name, arg: str) -> int:
    if not isinstance(name, str):
        raise TypeError(f"{arg} must be a class name such as 'hero', got {type(name).__name__}")
    if name not in CLASS_NAMES:
        raise ValueError(f"{arg} must be one of {CLASS_NAMES}, got {name!r}")
    return CLASS_NAMES.index(name)


def _check_samples(samples, name: str = "samples") -> torch.Tensor:
    check_image_batch(samples, name, channels=3)
    if samples.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return samples.detach().float().clamp(-1, 1)


@torch.no_grad()
def class_probabilities(samples: torch.Tensor) -> torch.Tensor:
    """The classifier's p(class | sprite): softmax of its logits, (N, 5) float32 on the CPU, rows sum to 1."""
    from dlhelpers.evaluation.metrics import load_classifier
    x = _check_samples(samples)                                    # (N, 3, 16, 16)
    classifier = load_classifier(x.device)
    return torch.cat([classifier(x[i:i + 1024]).softmax(dim=1).cpu() for i in range(0, len(x), 1024)])


# --------------------------------------------------------------------------------------------- mixing sweep
@dataclass
class Sweep:
    """``a``: the mixing fractions (n_steps,); ``images``: (n_steps, n_show, 3, 16, 16) on the CPU, column k
    drawn with weight a[k] from the same noise; ``probs``: (n_steps, 5) mean class probabilities over
    ``n_samples`` sprites per step; ``start``/``end``: the two class names."""

    a: torch.Tensor
    images: torch.Tensor
    probs: torch.Tensor
    n_samples: int
    start: str
    end: str


def mixing_sweep(model, schedule, mix: Callable, start: str = "hero", end: str = "food", n_steps: int = 7,
                 n_samples: int = 50, steps: int = 20, generator: torch.Generator | None = None,
                 n_show: int = 4) -> Sweep:
    """Sample ``n_samples`` sprites for each of ``n_steps`` mixtures (1 − a)·start + a·end, a = 0…1.

    ``mix(weights)`` turns five class weights into a (1, 5) context (exercise (a), or the reference). Every step
    starts from the same x_T, drawn once with ``generator``, so only the context changes along a row."""
    from dlhelpers.ddim import sample_ddim
    from dlhelpers.devices import model_device
    if not callable(mix):
        raise TypeError(f"mix must be a function weights → (1, 5) context, got {type(mix).__name__}")
    i, j = _class_index(start, "start"), _class_index(end, "end")
    if i == j:
        raise ValueError(f"start and end must be two different classes, got {start!r} twice")
    n_steps = check_positive_int(n_steps, "n_steps", low=2, high=50)
    n_samples = check_positive_int(n_samples, "n_samples", high=1024)
    n_show = check_positive_int(n_show, "n_show", high=n_samples)
    steps = check_positive_int(steps, "steps", high=schedule.timesteps)
    check_generator(generator)
    device = model_device(model)
    shape = (n_samples, model.in_channels, model.h, model.h)
    x_T = torch.randn(shape, generator=generator, device=device)   # (N, C, H, W), shared by every step
    a = torch.linspace(0, 1, n_steps)
    images, probs = [], []
    for frac in a.tolist():
        weights = [0.0] * N_CLASSES
        weights[i], weights[j] = 1 - frac, frac
        context = mix(weights)
        if not isinstance(context, torch.Tensor) or tuple(context.shape) != (1, N_CLASSES):
            raise ValueError(f"mix must return a (1, {N_CLASSES}) tensor, got "
                             f"{tuple(context.shape) if isinstance(context, torch.Tensor) else type(context).__name__}")
        samples = sample_ddim(model, n_samples, schedule, steps=steps, context=context.float().to(device),
                              x_T=x_T, generator=generator, progress=False).samples   # (N, C, H, W)
        images.append(samples[:n_show].cpu())
        probs.append(class_probabilities(samples).mean(0))           # (5,)
    return Sweep(a, torch.stack(images), torch.stack(probs), n_samples, start, end)


def plot_mixing_sweep(sweep: Sweep):
    """Sprites (one column per a, one row per starting noise) above the mean class probabilities against a."""
    import matplotlib.pyplot as plt
    from dlhelpers.notebook.viz import make_grid
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be the result of mixing_sweep, got {type(sweep).__name__}")
    n_steps, n_show = sweep.images.shape[:2]
    grid = make_grid(sweep.images.transpose(0, 1).reshape(-1, *sweep.images.shape[2:]), nrow=n_steps)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 3.2 + 0.55 * n_show),
                                      gridspec_kw={"height_ratios": [0.55 * n_show, 2.6]})
    # the grid spans a = −Δ/2 … 1 + Δ/2, so each sprite column sits above its a on the plot below
    half = 0.5 / (n_steps - 1)
    top.imshow(grid, interpolation="nearest", extent=(-half, 1 + half, 0, 1), aspect="auto")
    top.set_axis_off()
    top.set_title(f"c = (1 − a)·{sweep.start} + a·{sweep.end}, the same starting noise in every column")
    for k, name in enumerate(CLASS_NAMES):
        style = "o-" if name in (sweep.start, sweep.end) else ".:"
        bottom.plot(sweep.a, sweep.probs[:, k], style, label=name)
    bottom.set_xlim(-half, 1 + half)
    bottom.set_ylim(0, 1)
    bottom.set_xlabel(f"mixing weight a (0 = {sweep.start}, 1 = {sweep.end})")
    bottom.set_ylabel("mean p(class)")
    bottom.set_title(f"the classifier's class probabilities, mean over {sweep.n_samples} sprites per a", fontsize=10)
    bottom.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------------------- guidance trade-off
@torch.no_grad()
def within_class_spread(samples: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean distance |f̂_i − f̂_j| between unit-length classifier features of two different sprites of the same
    requested class, averaged over the classes present (each needs ≥ 2 samples). 0 = all alike."""
    from dlhelpers.evaluation.metrics import classifier_features
    x = _check_samples(samples)
    check_tensor(labels, "labels")
    if labels.is_floating_point() or labels.ndim != 1 or len(labels) != len(x):
        raise ValueError(f"labels must be integer class indices of shape ({len(x)},), got dtype {labels.dtype}, "
                         f"shape {tuple(labels.shape)}")
    labels = labels.cpu()
    f = torch.nn.functional.normalize(classifier_features(x), dim=1)   # (N, D), unit length
    spreads = []
    for k in labels.unique().tolist():
        fk = f[labels == k]                                            # (n_k, D)
        n = len(fk)
        if n < 2:
            raise ValueError(f"labels must give every class present ≥ 2 samples; class {k} has {n}")
        dist = torch.cdist(fk, fk, compute_mode="donot_use_mm_for_euclid_dist")   # (n_k, n_k)
        spreads.append(dist.sum() / (n * (n - 1)))                     # mean over the pairs i ≠ j
    return float(torch.stack(spreads).mean())


def plot_guidance_tradeoff(ws: Sequence[float], accuracy: Sequence[float], spread: Sequence[float],
                           real_spread: float | None = None, n_samples: int | None = None):
    """Two panels side by side: context accuracy against w, and within-class spread against w."""
    import matplotlib.pyplot as plt
    ws, accuracy, spread = list(ws), list(accuracy), list(spread)
    if not (len(ws) == len(accuracy) == len(spread)) or not ws:
        raise ValueError(f"ws, accuracy and spread must have one entry per w, got lengths "
                         f"{len(ws)}, {len(accuracy)}, {len(spread)}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(ws, accuracy, "o-", color="C0")
    left.axhline(1 / N_CLASSES, color="gray", ls=":", label=f"chance (1 in {N_CLASSES})")
    left.set(xlabel="guidance weight w", ylabel="context accuracy", ylim=(0, 1.05), title="fidelity to the context")
    left.legend(fontsize=8)
    right.plot(ws, spread, "o-", color="C3", label="samples")
    if real_spread is not None:
        right.axhline(real_spread, color="gray", ls="--", label="real sprites")
    right.set(xlabel="guidance weight w", ylabel="within-class spread", ylim=(0, None), title="variety within a class")
    right.legend(fontsize=8)
    if n_samples is not None:
        fig.suptitle(f"{n_samples} samples per w", fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig
