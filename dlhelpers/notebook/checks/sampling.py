"""Notebook 01 (sampling): the DDPM step, x̂₀, and the reverse loop around the step.

Reference: Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", 2020, arXiv:2006.11239.
- Algorithm 2: x_T ~ N(0, I); for t = T…1: z ~ N(0, I) if t > 1 else z = 0,
  x_{t−1} = 1/√α_t · (x_t − (1 − α_t)/√(1 − ᾱ_t) · ε_θ(x_t, t)) + σ_t z, σ_t = √β_t.
- Eq. (4) solved for x0: x̂₀ = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t.

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake.
``reference_*`` have the students' signatures, for ``yours_or_reference`` in the notebook's later cells.
``check_sample`` runs the student's loop on a closed-form stand-in model and a 10-step schedule and looks at
what reached the model and the step (times, order, noise, gradients), so it is fast and says what went wrong.
"""
from __future__ import annotations

import torch

from dlhelpers.ddpm import ddpm_step
from dlhelpers.devices import same_device
from dlhelpers.notebook.checks.common import _SCHEDULE, _call, _cases, _close, _expect_tensor, _fail, _ok, fmt
from dlhelpers.schedules import NoiseSchedule


# ------------------------------------------------------------------------------------------ references
def reference_ddpm_step(x_t, t, eps, schedule, z):
    """``my_ddpm_step``'s signature over ``dlhelpers.ddpm.ddpm_step`` (Algorithm 2, one step)."""
    return ddpm_step(x_t, t, eps, schedule, z=z)


def reference_predict_x0(x_t, t, eps, schedule):
    """``my_predict_x0``'s signature over ``NoiseSchedule.predict_x0``."""
    return schedule.predict_x0(x_t, t, eps)


def reference_sample(model, x_T, schedule, step_fn, extra_noise=True, generator=None):
    """Algorithm 2's loop around ``step_fn(x_t, t, eps, schedule, z)``: t = T…1, ε from the model at t/T, a fresh
    z ~ N(0, I) from ``generator`` each step (zeros when ``extra_noise`` is False). Returns x_0, (B, C, H, W)."""
    if not isinstance(extra_noise, bool):
        raise TypeError(f"extra_noise must be True or False, got {type(extra_noise).__name__}")
    if not isinstance(x_T, torch.Tensor) or x_T.ndim != 4:
        raise ValueError(f"x_T must be a (B, C, H, W) tensor, got {getattr(x_T, 'shape', type(x_T).__name__)}")
    if generator is not None and not same_device(generator.device, x_T.device):
        raise ValueError(f"generator is on {generator.device} but x_T is on {x_T.device}")
    T, x = schedule.timesteps, x_T
    with torch.no_grad():
        for t in range(T, 0, -1):
            t_norm = torch.full((x.shape[0],), t / T, device=x.device)            # (B,)
            eps = model(x, t_norm)                                                  # (B, C, H, W)
            if extra_noise:
                z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            else:
                z = torch.zeros_like(x)
            x = step_fn(x, t, eps, schedule, z)
    return x


# ------------------------------------------------------------------------------------------ step and x̂₀
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
            _fail(name, "at t = {0} no noise was added: x_(t−1) = mean + √β_t·z", t)
        if t > 1 and _close(out, mean + s.beta[t] * z):
            _fail(name, "the noise is scaled by β_t; it needs √β_t")
        a, ab = s.alpha[t], s.alpha_bar[t]
        no_sqrt_mean = (x - eps * (1 - a) / (1 - ab)) / a.sqrt()
        if _close(out, no_sqrt_mean + (s.beta[t].sqrt() * z if t > 1 else 0)):
            _fail(name, "the ε coefficient needs √(1 − ᾱ_t) in the denominator: (1 − α_t)/√(1 − ᾱ_t)")
        if _close(out, mean * a.sqrt() + (s.beta[t].sqrt() * z if t > 1 else 0)):
            _fail(name, "the mean needs the factor 1/√α_t: divide (x_t − …·ε) by √α_t")
        if _close(out, (x - eps * (1 - ab) / (1 - ab).sqrt()) / ab.sqrt() + (s.beta[t].sqrt() * z if t > 1 else 0)):
            _fail(name, "the mean uses the one-step α_t (schedule.alpha), not the cumulative ᾱ_t, except in √(1 − "
                        "ᾱ_t)")
        _fail(name, "at t = {0}: values differ from the DDPM step (max error {1:.3g})", t, (out - want).abs().max())
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
            if _close(out, (x - (1 - ab) * eps) / ab.sqrt()):
                _fail(name, "the noise is scaled by √(1 − ᾱ_t), not (1 − ᾱ_t)")
            if _close(out, (x - (1 - s.alpha[t]).sqrt() * eps) / s.alpha[t].sqrt()):
                _fail(name, "use the cumulative ᾱ_t (schedule.alpha_bar), not α_t")
            if _close(out, (x + (1 - ab).sqrt() * eps) / ab.sqrt()):
                _fail(name, "the noise was added; moving it to the other side of x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε "
                            "subtracts it")
            if _close(out, (x - (1 - ab).sqrt() * eps) / ab):
                _fail(name, "divided by ᾱ_t; x0 is scaled by the square root √ᾱ_t")
            _fail(name, "at t = {0}: values differ from x0 solved out of x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε", t)
    _ok(name, "x̂0 = (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t at t = 10 and 400")


# ------------------------------------------------------------------------------------------ the loop
class StandInModel(torch.nn.Module):
    """A closed-form "network" for checking loops: ε(x, t/T, c) = 0.5·x + (t/T)·b + Σ_k c_k·a_k, with one learnable
    image b and, for ``n_context`` > 0, one image a_k per context feature (c = None: the null context ∅).

    Records what every call received: the input x, the time as given, the context (with ``n_context``), whether
    autograd was on, the output."""

    def __init__(self, shape_chw, seed: int = 0, n_context: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.b = torch.nn.Parameter(torch.randn(shape_chw, generator=g))             # (C, H, W)
        self.a = torch.randn((n_context,) + tuple(shape_chw), generator=g)             # (K, C, H, W)
        self.n_context, self.calls = n_context, []

    def forward(self, x, t, c=None):   # the names of ContextUnet.forward; t is the normalised time t/T
        B, K = x.shape[0], self.n_context
        tn = t
        if isinstance(tn, (int, float)) and not isinstance(tn, bool):
            tn = torch.full((B,), float(tn), device=x.device)
        usable = isinstance(tn, torch.Tensor) and tn.numel() in (1, B)
        scale = tn.float().reshape(-1, 1, 1, 1) if usable else torch.zeros(B, 1, 1, 1, device=x.device)
        out = 0.5 * x + scale.clamp(-2, 2) * self.b                            # (B, C, H, W)
        record = {"x": x.detach().clone(), "t": t, "grad": torch.is_grad_enabled()}
        if K:
            c = torch.zeros(B, K, device=x.device) if c is None else c
            if not isinstance(c, torch.Tensor) or tuple(c.shape) != (B, K):
                raise ValueError(fmt("the context must have shape ({0}, {1}) (or be None for ∅), got {2}", B, K,
                                     tuple(c.shape) if isinstance(c, torch.Tensor) else type(c).__name__))
            out = out + torch.einsum("bk,kchw->bchw", c.float(), self.a.to(x.device))
            record["c"] = c.detach().float().clone()
        self.calls.append(dict(record, out=out.detach().clone()))
        return out


class _RecordingStep:
    """The reference DDPM step, recording what it was given; never raises (the check explains afterwards)."""

    def __init__(self):
        self.calls = []

    def __call__(self, x_t, t, eps, schedule, z=None):
        call = {"x": x_t, "t": t, "eps": eps, "z": z}
        self.calls.append(call)
        try:
            out = ddpm_step(x_t, t, eps, schedule, z=z)
        except Exception:  # noqa: BLE001 - a wrong t or z: keep going, the check names the mistake
            out = x_t
        call["out"] = out.detach().clone() if isinstance(out, torch.Tensor) else out
        return out


def _as_int_t(t):
    if isinstance(t, int) and not isinstance(t, bool):
        return t
    if isinstance(t, torch.Tensor) and not t.is_floating_point() and t.numel() == 1:
        return int(t.reshape(()).item())
    return None


def _model_times(name, calls, x, T):
    """The integer t the model saw at each call, after checking the time was t/T in the right form."""
    times = []
    for call in calls:
        tn = call["t"]
        if isinstance(tn, bool) or not isinstance(tn, (int, float, torch.Tensor)):
            _fail(name, "the model's second argument must be t/T as a float tensor, got {0}", type(tn).__name__)
        if isinstance(tn, int) or isinstance(tn, torch.Tensor) and not tn.is_floating_point():
            _fail(name, "the model was given the integer t; it expects the normalised time t/T (a float in 0…1)")
        if isinstance(tn, torch.Tensor):
            if tn.numel() not in (1, x.shape[0]):
                _fail(name, "t/T must have one value per image, shape ({0},); got {1}", x.shape[0], tuple(tn.shape))
            if not same_device(tn.device, x.device):
                _fail(name, "t/T is on {0} but x is on {1}: create it with device=x.device", tn.device, x.device)
            values = tn.float().reshape(-1)
            if not bool((values == values[0]).all()):
                _fail(name, "all images are at the same step: t/T must hold the same value for every image")
            tn = float(values[0])
        if tn > 1 + 1e-6:
            _fail(name, "the model was given t = {0:g}; it expects the normalised time t/T (a float in 0…1)", tn)
        times.append(round(tn * T))
    return times


def _order_hint(times, T):
    if times == list(range(1, T + 1)):
        return fmt("t ran upwards, 1…T; sampling goes backwards: for t in range(T, 0, -1)")
    if times == list(range(T, -1, -1)):
        return fmt("off by one: the loop also ran t = 0; stop after t = 1 (range(T, 0, -1))")
    if times == list(range(T - 1, 0, -1)) or times == list(range(T - 1, -1, -1)):
        return fmt("off by one: the loop ran t = {0}…{1}; x_T is the noise at step T, so run t = T…1",
                   T - 1, times[-1])
    if len(times) != T:
        return fmt("the model was called {0} times; expected T = {1} calls, one per step t = T…1", len(times), T)
    return fmt("the model saw t = {0}…; expected T, T−1, …, 1 = {1}…", times[:4], list(range(T, T - 4, -1)))


def _run(name, fn, T, B, seed, extra_noise, gen_seed, global_seed):
    schedule = NoiseSchedule.linear(T, 0.01, 0.2)   # a short, noisy schedule: the extra noise matters
    x_T = torch.randn(B, 3, 8, 8, generator=torch.Generator().manual_seed(seed))   # (B, C, H, W)
    model, step = StandInModel((3, 8, 8), seed + 1), _RecordingStep()
    gen = None if gen_seed is None else torch.Generator().manual_seed(gen_seed)
    kept = x_T.clone()
    with torch.random.fork_rng(devices=[]):   # the notebook's global RNG is left as it was
        torch.manual_seed(global_seed)
        out = _call(name, fn, model, x_T, schedule, step, extra_noise, gen)
    if isinstance(out, tuple):
        _fail(name, "return only x (a tensor), not a tuple")
    _expect_tensor(name, out, x_T.shape)
    if not torch.equal(x_T, kept):
        _fail(name, "x_T was changed in place; start with x = x_T and let step_fn return the new x")
    return x_T, model, step, out


def _loop_properties(fn, T=10, B=4, seed=0):
    """Run ``fn`` on the stand-in model and check the loop's observable behaviour; raises ExerciseError."""
    name = "sample"
    x_T, model, step, out = _run(name, fn, T, B, seed, True, seed + 100, 1)
    want = list(range(T, 0, -1))
    if not model.calls:
        _fail(name, "the model was never called: eps = model(x, t_norm) at every step")
    times = _model_times(name, model.calls, x_T, T)
    if times != want:
        _fail(name, _order_hint(times, T))
    if any(call["grad"] for call in model.calls):
        _fail(name, "autograd was on: wrap the loop in `with torch.no_grad():` (sampling needs no gradients)")
    step_times = [_as_int_t(call["t"]) for call in step.calls]
    if None in step_times:
        _fail(name, "step_fn takes the integer step t (it indexes schedule.alpha[t]), not t/T")
    if step_times != want:
        _fail(name, "step_fn saw t = {0}…; expected the same t as the model, T…1", step_times[:4])
    x_prev = x_T
    for m, s in zip(model.calls, step.calls):
        t = _as_int_t(s["t"])
        if not _close(m["x"], x_prev, 1e-5):
            _fail(name, "at t = {0} the model saw a stale x: update it with x = step_fn(x, t, eps, schedule, z)", t)
        if not isinstance(s["eps"], torch.Tensor) or not _close(s["eps"], m["out"], 1e-5):
            _fail(name, "at t = {0} step_fn did not get the model's ε for the current x", t)
        z = s["z"]
        if t == 1:          # z is not used on the last step: drawing it or not, zeros or None, are all fine
            x_prev = s["out"]
            continue
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != tuple(x_T.shape):
            _fail(name, "z must be a tensor shaped like x {0}, got {1}", tuple(x_T.shape), getattr(z, 'shape', z))
        if not bool(z.abs().gt(0).any()):
            _fail(name, "step_fn got z = 0 at t = {0}: with extra_noise=True pass it fresh noise, z = "
                        "torch.randn(x.shape, generator=generator, device=x.device)", t)
        if not 0.7 < float(z.float().std()) < 1.3:
            _fail(name, "z must be standard normal noise (std 1), got std {0:.2f}; step_fn scales it by √β_t itself",
                        float(z.float().std()))
        x_prev = s["out"]
    zs = [s["z"] for s in step.calls[:-1]]   # t = T…2
    if any(_close(a, b, 1e-6) for a, b in zip(zs, zs[1:])):
        _fail(name, "the same z was used at consecutive steps; draw a fresh z inside the loop")
    if not _close(out, x_prev, 1e-5):
        if _close(out, x_T, 1e-6):
            _fail(name, "you returned x_T, the starting noise; return the x the loop ends with")
        if _close(out, step.calls[-1]["x"], 1e-5):
            _fail(name, "you returned x from before the last step; return x after step_fn at t = 1")
        _fail(name, "return step_fn's result at t = 1 as it is (no noise added on the last step, nothing else)")
    _, _, _, again = _run(name, fn, T, B, seed, True, seed + 100, 2)
    if not _close(out, again, 1e-6):
        _fail(name, "two runs with the same generator differ: draw z with torch.randn(..., generator=generator)")
    _, _, _, other = _run(name, fn, T, B, seed, True, seed + 101, 1)
    if _close(out, other, 1e-6):
        _fail(name, "a different generator gave the same samples: draw z from the generator you are given")
    _, _, step0, _ = _run(name, fn, T, B, seed, False, seed + 100, 1)
    if any(not isinstance(s["z"], torch.Tensor) or bool(s["z"].abs().gt(0).any()) for s in step0.calls[:-1]):
        _fail(name, "with extra_noise=False pass z = torch.zeros_like(x) to step_fn")
    _run(name, fn, T, B, seed, True, None, 1)   # generator=None must work too (the global RNG)


def check_sample(fn):
    """fn(model, x_T, schedule, step_fn, extra_noise=True, generator=None) → x_0, DDPM Algorithm 2's loop."""
    _loop_properties(fn, T=10, B=4, seed=0)
    _ok("sample", "t = T…1 as t/T to the model, fresh z from the generator each step (zeros without extra "
                  "noise), under no_grad")
