"""Pictures for notebook 5 (DDIM and what came after): timestep strips, sample panels, the quality-vs-steps sweep.

* ``timesteps_strip``: the timesteps a sampler visits, τ_n = T > … > τ_0 = 0 (Song, Meng & Ermon, 2021,
  "Denoising Diffusion Implicit Models", arXiv:2010.02502, section 4.2: any sub-sequence of 1…T), one row of ticks
  per list, so an uneven last gap or a step below 0 is visible at a glance.
* ``sample_panels``: sprite grids side by side, e.g. DDPM (Ho et al., 2020, Algorithm 2) against DDIM (eq. 12) or
  DDIM against DPM-Solver++(2M) (Lu et al., 2022, arXiv:2211.01095, Algorithm 2) from the same starting noise x_T.
* ``plot_steps_sweep``: context accuracy and sprite FD — the Fréchet distance
  d² = |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2}) between Gaussians fitted to classifier features (Heusel et al.,
  2017, eq. 6) — against the number of sampler steps, with a reference sampler and the real-vs-real floor as lines.

Only drawing lives here; the numbers come from ``dlhelpers.evaluation.metrics``.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch

from dlhelpers.notebook.viz import show_grid
from dlhelpers.validation import check_image_batch, check_positive_int


def _check_ints(values, name: str) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise TypeError(f"{name} must be a non-empty list of ints, got {type(values).__name__}")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise TypeError(f"{name} must hold ints only, got {[type(v).__name__ for v in values]}")
    return list(values)


def _check_numbers(values, name: str, n: int) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) != n:
        raise ValueError(f"{name} must be a list of {n} numbers (one per step count), got {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{name} must hold numbers, got {type(v).__name__}")
        out.append(float(v))
    return out


def _check_number(value, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number or None, got {value!r}")
    return float(value)


def timesteps_strip(T: int, lists: Mapping[str, Sequence[int]], ax=None):
    """One row per labelled list of timesteps: a dot at each visited t, a line for each step t → t_prev.

    Values outside 0…T (a step that overshoots below 0) are drawn in red. Returns the axes."""
    import matplotlib.pyplot as plt

    T = check_positive_int(T, "T")
    if not isinstance(lists, Mapping) or not lists:
        raise TypeError(f"lists must be a non-empty dict {{label: timesteps}}, got {type(lists).__name__}")
    rows = {str(label): _check_ints(ts, f"lists[{label!r}]") for label, ts in lists.items()}
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.6 + 0.5 * len(rows)))
    for y, (label, ts) in enumerate(reversed(list(rows.items()))):
        ax.plot(ts, [y] * len(ts), "-", color="0.75", zorder=1)
        inside = [t for t in ts if 0 <= t <= T]
        outside = [t for t in ts if not 0 <= t <= T]
        ax.scatter(inside, [y] * len(inside), s=14, color="C0", zorder=2)
        ax.scatter(outside, [y] * len(outside), s=30, color="C3", marker="x", zorder=3)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.axvline(T, color="0.3", lw=0.8)
    ax.set_yticks(range(len(rows)), list(reversed(list(rows))))
    ax.set_xlabel("timestep t (the sampler walks from T on the left to 0 on the right)")
    ax.invert_xaxis()
    return ax


def sample_panels(panels: Sequence[tuple[str, torch.Tensor]], nrow: int, row_labels: Sequence[str] | None = None,
                  width_per_panel: float = 3.4):
    """Sprite grids side by side: ``panels`` = [(title, samples (N, 3, H, W) in [−1, 1]), …]; row labels on the
    first panel only. Returns the figure."""
    import matplotlib.pyplot as plt

    if isinstance(panels, (str, bytes)) or not isinstance(panels, Sequence) or not panels:
        raise TypeError(f"panels must be a non-empty list of (title, samples) pairs, got {type(panels).__name__}")
    nrow = check_positive_int(nrow, "nrow")
    for i, panel in enumerate(panels):
        if not (isinstance(panel, tuple) and len(panel) == 2 and isinstance(panel[0], str)):
            raise TypeError(f"panels[{i}] must be a (title, samples) pair, got {type(panel).__name__}")
        check_image_batch(panel[1], f"panels[{i}] samples", finite=False)
    if isinstance(width_per_panel, bool) or not isinstance(width_per_panel, (int, float)) or width_per_panel <= 0:
        raise ValueError(f"width_per_panel must be a positive number, got {width_per_panel!r}")
    fig, axes = plt.subplots(1, len(panels), figsize=(width_per_panel * len(panels), 3.6), squeeze=False)
    for k, (ax, (title, samples)) in enumerate(zip(axes[0], panels)):
        show_grid(samples.detach().float().cpu(), nrow=nrow, title=title, ax=ax,   # (N, 3, H, W)
                  row_labels=list(row_labels) if (row_labels and k == 0) else None)
    fig.tight_layout()
    return fig


def plot_steps_sweep(steps: Sequence[int], accuracy: Sequence[float], fd: Sequence[float],
                     reference: tuple[str, float, float] | None = None, fd_floor: float | None = None,
                     label: str = "DDIM"):
    """Two panels against the number of steps (log axis): context accuracy ↑ and sprite FD ↓.

    ``reference`` = (name, accuracy, FD) of a sampler drawn as a dashed line (e.g. DDPM-500); ``fd_floor``: the FD
    of as many real sprites, drawn dotted. Returns the figure."""
    import matplotlib.pyplot as plt

    steps = _check_ints(steps, "steps")
    accuracy = _check_numbers(accuracy, "accuracy", len(steps))
    fd = _check_numbers(fd, "fd", len(steps))
    fd_floor = _check_number(fd_floor, "fd_floor")
    if reference is not None:
        if not (isinstance(reference, tuple) and len(reference) == 3 and isinstance(reference[0], str)):
            raise TypeError(f"reference must be a (name, accuracy, fd) tuple or None, got {reference!r}")
        _check_number(reference[1], "reference accuracy")
        _check_number(reference[2], "reference fd")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    ax1.plot(steps, accuracy, "o-", label=label)
    ax2.plot(steps, fd, "o-", label=label)
    if reference is not None:
        ax1.axhline(reference[1], color="C1", ls="--", label=reference[0])
        ax2.axhline(reference[2], color="C1", ls="--", label=reference[0])
    if fd_floor is not None:
        ax2.axhline(fd_floor, color="gray", ls=":", label="as many real sprites")
    ax1.set(xscale="log", xlabel=f"{label} steps", ylabel="context accuracy ↑", ylim=(0, 1.05))
    ax2.set(xscale="log", xlabel=f"{label} steps", ylabel="sprite FD ↓", ylim=(0, None))
    for ax in (ax1, ax2):
        ax.set_xticks(steps, [str(n) for n in steps])
        ax.minorticks_off()
        ax.legend()
    fig.tight_layout()
    return fig
