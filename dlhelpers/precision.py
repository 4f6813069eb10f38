"""The fast path: mixed precision and memory layout, chosen per device.

References
- Micikevicius et al., "Mixed Precision Training", 2018, arXiv:1710.03740 — low-precision compute with fp32
  master weights; bf16 (Kalamkar et al., arXiv:1905.12322) needs no loss scaling.
- PyTorch ``torch.autocast`` and the channels-last memory format (oneDNN convolutions on x86 CPUs prefer NHWC).

Measured on the course machine (2-core AMD Zen 4 with AVX-512 BF16, PyTorch 2.13, ``python -m dlhelpers bench``):
bf16 autocast roughly halves the UNet's forward and training-step time; channels-last adds a further few
percent, so both are on by default. Weights, optimizer state and the loss stay fp32.

``precision``: "auto", "fp32" (exact comparisons, tests; TF32 off on NVIDIA GPUs, ``full_precision``), or "bf16"
(force it, even where it is emulated and slow).
What "auto" picks, per device and job (``autocast_dtype``):

| device | sampling | training |
|---|---|---|
| CPU with AVX512-BF16/AMX (or Arm BF16) | bf16 | bf16 |
| other CPUs | fp32 | fp32 |
| CUDA GPU with native bf16 (Ampere and newer) | bf16 | bf16 |
| CUDA GPU without native bf16 (e.g. T4, V100) | fp16 | fp32 (fp16 training would need a gradient scaler) |
| Apple MPS | fp32 | fp32 |

The CPU rows are measured (``python -m dlhelpers bench``). The CUDA rows follow what the hardware executes natively
(``torch.cuda.is_bf16_supported(including_emulation=False)``); MPS stays fp32 because nothing else was measured
there.
"""
from __future__ import annotations

import contextlib
import functools
import os
import platform

import torch

from dlhelpers.validation import check_precision
from dlhelpers.validation import PRECISIONS  # noqa: F401 - re-exported from its home before validation.py


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """True when the CPU has bf16 dot-product instructions (x86 AVX512_BF16 / AMX, Arm BF16)."""
    if os.environ.get("DLHELPERS_NO_BF16"):
        return False
    if platform.system() == "Linux":
        try:
            with open("/proc/cpuinfo") as f:
                flags = f.read()
        except OSError:
            return False
        return any(flag in flags for flag in (" avx512_bf16", " amx_bf16", " bf16"))
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return False  # Apple's CPU bf16 path in PyTorch is not faster than fp32 today; MPS is the fast path
    return False


def cuda_has_native_bf16() -> bool:
    """True when the current CUDA GPU executes bf16 natively (not emulated through fp32)."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # PyTorch before 2.3 has no including_emulation argument
        return torch.cuda.get_device_capability()[0] >= 8


def autocast_dtype(precision: str, device, training: bool = False) -> torch.dtype | None:
    """The dtype autocast should use for ``precision`` on ``device`` (the table above); None means plain fp32."""
    check_precision(precision)
    device = torch.device(device)
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        if cuda_has_native_bf16():
            return torch.bfloat16
        return None if training else torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_native_bf16() else None
    return None  # MPS and others: fp32


def autocast(precision: str, device, training: bool = False):
    """A context manager for the forward pass under ``precision`` on ``device``; fp32 is ``full_precision()``."""
    dtype = autocast_dtype(precision, device, training)
    device = torch.device(device)
    if dtype is None:
        return full_precision() if device.type == "cuda" else contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def full_precision():
    """fp32 that is fp32: on NVIDIA GPUs PyTorch runs fp32 convolutions in TF32 by default (10 mantissa bits,
    ``torch.backends.cudnn.allow_tf32``), so two fp32 runs that differ only in memory layout drift apart over a
    sampler's steps (seen on an H200: DDIM-25 no longer agreed to 0.01). Inside this block TF32 is off for
    convolutions and matmuls; the previous settings come back after. Nothing changes on CPUs or Apple GPUs."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def use_channels_last(device) -> bool:
    """Channels-last helps oneDNN's convolutions on CPU and tensor cores on CUDA; MPS gains nothing."""
    return torch.device(device).type in ("cpu", "cuda")


def to_memory_format(x: torch.Tensor, device=None) -> torch.Tensor:
    if x.ndim == 4 and use_channels_last(device if device is not None else x.device):
        return x.contiguous(memory_format=torch.channels_last)
    return x


def prepare_model(model: torch.nn.Module, device=None) -> torch.nn.Module:
    """Move ``model`` to ``device`` (default: where it is) in the fast memory format, in place."""
    if device is None:
        device = next(model.parameters()).device
    model.to(device)
    if use_channels_last(device):
        model.to(memory_format=torch.channels_last)
    return model
