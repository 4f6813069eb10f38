"""Notebook 3 (training): checks of exercises (a)–(d) and the references later cells use (``yours_or_reference``).

(a) ``my_add_noise(x0, t, noise, schedule)``, DDPM eq. (4) (Ho et al. 2020, arXiv:2006.11239) with a (B,) t. (b)
``my_loss(model, x0, context, schedule, generator)``, eq. (14): the stand-in model is an oracle that decodes x₀ from
the context and returns ε̂ = (x_t − √ᾱ_t x₀)/√(1 − ᾱ_t), so a right loss is ≈ 0. (c) ``my_drop_context(context,
p_uncond, generator)``: each row the null context (zeros, ContextUnet's ``c=None``) with probability p_uncond (Ho &
Salimans 2022, arXiv:2207.12598, Algorithm 1). (d) ``my_train_step(model, optimizer, x0, context, schedule,
generator, p_uncond)`` → float: the stand-in predicts a constant b per channel, loss ≈ 1 + b², and one SGD step moves
b by −lr·(2/3)·b.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dlhelpers.notebook.checks.common import _SCHEDULE, ExerciseError, _call, _close, _expect_tensor, _fail, _ok, fmt
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.training import diffusion_loss


# ------------------------------------------------------------------------------------------------ references
def reference_add_noise(x0, t, noise, schedule):
    """x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε (``NoiseSchedule.add_noise``), the signature of exercise (a)."""
    return schedule.add_noise(x0, t, noise)


def reference_loss(model, x0, context, schedule, generator):
    """Eq. (14) for one batch in fp32, no context dropout (``dlhelpers.training.diffusion_loss``)."""
    return diffusion_loss(model, x0, context, schedule, generator, p_uncond=0.0, precision="fp32")


def reference_drop_context(context, p_uncond, generator):
    """Each row of ``context`` (B, K) replaced by the null context (zeros) with probability p_uncond, as ``train``."""
    keep = torch.rand((context.shape[0], 1), generator=generator, device=context.device) >= p_uncond   # (B, 1)
    return context * keep


def reference_train_step(model, optimizer, x0, context, schedule, generator, p_uncond):
    """One optimizer step on ``reference_loss`` of the dropped-out contexts; returns the loss as a float."""
    optimizer.zero_grad(set_to_none=True)
    loss = reference_loss(model, x0, reference_drop_context(context, p_uncond, generator), schedule, generator)
    loss.backward()
    optimizer.step()
    return loss.item()


# ------------------------------------------------------------------------------------------- exercise (a)
def check_add_noise(fn):
    """fn(x0, t, noise, schedule) → √ᾱ_t x0 + √(1 − ᾱ_t) ε, t a (B,) tensor, one timestep per image."""
    name, s = "add_noise", _SCHEDULE
    x0, noise = torch.randn(2, 16, 3, 16, 16, generator=torch.Generator().manual_seed(1))   # 2 × (B, C, H, W)
    t = torch.tensor([1, 500, 250, 3, 77, 420, 130, 499, 10, 300, 2, 460, 50, 200, 350, 100])       # (B,)
    # the student gets copies, so that a change made in place shows
    x0_in, t_in, noise_in = x0.clone(), t.clone(), noise.clone()
    out = _call(name, fn, x0_in, t_in, noise_in, s)
    if not (torch.equal(x0_in, x0) and torch.equal(noise_in, noise) and torch.equal(t_in, t)):
        _fail(name, "your function changed x0, t or noise in place; compute a new tensor instead")
    ab = s.alpha_bar[t]                                                  # (B,)
    # B = 16 = the image width: an ᾱ_t of shape (B,) that is not reshaped broadcasts along the width without an error
    unshaped = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    if isinstance(out, torch.Tensor) and out.shape == x0.shape and _close(out, unshaped):
        _fail(name, "ᾱ_t of shape (B,) was broadcast along the image width; reshape it to (B, 1, 1, 1)")
    _expect_tensor(name, out, x0.shape)
    want = s.add_noise(x0, t, noise)
    if _close(out, want):
        return _ok(name, "x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε for 16 images, each at its own t")
    ab, a, ab_prev = (v.view(-1, 1, 1, 1) for v in (ab, s.alpha[t], s.alpha_bar[t - 1]))   # (B, 1, 1, 1)
    hints = [
        (ab.sqrt() * x0 + (1 - ab) * noise, "the noise is scaled by (1 − ᾱ_t); it needs the square root √(1 − ᾱ_t)"),
        (ab * x0 + (1 - ab).sqrt() * noise, "x0 is scaled by ᾱ_t; it needs the square root √ᾱ_t"),
        (a.sqrt() * x0 + (1 - a).sqrt() * noise, "you used α_t (one step); the jump to step t uses the cumulative ᾱ_t"),
        (ab.sqrt() * noise + (1 - ab).sqrt() * x0, "x0 and the noise are swapped: √ᾱ_t multiplies x0"),
        (ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * noise,
         "off by one: index alpha_bar with t itself (index 0 is the clean image), not t − 1"),
    ]
    for value, hint in hints:
        if _close(out, value):
            _fail(name, hint)
    right = [bool(_close(out[i], want[i])) for i in range(len(t))]
    if any(right):
        _fail(name, "right for {0} of {1} images: index ᾱ with each image's own t, shaped (B, 1, 1, 1)",
              sum(right), len(t))
    _fail(name, "values differ from √ᾱ_t·x0 + √(1−ᾱ_t)·ε (max error {0:.3g})", (out - want).abs().max())


# ------------------------------------------------------------------------------------------- exercise (b)
def _decode(context, decoder):
    """Clean images decoded from contexts: x0 = 0.6·tanh(c W), (B, 3, 16, 16) from c (B, 5)."""
    return 0.6 * torch.tanh(context.float() @ decoder).view(-1, 3, 16, 16)


def _oracle_data(B: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    decoder, context = torch.randn(5, 768, generator=g) / math.sqrt(5), torch.randn(B, 5, generator=g)
    return _decode(context, decoder), context, decoder


class _Oracle(torch.nn.Module):
    """ε̂(x_t, t/T, c) = (x_t − √ᾱ_t x0(c)) / √(1 − ᾱ_t): exact for a correct x_t; records what it is given."""
    def __init__(self, schedule, decoder, offset: float = 0.0):
        super().__init__()
        self.schedule = schedule
        self.decoder = decoder
        self.calls = []
        # the offset is a weight, so that the loss has a gradient
        self.offset = torch.nn.Parameter(torch.tensor(float(offset)))

    def eps(self, x, t, c):
        B, T = x.shape[0], self.schedule.timesteps
        ok_c = isinstance(c, torch.Tensor) and c.shape == (B, self.decoder.shape[0])
        x0 = _decode(c, self.decoder) if ok_c else torch.zeros_like(x)
        t = torch.as_tensor(t, dtype=torch.float32).reshape(-1).expand(B if t.numel() == 1 else -1)
        if t.numel() != B:
            return torch.zeros_like(x)
        ab = self.schedule.alpha_bar[(t * T).round().long().clamp(0, T)].view(-1, 1, 1, 1)   # (B, 1, 1, 1)
        return (x - ab.sqrt() * x0) / (1 - ab).sqrt().clamp_min(1e-6)

    def forward(self, x, t, c=None):
        t_rec = torch.as_tensor(t).detach().float().reshape(-1).clone()
        self.calls.append((x.detach().clone(), t_rec, None if c is None else torch.as_tensor(c).detach().clone()))
        return self.eps(x.detach(), t_rec, c) + self.offset


def _loss_case(fn, s: NoiseSchedule, B: int, name: str, where: str):
    x0, context, decoder = _oracle_data(B)
    oracle = _Oracle(s, decoder)
    try:
        out = _call(name, fn, oracle, x0, context, s, torch.Generator().manual_seed(0))
    except ExerciseError as exc:
        if not where:
            raise
        _fail(name, "{0}{1}; use T = schedule.timesteps, not a fixed number", str(exc).split(': ', 1)[-1], where)
    if not isinstance(out, torch.Tensor) or out.ndim != 0:
        _fail(name, f"expected a scalar (0-d) tensor, got {type(out).__name__} {getattr(out, 'shape', '')}".rstrip()
              + (": return the loss tensor itself, not .item()" if isinstance(out, float) else ""))
    if not out.requires_grad:
        _fail(name, "return the loss tensor itself (no .item(), .detach() or torch.no_grad): backward() needs it")
    if not oracle.calls:
        _fail(name, "the model was never called")
    x, t, c = oracle.calls[-1]
    T = s.timesteps
    if t.numel() != B:
        _fail(name, "the model got {0} timesteps for {1} images; give every image its own t", t.numel(), B)
    if t.max() > 1.0001:
        _fail(name, "pass the normalised time t / T to the model, not the integer t")
    k = t * T                                                        # the integer timesteps, if t / T was passed
    if not torch.allclose(k, k.round(), atol=1e-3):
        _fail(name, "t must be an integer timestep in 1…T (torch.randint) before you divide by T")
    if len(torch.unique(k.round())) < 10:
        _fail(name, "all images share (almost) the same t; draw a random t per image with torch.randint")
    k = k.round().long()
    if k.min() < 1:                                                  # B = 16 T: P(no t = 0 drawn) ≈ 1e-7
        _fail(name, "t = 0 was drawn{0}; draw t from 1…T, torch.randint(1, T + 1, …)", where)
    if k.max() < T or len(torch.unique(k)) < 0.9 * T:
        _fail(name, "t never reached T = {0} or skipped many levels{1}; draw uniformly from 1…T with "
                    "torch.randint(1, T + 1, …) and T = schedule.timesteps", T, where)
    if c is None or not c.any():
        _fail(name, "the model got no context: pass `context` as its third argument")
    if c.shape != context.shape or not _close(c, context):
        _fail(name, "the model got a different context: pass `context` on unchanged")
    if x.shape != x0.shape:
        _fail(name, "the model got images of shape {0}, expected x_t of shape {1}", tuple(x.shape), tuple(x0.shape))
    if _close(x, x0):
        _fail(name, "the model saw the clean x0; give it the noisy x_t")
    loss = float(out.detach())
    if not math.isfinite(loss) or loss > 1e-4:
        eps_hat = oracle.eps(x, t, c)                                    # the noise that is really inside x_t
        got = fmt("expected ≈ 0 for a model that finds the noise exactly, got {0:.3g}{1}: ", loss, where)
        if abs(eps_hat.pow(2).mean().item() - 1) > 0.05:
            _fail(name, got + fmt("x_t and the t given to the model do not match; make x_t with the same t you pass "
                                  "as t / T (and is your my_add_noise right?)"))
        if math.isclose(loss, F.mse_loss(eps_hat, x0).item(), rel_tol=1e-3):
            _fail(name, got + fmt("the target is x0; the target of the loss is the noise ε"))
        if math.isclose(loss, F.mse_loss(eps_hat, x).item(), rel_tol=1e-3):
            _fail(name, got + fmt("the target is x_t; the target of the loss is the noise ε"))
        if 1.8 < loss < 2.2:
            _fail(name, got + fmt("the target is another noise than the one inside x_t; draw ε once, use it for both"))
        _fail(name, got + fmt("compare the model's output with the noise ε inside x_t, using mse_loss"))
    # a model off by 0.5 everywhere: the MSE is 0.25
    out = _call(name, fn, _Oracle(s, decoder, offset=0.5), x0, context, s, torch.Generator().manual_seed(0))
    out = float(out.detach()) if isinstance(out, torch.Tensor) else float('nan')
    if not math.isclose(out, 0.25, rel_tol=1e-3):
        what = "the sum instead of the mean?" if out > 2 else "the mean of the squared error?"
        _fail(name, "expected MSE 0.25 for a model that is off by 0.5 everywhere, got {0:.4g}{1}: {2} Use "
                    "torch.nn.functional.mse_loss(prediction, noise)", out, where, what)


def check_training_loss(fn):
    """fn(model, x0, context, schedule, generator) → scalar MSE, a random t per image in 1…T, ε from generator."""
    name = "loss"
    _loss_case(fn, _SCHEDULE, 8000, name, "")
    _loss_case(fn, NoiseSchedule.cosine(100), 1600, name, " (with a T = 100 cosine schedule)")
    x0, context, decoder = _oracle_data(256)
    runs = []
    with torch.random.fork_rng(devices=[]):                         # the notebook's global RNG is left untouched
        for global_seed, seed in ((1, 7), (2, 7), (1, 8)):
            torch.manual_seed(global_seed)
            oracle = _Oracle(_SCHEDULE, decoder)
            _call(name, fn, oracle, x0, context, _SCHEDULE, torch.Generator().manual_seed(seed))
            runs.append(oracle.calls[-1][:2])
    if not (torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])):
        _fail(name, "two runs with the same generator drew different t or ε: draw both from `generator` "
                    "(torch.randint(…, generator=generator), torch.randn(…, generator=generator))")
    if torch.equal(runs[0][1], runs[2][1]):
        _fail(name, "a differently seeded generator gave the same t: draw from `generator`, don't reseed")
    _ok(name, "x_t from a random t ∈ 1…T per image, t/T and the context to the model, MSE against the same ε")


# ------------------------------------------------------------------------------------------- exercise (c)
def _drop(name, fn, context, p, seed, global_seed=0):
    """(out, which rows were dropped (B,)), once the rows are known to be kept or all zeros."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(global_seed)
        try:
            c_in = context.clone()                                   # a copy, so that a change in place shows
            out = _call(name, fn, c_in, p, torch.Generator().manual_seed(seed))
        except ExerciseError as exc:
            if "must match the size" in str(exc):
                _fail(name, "a (B,) mask does not line up with the rows of a (B, K) context; shape it (B, 1)")
            raise
    if not torch.equal(c_in, context):
        _fail(name, "your function changed `context` in place; return a new tensor (e.g. work on context.clone())")
    if isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[0] < context.shape[0]:
        _fail(name, "got {0} rows for {1} images: you removed the dropped rows; keep every row, a dropped one set "
                    "to the null context (all zeros)", out.shape[0], context.shape[0])
    _expect_tensor(name, out, context.shape)
    zero, same = (out == 0).all(1), (out - context).abs().max(1).values < 1e-6        # (B,), (B,)
    odd = ~zero & ~same                                                                 # (B,)
    if odd.any():
        o, c = out[odd], context[odd]
        if _close(o[o != 0], c[o != 0] / (1 - p)):
            _fail(name, "kept contexts were multiplied by 1/(1 − p_uncond) = {0:.3g}, as F.dropout does for "
                        "activations; keep them unchanged", 1 / (1 - p))
        if (o == 0).any():
            _fail(name, "single entries of a context were zeroed; drop an image's whole row at once (one draw each)")
        _fail(name, "a dropped context must be the null context, all zeros (ContextUnet's c=None), got rows like {0}",
                    [round(v, 3) for v in o[0].tolist()])
    return out, zero


def check_context_dropout(fn):
    """fn(context (B, K), p_uncond, generator) → (B, K): each row zeroed with probability p_uncond, one draw each."""
    name, B = "drop_context", 4000
    context = torch.rand(B, 5, generator=torch.Generator().manual_seed(3)) + 0.1         # (B, K), no zero entry
    # four seeds, run one at a time until a batch has some rows dropped and some kept
    dropped = (_drop(name, fn, context, 0.5, k)[1] for k in range(4))
    if all(bool(z.all()) or not z.any() for z in dropped):
        _fail(name, "every image was dropped together, or none: one draw for the whole batch; draw one per image")
    for p in (0.1, 0.3, 0.0, 1.0):
        frac = _drop(name, fn, context, p, 11)[1].float().mean().item()
        if abs(frac - p) > 0.03:
            if abs(frac - (1 - p)) < 0.03:
                why = "is your comparison the wrong way round? You dropped with probability 1 − p_uncond"
            elif p == 0.3 and abs(frac - 0.1) < 0.03:
                why = "is p_uncond hard-coded? Use the argument"
            else:
                why = "drop an image when its uniform draw is below p_uncond"
            _fail(name, "dropped {0:.1%} of the contexts with p_uncond = {1}: {2}", frac, p, why)
    runs = [_drop(name, fn, context, 0.5, seed, global_seed)[0] for seed, global_seed in ((7, 1), (7, 2), (8, 1))]
    if not torch.equal(runs[0], runs[1]) or torch.equal(runs[0], runs[2]):
        _fail(name, "the images dropped did not follow the `generator` you were given: draw from it, don't reseed")
    _ok(name, "each image's context becomes the null context (zeros) with probability p_uncond, one draw each")


# ------------------------------------------------------------------------------------------- exercise (d)
class _BiasModel(torch.nn.Module):
    """ε̂ = b_c everywhere (one number per colour channel): loss ≈ 1 + mean(b²), ∂loss/∂b_c ≈ (2/3)·b_c."""
    def __init__(self):
        super().__init__()
        self.b = torch.nn.Parameter(torch.full((3,), 0.5))
        self.contexts = []

    def forward(self, x, t, c=None):
        self.contexts.append(c)
        return self.b.view(1, 3, 1, 1) + 0 * x                          # (B, 3, H, W)


def _step(fn, name, model, lr, seed=0, leftover=None, p_uncond=0.0):
    g = torch.Generator().manual_seed(100 + seed)
    x0 = (0.5 * torch.randn(512, 3, 16, 16, generator=g)).clamp(-1, 1)   # (B, C, H, W)
    context = torch.eye(5)[torch.randint(0, 5, (512,), generator=g)]      # (B, 5)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    if leftover is not None:
        model.b.grad = torch.full_like(model.b, leftover)               # a previous step's gradient, never zeroed
    before = model.b.detach().clone()
    out = _call(name, fn, model, optimizer, x0, context, _SCHEDULE, torch.Generator().manual_seed(seed), p_uncond)
    return out, (model.b.detach() - before), before, context


def check_train_step(fn):
    """fn(model, optimizer, x0, context, schedule, generator, p_uncond) → the batch's loss as a float, after one
    optimizer step on my_loss of the contexts after my_drop_context."""
    name, lr = "train_step", 0.3
    model = _BiasModel()
    out, delta, before, context = _step(fn, name, model, lr, leftover=100.0)
    if not model.contexts:
        _fail(name, "the model was never called: compute the loss with my_loss")
    if model.contexts[-1] is None or not torch.equal(model.contexts[-1], context):
        _fail(name, "with p_uncond = 0 the model did not get the batch's context: pass it through my_drop_context "
                    "and on to my_loss")
    if not isinstance(out, float):
        _fail(name, "expected the loss as a Python float, got {0}: return loss.item()", type(out).__name__)
    want = -lr * (2 / 3) * before                                        # one SGD step on a fresh gradient
    if delta.abs().max() < 1e-7:
        _fail(name, "the weights did not change: call optimizer.zero_grad(), compute the loss, loss.backward(), "
                    "then optimizer.step(), in that order")
    if delta.abs().max() > 5:
        _fail(name, "the weights moved by {0:.3g}, expected ≈ {1:.2f}: an earlier step's gradient was still there; "
                    "call optimizer.zero_grad() before loss.backward()", delta.abs().max(), want.abs().max())
    if not torch.allclose(delta, want, rtol=0.1):
        _fail(name, "expected one step of the optimizer you were given (weights moving by ≈ {0:.3f}), got {1:.3f}: "
                    "one zero_grad, one backward and one optimizer.step() per call", want[0], delta[0])
    if not math.isclose(out, 1.25, rel_tol=0.02):
        _fail(name, "expected the batch's loss ≈ 1.25 for this model, got {0:.4g}: return loss.item() of my_loss "
                    "(does my_loss pass its check?)", out)
    model = _BiasModel()
    _step(fn, name, model, lr)
    _, delta2, before2, _ = _step(fn, name, model, lr, seed=1)          # a second call on the same model
    want2 = -lr * (2 / 3) * before2
    if not torch.allclose(delta2, want2, rtol=0.1):
        _fail(name, "the second call moved the weights by {0:.3f}, expected ≈ {1:.3f}: the gradients of the first "
                    "call were added in; call optimizer.zero_grad() before loss.backward()", delta2[0], want2[0])
    losses = []
    with torch.random.fork_rng(devices=[]):
        for global_seed, seed in ((1, 5), (2, 5), (1, 6)):
            torch.manual_seed(global_seed)
            losses.append(_step(fn, name, _BiasModel(), lr, seed=seed)[0])
    if losses[0] != losses[1] or losses[0] == losses[2]:
        _fail(name, "the loss did not follow the generator you were given: pass `generator` on to my_loss")
    for p in (1.0, 0.5):
        model = _BiasModel()
        context = _step(fn, name, model, lr, seed=2, p_uncond=p)[3]
        seen = model.contexts[-1]                                       # what the model got
        frac = (seen == 0).all(1).float().mean().item() if getattr(seen, "shape", None) == context.shape else -1.0
        if not (0 <= frac and ((seen == 0).all(1) | (seen == context).all(1)).all() and abs(frac - p) < 0.1):
            _fail(name, "with p_uncond = {0} the model should get {1:.0%} null contexts, it got {2:.0%}: pass the "
                        "batch's context through my_drop_context(context, p_uncond, generator)", p, p, max(frac, 0))
    _ok(name, "contexts dropped, then zero_grad → loss → backward → step: one step per call, the loss as a float")
