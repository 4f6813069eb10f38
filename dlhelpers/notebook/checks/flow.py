"""Notebook 06 (flow matching): the straight path, the flow-matching loss and the Euler sampler.

References: Lipman, Chen, Ben-Hamu, Nickel & Le, "Flow Matching for Generative Modeling", 2023, arXiv:2210.02747,
eqs. (20)–(23) with σ_min = 0; Liu, Gong & Liu, "Flow Straight and Fast" (rectified flow), 2023, arXiv:2209.03003.
- (a) the path x_t = (1 − t)·x₀ + t·ε, t ∈ [0, 1] (t = 0 data, t = 1 noise), one t per image of the batch.
- (b) the loss L = E ‖u_θ(x_t, t, c) − (ε − x₀)‖², t ~ U[0, 1] (Lipman et al. eq. 23): compared with
  ``dlhelpers.training.diffusion_loss(…, FlowPath(), …)`` on the same draws, in the library's order (t =
  torch.rand(B), then ε = torch.randn(x₀'s shape), both from the generator). The stand-in network is notebook 1's
  ``StandInModel`` with a context; what it received (x_t, t, c) names the mistake.
- (c) Euler for dx/dt = u from t = 1 to 0 in ``steps`` equal steps, x_{t'} = x_t + (t' − t)·u_θ(x_t, t): one network
  call per step, compared with ``flow_timesteps`` + ``euler_step`` (which equal ``sample_flow_euler``).

Each check prints one ✓ line or raises ``ExerciseError`` naming the likely mistake; ``reference_*`` have the
students' signatures, for ``yours_or_reference``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dlhelpers.flow import FlowPath, euler_step, flow_timesteps
from dlhelpers.notebook.checks.common import _call, _close, _expect_tensor, _fail, _ok
from dlhelpers.notebook.checks.sampling import StandInModel
from dlhelpers.training import diffusion_loss

_PATH = FlowPath()


# ------------------------------------------------------------------------------------------------ references
def reference_interpolate(x0, eps, t):
    """x_t = (1 − t)·x₀ + t·ε for a (B,) t (``FlowPath.add_noise``), the signature of exercise (a)."""
    return _PATH.add_noise(x0, t, eps)


def reference_flow_loss(model, x0, context, generator):
    """Flow matching's loss for one batch in fp32, no context dropout (``dlhelpers.training.diffusion_loss``)."""
    return diffusion_loss(model, x0, context, _PATH, generator, p_uncond=0.0, precision="fp32")


def reference_euler_sample(model, x_T, context, steps):
    """Euler from t = 1 to 0 in ``steps`` equal steps, one network call each (``flow_timesteps``, ``euler_step``)."""
    ts = flow_timesteps(steps)
    x = x_T.clone()                                                              # (B, C, H, W)
    with torch.no_grad():
        for t, t_prev in zip(ts[:-1], ts[1:]):
            u = model(x, torch.full((x.shape[0],), t, device=x.device), context)   # (B, C, H, W)
            x = euler_step(x, t, t_prev, u)
    return x


# ------------------------------------------------------------------------------------------- (a) the path
# 16 times, one per image, from 0 to 1; B = 16 = the sprite width, so a (B,) t that is not reshaped broadcasts
# along the width without an error, and the check can name it
_TIMES = torch.tensor([0.0, 1.0, 0.5, 0.1, 0.9, 0.25, 0.75, 0.3, 0.6, 0.05, 0.95, 0.4, 0.7, 0.15, 0.85, 0.55])


def check_interpolate(fn):
    """fn(x0, eps, t) → (1 − t)·x0 + t·eps with t a (B,) tensor, one time per image."""
    name = "interpolate"
    x0, eps = torch.randn(2, 16, 3, 16, 16, generator=torch.Generator().manual_seed(3))   # 2 × (B, C, H, W)
    t = _TIMES.clone()
    x0_in, eps_in, t_in = x0.clone(), eps.clone(), t.clone()          # copies, so that a change in place shows
    out = _call(name, fn, x0_in, eps_in, t_in)
    if not (torch.equal(x0_in, x0) and torch.equal(eps_in, eps) and torch.equal(t_in, t)):
        _fail(name, "your function changed x0, eps or t in place; compute a new tensor instead")
    if isinstance(out, torch.Tensor) and out.shape == x0.shape:
        for shaped, hint in ((t, "t was broadcast along the image width: give it the shape (B, 1, 1, 1) "
                                 "(t.view(-1, 1, 1, 1)), so that each image gets its own t"),
                             (t.view(-1, 1), "t was broadcast along the image height: give it the shape (B, 1, 1, 1) "
                                             "(t.view(-1, 1, 1, 1)), so that each image gets its own t")):
            if _close(out, (1 - shaped) * x0 + shaped * eps):
                _fail(name, hint)
    _expect_tensor(name, out, x0.shape)
    want = _PATH.add_noise(x0, t, eps)
    if _close(out, want):
        return _ok(name, "x_t = (1 − t)·x0 + t·ε for 16 images, each at its own t (t = 0: the sprite, t = 1: pure "
                         "noise)")
    tb = t.view(-1, 1, 1, 1)                                                     # (B, 1, 1, 1)
    hints = [
        (tb * x0 + (1 - tb) * eps, "t runs the wrong way: t = 0 must give the clean x0 and t = 1 pure noise, so ε "
                                   "gets the weight t and x0 the weight 1 − t"),
        ((1 - tb).sqrt() * x0 + tb.sqrt() * eps, "the square roots belong to DDPM's path (√ᾱ, √(1 − ᾱ)); the "
                                                 "straight path weighs x0 and ε by 1 − t and t themselves"),
        ((1 - tb) * x0, "the noise term t·ε is missing"),
        (x0 + tb * eps, "x0's weight must shrink to 0 at t = 1: (1 − t)·x0, not x0"),
        (tb * (eps - x0), "that is t·(ε − x0), the distance travelled; the path starts at x0: x0 + t·(ε − x0)"),
    ]
    for value, hint in hints:
        if _close(out, value):
            _fail(name, hint)
    right = [bool(_close(out[i], want[i])) for i in range(len(t))]
    if any(right):
        _fail(name, "right for {0} of {1} images: use each image's own t, shaped (B, 1, 1, 1)", sum(right), len(t))
    _fail(name, "values differ from (1 − t)·x0 + t·ε (max error {0:.3g})", (out - want).abs().max())


# ------------------------------------------------------------------------------------------- (b) the loss
def _loss_data(B: int, seed: int = 0):
    """Clean images in [−1, 1] (B, 3, 16, 16) and one-hot contexts (B, 5)."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(B, 3, 16, 16, generator=g) * 2 - 1
    return x0, F.one_hot(torch.randint(0, 5, (B,), generator=g), 5).float()


def _loss_run(fn, B: int, seed: int, global_seed: int = 1000):
    """(the student's loss, the stand-in network with its calls, x0, context) for one batch."""
    x0, context = _loss_data(B)
    model = StandInModel((3, 16, 16), seed=1, n_context=5)
    with torch.random.fork_rng(devices=[]):                 # the notebook's global RNG is left as it was
        torch.manual_seed(global_seed)
        out = _call("flow_loss", fn, model, x0.clone(), context.clone(), torch.Generator().manual_seed(seed))
    return out, model, x0, context


def _times_given(t, B: int):
    """The time argument the network got, as a float (n,) tensor (a Python number counts as one value)."""
    if isinstance(t, bool) or not isinstance(t, (int, float, torch.Tensor)):
        _fail("flow_loss", "the network's second argument must be the time t as a (B,) float tensor, got {0}",
              type(t).__name__)
    return torch.as_tensor(t).detach().double().reshape(-1)


def _loss_value_hint(loss, pred, x0, eps, x_t, eps2):
    """Which classic target (or reduction) the student's loss value corresponds to, or None."""
    cands = [(F.mse_loss(pred, x0 - eps), "the target's sign is flipped: the velocity is ε − x0 (from the sprite at "
                                          "t = 0 towards the noise at t = 1), not x0 − ε"),
             (F.mse_loss(pred, eps), "the target is ε, DDPM's habit; the flow network predicts the velocity ε − x0"),
             (F.mse_loss(pred, x0), "the target is x0; the flow network predicts the velocity ε − x0"),
             (F.mse_loss(pred, x_t), "the target is x_t; the flow network predicts the velocity ε − x0"),
             (F.mse_loss(pred, eps2 - x0), "the target uses another noise than the one inside x_t; draw ε once and "
                                           "use it for both"),
             (F.mse_loss(pred, eps - x0, reduction="sum"), "that is the sum of the squared errors; take their mean "
                                                           "(torch.nn.functional.mse_loss)")]
    for value, hint in cands:
        if math.isclose(loss, float(value), rel_tol=1e-4):
            return hint
    return None


def _flow_loss_case(fn, B: int, seed: int):
    name = "flow_loss"
    out, model, x0, context = _loss_run(fn, B, seed)
    if isinstance(out, float):
        _fail(name, "expected a scalar (0-d) tensor, got a Python float: return the loss tensor itself, not .item()")
    if not isinstance(out, torch.Tensor):
        _fail(name, "expected a scalar (0-d) tensor, got {0}", type(out).__name__)
    if out.ndim != 0:
        _fail(name, "expected a scalar (0-d) tensor, got {0}", f"{type(out).__name__} {tuple(out.shape)}")
    if not out.requires_grad:
        _fail(name, "return the loss tensor itself (no .item(), .detach() or torch.no_grad): backward() needs it")
    if not model.calls:
        _fail(name, "the network was never called: u = model(x_t, t, context)")
    call = model.calls[-1]
    t = _times_given(call["t"], B)
    if t.numel() != B:
        _fail(name, "the network got {0} time(s) for {1} images; give every image its own t: torch.rand(B, …)",
              t.numel(), B)
    if bool((t == t.round()).all()):
        _fail(name, "t must be a float in [0, 1] (torch.rand), not an integer: with integer t every image is either "
                    "the clean sprite (t = 0) or pure noise (t = 1)")
    if float(t.max()) > 1 + 1e-6:
        _fail(name, "the network got t up to {0:.4g}; it takes t itself, in [0, 1]: there is no T to multiply by",
              float(t.max()))
    if len(torch.unique(t)) < B // 2:
        _fail(name, "all images share (almost) the same t; draw one t per image: torch.rand(B, generator=…)")
    if bool(((t * 500) - (t * 500).round()).abs().max() < 1e-3):
        _fail(name, "t takes only 500 levels (torch.randint, DDPM's habit); flow time is continuous: torch.rand(B, "
                    "generator=…)")
    c = call.get("c")
    if c is None or not c.any():
        _fail(name, "the network got no context: pass `context` as its third argument")
    if c.shape != context.shape or not _close(c, context):
        _fail(name, "the network got a different context: pass `context` on unchanged")
    x = call["x"]
    if _close(x, x0):
        _fail(name, "the network saw the clean x0; give it x_t")
    g = torch.Generator().manual_seed(seed)                 # the library's draws, in its order
    t_want = torch.rand(B, generator=g).double()
    eps = torch.randn(x0.shape, generator=g)
    eps2 = torch.randn(x0.shape, generator=g)
    if not torch.allclose(t, t_want, atol=1e-6):
        g = torch.Generator().manual_seed(seed)
        torch.randn(x0.shape, generator=g)
        if torch.allclose(t, torch.rand(B, generator=g).double(), atol=1e-6):
            _fail(name, "you drew ε before t; draw t first, then ε (the library's order), so the check can repeat your "
                        "draws")
        again = _loss_run(fn, B, seed, global_seed=1001)[1].calls
        if again and not torch.equal(_times_given(again[-1]["t"], B), t):
            _fail(name, "two runs with the same generator drew different t: draw t and ε from `generator` "
                        "(torch.rand(…, generator=generator), torch.randn(…, generator=generator))")
        _fail(name, "the times are not t = torch.rand(B, generator=generator, device=x0.device), the first draw")
    tb = t_want.float().view(-1, 1, 1, 1)
    x_want = (1 - tb) * x0 + tb * eps
    if not _close(x, x_want):
        if _close(x, tb * x0 + (1 - tb) * eps):
            _fail(name, "x_t runs the wrong way: (1 − t)·x0 + t·ε (use your my_interpolate)")
        _fail(name, "the network's input must be x_t = (1 − t)·x0 + t·ε with the t you give it and ε = "
                    "torch.randn(x0.shape, generator=generator), drawn right after t")
    loss, want = float(out.detach()), float(F.mse_loss(call["out"], eps - x0))
    if not math.isclose(loss, want, rel_tol=1e-4):
        hint = _loss_value_hint(loss, call["out"], x0, eps, x, eps2)
        if hint:
            _fail(name, hint)
        _fail(name, "expected the mean squared error between the network's output and ε − x0, {0:.5g}; got {1:.5g}",
              want, loss)
    ref = reference_flow_loss(StandInModel((3, 16, 16), seed=1, n_context=5), x0, context,
                              torch.Generator().manual_seed(seed))
    if not math.isclose(loss, float(ref.detach()), rel_tol=1e-4):   # pragma: no cover - the steps above pin every draw
        _fail(name, "expected diffusion_loss's value {0:.5g} on the same draws, got {1:.5g}", float(ref.detach()), loss)


def check_flow_loss(fn):
    """fn(model, x0, context, generator) → MSE(model(x_t, t, context), ε − x0), t ~ U[0, 1] then ε ~ N(0, I) from
    ``generator``: equal to ``diffusion_loss(model, x0, context, FlowPath(), generator)`` on the same draws."""
    _flow_loss_case(fn, 64, 0)
    _flow_loss_case(fn, 8, 5)
    _ok("flow_loss", "t ~ U[0, 1] per image, then ε, x_t = (1 − t)·x0 + t·ε, MSE against the velocity ε − x0: "
                     "diffusion_loss's value on the same draws")


# ------------------------------------------------------------------------------------------- (c) Euler
def _euler_run(fn, steps: int, B: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(B, 3, 16, 16, generator=g)                                 # (B, C, H, W)
    context = F.one_hot(torch.arange(B) % 5, 5).float()
    model = StandInModel((3, 16, 16), seed=seed + 2, n_context=5)
    x_in = x_T.clone()                                                           # a copy, so that a change shows
    out = _call("euler_sample", fn, model, x_in, context.clone(), steps)
    if not torch.equal(x_in, x_T):
        _fail("euler_sample", "x_T was changed in place; start with x = x_T.clone()")
    return x_T, context, model, out


def _call_time(name, call, B):
    t = _times_given(call["t"], B)
    if t.numel() not in (1, B):
        _fail(name, "the time must have one value per image, shape ({0},); got {1} values", B, t.numel())
    if not bool((t == t[0]).all()):
        _fail(name, "at each step every image is at the same time t: fill the (B,) time tensor with one value")
    return float(t[0])


def _euler_hint(name, steps, calls, x_T, B):
    """Name the mistake from the network calls: their count, times and inputs."""
    n = len(calls)
    if n == 0:
        _fail(name, "the network was never called: u = model(x, t, context) at every step")
    times = [_call_time(name, c, B) for c in calls]
    want = flow_timesteps(steps)[:-1]                                            # 1, (steps − 1)/steps, …, 1/steps
    if max(times) > 1 + 1e-6:
        _fail(name, "the network got t = {0:g}; it takes the time t in [0, 1] (t = i / steps), not a step index or "
                    "t·T", max(times))
    if n == 1 and steps > 1:
        _fail(name, "the network was called once for {0} steps: re-use of the first velocity is one straight jump; "
                    "call it at every step, on the current x", steps)
    if n > 1 and times[0] < times[-1]:
        _fail(name, "t goes 0 → 1; sampling starts from the noise at t = 1 and walks down to 0")
    if n == steps + 1:
        _fail(name, "{0} network calls for {1} steps: one call per step; the loop ends at t = 0 without calling the "
                    "network there", n, steps)
    if n != steps:
        _fail(name, "expected {0} network calls (one per step), got {1}", steps, n)
    if all(abs(a - (b - 1 / steps)) < 1e-5 for a, b in zip(times, want)):
        _fail(name, "the velocity of each step is taken at its start t (1 first), not at its end t'")
    if any(abs(a - b) > 1e-5 for a, b in zip(times, want)):
        _fail(name, "the network should see t = {0}; got {1}", [round(v, 3) for v in want[:4]],
              [round(v, 3) for v in times[:4]])
    if n > 1 and all(_close(c["x"], x_T, 1e-6) for c in calls):
        _fail(name, "the network saw x_T at every step; give it the current x")


def check_euler_sample(fn):
    """fn(model, x_T, context, steps) → x at t = 0: Euler from t = 1 in ``steps`` equal steps, one call each."""
    name = "euler_sample"
    for steps in (4, 1, 10):
        x_T, context, model, out = _euler_run(fn, steps)
        if isinstance(out, (tuple, list)):
            _fail(name, "return only the final x (a tensor), not a {0}", type(out).__name__)
        _expect_tensor(name, out, x_T.shape)
        _euler_hint(name, steps, model.calls, x_T, x_T.shape[0])              # count, times, inputs: always
        want = reference_euler_sample(StandInModel((3, 16, 16), seed=2, n_context=5), x_T, context, steps)
        if _close(out, want):
            continue
        if _close(out, x_T, 1e-6):
            _fail(name, "you returned x_T, the starting noise; return the x the loop ends with")
        x, ts = x_T, flow_timesteps(steps)
        for k, c in enumerate(model.calls):                                     # step by step, from the calls
            t, t_prev = ts[k], ts[k + 1]
            nxt = model.calls[k + 1]["x"] if k + 1 < len(model.calls) else out
            if not _close(c["x"], x, 1e-5):
                break
            if _close(nxt, x + (t - t_prev) * c["out"], 1e-5):
                _fail(name, "the step goes the wrong way: x_t' = x_t + (t' − t)·u with t' < t, so each step "
                            "moves x against u, by (t − t')·u")
            if _close(nxt, x - c["out"], 1e-5) or _close(nxt, x + c["out"], 1e-5):
                _fail(name, "each step moves x by Δt·u with Δt = t' − t = −1/steps, not by the whole u")
            if not _close(nxt, x + (t_prev - t) * c["out"], 1e-5):
                _fail(name, "step {0} (t = {1:g} → {2:g}): expected x + (t' − t)·u with u the network's output at "
                            "the current x", k + 1, t, t_prev)
            x = nxt
        _fail(name, "values differ from Euler's x_t' = x_t + (t' − t)·u from t = 1 to 0 (max error {0:.3g})",
              (out - want).abs().max())
    _ok(name, "one network call per step at t = 1, …, 1/steps, each step x + (t' − t)·u, ending at t = 0 (steps = 4, "
              "1, 10)")
