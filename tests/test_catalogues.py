"""Every exercise's catalogue graded as the student copy and the autograder grade it (dlhelpers/tools/catalogues).

For each exercise: each catalogued wrong answer fails the visible check *and* the autograder, with a check's verdict
(an ``ExerciseError``, not a crash) whose message names the likely mistake (the entry's hint) and is the message
docs/COMMON_MISTAKES.md shows; each right answer passes both; the source solution passes and the stub fails with
"not implemented yet". A broken fixture is a test error (``FixtureError``), never a pass.
"""
from __future__ import annotations

import pytest
import torch

from dlhelpers.tools.catalogues import (PAGE, FixtureError, all_catalogues, exercise, grade, grade_answer,
                                        one_line, read_page, render_page)

torch.set_num_threads(1)

CATS = all_catalogues()
WRONG = [(c, a) for c in CATS for a in c.wrong]
RIGHT = [(c, a) for c in CATS for a in c.right]
NEW_EXERCISES = {"nb03_context_dropout", "nb04_guided_sample", "nb05_ddim_eta_step", "nb06_interpolate",
                 "nb06_flow_loss", "nb06_euler_sample", "nb07_pairs", "nb07_straightness"}


def _id(pair):
    cat, ans = pair
    return f"{cat.grade_id}:{ans.name}"


@pytest.fixture(scope="module")
def page():
    return read_page(PAGE.read_text(encoding="utf-8")) if PAGE.exists() else {}


@pytest.mark.parametrize("pair", WRONG, ids=[_id(p) for p in WRONG])
def test_wrong_answer_fails_both_with_its_hint(pair, page):
    cat, ans = pair
    assert ans.hint, f"{_id(pair)}: a wrong answer must name the hint its check gives"
    out = grade_answer(cat, ans)
    assert not out.visible and not out.autograder, f"{_id(pair)} passed: {out}"
    assert out.error == "ExerciseError", (
        f"{_id(pair)}: the check crashed instead of judging: {out.error}: {out.message}")
    assert ans.hint in out.message, f"{_id(pair)}: expected a hint containing {ans.hint!r}, got {out.message!r}"
    assert out.message.count("\n") <= 1, f"{_id(pair)}: feedback is one or two lines, got {out.message!r}"
    assert page.get((cat.grade_id, ans.name)) == one_line(out.message), (
        f"{_id(pair)}: docs/COMMON_MISTAKES.md is out of date; run `python -m dlhelpers mistakes-page`")


@pytest.mark.parametrize("pair", RIGHT, ids=[_id(p) for p in RIGHT])
def test_right_answer_passes_both(pair):
    cat, ans = pair
    out = grade_answer(cat, ans)
    assert out.visible and out.autograder, f"{_id(pair)}: {out.error}: {out.message}"


@pytest.mark.parametrize("cat", CATS, ids=[c.grade_id for c in CATS])
def test_source_solution_passes_and_stub_fails(cat):
    ex = exercise(cat.notebook, cat.grade_id)
    good = grade(cat.notebook, cat.grade_id, ex.solution, cat.setup)
    assert good.visible and good.autograder, good.message
    bad = grade(cat.notebook, cat.grade_id, ex.stub, cat.setup)
    assert not bad.visible and not bad.autograder
    assert "not implemented yet" in bad.message


@pytest.mark.parametrize("cat", CATS, ids=[c.grade_id for c in CATS])
def test_catalogue_sizes_and_names(cat):
    names = [a.name for a in cat.wrong + cat.right]
    assert len(names) == len(set(names)), f"{cat.grade_id}: duplicate answer names"
    least_wrong = 6 if cat.grade_id in NEW_EXERCISES else 4
    assert len(cat.wrong) >= least_wrong and len(cat.right) >= 2, \
        f"{cat.grade_id}: {len(cat.wrong)} wrong / {len(cat.right)} right answers"
    assert len({a.code for a in cat.right}) == len(cat.right)


def test_every_autograded_exercise_has_a_catalogue():
    from dlhelpers.tools.student_copies import exercises, numbered_notebooks
    graded = {e.solution_id for p in numbered_notebooks() for e in exercises(p) if not e.manual}
    assert graded == {c.grade_id for c in CATS}
    assert NEW_EXERCISES <= graded


def test_the_page_lists_exactly_the_catalogues(page):
    assert set(page) == {(c.grade_id, a.name) for c, a in WRONG}, \
        "docs/COMMON_MISTAKES.md is out of date; run `python -m dlhelpers mistakes-page`"
    assert PAGE.read_text(encoding="utf-8") == render_page(page)


# ------------------------------------------------------------------------------------------- the harness itself
@pytest.mark.parametrize("code, why", [
    ("def my_ddpm_step(x_t, t, eps, schedule, z)\n    return x_t\n", "does not compile"),
    ("def my_ddpm_step(x_t, t, eps, schedule, z):\n    return x_t * alpha_t\n", "undefined globals ['alpha_t']"),
    ("import not_a_module\n", "raised while being defined"),
])
def test_a_broken_fixture_is_an_error_not_a_pass(code, why):
    with pytest.raises(FixtureError, match=why.replace("[", r"\[").replace("]", r"\]")):
        grade("01", "nb01_ddpm_step", code)


def test_the_stub_comes_from_the_student_copy():
    from dlhelpers.tools.student_copies import CODE_STUB
    ex = exercise("01", "nb01_ddpm_step")
    assert CODE_STUB.split("\n")[1] in ex.stub and "BEGIN SOLUTION" not in ex.stub
    assert "HIDDEN" not in ex.visible and "HIDDEN" not in ex.full
