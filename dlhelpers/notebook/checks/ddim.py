"""Notebook 05 (DDIM): the timesteps to visit, x̂₀, the forward jump, and the DDIM step composed from the two.

Reference: Song, Meng & Ermon, "Denoising Diffusion Implicit Models", 2021, arXiv:2010.02502.
- Section 4.2: sample on a sub-sequence τ of the timesteps; here n + 1 ints from T down to 0, gaps ⌊T/n⌋ or ⌈T/n⌉.
- Eq. (12) with σ = 0 (η = 0): x̂₀ = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t, x_{t'} = √ᾱ_{t'} x̂₀ + √(1 − ᾱ_{t'}) ε — the
  forward jump of DDPM eq. (4), x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε, applied to x̂₀ at t' with the same ε.

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake.
The timesteps check is property-based: it accepts every list with the stated properties (floor, round, ceiling,
counting down with the remainder spread out), and the hidden tests run the same check on more (T, n) pairs, so the
visible ✓ and the autograder accept exactly the same answers. ``reference_*`` have the students' signatures, for
``yours_or_reference`` in the notebook's later cells.
"""
from __future__ import annotations

import random

import torch

from dlhelpers.ddim import ddim_step, ddim_timesteps
from dlhelpers.notebook.checks.common import _SCHEDULE, _call, _cases, _close, _expect_tensor, _fail, _ok
from dlhelpers.schedules import NoiseSchedule

_COSINE = NoiseSchedule.cosine(100)
# (T, n): n dividing T or not, n = 1, n = T, tiny T, T = 1000
VISIBLE_PAIRS = ((500, 25), (500, 7), (500, 30), (10, 3), (10, 4), (10, 6), (13, 5), (500, 1), (20, 20), (1, 1),
                 (2, 1), (1000, 37), (100, 99), (7, 2))


# ------------------------------------------------------------------------------------------ references
def reference_ddim_timesteps(T, n):
    """``my_ddim_timesteps``'s signature: ``dlhelpers.ddim.ddim_timesteps``."""
    return ddim_timesteps(T, n)


def reference_predict_x0(x_t, t, eps, schedule):
    """``my_predict_x0``'s signature over ``NoiseSchedule.predict_x0``."""
    return schedule.predict_x0(x_t, t, eps)


def reference_noise_to(x0, t, eps, schedule):
    """``my_noise_to``'s signature over ``NoiseSchedule.add_noise`` (DDPM eq. 4)."""
    return schedule.add_noise(x0, t, eps)


def reference_ddim_step(x_t, t, t_prev, eps, schedule):
    """``my_ddim_step``'s signature over ``dlhelpers.ddim.ddim_step`` with η = 0."""
    return ddim_step(x_t, t, t_prev, eps, schedule, eta=0.0)


# ------------------------------------------------------------------------------------------ (a) timesteps
def random_pairs(k: int = 200, seed: int = 0, max_T: int = 1000) -> list[tuple[int, int]]:
    """``k`` (T, n) pairs with 1 ≤ n ≤ T ≤ ``max_T``, reproducible from ``seed`` (the hidden tests' cases)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if isinstance(max_T, bool) or not isinstance(max_T, int) or max_T < 1:
        raise ValueError(f"max_T must be a positive int, got {max_T!r}")
    rng = random.Random(seed)
    pairs = []
    for _ in range(k):
        T = rng.randint(1, max_T)
        pairs.append((T, rng.choice([1, T, rng.randint(1, T)])))
    return pairs


def _as_int(v):
    """The value as a Python int if it has an integer type, else None (floats, bools, anything else)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, torch.Tensor) and v.ndim == 0 and not v.is_floating_point() and v.dtype != torch.bool:
        return int(v)
    try:
        import numpy as np
        if isinstance(v, np.integer):
            return int(v)
    except ImportError:  # pragma: no cover - numpy ships with torch
        pass
    return None


def timesteps_problem(out, T: int, n: int) -> str | None:
    """What is wrong with ``out`` as the DDIM timesteps for (T, n), or None when it has every stated property."""
    try:
        values = list(out)
    except TypeError:
        return f"expected a list of ints, got {type(out).__name__}"
    ints = [_as_int(v) for v in values]
    if any(i is None for i in ints):
        bad = next(v for v, i in zip(values, ints) if i is None)
        return (f"for T={T}, n={n}: expected ints, got {type(bad).__name__} {bad!r} — a float cannot index "
                f"schedule.alpha_bar; use integer arithmetic (// instead of /)")
    if len(ints) != n + 1:
        hint = ("a stride of T // n gives the wrong count when n does not divide T" if len(ints) > n + 1
                else "did you leave out T or the final 0?")
        return f"for T={T}, n={n}: expected {n + 1} values (n steps), got {len(ints)} ({hint})"
    if n > 0 and ints[0] == 0 and ints[-1] == T:
        return f"for T={T}, n={n}: the list ascends; it must go down from {T} to 0 (the sampler walks from T to 0)"
    if ints[0] != T or ints[-1] != 0:
        return f"for T={T}, n={n}: must start at {T} and end at 0, got {ints[0]} … {ints[-1]}"
    for a, b in zip(ints, ints[1:]):
        if a <= b:
            return f"for T={T}, n={n}: values must strictly decrease, got {a} then {b} (a repeat is a step of 0)"
    lo, hi = T // n, -(-T // n)
    gaps = [a - b for a, b in zip(ints, ints[1:])]
    bad = [gp for gp in gaps if gp not in (lo, hi)]
    if bad:
        return (f"for T={T}, n={n}: every gap must be ⌊T/n⌋ = {lo} or ⌈T/n⌉ = {hi}, got a gap of {bad[0]} "
                f"(a lopsided step, e.g. a stride of ⌈T/n⌉ with 0 appended)")
    return None


def check_ddim_timesteps(fn, pairs=VISIBLE_PAIRS):
    """fn(T, n) → n + 1 ints from T down to 0, strictly decreasing, gaps ⌊T/n⌋ or ⌈T/n⌉, for every (T, n)."""
    name = "ddim_timesteps"
    for T, n in pairs:
        problem = timesteps_problem(_call(name, fn, T, n), T, n)
        if problem:
            _fail(name, problem)
    _ok(name, f"n + 1 ints from T to 0 with gaps ⌊T/n⌋ or ⌈T/n⌉ for all {len(pairs)} cases, "
              f"e.g. (10, 3) → {[int(v) for v in fn(10, 3)]}")


# ------------------------------------------------------------------------------------------ (b) x̂₀, forward jump
def check_ddim_predict_x0(fn):
    """fn(x_t, t, eps, schedule) → x̂₀ = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t, for an int t, on two schedules."""
    name = "predict_x0"
    x, eps, _ = _cases(7)
    for s, t in ((_SCHEDULE, 480), (_SCHEDULE, 25), (_SCHEDULE, 1), (_COSINE, 63)):
        out = _call(name, fn, x, t, eps, s)
        _expect_tensor(name, out, x.shape)
        want = s.predict_x0(x, t, eps)
        if _close(out, want):
            continue
        ab, a = s.alpha_bar[t], s.alpha[t]
        if _close(out, x - (1 - ab).sqrt() * eps):
            _fail(name, "divide by √ᾱ_t at the end: x_t = √ᾱ_t·x0 + …, so x0 comes out scaled")
        if _close(out, (x - (1 - ab) * eps) / ab.sqrt()):
            _fail(name, "the noise is scaled by √(1 − ᾱ_t), not (1 − ᾱ_t)")
        if _close(out, (x - (1 - ab).sqrt() * eps) / ab):
            _fail(name, "divide by √ᾱ_t, not ᾱ_t")
        if _close(out, (x + (1 - ab).sqrt() * eps) / ab.sqrt()):
            _fail(name, "subtract the noise term: x̂₀ = (x_t − √(1 − ᾱ_t)·ε)/√ᾱ_t")
        if _close(out, (x - (1 - a).sqrt() * eps) / a.sqrt()):
            _fail(name, "use the cumulative ᾱ_t (schedule.alpha_bar), not α_t (schedule.alpha)")
        _fail(name, f"at t = {t} ({s}): values differ from (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t "
                    f"(max error {(out - want).abs().max():.3g})")
    _ok(name, "x̂₀ = (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t at t = 480, 25, 1 (linear) and 63 (cosine)")


def check_noise_to(fn):
    """fn(x0, t, eps, schedule) → √ᾱ_t x0 + √(1 − ᾱ_t) ε (DDPM eq. 4), for an int t including t = 0."""
    name = "noise_to"
    x0, eps, _ = _cases(8)
    for s, t in ((_SCHEDULE, 480), (_SCHEDULE, 25), (_SCHEDULE, 0), (_COSINE, 63)):
        out = _call(name, fn, x0, t, eps, s)
        _expect_tensor(name, out, x0.shape)
        want = s.add_noise(x0, t, eps)
        if _close(out, want):
            continue
        ab, a = s.alpha_bar[t], s.alpha[t]
        if _close(out, ab * x0 + (1 - ab) * eps):
            _fail(name, "take square roots: √ᾱ_t·x0 + √(1 − ᾱ_t)·ε (the variances add up to 1, not the scales)")
        if _close(out, (1 - ab).sqrt() * x0 + ab.sqrt() * eps):
            _fail(name, "the coefficients are swapped: x0 gets √ᾱ_t, the noise gets √(1 − ᾱ_t)")
        if _close(out, a.sqrt() * x0 + (1 - a).sqrt() * eps):
            _fail(name, "use the cumulative ᾱ_t (schedule.alpha_bar), not α_t (schedule.alpha)")
        if t == 0 and _close(out, eps):
            _fail(name, "at t = 0 the image is clean: ᾱ_0 = 1, so the result must be x0 itself")
        _fail(name, f"at t = {t} ({s}): values differ from √ᾱ_t·x0 + √(1−ᾱ_t)·ε "
                    f"(max error {(out - want).abs().max():.3g})")
    _ok(name, "√ᾱ_t·x0 + √(1−ᾱ_t)·ε at t = 480, 25, 0 (linear) and 63 (cosine)")


# ------------------------------------------------------------------------------------------ (b) the DDIM step
def check_ddim_step(fn):
    """fn(x_t, t, t_prev, eps, schedule) → x_{t_prev}, DDIM eq. (12) with η = 0, on two schedules."""
    name = "ddim_step"
    x, eps, _ = _cases(6)
    for s, t, t_prev in ((_SCHEDULE, 500, 480), (_SCHEDULE, 40, 0), (_SCHEDULE, 300, 7), (_SCHEDULE, 1, 0),
                         (_COSINE, 90, 45)):
        out = _call(name, fn, x, t, t_prev, eps, s)
        _expect_tensor(name, out, x.shape)
        want = ddim_step(x, t, t_prev, eps, s, eta=0.0)
        if _close(out, want):
            continue
        where = f"({t} → {t_prev}, {s})"
        if _close(out, x):
            _fail(name, f"{where}: you returned x_t unchanged — x̂₀ is noised back to t_prev, not to t "
                        f"(ᾱ_t was used for both halves)")
        if t - 1 != t_prev and _close(out, ddim_step(x, t, t - 1, eps, s, eta=0.0)):
            _fail(name, f"{where}: you stepped to t − 1; DDIM jumps straight to t_prev (use ᾱ at t_prev)")
        swapped = s.add_noise(s.predict_x0(x, t_prev, eps), t, eps)
        if _close(out, swapped):
            _fail(name, f"{where}: the roles are swapped — x̂₀ comes from x_t at time t; the noising goes to t_prev")
        if _close(out, s.predict_x0(x, t, eps)):
            _fail(name, f"{where}: you returned x̂₀; put the noise back at the level of t_prev")
        _fail(name, f"{where}: values differ from √ᾱ_prev·x̂₀ + √(1−ᾱ_prev)·ε "
                    f"(max error {(out - want).abs().max():.3g})")
    _ok(name, "matches DDIM eq. (12) with η = 0 for 500→480, 40→0, 300→7, 1→0 (linear) and 90→45 (cosine)")
