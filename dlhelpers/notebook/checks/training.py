"""Notebook 03 (training): forward noising and the loss.

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake."""
from __future__ import annotations

import torch

from dlhelpers.notebook.checks.common import _SCHEDULE, _call, _cases, _close, _expect_tensor, _fail, _ok


def check_add_noise(fn):
    """fn(x0, t, noise, schedule) → √ᾱ_t x0 + √(1 − ᾱ_t) ε, t a (B,) tensor."""
    name, s = "add_noise", _SCHEDULE
    x0, noise, _ = _cases(1)
    t = torch.tensor([1, 100, 250, 500])
    out = _call(name, fn, x0, t, noise, s)
    _expect_tensor(name, out, x0.shape)
    want = s.add_noise(x0, t, noise)
    if _close(out, want):
        return _ok(name, "x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε for 4 images at 4 different t")
    ab = s.alpha_bar[t].view(-1, 1, 1, 1)
    if _close(out, ab.sqrt() * x0 + (1 - ab) * noise):
        _fail(name, "the noise is scaled by (1 − ᾱ_t); it needs the square root √(1 − ᾱ_t)")
    if _close(out, ab * x0 + (1 - ab).sqrt() * noise):
        _fail(name, "x0 is scaled by ᾱ_t; it needs the square root √ᾱ_t")
    a = s.alpha[t].view(-1, 1, 1, 1)
    if _close(out, a.sqrt() * x0 + (1 - a).sqrt() * noise):
        _fail(name, "you used α_t (one step); the forward jump to step t uses the cumulative ᾱ_t")
    if out.shape == x0.shape and _close(out[1:2], want[1:2]) and not _close(out, want):
        _fail(name, "right for one image but not the others: index ᾱ with each image's own t, shaped (B,1,1,1)")
    _fail(name, f"values differ from √ᾱ_t·x0 + √(1−ᾱ_t)·ε (max error {(out - want).abs().max():.3g})")


def check_training_loss(fn):
    """fn(model, x0, context, schedule, generator) → scalar MSE with a random t per image in 1…T."""
    name, s = "training_loss", _SCHEDULE
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x, t, c=None):
            seen.append(t.detach().reshape(-1).clone())
            return torch.zeros_like(x)

    x0 = torch.zeros(64, 3, 16, 16)
    out = _call(name, fn, Spy(), x0, None, s, torch.Generator().manual_seed(0))
    if not isinstance(out, torch.Tensor) or out.ndim != 0:
        _fail(name, f"expected a scalar tensor (0-d), got {type(out).__name__} "
                    f"{tuple(out.shape) if isinstance(out, torch.Tensor) else ''}")
    if not seen:
        _fail(name, "the model was never called")
    t = seen[0] * s.timesteps
    if t.numel() != 64:
        _fail(name, f"the model got {t.numel()} timesteps for 64 images; give every image its own t")
    if seen[0].max() > 1.0001:
        _fail(name, "pass the normalised time t / T to the model, not the integer t")
    if len(torch.unique(t.round())) < 10:
        _fail(name, "all images share (almost) the same t; draw a random t per image with torch.randint")
    if t.round().min() < 1:
        _fail(name, "t = 0 was drawn; draw t from 1…T (randint(1, T + 1, ...))")
    # with x0 = 0 and ε̂ = 0 the loss is mean(ε²) ≈ 1 if ε is standard normal
    if not 0.85 < float(out) < 1.15:
        _fail(name, f"expected MSE(ε, ε̂) ≈ 1.0 for a zero model, got {float(out):.3f}; "
                    "is the target the noise ε (not x0 or x_t)?")
    _ok(name, "random t ∈ 1…T per image, t/T to the model, MSE against the noise")
