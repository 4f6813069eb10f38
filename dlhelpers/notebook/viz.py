"""Pictures: sprite grids, denoising animations (``to_jshtml``, no ffmpeg) and GIFs.

Images arrive as model outputs in about [−1, 1], shaped (N, 3, H, W); they are clamped and mapped to [0, 1].
Sprites are scaled up with nearest-neighbour so the pixels stay crisp.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dlhelpers.io import atomic_write
from dlhelpers.validation import check_image_batch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [−1, 1] → (N, H, W, C) uint8."""
    check_image_batch(images, "images", finite=False)
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def make_grid(images: torch.Tensor, nrow: int = 8, pad: int = 1, scale: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile (N, C, H, W) images into one (rows·H, nrow·W, 3) uint8 array, ``scale``× nearest-neighbour."""
    arr = to_uint8(images)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    n, h, w, c = arr.shape
    nrow = max(1, min(nrow, n))
    rows = (n + nrow - 1) // nrow
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), pad_value, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = arr[i]
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid


def save_grid(path, images: torch.Tensor, nrow: int = 8, scale: int = 4) -> Path:
    from PIL import Image
    grid = make_grid(images, nrow=nrow, scale=scale)
    return atomic_write(path, lambda f: Image.fromarray(grid).save(f, format="PNG"))


def show_grid(images: torch.Tensor, nrow: int = 8, title: str | None = None, ax=None, row_labels=None):
    """Draw a grid with matplotlib (for notebooks); returns the axes."""
    import matplotlib.pyplot as plt
    grid = make_grid(images, nrow=nrow)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(12, 0.45 * grid.shape[1] / 8 + 1), min(10, 0.45 * grid.shape[0] / 8 + 1)))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if row_labels:
        h = grid.shape[0] / len(row_labels)
        for i, label in enumerate(row_labels):
            ax.text(-2, (i + 0.5) * h, label, ha="right", va="center", fontsize=9)
    return ax


def animate_frames(frames: torch.Tensor, timesteps: Sequence[int], nrow: int = 8, interval: int = 120):
    """A matplotlib animation of x_t over ``frames`` (F, N, C, H, W); display it with ``HTML(anim.to_jshtml())``."""
    import matplotlib.pyplot as plt
    from matplotlib import animation
    grids = [make_grid(f, nrow=nrow) for f in frames]
    fig, ax = plt.subplots(figsize=(min(10, grids[0].shape[1] / 20), min(8, grids[0].shape[0] / 20)))
    ax.set_axis_off()
    img = ax.imshow(grids[0], interpolation="nearest")
    title = ax.set_title(f"t = {timesteps[0]}")

    def update(i):
        img.set_data(grids[i])
        title.set_text(f"t = {timesteps[i]}")
        return img, title

    anim = animation.FuncAnimation(fig, update, frames=len(grids), interval=interval, blit=False)
    plt.close(fig)
    return anim


def save_gif(path, frames: torch.Tensor, nrow: int = 8, scale: int = 4, duration_ms: int = 100) -> Path:
    """The denoising as an animated GIF (Pillow; no ffmpeg needed)."""
    from PIL import Image
    pictures = [Image.fromarray(make_grid(f, nrow=nrow, scale=scale)) for f in frames]

    def write(f):
        pictures[0].save(f, format="GIF", save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)

    return atomic_write(path, write)
