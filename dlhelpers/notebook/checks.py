"""Exercise checks: instant feedback in one or two lines, and a failed cell (0 points) when the answer is wrong.

Each ``check_*`` receives the student's function (never reads notebook globals), tests type, then shape, then
values against the ``dlhelpers`` reference on cases chosen to catch the classic mistakes, and either prints one
success line or raises ``ExerciseError``. IPython shows only our short message (``_render_traceback_``), not a
page of traceback; nbgrader still sees an error, so the cell scores 0.
"""
from __future__ import annotations

import torch

from dlhelpers.ddim import ddim_step, ddim_timesteps
from dlhelpers.ddpm import ddpm_step
from dlhelpers.schedules import NoiseSchedule


class ExerciseError(AssertionError):
    """A wrong answer: the message is the whole feedback."""

    def _render_traceback_(self):  # IPython calls this instead of printing the traceback
        return [f"\033[31m✗ {self}\033[0m"]


def _fail(name: str, message: str):
    raise ExerciseError(f"{name}: {message}")


def _call(name, fn, *args):
    if not callable(fn):
        _fail(name, f"expected a function, got {type(fn).__name__}")
    try:
        return fn(*args)
    except NotImplementedError:
        _fail(name, "not implemented yet — replace `raise NotImplementedError()` with your code in the cell above")
    except ExerciseError:
        raise
    except Exception as exc:  # the student's own bug: report it briefly
        _fail(name, f"your function raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _expect_tensor(name, out, shape):
    if not isinstance(out, torch.Tensor):
        _fail(name, f"expected a torch.Tensor, got {type(out).__name__} (did you forget `return`?)")
    if tuple(out.shape) != tuple(shape):
        _fail(name, f"expected shape {tuple(shape)}, got {tuple(out.shape)}")
    if not torch.isfinite(out).all():
        _fail(name, "the result contains NaN or inf")


def _close(a, b, tol=1e-4):
    return torch.allclose(a.float(), b.float(), rtol=tol, atol=tol)


def _ok(name, detail):
    print(f"✓ {name}: {detail}")


_SCHEDULE = NoiseSchedule.linear(500)


def _cases(seed=0, B=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 3, 16, 16, generator=g), torch.randn(B, 3, 16, 16, generator=g), torch.randn(
        B, 3, 16, 16, generator=g)


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
