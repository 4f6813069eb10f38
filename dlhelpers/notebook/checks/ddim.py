"""Notebook 05 (DDIM): the timesteps to visit, the DDIM step composed from x̂₀ and the forward jump, the η > 0 step.

Reference: Song, Meng & Ermon, "Denoising Diffusion Implicit Models", 2021, arXiv:2010.02502.
- Section 4.2: sample on a sub-sequence τ of the timesteps; here n + 1 ints from T down to 0, gaps ⌊T/n⌋ or ⌈T/n⌉.
- Eq. (12) with σ = 0 (η = 0): x̂₀ = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t, x_{t'} = √ᾱ_{t'} x̂₀ + √(1 − ᾱ_{t'}) ε — the
  forward jump of DDPM eq. (4), x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε, applied to x̂₀ at t' with the same ε.
- Eq. (12) with eq. (16), σ(η) = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'}): at η = 1 and t' = t − 1 this is
  DDPM's step (Ho et al., 2020, eq. 11) with the posterior variance β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) β_t (their eq. 7),
  which the η check uses as its reference for those cases, independently of ``dlhelpers.ddim``.
  The two pieces of the step are the library's ``schedule.predict_x0`` and ``schedule.add_noise`` (notebooks 1
  and 3 had the students write them); the composed step is the exercise.

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
from dlhelpers.notebook.checks.common import _SCHEDULE, _call, _cases, _close, _expect_tensor, _fail, _ok, fmt
from dlhelpers.schedules import NoiseSchedule

_COSINE = NoiseSchedule.cosine(100)
# (T, n): n dividing T or not, n = 1, n = T, tiny T, T = 1000
VISIBLE_PAIRS = ((500, 25), (500, 7), (500, 30), (10, 3), (10, 4), (10, 6), (13, 5), (500, 1), (20, 20), (1, 1),
                 (2, 1), (1000, 37), (100, 99), (7, 2))


# ------------------------------------------------------------------------------------------ references
def reference_ddim_timesteps(T, n):
    """``my_ddim_timesteps``'s signature: ``dlhelpers.ddim.ddim_timesteps``."""
    return ddim_timesteps(T, n)


def reference_ddim_step(x_t, t, t_prev, eps, schedule):
    """``my_ddim_step``'s signature over ``dlhelpers.ddim.ddim_step`` with η = 0."""
    return ddim_step(x_t, t, t_prev, eps, schedule, eta=0.0)


def reference_ddim_eta_step(x_t, t, t_prev, eps, schedule, eta, z):
    """``my_ddim_eta_step``'s signature over ``dlhelpers.ddim.ddim_step`` with η and the given z."""
    return ddim_step(x_t, t, t_prev, eps, schedule, eta=eta, z=z)


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
        return fmt("expected a list of ints, got {0}", type(out).__name__)
    ints = [_as_int(v) for v in values]
    if any(i is None for i in ints):
        bad = next(v for v, i in zip(values, ints) if i is None)
        return (fmt("for T={0}, n={1}: expected ints, got {2} {3!r} — a float cannot index schedule.alpha_bar; use "
                    "integer arithmetic (// instead of /)", T, n, type(bad).__name__, bad))
    if len(ints) != n + 1:
        hint = ("a stride of T // n gives the wrong count when n does not divide T" if len(ints) > n + 1
                else "did you leave out T or the final 0?")
        return fmt("for T={0}, n={1}: expected {2} values (n steps), got {3} ({4})", T, n, n + 1, len(ints), hint)
    if n > 0 and ints[0] == 0 and ints[-1] == T:
        return fmt("for T={0}, n={1}: the list ascends; it must go down from {2} to 0 (the sampler walks from T to "
                   "0)", T, n, T)
    if ints[0] != T or ints[-1] != 0:
        why = (" — a stride of T // n stops short of 0 when n does not divide T" if ints[0] == T and ints[-1] > 0
               else "")
        return fmt("for T={0}, n={1}: must start at {2} and end at 0, got {3} … {4}{5}",
                   T, n, T, ints[0], ints[-1], why)
    for a, b in zip(ints, ints[1:]):
        if a <= b:
            return fmt("for T={0}, n={1}: values must strictly decrease, got {2} then {3} (a repeat is a step of 0)",
                       T, n, a, b)
    lo, hi = T // n, -(-T // n)
    gaps = [a - b for a, b in zip(ints, ints[1:])]
    bad = [gp for gp in gaps if gp not in (lo, hi)]
    if bad:
        return (fmt("for T={0}, n={1}: every gap must be ⌊T/n⌋ = {2} or ⌈T/n⌉ = {3}, got a gap of {4} (a lopsided "
                    "step, e.g. a stride of ⌈T/n⌉ with 0 appended)", T, n, lo, hi, bad[0]))
    return None


def check_ddim_timesteps(fn, pairs=VISIBLE_PAIRS):
    """fn(T, n) → n + 1 ints from T down to 0, strictly decreasing, gaps ⌊T/n⌋ or ⌈T/n⌉, for every (T, n)."""
    name = "ddim_timesteps"
    for T, n in pairs:
        problem = timesteps_problem(_call(name, fn, T, n), T, n)
        if problem:
            _fail(name, problem)
    _ok(name, "n + 1 ints from T to 0 with gaps ⌊T/n⌋ or ⌈T/n⌉ for all {0} cases, e.g. (10, 3) → {1}",
              len(pairs), [int(v) for v in fn(10, 3)])


# ------------------------------------------------------------------------------------------ (b) x̂₀, forward jump
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
        again = _call(name, fn, x, t, t_prev, eps, s)
        if isinstance(again, torch.Tensor) and again.shape == out.shape and not _close(again, out):
            _fail(name, "{0}: two calls with the same inputs gave different results — with η = 0 the step draws no "
                        "fresh noise: re-use the predicted ε when you noise x̂₀ to t_prev", where)
        if _close(out, x):
            _fail(name, "{0}: you returned x_t unchanged — the same time was used for both halves: x̂₀ comes from "
                        "x_t at t, and is noised to t_prev", where)
        if t - 1 != t_prev and _close(out, ddim_step(x, t, t - 1, eps, s, eta=0.0)):
            _fail(name, "{0}: you stepped to t − 1; DDIM jumps straight to t_prev (use ᾱ at t_prev)", where)
        swapped = s.add_noise(s.predict_x0(x, t_prev, eps), t, eps)
        if _close(out, swapped):
            _fail(name, "{0}: the roles are swapped — x̂₀ comes from x_t at time t; the noising goes to t_prev",
                        where)
        if _close(out, s.predict_x0(x, t, eps)):
            _fail(name, "{0}: you returned x̂₀; put the noise back at the level of t_prev", where)
        a, ap = s.alpha[t], s.alpha[t_prev]
        if _close(out, ap.sqrt() * (x - (1 - a).sqrt() * eps) / a.sqrt() + (1 - ap).sqrt() * eps):
            _fail(name, "{0}: use the cumulative ᾱ (schedule.alpha_bar), not α (schedule.alpha)", where)
        _fail(name, "{0}: values differ from √ᾱ_prev·x̂₀ + √(1−ᾱ_prev)·ε (max error {1:.3g})",
                    where, (out - want).abs().max())
    _ok(name, "matches DDIM eq. (12) with η = 0 for 500→480, 40→0, 300→7, 1→0 (linear) and 90→45 (cosine)")


# ------------------------------------------------------------------------------------------ (c) the η > 0 step
# (schedule, t, t_prev, η): a long jump at η = 0.5 (first: there each classic mistake gives its own result);
# t → t − 1 at η = 1, DDPM's step with β̃_t (checked against DDPM's formula, not the library); η = 0; a last step
# into t_prev = 0 (σ = 0 there); the cosine schedule.
ETA_CASES = ((_SCHEDULE, 300, 240, 0.5), (_SCHEDULE, 10, 9, 1.0), (_SCHEDULE, 120, 60, 0.0),
             (_SCHEDULE, 40, 0, 1.0), (_COSINE, 5, 4, 1.0))


def _ddpm_posterior_step(x, t, eps, s, z):
    """Ho et al.'s step with σ² = β̃_t: μ_θ (eq. 11) + √β̃_t z, β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t)·β_t (eq. 7)."""
    a, ab, ap, b = s.alpha[t], s.alpha_bar[t], s.alpha_bar[t - 1], s.beta[t]
    mean = (x - b / (1 - ab).sqrt() * eps) / a.sqrt()
    return mean + ((1 - ap) / (1 - ab) * b).sqrt() * z


def _eta_variants(x, t, t_prev, eps, s, eta, z):
    """(message, result) of the classic mistakes, for the same inputs (NaN where a mistake takes a negative root)."""
    ab, ap, a, b = s.alpha_bar[t], s.alpha_bar[t_prev], s.alpha[t], s.beta[t]
    x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()

    def step(sig, x0=x0, ap=ap, coef=None, noise=None):
        coef = (1 - ap - sig ** 2).sqrt() if coef is None else coef
        return ap.sqrt() * x0 + coef * eps + (sig * z if noise is None else noise)

    sig = eta * ((1 - ap) / (1 - ab)).sqrt() * (1 - ab / ap).sqrt()
    sig1 = ((1 - ap) / (1 - ab)).sqrt() * (1 - ab / ap).sqrt()
    swapped = eta * ((1 - ab) / (1 - ap)).sqrt() * (1 - ap / ab).sqrt()
    a_sig = eta * ((1 - s.alpha[t_prev]) / (1 - a)).sqrt() * (1 - a / s.alpha[t_prev]).sqrt()
    a_x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
    out = []
    if eta not in (0.0, 1.0):
        out.append(("σ ignores η: multiply eq. 16 by η (η = 0 must give no fresh noise, η = 1 the full σ)",
                    step(sig1)))
    if eta > 0:
        out += [
            ("you forgot the fresh noise σ·z (the third term of eq. 12)", step(sig, noise=0)),
            ("the noise term is σ·z, not σ²·z", step(sig, noise=sig ** 2 * z)),
            ("the ε coefficient must leave room for the fresh noise: √(1 − ᾱ_prev − σ²), not √(1 − ᾱ_prev)",
             step(sig, coef=(1 - ap).sqrt())),
            ("inside the ε coefficient subtract σ², not σ: √(1 − ᾱ_prev − σ²)", step(sig, coef=(1 - ap - sig).sqrt())),
            ("σ = η·√β_t is notebook 1's DDPM choice; DDIM's σ comes from eq. 16, from ᾱ_t and ᾱ_prev",
             step(eta * b.sqrt())),
            ("σ needs both factors of eq. 16: η·√((1 − ᾱ_prev)/(1 − ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev)",
             step(eta * (1 - ab / ap).sqrt())),
            ("ᾱ_t and ᾱ_prev are swapped in σ (t is the noisier time, so ᾱ_t < ᾱ_prev and ᾱ_t/ᾱ_prev < 1)",
             step(swapped)),
        ]
    out += [
        ("use the cumulative ᾱ (schedule.alpha_bar), not α (schedule.alpha)", step(a_sig, x0=a_x0,
                                                                                  ap=s.alpha[t_prev])),
        ("the first term scales x̂₀ = schedule.predict_x0(x_t, t, eps), not x_t", step(sig, x0=x)),
        ("x̂₀ comes from x_t at time t, not t_prev", step(sig, x0=(x - (1 - ap).sqrt() * eps) / ap.sqrt())),
    ]
    return out


def _same(out, want, tol=1e-4):
    return torch.allclose(out.float(), want.float(), rtol=tol, atol=tol, equal_nan=True)


def check_ddim_eta_step(fn, cases=ETA_CASES):
    """fn(x_t, t, t_prev, eps, schedule, eta, z) → x_{t_prev}, DDIM eq. (12) with σ(η) of eq. (16); at η = 1 and
    t_prev = t − 1 it must equal DDPM's step with the posterior variance β̃_t."""
    name = "ddim_eta_step"
    x, eps, z = _cases(9)
    for s, t, t_prev, eta in cases:
        out = _call(name, fn, x.clone(), t, t_prev, eps.clone(), s, eta, z.clone())
        if not isinstance(out, torch.Tensor):
            _fail(name, "expected a torch.Tensor, got {0} (did you forget `return`?)", type(out).__name__)
        if tuple(out.shape) != tuple(x.shape):
            _fail(name, "expected shape {0}, got {1}", tuple(x.shape), tuple(out.shape))
        fact = eta == 1.0 and t_prev == t - 1
        want = _ddpm_posterior_step(x, t, eps, s, z) if fact else ddim_step(x, t, t_prev, eps, s, eta=eta, z=z)
        if _same(out, want):
            continue
        where = f"(η = {eta:g}, {t} → {t_prev}, {s})"
        for message, variant in _eta_variants(x, t, t_prev, eps, s, eta, z):
            if _same(out, variant):
                nan = "" if torch.isfinite(out).all() else " (your result has NaN: a square root of a negative number)"
                _fail(name, "{0}: {1}{2}", where, message, nan)
        if not torch.isfinite(out).all():
            _fail(name, "{0}: the result contains NaN or inf — a square root of a negative number or a division by "
                        "zero (at t_prev = 0, ᾱ_prev = 1 and σ = 0)", where)
        what = ("DDPM's step with variance β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t)·β_t, which η = 1 from t to t − 1 must give"
                if fact else "√ᾱ_prev·x̂₀ + √(1 − ᾱ_prev − σ²)·ε + σ·z with σ(η) of eq. 16")
        _fail(name, "{0}: values differ from {1} (max error {2:.3g})", where, what, (out - want).abs().max())
    _ok(name, "eq. (12) with σ(η) of eq. (16) in {0} cases; at η = 1, 10 → 9 it is DDPM's step with variance β̃_t = "
              "(1 − ᾱ_(t−1))/(1 − ᾱ_t)·β_t", len(cases))
