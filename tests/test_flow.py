"""Flow matching (``dlhelpers.flow``): the straight path, its loss, and the Euler and Heun samplers.

The oracle: for Gaussian data x₀ ~ N(μ, diag σ²) on the path x_t = (1 − t)·x₀ + t·ε everything is known in closed
form. With v_t = (1 − t)²σ² + t² (the variance of x_t) and r = x_t − (1 − t)μ,

    E[x₀ | x_t] = μ + (1 − t)σ²/v_t · r,   E[ε | x_t] = t/v_t · r,
    u*(x_t, t) = E[ε − x₀ | x_t] = (t − (1 − t)σ²)/v_t · r − μ                 (the exact velocity),
    Var(ε − x₀ | x_t) = 1 + σ² − (t − (1 − t)σ²)²/v_t = σ²/v_t,
    min flow-matching loss = ∫₀¹ σ²/v_t dt = σ·(arctan σ + arctan 1/σ) = (π/2)·σ      (per pixel),

and the ODE dx/dt = u*(x, t) started from x_1 = z is solved by x_t = (1 − t)μ + √v_t · z (the flow map). So the loss
has a known minimum, and every frame of a sampler run has a known right answer, not only the last one.

The ``test_mutant_*`` tests plant each mistake these checks exist for (path with t reversed, target x₀ − ε, Euler
with the wrong sign, Heun without its average, x̂₀ with the wrong sign) and show that the checks then fail.
"""
import dataclasses
import math

import pytest
import torch

from dlhelpers import flow
from dlhelpers.flow import (FlowPath, euler_step, flow_timesteps, sample_flow_euler, sample_flow_heun,
                            straightness)
from dlhelpers.predictions import PREDICTIONS
from dlhelpers.recipes import PRESETS
from dlhelpers.training import TrainConfig, diffusion_loss, train
from dlhelpers.unet import ContextUnet
from support import corner_squares


# ------------------------------------------------------------------------------------------------ closed forms
class GaussianFlowOracle(torch.nn.Module):
    """The exact velocity u*(x_t, t) for data x₀ ~ N(μ, diag σ²), per pixel; ignores the context. ``shift``,
    ``scale`` and ``reverse_time`` make a perturbed (hence worse) model."""

    def __init__(self, mu, sigma, shift=0.0, scale=1.0, reverse_time=False):
        super().__init__()
        self.mu, self.sigma = mu.double(), sigma.double()                       # (C, H, W)
        self.shift, self.scale, self.reverse_time = shift, scale, reverse_time
        self.in_channels, self.h, self.n_cfeat = mu.shape[0], mu.shape[1], 5
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, t, c=None):
        t = t.double().reshape(-1, 1, 1, 1)
        t = 1 - t if self.reverse_time else t
        return (velocity(self.mu, self.sigma, x.double(), t) * self.scale + self.shift).to(x.dtype)


def variance(sigma, t):
    return (1 - t) ** 2 * sigma ** 2 + t ** 2


def velocity(mu, sigma, x, t):
    return (t - (1 - t) * sigma ** 2) / variance(sigma, t) * (x - (1 - t) * mu) - mu


def posterior_x0(mu, sigma, x, t):
    return mu + (1 - t) * sigma ** 2 / variance(sigma, t) * (x - (1 - t) * mu)


def flow_map(mu, sigma, z, t):
    """The exact ODE solution at time t of the path that starts at x_1 = z."""
    return (1 - t) * mu + variance(sigma, t) ** 0.5 * z


class PointMassOracle(torch.nn.Module):
    """Data = the single image μ: u*(x_t, t) = (x_t − μ)/t, constant along every path (a straight line)."""

    def __init__(self, mu):
        super().__init__()
        self.mu = mu
        self.in_channels, self.h, self.n_cfeat = mu.shape[0], mu.shape[1], 5
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, t, c=None):
        return (x - self.mu) / t.reshape(-1, 1, 1, 1)


class TanhVelocity(torch.nn.Module):
    """A fixed, nonlinear u(x, t, c): the context enters additively, so guidance changes the result."""
    in_channels, h, n_cfeat = 3, 8, 5

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.7))

    def forward(self, x, t, c=None):
        c = torch.zeros(x.shape[0], 5) if c is None else c
        return torch.tanh(x) * self.w - 0.4 * t.reshape(-1, 1, 1, 1) + 0.2 * c.sum(1).reshape(-1, 1, 1, 1)


_g = torch.Generator().manual_seed(0)
MU = torch.rand(3, 8, 8, generator=_g) - 0.5                  # per-pixel data mean in [−0.5, 0.5]
SIGMA = 0.3 + 0.5 * torch.rand(3, 8, 8, generator=_g)         # per-pixel data std in [0.3, 0.8]
Z = torch.randn(16, 3, 8, 8, generator=_g)                    # x_1 = x_T of every sampler run
MU_SMALL = torch.tensor([[[0.3, -0.2], [0.5, 0.0]]])          # (1, 2, 2) images for the Monte-Carlo loss checks
SIGMA_SMALL = torch.tensor([[[0.5, 0.8], [0.3, 1.0]]])
FP32 = dict(progress=False, precision="fp32")


# ------------------------------------------------------------------------------------------------ the path
def test_flow_timesteps_literal_lists():
    assert flow_timesteps(1) == [1.0, 0.0]
    assert flow_timesteps(4) == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert flow_timesteps(10)[3] == 0.7 and len(flow_timesteps(10)) == 11
    with pytest.raises(ValueError, match="^steps"):
        flow_timesteps(0)
    with pytest.raises(TypeError, match="^steps"):
        flow_timesteps(2.0)


def check_add_noise_formula():
    x0, eps = torch.randn(3, 3, 8, 8), torch.randn(3, 3, 8, 8)
    path = FlowPath()
    torch.testing.assert_close(path.add_noise(x0, 0.25, eps), 0.75 * x0 + 0.25 * eps)
    torch.testing.assert_close(path.add_noise(x0, 0.0, eps), x0, rtol=0, atol=0)      # t = 0: the data
    torch.testing.assert_close(path.add_noise(x0, 1.0, eps), eps, rtol=0, atol=0)     # t = 1: pure noise
    t = torch.tensor([0.0, 0.3, 1.0])
    per_sample = path.add_noise(x0, t, eps)
    for i, ti in enumerate(t.tolist()):
        torch.testing.assert_close(per_sample[i], (1 - ti) * x0[i] + ti * eps[i])


def test_add_noise_is_the_straight_path():
    check_add_noise_formula()


@pytest.mark.parametrize("t, exc", [(1.5, ValueError), (-0.1, ValueError), (float("inf"), ValueError),
                                    (float("nan"), ValueError), (torch.tensor([3, 400, 2]), TypeError),
                                    (torch.tensor([0.5, 0.2]), ValueError),
                                    (torch.tensor([0.5, 2.0, 0.1]), ValueError)])
def test_add_noise_refuses_bad_times(t, exc):
    with pytest.raises(exc, match="^t "):
        FlowPath().add_noise(torch.zeros(3, 3, 8, 8), t, torch.zeros(3, 3, 8, 8))


def test_draw_training_example_draws_t_then_eps():
    x0 = torch.randn(5, 3, 8, 8)
    t, x_t, time_in, eps = FlowPath().draw_training_example(x0, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    t_ref = torch.rand(5, generator=g)
    eps_ref = torch.randn(x0.shape, generator=g)
    torch.testing.assert_close(t, t_ref, rtol=0, atol=0)
    torch.testing.assert_close(time_in, t_ref, rtol=0, atol=0)           # the network sees t itself, not t·T
    torch.testing.assert_close(eps, eps_ref, rtol=0, atol=0)
    torch.testing.assert_close(x_t, (1 - t_ref).view(-1, 1, 1, 1) * x0 + t_ref.view(-1, 1, 1, 1) * eps_ref)


def test_logit_normal_t_is_the_sigmoid_of_a_normal_draw_then_eps():
    """SD3's eq. (19), m = 0, s = 1: t = sigmoid(n), n ~ N(0, 1), drawn before ε as the uniform t is."""
    x0 = torch.randn(4000, 1, 1, 1)
    path = FlowPath(t_sampling="logit-normal")
    t, x_t, time_in, eps = path.draw_training_example(x0, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    t_ref = torch.sigmoid(torch.randn(4000, generator=g))
    torch.testing.assert_close(t, t_ref, rtol=0, atol=0)
    torch.testing.assert_close(eps, torch.randn(x0.shape, generator=g), rtol=0, atol=0)
    assert torch.equal(time_in, t)
    # the logit-normal(0, 1) density: mean 1/2, standard deviation 0.2083 (numerical integral), mass in the middle
    assert abs(t.mean().item() - 0.5) < 0.01 and abs(t.std().item() - 0.2083) < 0.01
    assert ((t > 0.25) & (t < 0.75)).float().mean() > 0.7            # uniform t: 0.5
    with pytest.raises(ValueError, match="t_sampling"):
        FlowPath(t_sampling="normal")


def test_u_shaped_t_follows_lee_et_al_density_then_eps():
    """Lee et al. 2024's U shape, a = 4: p(t) = a/(e^a − 1) · (e^(a·t) + e^(a·(1 − t)))/2. Its mass in each tenth
    of [0, 1] (closed form, (e^(a·t) − e^(a·(1 − t)))/(2(e^a − 1)) at the bin's ends) against 200,000 draws; the
    draws come in the documented order (u, the coin, then ε) and are symmetric about 1/2."""
    a = 4.0
    x0 = torch.randn(200_000, 1, 1, 1)
    t, x_t, time_in, eps = FlowPath(t_sampling="u-shaped").draw_training_example(x0, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    u = torch.rand(200_000, generator=g)
    half = torch.log1p(u * math.expm1(a)) / a
    t_ref = torch.where(torch.rand(200_000, generator=g) < 0.5, 1 - half, half)
    torch.testing.assert_close(t, t_ref, rtol=0, atol=0)
    torch.testing.assert_close(eps, torch.randn(x0.shape, generator=g), rtol=0, atol=0)
    assert torch.equal(time_in, t)
    cdf = lambda v: (math.exp(a * v) - math.exp(a * (1 - v))) / (2 * math.expm1(a))
    edges = [k / 10 for k in range(11)]
    want = torch.tensor([cdf(hi) - cdf(lo) for lo, hi in zip(edges[:-1], edges[1:])])
    got = torch.histc(t, bins=10, min=0, max=1) / len(t)
    torch.testing.assert_close(got, want.float(), rtol=0, atol=0.003)   # s.e. of a bin ≤ 0.0009
    assert want[0] > 3 * want[4]                                        # the ends, not the middle


# ------------------------------------------------------------------------------------------------ the loss
def check_loss_replays_by_hand():
    """diffusion_loss on a FlowPath, against the same draws made by hand: t ~ U[0, 1], ε ~ N(0, I),
    MSE(u_θ((1 − t)x₀ + tε, t), ε − x₀)."""
    model, x0 = TanhVelocity(), torch.randn(6, 3, 8, 8)
    loss = diffusion_loss(model, x0, None, FlowPath(), torch.Generator().manual_seed(11))
    g = torch.Generator().manual_seed(11)
    t = torch.rand(6, generator=g)
    eps = torch.randn(x0.shape, generator=g)
    x_t = (1 - t).view(-1, 1, 1, 1) * x0 + t.view(-1, 1, 1, 1) * eps
    torch.testing.assert_close(loss, (model(x_t, t) - (eps - x0)).pow(2).mean(), rtol=1e-6, atol=1e-6)


def test_flow_loss_replays_by_hand():
    check_loss_replays_by_hand()


def _oracle_losses(model, batches=20, n=5000, seed=0):
    """Per-batch losses of ``model`` on fresh Gaussian data (same seed → same draws for every model)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(batches):
        x0 = MU_SMALL + SIGMA_SMALL * torch.randn(n, 1, 2, 2, generator=g)
        out.append(diffusion_loss(model, x0, None, FlowPath(), g).item())
    return torch.tensor(out, dtype=torch.float64)


def check_oracle_loss_is_the_closed_form_minimum():
    losses = _oracle_losses(GaussianFlowOracle(MU_SMALL, SIGMA_SMALL))
    mean, se = losses.mean().item(), losses.std().item() / math.sqrt(len(losses))
    minimum = math.pi / 2 * SIGMA_SMALL.mean().item()              # (π/2)·σ per pixel, averaged: 1.0210
    assert se < 0.005, se                                          # enough draws to tell 1 % apart
    assert abs(mean - minimum) < 4 * se, f"oracle loss {mean:.4f} ± {se:.4f}, closed-form minimum {minimum:.4f}"


def test_oracle_loss_is_the_closed_form_minimum():
    check_oracle_loss_is_the_closed_form_minimum()


@pytest.mark.parametrize("perturbation", [dict(shift=0.1), dict(shift=-0.05), dict(scale=1.1), dict(scale=0.95),
                                          dict(reverse_time=True)],
                         ids=lambda p: "{}={}".format(*next(iter(p.items()))))
def test_any_perturbed_oracle_has_a_larger_loss(perturbation):
    """Same draws for both models (paired): E[loss(u)] = L* + E‖u − u*‖², so a constant shift δ costs δ² exactly."""
    best = _oracle_losses(GaussianFlowOracle(MU_SMALL, SIGMA_SMALL), batches=8)
    worse = _oracle_losses(GaussianFlowOracle(MU_SMALL, SIGMA_SMALL, **perturbation), batches=8)
    excess = worse - best
    assert excess.mean() > 0 and (excess > 0).sum() >= 7, excess
    if "shift" in perturbation:
        delta2, se = perturbation["shift"] ** 2, excess.std().item() / math.sqrt(len(excess))
        assert abs(excess.mean().item() - delta2) < 4 * se + 1e-4, (excess.mean().item(), delta2, se)


# ------------------------------------------------------------------------------------------------ the samplers
def trajectory_error(sampler, steps: int) -> float:
    """Run ``sampler`` with the exact velocity from x_1 = Z; check the frame times and every x̂₀; return the largest
    distance of any saved frame from the exact flow map."""
    oracle = GaussianFlowOracle(MU, SIGMA)
    res = sampler(oracle, len(Z), FlowPath(), steps=steps, x_T=Z, **FP32)
    assert res.frame_timesteps == flow_timesteps(steps)
    assert res.frames.shape == (steps + 1, *Z.shape) and res.x0_preds.shape == res.frames.shape
    torch.testing.assert_close(res.frames[0], Z, rtol=0, atol=0)
    torch.testing.assert_close(res.frames[-1], res.samples)
    err = 0.0
    for t, frame, x0_pred in zip(res.frame_timesteps, res.frames, res.x0_preds):
        want_x0 = posterior_x0(MU.double(), SIGMA.double(), frame.double(), t).float()   # x̂₀ = x_t − t·u = E[x₀|x_t]
        torch.testing.assert_close(x0_pred, want_x0, rtol=1e-5, atol=1e-5, msg=lambda m: f"x̂₀ at t = {t}: {m}")
        err = max(err, (frame - flow_map(MU, SIGMA, Z, t)).abs().max().item())
    return err


def check_every_frame_on_the_exact_flow():
    """Euler's global error is about 3.9/N here and Heun's about 3.5/N² (measured); the bounds leave room for
    neither a wrong sign nor a missing average (errors of order 1)."""
    euler, heun = trajectory_error(sample_flow_euler, 400), trajectory_error(sample_flow_heun, 80)
    assert euler < 5 / 400, f"Euler, 400 steps: a frame is {euler:.2e} from the exact flow"
    assert heun < 5 / 80 ** 2, f"Heun, 80 steps: a frame is {heun:.2e} from the exact flow"


def test_every_frame_follows_the_exact_flow_of_gaussian_data():
    check_every_frame_on_the_exact_flow()


def check_orders():
    """Halving the step divides Euler's error by ~2 (order 1) and Heun's by ~4 (order 2; its final Euler step into
    t = 0 has a local error O(h²), which does not lower the order)."""
    e = [trajectory_error(sample_flow_euler, n) for n in (20, 40, 80)]
    h = [trajectory_error(sample_flow_heun, n) for n in (20, 40, 80)]
    for a, b in zip(e, e[1:]):
        assert 1.8 < a / b < 2.2, f"Euler errors {e}: not first order"
    for a, b in zip(h, h[1:]):
        assert 3.6 < a / b < 4.6, f"Heun errors {h}: not second order"
    assert h[0] < e[0] / 10, (h, e)                        # same steps: Heun ≥ 10× closer (measured 22×)
    assert h[0] < trajectory_error(sample_flow_euler, 39) / 5  # same network calls (2·20 − 1): still ≥ 5×


def test_euler_is_first_order_and_heun_second_order():
    check_orders()


def test_point_mass_data_give_straight_paths_that_one_euler_step_solves():
    """Rectified flow's point: when the data is one image, every path is a straight line with constant velocity,
    so Euler is exact at any step count — one step lands on the image."""
    mu = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(4)) * 2 - 1
    oracle, z = PointMassOracle(mu), Z[:4]
    one = sample_flow_euler(oracle, 4, FlowPath(), steps=1, x_T=z, **FP32)
    torch.testing.assert_close(one.samples, mu.expand(4, -1, -1, -1), rtol=0, atol=1e-6)
    for sampler in (sample_flow_euler, sample_flow_heun):
        res = sampler(oracle, 4, FlowPath(), steps=7, x_T=z, **FP32)
        for t, frame in zip(res.frame_timesteps, res.frames):
            torch.testing.assert_close(frame, (1 - t) * mu + t * z, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(straightness(res.frames), torch.ones(4), rtol=0, atol=1e-5)
    gaussian = sample_flow_heun(GaussianFlowOracle(MU, SIGMA), 16, FlowPath(), steps=20, x_T=Z, **FP32)
    assert (straightness(gaussian.frames) < 0.9).all()     # Gaussian data bend the paths (measured 0.77–0.81)


def test_straightness_literal_values():
    line = torch.tensor([0.0, 1.0, 3.0]).view(3, 1, 1, 1, 1)                     # F = 3 frames of one 1-pixel image
    assert straightness(line).tolist() == [1.0]
    corner = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]).view(3, 1, 2, 1, 1)
    torch.testing.assert_close(straightness(corner), torch.tensor([2 ** 0.5 / 2]))   # chord √2, arc 2
    back = torch.tensor([0.0, 2.0, 0.0]).view(3, 1, 1, 1, 1)
    assert straightness(back).tolist() == [0.0]
    with pytest.raises(ValueError, match="^frames"):
        straightness(torch.zeros(1, 2, 3, 8, 8))


def test_euler_step_by_hand_and_its_checks():
    x, u = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(euler_step(x, 0.75, 0.5, u), x - 0.25 * u)
    torch.testing.assert_close(euler_step(x, 1.0, 0.0, u), x - u)
    for args, needle in [((x, 0.5, 0.5, u), "t_prev"), ((x, 0.5, 0.7, u), "t_prev"), ((x, 1.5, 0.5, u), "t "),
                         ((x, float("inf"), 0.5, u), "t "), ((x, 0.5, float("nan"), u), "t_prev"),
                         ((x, 0.5, 0.25, u[:1]), "velocity")]:
        with pytest.raises(ValueError, match=f"^{needle}"):
            euler_step(*args)


def check_euler_sampler_is_the_euler_step_loop():
    """sample_flow_euler against a loop over the public euler_step, with classifier-free guidance on the velocity,
    ũ = u_∅ + w (u_c − u_∅) (Ho & Salimans 2022, eq. 6): every frame."""
    model, w = TanhVelocity(), 2.5
    x_T, c = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(2)), torch.eye(5)[:3]
    res = sample_flow_euler(model, 3, FlowPath(), steps=6, x_T=x_T, context=c, guidance_scale=w, **FP32)
    ts, x, frames = flow_timesteps(6), x_T.clone(), [x_T.clone()]
    for t, t_prev in zip(ts, ts[1:]):
        tt = torch.full((3,), t)
        u = model(x, tt, torch.zeros_like(c)) + w * (model(x, tt, c) - model(x, tt, torch.zeros_like(c)))
        x = flow.euler_step(x, t, t_prev, u)
        frames.append(x.detach())
    for i, (a, b) in enumerate(zip(res.frames, frames)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=lambda m: f"frame {i}: {m}")


def test_euler_sampler_is_the_euler_step_loop_with_guidance():
    check_euler_sampler_is_the_euler_step_loop()


class CountingModel(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.times = inner, []
        self.in_channels, self.h, self.n_cfeat = inner.in_channels, inner.h, inner.n_cfeat

    def forward(self, x, t, c=None):
        self.times.append(t.detach().clone())
        return self.inner(x, t, c)


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_heun_evaluates_at_every_grid_time_but_never_at_zero(steps):
    """2·steps − 1 calls: at t_i and at t_{i+1} for each step, except the last one into t = 0 (Euler)."""
    counted = CountingModel(TanhVelocity())
    sample_flow_heun(counted, 2, FlowPath(), steps=steps, x_T=Z[:2], **FP32)
    ts = flow_timesteps(steps)
    want = [t for i in range(steps) for t in ((ts[i], ts[i + 1]) if ts[i + 1] > 0 else (ts[i],))]
    assert [float(t[0]) for t in counted.times] == pytest.approx(want, abs=1e-7)
    assert len(counted.times) == 2 * steps - 1


def test_save_every_keeps_every_kth_frame_and_the_end():
    res = sample_flow_heun(TanhVelocity(), 2, FlowPath(), steps=6, save_every=4, x_T=Z[:2], **FP32)
    assert res.frame_timesteps == [1.0, 2 / 6, 0.0] and res.frames.shape[0] == 3
    full = sample_flow_heun(TanhVelocity(), 2, FlowPath(), steps=6, x_T=Z[:2], **FP32)
    torch.testing.assert_close(res.frames, full.frames[[0, 4, 6]], rtol=0, atol=0)


# ------------------------------------------------------------------------------------------------ diffusers
def _unet():
    torch.manual_seed(0)
    return ContextUnet(3, 16, 5, 16).eval()


@pytest.mark.parametrize("steps", [1, 4, 10])
def test_euler_matches_diffusers_flow_match_euler_over_the_whole_run(steps):
    """``FlowMatchEulerDiscreteScheduler`` (shift 1) with ``set_timesteps(sigmas=[1, …, 1/N])``: its sigmas are our
    times with 0 appended, its timesteps are sigma · 1000, and the network is fed t = sigma."""
    diffusers = pytest.importorskip("diffusers")
    model, x_T = _unet(), torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    sched = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    sched.set_timesteps(sigmas=flow_timesteps(steps)[:-1])
    torch.testing.assert_close(sched.sigmas, torch.tensor(flow_timesteps(steps)), rtol=0, atol=0)
    res = sample_flow_euler(model, 2, FlowPath(), steps=steps, x_T=x_T, **FP32)
    x, theirs = x_T.clone(), [x_T.clone()]
    with torch.no_grad():
        for k in sched.timesteps:
            x = sched.step(model(x, (k / 1000).expand(2)), k, x).prev_sample
            theirs.append(x.clone())
    assert len(theirs) == len(res.frames) == steps + 1
    for i, (a, b) in enumerate(zip(res.frames, theirs)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=lambda m: f"step {i}: {m}")


@pytest.mark.parametrize("steps", [1, 4, 10])
def test_heun_matches_diffusers_flow_match_heun_over_the_whole_run(steps):
    """``FlowMatchHeunDiscreteScheduler`` has no custom sigmas: ``set_timesteps(N)`` spaces N sigmas from 1 down to
    1/num_train_timesteps, so num_train_timesteps = N gives our grid 1, (N−1)/N, …, 1/N (then 0). Its timesteps are
    t_0, t_1, t_1, t_2, t_2, …: 2N − 1 network calls, like ours, and its last step, into 0, is Euler too. A Heun step
    is complete when the scheduler is back in its first-order state."""
    diffusers = pytest.importorskip("diffusers")
    model, x_T = _unet(), torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(6))
    sched = diffusers.FlowMatchHeunDiscreteScheduler(num_train_timesteps=steps, shift=1.0)
    sched.set_timesteps(steps)
    assert len(sched.timesteps) == 2 * steps - 1
    res = sample_flow_heun(model, 2, FlowPath(), steps=steps, x_T=x_T, **FP32)
    x, theirs = x_T.clone(), [x_T.clone()]
    with torch.no_grad():
        for k in sched.timesteps:
            x = sched.step(model(x, (k / steps).expand(2)), k, x).prev_sample
            if sched.state_in_first_order:
                theirs.append(x.clone())
    theirs.append(x.clone())                                   # the last, first-order step into 0
    assert len(theirs) == len(res.frames) == steps + 1
    for i, (a, b) in enumerate(zip(res.frames, theirs)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=lambda m: f"step {i}: {m}")


def test_add_noise_matches_diffusers_scale_noise():
    """diffusers' forward process, ``scale_noise``: σ·noise + (1 − σ)·sample, at each sigma of a 4-step grid."""
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    sched.set_timesteps(sigmas=flow_timesteps(4)[:-1])
    x0, eps = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    for k, t in zip(sched.timesteps, flow_timesteps(4)):
        theirs = sched.scale_noise(x0, k.expand(2), eps)
        torch.testing.assert_close(FlowPath().add_noise(x0, t, eps), theirs, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------------ training
def _squares(n=64, size=8):
    return corner_squares(n, size)


def test_training_on_the_flow_path_lowers_the_loss():
    torch.manual_seed(0)
    cfg = TrainConfig(steps=40, batch_size=16, lr=2e-3, warmup_steps=0, min_snr_gamma=None, ema_decay=None,
                      checkpoint_every=1000, precision="fp32", log_every=1)
    res = train(ContextUnet(3, 16, 5, 8), _squares(), FlowPath(), cfg, progress=False)
    assert res.steps_done == 40 and all(math.isfinite(v) for v in res.losses)
    first, last = sum(res.losses[:5]) / 5, sum(res.losses[-5:]) / 5
    assert last < 0.7 * first, (first, last)


def test_min_snr_weighting_on_the_flow_path_weights_the_velocity_by_hand():
    """min-SNR-γ on the straight path: each image's velocity error weighted by min(SNR_t, γ)·t², SNR_t = (1−t)²/t²
    (the x₀ error is t times the velocity's: ``dlhelpers.predictions``), t and ε drawn in the documented order."""
    zero = lambda x, t, c=None: torch.zeros_like(x)
    x0 = torch.rand(6, 3, 8, 8) * 2 - 1
    loss = diffusion_loss(zero, x0, None, FlowPath(), torch.Generator().manual_seed(3), min_snr_gamma=2.0)
    g = torch.Generator().manual_seed(3)
    t = torch.rand((6,), generator=g).double()
    eps = torch.randn(x0.shape, generator=g)
    snr = ((1 - t) / t) ** 2
    w = (snr.clamp(max=2.0) * t ** 2).float()
    torch.testing.assert_close(loss, (w * (eps - x0).pow(2).mean(dim=(1, 2, 3))).mean())
    cfg = TrainConfig(steps=2, batch_size=16, min_snr_gamma=5.0, precision="fp32", warmup_steps=0)
    assert train(ContextUnet(3, 16, 5, 8), _squares(), FlowPath(), cfg, progress=False).steps_done == 2
    assert PRESETS["flow"].config.min_snr_gamma is None     # the shipped flow model trains on the plain loss


# ------------------------------------------------------------------------------------------------ planted mistakes
def test_mutant_path_with_t_reversed_fails(monkeypatch):
    """x_t = t·x₀ + (1 − t)·ε: the formula check and the loss checks fail."""
    monkeypatch.setattr(FlowPath, "coefficients",
                        lambda self, t, x_shape: (t.reshape(-1, *([1] * (len(x_shape) - 1))),
                                                  1 - t.reshape(-1, *([1] * (len(x_shape) - 1)))))
    for check in (check_add_noise_formula, check_loss_replays_by_hand, check_oracle_loss_is_the_closed_form_minimum):
        with pytest.raises(AssertionError):
            check()


def test_mutant_target_x0_minus_eps_fails(monkeypatch):
    """The velocity's target written x₀ − ε: the loss checks fail."""
    right = PREDICTIONS["velocity"]
    wrong = dataclasses.replace(right, target=lambda x0, eps, a, s: x0 - eps)
    monkeypatch.setitem(PREDICTIONS, "velocity", wrong)
    for check in (check_loss_replays_by_hand, check_oracle_loss_is_the_closed_form_minimum):
        with pytest.raises(AssertionError):
            check()


# Mistakes planted through the module's seams (the functions the samplers look up at each step), so that a
# refactor of the loop keeps them: the public euler_step the check loops call, and the loop's three formulas.
MUTANTS = {   # name: (function in dlhelpers.flow, its wrong version, the checks that must fail)
    "euler sign in the sampler": ("euler", lambda x, t, t_prev, u: x - (t_prev - t) * u,
                                  ("check_every_frame_on_the_exact_flow",)),
    "euler_step sign": ("euler_step", lambda x, t, t_prev, u: x - (t_prev - t) * u,
                        ("check_euler_sampler_is_the_euler_step_loop",)),
    "heun without its average": ("heun", lambda x, t, t_prev, u, u_guess: x + (t_prev - t) * u,
                                 ("check_every_frame_on_the_exact_flow", "check_orders")),
}


def test_mutant_x0_estimate_sign_fails(monkeypatch):
    """x̂₀ = x_t + t·u in the prediction table (the one way back from the network's output): the samplers read
    their step from it, so every frame leaves the exact flow."""
    right = PREDICTIONS["velocity"]
    monkeypatch.setitem(PREDICTIONS, "velocity", dataclasses.replace(
        right, split=lambda out, x_t, a, s: (x_t + s * out, x_t + a * out)))
    with pytest.raises(AssertionError):
        check_every_frame_on_the_exact_flow()


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_sampler_fails(monkeypatch, name):
    function, wrong, checks = MUTANTS[name]
    monkeypatch.setattr(flow, function, wrong)
    for check in checks:
        with pytest.raises(AssertionError):
            globals()[check]()
