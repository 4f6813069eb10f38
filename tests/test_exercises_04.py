"""Notebook 4's exercises, graded as the student copy and the autograder would (tests/exercise_harness.py).

For each exercise: classic wrong answers fail both the visible check and the autograder, genuinely different
right answers pass both, the source solution passes and the stub fails. Also: later cells really use the
student's functions (through yours_or_reference), the references they fall back to follow the same convention,
and the pictures/measurements module of the notebook (dlhelpers.notebook.context_pictures).
"""
from __future__ import annotations

import itertools
import re
import textwrap

import matplotlib
import nbformat
import pytest
import torch

from exercise_harness import NOTEBOOKS, exercise, grade

matplotlib.use("Agg")

NB = "04"
SETUP = "import torch\n"


def _src(head: str, body: str) -> str:
    return head + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


# ----------------------------------------------------------------------------------------- (a) mix contexts
MIX_HEAD = "def my_mix_contexts(weights):\n"
MIX_WRONG = {
    "not normalised": "return torch.tensor([weights], dtype=torch.float32)",
    "no guard against 0 / 0": """
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.sum()""",
    "shape (5,) instead of (1, 5)": """
        w = torch.tensor(weights, dtype=torch.float32)
        return w / w.sum() if w.sum() > 0 else w""",
    "divides by the largest weight": """
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.max() if w.max() > 0 else w""",
    "divides by the norm": """
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.norm() if w.norm() > 0 else w""",
    "softmax": "return torch.tensor([weights], dtype=torch.float32).softmax(dim=1)",
    "None for the null context": """
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.sum() if w.sum() > 0 else None""",
    "divides by the count": "return torch.tensor([weights], dtype=torch.float32) / len(weights)",
    "sum clamped at 1": """
        w = torch.tensor([weights], dtype=torch.float32)
        return w / w.sum().clamp(min=1)""",
    "a nested list, not a tensor": """
        total = sum(weights)
        return [[v / total if total else 0.0 for v in weights]]""",
}
MIX_RIGHT = {
    "pure Python, then a tensor": """
        total = sum(weights)
        return torch.tensor([[v / total if total else 0.0 for v in weights]])""",
    "L1 normalize": """
        w = torch.tensor([weights], dtype=torch.float32)
        return torch.nn.functional.normalize(w, p=1, dim=1)""",
    "float64 and nan_to_num": """
        w = torch.tensor(weights, dtype=torch.float64)[None]
        return (w / w.sum()).nan_to_num(0.0)""",
}


@pytest.mark.parametrize("mistake", MIX_WRONG)
def test_mix_wrong_answers_fail_the_check_and_the_autograder(mistake):
    out = grade(NB, "nb04_mix_contexts", _src(MIX_HEAD, MIX_WRONG[mistake]), setup=SETUP)
    assert not out.visible and not out.autograder, f"{mistake!r} passed: {out}"


@pytest.mark.parametrize("answer", MIX_RIGHT)
def test_mix_right_answers_pass_both(answer):
    out = grade(NB, "nb04_mix_contexts", _src(MIX_HEAD, MIX_RIGHT[answer]), setup=SETUP)
    assert out.visible and out.autograder, f"{answer!r} failed: {out.message}"


# ------------------------------------------------------------------------------------------- (b) guidance
GUIDE_HEAD = "def my_guided_eps(eps_cond, eps_uncond, w):\n"
GUIDE_WRONG = {
    "starts from eps_cond": "return eps_cond + w * (eps_cond - eps_uncond)",
    "difference reversed": "return eps_uncond + w * (eps_uncond - eps_cond)",
    "the paper's w (ours minus 1)": "return (1 + w) * eps_cond - w * eps_uncond",
    "forgets eps_uncond": "return w * (eps_cond - eps_uncond)",
    "weights swapped": "return (1 - w) * eps_cond + w * eps_uncond",
    "no subtraction": "return eps_uncond + w * eps_cond",
    "changes eps_cond in place": """
        eps_cond -= eps_uncond
        return eps_uncond + w * eps_cond""",
    "ignores w": "return eps_cond",
}
GUIDE_RIGHT = {
    "lerp": "return torch.lerp(eps_uncond, eps_cond, w)",
    "convex-combination form": "return (1 - w) * eps_uncond + w * eps_cond",
    "the paper's form with w' = w - 1": "return w * eps_cond - (w - 1) * eps_uncond",
}


@pytest.mark.parametrize("mistake", GUIDE_WRONG)
def test_guidance_wrong_answers_fail_the_check_and_the_autograder(mistake):
    out = grade(NB, "nb04_guided_eps", _src(GUIDE_HEAD, GUIDE_WRONG[mistake]), setup=SETUP)
    assert not out.visible and not out.autograder, f"{mistake!r} passed: {out}"


@pytest.mark.parametrize("answer", GUIDE_RIGHT)
def test_guidance_right_answers_pass_both(answer):
    out = grade(NB, "nb04_guided_eps", _src(GUIDE_HEAD, GUIDE_RIGHT[answer]), setup=SETUP)
    assert out.visible and out.autograder, f"{answer!r} failed: {out.message}"


@pytest.mark.parametrize("grade_id", ["nb04_mix_contexts", "nb04_guided_eps"])
def test_source_solution_passes_and_stub_fails(grade_id):
    ex = exercise(NB, grade_id)
    ok = grade(NB, grade_id, ex.solution, setup=SETUP)
    assert ok.visible and ok.autograder, ok.message
    stub = grade(NB, grade_id, ex.stub, setup=SETUP)
    assert not stub.visible and not stub.autograder
    assert "not implemented yet" in stub.message


def test_wrong_answers_get_a_specific_hint():
    from dlhelpers.notebook.checks import ExerciseError, check_guidance, check_mix_contexts
    for fn, hint in [(lambda ec, eu, w: (1 + w) * ec - w * eu, "the paper's"),
                     (lambda ec, eu, w: w * (ec - eu), "left out"),
                     (lambda ec, eu, w: (1 - w) * ec + w * eu, "swapped")]:
        with pytest.raises(ExerciseError, match=hint):
            check_guidance(fn)
    for fn, hint in [(lambda w: torch.tensor(w, dtype=torch.float32) / sum(w), r"\(1, 5\)"),
                     (lambda w: torch.tensor([w], dtype=torch.float32) / max(w), "largest"),
                     (lambda w: torch.tensor([w]) / sum(w) if sum(w) else None, "not None")]:
        with pytest.raises(ExerciseError, match=hint):
            check_mix_contexts(fn)


# ------------------------------------------------------------------------ later cells use the student's code
def _code_cells():
    path = next(NOTEBOOKS.glob(f"{NB}_*.ipynb"))
    return [c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]


def test_later_cells_run_through_the_students_functions():
    cells = _code_cells()
    src = "\n".join(cells)
    assert re.search(r"mix = yours_or_reference\(lambda: my_mix_contexts, mixture_context, check_mix_contexts\)", src)
    assert re.search(r"guide = yours_or_reference\(lambda: my_guided_eps, guided_eps, check_guidance\)", src)
    assert re.search(r"mixing_sweep\(model, schedule, mix\b", src), "the sweep must use the student's mixer"
    assert "context_mixer(model, schedule, mix=mix)" in src, "the mixer widget must use the student's mixer"
    assert re.search(r"ddim_step\(.*guide\(eps_cond, eps_uncond, w\)", src), "the loop must use the student's ε̃"
    assert "mixture_context(w)" not in src, "no cell may mix with a reference of another convention"


def test_references_follow_the_exercise_conventions():
    from dlhelpers.notebook.checks import check_guidance, check_mix_contexts
    from dlhelpers.notebook.checks.context import guided_eps
    from dlhelpers.notebook.exercises import yours_or_reference
    from dlhelpers.notebook.widgets import mixture_context
    check_mix_contexts(mixture_context)
    check_guidance(guided_eps)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):  # property: the mixer divides by the sum, for any non-negative weights (some zero)
        w = (torch.rand(5, generator=g) * (torch.rand(5, generator=g) > 0.3)).tolist()
        want = torch.tensor([w]) / sum(w) if sum(w) else torch.zeros(1, 5)
        assert torch.allclose(mixture_context(w), want, atol=1e-6)
    broken = yours_or_reference(lambda: (lambda w: None), mixture_context, check_mix_contexts, quiet=True)
    assert broken is mixture_context


def test_guided_eps_reference_matches_the_library_sampler(tiny_model):
    from dlhelpers.notebook.checks.context import guided_eps
    from dlhelpers.sampling import predict_noise
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(3, 3, 16, 16, generator=g), torch.rand(3, generator=g)
    c = torch.eye(5)[[0, 2, 4]]
    with torch.no_grad():
        for w in (0.0, 2.0, 4.5):
            want = predict_noise(tiny_model, x, t, c, w)
            got = guided_eps(tiny_model(x, t, c), tiny_model(x, t, torch.zeros_like(c)), w)
            assert torch.allclose(got, want, atol=1e-5)


# ------------------------------------------------------------------------------------ the pictures module
@pytest.fixture(scope="module")
def real():
    from dlhelpers.evaluation.metrics import heldout_samples
    return heldout_samples(200, labels=True)


def test_class_probabilities_are_a_softmax_per_sprite(real):
    from dlhelpers.notebook.context_pictures import class_probabilities
    x, y = real
    p = class_probabilities(x)
    assert p.shape == (len(x), 5) and bool((p >= 0).all())
    assert torch.allclose(p.sum(1), torch.ones(len(x)), atol=1e-5)
    assert float((p.argmax(1) == y).float().mean()) > 0.8  # the classifier knows real sprites
    with pytest.raises(ValueError, match="samples"):
        class_probabilities(torch.zeros(2, 1, 16, 16))


def test_spread_is_the_mean_pairwise_distance_within_each_class(real):
    from dlhelpers.evaluation.metrics import classifier_features
    from dlhelpers.notebook.context_pictures import within_class_spread
    x, y = real[0][:40], real[1][:40]
    f = torch.nn.functional.normalize(classifier_features(x), dim=1)
    per_class = []
    for k in y.unique().tolist():
        idx = (y == k).nonzero().flatten().tolist()
        pairs = list(itertools.combinations(idx, 2))
        per_class.append(sum(float((f[i] - f[j]).norm()) for i, j in pairs) / len(pairs))
    assert within_class_spread(x, y) == pytest.approx(sum(per_class) / len(per_class), rel=1e-4)
    same = x[:1].repeat(6, 1, 1, 1)
    assert within_class_spread(same, torch.tensor([0, 0, 0, 1, 1, 1])) == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="labels"):
        within_class_spread(x, y[:-1])
    with pytest.raises(ValueError, match="≥ 2"):
        within_class_spread(x[:3], torch.tensor([0, 0, 1]))


def test_mixing_sweep_keeps_the_noise_and_changes_only_the_context(tiny_model, schedule):
    from dlhelpers.ddim import sample_ddim
    from dlhelpers.notebook.context_pictures import mixing_sweep
    from dlhelpers.notebook.widgets import mixture_context
    seen = []

    def mix(w):
        seen.append(list(w))
        return mixture_context(w)

    s = mixing_sweep(tiny_model, schedule, mix, "hero", "food", n_steps=3, n_samples=4, steps=2, n_show=2,
                     generator=torch.Generator().manual_seed(0))
    assert seen == [[1.0, 0, 0, 0, 0], [0.5, 0, 0.5, 0, 0], [0.0, 0, 1.0, 0, 0]]
    assert s.images.shape == (3, 2, 3, 16, 16) and s.probs.shape == (3, 5)
    assert torch.allclose(s.probs.sum(1), torch.ones(3), atol=1e-5) and s.a.tolist() == [0.0, 0.5, 1.0]
    x_T = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))  # the sweep's first draw
    hero = sample_ddim(tiny_model, 4, schedule, steps=2, context=torch.eye(5)[:1], x_T=x_T, progress=False)
    assert torch.allclose(s.images[0], hero.samples[:2], atol=1e-5)
    same = mixing_sweep(tiny_model, schedule, lambda w: mixture_context([1, 0, 0, 0, 0]), n_steps=3, n_samples=2,
                        steps=2, generator=torch.Generator().manual_seed(0), n_show=2)
    assert torch.allclose(same.images[0], same.images[2])  # one x_T for every column


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(mix="hero"), TypeError, "mix"),
    (dict(mix=lambda w: torch.tensor(w)), ValueError, "mix"),
    (dict(start="dragon"), ValueError, "start"),
    (dict(end="food", start="food"), ValueError, "different"),
    (dict(n_steps=1), ValueError, "n_steps"),
    (dict(n_show=9), ValueError, "n_show"),
    (dict(generator="seed"), TypeError, "generator"),
])
def test_mixing_sweep_bad_arguments(tiny_model, schedule, kwargs, exc, word):
    from dlhelpers.notebook.context_pictures import mixing_sweep
    from dlhelpers.notebook.widgets import mixture_context
    args = dict(mix=mixture_context, n_steps=2, n_samples=2, steps=2, n_show=1) | kwargs
    with pytest.raises(exc, match=word):
        mixing_sweep(tiny_model, schedule, **args)


def test_plots_are_figures(tiny_model, schedule):
    from matplotlib.figure import Figure
    from dlhelpers.notebook.context_pictures import mixing_sweep, plot_guidance_tradeoff, plot_mixing_sweep
    from dlhelpers.notebook.widgets import mixture_context
    s = mixing_sweep(tiny_model, schedule, mixture_context, n_steps=2, n_samples=2, steps=1, n_show=2)
    fig = plot_mixing_sweep(s)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 and len(fig.axes[1].lines) == 5
    fig = plot_guidance_tradeoff([0, 1, 2], [0.2, 0.9, 1.0], [0.5, 0.4, 0.3], real_spread=0.35, n_samples=50)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="one entry per w"):
        plot_guidance_tradeoff([0, 1], [0.2], [0.5, 0.4])
    with pytest.raises(TypeError, match="sweep"):
        plot_mixing_sweep("sweep")
