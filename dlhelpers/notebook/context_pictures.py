"""Pictures and measurements for notebook 4 (context control): a mixing sweep between two classes, variety
within a class, guidance's effect on both, and a mixer widget over the notebook's guided sampler.

* ``mixing_sweep``: contexts c(a) = mix((1 − a)·e_start + a·e_end) for a = 0…1 (ε_θ(x_t, t, c) is a smooth
  function of c, so a mixture is a valid input it never saw), every column sampled with DDIM (Song et al., 2021,
  eq. 12; η = 1 by default) from the *same* x_T and the same per-step noise, and the sprite classifier's class
  probabilities p(k | x) = softmax(f(x))_k averaged over the samples of each column (± their standard error).
* ``within_class_variety``: the mean root-mean-square pixel distance √(mean_p (x_i,p − x_j,p)²) over every pair
  i ≠ j of sprites of the same class, averaged over the classes, with a bootstrap interval (sprites resampled with
  replacement within each class; pairs of one sprite with itself left out). ``variety_change`` does the same for
  the difference between two sets of samples drawn from the same noise (a paired bootstrap).
* ``proportion_interval``: Wilson's 95 % score interval for an accuracy (Wilson, 1927).
* ``plot_guidance_tradeoff``: context accuracy and within-class variety against the guidance weight w of
  classifier-free guidance (Ho & Salimans, 2022, eq. 6, written ε̃ = ε_∅ + w (ε_c − ε_∅): w = 1 is plain
  conditional sampling; their w is our w − 1).
* ``guided_mixer``: five class sliders, a guidance slider and a Sample button over any ``sample(x_T, context, w,
  generator)`` (the notebook passes its guided DDIM loop at η = 1); a static figure where no widget can render.

The classifier is ``dlhelpers.evaluation.metrics.load_classifier`` (trained on real sprites only).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from dlhelpers.sprites import CLASS_NAMES
from dlhelpers.validation import check_generator, check_image_batch, check_positive_int, check_real, check_tensor
from dlhelpers.notebook.i18n import fmt, tr

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
    drawn with weight a[k] from the same noise; ``sprite_probs``: (n_steps, n_samples, 5) each sprite's class
    probabilities, ``probs``/``probs_se``: their means and standard errors (n_steps, 5); ``start``/``end``: names."""

    a: torch.Tensor
    images: torch.Tensor
    probs: torch.Tensor
    probs_se: torch.Tensor
    sprite_probs: torch.Tensor
    n_samples: int
    start: str
    end: str


def mixing_sweep(model, schedule, mix: Callable, start: str = "hero", end: str = "food", n_steps: int = 7,
                 n_samples: int = 50, steps: int = 20, generator: torch.Generator | None = None,
                 n_show: int = 4, eta: float = 1.0) -> Sweep:
    """Sample ``n_samples`` sprites for each of ``n_steps`` mixtures (1 − a)·start + a·end, a = 0…1.

    ``mix(weights)`` turns five class weights into a (1, 5) context (exercise (a), or the reference). Every step
    starts from the same x_T and (η > 0) draws the same per-step noise, both from ``generator``, so only the
    context changes along a row."""
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
    eta = check_real(eta, "eta", low=0.0, high=1.0)
    device = model_device(model)
    shape = (n_samples, model.in_channels, model.h, model.h)
    x_T = torch.randn(shape, generator=generator, device=device)   # (N, C, H, W), shared by every step
    noise_seed = int(torch.randint(2 ** 62, (1,), generator=generator, device=device))   # one per-step noise for all
    a = torch.linspace(0, 1, n_steps)
    images, probs = [], []
    for frac in a.tolist():
        weights = [0.0] * N_CLASSES
        weights[i], weights[j] = 1 - frac, frac
        context = mix(weights)
        if not isinstance(context, torch.Tensor) or tuple(context.shape) != (1, N_CLASSES):
            raise ValueError(f"mix must return a (1, {N_CLASSES}) tensor, got "
                             f"{tuple(context.shape) if isinstance(context, torch.Tensor) else type(context).__name__}")
        g = torch.Generator(device).manual_seed(noise_seed)
        samples = sample_ddim(model, n_samples, schedule, steps=steps, eta=eta, context=context.float().to(device),
                              x_T=x_T, generator=g, progress=False).samples   # (N, C, H, W)
        images.append(samples[:n_show].cpu())
        probs.append(class_probabilities(samples))                     # (N, 5)
    p = torch.stack(probs)                                             # (n_steps, N, 5)
    se = p.std(1) / n_samples ** 0.5 if n_samples > 1 else torch.zeros_like(p[:, 0])
    return Sweep(a, torch.stack(images), p.mean(1), se, p, n_samples, start, end)


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
    top.set_title(fmt("c = (1 − a)·{0} + a·{1}, the same starting noise in every column", sweep.start, sweep.end))
    for k, name in enumerate(CLASS_NAMES):
        style = "o-" if name in (sweep.start, sweep.end) else ".:"
        bottom.plot(sweep.a, sweep.probs[:, k], style, label=name)
    bottom.set_xlim(-half, 1 + half)
    bottom.set_ylim(0, 1)
    bottom.set_xlabel(fmt("mixing weight a (0 = {0}, 1 = {1})", sweep.start, sweep.end))
    bottom.set_ylabel(tr("mean p(class)"))
    bottom.set_title(fmt("the classifier's class probabilities, mean over {0} sprites per a", sweep.n_samples),
                     fontsize=10)
    bottom.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    fig.tight_layout()
    plt.close(fig)
    return fig


# ------------------------------------------------------------------------------------ variety within a class
@dataclass
class Variety:
    """``mean``: the mean within-class RMS pixel distance (or a change of it); ``low``/``high``: its bootstrap
    interval at ``level``."""

    mean: float
    low: float
    high: float
    level: float = 0.95


def _class_distances(samples, labels) -> list:
    """Per class present: the (n_k, n_k) RMS pixel distances between its sprites (pixels clamped to [−1, 1])."""
    x = _check_samples(samples).flatten(1).cpu()                       # (N, D)
    check_tensor(labels, "labels")
    if labels.is_floating_point() or labels.ndim != 1 or len(labels) != len(x):
        raise ValueError(f"labels must be integer class indices of shape ({len(x)},), got dtype {labels.dtype}, "
                         f"shape {tuple(labels.shape)}")
    labels, out = labels.cpu(), []
    for k in labels.unique().tolist():
        xk = x[labels == k]
        if len(xk) < 2:
            raise ValueError(f"labels must give every class present ≥ 2 samples; class {k} has {len(xk)}")
        out.append(torch.cdist(xk, xk, compute_mode="donot_use_mm_for_euclid_dist") / x.shape[1] ** 0.5)
    return out


def _mean_pairs(dists, idx) -> torch.Tensor:
    """Mean over classes of the mean distance over pairs i ≠ j of the (bootstrap) sprites ``idx`` (R, n_k)."""
    per_class = []
    for d, i in zip(dists, idx):
        sub = d[i[:, :, None], i[:, None, :]]                         # (R, n_k, n_k)
        other = (i[:, :, None] != i[:, None, :]).float()              # leave out a sprite paired with itself
        n_pairs = other.sum((1, 2))
        per_class.append((sub * other).sum((1, 2)) / n_pairs.where(n_pairs > 0, torch.tensor(float("nan"))))
    return torch.stack(per_class).mean(0)                             # (R,)


def _variety(dist_sets, labels, generator, n_boot, level) -> Variety:
    check_generator(generator)
    n_boot = check_positive_int(n_boot, "n_boot", low=10, high=100_000)
    level = check_real(level, "level", low=0.5, high=0.999)
    sizes = [len(d) for d in dist_sets[0]]
    full = [torch.arange(n)[None] for n in sizes]
    boot = [torch.randint(n, (n_boot, n), generator=generator) for n in sizes]
    sign = [1.0, -1.0][:len(dist_sets)]
    mean = sum(s * _mean_pairs(d, full) for s, d in zip(sign, dist_sets))
    reps = sum(s * _mean_pairs(d, boot) for s, d in zip(sign, dist_sets))
    low, high = torch.nanquantile(reps, torch.tensor([(1 - level) / 2, (1 + level) / 2])).tolist()   # NaN: no pair
    return Variety(float(mean), low, high, level)


def within_class_variety(samples, labels, generator=None, n_boot: int = 1000, level: float = 0.95) -> Variety:
    """Mean RMS pixel distance between two different sprites of the same class (0 = all alike), averaged over
    the classes present, with a bootstrap interval over the sprites of each class."""
    return _variety([_class_distances(samples, labels)], labels, generator, n_boot, level)


def variety_change(before, after, labels, generator=None, n_boot: int = 1000, level: float = 0.95) -> Variety:
    """``within_class_variety(after) − within_class_variety(before)`` for two sample sets in which sprite i was
    drawn from the same noise (a paired bootstrap: the same sprites resampled in both)."""
    if getattr(before, "shape", None) != getattr(after, "shape", None):
        raise ValueError("before and after must have the same shape (sprite i of each drawn from the same noise)")
    return _variety([_class_distances(after, labels), _class_distances(before, labels)], labels, generator,
                    n_boot, level)


def proportion_interval(p: float, n: int, z: float = 1.96) -> tuple:
    """Wilson's score interval (95 % for z = 1.96) for a proportion p measured on n samples; unlike p ± z·s.e.
    it stays inside [0, 1] and does not shrink to nothing at p = 0 or 1."""
    p = check_real(p, "p", low=0.0, high=1.0)
    n = check_positive_int(n, "n")
    centre, half = p + z * z / (2 * n), z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return max((centre - half) / (1 + z * z / n), 0.0), min((centre + half) / (1 + z * z / n), 1.0)


def plot_guidance_tradeoff(ws: Sequence[float], accuracy: Sequence[float], accuracy_ci: Sequence[tuple],
                           variety: Sequence[Variety], real: Variety | None = None, n_samples: int | None = None):
    """Two panels: context accuracy (95 % interval) and within-class variety (bootstrap interval) against w."""
    import matplotlib.pyplot as plt
    ws, accuracy, accuracy_ci, variety = list(ws), list(accuracy), list(accuracy_ci), list(variety)
    if not ws or len({len(ws), len(accuracy), len(accuracy_ci), len(variety)}) != 1:
        raise ValueError(f"ws, accuracy, accuracy_ci and variety must have one entry per w, got lengths "
                         f"{len(ws)}, {len(accuracy)}, {len(accuracy_ci)}, {len(variety)}")
    if not all(isinstance(v, Variety) for v in variety + ([real] if real is not None else [])):
        raise TypeError("variety (and real) must be results of within_class_variety")
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    acc_err = [[max(a - lo, 0) for a, (lo, _) in zip(accuracy, accuracy_ci)],
               [max(hi - a, 0) for a, (_, hi) in zip(accuracy, accuracy_ci)]]
    left.errorbar(ws, accuracy, yerr=acc_err, fmt="o-", color="C0", capsize=3)
    left.axhline(1 / N_CLASSES, color="gray", ls=":", label=fmt("chance (1 in {0})", N_CLASSES))
    left.set(xlabel=tr("guidance weight w"), ylabel=tr("context accuracy"), ylim=(0, 1.05),
             title=tr("fidelity to the context"))
    left.legend(fontsize=8)
    err = [[max(v.mean - v.low, 0) for v in variety], [max(v.high - v.mean, 0) for v in variety]]   # ≥ 0
    right.errorbar(ws, [v.mean for v in variety], yerr=err, fmt="o-", color="C3", capsize=3, label=tr("samples"))
    if real is not None:
        right.axhspan(real.low, real.high, color="gray", alpha=0.3, label=tr("real sprites"))
    right.set(xlabel=tr("guidance weight w"), ylabel=tr("RMS pixel distance"), title=tr("variety within a class"))
    right.legend(fontsize=8)
    if n_samples is not None:
        fig.suptitle(fmt("{0} samples per w; bars: 95 % intervals (left), {1:.0%} bootstrap intervals (right)",
                         n_samples, variety[0].level), fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig
