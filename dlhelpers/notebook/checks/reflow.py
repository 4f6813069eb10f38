"""Notebook 07 (one call: reflow): the coupling of noise and sprite, and the straightness of a path.

References: Liu, Gong & Liu, "Flow Straight and Fast" (rectified flow), 2023, arXiv:2209.03003, Algorithm 1 (reflow:
pairs (X₁, X₀) = (the noise, the end of the current flow's ODE from it), then the flow loss on the fixed pairs);
straightness as notebook 6 measured it (``dlhelpers.flow.straightness``), the inverse of Liu et al.'s eq. (7) idea
of a path's deviation from its chord.
- (a) ``my_pairs(sample, labels, generator)``: x_T = torch.randn((N, 3, 16, 16), generator) on the labels' device,
  x₀ = sample(x_T, one_hot(labels, 5)) clamped to [−1, 1]; returns (x_T, x₀). The stand-in sampler records what it
  was given, so the check can say which noise went in and which came back.
- (b) ``my_straightness(frames)``: per path, chord ÷ arc length ‖x_F − x_0‖ / Σ_k ‖x_{k+1} − x_k‖ over frames
  (F, N, C, H, W), each sprite's pixels flattened into one vector; (N,).

Each check prints one ✓ line or raises ``ExerciseError`` naming the likely mistake; ``reference_*`` have the
students' signatures, for ``yours_or_reference``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dlhelpers.flow import straightness
from dlhelpers.notebook.checks.common import _call, _close, _expect_tensor, _fail, _ok

N_CLASSES = 5
SHAPE = (3, 16, 16)


# ------------------------------------------------------------------------------------------------ references
def reference_pairs(sample, labels, generator):
    """(x_T, x̂₀): x_T ~ N(0, I) from ``generator``, and the sprite ``sample`` reaches from it with each label's
    context, clamped to [−1, 1] — the signature of exercise (a)."""
    x_T = torch.randn((len(labels), *SHAPE), generator=generator, device=labels.device)    # (N, 3, 16, 16)
    x0 = sample(x_T, F.one_hot(labels, N_CLASSES).float())                                  # (N, 3, 16, 16)
    return x_T, x0.clamp(-1, 1)


def reference_straightness(frames):
    """Chord ÷ arc length per path (``dlhelpers.flow.straightness``), the signature of exercise (b)."""
    return straightness(frames)


# ------------------------------------------------------------------------------------------- (a) the pairs
class StandInSampler:
    """A deterministic stand-in for ``sample(x_T, context)``: a different, fixed function of the noise for each
    class, reaching outside [−1, 1], so a missing clamp shows. It records every (x_T, context) it was given."""

    def __init__(self):
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.offsets = torch.linspace(-0.8, 0.8, N_CLASSES)                    # (K,) one brightness per class

    def __call__(self, x_T, context):
        if not isinstance(x_T, torch.Tensor) or not isinstance(context, torch.Tensor):
            raise TypeError("sample takes (x_T, context), two tensors")
        if context.ndim != 2 or context.shape != (x_T.shape[0], N_CLASSES):
            raise ValueError(f"context must be one-hot, ({x_T.shape[0]}, {N_CLASSES}), got {tuple(context.shape)}")
        self.calls.append((x_T.detach().clone(), context.detach().clone()))
        shift = (context.float() @ self.offsets).view(-1, 1, 1, 1)            # (N, 1, 1, 1)
        return 1.5 * torch.tanh(x_T.flip(-1)) + shift                          # (N, 3, 16, 16), within ±2.3


def _pairs_run(fn, labels, seed, global_seed=1000):
    sampler = StandInSampler()
    with torch.random.fork_rng(devices=[]):                 # the notebook's global RNG is left as it was
        torch.manual_seed(global_seed)
        out = _call("pairs", fn, sampler, labels.clone(), torch.Generator().manual_seed(seed))
    return out, sampler


def check_pairs(fn):
    """fn(sample, labels, generator) → (x_T, x̂₀): the noise each sprite was sampled from, and that sprite."""
    name = "pairs"
    labels = torch.tensor([0, 1, 2, 3, 4, 2, 0, 3])
    N = len(labels)
    out, sampler = _pairs_run(fn, labels, seed=5)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        _fail(name, "expected a pair (x_T, x0) of tensors, got {0}", type(out).__name__)
    noise, x0 = out
    _expect_tensor(name, noise, (N, *SHAPE))
    _expect_tensor(name, x0, (N, *SHAPE))
    if not sampler.calls:
        _fail(name, "the sampler was never called: x0 = sample(x_T, context)")
    fed = torch.cat([x for x, _ in sampler.calls])                         # every noise the sampler started from
    ctx = torch.cat([c for _, c in sampler.calls])
    if fed.shape[0] != N:
        _fail(name, "the sampler drew {0} sprites for {1} labels; call it once on the whole batch of x_T",
              fed.shape[0], N)
    want = reference_pairs(StandInSampler(), labels, torch.Generator().manual_seed(5))
    reached = sampler(fed, ctx)                                            # what the sampler gave back
    if _close(x0, fed) and (_close(noise, reached) or _close(noise, reached.clamp(-1, 1))):
        _fail(name, "the pair is swapped: return (x_T, x0), the noise first, as train() reads it")
    if not _close(noise, fed):
        _fail(name, "the noise you return is not the x_T the sprites came from: a pair is (the noise the sampler "
                    "started from, the sprite it reached); a fresh draw pairs each sprite with unrelated noise — "
                    "the independent coupling that makes paths cross")
    if not torch.equal(ctx.argmax(1), labels) or not bool(((ctx == 0) | (ctx == 1)).all()):
        _fail(name, "the sampler got contexts that do not match labels: F.one_hot(labels, 5).float(), in the "
                    "labels' order")
    if not _close(noise, want[0]):
        again, _ = _pairs_run(fn, labels, seed=5, global_seed=1001)
        if isinstance(again, (tuple, list)) and len(again) == 2 and isinstance(again[0], torch.Tensor) \
                and again[0].shape == noise.shape and not _close(again[0], noise):
            _fail(name, "two runs with the same generator drew different x_T: draw it from `generator` "
                        "(torch.randn(…, generator=generator))")
        if bool((noise >= 0).all()) and bool((noise <= 1).all()):
            _fail(name, "x_T lies in [0, 1]: that is torch.rand; the noise is Gaussian, torch.randn")
        _fail(name, "x_T is not torch.randn((N, 3, 16, 16), generator=generator, device=labels.device), the one draw")
    if _close(x0, reached):
        _fail(name, "the sprites go outside [−1, 1] (up to {0:.2f}): clamp them, x0.clamp(-1, 1), as the "
                    "sprites' pixels", float(x0.abs().max()))
    if _close(x0, want[1]):
        return _ok(name, "each sprite is paired with the noise it was sampled from, with its own class ({0} pairs)", N)
    _fail(name, "x0 differs from sample(x_T, context).clamp(-1, 1) (max error {0:.3g})", (x0 - want[1]).abs().max())


# ------------------------------------------------------------------------------------------- (b) straightness
def _trajectories():
    """Frames (F, N, C, H, W) of five paths whose straightness is known: a straight line (1), a right-angle turn
    (1/√2), there and half back (1/3), and two random walks."""
    g = torch.Generator().manual_seed(11)
    a, b, c = (torch.randn(SHAPE, generator=g) for _ in range(3))
    d = b - a                                                                   # the chord of the line
    c = c - (c * d).sum() / (d * d).sum() * d                                   # ⟂ to the chord
    corner = a + d / 2 + c * (d.norm() / 2 / c.norm())                          # both legs at 45°
    s = torch.linspace(0, 1, 5).view(-1, 1, 1, 1)                               # (5, 1, 1, 1)
    line = a + s * d                                                            # (5, 3, 16, 16)
    turn = torch.stack([a, (a + corner) / 2, corner, (corner + b) / 2, b])
    back = torch.stack([a, a + d / 2, b, b - d / 4, b - d / 2])
    walk = torch.cumsum(torch.randn(5, 2, *SHAPE, generator=g), 0)              # (5, 2, 3, 16, 16)
    return torch.cat([torch.stack([line, turn, back], 1), walk], 1)             # (5, 5, 3, 16, 16)


def check_straightness(fn):
    """fn(frames (F, N, C, H, W)) → (N,) chord ÷ arc length per path."""
    name = "straightness"
    frames = _trajectories()
    frames_in = frames.clone()
    out = _call(name, fn, frames_in)
    if not torch.equal(frames_in, frames):
        _fail(name, "your function changed frames in place; compute new tensors instead")
    N = frames.shape[1]
    want = straightness(frames)
    if isinstance(out, torch.Tensor) and out.numel() == 1 and N > 1:
        _fail(name, "expected one value per path, shape ({0},), got a single number: do not average over the "
                    "sprites (notebook 6 reported the mean of these)", N)
    _expect_tensor(name, out, (N,))
    flat = frames.double().flatten(2)                                        # (F, N, D)
    seg = (flat[1:] - flat[:-1]).norm(dim=2)                                 # (F − 1, N)
    chord = (flat[-1] - flat[0]).norm(dim=1)                                 # (N,)
    hints = [
        (seg.sum(0) / chord, "that is arc ÷ chord, upside down: a bent path must score below 1, so chord ÷ arc"),
        (chord ** 2 / (seg ** 2).sum(0), "squared lengths do not add along a path: sum the segments' lengths "
                                         "‖x_{k+1} − x_k‖, not their squares"),
        (chord / seg.mean(0), "the arc length is the sum of the segments' lengths, not their mean"),
        ((flat[-1] - flat[0]).abs().sum(1) / (flat[1:] - flat[:-1]).abs().sum(2).sum(0),
         "use Euclidean lengths (.norm()) of the flattened sprites, not sums of absolute values"),
        (seg[0] / seg.sum(0), "the chord joins the first frame to the last, not the first frame to the second"),
    ]
    for value, hint in hints:
        if _close(out, value.float()):
            _fail(name, hint)
    if _close(out, want):
        return _ok(name, "chord ÷ arc length for {0} paths: a straight line scores {1:.3f}, a right-angle turn "
                         "{2:.3f}, there and half back {3:.3f}", N, out[0], out[1], out[2])
    _fail(name, "values differ from ‖x_last − x_first‖ / Σ ‖x_(k+1) − x_k‖, each sprite flattened (max error {0:.3g})",
          (out - want).abs().max())
