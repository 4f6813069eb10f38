import pytest
import torch

from support import GaussianDataModel, OracleModel
from dlhelpers.ddim import ddim_step, ddim_timesteps, sample_ddim
from dlhelpers.ddpm import ddpm_step, sample_ddpm
from dlhelpers.dpm_solver import sample_dpm_solver
from dlhelpers.sampling import predict_noise
from dlhelpers.schedules import NoiseSchedule


def posterior_mean_x0_form(x_t, t, eps, s):
    """DDPM eq. (7): μ̃_t = √ᾱ_{t−1} β_t/(1−ᾱ_t) · x̂₀ + √α_t (1−ᾱ_{t−1})/(1−ᾱ_t) · x_t."""
    ab, ab_prev, beta, alpha = s.alpha_bar[t], s.alpha_bar[t - 1], s.beta[t], s.alpha[t]
    x0_hat = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    return ab_prev.sqrt() * beta / (1 - ab) * x0_hat + alpha.sqrt() * (1 - ab_prev) / (1 - ab) * x_t


@pytest.mark.parametrize("t", [1, 2, 37, 250, 500])
def test_ddpm_step_equals_posterior_mean_written_another_way(schedule, t):
    x_t, eps = torch.randn(3, 3, 16, 16), torch.randn(3, 3, 16, 16)
    zero = torch.zeros_like(x_t)
    torch.testing.assert_close(ddpm_step(x_t, t, eps, schedule, z=zero),
                               posterior_mean_x0_form(x_t, t, eps, schedule), rtol=1e-3, atol=1e-3)


def test_ddpm_step_adds_sqrt_beta_noise_except_on_last_step(schedule):
    x_t, eps, z = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    zero = torch.zeros_like(z)
    diff = ddpm_step(x_t, 100, eps, schedule, z=z) - ddpm_step(x_t, 100, eps, schedule, z=zero)
    torch.testing.assert_close(diff, schedule.beta[100].sqrt() * z)
    torch.testing.assert_close(ddpm_step(x_t, 1, eps, schedule, z=z), ddpm_step(x_t, 1, eps, schedule, z=zero))
    # per-sample t: sample 0 is on its last step, sample 1 is not
    t = torch.tensor([1, 100])
    out = ddpm_step(x_t, t, eps, schedule, z=z) - ddpm_step(x_t, t, eps, schedule, z=zero)
    assert out[0].abs().max() == 0
    torch.testing.assert_close(out[1], schedule.beta[100].sqrt() * z[1])    # √β_t, not merely some noise


def test_ddpm_step_noise_comes_from_the_generator(schedule):
    x_t, eps = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    a = ddpm_step(x_t, 10, eps, schedule, generator=torch.Generator().manual_seed(5))
    b = ddpm_step(x_t, 10, eps, schedule, generator=torch.Generator().manual_seed(5))
    c = ddpm_step(x_t, 10, eps, schedule, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 0


def test_ddim_timesteps_literal_lists():
    assert ddim_timesteps(10, 3) == [10, 6, 3, 0]
    assert ddim_timesteps(10, 10) == list(range(10, -1, -1))
    assert ddim_timesteps(500, 1) == [500, 0]
    assert ddim_timesteps(500, 3) == [500, 333, 166, 0]
    assert ddim_timesteps(500, 25) == list(range(500, -1, -20))


def test_ddim_timesteps_valid_for_every_n():
    T = 500
    for n in range(1, T + 1):
        ts = ddim_timesteps(T, n)
        assert len(ts) == n + 1 and ts[0] == T and ts[-1] == 0, n
        assert all(a > b for a, b in zip(ts, ts[1:])), n
        gaps = {a - b for a, b in zip(ts, ts[1:])}
        assert gaps <= {T // n, -(-T // n)}, n


@pytest.mark.parametrize("t", [2, 100, 500])
def test_ddim_eta1_has_the_ddpm_posterior_variance_and_mean(schedule, t):
    x_t, eps, z = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    s = schedule
    beta_tilde = (1 - s.alpha_bar[t - 1]) / (1 - s.alpha_bar[t]) * s.beta[t]
    mean = ddim_step(x_t, t, t - 1, eps, s, eta=1.0, z=torch.zeros_like(z))
    noisy = ddim_step(x_t, t, t - 1, eps, s, eta=1.0, z=z)
    torch.testing.assert_close(noisy - mean, beta_tilde.sqrt() * z, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mean, posterior_mean_x0_form(x_t, t, eps, s), rtol=1e-4, atol=1e-4)


def test_ddim_eta0_is_deterministic_and_ignores_z(schedule):
    x_t, eps = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    a = ddim_step(x_t, 300, 280, eps, schedule, eta=0.0, z=torch.randn(2, 3, 16, 16))
    b = ddim_step(x_t, 300, 280, eps, schedule, eta=0.0)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def _oracle_setup(schedule, seed=0):
    """A point-mass data set x0 and x_T = √ᾱ_T x0 + √(1 − ᾱ_T) ε: the exact ODE path is x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(4, 3, 16, 16, generator=g) * 2 - 1
    eps = torch.randn(4, 3, 16, 16, generator=g)
    return x0, eps, schedule.add_noise(x0, schedule.timesteps, eps), OracleModel(x0, schedule)


@pytest.mark.parametrize("sampler", ["ddim-25", "ddim-7", "dpm-solver-10", "dpm-solver-3"])
def test_deterministic_samplers_follow_the_exact_path_at_every_step(schedule, sampler):
    """With an exact-ε oracle, every intermediate x_t of DDIM (η = 0) and DPM-Solver++ lies on the exact path —
    not only the last one (the final step returns x̂₀ = x0 whatever came before, so checking it alone proves little)."""
    x0, eps, x_T, oracle = _oracle_setup(schedule)
    name, steps = sampler.rsplit("-", 1)
    fn = sample_ddim if name == "ddim" else sample_dpm_solver
    res = fn(oracle, 4, schedule, steps=int(steps), x_T=x_T, progress=False, precision="fp32")
    assert res.frame_timesteps == ddim_timesteps(500, int(steps))
    for t, frame in zip(res.frame_timesteps, res.frames):
        want = schedule.add_noise(x0, t, eps)
        torch.testing.assert_close(frame, want, rtol=1e-4, atol=1e-4, msg=lambda m: f"at t = {t}: {m}")


def test_ddpm_trajectory_equals_a_second_derivation_at_every_step(schedule):
    """DDPM with an oracle, every step against the posterior-mean form (eq. 7) plus √β_t z drawn in the same order
    from the same generator: wrong noise at any intermediate step shows, not only at the end."""
    x0, _, x_T, oracle = _oracle_setup(schedule, seed=1)
    res = sample_ddpm(oracle, 4, schedule, x_T=x_T, generator=torch.Generator().manual_seed(7), save_every=1,
                      progress=False, precision="fp32")
    g = torch.Generator().manual_seed(7)
    x = x_T.clone()
    assert res.frame_timesteps == list(range(500, -1, -1))
    for i, t in enumerate(range(500, 0, -1)):
        torch.testing.assert_close(res.frames[i], x, rtol=1e-3, atol=1e-3, msg=lambda m: f"at t = {t}: {m}")
        mean = posterior_mean_x0_form(x, t, oracle(x, torch.full((4,), t / 500)), schedule)
        z = torch.randn(x.shape, generator=g)
        x = mean + (schedule.beta[t].sqrt() * z if t > 1 else 0)
    torch.testing.assert_close(res.samples, x, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(res.samples, x0, rtol=1e-3, atol=1e-3)


def test_stochastic_ddim_recovers_x0(schedule):
    x0, _, _, oracle = _oracle_setup(schedule)
    for steps, eta in [(7, 0.5), (500, 1.0)]:
        res = sample_ddim(oracle, 4, schedule, steps=steps, eta=eta, generator=torch.Generator().manual_seed(0),
                          progress=False, precision="fp32")
        torch.testing.assert_close(res.samples, x0, rtol=1e-3, atol=1e-3)


def test_sample_result_frames_and_reproducibility(tiny_model, schedule):
    run = lambda seed: sample_ddim(tiny_model, 3, schedule, steps=10, generator=torch.Generator().manual_seed(seed),
                                   save_every=3, progress=False, precision="fp32")
    a, b, c = run(1), run(1), run(2)
    assert a.samples.shape == (3, 3, 16, 16)
    assert a.frame_timesteps == [500, 350, 200, 50, 0]
    assert a.frames.shape == (5, 3, 3, 16, 16) and a.x0_preds.shape == a.frames.shape
    torch.testing.assert_close(a.frames[-1], a.samples)
    torch.testing.assert_close(a.samples, b.samples, rtol=0, atol=0)
    assert (a.samples - c.samples).abs().max() > 0


def test_ddpm_without_extra_noise_differs_from_with(tiny_model):
    schedule = NoiseSchedule.linear(50, 1e-3, 0.2)     # 50 steps: the same loop as 500, a tenth of the calls
    x_T = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    kw = dict(progress=False, precision="fp32", x_T=x_T, save_every=10)
    with_noise = sample_ddpm(tiny_model, 2, schedule, generator=torch.Generator().manual_seed(0), **kw)
    without = sample_ddpm(tiny_model, 2, schedule, extra_noise=False, **kw)
    again = sample_ddpm(tiny_model, 2, schedule, extra_noise=False, **kw)
    assert with_noise.frame_timesteps[0] == 50 and with_noise.frame_timesteps[-1] == 0
    torch.testing.assert_close(without.frames[0], with_noise.frames[0])  # same starting noise
    torch.testing.assert_close(without.samples, again.samples, rtol=0, atol=0)  # deterministic
    assert (with_noise.samples - without.samples).abs().max() > 0.1


class LinearContextModel(torch.nn.Module):
    in_channels, h, n_cfeat = 3, 16, 5

    def forward(self, x, t, c=None):
        c = torch.zeros(x.shape[0], 5) if c is None else c
        return x * 0 + c.sum(1).view(-1, 1, 1, 1) + 0.5


def test_guidance_formula():
    m, x, t = LinearContextModel(), torch.zeros(2, 3, 16, 16), torch.rand(2)
    c = torch.eye(5)[:2] * 2  # ε_cond = 2.5, ε_uncond = 0.5
    assert predict_noise(m, x, t, c, 0.0).unique().tolist() == [0.5]
    assert predict_noise(m, x, t, c, 1.0).unique().tolist() == [2.5]
    assert predict_noise(m, x, t, c, 3.0).unique().tolist() == [0.5 + 3 * 2.0]


def test_sampler_restores_training_mode(tiny_model, schedule):
    tiny_model.train()
    sample_ddim(tiny_model, 2, schedule, steps=2, progress=False, generator=torch.Generator().manual_seed(0))
    assert tiny_model.training


def test_bf16_forward_agrees_with_fp32(tiny_model):
    """The fast path's bf16 autocast stays within 5 % relative (Frobenius) error of fp32 on random inputs."""
    from dlhelpers.unet import ContextUnet
    torch.manual_seed(1)
    m = ContextUnet(3, 64, 5, 16).eval()
    x, t, c = torch.randn(16, 3, 16, 16), torch.rand(16), torch.eye(5)[torch.arange(16) % 5]
    with torch.inference_mode():
        ref = m(x, t, c)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = m(x, t, c).float()
    rel = (fast - ref).norm() / ref.norm()
    assert rel < 0.05, rel


@pytest.mark.parametrize("make_schedule", [lambda: NoiseSchedule.linear(500), lambda: NoiseSchedule.cosine(500)],
                         ids=["linear", "cosine"])
@pytest.mark.parametrize("sampler", ["ddpm", "ddim-25", "dpm-solver-20"])
def test_every_offered_schedule_samples_well_with_every_sampler(make_schedule, sampler):
    """A near-perfect model must give near-perfect samples: mean ≈ 0 and std ≈ s = 0.5. The cosine schedule of the
    paper (ᾱ_T ≈ 1e-8) fails this with DDIM and DPM-Solver++ (measured: mean −3.0 and −3.8): x̂₀ at t = T
    multiplies the 0.01 error by 1/√ᾱ_T."""
    sch = make_schedule()
    model = GaussianDataModel(sch)
    kw = dict(progress=False, precision="fp32", save_every=None, generator=torch.Generator().manual_seed(0))
    if sampler == "ddpm":
        x = sample_ddpm(model, 128, sch, **kw).samples
    elif sampler == "ddim-25":
        x = sample_ddim(model, 128, sch, steps=25, **kw).samples
    else:
        x = sample_dpm_solver(model, 128, sch, steps=20, **kw).samples
    assert abs(x.mean().item()) < 0.1, f"{sampler}: sample mean {x.mean().item():.3f}, expected ≈ 0"
    assert 0.85 * 0.5 < x.std().item() < 1.15 * 0.5, f"{sampler}: sample std {x.std().item():.3f}, expected ≈ 0.5"
