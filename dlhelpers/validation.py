"""Argument checks shared by every public function: the package's one validation layer.

A student's mistake should stop at the door with a message naming the argument and what was expected, never
as an IndexError from deep inside a convolution or, worse, as a silently wrong picture. Types raise ``TypeError``,
values and shapes ``ValueError``; every message starts with the argument's name.

Checks that read tensor *values* (finite, timesteps in range) force a host–device synchronisation on a GPU, so
they run once at public entry points (``sample_*``, ``ddpm_step``, ``add_noise``, ``train``), never inside
``ContextUnet.forward`` or the samplers' and trainer's per-step loops.
"""
from __future__ import annotations

import numbers

import torch

from dlhelpers.devices import same_device

PRECISIONS = ("auto", "fp32", "bf16")


def _is_compiling() -> bool:
    try:
        return torch.compiler.is_compiling()
    except AttributeError:  # very old torch
        return False


def check_tensor(x, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")


def check_finite(x: torch.Tensor, name: str) -> None:
    if _is_compiling():
        return
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def check_image_batch(x, name: str, channels: int | None = None, finite: bool = True) -> None:
    """A non-empty float batch shaped (B, C, H, W)."""
    check_tensor(x, name)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W), got {tuple(x.shape)} ({x.ndim} dims)")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0)")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if finite:
        check_finite(x, name)


def check_same_device(**tensors) -> None:
    """All given tensors (None skipped) on one device, compared by resolved type and index."""
    items = [(k, v) for k, v in tensors.items() if isinstance(v, torch.Tensor)]
    if not items:
        return
    first_name, first = items[0]
    for name, value in items[1:]:
        if not same_device(value.device, first.device):
            raise ValueError(f"{name} is on {value.device} but {first_name} is on {first.device}; "
                             f"move them to the same device")


def check_precision(precision) -> str:
    """One of ``PRECISIONS``: "auto" (the device's fast path), "fp32" (exact), "bf16" (forced)."""
    if not isinstance(precision, str):
        raise TypeError(f"precision must be a string, one of {PRECISIONS}, got {type(precision).__name__}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def check_step_tensors(x_t, eps_pred, z) -> None:
    """The tensors of one reverse step (DDPM or DDIM): same shape, same device, finite."""
    check_image_batch(x_t, "x_t")
    check_image_batch(eps_pred, "eps_pred")
    if eps_pred.shape != x_t.shape:
        raise ValueError(f"eps_pred must have the shape of x_t {tuple(x_t.shape)}, got {tuple(eps_pred.shape)}")
    if z is not None:
        check_image_batch(z, "z")
        if z.shape != x_t.shape:
            raise ValueError(f"z must have the shape of x_t {tuple(x_t.shape)}, got {tuple(z.shape)}")
    check_same_device(x_t=x_t, eps_pred=eps_pred, z=z)


def check_int_timesteps(t, T: int, batch: int, name: str, device) -> int | torch.Tensor:
    """An int in 0…T, or an integer tensor of shape (B,) (or a 0-d tensor) with values in 0…T.

    Returns an int or a (B,) int64 tensor on ``device``.
    """
    if isinstance(t, bool):
        raise TypeError(f"{name} must be an int or an integer tensor, got bool")
    if isinstance(t, numbers.Integral):
        t = int(t)
        if not 0 <= t <= T:
            raise ValueError(f"{name} must be in 0…{T}, got {t}")
        return t
    if isinstance(t, torch.Tensor):
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must be an integer timestep (0…{T}), got a {t.dtype} tensor; "
                            f"pass torch.long indices, not t/T")
        if t.ndim == 0:
            t = t.reshape(1).expand(batch)
        if t.ndim != 1 or t.shape[0] != batch:
            raise ValueError(f"{name} must be an int or have shape ({batch},), got shape {tuple(t.shape)}")
        if not same_device(t.device, device):
            raise ValueError(f"{name} is on {t.device} but the images are on {device}")
        if not _is_compiling() and bool(((t < 0) | (t > T)).any()):
            raise ValueError(f"{name} must be in 0…{T}, got values from {int(t.min())} to {int(t.max())}")
        return t.long()
    raise TypeError(f"{name} must be an int or an integer tensor, got {type(t).__name__}")


def check_context(c, batch: int, n_cfeat: int, name: str = "context", device=None, finite: bool = True):
    """None (the null context) or a float tensor (B, n_cfeat); one (n_cfeat,) vector or (1, n_cfeat) row is
    broadcast over the batch. An all-zero row is the null context, exactly like None."""
    if c is None:
        return None
    check_tensor(c, name)
    if not c.is_floating_point():
        raise TypeError(f"{name} must be a float tensor of one-hot / mixture weights, got dtype {c.dtype}")
    if c.ndim == 1:
        c = c.unsqueeze(0)
    if c.ndim != 2 or c.shape[1] != n_cfeat:
        raise ValueError(f"{name} must have shape (B, {n_cfeat}), (1, {n_cfeat}) or ({n_cfeat},), got {tuple(c.shape)}")
    if c.shape[0] == 1 and batch != 1:
        c = c.expand(batch, -1)
    if c.shape[0] != batch:
        raise ValueError(f"{name} has {c.shape[0]} rows but the batch has {batch} images")
    if device is not None and not same_device(c.device, device):
        raise ValueError(f"{name} is on {c.device} but the images are on {device}")
    if finite:
        check_finite(c, name)
    return c


def check_positive_int(value, name: str, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if value < low or (high is not None and value > high):
        rng = f"in {low}…{high}" if high is not None else f"≥ {low}"
        raise ValueError(f"{name} must be {rng}, got {value}")
    return value


def check_real(value, name: str, low: float | None = None, high: float | None = None,
               open_interval: bool = False) -> float:
    """A real number in [low, high] (None: unbounded on that side); ``open_interval`` leaves the bounds out."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if value != value:
        raise ValueError(f"{name} must not be NaN")
    if value in (float("inf"), float("-inf")):   # an infinite guidance scale or η gives NaN pictures, silently
        raise ValueError(f"{name} must be a finite number, got {value}")
    below = low is not None and (value <= low if open_interval else value < low)
    above = high is not None and (value >= high if open_interval else value > high)
    if below or above:
        lo = f"({low}" if open_interval and low is not None else ("(−∞" if low is None else f"[{low}")
        hi = f"{high})" if open_interval and high is not None else ("∞)" if high is None else f"{high}]")
        raise ValueError(f"{name} must be in {lo}, {hi}, got {value}")
    return value


def check_generator(generator, name: str = "generator") -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {type(generator).__name__}")
