"""Pictures and measurements for notebook 1 (sampling), drawn at run time from real tensors.

Reference: Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", 2020, arXiv:2006.11239.
- ``forward_strip``: the forward process, eq. (4) reparameterised, x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, for one sprite
  and one ε at several t (``NoiseSchedule.add_noise``).
- ``one_step_diagram``: one reverse step of Algorithm 2 with its parts as images,
  x_t → ε_θ(x_t, t) → μ_θ = 1/√α_t · (x_t − (1 − α_t)/√(1 − ᾱ_t) · ε_θ) (eq. 11) → x_{t−1} = μ_θ + √β_t z.
- ``sample_stats``: three numbers describing a batch of samples (spread, how much two samples differ, edges),
  used to compare DDPM with and without the extra noise against real sprites.
Images are (N, C, H, W) in about [−1, 1]; they are clamped to [−1, 1] for display only.
"""
from __future__ import annotations

from typing import Sequence

import torch

from dlhelpers.ddpm import ddpm_step
from dlhelpers.evaluation.metrics import jackknife_se as standard_error
from dlhelpers.notebook.viz import make_grid
from dlhelpers.validation import check_image_batch
from dlhelpers.notebook.i18n import fmt, tr


def _one_image(x, name):
    """(C, H, W) or (1, C, H, W) → (1, C, H, W)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor image, got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"{name} must be one image, (C, H, W) or (1, C, H, W), got {tuple(x.shape)}")
    check_image_batch(x, name, finite=False)
    return x


def _timesteps(timesteps, T, name="timesteps"):
    if isinstance(timesteps, (str, bytes)) or not isinstance(timesteps, Sequence) or not timesteps:
        raise TypeError(f"{name} must be a non-empty sequence of ints, got {type(timesteps).__name__}")
    for t in timesteps:
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= T:
            raise ValueError(f"{name} must hold ints in 0…{T}, got {t!r}")
    return list(timesteps)


def forward_strip(schedule, x0: torch.Tensor, timesteps=(0, 50, 100, 200, 300, 500),
                  generator: torch.Generator | None = None, ax=None):
    """Draw one sprite buried under the *same* noise ε at growing t; returns the matplotlib axes.

    ``x0``: one image (C, H, W) or (1, C, H, W); the noise is drawn with ``generator`` on x0's device."""
    import matplotlib.pyplot as plt

    x0 = _one_image(x0, "x0")
    ts = _timesteps(timesteps, schedule.timesteps)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)   # (1, C, H, W)
    n = len(ts)
    t = torch.tensor(ts, device=x0.device)                                                # (n,)
    x_t = schedule.add_noise(x0.expand(n, -1, -1, -1), t, eps.expand(n, -1, -1, -1))   # (n, C, H, W)
    grid = make_grid(x_t, nrow=n, pad=2)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.35 * n, 2.0))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    w = grid.shape[1] / n
    ab = schedule.alpha_bar.cpu()
    for i, ti in enumerate(ts):
        ax.text((i + 0.5) * w, grid.shape[0] + 1, f"t = {ti}\n√ᾱ_t = {ab[ti].sqrt():.2f}", ha="center", va="top",
                fontsize=9)
    ax.set_title(tr("forward process: x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε, one sprite, one ε"), fontsize=10)
    return ax


def _panel(ax, image, title, caption, color):
    ax.imshow(make_grid(image, nrow=1, pad=0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(color)
        spine.set_linewidth(2.5)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(caption, fontsize=8.5)


def _arrow(fig, a, b, label, rad=0.0, ya=0.5, yb=0.5, label_dy=0.0):
    from matplotlib.patches import ConnectionPatch
    con = ConnectionPatch(xyA=(1.04, ya), coordsA=a.transAxes, xyB=(-0.04, yb), coordsB=b.transAxes,
                          arrowstyle="-|>", mutation_scale=14, lw=1.4, color="0.25",
                          connectionstyle=f"arc3,rad={rad}")
    fig.add_artist(con)
    pa = fig.transFigure.inverted().transform(a.transAxes.transform((1.0, ya)))
    pb = fig.transFigure.inverted().transform(b.transAxes.transform((0.0, yb)))
    fig.text((pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2 + 0.06 + label_dy, label, ha="center", va="bottom",
             fontsize=9)


def one_step_diagram(x_t: torch.Tensor, t: int, eps: torch.Tensor, schedule, z: torch.Tensor):
    """Draw one DDPM reverse step as boxes and arrows, with the actual images; returns the figure.

    ``x_t``, ``eps`` (the model's ε_θ(x_t, t)) and ``z`` (fresh N(0, I) noise): one image each, (C, H, W) or
    (1, C, H, W); ``t``: an int in 2…T (at t = 1 there is no noise to draw)."""
    import matplotlib.pyplot as plt

    x_t, eps, z = _one_image(x_t, "x_t"), _one_image(eps, "eps"), _one_image(z, "z")
    if isinstance(t, bool) or not isinstance(t, int) or not 2 <= t <= schedule.timesteps:
        raise ValueError(f"t must be an int in 2…{schedule.timesteps}, got {t!r}")
    if eps.shape != x_t.shape or z.shape != x_t.shape:
        raise ValueError(f"eps and z must have the shape of x_t {tuple(x_t.shape)}, "
                         f"got {tuple(eps.shape)} and {tuple(z.shape)}")
    x_t, eps, z = x_t.float(), eps.float().to(x_t.device), z.float().to(x_t.device)
    mean = ddpm_step(x_t, t, eps, schedule, z=torch.zeros_like(z))   # (1, C, H, W): μ_θ(x_t, t)
    sigma = float(schedule.beta[t].sqrt())
    x_prev = mean + sigma * z                                         # (1, C, H, W): x_{t−1}
    change = float((x_prev - x_t).abs().mean())

    fig, axes = plt.subplots(1, 5, figsize=(12.5, 3.3))
    fig.subplots_adjust(left=0.02, right=0.98, top=0.72, bottom=0.18, wspace=0.55)
    blue, orange, green, grey = "tab:blue", "tab:orange", "tab:green", "0.45"
    _panel(axes[0], x_t, f"x_t  (t = {t})", "where we are", blue)
    _panel(axes[1], eps, "ε_θ(x_t, t)", "the network's guess\nof the noise in x_t", orange)
    _panel(axes[2], mean, "mean μ_θ", "x_t with a share of ε removed,\nrescaled by 1/√α_t", green)
    _panel(axes[3], z, "z ~ N(0, I)", f"fresh noise; it is added\nscaled by √β_t = {sigma:.3f}", grey)
    _panel(axes[4], x_prev, f"x_(t−1)  (t−1 = {t - 1})", f"= μ_θ + √β_t·z\nmean |x_(t−1) − x_t| = {change:.3f}",
           blue)
    _arrow(fig, axes[0], axes[1], "network")
    _arrow(fig, axes[1], axes[2], "remove,\nrescale")
    _arrow(fig, axes[2], axes[3], "+ √β_t ·")
    _arrow(fig, axes[3], axes[4], "=")
    fig.suptitle(fmt("one DDPM step at t = {0}:  x_(t−1) = (x_t − (1−α_t)/√(1−ᾱ_t)·ε_θ)/√α_t + √β_t·z", t),
                 fontsize=11)
    return fig


def sample_stats(x: torch.Tensor) -> dict:
    """Three numbers for a batch (N ≥ 2, C, H, W): ``spread`` (std of all pixel values), ``differ`` (root mean
    square difference between two different images, averaged over all pairs) and ``edges`` (mean |difference|
    between neighbouring pixels: high for crisp outlines, low for smooth blobs)."""
    check_image_batch(x, "x")
    if x.shape[0] < 2:
        raise ValueError(f"x must hold at least 2 images to compare pairs, got {x.shape[0]}")
    x = x.detach().float().cpu()
    n = x.shape[0]
    flat = x.reshape(n, -1)                                         # (N, C·H·W)
    dist = torch.cdist(flat, flat) / flat.shape[1] ** 0.5           # (N, N): RMS difference per pair
    differ = dist.sum() / (n * (n - 1))
    edges = ((x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()) / 2
    return {"spread": float(x.std()), "differ": float(differ), "edges": float(edges)}


def jackknife_se(x: torch.Tensor) -> dict:
    """Standard errors of ``sample_stats`` over the images of a batch (N ≥ 3), by the jackknife: recompute with
    each image left out; s.e. = √((N − 1)/N · Σ (θ₋ᵢ − θ̄)²). Deterministic, no random draws."""
    check_image_batch(x, "x")
    n = x.shape[0]
    if n < 3:
        raise ValueError(f"x must hold at least 3 images for a jackknife, got {n}")
    loo = [sample_stats(torch.cat([x[:i], x[i + 1:]])) for i in range(n)]
    return {key: standard_error([d[key] for d in loo]) for key in loo[0]}


def stats_table(rows: dict) -> str:
    """``{label: (N, C, H, W) batch}`` → an aligned text table of ``sample_stats`` ± jackknife s.e., one row per
    batch (N ≥ 3)."""
    if not isinstance(rows, dict) or not rows:
        raise TypeError(f"rows must be a non-empty dict of label → image batch, got {type(rows).__name__}")
    width = max(len(str(k)) for k in rows) + 2
    lines = [f"{'':{width}}{'images':>7} {'spread':>12} {'differ':>12} {'edges':>12}"]
    for label, x in rows.items():
        s, se = sample_stats(x), jackknife_se(x)
        cells = " ".join(f"{s[k]:>5.2f} ± {se[k]:.2f}" for k in ("spread", "differ", "edges"))
        lines.append(f"{str(label):{width}}{x.shape[0]:>7} {cells}")
    lines.append(f"{'':{width}}(± one standard error over the images, jackknife)")
    return "\n".join(lines)


def resemblance(a: torch.Tensor, b: torch.Tensor) -> tuple:
    """Per-image Pearson correlation between two batches (N ≥ 2, C, H, W) of the same shape: (mean, s.e. over
    the images). 1 means the same picture up to brightness and contrast, 0 unrelated."""
    check_image_batch(a, "a")
    check_image_batch(b, "b")
    if a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(f"a and b must be batches of the same shape with at least 2 images, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    x = a.detach().float().cpu().flatten(1)
    y = b.detach().float().cpu().flatten(1)
    x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
    r = (x * y).sum(1) / (x.norm(dim=1) * y.norm(dim=1)).clamp(min=1e-12)      # (N,)
    return float(r.mean()), float(r.std() / r.numel() ** 0.5)
