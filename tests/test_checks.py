"""What every exercise check does with an unfinished or crashing answer, and how IPython shows a verdict.

Right and wrong answers, with the hint each wrong one gets, are graded per exercise from the catalogues in
dlhelpers/tools/catalogues (tests/test_catalogues.py)."""
import pytest

from dlhelpers.notebook import checks

CHECKS = sorted((getattr(checks, n) for n in dir(checks) if n.startswith("check_")), key=lambda f: f.__name__)


def raises_inside(*args, **kwargs):
    raise KeyError("oops")


def not_done(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_stub_and_crash_are_reported_briefly(check):
    with pytest.raises(checks.ExerciseError, match="not implemented yet"):
        check(not_done)
    with pytest.raises(checks.ExerciseError, match="KeyError: 'oops'") as info:
        check(raises_inside)
    assert str(info.value).count("\n") <= 1
    with pytest.raises(checks.ExerciseError, match="expected a function"):
        check(42)


def test_ipython_shows_only_the_hint():
    err = checks.ExerciseError("inject: the context was added")
    lines = err._render_traceback_()
    assert len(lines) == 1 and "the context was added" in lines[0]
