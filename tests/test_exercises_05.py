"""Notebook 05's library pieces and checks beyond the catalogues (dlhelpers/tools/catalogues/nb05.py, graded in
tests/test_catalogues.py): the timesteps property over many (T, n), the η check's DDPM fact, the fallback to the
references, the student's η step driving the library's loop, the FD meter's jackknife, and the pictures module on bad
input."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from dlhelpers.evaluation.metrics import jackknife_se
from dlhelpers.ddim import ddim_step, ddim_timesteps
from dlhelpers.notebook.checks import ddim as checks
from dlhelpers.notebook.checks.common import ExerciseError
from dlhelpers.notebook.exercises import yours_or_reference
from dlhelpers.schedules import NoiseSchedule

torch.set_num_threads(1)


def test_timesteps_property_accepts_exactly_the_stated_lists():
    """Over many (T, n): the library passes; a list with one gap moved by one, or one repeat, fails."""
    pairs = checks.random_pairs(k=400, seed=1) + [(1, 1), (2, 2), (500, 500), (500, 1)]
    for T, n in pairs:
        ts = ddim_timesteps(T, n)
        assert checks.timesteps_problem(ts, T, n) is None, (T, n)
        if n >= 2 and T // n != -(-T // n):          # uneven: moving a value keeps the properties only sometimes
            continue
        if n >= 2:                                    # even gaps: any moved interior value breaks them
            moved = ts[:1] + [ts[1] + 1] + ts[2:]
            assert checks.timesteps_problem(moved, T, n) is not None, (T, n)
    assert checks.timesteps_problem([3, 3, 0], 3, 2) is not None                   # a repeat
    assert checks.timesteps_problem([6.0, 3.0, 0.0], 6, 2) is not None             # floats, even whole ones
    assert checks.timesteps_problem([True, False], 1, 1) is not None               # bools are not timesteps
    assert checks.timesteps_problem(torch.tensor([6, 3, 0]), 6, 2) is None          # an int tensor is fine


def test_random_pairs_are_valid_and_reproducible():
    pairs = checks.random_pairs(k=300, seed=5)
    assert pairs == checks.random_pairs(k=300, seed=5)
    assert all(1 <= n <= T <= 1000 for T, n in pairs)
    assert any(T % n for T, n in pairs) and any(n == 1 for _, n in pairs) and any(n == T > 1 for T, n in pairs)
    with pytest.raises(ValueError, match="k"):
        checks.random_pairs(k=0)


def test_check_messages_name_the_mistake():
    with pytest.raises(ExerciseError, match="float"):
        checks.check_ddim_timesteps(lambda T, n: [i * T / n for i in range(n, -1, -1)])
    with pytest.raises(ExerciseError, match="lopsided"):
        checks.check_ddim_timesteps(lambda T, n: list(range(T, 0, -((T + n - 1) // n))) + [0])
    with pytest.raises(ExerciseError, match="t − 1"):
        checks.check_ddim_step(lambda x, t, tp, e, s: checks.reference_ddim_step(x, t, t - 1, e, s))
    with pytest.raises(ExerciseError, match="swapped"):
        checks.check_ddim_step(lambda x, t, tp, e, s: s.add_noise(s.predict_x0(x, tp, e), t, e))
    with pytest.raises(ExerciseError, match="unchanged"):
        checks.check_ddim_step(lambda x, t, tp, e, s: x.clone())
    with pytest.raises(ExerciseError, match="stops short of 0"):
        checks.check_ddim_timesteps(lambda T, n: list(range(T, -1, -(T // n))))
    with pytest.raises(ExerciseError, match="re-use the predicted ε"):
        checks.check_ddim_step(lambda x, t, tp, e, s: s.add_noise(s.predict_x0(x, t, e), tp, torch.randn_like(e)))


def test_eta_check_uses_ddpm_with_the_posterior_variance():
    """η = 1 from t to t − 1 is DDPM's step with β̃_t (the check's reference there), and not with β_t: the check
    accepts the library at every t of two schedules and names σ² = β_t as notebook 1's choice."""
    x, e, z = checks._cases(4)
    for s in (NoiseSchedule.linear(500), NoiseSchedule.cosine(60)):
        for t in range(1, s.timesteps + 1):
            torch.testing.assert_close(checks._ddpm_posterior_step(x, t, e, s, z),
                                       ddim_step(x, t, t - 1, e, s, eta=1.0, z=z), rtol=1e-4, atol=1e-4)
    s = NoiseSchedule.linear(500)
    beta_tilde = (1 - s.alpha_bar[9]) / (1 - s.alpha_bar[10]) * s.beta[10]
    assert beta_tilde < 0.9 * s.beta[10]                   # at small t the two variances differ visibly

    def nb01_variance(x_t, t, t_prev, eps, schedule, eta, z):
        mean = (x_t - schedule.beta[t] / (1 - schedule.alpha_bar[t]).sqrt() * eps) / schedule.alpha[t].sqrt()
        return mean + eta * schedule.beta[t].sqrt() * z
    with pytest.raises(ExerciseError, match="values differ from DDPM's step with variance β̃_t"):
        checks.check_ddim_eta_step(nb01_variance, cases=((s, 10, 9, 1.0),))
    with pytest.raises(ExerciseError, match="NaN"):
        checks.check_ddim_eta_step(lambda x_t, t, tp, e, sch, eta, z: x_t * float("nan"))


def test_a_broken_piece_falls_back_to_the_reference(capsys):
    broken = lambda x_t, t, t_prev, eps, schedule: x_t
    fn = yours_or_reference(lambda: broken, checks.reference_ddim_step, checks.check_ddim_step, name="ddim_step")
    assert fn is checks.reference_ddim_step
    assert capsys.readouterr().out.startswith("→ using the reference ddim_step below")
    for ref, check in ((checks.reference_ddim_step, checks.check_ddim_step),
                       (checks.reference_ddim_timesteps, checks.check_ddim_timesteps),
                       (checks.reference_ddim_eta_step, checks.check_ddim_eta_step)):
        check(ref)                                    # every reference passes its own check


def test_pictures_reject_bad_input_and_draw():
    import matplotlib.pyplot as plt

    from dlhelpers.notebook import ddim_pictures as pics

    with pytest.raises(TypeError, match="lists"):
        pics.timesteps_strip(10, [])
    with pytest.raises(TypeError, match="lists"):
        pics.timesteps_strip(10, {"floats": [10.0, 0.0]})
    with pytest.raises(ValueError, match="T"):
        pics.timesteps_strip(0, {"a": [0]})
    with pytest.raises(TypeError, match="panels"):
        pics.sample_panels([], nrow=2)
    with pytest.raises(TypeError, match="panels"):
        pics.sample_panels([("a", torch.zeros(4, 3, 16, 16), 1)], nrow=2)
    with pytest.raises(ValueError, match="fd"):
        pics.plot_steps_sweep([5, 10], [0.5, 0.6], [1.0])
    with pytest.raises(TypeError, match="reference"):
        pics.plot_steps_sweep([5, 10], [0.5, 0.6], [1.0, 2.0], reference=(1.0, 2.0))
    ax = pics.timesteps_strip(10, {"even": [10, 7, 3, 0], "overshoot": [10, 6, 2, -2]})
    assert len(ax.get_yticks()) == 2
    fig = pics.sample_panels([("a", torch.zeros(4, 3, 16, 16)), ("b", torch.ones(4, 3, 16, 16))], nrow=2,
                             row_labels=["x", "y"])
    assert len(fig.axes) == 2
    fig2 = pics.plot_steps_sweep([5, 10], [0.5, 0.6], [2.0, 1.0], reference=("DDPM", 0.9, 0.8), fd_floor=0.5)
    assert len(fig2.axes) == 2
    plt.close("all")


def test_the_students_eta_step_in_the_library_loop_matches_sample_ddim():
    """The notebook's sample_with_eta: reverse_loop driven by the (reference) η step, a fresh z per step from the
    seeded generator, gives sample_ddim's sprites at η = 1 (same draws, same order)."""
    import torch.nn.functional as F

    from dlhelpers.ddim import sample_ddim
    from dlhelpers.pretrained import load_pretrained
    from dlhelpers.sampling import reverse_loop

    model, schedule = load_pretrained("final", "cpu")
    ctx = F.one_hot(torch.arange(5), 5).float()
    x_T = torch.randn(5, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    ts = ddim_timesteps(schedule.timesteps, 6)

    def step(x, t, t_prev, eps, sched, gen):
        z = torch.randn(x.shape, generator=gen, device=x.device)
        return checks.reference_ddim_eta_step(x, t, t_prev, eps, sched, 1.0, z)

    mine = reverse_loop(model, schedule, 5, list(zip(ts[:-1], ts[1:])), step, context=ctx, x_T=x_T,
                        generator=torch.Generator().manual_seed(1), progress=False, precision="fp32").samples
    library = sample_ddim(model, 5, schedule, steps=6, eta=1.0, context=ctx, x_T=x_T, progress=False,
                          generator=torch.Generator().manual_seed(1), precision="fp32").samples
    torch.testing.assert_close(mine, library, rtol=1e-4, atol=1e-4)


def test_fd_meter_matches_sprite_fd_and_a_hand_jackknife():
    from dlhelpers.evaluation import metrics
    from dlhelpers.notebook.ddim_pictures import FDMeter

    real = metrics.heldout_samples(n=130, seed=3)
    ref, a, b = real[:100], real[100:115], real[115:130]
    meter = FDMeter(ref)
    assert meter.add("a", a) == pytest.approx(metrics.sprite_fd(a, ref), rel=1e-9)
    meter.add("b", b)
    fr = metrics._gaussian(metrics.classifier_features(ref))
    fa = metrics.classifier_features(a)
    loo = [metrics.frechet_distance(*metrics._gaussian(torch.cat([fa[:i], fa[i + 1:]])), *fr) for i in range(15)]
    mean = sum(loo) / 15
    assert meter.se("a") == pytest.approx(math.sqrt(14 / 15 * sum((v - mean) ** 2 for v in loo)), rel=1e-9)
    d, lo, hi = meter.diff("a", "a")
    assert d == 0 and lo == 0 and hi == 0                          # a set against itself: no difference, no spread
    d, lo, hi = meter.diff("a", "b")
    assert d == pytest.approx(meter.fd("a") - meter.fd("b")) and lo < d < hi
    assert hi - d == pytest.approx(d - lo)
    # ratio: Fieller's interval contains 1 exactly when diff's interval contains 0
    r, rlo, rhi = meter.ratio("a", "b")
    assert r == pytest.approx(meter.fd("a") / meter.fd("b")) and rlo <= r <= rhi
    assert (rlo <= 1 <= rhi) == (lo <= 0 <= hi)
    if meter.fd("a") > 1.96 * meter.se("a"):                       # a/a: 1, with no spread
        assert meter.ratio("a", "a") == pytest.approx((1.0, 1.0, 1.0))
    meter.add("a2", a)
    r, rlo, rhi = meter.ratio(("a", "b"), ("a2", "a"))            # a denominator that is exactly 0
    assert (rlo, rhi) == (-math.inf, math.inf)
    r, rlo, rhi = meter.ratio(("a", "b"), "b")                    # at each edge, num − r·den is 1.96 s.e. from 0
    for edge in (rlo, rhi):
        x = (meter._loo["a"] - meter._loo["b"]) - edge * meter._loo["b"]
        assert abs(d - edge * meter.fd("b")) == pytest.approx(1.96 * jackknife_se(x), rel=1e-6)
    with pytest.raises(TypeError, match="pair of names"):
        meter.ratio(("a",), "b")
    with pytest.raises(ValueError, match="samples must hold 15"):
        meter.add("c", real[:10])
    with pytest.raises(KeyError, match="name"):
        meter.se("missing")
    with pytest.raises(TypeError, match="name"):
        meter.add(3, a)
    with pytest.raises(ValueError, match="at least 3"):
        FDMeter(ref).add("tiny", a[:2])
