"""Notebook 4 (context control): mixed contexts and classifier-free guidance, and the references to fall back to.

* ``check_mix_contexts``: exercise (a), ``my_mix_contexts(weights)`` → a (1, 5) float row w / Σw; all-zero weights
  → the all-zero row (the null context ∅). Same convention as ``dlhelpers.notebook.widgets.mixture_context``.
* ``check_guidance``: exercise (b), ``my_guided_eps(eps_cond, eps_uncond, w)`` → ε_∅ + w (ε_c − ε_∅), Ho & Salimans,
  "Classifier-Free Diffusion Guidance", 2022, eq. (6) written so that w = 1 is plain conditional sampling (their
  ε̃ = (1 + w')ε_c − w'ε_∅, so our w = w' + 1). ``guided_eps`` is the reference with the student's signature.
* ``check_guided_sample``: exercise (c), the guided DDIM loop (Song et al., 2021, eq. 12 with ε̃), run on a closed-form
  stand-in model and checked step by step (times, both calls, the guided step, η's noise, the generator).

Each check takes the student's function, prints one ✓ line or raises ``ExerciseError`` naming the likely mistake."""
from __future__ import annotations

import torch

from dlhelpers.notebook.checks.common import ExerciseError, _call, _close, _expect_tensor, _fail, _ok, fmt
from dlhelpers.notebook.checks.sampling import StandInModel


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
            _fail(name, hint or fmt("at w = {0}: expected ε_uncond + w·(ε_cond − ε_uncond), got values that differ by "
                                    "up to {1:.3g}", w, float((out.float() - want).abs().max())))
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
    ]
    for value, hint in hints:
        if out.shape == value.shape and _close(out, value):
            return hint
    return None


def check_mix_contexts(fn):
    """fn(weights) → (1, 5) float context, weights normalised to sum 1 (all-zero stays the all-zero null row)."""
    name = "mix_contexts"
    cases = [[0.5, 0.0, 1.5, 0.0, 0.0], [0.3, 0.0, 0.1, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0, 0.0], [0, 0, 0, 0, 2],
             (0.2, 0.4, 0.6, 0.8, 1.0)]   # sum > 1 first: a sum clamped at 1 shows itself below 1
    for weights in cases:
        out = _call(name, fn, list(weights) if isinstance(weights, list) else weights)
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (5,):
            _fail(name, "return one row of shape (1, 5) (one context for the whole batch), got shape (5,): "
                        "add .reshape(1, -1)")
        _expect_tensor(name, out, (1, 5))
        if not out.is_floating_point():
            _fail(name, "return a float tensor (the network's context input), got dtype {0}", out.dtype)
        want = torch.tensor([weights], dtype=torch.float32) / sum(weights)
        if not _close(out.cpu(), want):
            raw = _close(out.cpu(), want * sum(weights))
            hint = "divide by the sum even when it is below 1" if raw and weights is not cases[0] else None
            hint = hint or _mix_hint(out.cpu(), weights)
            expected = [round(v, 3) for v in want[0].tolist()]
            got = [round(v, 3) for v in out.cpu()[0].tolist()]
            _fail(name, hint or fmt("for weights {0} expected {1}, got {2}", list(weights), expected, got))
    zero = _call(name, fn, [0.0] * 5)
    if zero is None:
        _fail(name, "for all-zero weights return the all-zero (1, 5) row (the null context), not None")
    if not isinstance(zero, torch.Tensor) or tuple(zero.shape) != (1, 5):
        _fail(name, "for all-zero weights expected the all-zero (1, 5) row, got {0}",
                    tuple(zero.shape) if isinstance(zero, torch.Tensor) else type(zero).__name__)
    if not torch.isfinite(zero).all():
        _fail(name, "all-zero weights must stay the null context: avoid dividing by 0 (you got NaN)")
    if zero.abs().sum() != 0:
        _fail(name, "all-zero weights must stay the null context (all zeros), got {0}", zero.cpu()[0].tolist())
    _ok(name, "hero + food → [0.5, 0, 0.5, 0, 0]; all zeros → the null context")


# ------------------------------------------------------------------------------------- the guided DDIM loop
def guided_sample(model, x_T, context, w, schedule, timesteps, guide, eta=0.0, generator=None):
    """The reference for exercise (c): DDIM (Song et al., 2021, eq. 12) over ``timesteps`` [T, …, 0] from x_T
    (B, C, H, W), with ε̃ = guide(ε_θ(x_t, t/T, c), ε_θ(x_t, t/T, ∅), w) at every step; every draw from
    ``generator``. ``context``: (B, 5), the null context ∅ is its all-zero twin. Returns x_0 (B, C, H, W)."""
    from dlhelpers.ddim import ddim_step
    T, x = schedule.timesteps, x_T
    null = torch.zeros_like(context)                                          # (B, 5): ∅
    with torch.no_grad():
        for t, t_prev in zip(timesteps[:-1], timesteps[1:]):
            t_norm = torch.full((x.shape[0],), t / T, device=x.device)        # (B,)
            eps_cond = model(x, t_norm, context)                              # ε_θ(x_t, c)  (B, C, H, W)
            eps_uncond = model(x, t_norm, null)                               # ε_θ(x_t, ∅)  (B, C, H, W)
            x = ddim_step(x, t, t_prev, guide(eps_cond, eps_uncond, w), schedule, eta=eta, generator=generator)
    return x


_GS, _TIMES = "guided_sample", [20, 17, 11, 6, 2, 0]   # uneven on purpose: a loop must walk the list it is given


def _gs_time(call, T):
    """The integer t of one model call, after checking it came as t/T (one value for the whole batch)."""
    tn, n = call["t"], call["x"].shape[0]
    if isinstance(tn, bool) or not isinstance(tn, (int, float, torch.Tensor)):
        _fail(_GS, "the model's second argument must be t/T, a (B,) float tensor; got {0}", type(tn).__name__)
    if isinstance(tn, int) or isinstance(tn, torch.Tensor) and not tn.is_floating_point():
        _fail(_GS, "the model was given the integer t; it expects the normalised time t/T, a (B,) float tensor")
    if isinstance(tn, torch.Tensor):
        if tn.numel() not in (1, n) or not bool((tn == tn.reshape(-1)[0]).all()):
            _fail(_GS, "t/T must hold the same value for each of the {0} images, shape ({1},); got {2}",
                       n, n, tn.tolist())
        tn = float(tn.reshape(-1)[0])
    if tn > 1 + 1e-6:
        _fail(_GS, "the model was given t = {0:g}; it expects the normalised time t/T (a float in 0…1)", tn)
    return round(tn * T)


def _gs_order_hint(seen):
    if seen == sorted(seen) and seen[0] < _TIMES[0]:
        return fmt("the timesteps ran in the wrong order, upwards; walk them in the order given, T first, down to 0")
    if seen == _TIMES:
        return (fmt("the model was also called at t = 0: a step goes from t to t_prev, so the pairs are "
                    "(timesteps[i], timesteps[i + 1]) and the last one ends at 0"))
    if len(seen) == len(_TIMES) - 1:
        return (fmt("the model saw t = {0}, not the timesteps you were given {1}: loop over the `timesteps` "
                    "argument, do not make your own", seen, _TIMES[:-1]))
    return fmt("the model saw t = {0}; expected one step at each of {1} (then t_prev = {2})",
               seen, _TIMES[:-1], _TIMES[1:])


def _gs_steps(calls, x_T, context, T):
    """Group the model's calls by step: per step t, the x each call saw, ε_cond and ε_uncond ((B, C, H, W) each)."""
    B, steps = x_T.shape[0], []
    for call in calls:
        t, n = _gs_time(call, T), call["x"].shape[0]
        if not steps or steps[-1]["t"] != t:
            steps.append({"t": t, "xs": [], "cond": None, "uncond": None})
        if n % B:
            _fail(_GS, "the model got {0} images at once; expected {1} (or {2} in one batched call)", n, B, 2 * B)
        for k in range(0, n, B):
            c, key = call["c"][k:k + B], "uncond"
            if c.any():
                key = "cond" if _close(c, context, 1e-6) else _fail(
                    _GS, "the model got a context that is neither `context` nor the null context (all zeros)")
            steps[-1][key] = call["out"][k:k + B]
            steps[-1]["xs"].append(call["x"][k:k + B])
    seen = [s["t"] for s in steps]
    if seen != _TIMES[:-1]:
        _fail(_GS, _gs_order_hint(seen))
    for s in steps:
        if s["uncond"] is None:
            _fail(_GS, "at t = {0} the model was never asked with the null context: the guidance needs a second "
                       "call ε_θ(x_t, ∅) with the context all zeros (torch.zeros_like(context))", s['t'])
        if s["cond"] is None:
            _fail(_GS, "at t = {0} the model never got `context`: ε_cond = ε_θ(x_t, c) needs it", s['t'])
    return steps


def _gs_step_hint(x_next, x, s, t_prev, w, schedule, eta):
    """Name what the step did instead of ddim_step(x, t, t_prev, guide(ε_c, ε_∅, w), …), or None."""
    from dlhelpers.ddim import ddim_step
    ec, eu, t = s["cond"], s["uncond"], s["t"]

    def step(eps, to=t_prev, e=eta):
        return ddim_step(x, t, to, eps, schedule, eta=e, z=torch.zeros_like(x))
    variants = [
        (step(ec), "guidance was not applied: the step used ε_cond alone; step with guide(eps_cond, eps_uncond, w)"),
        (step(eu), "the step used ε_uncond (the null-context prediction) alone; use guide(eps_cond, eps_uncond, w)"),
        (step(guided_eps(eu, ec, w)), "guidance scale misapplied: ε_cond and ε_uncond are swapped; call "
                                      "guide(eps_cond, eps_uncond, w)"),
        (step(guided_eps(ec, eu, w + 1)), "guidance scale misapplied: the step used w + 1 (the paper's convention); "
                                          "pass w to guide as it is"),
        (step(guided_eps(ec, eu, w), to=t - 1), "the step went to t − 1; ddim_step must jump to t_prev, the next "
                                                "entry of timesteps"),
    ]
    if eta > 0 and t_prev > 0:
        variants.insert(0, (step(guided_eps(ec, eu, w), e=0.0), "eta was not passed on: at η = 1 ddim_step must add "
                                                               "fresh noise, ddim_step(…, eta=eta, generator=…)"))
    return next((hint for value, hint in variants if _close(x_next, value, 1e-5)), None)


def _gs_run(fn, w, eta, gen_seed, global_seed, B=4):
    from dlhelpers.schedules import NoiseSchedule
    schedule = NoiseSchedule.linear(_TIMES[0], 0.01, 0.2)                     # short and noisy: noise matters
    x_T = torch.randn(B, 3, 8, 8, generator=torch.Generator().manual_seed(0))   # (B, C, H, W)
    context = torch.eye(5)[torch.arange(B) % 5]                                 # (B, 5), one-hot rows
    model, kept = StandInModel((3, 8, 8), seed=1, n_context=5), x_T.clone()
    gen = None if gen_seed is None else torch.Generator().manual_seed(gen_seed)
    with torch.random.fork_rng(devices=[]):                                      # leave the notebook's RNG alone
        torch.manual_seed(global_seed)
        try:
            out = fn(model, x_T, context.clone(), w, schedule, list(_TIMES), guided_eps, eta, gen)
        except (NotImplementedError, ExerciseError):
            _call(_GS, fn, model, x_T, context, w, schedule, list(_TIMES), guided_eps, eta, gen)
        except Exception as exc:  # noqa: BLE001 - say what the calls so far show, else report the exception
            seen = list(dict.fromkeys(_gs_time(c, schedule.timesteps) for c in model.calls))
            if seen and seen != _TIMES[:-1][:len(seen)]:
                _fail(_GS, _gs_order_hint(seen))
            _fail(_GS, "your function raised {0}: {1}",
                       type(exc).__name__, str(exc).splitlines()[0] if str(exc) else '')
    if isinstance(out, tuple):
        _fail(_GS, "return only x (a tensor), not a tuple")
    _expect_tensor(_GS, out, x_T.shape)
    if not torch.equal(x_T, kept):
        _fail(_GS, "x_T was changed in place; start with x = x_T and let ddim_step return the new x")
    return x_T, context, schedule, model, out


def _gs_walk(fn, w, eta, gen_seed):
    """One run, checked step by step against the model's own ε's; returns its output."""
    from dlhelpers.ddim import ddim_step
    x_T, context, schedule, model, out = _gs_run(fn, w, eta, gen_seed, global_seed=1)
    if not model.calls:
        _fail(_GS, "the model was never called: ε_cond = model(x, t_norm, context) at every step")
    steps = _gs_steps(model.calls, x_T, context, schedule.timesteps)
    if any(call["grad"] for call in model.calls):
        _fail(_GS, "autograd was on: wrap the loop in `with torch.no_grad():` (sampling needs no gradients)")
    x = x_T
    for i, (s, t_prev) in enumerate(zip(steps, _TIMES[1:])):
        last = i + 1 == len(steps)
        x_next = out if last else steps[i + 1]["xs"][0]
        if not last and (_close(x_next, x, 1e-6) or any(not _close(v, x_next, 1e-6) for v in steps[i + 1]["xs"])):
            _fail(_GS, "after t = {0} the model saw a stale x: give every call the current x, updated by x = "
                       "ddim_step(x, …) at every step", s['t'])
        if last and _close(out, x_T, 1e-6):
            _fail(_GS, "you returned x_T, the starting noise; return the x the loop ends with")
        hint = _gs_step_hint(x_next, x, s, t_prev, w, schedule, eta)
        if hint:
            _fail(_GS, hint)
        mean = ddim_step(x, s["t"], t_prev, guided_eps(s["cond"], s["uncond"], w), schedule, eta=eta,
                         z=torch.zeros_like(x))
        ab, abp = schedule.alpha_bar[s["t"]], schedule.alpha_bar[t_prev]
        sigma = float(eta * ((1 - abp) / (1 - ab)).sqrt() * (1 - ab / abp).sqrt())
        z = (x_next - mean) / max(sigma, 1e-12)
        if sigma == 0 and not _close(x_next, mean, 1e-5):
            where = fmt("the result") if last else fmt("the x after t = {0}", s['t'])
            _fail(_GS, "{0} differs from ddim_step(x, t, t_prev, guide(eps_cond, eps_uncond, w), schedule, eta=eta, "
                       "generator=generator) — the x you returned?", where)
        if sigma > 0 and not (0.8 < float(z.std()) < 1.2 and abs(float(z.mean())) < 0.2):
            _fail(_GS, "at t = {0}, η = {1}: the step's noise is not σ_t·z with z ~ N(0, I) (std {2:.2f}); let "
                       "ddim_step draw it: ddim_step(…, eta=eta, generator=generator)", s['t'], eta, float(z.std()))
        x = x_next
    return out


def check_guided_sample(fn):
    """fn(model, x_T, context, w, schedule, timesteps, guide, eta=0.0, generator=None) → x_0: guided DDIM."""
    _gs_walk(fn, 3.0, 0.0, 5)                   # deterministic: every step is checked exactly
    out = _gs_walk(fn, 2.0, 1.0, 5)             # η = 1: fresh noise σ_t·z on every step but the last
    if not _close(out, _gs_run(fn, 2.0, 1.0, 5, global_seed=2)[-1], 1e-6):
        _fail(_GS, "the generator was ignored: the same generator gave different samples; draw every noise from "
                   "it, ddim_step(…, generator=generator)")
    if _close(out, _gs_run(fn, 2.0, 1.0, 6, global_seed=1)[-1], 1e-6):
        _fail(_GS, "the generator was ignored: a different generator gave the same samples")
    _gs_run(fn, 2.0, 1.0, None, global_seed=1)   # generator=None must work too (the global RNG)
    _ok(_GS, "the timesteps as given, ε_cond and ε_uncond at every step, guided ε̃ into ddim_step, η = 1 noise "
             "from the generator, under no_grad")
