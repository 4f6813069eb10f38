"""``yours_or_reference``: a stuck student still runs every later cell, and is told which function runs."""
import pytest

from dlhelpers.notebook.checks.common import ExerciseError
from dlhelpers.notebook.exercises import yours_or_reference


def check_double(fn):
    if fn(3) != 6:
        raise ExerciseError(f"double: expected 6, got {fn(3)}")


def reference(x):
    return 2 * x


def test_a_working_answer_is_used(capsys):
    mine = lambda x: x + x
    assert yours_or_reference(lambda: mine, reference, check_double) is mine
    assert capsys.readouterr().out.startswith("✓ using your")


@pytest.mark.parametrize("get, why", [
    (lambda: (lambda x: 3 * x), "expected 6, got 9"),
    (lambda: undefined_student_function, "run its cell first"),  # noqa: F821 - the cell was skipped
    (lambda: (lambda x: (_ for _ in ()).throw(NotImplementedError())), "NotImplementedError"),
])
def test_a_wrong_missing_or_unfinished_answer_falls_back_with_one_line(capsys, get, why):
    assert yours_or_reference(get, reference, check_double) is reference
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("→ using the reference reference below") and why in out, out


def test_an_answer_that_never_returns_falls_back_after_the_time_limit(capsys):
    def forever(x):
        while True:
            pass
    assert yours_or_reference(lambda: forever, reference, check_double, timeout_s=0.5) is reference
    assert "did not finish in 0.5 s" in capsys.readouterr().out


def test_bad_arguments_name_themselves():
    with pytest.raises(TypeError, match="^get_yours"):
        yours_or_reference(3, reference, check_double)
    with pytest.raises(TypeError, match="^reference"):
        yours_or_reference(lambda: reference, None, check_double)
    with pytest.raises(TypeError, match="^check"):
        yours_or_reference(lambda: reference, reference, "check")
