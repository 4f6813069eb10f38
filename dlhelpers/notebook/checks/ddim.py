"""Notebook 05 (DDIM): timesteps and the DDIM step.

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake."""
from __future__ import annotations


from dlhelpers.ddim import ddim_step, ddim_timesteps
from dlhelpers.notebook.checks.common import _SCHEDULE, _call, _cases, _close, _expect_tensor, _fail, _ok


def check_ddim_timesteps(fn):
    """fn(T, n) → n + 1 descending ints from T to 0, for every n in 1…T."""
    name = "ddim_timesteps"
    for T, n in ((500, 25), (10, 3), (500, 7), (500, 1), (20, 20)):
        out = _call(name, fn, T, n)
        try:
            out = [int(v) for v in out]
        except Exception:
            _fail(name, f"expected a list of ints, got {type(out).__name__}")
        if len(out) != n + 1:
            _fail(name, f"for T={T}, n={n}: expected {n + 1} values, got {len(out)} "
                        f"(a stride of T // n breaks when n does not divide T)")
        if out[0] != T or out[-1] != 0:
            _fail(name, f"for T={T}, n={n}: must start at {T} and end at 0, got {out[0]} … {out[-1]} "
                        f"(a stride of T // n misses 0 when n does not divide T)")
        if any(a <= b for a, b in zip(out, out[1:])):
            _fail(name, f"for T={T}, n={n}: values must strictly descend, got {out}")
        if max(a - b for a, b in zip(out, out[1:])) > -(-T // n):
            _fail(name, f"for T={T}, n={n}: gaps must be even (≤ {-(-T // n)}), got {out}")
    _ok(name, f"n + 1 even steps from T to 0 for every case, e.g. (10, 3) → {ddim_timesteps(10, 3)}")


def check_ddim_step(fn):
    """fn(x_t, t, t_prev, eps, schedule) → x_{t_prev}, DDIM eq. (12) with η = 0."""
    name, s = "ddim_step", _SCHEDULE
    x, eps, _ = _cases(6)
    for t, t_prev in ((500, 480), (40, 0), (300, 7)):
        out = _call(name, fn, x, t, t_prev, eps, s)
        _expect_tensor(name, out, x.shape)
        want = ddim_step(x, t, t_prev, eps, s, eta=0.0)
        if not _close(out, want):
            if _close(out, ddim_step(x, t, t - 1, eps, s, eta=0.0)):
                _fail(name, "you stepped to t − 1; use ᾱ at t_prev (DDIM skips steps)")
            _fail(name, f"({t} → {t_prev}): values differ from √ᾱ_prev·x̂0 + √(1−ᾱ_prev)·ε "
                        f"(max error {(out - want).abs().max():.3g})")
    _ok(name, "matches DDIM eq. (12) with η = 0 for 500→480, 40→0 and 300→7")
