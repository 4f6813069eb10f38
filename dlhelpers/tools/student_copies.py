"""The student's own copies of the notebooks (``my-work/``), made in pure Python: no nbgrader needed.

The notebooks in ``notebooks/`` are the single source, written in nbgrader's source format (see INSTRUCTORS.md):
a code solution cell holds its answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION``; the locked, graded
check cell after it may end with a ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` region; a written
question is a markdown cell with nbgrader ``solution: true, grade: true`` (graded by hand), followed by a markdown
cell tagged ``self-study-answer`` holding the model answer in a ``<details>`` block.

``student_copy(nb)`` does what ``nbgrader generate_assignment`` does to the cells (its ClearSolutions,
ClearHiddenTests, ClearOutput and LockCells preprocessors, same rules, same stub), so that a self-study student
never needs nbgrader; ``tests/test_grading.py`` compares the two when nbgrader is installed. The self-study copy
keeps the ``self-study-answer`` cells; the class version (``class_version``, what ``python -m dlhelpers course``
hands to nbgrader) drops them.

``write_student_copies()`` — ``python -m dlhelpers student-copies`` (alias ``workbook``), run by
``bash run.sh lab`` — writes only the copies that are missing: a file already in ``my-work/`` is the student's work
and is never overwritten.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from dlhelpers.io import REPO_ROOT, PathLike, atomic_write_bytes

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
DEFAULT_OUT = REPO_ROOT / "my-work"
NOTEBOOK_PATTERN = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")

# The markers and stubs of nbgrader's defaults (ClearSolutions, ClearHiddenTests): a line *containing* the
# delimiter starts or ends a region, as in nbgrader.
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
SELF_STUDY_TAG = "self-study-answer"     # markdown model answers, for self-study copies only
RAISES_TAG = "raises-exception"          # graded check cells: Run All goes on past their error


# ---------------------------------------------------------------------------------------------- the notebooks
def numbered_notebooks(source: Optional[PathLike] = None) -> list[Path]:
    """The course notebooks ``NN_name.ipynb`` in ``source`` (default ``notebooks/``), in order."""
    folder = Path(source) if source is not None else NOTEBOOKS_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"source: no such folder {folder}")
    paths = sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name))
    if not paths:
        raise FileNotFoundError(f"source: no course notebooks (NN_name.ipynb) in {folder}")
    return paths


def assignment_name(notebook: PathLike) -> str:
    """The nbgrader assignment of a notebook: its file name without ``.ipynb`` (``01_sampling``)."""
    return Path(notebook).stem


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_written_answer(cell) -> bool:
    """A manually graded written answer: a markdown cell with nbgrader ``solution`` and ``grade``."""
    md = _nbgrader(cell)
    return cell.cell_type == "markdown" and bool(md.get("solution")) and bool(md.get("grade"))


def is_check_cell(cell) -> bool:
    """An autograded check: a code cell with nbgrader ``grade`` (and no ``solution``)."""
    md = _nbgrader(cell)
    return cell.cell_type == "code" and bool(md.get("grade")) and not md.get("solution")


@dataclass(frozen=True)
class Exercise:
    notebook: str      # "01_sampling"
    solution_id: str   # grade_id of the solution cell (the answer cell itself for a written question)
    check_id: str      # grade_id of the graded cell: the check after the solution, or the written answer
    points: int
    manual: bool = False   # a written answer, graded by hand


def exercises(notebook: PathLike) -> list[Exercise]:
    """The graded cells of a source notebook, in order: each code solution with the graded check cell right
    after it, and each written (markdown, manually graded) answer."""
    import nbformat
    nb = nbformat.read(str(notebook), as_version=4)
    name, out = assignment_name(notebook), []
    for i, cell in enumerate(nb.cells):
        md = _nbgrader(cell)
        if is_written_answer(cell):
            out.append(Exercise(name, md["grade_id"], md["grade_id"], int(md["points"]), manual=True))
        elif md.get("solution") and not md.get("grade") and i + 1 < len(nb.cells) and is_check_cell(nb.cells[i + 1]):
            nxt = _nbgrader(nb.cells[i + 1])
            out.append(Exercise(name, md["grade_id"], nxt["grade_id"], int(nxt["points"])))
    return out


def points_table(source: Optional[PathLike] = None) -> str:
    """The Markdown table of graded cells and points per notebook that INSTRUCTORS.md carries (a test compares)."""
    lines = ["| notebook | graded cell (`grade_id`) | graded by | points |", "|---|---|---|---:|"]
    total = 0
    for path in numbered_notebooks(source):
        ex = exercises(path)
        for e in ex:
            lines.append(f"| {e.notebook} | `{e.check_id}` | {'hand' if e.manual else 'autograder'} | {e.points} |")
        subtotal = sum(e.points for e in ex)
        total += subtotal
        lines.append(f"| **{assignment_name(path)}** | **total** | | **{subtotal}** |")
    lines.append(f"| **course** | **total** | | **{total}** |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- the conversions
def _replace_regions(source: str, begin: str, end: str, stub: Optional[str], where: str) -> tuple[str, bool]:
    """``source`` with each begin…end region (marker lines included) replaced by ``stub`` at the indentation of
    its begin line (``stub=None``: removed). Returns (new source, whether a region was found)."""
    out, inside, found = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise ValueError(f"{where}: nested {begin!r} (a region must end before the next begins)")
            inside = found = True
            if stub is not None:
                indent = re.match(r"\s*", line).group(0)
                out.extend(indent + s for s in stub.split("\n"))
        elif end in line:
            if not inside:
                raise ValueError(f"{where}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {begin!r} without {end!r}")
    return "\n".join(out), found


def student_copy(nb, name: str = "notebook"):
    """The self-study student version of a source notebook (an ``nbformat.NotebookNode``; the input is kept).

    Solution regions → the code stub (text stub in markdown) at the region's indentation; a solution cell without
    a region → the stub alone; hidden tests removed; outputs and execution counts cleared; graded cells locked
    (solutions not deletable; checks and read-only cells neither deletable nor editable). A solution or hidden-test
    region outside a cell marked for it is a ValueError, as in nbgrader.
    """
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        md, where = _nbgrader(cell), f"{name} cell {i}"
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        cell.source, replaced = _replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, stub, where)
        if replaced and not md.get("solution"):
            raise ValueError(f"{where}: a solution region in a cell without nbgrader solution metadata")
        if md.get("solution") and not replaced:
            cell.source = stub
        cell.source, removed = _replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None, where)
        if removed and not md.get("grade"):
            raise ValueError(f"{where}: hidden tests in a cell without nbgrader grade metadata")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        for field in ("collapsed", "scrolled"):
            cell.metadata.pop(field, None)
        if md.get("solution"):                         # nbgrader LockCells with its defaults
            cell.metadata["deletable"] = False
        elif md.get("grade") or md.get("locked"):
            cell.metadata["deletable"] = cell.metadata["editable"] = False
    nb.metadata.pop("celltoolbar", None)
    return nb


def class_version(nb):
    """The nbgrader course source of a notebook: the notebook without its ``self-study-answer`` cells (model
    answers that a class must not see). The input is kept."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if SELF_STUDY_TAG not in c.get("metadata", {}).get("tags", [])]
    return nb


# ------------------------------------------------------------------------------------------------ the copies
def write_student_copies(out: Optional[PathLike] = None, source: Optional[PathLike] = None,
                         verbose: bool = True, lang: str = "en") -> list[Path]:
    """Write the student copy of every course notebook that ``out`` lacks (default ``my-work/``; for
    ``lang="ko"`` the Korean edition in ``my-work/ko/``, with a ``.course-lang`` file that makes the checks and
    printed explanations speak Korean there).

    A notebook already in ``out`` is the student's work: it is never overwritten (delete it to get a fresh
    copy). Prints what it did; returns the paths written.
    """
    import nbformat

    from dlhelpers.tools.translation import check_language, read_notebook
    if out is not None and not isinstance(out, (str, Path)):
        raise TypeError(f"out must be a path, got {type(out).__name__}")
    if lang != "en":
        check_language(lang)
    out = Path(out) if out is not None else (DEFAULT_OUT if lang == "en" else DEFAULT_OUT / lang)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} exists and is not a folder")
    notebooks = numbered_notebooks(source)
    written, kept = [], []
    for path in notebooks:
        target = out / path.name
        if target.exists():
            kept.append(target)
            continue
        copy_nb = student_copy(read_notebook(path, lang), path.name)
        atomic_write_bytes(target, nbformat.writes(copy_nb).encode("utf-8"))
        written.append(target)
    if lang != "en":
        atomic_write_bytes(out / ".course-lang", f"{lang}\n".encode("utf-8"))
    if verbose:
        for t in written:
            print(f"wrote {t}")
        if kept:
            print(f"kept {len(kept)} notebook(s) already in {out} (your work; delete one to get a fresh copy): "
                  + ", ".join(t.name for t in kept))
        print(f"your copies are in {out}; open them with: jupyter lab {out / notebooks[0].name}")
    return written
