"""reveal(): the student's written-down guess beside the measurement (dlhelpers/notebook/predict.py)."""
import pytest

from dlhelpers.notebook.predict import closeness, reveal

CHOICES = ("sharper", "blurrier", "about the same")


def _line(capsys, *args, **kwargs):
    assert reveal(*args, **kwargs) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return out


@pytest.mark.parametrize("guess, verdict", [
    ("blurrier", "✓ right"), ("Blurrier ", "✓ right"), (2, "✓ right"), ("about-the-same", "✗ not this time"),
    (1, "✗ not this time"),
])
def test_a_choice_guess_is_matched_and_judged(capsys, guess, verdict):
    out = _line(capsys, lambda: guess, "blurrier", choices=CHOICES, what="without noise")
    assert out.startswith("without noise: you guessed") and verdict in out and "'blurrier'" in out


@pytest.mark.parametrize("get", [lambda: None, lambda: "  ", lambda: undefined_guess])  # noqa: F821 - the cell was skipped
def test_an_empty_or_skipped_guess_still_shows_the_measurement(capsys, get):
    out = _line(capsys, get, 0.25, what="loss")
    assert "measured 0.25" in out and "left the guess empty" in out


def test_a_guess_outside_the_choices_or_not_a_number_is_said_not_raised(capsys):
    assert "is not one of" in _line(capsys, lambda: "crisper", "blurrier", choices=CHOICES)
    assert "is not a number" in _line(capsys, lambda: "about one", 1.0)
    assert "is not one of" in _line(capsys, lambda: 7, "blurrier", choices=CHOICES)


@pytest.mark.parametrize("guess, measured, words", [
    (1.05, 1.0, "spot on"), (1.5, 1.0, "within a factor of 2 (+50 %)"), (0.5, 1.0, "within a factor of 2 (-50 %)"),
    (10.0, 1.0, "off by a factor of 10"), (0.1, 1.0, "off by a factor of 10"), (-1.0, 1.0, "the wrong sign"),
    (0.0, 0.0, "spot on"), (0.2, 0.0, "off by 0.2"),
])
def test_closeness_in_words(guess, measured, words):
    assert words in closeness(guess, measured)


def test_a_number_guess_prints_both_numbers(capsys):
    out = _line(capsys, lambda: 1, 0.98765, what="loss at step 0")
    assert out.startswith("loss at step 0: you guessed 1, measured 0.988 — within 10 %")


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(get_guess=None, measured=1.0), TypeError, "get_guess"),
    (dict(get_guess=lambda: 1, measured="high"), TypeError, "measured"),
    (dict(get_guess=lambda: 1, measured=float("nan")), TypeError, "measured"),
    (dict(get_guess=lambda: 1, measured=True), TypeError, "measured"),
    (dict(get_guess=lambda: 1, measured="x", choices=CHOICES), ValueError, "measured"),
    (dict(get_guess=lambda: 1, measured="a", choices="ab"), TypeError, "choices"),
    (dict(get_guess=lambda: 1, measured=1.0, what=3), TypeError, "what"),
])
def test_bad_arguments_name_themselves(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        reveal(**kwargs)
