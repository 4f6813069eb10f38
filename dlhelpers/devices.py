"""Which device a computation runs on, and whether two things are on the same one.

A device written without an index (``torch.device("cuda")``) and the device PyTorch reports for a tensor
(``cuda:0``) name the same GPU, but ``torch.device("cuda") != torch.device("cuda:0")``. Every "is this on the
model's device?" question in the package goes through ``same_device``, which compares the resolved type and index,
so a generator built with ``torch.Generator(device="cuda")`` works with a model on ``cuda:0``.

``pick_device("auto")`` is the choice the notebooks and the CLI make: CUDA, then Apple's MPS, then the CPU.
"""
from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """"auto" → CUDA if available, then MPS, then the CPU; "cpu", "cuda", "cuda:1", "mps" → that device.

    Asking for a device this machine does not have is a ``ValueError`` that says what is available."""
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {type(name).__name__}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device must be one of {DEVICE_CHOICES} (or e.g. 'cuda:1'), got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but this PyTorch sees no CUDA GPU; "
                         "use device='auto' or 'cpu'")
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"device {name!r} was asked for, but MPS is not available here; use device='auto' or 'cpu'")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be one of {DEVICE_CHOICES}, got {name!r}")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve(device) -> torch.device:
    """The device with its index filled in: "cuda" → cuda:<current>, "mps" → mps:0; the CPU stays "cpu"."""
    device = torch.device(device)
    if device.index is not None or device.type == "cpu":
        return device
    if device.type == "cuda":
        index = torch.cuda.current_device() if torch.cuda.is_available() else 0
        return torch.device("cuda", index)
    return torch.device(device.type, 0)


def same_device(a, b) -> bool:
    """True when ``a`` and ``b`` (devices or names) are the same device once both are resolved."""
    ra, rb = resolve(a), resolve(b)
    if ra.type == "cpu" and rb.type == "cpu":
        return True  # "cpu" and "cpu:0" are the same CPU
    return ra.type == rb.type and ra.index == rb.index


def model_device(model: torch.nn.Module) -> torch.device:
    """Where ``model``'s parameters live (the CPU for a model without parameters)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def check_on_device(thing, name: str, device, device_name: str = "the model") -> None:
    """Raise ``ValueError`` unless ``thing`` (a tensor, generator or device; None passes) is on ``device``.

    ``name`` names the argument being checked; the message names both devices."""
    if thing is None:
        return
    have = thing.device if hasattr(thing, "device") else torch.device(thing)
    if not same_device(have, device):
        raise ValueError(f"{name} is on {have} but {device_name} is on {device}; create or move it on {device}")
