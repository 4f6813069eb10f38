"""Grade one answer to one exercise exactly as the student copy and the autograder would, without nbgrader.

An exercise in ``notebooks/NN_*.ipynb`` is a solution cell (nbgrader ``grade_id`` = ID) followed by its graded
check cell (``grade_id`` = ID + "_check"). The check cell's code before ``### BEGIN HIDDEN TESTS`` is what the
student sees (the visible check); the whole cell, hidden tests included, is what ``nbgrader autograde`` runs.

``grade(notebook, ID, answer_source)`` executes the answer (a cell's worth of code defining the student's
function), then the visible check, then the hidden tests, in a fresh namespace, and reports which passed.
Check cells must therefore be self-contained: they may only use names the answer defines and what they import.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*\n?", re.S | re.M)


def _notebook(name: str) -> dict:
    paths = sorted(NOTEBOOKS.glob(f"{name}*.ipynb")) if not name.endswith(".ipynb") else [NOTEBOOKS / name]
    if len(paths) != 1:
        raise FileNotFoundError(f"no single notebook matches {name!r} in {NOTEBOOKS}")
    return json.loads(paths[0].read_text())


def _cell(nb: dict, grade_id: str) -> str:
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return "".join(cell["source"])
    raise KeyError(f"no cell with grade_id {grade_id!r}")


@dataclass
class Exercise:
    solution: str       # the instructor's solution cell, markers removed (a known right answer)
    stub: str           # what the student copy shows: the solution region replaced by NotImplementedError
    visible: str        # the check cell without its hidden tests
    full: str           # the whole check cell (what the autograder runs)


def exercise(notebook: str, grade_id: str) -> Exercise:
    nb = _notebook(notebook)
    sol, check = _cell(nb, grade_id), _cell(nb, grade_id + "_check")
    solution = _SOLUTION.sub(lambda m: m.group(2), sol)
    stub = _SOLUTION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()\n", sol)
    visible = _HIDDEN.sub("", check)
    full = _HIDDEN.sub(lambda m: m.group(1), check)
    return Exercise(solution, stub, visible, full)


@dataclass
class Outcome:
    visible: bool       # the student's visible check passed
    autograder: bool    # the whole graded cell (visible + hidden tests) passed
    message: str        # the first failure's message, or ""


def _run(code: str, ns: dict) -> str | None:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<cell>", "exec"), ns)
    except Exception as exc:  # noqa: BLE001 - any failure is a failed cell
        return f"{type(exc).__name__}: {exc}"
    return None


def grade(notebook: str, grade_id: str, answer: str, setup: str = "") -> Outcome:
    """Run ``setup`` + ``answer``, then the visible check and, separately, the whole graded cell."""
    ex = exercise(notebook, grade_id)
    results = []
    for code in (ex.visible, ex.full):
        ns: dict = {"__name__": "__main__"}
        err = _run(setup + "\n" + answer, ns)
        if err is None:
            err = _run(code, ns)
        results.append(err)
    return Outcome(results[0] is None, results[1] is None, results[0] or results[1] or "")
