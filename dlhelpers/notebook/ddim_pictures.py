"""Pictures for notebook 5 (DDIM and what came after): timestep strips, sample panels, the quality-vs-steps sweep.

* ``timesteps_strip``: the timesteps a sampler visits, τ_n = T > … > τ_0 = 0 (Song, Meng & Ermon, 2021,
  "Denoising Diffusion Implicit Models", arXiv:2010.02502, section 4.2: any sub-sequence of 1…T), one row of ticks
  per list, so an uneven last gap or a step below 0 is visible at a glance.
* ``sample_panels``: sprite grids side by side, e.g. DDPM (Ho et al., 2020, Algorithm 2) against DDIM (eq. 12) or
  DDIM against DPM-Solver++(2M) (Lu et al., 2022, arXiv:2211.01095, Algorithm 2) from the same starting noise x_T.
* ``plot_steps_sweep``: context accuracy and sprite FD — the Fréchet distance
  d² = |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2}) between Gaussians fitted to classifier features (Heusel et al.,
  2017, eq. 6) — against the number of sampler steps, with a reference sampler and the real-vs-real floor as lines.

* ``FDMeter``: the sprite FD of several sample sets against one reference, with jackknife standard errors (Efron &
  Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 11) per set and for a difference, so the notebook can
  tell a difference from noise. Not the bootstrap: resampling with replacement duplicates samples, which shrinks
  the covariances and inflates the FD; for 50 real sprites (10 per class) against the notebook's reference, the
  bootstrap's s.d. was 1.1 and its mean 3.6, while 71 disjoint sets of 50 gave FD 1.54 ± 0.31 (s.d.) and the
  jackknife's standard error was 0.39.

Only drawing and this bookkeeping live here; features and the FD formula come from ``dlhelpers.evaluation.metrics``.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch

from dlhelpers.evaluation.metrics import jackknife_se
from dlhelpers.notebook.viz import show_grid
from dlhelpers.validation import check_image_batch, check_positive_int
from dlhelpers.notebook.i18n import fmt, tr


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
    for y, ts in enumerate(reversed(list(rows.values()))):
        ax.plot(ts, [y] * len(ts), "-", color="0.75", zorder=1)
        inside = [t for t in ts if 0 <= t <= T]
        outside = [t for t in ts if not 0 <= t <= T]
        ax.scatter(inside, [y] * len(inside), s=14, color="C0", zorder=2)
        ax.scatter(outside, [y] * len(outside), s=30, color="C3", marker="x", zorder=3)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.axvline(T, color="0.3", lw=0.8)
    ax.set_yticks(range(len(rows)), list(reversed(list(rows))))
    ax.set_xlabel(tr("timestep t (the sampler walks from T on the left to 0 on the right)"))
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
        ax2.axhline(fd_floor, color="gray", ls=":", label=tr("as many real sprites"))
    ax1.set(xscale="log", xlabel=fmt("{0} steps", label), ylabel=tr("context accuracy ↑"), ylim=(0, 1.05))
    ax2.set(xscale="log", xlabel=fmt("{0} steps", label), ylabel=tr("sprite FD ↓"), ylim=(0, None))
    for ax in (ax1, ax2):
        ax.set_xticks(steps, [str(n) for n in steps])
        ax.minorticks_off()
        ax.legend()
    fig.tight_layout()
    return fig


class FDMeter:
    """Sprite FD of sample sets against one ``reference`` (N_ref, 3, 16, 16), with jackknife standard errors.

    ``add(name, samples)`` stores the set's classifier features and returns its FD (as ``sprite_fd`` computes it).
    ``se(name)``: the jackknife standard error of that FD over the samples (the FD recomputed with each sample left
    out in turn: √((N − 1)/N · Σ (FD₋ᵢ − mean)²)); ``diff(a, b)``: FD_a − FD_b with a 95 % interval, ± 1.96 times
    the jackknife standard error of the difference, leaving out sample i from both sets (sets drawn from the same
    x_T and contexts are paired by index; every set added must have the same size); ``ratio(num, den)``: a ratio
    of FDs or of FD differences with a 95 % interval (Fieller, 1954, with the jackknife's variances)."""

    def __init__(self, reference: torch.Tensor):
        from dlhelpers.evaluation import metrics

        check_image_batch(reference, "reference")
        self._m = metrics
        self._ref = metrics._gaussian(metrics.classifier_features(reference))
        self._fd, self._loo, self._n = {}, {}, None

    def add(self, name: str, samples: torch.Tensor) -> float:
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        check_image_batch(samples, "samples")
        n = samples.shape[0]
        if n < 3:
            raise ValueError(f"samples needs at least 3 images (the jackknife leaves one out), got {n}")
        if self._n is not None and n != self._n:
            raise ValueError(f"samples must hold {self._n} images like the sets before, got {n}")
        self._n = n
        f = self._m.classifier_features(samples)                                    # (N, 64)
        fd = lambda feats: self._m.frechet_distance(*self._m._gaussian(feats), *self._ref)
        self._fd[name] = fd(f)
        self._loo[name] = torch.tensor([fd(torch.cat([f[:i], f[i + 1:]])) for i in range(n)],
                                       dtype=torch.float64)                         # (N,) leave-one-out FDs
        return self._fd[name]

    def fd(self, name: str) -> float:
        return self._fd[self._known(name)]

    def _known(self, name):
        if name not in self._fd:
            raise KeyError(f"name: no sample set {name!r} added; known: {sorted(self._fd)}")
        return name

    def se(self, name: str) -> float:
        return jackknife_se(self._loo[self._known(name)])

    def diff(self, a: str, b: str) -> tuple[float, float, float]:
        """(FD_a − FD_b, low, high): the difference and its 95 % interval (± 1.96 jackknife standard errors)."""
        d = self.fd(a) - self.fd(b)
        half = 1.96 * jackknife_se(self._loo[self._known(a)] - self._loo[self._known(b)])
        return d, d - half, d + half

    def _term(self, term) -> tuple[float, torch.Tensor]:
        """A name → (FD, its leave-one-out FDs); a pair (a, b) → the same for FD_a − FD_b."""
        if isinstance(term, str):
            return self.fd(term), self._loo[self._known(term)]
        if isinstance(term, tuple) and len(term) == 2 and all(isinstance(n, str) for n in term):
            a, b = term
            return self.fd(a) - self.fd(b), self._loo[self._known(a)] - self._loo[self._known(b)]
        raise TypeError(f"a ratio's term must be a name or a pair of names (a, b) for FD_a − FD_b, got {term!r}")

    def ratio(self, num, den) -> tuple[float, float, float]:
        """(num / den, low, high): a ratio of FDs or of FD differences (each a name, or a pair (a, b) for
        FD_a − FD_b) with its 95 % interval by Fieller's method on the jackknife (co)variances: every r for which
        num − r·den is within 1.96 jackknife standard errors of 0. So the interval contains 1 exactly when
        ``diff`` finds num − den not distinguishable from 0. When the denominator itself is not distinguishable from
        0, no finite interval holds the ratio: low = −inf, high = +inf."""
        a, x = self._term(num)
        b, y = self._term(den)
        n, z2 = len(x), 1.96 ** 2
        xc, yc = x - x.mean(), y - y.mean()
        vxx, vxy, vyy = ((n - 1) / n * (u * v).sum().item() for u, v in ((xc, xc), (xc, yc), (yc, yc)))
        r = a / b if b != 0 else math.inf
        lead = b * b - z2 * vyy                     # > 0 ⇔ the denominator's interval is clear of 0
        if lead <= 0:
            return r, -math.inf, math.inf
        mid = a * b - z2 * vxy
        root = math.sqrt(max(mid * mid - lead * (a * a - z2 * vxx), 0.0))
        return r, (mid - root) / lead, (mid + root) / lead
