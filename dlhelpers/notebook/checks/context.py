"""Notebook 04 (context control): guidance and mixed contexts.

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake."""
from __future__ import annotations

import torch

from dlhelpers.notebook.checks.common import _call, _close, _expect_tensor, _fail, _ok


def check_guidance(fn):
    """fn(eps_cond, eps_uncond, w) → ε_uncond + w (ε_cond − ε_uncond)."""
    name = "guided_eps"
    g = torch.Generator().manual_seed(5)
    ec, eu = torch.randn(2, 3, 16, 16, generator=g), torch.randn(2, 3, 16, 16, generator=g)
    for w in (0.0, 1.0, 3.0):
        out = _call(name, fn, ec, eu, w)
        _expect_tensor(name, out, ec.shape)
        if not _close(out, eu + w * (ec - eu)):
            if _close(out, ec + w * (ec - eu)):
                _fail(name, "start from the unconditional ε: ε_uncond + w·(ε_cond − ε_uncond)")
            if _close(out, eu + w * (eu - ec)):
                _fail(name, "the difference is reversed: it should push towards ε_cond")
            _fail(name, f"at w = {w}: values differ from ε_uncond + w·(ε_cond − ε_uncond)")
    _ok(name, "w = 0 gives ε_uncond, w = 1 gives ε_cond, w = 3 extrapolates past it")


def check_mix_contexts(fn):
    """fn(weights) → (1, 5) float context, weights normalised to sum 1 (all-zero stays the null context)."""
    name = "mix_contexts"
    out = _call(name, fn, [1.0, 0.0, 1.0, 0.0, 0.0])
    _expect_tensor(name, out, (1, 5))
    if not _close(out, torch.tensor([[0.5, 0, 0.5, 0, 0]])):
        if _close(out, torch.tensor([[1.0, 0, 1.0, 0, 0]])):
            _fail(name, "normalise the weights so they sum to 1")
        _fail(name, f"expected [[0.5, 0, 0.5, 0, 0]] for hero+food, got {out.tolist()}")
    zero = _call(name, fn, [0.0] * 5)
    if not isinstance(zero, torch.Tensor) or not torch.isfinite(zero).all() or zero.abs().sum() != 0:
        _fail(name, "all-zero weights must stay the null context (avoid dividing by 0)")
    _ok(name, "hero + food → [0.5, 0, 0.5, 0, 0]; all zeros → the null context")
