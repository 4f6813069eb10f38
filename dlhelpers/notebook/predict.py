"""Predictions written down: the student's guess, then the measurement beside it.

Every **Predict:** prompt in a notebook is followed by a small, ungraded guess cell (tagged ``guess``)

    my_guess = None   # a number, or one of: "sharper", "blurrier", "about the same"

and the cell that measures the answer ends with

    reveal(lambda: my_guess, measured, choices=("sharper", "blurrier", "about the same"))

which prints the guess beside the measurement and how close it was. ``lambda: my_guess`` (not ``my_guess``) lets a
skipped guess cell count as an empty guess: the library never reads notebook globals. An empty guess (``None`` or
``""``) is allowed: the reveal says so and shows the measurement. The graders ignore guess cells: they carry no
nbgrader metadata and never raise for a student's guess.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Optional, Sequence

from dlhelpers.notebook.i18n import fmt as _t, tr

__all__ = ["reveal", "closeness"]


def closeness(guess: float, measured: float) -> str:
    """How close a numeric guess is, in words: within 10 %, within a factor of 2, or further."""
    if measured == 0:
        return _t("spot on") if guess == 0 else _t("off by {0:.3g}", abs(guess))
    ratio = guess / measured
    if abs(ratio - 1) <= 0.1:
        return _t("within 10 % — spot on")
    if 0.5 <= ratio <= 2:
        return _t("within a factor of 2 ({0:+.0f} %)", 100 * (ratio - 1))
    return _t("off by a factor of {0:.3g}", max(ratio, 1 / ratio)) if ratio > 0 else _t("the wrong sign")


def _normalise(text: str) -> str:
    return " ".join(str(text).lower().replace("-", " ").split())


def reveal(get_guess: Callable[[], object], measured, *, choices: Optional[Sequence[str]] = None,
           what: str = "", fmt: str = ".3g") -> None:
    """Print the student's guess beside ``measured`` (one line; nothing returned, so a cell ending with it echoes
    nothing twice).

    ``get_guess``: a zero-argument callable returning the guess (``lambda: my_guess``); a ``NameError`` (the guess
    cell was skipped), ``None`` or ``""`` is an empty guess.
    ``measured``: a number, or (with ``choices``) the choice the measurement supports.
    ``choices``: the named options of a multiple-choice guess; a guess matches case- and hyphen-insensitively, or
    by its 1-based number in ``choices``.
    ``what``: a few words naming the quantity ("loss at step 0"); ``fmt``: the number format.
    """
    if not callable(get_guess):
        raise TypeError(f"get_guess must be a zero-argument callable such as `lambda: my_guess`, "
                        f"got {type(get_guess).__name__}")
    if not isinstance(what, str):
        raise TypeError(f"what must be a string, got {type(what).__name__}")
    if choices is not None:
        if isinstance(choices, str) or not all(isinstance(c, str) for c in choices) or len(choices) < 2:
            raise TypeError("choices must be a sequence of at least two strings")
        if measured not in choices:
            raise ValueError(f"measured must be one of choices {tuple(choices)}, got {measured!r}")
    elif isinstance(measured, bool) or not isinstance(measured, numbers.Real) or not math.isfinite(measured):
        raise TypeError(f"measured must be a finite number (or one of choices), got {measured!r}")
    try:
        guess = get_guess()
    except NameError:
        guess = None
    label = f"{tr(what)}: " if what else ""
    shown = format(measured, fmt) if choices is None else repr(measured)
    if guess is None or (isinstance(guess, str) and not guess.strip()):
        line = label + _t("measured {0}. (You left the guess empty — next time, commit to one before you run.)", shown)
    elif choices is not None:
        picked = guess
        if isinstance(guess, numbers.Integral) and not isinstance(guess, bool) and 1 <= guess <= len(choices):
            picked = choices[guess - 1]
        names = {_normalise(c): c for c in choices}
        match = names.get(_normalise(picked)) if isinstance(picked, str) else None
        if match is None:
            line = label + _t("measured {0}; your guess {1!r} is not one of {2}.", shown, guess,
                               ", ".join(map(repr, choices)))
        else:
            verdict = _t("✓ right") if match == measured else _t("✗ not this time")
            line = label + _t("you guessed {0!r}, measured {1} — {2}.", match, shown, verdict)
    elif isinstance(guess, numbers.Real) and not isinstance(guess, bool):
        line = label + _t("you guessed {0}, measured {1} — {2}.", format(guess, fmt), shown,
                           closeness(float(guess), float(measured)))
    else:
        line = label + _t("measured {0}; your guess {1!r} is not a number.", shown, guess)
    print(line)
