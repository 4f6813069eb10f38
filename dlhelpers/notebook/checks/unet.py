"""Notebook 02 (the UNet): injecting the embeddings, one-hot contexts.

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake."""
from __future__ import annotations

import torch

from dlhelpers.notebook.checks.common import _call, _close, _expect_tensor, _fail, _ok


def check_inject(fn):
    """fn(h, cemb, temb) → cemb ⊙ h + temb (context multiplies, time adds)."""
    name = "inject"
    g = torch.Generator().manual_seed(4)
    h = torch.randn(3, 8, 4, 4, generator=g)
    cemb, temb = torch.randn(3, 8, 1, 1, generator=g), torch.randn(3, 8, 1, 1, generator=g)
    out = _call(name, fn, h, cemb, temb)
    _expect_tensor(name, out, h.shape)
    if _close(out, cemb * h + temb):
        return _ok(name, "cemb * h + temb: the context scales the features, the time shifts them")
    if _close(out, temb * h + cemb):
        _fail(name, "time and context are swapped: the context embedding multiplies, the time embedding adds")
    if _close(out, h + cemb + temb):
        _fail(name, "the context was added; in this UNet it multiplies the features (cemb * h)")
    if _close(out, cemb * (h + temb)):
        _fail(name, "the time embedding is added after the multiplication: cemb * h + temb")
    _fail(name, "values differ from cemb * h + temb")


def check_one_hot_context(fn):
    """fn(labels, n_classes) → float one-hot (B, n_classes); label −1 means the all-zero null context."""
    name = "one_hot_context"
    labels = torch.tensor([0, 3, -1, 4])
    out = _call(name, fn, labels, 5)
    _expect_tensor(name, out, (4, 5))
    if not out.is_floating_point():
        _fail(name, f"expected a float tensor (the model multiplies with it), got {out.dtype}")
    want = torch.zeros(4, 5)
    want[[0, 1, 3], [0, 3, 4]] = 1
    if not torch.equal(out.float(), want):
        if out[2].abs().sum() != 0:
            _fail(name, "label −1 must give the null context: a row of zeros")
        _fail(name, f"expected one 1 per row at the label's index, got {out.tolist()}")
    _ok(name, "one-hot rows, and a zero row for the null context")
