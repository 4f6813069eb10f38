"""Timing primitives for the benchmark: wall clock with device synchronisation, interleaved medians, matmul peak,
FLOP counts.

GPU kernels run asynchronously, so every timed call ends with ``torch.cuda.synchronize`` on CUDA (and
``torch.mps.synchronize`` on MPS); without it a GPU time measures only the kernel launches. FLOPs come from
``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add, as in Kaplan et al., "Scaling Laws for
Neural Language Models", arXiv:2001.08361, Sec. 2.1).
"""
from __future__ import annotations

import statistics
import time

import torch


def synchronize(device) -> None:
    """Wait for the queued work on ``device`` (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn, device="cpu") -> float:
    """Seconds one call of ``fn()`` takes, queued GPU work included."""
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - t0


def interleaved(variants: dict, rounds: int, warmup: int = 1, device="cpu") -> dict:
    """Median seconds per variant; the variants alternate within each round so drift hits them all alike."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive int, got {rounds!r}")
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in variants}
    for _ in range(rounds):
        for k, fn in variants.items():
            times[k].append(timed(fn, device))
    return {k: statistics.median(v) for k, v in times.items()}


def matmul_peak_gflops(dtype: torch.dtype, device="cpu", n: int = 1024, reps: int = 10, seed: int = 0) -> float:
    """Best-of-``reps`` GFLOP/s of an (n × n) @ (n × n) product in ``dtype`` on ``device``: the roofline the
    training step's achieved GFLOP/s is read against."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)   # (n, n)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)   # (n, n)
    a @ b
    best = min(timed(lambda: a @ b, device) for _ in range(reps))
    return 2 * n ** 3 / best / 1e9


def train_step_flops(model: torch.nn.Module, x: torch.Tensor, c: torch.Tensor, seed: int = 0) -> int:
    """FLOPs of one forward + backward of ``model`` on ``x`` (B, C, H, W) with contexts ``c`` (B, n_cfeat)."""
    from torch.utils.flop_counter import FlopCounterMode
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(x.shape[0], generator=g).to(x.device)   # (B,)
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(x, t, c)
        out.square().mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()
