"""Our forward noising, DDPM step, DDIM step and DPM-Solver++(2M) agree with diffusers' schedulers on the same inputs.

diffusers (a test-only dependency) is the library students meet next; matching it is a second, independent
derivation of every formula. Index map: diffusers counts timesteps k = 0…T−1 where our t = k + 1 (our index 0 is
the clean image), so its ``trained_betas`` are our β_1…β_T and its ``alphas_cumprod[k]`` is our ᾱ_{k+1}.
"""
import pytest
import torch

from dlhelpers.ddim import ddim_step, ddim_timesteps
from dlhelpers.ddpm import ddpm_step
from dlhelpers.dpm_solver import sample_dpm_solver
from dlhelpers.schedules import NoiseSchedule

diffusers = pytest.importorskip("diffusers")

T = 500


@pytest.fixture(scope="module")
def ours():
    return NoiseSchedule.linear(T, 1e-4, 0.02)


def _betas(s):
    return s.beta[1:].double().numpy()


def _xs(seed, n=3):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, 16, 16, generator=g) for _ in range(n)]


def test_alphas_cumprod_match(ours):
    sched = diffusers.DDPMScheduler(num_train_timesteps=T, trained_betas=_betas(ours))
    torch.testing.assert_close(sched.alphas_cumprod.float(), ours.alpha_bar[1:], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("t", [1, 2, 137, 499, 500])
def test_forward_noising_matches_ddpm_scheduler_add_noise(ours, t):
    sched = diffusers.DDPMScheduler(num_train_timesteps=T, trained_betas=_betas(ours))
    x0, noise, _ = _xs(t)
    theirs = sched.add_noise(x0, noise, torch.tensor([t - 1, t - 1]))
    torch.testing.assert_close(ours.add_noise(x0, t, noise), theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("t", [1, 2, 250, 500])
def test_ddpm_step_matches_ddpm_scheduler_step(ours, t):
    """variance_type "fixed_large" is σ_t² = β_t (Algorithm 2 as the course uses it); clip_sample off."""
    sched = diffusers.DDPMScheduler(num_train_timesteps=T, trained_betas=_betas(ours), variance_type="fixed_large",
                                    clip_sample=False)
    sched.set_timesteps(T)
    x_t, eps, _ = _xs(10 + t)
    theirs = sched.step(eps, t - 1, x_t, generator=torch.Generator().manual_seed(3)).prev_sample
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(3))   # the same draw diffusers makes
    torch.testing.assert_close(ddpm_step(x_t, t, eps, ours, z=z), theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [25, 10])
def test_ddim_steps_match_ddim_scheduler_over_a_whole_run(ours, n):
    """Every step of an η = 0 run: diffusers' stride T // n equals ours when n divides T."""
    sched = diffusers.DDIMScheduler(num_train_timesteps=T, trained_betas=_betas(ours), clip_sample=False,
                                    set_alpha_to_one=True, timestep_spacing="trailing")
    sched.set_timesteps(n)
    ts = ddim_timesteps(T, n)
    assert [int(k) + 1 for k in sched.timesteps] == ts[:-1], "the same timestep grid"
    x = _xs(99)[0]
    for k, (t, t_prev) in zip(sched.timesteps, zip(ts[:-1], ts[1:])):
        eps = torch.tanh(x) * 0.7 + 0.1 * t / T          # any deterministic ε(x, t) will do
        ours_next = ddim_step(x, t, t_prev, eps, ours, eta=0.0)
        assert int(k) + 1 == t
        theirs = sched.step(eps, int(k), x, eta=0.0).prev_sample
        torch.testing.assert_close(ours_next, theirs, rtol=1e-4, atol=1e-4)
        x = ours_next


class _TanhModel(torch.nn.Module):
    """A fixed, nonlinear stand-in ε_θ(x, t) so that the solvers' history terms matter."""
    in_channels, h, n_cfeat = 3, 16, 5

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.7))

    def forward(self, x, t_norm, c=None):
        return torch.tanh(x) * self.w + 0.3 * t_norm.reshape(-1, 1, 1, 1)


@pytest.mark.parametrize("steps", [5, 10, 14])
def test_dpm_solver_pp_2m_matches_diffusers_multistep_over_the_whole_trajectory(ours, steps):
    model = _TanhModel()
    ts = ddim_timesteps(T, steps)
    sched = diffusers.DPMSolverMultistepScheduler(num_train_timesteps=T, trained_betas=_betas(ours),
                                                  algorithm_type="dpmsolver++", solver_order=2,
                                                  lower_order_final=True, final_sigmas_type="zero")
    sched.set_timesteps(timesteps=[t - 1 for t in ts[:-1]])
    x_T = _xs(5)[0]
    res = sample_dpm_solver(model, 2, ours, steps=steps, x_T=x_T, progress=False, precision="fp32")
    x = x_T.clone()
    theirs = [x.clone()]
    with torch.no_grad():
        for k in sched.timesteps:
            eps = model(x, torch.full((2,), (int(k) + 1) / T))
            x = sched.step(eps, k, x).prev_sample
            theirs.append(x.clone())
    assert res.frame_timesteps == ts
    for i, (a, b) in enumerate(zip(res.frames, theirs)):
        torch.testing.assert_close(a, b.float(), rtol=2e-4, atol=2e-4, msg=lambda m: f"step {i} ({ts[i]}): {m}")
