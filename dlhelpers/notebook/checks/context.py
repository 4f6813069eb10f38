"""Notebook 4 (context control): mixed contexts and classifier-free guidance, with the references later cells
fall back to.

* ``check_mix_contexts``: exercise (a), ``my_mix_contexts(weights)`` → a (1, 5) float row w / Σw; all-zero weights
  → the all-zero row (the null context ∅). Same convention as ``dlhelpers.notebook.widgets.mixture_context``.
* ``check_guidance``: exercise (b), ``my_guided_eps(eps_cond, eps_uncond, w)`` → ε_∅ + w (ε_c − ε_∅), Ho & Salimans,
  "Classifier-Free Diffusion Guidance", 2022, eq. (6) written so that w = 1 is plain conditional sampling (their
  ε̃ = (1 + w')ε_c − w'ε_∅, so our w = w' + 1). ``guided_eps`` is the reference with the student's signature.

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake."""
from __future__ import annotations

import torch

from dlhelpers.notebook.checks.common import _call, _close, _expect_tensor, _fail, _ok


# --------------------------------------------------------------------------------------------- guidance
def guided_eps(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, w: float) -> torch.Tensor:
    """The reference for exercise (b): ε̃ = ε_∅ + w (ε_c − ε_∅), as in ``dlhelpers.sampling.predict_noise``."""
    return eps_uncond + w * (eps_cond - eps_uncond)


def _guidance_hint(out, ec, eu, w):
    """The classic mistakes, recognised by their value at this w (None if none matches)."""
    hints = [
        (ec + w * (ec - eu), "start from the unconditional ε: ε_uncond + w·(ε_cond − ε_uncond). Yours is the paper's "
                             "(1 + w)·ε_cond − w·ε_uncond, whose w is our w − 1"),
        (eu + w * (eu - ec), "the difference is reversed: it should push towards ε_cond, (ε_cond − ε_uncond)"),
        (w * (ec - eu), "you left out the first term: ε_uncond + w·(ε_cond − ε_uncond)"),
        ((1 - w) * ec + w * eu, "the weights are swapped: w multiplies ε_cond and (1 − w) multiplies ε_uncond"),
        (eu + w * ec, "subtract ε_uncond inside the bracket: w·(ε_cond − ε_uncond)"),
    ]
    for value, hint in hints:
        if _close(out, value):
            return hint
    return None


def check_guidance(fn):
    """fn(eps_cond, eps_uncond, w) → ε_uncond + w (ε_cond − ε_uncond), a new tensor (inputs unchanged)."""
    name = "guided_eps"
    g = torch.Generator().manual_seed(5)
    ec, eu = torch.randn(2, 3, 16, 16, generator=g), torch.randn(2, 3, 16, 16, generator=g)   # (B, C, H, W)
    for w in (3.0, 0.0, 1.0, 0.5):  # w = 3 first: there every classic mistake has its own value
        ec_in, eu_in = ec.clone(), eu.clone()
        out = _call(name, fn, ec_in, eu_in, w)
        if not (torch.equal(ec_in, ec) and torch.equal(eu_in, eu)):
            _fail(name, "your function changed eps_cond or eps_uncond in place (e.g. `-=`); later cells reuse "
                        "them — compute a new tensor instead")
        _expect_tensor(name, out, ec.shape)
        want = guided_eps(ec, eu, w)
        if not _close(out, want):
            hint = _guidance_hint(out, ec, eu, w)
            _fail(name, hint or f"at w = {w}: expected ε_uncond + w·(ε_cond − ε_uncond), got values that differ by "
                                f"up to {float((out.float() - want).abs().max()):.3g}")
    _ok(name, "w = 0 gives ε_uncond, w = 1 gives ε_cond, w = 3 extrapolates past it")


# --------------------------------------------------------------------------------------------- mixtures
def _mix_hint(out, weights):
    w = torch.tensor([weights], dtype=torch.float32)   # (1, 5)
    hints = [
        (w, "normalise the weights so they sum to 1: divide by their sum"),
        (w / w.max(), "divide by the sum of the weights, not by the largest one"),
        (w / w.norm(), "the weights must sum to 1 (divide by the sum), not have length 1 (the norm)"),
        (w / w.numel(), "divide by the sum of the weights, not by their count"),
        (w.softmax(dim=1), "just divide by the sum: a softmax changes the ratios and gives zero weights a share"),
        (w / w.sum().clamp(min=1), "divide by the sum even when it is below 1"),
    ]
    for value, hint in hints:
        if out.shape == value.shape and _close(out, value):
            return hint
    return None


def check_mix_contexts(fn):
    """fn(weights) → (1, 5) float context, weights normalised to sum 1 (all-zero stays the all-zero null row)."""
    name = "mix_contexts"
    cases = [[0.3, 0.0, 0.1, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0, 0.0], [0, 0, 0, 0, 2], (0.2, 0.4, 0.6, 0.8, 1.0)]
    for weights in cases:
        out = _call(name, fn, list(weights) if isinstance(weights, list) else weights)
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (5,):
            _fail(name, "return one row of shape (1, 5) (one context for the whole batch), got shape (5,): "
                        "add .reshape(1, -1)")
        _expect_tensor(name, out, (1, 5))
        if not out.is_floating_point():
            _fail(name, f"return a float tensor (the network's context input), got dtype {out.dtype}")
        want = torch.tensor([weights], dtype=torch.float32) / sum(weights)
        if not _close(out.cpu(), want):
            hint = _mix_hint(out.cpu(), weights)
            _fail(name, hint or f"for weights {list(weights)} expected {[round(v, 3) for v in want[0].tolist()]}, "
                                f"got {[round(v, 3) for v in out.cpu()[0].tolist()]}")
    zero = _call(name, fn, [0.0] * 5)
    if zero is None:
        _fail(name, "for all-zero weights return the all-zero (1, 5) row (the null context), not None")
    if not isinstance(zero, torch.Tensor) or tuple(zero.shape) != (1, 5):
        _fail(name, f"for all-zero weights expected the all-zero (1, 5) row, got "
                    f"{tuple(zero.shape) if isinstance(zero, torch.Tensor) else type(zero).__name__}")
    if not torch.isfinite(zero).all():
        _fail(name, "all-zero weights must stay the null context: avoid dividing by 0 (you got NaN)")
    if zero.abs().sum() != 0:
        _fail(name, f"all-zero weights must stay the null context (all zeros), got {zero.cpu()[0].tolist()}")
    _ok(name, "hero + food → [0.5, 0, 0.5, 0, 0]; all zeros → the null context")
