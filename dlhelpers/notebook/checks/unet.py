"""Notebook 2 (the UNet): injecting the embeddings, one-hot contexts.

References
- Perez, Strub, de Vries, Dumoulin & Courville, "FiLM: Visual Reasoning with a General Conditioning Layer",
  AAAI 2018, arXiv:1709.07871 — eq. (1)–(2): FiLM(h) = γ ⊙ h + β, a per-channel gain γ and shift β computed from
  the condition. The course's ContextUnet (``dlhelpers.unet.ContextUnet.inject``) takes γ from the context and β
  from the time: h ← cemb ⊙ h + temb at both decoder levels, cemb and temb (B, C, 1, 1) broadcast over (B, C, H, W).
- Ho & Salimans, "Classifier-Free Diffusion Guidance", 2022, arXiv:2207.12598 — the null context (here an
  all-zero row, label −1) that the model is trained on for 10 % of the images.

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake.
``reference_*`` have the students' signatures, for ``yours_or_reference`` in the notebook's later cells: the
notebook swaps the chosen ``inject`` into the real model (``model.inject = inject``) and builds every context of
its samples with the chosen ``one_hot_context``.
"""
from __future__ import annotations

import torch

from dlhelpers.notebook.checks.common import _call, _close, _expect_tensor, _fail, _ok


# ------------------------------------------------------------------------------------------ references
def reference_inject(h, cemb, temb):
    """``my_inject``'s signature over ``ContextUnet.inject``: cemb ⊙ h + temb (FiLM, gain from c, shift from t)."""
    from dlhelpers.unet import ContextUnet

    return ContextUnet.inject(h, cemb, temb)


def reference_one_hot_context(labels, n_classes):
    """``my_one_hot_context``'s signature: float (B, n_classes) one-hot rows, an all-zero row for label −1."""
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.is_floating_point():
        raise TypeError(f"labels must be a 1-D integer tensor, got {getattr(labels, 'dtype', type(labels).__name__)}"
                        f" of shape {tuple(getattr(labels, 'shape', ()))}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
    if labels.numel() and (labels.min() < -1 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in −1 … {n_classes - 1}, got {labels.tolist()}")
    keep = (labels >= 0).float().unsqueeze(1)                                         # (B, 1)
    return torch.nn.functional.one_hot(labels.clamp(min=0).long(), n_classes).float() * keep   # (B, n_classes)


# ------------------------------------------------------------------------------------------ inject
def check_inject(fn):
    """fn(h, cemb, temb) → cemb ⊙ h + temb (context multiplies, time adds), one embedding per image.

    The failure messages name the mistake without spelling out the answer."""
    name = "inject"
    g = torch.Generator().manual_seed(4)
    h = torch.randn(3, 8, 4, 4, generator=g)                                          # (B, C, H, W)
    cemb, temb = torch.randn(3, 8, 1, 1, generator=g), torch.randn(3, 8, 1, 1, generator=g)   # (B, C, 1, 1)
    inputs = (h.clone(), cemb.clone(), temb.clone())
    want = cemb * h + temb
    out = _call(name, fn, h, cemb, temb)
    if not (torch.equal(h, inputs[0]) and torch.equal(cemb, inputs[1]) and torch.equal(temb, inputs[2])):
        _fail(name, "your function changed its input in place (mul_/add_/*=); return a new tensor instead")
    _expect_tensor(name, out, h.shape)
    if _close(out, want):
        return _ok(name, "cemb * h + temb: the context scales the features, the time shifts them")
    if _close(out, temb * h + cemb):
        _fail(name, "time and context are swapped: the context embedding multiplies, the time embedding adds")
    if _close(out, h + cemb + temb):
        _fail(name, "the context was added; in this UNet it multiplies the features (a gain per channel)")
    if _close(out, cemb * (h + temb)):
        _fail(name, "the time embedding went inside the product: add it after the multiplication, so the gain "
                    "acts on h alone")
    if _close(out, cemb * temb * h) or _close(out, (cemb + temb) * h):
        _fail(name, "both embeddings multiply h; only the context is a gain, the time embedding is a shift")
    if _close(out, cemb * h):
        _fail(name, "the time embedding was not added: you returned only the scaled features")
    if _close(out, h + temb):
        _fail(name, "the context embedding is missing: h was shifted by the time embedding but never scaled")
    if _close(out, cemb[:1] * h + temb[:1]):
        _fail(name, "every image has its own embeddings: use the whole cemb and temb, not cemb[0] / temb[0]")
    _fail(name, "values differ from the expected gain-and-shift (largest difference {0:.3g}); which embedding "
                "multiplies, which one adds?", float((out - want).abs().max()))


# ------------------------------------------------------------------------------------------ one-hot
_ONE_HOT_CASES = ((torch.tensor([0, 3, -1, 4]), 5), (torch.tensor([2, -1, 0, -1, 1]), 3))


def _call_one_hot(name, fn, labels, n):
    """Call fn; when it crashes only because of the −1 labels, say so."""
    try:
        return _call(name, fn, labels, n)
    except AssertionError as exc:
        if "raised" not in str(exc) or not bool((labels < 0).any()):
            raise
        try:
            fn(labels.clamp(min=0), n)
        except Exception:  # noqa: BLE001 - it crashes on valid labels too: the generic message stands
            raise exc from None
        _fail(name, "{0} — but only on label −1: F.one_hot and indexing accept only 0 … n_classes − 1, so treat the "
                    "−1 rows separately", str(exc).split(': ', 1)[1])


def check_one_hot_context(fn):
    """fn(labels, n_classes) → float one-hot (B, n_classes); label −1 means the all-zero null context."""
    name = "one_hot_context"
    for labels, n in _ONE_HOT_CASES:
        given = labels.clone()
        out = _call_one_hot(name, fn, given, n)
        if not torch.equal(given, labels):
            _fail(name, "your function changed labels in place; build a new tensor instead")
        if isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[1] == n + 1:
            _fail(name, "expected shape {0}, got {1}: one column per class, no extra column for −1 (the null "
                        "context is a row of zeros)", (len(labels), n), tuple(out.shape))
        if isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[1] != n:
            _fail(name, "expected shape {0}, got {1}: one column per class, n_classes = {2} (not a fixed 5)",
                        (len(labels), n), tuple(out.shape), n)
        _expect_tensor(name, out, (len(labels), n))
        if not out.is_floating_point():
            _fail(name, "expected a float tensor (the model multiplies with it), got {0}", out.dtype)
        want = reference_one_hot_context(labels, n)
        if torch.equal(out.float(), want):
            continue
        if bool((out.float().abs().sum(1) > 1.5).any()):
            _fail(name, "expected one 1 per row (a whole column was set?); for labels {0} got {1}",
                        labels.tolist(), out.tolist())
        null = labels < 0
        if out[null].abs().sum() != 0:
            row = out[null][0].float()
            if torch.equal(row, want[0].new_zeros(n).index_fill(0, torch.tensor([n - 1]), 1.0)):
                _fail(name, "label −1 gave the last class's row: Python reads index −1 as the last one; "
                            "the null context is a row of zeros")
            if torch.equal(row, want[0].new_zeros(n).index_fill(0, torch.tensor([0]), 1.0)):
                _fail(name, "label −1 gave class 0's row (−1 clamped to 0?); the null context is a row of zeros")
            shown = [round(v, 3) for v in row.tolist()]
            _fail(name, "label −1 must give the null context, a row of zeros; got {0}", shown)
        _fail(name, "expected one 1 per row, in the column of its label; for labels {0} got {1}",
                    labels.tolist(), out.tolist())
    _ok(name, "one-hot rows, and a zero row for the null context")
