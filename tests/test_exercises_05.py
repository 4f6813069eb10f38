"""Notebook 05's exercises graded as the student copy and the autograder would: a catalogue of classic wrong answers
(each must fail both the visible check and the autograder) and of genuinely different right ones (each must pass
both), the source solution and the stub; the timesteps property over many (T, n); the fallback to the references;
the notebook's pictures module on bad input."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from dlhelpers.ddim import ddim_timesteps  # noqa: E402
from dlhelpers.notebook.checks import ddim as checks  # noqa: E402
from dlhelpers.notebook.checks.common import ExerciseError  # noqa: E402
from dlhelpers.notebook.exercises import yours_or_reference  # noqa: E402
from exercise_harness import exercise, grade  # noqa: E402

torch.set_num_threads(1)

NB = "05"
# my_ddim_step is graded on the composition alone: the notebook hands it working predict_x0 and noise_to
PIECES = ("import torch\nfrom dlhelpers.notebook.checks.ddim import reference_predict_x0 as predict_x0, "
          "reference_noise_to as noise_to\n")


def _fn(body: str, name: str, args: str) -> str:
    return f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())


def timesteps(body):
    return "import math\nimport numpy as np\nimport torch\n" + _fn(body, "my_ddim_timesteps", "T, n")


def predict_x0(body):
    return "import torch\n" + _fn(body, "my_predict_x0", "x_t, t, eps, schedule")


def noise_to(body):
    return "import torch\n" + _fn(body, "my_noise_to", "x0, t, eps, schedule")


def ddim_step(body):
    return _fn(body, "my_ddim_step", "x_t, t, t_prev, eps, schedule")


CATALOGUE = {
    # ---------------------------------------------------------------- (a) timesteps
    "nb05_ddim_timesteps": {
        "wrong": {
            "range stride T // n": timesteps("return list(range(T, -1, -(T // n)))"),
            "floats i * T / n": timesteps("return [i * T / n for i in range(n, -1, -1)]"),
            "ceil stride, then append 0": timesteps("s = -(-T // n)\nreturn list(range(T, 0, -s)) + [0]"),
            "ascending": timesteps("return [i * T // n for i in range(n + 1)]"),
            "missing 0": timesteps("return [i * T // n for i in range(n, 0, -1)]"),
            "duplicates (ceil stride clipped at 0)": timesteps(
                "s = math.ceil(T / n)\nreturn [max(T - k * s, 0) for k in range(n + 1)]"),
            "float tensor from linspace": timesteps("return torch.linspace(T, 0, n + 1)"),
            "floor stride, then append 0": timesteps("return list(range(T, 0, -(T // n)))[:n] + [0]"),
        },
        "right": {
            "floor": timesteps("return [i * T // n for i in range(n, -1, -1)]"),
            "round": timesteps("return [round(i * T / n) for i in range(n, -1, -1)]"),
            "ceil": timesteps("return [-(-i * T // n) for i in range(n, -1, -1)]"),
            "count down, remainder spread": timesteps(
                "q, r = divmod(T, n)\nts = [T]\nfor k in range(n):\n    ts.append(ts[-1] - q - (1 if k < r else 0))\n"
                "return ts"),
            "numpy int array": timesteps("return np.linspace(T, 0, n + 1).round().astype(np.int64)"),
            "torch int tensor": timesteps(
                "return torch.div(torch.arange(n, -1, -1) * T, n, rounding_mode='floor')"),
        },
    },
    # ---------------------------------------------------------------- (b1) x̂₀
    "nb05_predict_x0": {
        "wrong": {
            "no division": predict_x0("ab = schedule.alpha_bar[t]\nreturn x_t - (1 - ab).sqrt() * eps"),
            "(1 − ᾱ) without the root": predict_x0(
                "ab = schedule.alpha_bar[t]\nreturn (x_t - (1 - ab) * eps) / ab.sqrt()"),
            "α_t instead of ᾱ_t": predict_x0(
                "a = schedule.alpha[t]\nreturn (x_t - (1 - a).sqrt() * eps) / a.sqrt()"),
            "plus sign": predict_x0("ab = schedule.alpha_bar[t]\nreturn (x_t + (1 - ab).sqrt() * eps) / ab.sqrt()"),
            "divide by ᾱ_t": predict_x0("ab = schedule.alpha_bar[t]\nreturn (x_t - (1 - ab).sqrt() * eps) / ab"),
            "ᾱ at t − 1": predict_x0(
                "ab = schedule.alpha_bar[t - 1]\nreturn (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()"),
        },
        "right": {
            "formula": predict_x0("ab = schedule.alpha_bar[t]\nreturn (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()"),
            "library method": predict_x0("return schedule.predict_x0(x_t, t, eps)"),
            "expanded": predict_x0(
                "ab = float(schedule.alpha_bar[t])\nreturn x_t / ab ** 0.5 - (1 / ab - 1) ** 0.5 * eps"),
        },
    },
    # ---------------------------------------------------------------- (b2) forward jump
    "nb05_noise_to": {
        "wrong": {
            "no square roots": noise_to("ab = schedule.alpha_bar[t]\nreturn ab * x0 + (1 - ab) * eps"),
            "swapped coefficients": noise_to("ab = schedule.alpha_bar[t]\nreturn (1 - ab).sqrt() * x0 + ab.sqrt() * eps"),
            "α_t instead of ᾱ_t": noise_to("a = schedule.alpha[t]\nreturn a.sqrt() * x0 + (1 - a).sqrt() * eps"),
            "noise not under the root": noise_to("ab = schedule.alpha_bar[t]\nreturn ab.sqrt() * x0 + (1 - ab) * eps"),
            "fresh noise instead of eps": noise_to(
                "ab = schedule.alpha_bar[t]\nreturn ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn_like(eps)"),
        },
        "right": {
            "formula": noise_to("ab = schedule.alpha_bar[t]\nreturn ab.sqrt() * x0 + (1 - ab).sqrt() * eps"),
            "library method": noise_to("return schedule.add_noise(x0, t, eps)"),
            "from the scale": noise_to("a = schedule.alpha_bar[t].sqrt()\nreturn a * x0 + (1 - a ** 2).sqrt() * eps"),
        },
    },
    # ---------------------------------------------------------------- (b3) the composed step
    "nb05_ddim_step": {
        "wrong": {
            "stepped to t − 1": ddim_step("return noise_to(predict_x0(x_t, t, eps, schedule), t - 1, eps, schedule)"),
            "ᾱ_t for both": ddim_step("return noise_to(predict_x0(x_t, t, eps, schedule), t, eps, schedule)"),
            "roles swapped": ddim_step("return noise_to(predict_x0(x_t, t_prev, eps, schedule), t, eps, schedule)"),
            "ᾱ_prev for both": ddim_step(
                "return noise_to(predict_x0(x_t, t_prev, eps, schedule), t_prev, eps, schedule)"),
            "returns x̂₀": ddim_step("return predict_x0(x_t, t, eps, schedule)"),
            "fresh noise (η = 1 without σ)": ddim_step(
                "return noise_to(predict_x0(x_t, t, eps, schedule), t_prev, torch.randn_like(eps), schedule)"),
        },
        "right": {
            "composed": ddim_step("return noise_to(predict_x0(x_t, t, eps, schedule), t_prev, eps, schedule)"),
            "direct formula": ddim_step(
                "ab, ap = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]\n"
                "x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()\nreturn ap.sqrt() * x0 + (1 - ap).sqrt() * eps"),
            "one linear map of x_t and eps": ddim_step(
                "ab, ap = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]\n"
                "return (ap / ab).sqrt() * x_t + ((1 - ap).sqrt() - (ap * (1 - ab) / ab).sqrt()) * eps"),
            "library methods": ddim_step(
                "return schedule.add_noise(schedule.predict_x0(x_t, t, eps), t_prev, eps)"),
        },
    },
}
SETUP = {"nb05_ddim_step": PIECES}


def _cases(kind):
    return [(gid, label, src) for gid, entry in CATALOGUE.items() for label, src in entry[kind].items()]


@pytest.mark.parametrize("grade_id,label,answer", _cases("wrong"), ids=lambda v: v if isinstance(v, str) else "")
def test_a_classic_wrong_answer_fails_the_check_and_the_autograder(grade_id, label, answer):
    out = grade(NB, grade_id, answer, setup=SETUP.get(grade_id, ""))
    assert not out.visible, f"{label}: passed the visible check"
    assert not out.autograder, f"{label}: passed the autograder"


@pytest.mark.parametrize("grade_id,label,answer", _cases("right"), ids=lambda v: v if isinstance(v, str) else "")
def test_a_right_answer_passes_the_check_and_the_autograder(grade_id, label, answer):
    out = grade(NB, grade_id, answer, setup=SETUP.get(grade_id, ""))
    assert out.visible and out.autograder, f"{label}: {out.message}"


@pytest.mark.parametrize("grade_id", list(CATALOGUE))
def test_catalogue_is_big_enough(grade_id):
    assert len(CATALOGUE[grade_id]["wrong"]) >= 4 and len(CATALOGUE[grade_id]["right"]) >= 2


@pytest.mark.parametrize("grade_id", list(CATALOGUE))
def test_source_solution_passes_and_stub_fails(grade_id):
    ex = exercise(NB, grade_id)
    setup = SETUP.get(grade_id, "")
    solved = grade(NB, grade_id, ex.solution, setup=setup)
    assert solved.visible and solved.autograder, solved.message
    stub = grade(NB, grade_id, ex.stub, setup=setup)
    assert not stub.visible and not stub.autograder
    assert "not implemented yet" in stub.message


def test_the_step_composed_from_the_students_own_pieces_passes():
    pieces = (exercise(NB, "nb05_predict_x0").solution + exercise(NB, "nb05_noise_to").solution
              + "predict_x0, noise_to = my_predict_x0, my_noise_to\n")
    out = grade(NB, "nb05_ddim_step", exercise(NB, "nb05_ddim_step").solution, setup=pieces)
    assert out.visible and out.autograder, out.message


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
    with pytest.raises(ExerciseError, match="swapped"):
        checks.check_noise_to(lambda x0, t, e, s: (1 - s.alpha_bar[t]).sqrt() * x0 + s.alpha_bar[t].sqrt() * e)


def test_a_broken_piece_falls_back_to_the_reference(capsys):
    broken = lambda x_t, t, eps, schedule: x_t  # noqa: E731
    fn = yours_or_reference(lambda: broken, checks.reference_predict_x0, checks.check_ddim_predict_x0,
                            name="predict_x0")
    assert fn is checks.reference_predict_x0
    assert capsys.readouterr().out.startswith("→ using the reference predict_x0 below")
    for ref, check in ((checks.reference_predict_x0, checks.check_ddim_predict_x0),
                       (checks.reference_noise_to, checks.check_noise_to),
                       (checks.reference_ddim_step, checks.check_ddim_step),
                       (checks.reference_ddim_timesteps, checks.check_ddim_timesteps)):
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
