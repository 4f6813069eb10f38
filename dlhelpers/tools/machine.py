"""What machine a number was measured on: the CPU's or GPU's name, threads, PyTorch version.

Used by the benchmark's report header and by the training manifest (``data/weights/manifest.json``), so a timing is
never quoted without the hardware that produced it. No paper: this module only reads ``/proc/cpuinfo``,
``platform`` and ``torch.cuda.get_device_name``.
"""
from __future__ import annotations

import platform

import torch


def cpu_name() -> str:
    """The CPU's marketing name (``model name`` in /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device) -> str:
    """A human name for ``device``: the GPU's name on CUDA (``torch.cuda.get_device_name``), "Apple MPS" on MPS,
    the CPU's name otherwise."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple MPS ({cpu_name()})"
    return cpu_name()


def threads_text() -> str:
    """"1 thread" / "2 threads": PyTorch's intra-op thread count."""
    n = torch.get_num_threads()
    return f"{n} thread{'s' if n != 1 else ''}"


def describe(device="cpu") -> str:
    """One line for a report header, e.g. "AMD EPYC (x86_64, 2 threads, bf16)" or
    "NVIDIA H100 80GB HBM3 (CUDA 12.8; host AMD EPYC, 2 threads)"."""
    device = torch.device(device)
    threads = threads_text()
    if device.type == "cuda":
        return f"{device_name(device)} (CUDA {torch.version.cuda}; host {cpu_name()}, {threads})"
    if device.type == "mps":
        return f"{device_name(device)} ({platform.machine()}, {threads})"
    return f"{cpu_name()} ({platform.machine()}, {threads}, {cpu_arithmetic()})"


def cpu_arithmetic() -> str:
    """"bf16" where the CPU runs it natively, else "fp32": the small UNet's training step differs ~3× between the
    two on the course's machines (reports/student_trials.md), so a CPU timing names it."""
    from dlhelpers.precision import cpu_has_native_bf16
    return "bf16" if cpu_has_native_bf16() else "fp32"


def machine_info(device="cpu") -> dict:
    """The machine as a JSON-able dict (the training manifest's ``machine`` entry)."""
    device = torch.device(device)
    info = {"platform": platform.platform(), "processor": cpu_name(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "cpu_arithmetic": cpu_arithmetic()}
    if device.type != "cpu":
        info["device"] = device_name(device)
    return info
