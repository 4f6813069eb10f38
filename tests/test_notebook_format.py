"""The notebooks' exercises are well-formed nbgrader source (fast: nothing is executed).

Checks every numbered notebook in notebooks/: size and outputs, nbgrader cell metadata, exercise structure
(solution cell → graded check cell tagged raises-exception; written answers as manually graded markdown cells),
self-study model answers, stubs that keep the solution's signature, grade_ids unique across the course, and the
points table in INSTRUCTORS.md.
"""
from __future__ import annotations

import ast
import re

import nbformat
import pytest

from dlhelpers.io import REPO_ROOT
from dlhelpers.tools.student_copies import (RAISES_TAG, SELF_STUDY_TAG, exercises, is_check_cell, is_written_answer,
                                            numbered_notebooks, points_table, student_copy)

NOTEBOOKS = numbered_notebooks()
IDS = [p.stem for p in NOTEBOOKS]
BEGIN_SOL, END_SOL = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HID, END_HID = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _load(path):
    return nbformat.read(str(path), as_version=4)


def _nbgrader_cells(nb):
    return [(i, c, c.metadata["nbgrader"]) for i, c in enumerate(nb.cells) if "nbgrader" in c.metadata]


def _functions(source: str) -> dict:
    """Top-level ``def``s of a code cell: name → its parameter list (ast.dump of the arguments)."""
    tree = ast.parse(source)
    return {n.name: ast.dump(n.args) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_the_course_has_five_numbered_notebooks():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1)), f"notebook numbers must run 01, 02, …: {IDS}"
    assert len(numbers) >= 5, f"expected the five course notebooks, found {IDS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_small_valid_and_without_images(path):
    size = path.stat().st_size
    assert size < 1_000_000, f"{path.name} is {size / 1e6:.2f} MB; strip outputs (limit 1 MB)"
    nb = _load(path)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("language") == "python", "nbgrader needs kernelspec.language"
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            images = [m for m in out.get("data", {}) if m.startswith("image/")]
            assert not images, f"{path.name} cell {i} stores an image output {images}; strip it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_nbgrader_metadata(path):
    nb = _load(path)
    for i, cell, md in _nbgrader_cells(nb):
        where = f"{path.name} cell {i}"
        assert md.get("schema_version") == 3, f"{where}: nbgrader metadata needs schema_version 3"
        if is_written_answer(cell):  # a written question: one markdown cell, solution + grade, graded by hand
            assert isinstance(md.get("grade_id"), str) and md["grade_id"], f"{where}: written answer without grade_id"
            assert md.get("points") == 1, f"{where} ({md['grade_id']}): a written question is worth 1 point"
            assert md.get("locked") is False, f"{where}: a written answer cell must not be locked"
            continue
        if md.get("grade"):
            assert cell.cell_type == "code", f"{where}: graded cells are code cells (or written-answer markdown)"
            assert isinstance(md.get("grade_id"), str) and md["grade_id"], f"{where}: graded cell without grade_id"
            points = md.get("points")
            assert isinstance(points, int) and not isinstance(points, bool) and points > 0, \
                f"{where} ({md['grade_id']}): points must be an integer > 0, got {points!r}"
            assert md.get("locked") is True, f"{where} ({md['grade_id']}): a graded check cell must be locked"
            assert not md.get("solution"), f"{where}: a cell is either a solution or a graded check, not both"
        if md.get("solution"):
            assert cell.cell_type == "code", f"{where}: solution cells are code cells"
            assert isinstance(md.get("grade_id"), str) and md["grade_id"], f"{where}: solution cell without grade_id"
            assert md.get("locked") is False, f"{where}: a solution cell must not be locked"
        for marker in (BEGIN_HID, END_HID):
            if marker in cell.source:
                assert md.get("grade"), f"{where}: hidden tests belong in a graded check cell"
    for i, cell in enumerate(nb.cells):
        if any(m in cell.source for m in (BEGIN_SOL, END_SOL)):
            assert cell.metadata.get("nbgrader", {}).get("solution"), \
                f"{path.name} cell {i} has solution markers but no nbgrader solution metadata"


def test_grade_ids_unique_across_all_notebooks():
    seen: dict = {}
    for path in NOTEBOOKS:
        for i, _, md in _nbgrader_cells(_load(path)):
            gid = md.get("grade_id")
            if gid is None:
                continue
            assert gid not in seen, f"grade_id {gid!r} in {path.name} cell {i} is also used at {seen[gid]}"
            seen[gid] = f"{path.name} cell {i}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_solution_is_followed_by_its_graded_check(path):
    nb = _load(path)
    n_exercises = 0
    for i, cell, md in _nbgrader_cells(nb):
        if not md.get("solution") or is_written_answer(cell):
            continue
        where = f"{path.name} cell {i} ({md['grade_id']})"
        src = cell.source
        assert src.count(BEGIN_SOL) == 1 and src.count(END_SOL) == 1 and src.index(BEGIN_SOL) < src.index(END_SOL), \
            f"{where}: one {BEGIN_SOL} … {END_SOL} region"
        before = src[:src.index(BEGIN_SOL)]
        names = re.findall(r"^def (\w+)\(", before, flags=re.M)
        assert names, f"{where}: the `def name(args):` line must come before {BEGIN_SOL} so the stub keeps it"
        assert i + 1 < len(nb.cells), f"{where}: no check cell after the solution"
        nxt = nb.cells[i + 1]
        nmd = nxt.metadata.get("nbgrader", {})
        assert nxt.cell_type == "code" and nmd.get("grade") and nmd.get("locked"), \
            f"{where}: the very next cell must be the locked, graded check cell"
        visible = nxt.source.split(BEGIN_HID)[0]
        assert any(re.search(rf"\b{n}\b", visible) for n in names), \
            f"{where}: the check cell {nmd.get('grade_id')} does not test {names}"
        n_exercises += 1
    assert n_exercises >= 2, f"{path.name} has {n_exercises} graded exercise(s); the course asks for at least two"
    assert len([e for e in exercises(path) if not e.manual]) == n_exercises


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_graded_check_cells_carry_the_raises_exception_tag(path):
    """An unsolved exercise's check raises; the tag lets Run All (JupyterLab, nbclient, nbval) go on past it."""
    nb = _load(path)
    untagged = [f"cell {i} ({c.metadata['nbgrader']['grade_id']})" for i, c in enumerate(nb.cells)
                if is_check_cell(c) and RAISES_TAG not in c.metadata.get("tags", [])]
    assert not untagged, f"{path.name}: graded check cells without the {RAISES_TAG!r} tag: {untagged}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_self_study_answers_are_markdown_details_blocks(path):
    """Model answers for self-study students: markdown, folded in <details>, dropped from the class version."""
    nb = _load(path)
    for i, cell in enumerate(nb.cells):
        if SELF_STUDY_TAG not in cell.metadata.get("tags", []):
            continue
        where = f"{path.name} cell {i}"
        assert cell.cell_type == "markdown", f"{where}: a {SELF_STUDY_TAG!r} cell must be markdown"
        assert re.search(r"<details>.*</details>", cell.source, flags=re.S), \
            f"{where}: a {SELF_STUDY_TAG!r} cell must hold the answer in a <details>…</details> block"
        assert "nbgrader" not in cell.metadata or not cell.metadata["nbgrader"].get("solution"), \
            f"{where}: a model answer must not be an nbgrader solution cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stubs_keep_the_solution_signature(path):
    nb = _load(path)
    student = student_copy(nb, path.name)
    assert len(student.cells) == len(nb.cells)
    for i, cell, md in _nbgrader_cells(nb):
        if not md.get("solution") or is_written_answer(cell):
            continue
        where = f"{path.name} cell {i} ({md['grade_id']})"
        stub = student.cells[i]
        assert stub.metadata["nbgrader"]["grade_id"] == md["grade_id"]
        assert "raise NotImplementedError()" in stub.source and BEGIN_SOL not in stub.source, where
        try:
            stub_defs = _functions(stub.source)
        except SyntaxError as exc:
            pytest.fail(f"{where}: the student's stub is not valid Python: {exc}")
        assert stub_defs == _functions(cell.source), \
            f"{where}: the stub's functions/parameters differ from the solution's:\n{stub.source}"


def test_instructors_md_points_table_is_current():
    text = (REPO_ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- points-table:start -->\n(.*?)<!-- points-table:end -->", text, flags=re.S)
    assert m, "INSTRUCTORS.md lacks the <!-- points-table:start/end --> block"
    assert m.group(1) == points_table(), (
        "INSTRUCTORS.md's points table is out of date; replace the block with the output of "
        "`python -m dlhelpers points-table`")
