"""Pictures for notebook 6 (flow matching): the two paths, how trajectories bend, quality against network calls.

* ``plot_paths``: both paths written as x_t = a_t·x₀ + s_t·ε — DDPM's a_t = √ᾱ_t, s_t = √(1 − ᾱ_t) (Ho et al. 2020,
  arXiv:2006.11239, eq. 4) against the straight path a_t = 1 − t, s_t = t (Lipman et al. 2023, arXiv:2210.02747,
  eq. 20 with σ_min = 0; Liu et al. 2023, arXiv:2209.03003) — the coefficients against the fraction of the way to
  noise, and the curve (a_t, s_t) itself: DDPM's lies on the circle a² + s² = 1, the straight path's on a line.
* ``bend``, ``plot_bends``: each sampled trajectory (saved frames x_k, ``SampleResult.frames``) in the plane of its
  own chord: the distance travelled along the chord x_end − x_start and the distance from it, both divided by the
  chord's length — a straight trajectory runs along the axis from 0 to 1. ``dlhelpers.flow.straightness`` gives one
  number per trajectory (chord ÷ arc length).
* ``plot_calls_sweep``: context accuracy and sprite FD (Heusel et al. 2017, eq. 6, on the course's classifier
  features) against the number of network calls, one line per sampler, FD with its 95 % interval (± 1.96 jackknife
  standard errors, ``ddim_pictures.FDMeter``) and the real-vs-real floor.

Only drawing lives here; samplers, metrics and the intervals come from the library and ``ddim_pictures``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from dlhelpers.notebook.i18n import tr
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.validation import check_positive_int


def plot_paths(schedule: NoiseSchedule, n: int = 101):
    """Two panels: a_t and s_t against the fraction τ of the way to noise (t/T for DDPM, t for the straight path),
    and the curves (a_t, s_t). Returns the figure."""
    import matplotlib.pyplot as plt

    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    n = check_positive_int(n, "n", low=2)
    T = schedule.timesteps
    steps = torch.linspace(0, T, n).round().long()                              # (n,) integer timesteps
    tau = steps.double() / T                                                     # (n,)
    ab = schedule.alpha_bar.detach().double().cpu()[steps]                       # (n,)
    a_ddpm, s_ddpm, a_flow, s_flow = ab.sqrt(), (1 - ab).sqrt(), 1 - tau, tau
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    ax1.plot(tau, a_ddpm, "C0-", label=tr("DDPM: a = √ᾱ (sprite)"))
    ax1.plot(tau, s_ddpm, "C0--", label=tr("DDPM: s = √(1 − ᾱ) (noise)"))
    ax1.plot(tau, a_flow, "C1-", label=tr("straight: a = 1 − t (sprite)"))
    ax1.plot(tau, s_flow, "C1--", label=tr("straight: s = t (noise)"))
    ax1.set(xlabel=tr("fraction of the way to noise (t/T for DDPM, t for the straight path)"),
            ylabel=tr("coefficient"), ylim=(0, 1.05))
    ax1.legend(fontsize=8)
    ax2.plot(a_ddpm, s_ddpm, "C0-", label=tr("DDPM"))
    ax2.plot(a_flow, s_flow, "C1-", label=tr("straight"))
    ax2.scatter([1], [0], color="k", zorder=3)
    ax2.annotate(tr("sprite"), (1, 0), textcoords="offset points", xytext=(-10, 8), ha="right")
    ax2.annotate(tr("noise"), (0, 1), textcoords="offset points", xytext=(8, -4))
    ax2.set(xlabel=tr("a (weight of the sprite x₀)"), ylabel=tr("s (weight of the noise ε)"), aspect="equal",
            xlim=(-0.02, 1.05), ylim=(-0.02, 1.05))
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _check_frames(frames, name: str = "frames") -> torch.Tensor:
    if not isinstance(frames, torch.Tensor) or frames.ndim != 5 or frames.shape[0] < 2:
        raise ValueError(f"{name} must be a (F ≥ 2, N, C, H, W) tensor such as SampleResult.frames, got "
                         f"{tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__}")
    return frames


def bend(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each trajectory in the plane of its chord: (along, off), both (F, N), in units of the chord's length.

    along_k = (x_k − x_0)·c / |c|², off_k = |x_k − x_0 − along_k·c| / |c| with c = x_end − x_0 (x_0 here is the first
    frame, the noise). A straight trajectory has off = 0 and along running from 0 to 1."""
    flat = _check_frames(frames).double().flatten(2)                             # (F, N, D)
    p = flat - flat[:1]                                                          # (F, N, D) from the start
    c = p[-1]                                                                    # (N, D) the chord
    c2 = c.pow(2).sum(-1).clamp(min=1e-24)                                       # (N,)
    along = (p * c).sum(-1) / c2                                                 # (F, N)
    off = (p - along.unsqueeze(-1) * c).norm(dim=-1) / c2.sqrt()                 # (F, N)
    return along.float(), off.float()


def plot_bends(trajectories: Mapping[str, torch.Tensor], n: int = 8):
    """One panel per sampler: the first ``n`` trajectories of its frames (F, N, C, H, W) drawn by ``bend``, with
    the straight chord dashed. Returns the figure."""
    import matplotlib.pyplot as plt

    if not isinstance(trajectories, Mapping) or not trajectories:
        raise TypeError(f"trajectories must be a non-empty dict {{name: frames}}, got {type(trajectories).__name__}")
    n = check_positive_int(n, "n")
    fig, axes = plt.subplots(1, len(trajectories), figsize=(4.6 * len(trajectories), 3.2), squeeze=False,
                             sharey=True)
    for ax, (label, frames) in zip(axes[0], trajectories.items()):
        along, off = bend(_check_frames(frames, f"trajectories[{label!r}]"))
        for i in range(min(n, along.shape[1])):
            ax.plot(along[:, i], off[:, i], "-", lw=1, alpha=0.8)
        ax.plot([0, 1], [0, 0], "k--", lw=1)
        ax.set(title=str(label), xlabel=tr("progress along the chord (noise 0 → sprite 1)"))
    axes[0][0].set_ylabel(tr("distance from the chord ÷ chord length"))
    fig.tight_layout()
    return fig


def plot_calls_sweep(calls: Mapping[str, Sequence[int]], accuracy: Mapping[str, Sequence[float]],
                     fd: Mapping[str, Sequence[float]], fd_se: Mapping[str, Sequence[float]],
                     fd_floor: float | None = None, ticks: Sequence[int] | None = None):
    """Two panels against network calls (log axis), one line per sampler: context accuracy ↑, and sprite FD ↓ with
    its 95 % interval (± 1.96 s.e.) on a log axis. Every mapping is keyed by sampler name with one value per entry of
    ``calls[name]``; ``ticks``: the labelled call counts (default: every count). Returns the figure."""
    import matplotlib.pyplot as plt

    if not isinstance(calls, Mapping) or not calls:
        raise TypeError(f"calls must be a non-empty dict {{sampler: [network calls, …]}}, got {type(calls).__name__}")
    for what, table in (("accuracy", accuracy), ("fd", fd), ("fd_se", fd_se)):
        if not isinstance(table, Mapping) or set(table) != set(calls):
            raise ValueError(f"{what} must be a dict with the samplers of calls {sorted(calls)}")
        for name in calls:
            if len(table[name]) != len(calls[name]):
                raise ValueError(f"{what}[{name!r}] must hold {len(calls[name])} values, one per entry of calls")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    ticks = sorted({int(c) for cs in calls.values() for c in cs} if ticks is None else
                   {check_positive_int(c, "ticks") for c in ticks})
    for k, name in enumerate(calls):
        style = dict(marker="o", ls="-", color=f"C{k}", label=str(name), ms=4)
        ax1.plot(calls[name], accuracy[name], **style)
        ax2.errorbar(calls[name], fd[name], yerr=[1.96 * float(s) for s in fd_se[name]], capsize=3, **style)
    if fd_floor is not None:
        ax2.axhline(float(fd_floor), color="gray", ls=":", label=tr("as many real sprites"))
    ax1.set(ylabel=tr("context accuracy ↑"), ylim=(0, 1.05))
    ax2.set(ylabel=tr("sprite FD ↓ (95 % interval, log scale)"), yscale="log")   # 1 call's FD dwarfs the rest
    for ax in (ax1, ax2):
        ax.set(xscale="log", xlabel=tr("network calls per sprite"))
        ax.set_xticks(ticks, [str(c) for c in ticks])
        ax.minorticks_off()
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
