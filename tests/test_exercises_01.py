"""Notebook 1's exercises, graded as the student copy and the autograder would (tests/exercise_harness.py).

For each exercise: classic wrong answers fail both the visible check and the autograder, genuinely different
right answers pass both, the source solution passes and the stub fails. Also the references used by the
notebook's fallback, and the pictures/measurements module of the notebook (dlhelpers.notebook.diagrams_sampling).
"""
from __future__ import annotations

import textwrap

import matplotlib
import pytest
import torch

from exercise_harness import exercise, grade

matplotlib.use("Agg")

NB = "01"


def _src(body: str) -> str:
    return textwrap.dedent(body).strip("\n") + "\n"


SETUP = "import torch\n"

# ------------------------------------------------------------------------------------------------ DDPM step
STEP_HEAD = "def my_ddpm_step(x_t, t, eps, schedule, z):\n"
STEP_WRONG = {
    "noise on the last step": """
        a, ab, b = schedule.alpha[t], schedule.alpha_bar[t], schedule.beta[t]
        return (x_t - (1 - a) / (1 - ab).sqrt() * eps) / a.sqrt() + b.sqrt() * z""",
    "never any noise": """
        a, ab = schedule.alpha[t], schedule.alpha_bar[t]
        return (x_t - (1 - a) / (1 - ab).sqrt() * eps) / a.sqrt()""",
    "beta instead of sqrt(beta)": """
        a, ab, b = schedule.alpha[t], schedule.alpha_bar[t], schedule.beta[t]
        mean = (x_t - (1 - a) / (1 - ab).sqrt() * eps) / a.sqrt()
        return mean if t == 1 else mean + b * z""",
    "no sqrt in the eps coefficient": """
        a, ab, b = schedule.alpha[t], schedule.alpha_bar[t], schedule.beta[t]
        mean = (x_t - (1 - a) / (1 - ab) * eps) / a.sqrt()
        return mean if t == 1 else mean + b.sqrt() * z""",
    "alpha_bar where alpha belongs": """
        ab, b = schedule.alpha_bar[t], schedule.beta[t]
        mean = (x_t - (1 - ab) / (1 - ab).sqrt() * eps) / ab.sqrt()
        return mean if t == 1 else mean + b.sqrt() * z""",
    "no rescaling by 1/sqrt(alpha)": """
        a, ab, b = schedule.alpha[t], schedule.alpha_bar[t], schedule.beta[t]
        mean = x_t - (1 - a) / (1 - ab).sqrt() * eps
        return mean if t == 1 else mean + b.sqrt() * z""",
}
STEP_RIGHT = {
    "beta over sqrt(1 - alpha_bar), masked noise": """
        coef = schedule.beta[t] / torch.sqrt(1 - schedule.alpha_bar[t])
        mean = (x_t - coef * eps) * torch.rsqrt(schedule.alpha[t])
        sigma = schedule.beta[t].sqrt() * float(t > 1)
        return mean + sigma * z""",
    "scalars as Python floats": """
        a, ab, b = float(schedule.alpha[t]), float(schedule.alpha_bar[t]), float(schedule.beta[t])
        mean = (x_t - eps * (1 - a) / (1 - ab) ** 0.5) / a ** 0.5
        if t > 1:
            mean = mean + b ** 0.5 * z
        return mean""",
}

# ------------------------------------------------------------------------------------------------ x̂₀
X0_HEAD = "def my_predict_x0(x_t, t, eps, schedule):\n"
X0_WRONG = {
    "no division by sqrt(alpha_bar)": "    return x_t - (1 - schedule.alpha_bar[t]).sqrt() * eps",
    "1 - alpha_bar without sqrt": "    ab = schedule.alpha_bar[t]\n    return (x_t - (1 - ab) * eps) / ab.sqrt()",
    "alpha instead of alpha_bar": "    a = schedule.alpha[t]\n    return (x_t - (1 - a).sqrt() * eps) / a.sqrt()",
    "plus instead of minus": "    ab = schedule.alpha_bar[t]\n    return (x_t + (1 - ab).sqrt() * eps) / ab.sqrt()",
    "divide by alpha_bar, not its root": "    ab = schedule.alpha_bar[t]\n    return (x_t - (1 - ab).sqrt() * eps) / ab",
}
X0_RIGHT = {
    "split fraction": "    ab = schedule.alpha_bar[t]\n    return x_t / ab.sqrt() - ((1 - ab) / ab).sqrt() * eps",
    "rsqrt of floats": ("    ab = float(schedule.alpha_bar[t])\n"
                        "    return (x_t - (1.0 - ab) ** 0.5 * eps) * ab ** -0.5"),
}

# ------------------------------------------------------------------------------------------------ the loop
LOOP_HEAD = "def my_sample(model, x_T, schedule, step_fn, extra_noise=True, generator=None):\n"


def _loop(order="range(T, 0, -1)", tnorm="torch.full((x.shape[0],), t / T, device=x.device)",
          noise="torch.randn(x.shape, generator=generator, device=x.device)", ctx="torch.no_grad()",
          update="x = step_fn(x, t, eps, schedule, z)", ret="x", before="", zeros="torch.zeros_like(x)"):
    return f"""
    T = schedule.timesteps
    x = x_T
    {before}
    with {ctx}:
        for t in {order}:
            eps = model(x, {tnorm})
            z = {noise} if extra_noise else {zeros}
            {update}
    return {ret}"""


LOOP_WRONG = {
    "t ascending": (_loop(order="range(1, T + 1)"), "upwards"),
    "t not normalised (float t)": (_loop(tnorm="torch.full((x.shape[0],), float(t), device=x.device)"), "t/T"),
    "t not normalised (int t)": (_loop(tnorm="t"), "t/T"),
    "starts at T - 1": (_loop(order="range(T - 1, 0, -1)"), "off by one"),
    "also runs t = 0": (_loop(order="range(T, -1, -1)"), "off by one"),
    "reversed(range(T))": (_loop(order="reversed(range(T))"), "off by one"),
    "no torch.no_grad": (_loop(ctx="torch.enable_grad()"), "no_grad"),
    "global RNG, generator ignored": (_loop(noise="torch.randn(x.shape)"), "generator"),
    "never adds noise": (_loop(noise="torch.zeros_like(x)"), "fresh noise"),
    "one z for all steps": (_loop(before="z0 = torch.randn(x_T.shape, generator=generator)", noise="z0"), "fresh z"),
    "x never updated": (_loop(update="x_next = step_fn(x, t, eps, schedule, z)", ret="x_next"), "stale x"),
    "returns x_T": (_loop(update="x = step_fn(x, t, eps, schedule, z)", ret="x_T"), "returned x_T"),
    "adds its own noise on every step, last included": (_loop(
        update="x = step_fn(x, t, eps, schedule, torch.zeros_like(x)) + schedule.beta[t].sqrt() * z"), "z = 0"),
    "z pre-scaled by sqrt(beta)": (_loop(noise="schedule.beta[t].sqrt() * torch.randn(x.shape, generator=generator)"),
                                   "standard normal"),
    "extra_noise ignored": (_loop(zeros="torch.randn(x.shape, generator=generator)"), "zeros_like"),
    "own generator, reseeded": (_loop(before="generator = torch.Generator().manual_seed(0)"), "generator"),
}
LOOP_RIGHT = {
    "noise drawn up front, inference_mode, float t/T": """
    T = schedule.timesteps
    zs = torch.randn((T,) + tuple(x_T.shape), generator=generator, device=x_T.device)
    x = x_T.clone()
    with torch.inference_mode():
        for i, t in enumerate(reversed(range(1, T + 1))):
            eps = model(x, t / T)
            z = zs[i] if extra_noise else torch.zeros_like(x)
            x = step_fn(x, t, eps, schedule, z)
    return x""",
    "while loop, (B, 1) times, no z at t = 1": """
    T, B = schedule.timesteps, x_T.shape[0]
    x, t = x_T, T
    with torch.no_grad():
        while t >= 1:
            eps = model(x, torch.ones(B, 1, device=x.device) * (t / T))
            if extra_noise and t > 1:
                z = torch.randn(x.shape, generator=generator, device=x.device)
            else:
                z = torch.zeros_like(x)
            x = step_fn(x_t=x, t=t, eps=eps, schedule=schedule, z=z)
            t -= 1
    return x""",
}


def _answer(head, body):
    lines = textwrap.dedent(body).strip("\n").splitlines()
    return head + "".join(f"    {line}\n" for line in lines)


@pytest.mark.parametrize("why", list(STEP_WRONG))
def test_wrong_ddpm_step_fails_both(why):
    out = grade(NB, "nb01_ddpm_step", _answer(STEP_HEAD, STEP_WRONG[why]), setup=SETUP)
    assert not out.visible and not out.autograder, (why, out)


@pytest.mark.parametrize("how", list(STEP_RIGHT))
def test_right_ddpm_step_passes_both(how):
    out = grade(NB, "nb01_ddpm_step", _answer(STEP_HEAD, STEP_RIGHT[how]), setup=SETUP)
    assert out.visible and out.autograder, (how, out.message)


@pytest.mark.parametrize("why", list(X0_WRONG))
def test_wrong_predict_x0_fails_both(why):
    out = grade(NB, "nb01_predict_x0", _answer(X0_HEAD, X0_WRONG[why]), setup=SETUP)
    assert not out.visible and not out.autograder, (why, out)


@pytest.mark.parametrize("how", list(X0_RIGHT))
def test_right_predict_x0_passes_both(how):
    out = grade(NB, "nb01_predict_x0", _answer(X0_HEAD, X0_RIGHT[how]), setup=SETUP)
    assert out.visible and out.autograder, (how, out.message)


@pytest.mark.parametrize("why", list(LOOP_WRONG))
def test_wrong_loop_fails_both_with_a_hint(why):
    body, hint = LOOP_WRONG[why]
    out = grade(NB, "nb01_sample", _answer(LOOP_HEAD, body), setup=SETUP)
    assert not out.visible and not out.autograder, (why, out)
    assert hint in out.message, f"{why}: expected a hint with {hint!r}, got {out.message!r}"


@pytest.mark.parametrize("how", list(LOOP_RIGHT))
def test_right_loop_passes_both(how):
    out = grade(NB, "nb01_sample", _answer(LOOP_HEAD, LOOP_RIGHT[how]), setup=SETUP)
    assert out.visible and out.autograder, (how, out.message)


@pytest.mark.parametrize("gid", ["nb01_ddpm_step", "nb01_predict_x0", "nb01_sample"])
def test_source_solution_passes_and_stub_fails(gid):
    ex = exercise(NB, gid)
    good = grade(NB, gid, ex.solution, setup=SETUP)
    assert good.visible and good.autograder, good.message
    bad = grade(NB, gid, ex.stub, setup=SETUP)
    assert not bad.visible and not bad.autograder
    assert "not implemented yet" in bad.message


# ------------------------------------------------------------------------------------------------ references
def test_references_pass_their_checks(capsys):
    from dlhelpers.notebook.checks.sampling import (check_ddpm_step, check_predict_x0, check_sample,
                                                    reference_ddpm_step, reference_predict_x0, reference_sample)
    check_ddpm_step(reference_ddpm_step)
    check_predict_x0(reference_predict_x0)
    check_sample(reference_sample)
    assert capsys.readouterr().out.count("✓") == 3


def test_reference_loop_matches_the_library_sampler():
    """Same seed, same x_T: the reference loop around the reference step gives sample_ddpm's samples."""
    from dlhelpers.ddpm import sample_ddpm
    from dlhelpers.notebook.checks.sampling import reference_ddpm_step, reference_sample
    from dlhelpers.schedules import NoiseSchedule
    from dlhelpers.unet import ContextUnet
    torch.manual_seed(0)
    model, s = ContextUnet(n_feat=16, height=16).eval(), NoiseSchedule.linear(6, 0.01, 0.2)
    x_T = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    for extra in (True, False):
        lib = sample_ddpm(model, 2, s, extra_noise=extra, generator=torch.Generator().manual_seed(3), x_T=x_T,
                          progress=False, precision="fp32").samples
        ours = reference_sample(model, x_T, s, reference_ddpm_step, extra, torch.Generator().manual_seed(3))
        assert torch.allclose(lib, ours, atol=1e-5), extra


def test_reference_loop_rejects_bad_arguments():
    from dlhelpers.notebook.checks.sampling import reference_ddpm_step, reference_sample, StandInModel
    from dlhelpers.schedules import NoiseSchedule
    s, m = NoiseSchedule.linear(3), StandInModel((3, 8, 8))
    with pytest.raises(TypeError, match="extra_noise"):
        reference_sample(m, torch.zeros(1, 3, 8, 8), s, reference_ddpm_step, extra_noise="yes")
    with pytest.raises(ValueError, match="x_T"):
        reference_sample(m, torch.zeros(3, 8, 8), s, reference_ddpm_step)


def test_fallback_picks_the_reference_for_a_stub(capsys):
    from dlhelpers.notebook.checks.sampling import check_sample, reference_sample
    from dlhelpers.notebook.exercises import yours_or_reference

    def my_sample(model, x_T, schedule, step_fn, extra_noise=True, generator=None):
        raise NotImplementedError()

    assert yours_or_reference(lambda: my_sample, reference_sample, check_sample) is reference_sample
    assert capsys.readouterr().out.startswith("→ using the reference")


# ------------------------------------------------------------------------------------------------ pictures
def test_forward_strip_and_one_step_diagram_draw():
    import matplotlib.pyplot as plt
    from dlhelpers.notebook.diagrams_sampling import forward_strip, one_step_diagram
    from dlhelpers.schedules import NoiseSchedule
    s = NoiseSchedule.linear(500)
    g = torch.Generator().manual_seed(0)
    ax = forward_strip(s, torch.zeros(3, 16, 16), timesteps=(0, 100, 500), generator=g)
    assert len(ax.texts) == 3 and "t = 500" in ax.texts[-1].get_text()
    img = torch.randn(1, 3, 16, 16, generator=g)
    fig = one_step_diagram(img, 100, img, s, img)
    assert len(fig.axes) == 5
    plt.close("all")


def test_diagrams_reject_bad_input():
    from dlhelpers.notebook.diagrams_sampling import forward_strip, one_step_diagram, sample_stats
    from dlhelpers.schedules import NoiseSchedule
    s, img = NoiseSchedule.linear(500), torch.zeros(1, 3, 16, 16)
    with pytest.raises(ValueError, match="timesteps"):
        forward_strip(s, img, timesteps=(0, 501))
    with pytest.raises(ValueError, match="x0"):
        forward_strip(s, torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="t must be"):
        one_step_diagram(img, 1, img, s, img)
    with pytest.raises(ValueError, match="at least 2"):
        sample_stats(img)


def test_sample_stats_measures_what_it_says():
    from dlhelpers.notebook.diagrams_sampling import sample_stats
    same = torch.linspace(-1, 1, 3 * 16 * 16).reshape(1, 3, 16, 16).repeat(4, 1, 1, 1)
    s = sample_stats(same)
    assert s["differ"] == pytest.approx(0.0, abs=1e-6)          # copies do not differ
    flat = torch.zeros(2, 3, 16, 16)
    flat[1] += 1.0                                              # two flat images one unit apart, no edges
    s = sample_stats(flat)
    assert s["differ"] == pytest.approx(1.0) and s["edges"] == pytest.approx(0.0)
    assert s["spread"] == pytest.approx(float(flat.std()))
