"""The student's own copies in my-work/ (dlhelpers.tools.student_copies): no nbgrader, no solutions, never
overwritten, and each one runs top to bottom (slow; where the browser test is collected it runs them instead).

Everything is written under pytest's tmp_path, never into the repository.
"""
from __future__ import annotations

import os
import re
import sys
import time

import nbformat
import pytest

from dlhelpers.tools import student_copies as sc

NOTEBOOKS = sc.numbered_notebooks()
IDS = [p.stem for p in NOTEBOOKS]
REGIONS = ((sc.BEGIN_SOLUTION, sc.END_SOLUTION), (sc.BEGIN_HIDDEN, sc.END_HIDDEN))
# Wall-time limit for one student copy run top to bottom with CI=true (the course promises under 3 minutes).
NOTEBOOK_LIMIT_S = 200


def _region_lines(source: str) -> list[str]:
    """The lines strictly between each solution / hidden-test marker pair of a cell."""
    out, inside = [], False
    for line in source.split("\n"):
        if any(b in line for b, _ in REGIONS):
            inside = True
        elif any(e in line for _, e in REGIONS):
            inside = False
        elif inside:
            out.append(line)
    return out


def _outside(source: str) -> str:
    """A cell's source without its solution / hidden-test regions: what the student is shown anyway."""
    for begin, end in REGIONS:
        source = re.sub(re.escape(begin) + r".*?" + re.escape(end), "", source, flags=re.S)
    return source


# ------------------------------------------------------------------------------------------- (a) no solutions
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_newcomers_copy_has_no_solution_code_and_no_hidden_tests(path, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nbgrader", None)  # a student never has nbgrader
    monkeypatch.setitem(sys.modules, "nbgrader.preprocessors", None)
    out = tmp_path / "my-work"
    sc.write_student_copies(out, verbose=False)
    source = nbformat.read(str(path), as_version=4)
    copy = nbformat.read(str(out / path.name), as_version=4)
    nbformat.validate(copy)
    assert len(copy.cells) == len(source.cells), "a student copy keeps every cell (model answers included)"

    # no line between the markers survives, unless the source shows it outside the regions too (an import, a hint)
    visible = "\n".join(_outside(c.source) for c in source.cells)
    text = "\n".join(c.source for c in copy.cells)
    for i, cell in enumerate(source.cells):
        for line in _region_lines(cell.source):
            line = line.strip()
            if line and line not in visible:
                assert line not in text, f"{path.name} cell {i}: solution/hidden-test line {line!r} survived"
    for marker in (sc.BEGIN_SOLUTION, sc.END_SOLUTION, sc.BEGIN_HIDDEN, sc.END_HIDDEN):
        assert marker not in text, f"{path.name}: marker {marker!r} survived"

    for i, (src, cell) in enumerate(zip(source.cells, copy.cells)):
        md = src.metadata.get("nbgrader", {})
        if md.get("solution") and src.cell_type == "code":
            assert "# YOUR CODE HERE\n" in cell.source and "raise NotImplementedError()" in cell.source, i
        if sc.is_written_answer(src) and sc.BEGIN_SOLUTION not in src.source:
            assert cell.source == sc.TEXT_STUB, f"{path.name} cell {i}: a written answer shows the model answer"
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} cell {i} kept its outputs"


def test_stub_keeps_the_regions_indentation_and_written_answers_are_blanked():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n"
                                  "    ### END SOLUTION\n", metadata={"nbgrader": {"solution": True}}),
        nbformat.v4.new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS",
                                  metadata={"nbgrader": {"grade": True, "locked": True}}),
        nbformat.v4.new_markdown_cell("Because the model answer.", metadata={"nbgrader": {"solution": True,
                                                                                          "grade": True}}),
    ])
    copy = sc.student_copy(nb)
    assert copy.cells[0].source == "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    assert copy.cells[1].source == "assert f(1) == 2"
    assert copy.cells[1].metadata["editable"] is False and copy.cells[1].metadata["deletable"] is False
    assert copy.cells[2].source == "YOUR ANSWER HERE"
    assert nb.cells[0].source.endswith("### END SOLUTION\n"), "the source notebook must not change"


@pytest.mark.parametrize("source, match", [
    ("### BEGIN SOLUTION\nx = 1\n", "without 'END SOLUTION'"),
    ("x = 1\n### END SOLUTION\n", "without 'BEGIN SOLUTION'"),
    ("### BEGIN HIDDEN TESTS\nassert True\n", "without 'END HIDDEN TESTS'"),
])
def test_unbalanced_markers_are_a_clear_error(source, match):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        source, metadata={"nbgrader": {"grade": True}})])
    with pytest.raises(ValueError, match=re.escape(match)):
        sc.student_copy(nb, "x.ipynb")


def test_bad_out_argument_names_it(tmp_path):
    with pytest.raises(TypeError, match="^out"):
        sc.write_student_copies(3)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="^out"):
        sc.write_student_copies(tmp_path / "file")


# ----------------------------------------------------------------------------------------- (b) never overwrite
def test_b_never_overwrites_a_students_work(tmp_path, capsys):
    from dlhelpers.tools.cli import main

    out = tmp_path / "my-work"
    assert main(["student-copies", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in NOTEBOOKS]
    assert capsys.readouterr().out.count("wrote ") == len(NOTEBOOKS)

    mine = out / NOTEBOOKS[0].name
    work = mine.read_text(encoding="utf-8").replace("raise NotImplementedError()", "return 42  # my answer", 1)
    mine.write_text(work, encoding="utf-8")
    (out / NOTEBOOKS[-1].name).unlink()  # a student who wants a fresh copy deletes it

    assert main(["workbook", "--out", str(out)]) == 0  # the old name still works
    said = capsys.readouterr().out
    assert mine.read_text(encoding="utf-8") == work, "the student's work was overwritten"
    assert (out / NOTEBOOKS[-1].name).exists() and f"wrote {out / NOTEBOOKS[-1].name}" in said
    assert "kept" in said and NOTEBOOKS[0].name in said
    assert not list(out.glob(".*.tmp")), "a temporary file was left behind"


# ------------------------------------------------------------------------------------- (c) run top to bottom
def _run_copy(path, tmp_path, cell_timeout=NOTEBOOK_LIMIT_S, lang="en"):
    """Execute the student copy of ``path`` (``lang``'s edition) in its own folder with nbclient; returns
    (notebook, seconds, error).

    nbclient (allow_errors=False) lets an error pass only in a cell tagged raises-exception, as JupyterLab's
    Run All does; any other error stops the run with CellExecutionError."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    out = tmp_path / "my-work" / ("" if lang == "en" else lang)
    sc.write_student_copies(out, verbose=False, lang=lang)
    nb = nbformat.read(str(out / path.name), as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(out)}})
    t0, error = time.perf_counter(), None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = exc
    return nb, time.perf_counter() - t0, error


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_c_every_student_copy_runs_top_to_bottom(path, tmp_path, monkeypatch, record_property):
    monkeypatch.setenv("CI", "true")              # the notebooks' CI size
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    nb, seconds, error = _run_copy(path, tmp_path)
    record_property("wall_time_s", round(seconds, 1))
    print(f"{path.name}: student copy ran in {seconds:.1f} s")
    assert error is None, f"{path.name}: a cell without the {sc.RAISES_TAG!r} tag failed:\n{error}"
    for i, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if errors:
            assert sc.RAISES_TAG in cell.metadata.get("tags", []), f"{path.name} cell {i}: {errors[0].ename}"
    assert seconds <= NOTEBOOK_LIMIT_S, f"{path.name} took {seconds:.0f} s (limit {NOTEBOOK_LIMIT_S} s)"


KO_NOTEBOOK = next(p for p in NOTEBOOKS if p.name.startswith("02_"))   # the quickest to run top to bottom


@pytest.mark.slow
@pytest.mark.parametrize("path", [KO_NOTEBOOK], ids=[KO_NOTEBOOK.stem])
def test_c_a_korean_copy_runs_top_to_bottom_in_korean(path, tmp_path, monkeypatch):
    """The Korean edition (my-work/ko/, with its .course-lang file), one notebook: the same code runs with errors
    only in the graded checks, the checks and printed explanations speak Korean, and no plot glyph is missing.
    The Korean copies share the English code (tests/test_translation.py), every translated message is formatted and
    drawn by tests/test_korean_messages.py, and the browser test runs this copy in Korean JupyterLab (where it is
    collected, this run is skipped: tests/conftest.py)."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    monkeypatch.delenv("COURSE_LANG", raising=False)          # the folder's .course-lang decides
    nb, seconds, error = _run_copy(path, tmp_path, lang="ko")
    assert error is None, f"{path.name} (ko): a cell without the {sc.RAISES_TAG!r} tag failed:\n{error}"
    text = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.output_type == "error":
                assert sc.RAISES_TAG in cell.metadata.get("tags", []), f"{path.name} (ko) cell {i}: {o.ename}"
                text.append(" ".join(o.get("traceback", [])))
            text.append(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")))
    text = "\n".join(text)
    assert "glyph" not in text.lower(), f"{path.name} (ko): a glyph is missing from the plot font"
    assert re.search(r"[\uac00-\ud7a3]{2}", text), f"{path.name} (ko): nothing printed in Korean"
    assert seconds <= NOTEBOOK_LIMIT_S, f"{path.name} (ko) took {seconds:.0f} s (limit {NOTEBOOK_LIMIT_S} s)"
