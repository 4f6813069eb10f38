"""Notebook 01 (sampling): the DDPM step and x̂₀.

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake."""
from __future__ import annotations

import torch

from dlhelpers.ddpm import ddpm_step
from dlhelpers.notebook.checks.common import _SCHEDULE, _call, _cases, _close, _expect_tensor, _fail, _ok


def check_ddpm_step(fn):
    """fn(x_t, t, eps, schedule, z) → x_{t−1} for an int t, with no noise when t = 1."""
    name, s = "ddpm_step", _SCHEDULE
    x, eps, z = _cases(2)
    for t in (500, 250, 2, 1):
        out = _call(name, fn, x, t, eps, s, z)
        _expect_tensor(name, out, x.shape)
        want = ddpm_step(x, t, eps, s, z=z)
        if _close(out, want):
            continue
        mean = ddpm_step(x, t, eps, s, z=torch.zeros_like(z))
        if t == 1 and _close(out, mean + s.beta[1].sqrt() * z):
            _fail(name, "noise was added on the last step (t = 1); the final step must return the mean only")
        if t > 1 and _close(out, mean):
            _fail(name, f"at t = {t} no noise was added: x_(t−1) = mean + √β_t·z")
        if t > 1 and _close(out, mean + s.beta[t] * z):
            _fail(name, "the noise is scaled by β_t; it needs √β_t")
        a, ab = s.alpha[t], s.alpha_bar[t]
        no_sqrt_mean = (x - eps * (1 - a) / (1 - ab)) / a.sqrt()
        if _close(out, no_sqrt_mean + (s.beta[t].sqrt() * z if t > 1 else 0)):
            _fail(name, "the ε coefficient needs √(1 − ᾱ_t) in the denominator: (1 − α_t)/√(1 − ᾱ_t)")
        _fail(name, f"at t = {t}: values differ from the DDPM step (max error {(out - want).abs().max():.3g})")
    _ok(name, "matches DDPM Algorithm 2 at t = 500, 250, 2 and 1 (no noise on the last step)")


def check_predict_x0(fn):
    """fn(x_t, t, eps, schedule) → x̂₀ = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t."""
    name, s = "predict_x0", _SCHEDULE
    x, eps, _ = _cases(3)
    for t in (10, 400):
        out = _call(name, fn, x, t, eps, s)
        _expect_tensor(name, out, x.shape)
        ab = s.alpha_bar[t]
        want = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        if not _close(out, want):
            if _close(out, x - (1 - ab).sqrt() * eps):
                _fail(name, "divide by √ᾱ_t at the end to undo the scaling of x0")
            _fail(name, f"at t = {t}: values differ from (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t")
    _ok(name, "x̂0 = (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t at t = 10 and 400")
