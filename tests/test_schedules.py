import math

import torch

from dlhelpers.schedules import NoiseSchedule, extract


def test_linear_matches_course_definition(schedule):
    T = 500
    beta = (0.02 - 1e-4) * torch.linspace(0, 1, T + 1, dtype=torch.float64) + 1e-4
    assert schedule.timesteps == T
    assert schedule.beta.shape == schedule.alpha.shape == schedule.alpha_bar.shape == (T + 1,)
    torch.testing.assert_close(schedule.beta, beta.float())
    torch.testing.assert_close(schedule.alpha, 1 - beta.float())
    assert schedule.alpha_bar[0].item() == 1.0


def test_alpha_bar_is_the_cumulative_product(schedule):
    # second derivation: an explicit Python loop over s = 1..t in float64
    prod, expected = 1.0, [1.0]
    for s in range(1, schedule.timesteps + 1):
        prod *= 1.0 - float(schedule.beta[s])
        expected.append(prod)
    torch.testing.assert_close(schedule.alpha_bar.double(), torch.tensor(expected, dtype=torch.float64),
                               rtol=1e-6, atol=1e-7)
    assert (schedule.alpha_bar[1:] < schedule.alpha_bar[:-1]).all()


def test_cosine_schedule_follows_nichol_dhariwal_with_a_floor():
    """ᾱ_t = ᾱ_T + (1 − ᾱ_T)(f(t) − f(T))/(f(0) − f(T)), f Nichol & Dhariwal's eq. (17): 1 at t = 0, ᾱ_T at T."""
    sch = NoiseSchedule.cosine(timesteps=100, alpha_bar_T=0.01)
    f = lambda t: math.cos(((t / 100) + 0.008) / 1.008 * math.pi / 2) ** 2
    for t in (0, 1, 10, 50, 90, 100):
        assert abs(sch.alpha_bar[t].item() - (0.01 + 0.99 * (f(t) - f(100)) / (f(0) - f(100)))) < 1e-5
    assert sch.alpha_bar[0].item() == 1.0 and abs(sch.alpha_bar[-1].item() - 0.01) < 1e-7
    assert abs(NoiseSchedule.cosine(500).alpha_bar[-1].item() - 0.0063) < 1e-7


def test_extract_broadcasts_per_sample():
    values = torch.arange(10.0)
    out = extract(values, torch.tensor([1, 4, 9]), (3, 3, 16, 16))
    assert out.shape == (3, 1, 1, 1)
    assert out.flatten().tolist() == [1.0, 4.0, 9.0]
    assert extract(values, 7, (3, 3, 16, 16)).item() == 7.0


def test_add_noise_formula_exact(schedule):
    x0, noise = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    t = torch.tensor([0, 1, 250, 500])
    xt = schedule.add_noise(x0, t, noise)
    for i, ti in enumerate(t.tolist()):
        ab = schedule.alpha_bar[ti]
        torch.testing.assert_close(xt[i], ab.sqrt() * x0[i] + (1 - ab).sqrt() * noise[i])
    torch.testing.assert_close(xt[0], x0[0])  # t = 0 is the clean image
    # int t equals the same t for every sample
    torch.testing.assert_close(schedule.add_noise(x0, 250, noise), schedule.add_noise(x0, torch.full((4,), 250), noise))


def test_add_noise_mean_and_variance_statistically(schedule):
    g = torch.Generator().manual_seed(0)
    n, t = 200_000, 300
    x0 = torch.full((n, 1, 1, 1), 0.7)
    xt = schedule.add_noise(x0, t, torch.randn(x0.shape, generator=g))
    ab = schedule.alpha_bar[t].item()
    assert abs(xt.mean().item() - math.sqrt(ab) * 0.7) < 0.01
    assert abs(xt.var().item() - (1 - ab)) < 0.01  # a missing √ on (1 − ᾱ) would give (1 − ᾱ)²


def test_cosine_floor_must_be_strictly_between_0_and_1():
    import pytest
    for bad in (0.0, 1.0, -0.1, 2.0):
        with pytest.raises(ValueError, match="^alpha_bar_T"):
            NoiseSchedule.cosine(100, alpha_bar_T=bad)
    with pytest.raises(TypeError, match="^alpha_bar_T"):
        NoiseSchedule.cosine(100, alpha_bar_T="0.01")
