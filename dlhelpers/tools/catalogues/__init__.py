"""Catalogues of answers to the course's exercises: classic wrong ones (each with the hint its check must give) and
genuinely different right ones, graded exactly as the student copy and the autograder grade them.

One format for every notebook: a module ``nbNN.py`` here holds ``CATALOGUES``, a list of ``Catalogue``\\ s, one per
exercise. ``tests/test_catalogues.py`` grades every entry (a wrong answer must fail the visible check *and* the
autograder with its hint in the message; a right one must pass both); ``python -m dlhelpers mistakes-page`` writes
``docs/COMMON_MISTAKES.md`` from the same entries and the messages the checks really give, for instructors.

The harness (``exercise``, ``grade``) takes the stub and the visible check from the student copy itself
(``student_copies.student_copy``, the code that writes ``my-work/``), and the whole graded cell from the source.
A fixture that does not compile, raises while being defined, or names an undefined global is a ``FixtureError``
(a broken test), never a wrong answer that "fails as expected".
"""
from __future__ import annotations

import builtins
import contextlib
import dis
import functools
import importlib
import io
import pkgutil
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path

from dlhelpers.tools.student_copies import (BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION,
                                            numbered_notebooks, student_copy)


# --------------------------------------------------------------------------------------------------- the format
@dataclass(frozen=True)
class Answer:
    name: str          # what the student did, in a few words ("t ascending")
    code: str          # the whole answer cell: the `def` line and its body
    hint: str = ""     # wrong answers: a phrase the check's message must contain (names the likely mistake)


@dataclass(frozen=True)
class Catalogue:
    notebook: str                       # "01": the notebook's number
    grade_id: str                       # the solution cell's nbgrader grade_id; its check is grade_id + "_check"
    wrong: tuple                        # Answers that must fail, each with its hint
    right: tuple                        # Answers that must pass, genuinely different from the solution
    setup: str = "import torch\n"       # what earlier cells of the notebook define that the answer cell uses


def answer(head: str, body: str, name: str, hint: str = "") -> Answer:
    """An ``Answer`` from a ``def`` line and a body (dedented, then indented under the ``def``)."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    return Answer(name, head.rstrip("\n") + "\n" + "".join(f"    {ln}\n" if ln else "\n" for ln in lines), hint)


def wrong_answers(head: str, table: dict, hints: dict | None = None) -> tuple:
    """Wrong ``Answer`` objects from ``{name: (body, hint)}``, or ``{name: body}`` with the hints in ``hints``."""
    out = []
    for name, value in table.items():
        body, hint = value if isinstance(value, tuple) else (value, hints[name])
        out.append(answer(head, body, name, hint))
    return tuple(out)


def right_answers(head: str, table: dict) -> tuple:
    """Right ``Answer`` objects from ``{name: body}``."""
    return tuple(answer(head, body, name) for name, body in table.items())


@functools.lru_cache(maxsize=None)
def all_catalogues() -> tuple:
    """Every exercise's catalogue, notebook by notebook (the modules ``nbNN`` of this package)."""
    out = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("nb"):
            out.extend(importlib.import_module(f"{__name__}.{info.name}").CATALOGUES)
    return tuple(out)


# -------------------------------------------------------------------------------------------------- the harness
class FixtureError(Exception):
    """The catalogue entry itself is broken (does not compile, names an undefined variable): a test error."""


@dataclass
class Exercise:
    solution: str       # the instructor's solution cell with its markers removed (a known right answer)
    stub: str           # the student copy's cell: the solution region replaced by the stub
    visible: str        # the student copy's check cell (hidden tests removed)
    full: str           # the source check cell, hidden tests included (what nbgrader autograde runs)


@dataclass
class Outcome:
    visible: bool       # the student's visible check passed
    autograder: bool    # the whole graded cell (visible + hidden tests) passed
    message: str        # the first failure's message, or ""
    error: str          # the first failure's exception type ("ExerciseError" for a check's verdict), or ""


def _notebook_path(notebook: str) -> Path:
    paths = [p for p in numbered_notebooks() if p.name.startswith(notebook)]
    if len(paths) != 1:
        raise FileNotFoundError(f"notebook: no single course notebook matches {notebook!r}")
    return paths[0]


@functools.lru_cache(maxsize=None)
def _copies(path: Path, mtime: float):
    import nbformat
    nb = nbformat.read(str(path), as_version=4)
    return nb, student_copy(nb, path.name)


def _drop_marker_lines(source: str) -> str:
    markers = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
    return "\n".join(ln for ln in source.split("\n") if not any(m in ln for m in markers)) + "\n"


def exercise(notebook: str, grade_id: str) -> Exercise:
    """The four texts of one exercise, from the source notebook and from its student copy."""
    path = _notebook_path(notebook)
    nb, student = _copies(path, path.stat().st_mtime)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    for gid in (grade_id, grade_id + "_check"):
        if gid not in ids:
            raise KeyError(f"grade_id: no cell {gid!r} in {path.name}")
    i, j = ids.index(grade_id), ids.index(grade_id + "_check")
    return Exercise(_drop_marker_lines(nb.cells[i].source), student.cells[i].source + "\n",
                    student.cells[j].source + "\n", _drop_marker_lines(nb.cells[j].source))


def _global_loads(code: types.CodeType):
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            yield ins.argval
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _global_loads(const)


def _define(setup: str, code: str) -> dict:
    """Run setup + answer in a fresh namespace; a broken fixture is a FixtureError."""
    source = setup + "\n" + code
    try:
        compiled = compile(source, "<answer>", "exec")
    except SyntaxError as exc:
        raise FixtureError(f"the answer does not compile: {exc}") from exc
    ns: dict = {"__name__": "__main__"}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compiled, ns)
    except Exception as exc:
        raise FixtureError(f"the answer raised while being defined: {type(exc).__name__}: {exc}") from exc
    for value in list(ns.values()):
        fn_code = getattr(value, "__code__", None)
        if fn_code is None or fn_code.co_filename != "<answer>":
            continue
        missing = sorted({n for n in _global_loads(fn_code) if n not in ns and not hasattr(builtins, n)})
        if missing:
            raise FixtureError(f"{value.__name__} names undefined globals {missing}")
    return ns


def _run(code: str, ns: dict):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<check cell>", "exec"), ns)
    except Exception as exc:  # noqa: BLE001 - any failure fails the cell; the type is reported
        return type(exc).__name__, str(exc)
    return None


def grade(notebook: str, grade_id: str, code: str, setup: str = "import torch\n") -> Outcome:
    """Define the answer after ``setup``, then run the visible check and, in a fresh namespace, the whole graded
    cell, as the student copy and ``nbgrader autograde`` would."""
    ex = exercise(notebook, grade_id)
    results = [_run(check, _define(setup, code)) for check in (ex.visible, ex.full)]
    first = results[0] or results[1]
    return Outcome(results[0] is None, results[1] is None, first[1] if first else "", first[0] if first else "")


def grade_answer(cat: Catalogue, ans: Answer) -> Outcome:
    return grade(cat.notebook, cat.grade_id, ans.code, cat.setup)


# --------------------------------------------------------------------------------------------- the mistakes page
PAGE = Path(__file__).resolve().parents[3] / "docs" / "COMMON_MISTAKES.md"
_ENTRY = "- **{name}** → {message}"


def one_line(message: str) -> str:
    return " ".join(message.split())


def render_page(messages: dict) -> str:
    """The instructors' page: per exercise, each catalogued wrong answer and what its check tells the student.
    ``messages[(grade_id, name)]`` is the check's message for that answer."""
    out = ["# Common mistakes, and what the checks tell students", "",
           "For each exercise: the classic wrong answers the course's checks are tested against, and the message each "
           "one gets (the first line a student sees). Generated from `dlhelpers/tools/catalogues/` by "
           "`python -m dlhelpers mistakes-page`; `tests/test_catalogues.py` fails when a check's message or a "
           "catalogue changes and this page does not.", ""]
    current = None
    for cat in all_catalogues():
        if cat.notebook != current:
            current = cat.notebook
            out += [f"## Notebook {cat.notebook} — `{_notebook_path(cat.notebook).name}`", ""]
        out += [f"### `{cat.grade_id}`", "", "Wrong answers:", ""]
        out += [_ENTRY.format(name=a.name, message=one_line(messages[(cat.grade_id, a.name)])) for a in cat.wrong]
        out += ["", "Also accepted: " + "; ".join(a.name for a in cat.right) + ".", ""]
    return "\n".join(out)


def read_page(text: str) -> dict:
    """``(grade_id, name) → message`` from a page written by ``render_page``."""
    found, gid = {}, None
    for line in text.splitlines():
        if line.startswith("### `"):
            gid = line[5:].rstrip("`")
        elif line.startswith("- **") and gid and "** → " in line:
            name, message = line[4:].split("** → ", 1)
            found[(gid, name)] = message
    return found


def write_page(path: Path = PAGE) -> Path:
    from dlhelpers.io import atomic_write_bytes
    messages = {}
    for cat in all_catalogues():
        for a in cat.wrong:
            messages[(cat.grade_id, a.name)] = grade_answer(cat, a).message
    atomic_write_bytes(path, render_page(messages).encode("utf-8"))
    return path
