"""The nbgrader course and autograding of the course notebooks, end to end (issues #6, #13; needs nbgrader).

Everything is written under pytest's tmp_path, never into the repository. The class release of every notebook is
generated and compared with the student copies (nothing executes). Autograding runs end to end (marker
``grading``) on notebook 02's exercises cut out of the notebook (tests/support.py ``exercise_notebook``: the same
graded cells, checks and hidden tests, without the demos): untouched, solved, solved in Korean, three broken
submissions (syntax error, an exception, an infinite loop) and one killed by the outer timeout; a written answer
waits for, then takes, the instructor's grade. The kernels run with CI=true (the notebooks' shortened runs), as
``python -m dlhelpers grade`` runs them.
"""
from __future__ import annotations

import atexit
import csv
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from dlhelpers.tools import grading as gr
from dlhelpers.tools import student_copies as sc
from support import exercise_notebook

# A snapshot of notebooks/ taken once: every test grades, reads and compares the same versions even while someone
# edits the notebooks (a run takes minutes).
SOURCE = Path(tempfile.mkdtemp(prefix="dlhelpers-grading-notebooks-"))
atexit.register(shutil.rmtree, SOURCE, True)
for _p in sc.numbered_notebooks():
    shutil.copyfile(_p, SOURCE / _p.name)
NOTEBOOKS = sc.numbered_notebooks(SOURCE)
# The notebook whose exercises are graded end to end (two code exercises and two written answers).
CHEAP = next((p for p in NOTEBOOKS if p.name.startswith("02_")), NOTEBOOKS[0])
MINI_NAME = "02_exercises.ipynb"
BEGIN_SOL, END_SOL = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HID, END_HID = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HINT = "not implemented yet"          # what dlhelpers.notebook.checks says about an untouched stub
# Per-cell limit for the broken submissions: the infinite loop costs this much per cell that calls it. The cheap
# notebook's slowest cell takes ~6 s on one thread (also with the other test worker busy); raise it with
# DLHELPERS_GRADING_CELL_TIMEOUT on a much slower or busy machine.
BAD_CELL_TIMEOUT = int(os.environ.get("DLHELPERS_GRADING_CELL_TIMEOUT", "15"))


def _require_nbgrader():
    try:
        import nbgrader  # noqa: F401 - imported only to learn whether it is installed
    except ImportError:
        pytest.skip('nbgrader is not installed: the instructor tooling needs pip install -e ".[instructor]"')


@pytest.fixture(scope="module", autouse=True)
def ci_sized_kernels():
    """Kernels started by nbgrader inherit this: the notebooks run their CI-sized work."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CI", os.environ.get("CI") or "true")
        yield


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """course/source and course/release for every notebook, by `nbgrader generate_assignment` (as documented)."""
    _require_nbgrader()
    root = tmp_path_factory.mktemp("course")
    t0 = time.perf_counter()
    names = gr.generate_assignments(root, SOURCE)
    print(f"generate_assignment for {len(names)} notebooks: {time.perf_counter() - t0:.1f} s")
    assert names == [p.stem for p in NOTEBOOKS]
    return root


def _regions(text: str, begin: str, end: str) -> list[str]:
    return re.findall(re.escape(begin) + r"\n(.*?)" + re.escape(end), text, flags=re.S)


def _error_cells(nb) -> dict:
    """cell index → list of (ename, evalue) of its error outputs."""
    out: dict = {}
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.output_type == "error":
                out.setdefault(i, []).append((o.ename, o.evalue))
    return out


def _grade_cell(nb, i) -> bool:
    return bool(nb.cells[i].metadata.get("nbgrader", {}).get("grade"))


# ------------------------------------------------------------------------------------------ student versions
def test_nbgrader_missing_gives_the_install_command(monkeypatch, tmp_path, capsys):
    from dlhelpers.tools.cli import main

    monkeypatch.setitem(__import__("sys").modules, "nbgrader.preprocessors", None)
    with pytest.raises(gr.NbgraderMissing, match=re.escape('pip install -e ".[instructor]"')):
        gr.generate_assignments(tmp_path / "course")
    assert main(["course", "--release", "--course-dir", str(tmp_path / "course")]) == 1
    assert 'pip install -e ".[instructor]"' in capsys.readouterr().err
    # the students' command does not need it
    assert main(["student-copies", "--out", str(tmp_path / "my-work")]) == 0


def _nbgrader_student_version(nb):
    """The student version of a notebook by nbgrader's own preprocessors, in ``generate_assignment``'s order
    (without the gradebook, header and test-template steps): LockCells, ClearSolutions, ClearOutput,
    CheckCellMetadata, ComputeChecksums, ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata."""
    from nbconvert.exporters import NotebookExporter
    from traitlets.config import Config

    import nbgrader.preprocessors as pre
    exporter = NotebookExporter(config=Config())
    for cls in (pre.LockCells, pre.ClearSolutions, pre.ClearOutput, pre.CheckCellMetadata, pre.ComputeChecksums,
                pre.ClearHiddenTests, pre.ClearMarkScheme, pre.ComputeChecksums, pre.CheckCellMetadata):
        exporter.register_preprocessor(cls(), enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.from_dict(nb), resources={})
    return nbformat.reads(body, as_version=4)


def _nbgrader_md(cell) -> dict:
    """A cell's nbgrader metadata without what only generate_assignment's gradebook steps add."""
    return {k: v for k, v in cell.metadata.get("nbgrader", {}).items() if k not in ("checksum", "cell_type")}


@pytest.mark.grading
def test_student_copies_match_nbgrader_and_the_class_release(course, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("making the student copies tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    out = tmp_path / "my-work"
    assert sc.write_student_copies(out, SOURCE, verbose=False) == [out / p.name for p in NOTEBOOKS]

    for path in NOTEBOOKS:
        source = nbformat.read(str(path), as_version=4)
        mine = nbformat.read(str(out / path.name), as_version=4)
        # the pure-Python copy is what nbgrader's own preprocessors make of the same notebook ...
        theirs = _nbgrader_student_version(source)
        assert [c.source for c in mine.cells] == [c.source for c in theirs.cells], path.name
        assert [_nbgrader_md(c) for c in mine.cells] == [_nbgrader_md(c) for c in theirs.cells], path.name
        assert [(c.metadata.get("editable"), c.metadata.get("deletable")) for c in mine.cells] == \
               [(c.metadata.get("editable"), c.metadata.get("deletable")) for c in theirs.cells], path.name
        # ... and the class release (`nbgrader generate_assignment`) is that copy without the model answers
        released = nbformat.read(str(course / "release" / path.stem / path.name), as_version=4)
        self_study = [c for c in mine.cells if sc.SELF_STUDY_TAG not in c.metadata.get("tags", [])]
        assert [c.source for c in released.cells] == [c.source for c in self_study], path.name
        assert [_nbgrader_md(c) for c in released.cells] == [_nbgrader_md(c) for c in self_study], path.name
        assert not any(sc.SELF_STUDY_TAG in c.metadata.get("tags", []) for c in released.cells), path.name
        # the text between the markers, and each of its lines, is gone (lines also shown outside the
        # solution/hidden regions of the source, like an import, do not count)
        visible = "\n".join(_strip_regions(c.source) for c in source.cells)
        for version, nbv in (("student copy", mine), ("release", released)):
            text = "\n".join(c.source for c in nbv.cells)
            for cell in source.cells:
                for kind, (begin, end) in (("solution", (BEGIN_SOL, END_SOL)), ("hidden test", (BEGIN_HID, END_HID))):
                    for region in _regions(cell.source, begin, end):
                        assert region.strip() and region not in text, f"{version} {path.name}: {kind} left in"
                        for line in region.splitlines():
                            line = line.strip()
                            if len(line) >= 8 and not line.startswith("#") and line not in visible:
                                assert line not in text, f"{version} {path.name} still contains {kind} line {line!r}"
            for marker in (BEGIN_SOL, END_SOL, BEGIN_HID, END_HID):
                assert marker not in text, f"{version} {path.name} still contains {marker!r}"
        n_stubs = sum("raise NotImplementedError()" in c.source for c in mine.cells)
        assert n_stubs == len([e for e in sc.exercises(path) if not e.manual]) >= 2


def _strip_regions(source: str) -> str:
    for begin, end in ((BEGIN_SOL, END_SOL), (BEGIN_HID, END_HID)):
        source = re.sub(re.escape(begin) + r".*?" + re.escape(end), "", source, flags=re.S)
    return source


# -------------------------------------------------------------------------------------------- submissions
def _solution_code(cell_source: str) -> str:
    """A student's correct answer: the instructor's solution without the markers."""
    return "\n".join(line for line in cell_source.splitlines() if line.strip() not in (BEGIN_SOL, END_SOL))


def _submission(path, course, answers: dict):
    """The released notebook with solution cells filled: answers[grade_id] = "solve" or code that replaces the
    stub's `raise NotImplementedError()` (same indentation); cells not named stay stubs."""
    source = nbformat.read(str(path), as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(str(course / "release" / path.stem / path.name), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers and cell.metadata["nbgrader"].get("solution"):
            answer = answers[gid]
            if answer == "solve":
                cell.source = _solution_code(solutions[gid])
            else:
                assert "raise NotImplementedError()" in cell.source
                cell.source = cell.source.replace("raise NotImplementedError()", answer)
    return nb


def _write(folder, student, path, nb):
    (folder / student).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / student / path.name))


def _rows_by(rows):
    return {(r["student"], r["notebook"], r["grade_id"]): r for r in rows}


def _autograded(course, student, path):
    return nbformat.read(str(course / "autograded" / student / path.stem / path.name), as_version=4)


# ---------------------------------------------------------------------------------------------- grading
# End to end through nbgrader (generate_assignment, autograde, the gradebook, the score table) on the exercises of
# notebook 02 (support.exercise_notebook: its setup cell and every graded cell, hidden tests included). A course
# notebook runs whole only under nbval (the source) and in the browser test (the student copy); what each
# exercise's check and hidden tests say to each catalogued answer is tests/test_catalogues.py's.
@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """(source folder, course folder, the cut notebook) for notebook 02's exercises, generated and released."""
    _require_nbgrader()
    root = tmp_path_factory.mktemp("mini")
    source = root / "notebooks"
    source.mkdir()
    nb = exercise_notebook(nbformat.read(str(CHEAP), as_version=4))
    path = source / MINI_NAME
    nbformat.write(nb, str(path))
    assert gr.generate_assignments(root / "course", source) == [path.stem]
    return source, root / "course", path


@pytest.mark.grading
def test_autograde_untouched_solved_and_korean_submissions(mini, tmp_path):
    source, course, path = mini
    subs = tmp_path / "submissions"
    shutil.copytree(course / "release" / path.stem, subs / "untouched")
    solved = nbformat.read(str(path), as_version=4)           # the instructor's solution cells as they are ...
    written = [c for c in solved.cells if sc.is_written_answer(c)]
    written[0].source = "Because the skip connections add features of the same size."   # ... one written answer
    _write(subs, "solutions", path, solved)
    (subs / "solutions-ko").mkdir()                            # the same, as the Korean edition (translated prose)
    from dlhelpers.tools.translation import read_notebook
    ko = exercise_notebook(read_notebook(CHEAP, "ko"))
    assert [c.source for c in ko.cells if c.cell_type == "code"] == \
           [c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]
    nbformat.write(ko, str(subs / "solutions-ko" / path.name))

    t0 = time.perf_counter()
    rows = gr.grade_folder(subs, course, tmp_path / "scores.csv", source=source, regenerate=False)
    print(f"graded 3 submissions of {path.name} in {time.perf_counter() - t0:.1f} s")
    by = _rows_by(rows)

    # the CSV is the same table
    with open(tmp_path / "scores.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [(r["student"], r["notebook"], r["grade_id"]) for r in table] == \
           [(r["student"], r["notebook"], r["grade_id"]) for r in rows]
    assert tuple(table[0]) == gr.SCORE_COLUMNS

    exs = sc.exercises(path)
    assert len([e for e in exs if not e.manual]) >= 2 and any(e.manual for e in exs)
    # untouched: graded (nbgrader exit 0), 0 points on every exercise ...
    for e in exs:
        r = by[("untouched", path.stem, e.check_id)]
        assert (r["status"], r["score"], r["max_score"]) == ("graded", 0.0, e.points), r
    # ... errors only in the graded check cells, each with the check's short hint, and the hidden tests back in
    nb = _autograded(course, "untouched", path)
    errors = _error_cells(nb)
    assert all(_grade_cell(nb, i) for i in errors), f"with the stubs, cells other than the checks fail: {errors}"
    check_cells = [i for i, c in enumerate(nb.cells) if sc.is_check_cell(c)]
    assert len(check_cells) == len([e for e in exs if not e.manual])
    src = nbformat.read(str(path), as_version=4)
    for i in check_cells:
        assert errors.get(i), f"cell {i}: an unsolved exercise's check did not fail"
        ename, evalue = errors[i][0]
        assert ename == "ExerciseError" and HINT in evalue, (i, ename, evalue)
        gid = nb.cells[i].metadata["nbgrader"]["grade_id"]
        want = next(c.source for c in src.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
        assert BEGIN_HID in want and nb.cells[i].source == want
    # the solutions: full points, no error anywhere; the written answer waits for the instructor (status manual,
    # 0 for now), one left as "YOUR ANSWER HERE" scores 0 (nbgrader grades an unchanged answer itself)
    answered_id = written[0].metadata["nbgrader"]["grade_id"]
    for e in exs:
        r = by[("solutions", path.stem, e.check_id)]
        want = ("manual" if e.check_id == answered_id else "graded", 0.0) if e.manual else ("graded", float(e.points))
        assert (r["status"], r["score"], r["max_score"]) == (*want, float(e.points)), r
    assert _error_cells(_autograded(course, "solutions", path)) == {}
    assert "1 written answer(s) to grade by hand" in gr.format_totals(rows)
    # a Korean submission grades exactly like the English one: the same code cells, the same points
    for e in exs:
        if not e.manual:
            ko_row, en_row = by[("solutions-ko", path.stem, e.check_id)], by[("solutions", path.stem, e.check_id)]
            assert (ko_row["status"], ko_row["score"]) == (en_row["status"], en_row["score"]), (ko_row, en_row)
    assert _error_cells(_autograded(course, "solutions-ko", path)) == {}

    # the instructor grades the written answer (as formgrader does); the score table then counts it
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{(course / 'gradebook.db').resolve()}") as gb:
        grade = gb.find_grade(answered_id, path.stem, path.stem, "solutions")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    rows = gr.scores(course, {("solutions", path.stem): "graded"}, source)
    assert {r["grade_id"]: (r["status"], r["score"]) for r in rows} == \
           {e.check_id: ("graded", 1.0 if e.check_id == answered_id else 0.0 if e.manual else float(e.points))
            for e in exs}


@pytest.mark.grading
def test_autograde_broken_submissions_keep_the_other_points(mini, tmp_path):
    source, course, path = mini
    exs = [e for e in sc.exercises(path) if not e.manual]
    first, rest = exs[0], exs[1:]
    bad = {
        "syntax_error": "return (",
        "raises": 'raise ValueError("a bug in my code")',
        "infinite_loop": "while True:\n        pass",
    }
    subs = tmp_path / "submissions"
    for student, code in bad.items():
        answers = {first.solution_id: code, **{e.solution_id: "solve" for e in rest}}
        _write(subs, student, path, _submission(path, course, answers))

    t0 = time.perf_counter()
    rows = gr.grade_folder(subs, course, tmp_path / "scores.csv", cell_timeout=BAD_CELL_TIMEOUT,
                           submission_timeout=240, source=source, regenerate=False)
    print(f"graded {len(bad)} broken submissions of {path.name} in {time.perf_counter() - t0:.1f} s")
    by = _rows_by(rows)
    released = nbformat.read(str(course / "release" / path.stem / path.name), as_version=4)
    sol_idx = next(i for i, c in enumerate(released.cells)
                   if c.metadata.get("nbgrader", {}).get("grade_id") == first.solution_id)
    for student in bad:
        r = by[(student, path.stem, first.check_id)]
        # nbgrader exited 0 (the submission was graded), the broken exercise scores 0 ...
        assert (r["status"], r["score"]) == ("graded", 0.0), r
        # ... and every other exercise keeps its points
        for e in rest:
            r = by[(student, path.stem, e.check_id)]
            assert (r["status"], r["score"]) == ("graded", float(e.points)), r
        # the broken exercise's check fails; no other graded check does. A syntax error or an exception stays in
        # the exercise's own cells; a hang also stops later cells that call the function (each at the cell limit)
        errors = _error_cells(_autograded(course, student, path))
        assert sol_idx + 1 in errors and not any(_grade_cell(released, i) for i in set(errors) - {sol_idx + 1}), \
            (student, errors)
        if student != "infinite_loop":
            assert set(errors) <= {sol_idx, sol_idx + 1}, (student, errors)
    assert _error_cells(_autograded(course, "syntax_error", path))[sol_idx][0][0] == "SyntaxError"
    assert "raised ValueError" in _error_cells(_autograded(course, "raises", path))[sol_idx + 1][0][1]


@pytest.mark.grading
def test_outer_timeout_scores_zero_not_stale(mini, tmp_path):
    """nbgrader killed by the outer timeout: status 'timeout', 0 points (never a previous run's grades)."""
    source, course, path = mini
    subs = tmp_path / "submissions"
    _write(subs, "killed", path, _submission(path, course, {e.solution_id: "solve" for e in sc.exercises(path)}))
    gr.import_submissions(subs, course, [path.stem])
    status = gr.autograde(course, path.stem, "killed", timeout=1)
    assert status == "timeout"
    rows = gr.scores(course, {("killed", path.stem): status}, source)
    assert rows and all(r["score"] == 0 and r["status"] == "timeout" for r in rows if r["notebook"] == path.stem)


# ------------------------------------------------------------------------------ written (manually graded) answers
def _tiny_source(folder):
    """A made-up course of one notebook: a code exercise with its check, and a written question (1 point, graded
    by hand) followed by its self-study model answer."""
    v4 = nbformat.v4

    def nbg(gid, **kw):
        return {"nbgrader": {"grade_id": gid, "schema_version": 3, "task": False, **kw}}

    cells = [
        v4.new_markdown_cell("# A tiny notebook"),
        v4.new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                         metadata=nbg("t_double", solution=True, grade=False, locked=False)),
        v4.new_code_cell("assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(5) == 10\n### END HIDDEN TESTS",
                         metadata={**nbg("t_double_check", solution=False, grade=True, locked=True, points=2),
                                   "tags": [sc.RAISES_TAG]}),
        v4.new_markdown_cell("**Question.** Why double?"),
        v4.new_markdown_cell("YOUR ANSWER HERE", metadata=nbg("t_why", solution=True, grade=True, locked=False,
                                                              points=1)),
        v4.new_markdown_cell("<details><summary>Show a model answer</summary>\n\nBecause.\n</details>",
                             metadata={"tags": [sc.SELF_STUDY_TAG]}),
    ]
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / "01_tiny.ipynb"))
    return folder


@pytest.mark.grading
def test_written_answers_are_graded_by_hand_and_their_model_answers_stay_out_of_the_release(tmp_path):
    _require_nbgrader()
    source, course = _tiny_source(tmp_path / "notebooks"), tmp_path / "course"
    assert "| 01_tiny | `t_why` | hand | 1 |" in sc.points_table(source)
    assert "| **01_tiny** | **total** | | **3** |" in sc.points_table(source)
    assert gr.generate_assignments(course, source) == ["01_tiny"]
    released = nbformat.read(str(course / "release" / "01_tiny" / "01_tiny.ipynb"), as_version=4)
    assert not any("Because." in c.source for c in released.cells), "the class release shows the model answer"
    assert [c.source for c in released.cells][-1] == "YOUR ANSWER HERE"


def test_grading_kernels_run_the_shortened_notebooks_unless_asked_for_full_size(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("DLHELPERS_GRADE_FULL_SIZE", raising=False)
    assert gr.nbgrader_env()["CI"] == "true"                 # notebook 3 trains for seconds, not 5 minutes
    monkeypatch.setenv("DLHELPERS_GRADE_FULL_SIZE", "1")      # `python -m dlhelpers grade --full-size`
    assert "CI" not in gr.nbgrader_env()
    from dlhelpers.tools.cli import build_parser
    args = build_parser().parse_args(["grade", "subs", "--full-size"])
    assert args.full_size is True
