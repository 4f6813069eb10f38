"""The nbgrader course and autograding of the course notebooks, end to end (issues #6, #13; needs nbgrader).

Everything is written under pytest's tmp_path, never into the repository. The kernels run the notebooks in their
CI size (env CI=true; the notebooks shrink their work then). To stay within a few minutes on a 2-core CPU the
grading is a representative subset: the untouched student version of EVERY notebook, plus the full solution and
three broken submissions (syntax error, an exception, an infinite loop) of the cheapest notebook, and a tiny
made-up notebook for the manually graded written answers.
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

# A snapshot of notebooks/ taken once: every test grades, reads and compares the same versions even while someone
# edits the notebooks (a run takes minutes).
SOURCE = Path(tempfile.mkdtemp(prefix="dlhelpers-grading-notebooks-"))
atexit.register(shutil.rmtree, SOURCE, True)
for _p in sc.numbered_notebooks():
    shutil.copyfile(_p, SOURCE / _p.name)
NOTEBOOKS = sc.numbered_notebooks(SOURCE)
# The cheapest notebook to execute (measured: 02 runs in ~18 s, the others in 70–100 s, 1 thread under load).
CHEAP = next((p for p in NOTEBOOKS if p.name.startswith("02_")), NOTEBOOKS[0])
BEGIN_SOL, END_SOL = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HID, END_HID = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HINT = "not implemented yet"          # what dlhelpers.notebook.checks says about an untouched stub
# Per-cell limit for the broken submissions: the infinite loop costs this much per cell that calls it. The cheap
# notebook's slowest cell takes ~6 s on one thread (also with the other test worker busy); raise it with
# DLHELPERS_GRADING_CELL_TIMEOUT on a much slower or busy machine.
BAD_CELL_TIMEOUT = int(os.environ.get("DLHELPERS_GRADING_CELL_TIMEOUT", "15"))


def _require_nbgrader():
    try:
        import nbgrader  # noqa: F401
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
    return "\n".join(l for l in cell_source.splitlines() if l.strip() not in (BEGIN_SOL, END_SOL))


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
def test_autograde_untouched_student_versions_and_solutions(course, tmp_path):
    subs = tmp_path / "submissions"
    for path in NOTEBOOKS:
        shutil.copytree(course / "release" / path.stem, subs / "untouched", dirs_exist_ok=True)
    (subs / "solutions").mkdir()
    shutil.copyfile(CHEAP, subs / "solutions" / CHEAP.name)  # the instructor's solution notebook as it is
    (subs / "solutions-ko").mkdir()                          # the same, as the Korean edition (translated prose)
    from dlhelpers.tools.translation import read_notebook
    nbformat.write(read_notebook(CHEAP, "ko"), str(subs / "solutions-ko" / CHEAP.name))

    t0 = time.perf_counter()
    rows = gr.grade_folder(subs, course, tmp_path / "scores.csv", source=SOURCE, regenerate=False)
    print(f"graded {len(NOTEBOOKS)} untouched + 1 solution notebook in {time.perf_counter() - t0:.1f} s")
    by = _rows_by(rows)

    # the CSV is the same table
    with open(tmp_path / "scores.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [(r["student"], r["notebook"], r["grade_id"]) for r in table] == \
           [(r["student"], r["notebook"], r["grade_id"]) for r in rows]
    assert tuple(table[0]) == gr.SCORE_COLUMNS

    for path in NOTEBOOKS:
        exs = sc.exercises(path)
        # untouched: graded (nbgrader exit 0), 0 points on every exercise ...
        for e in exs:
            r = by[("untouched", path.stem, e.check_id)]
            assert (r["status"], r["score"], r["max_score"]) == ("graded", 0.0, e.points), r
        # ... and errors only in the graded check cells, each with the check's short hint
        nb = _autograded(course, "untouched", path)
        errors = _error_cells(nb)
        assert all(_grade_cell(nb, i) for i in errors), \
            f"{path.name}: with the stubs, cells other than the checks fail: " \
            f"{ {i: e for i, e in errors.items() if not _grade_cell(nb, i)} }"
        check_cells = [i for i, c in enumerate(nb.cells) if sc.is_check_cell(c)]
        assert len(check_cells) == len([e for e in exs if not e.manual])
        for i in check_cells:
            assert errors.get(i), f"{path.name} cell {i}: an unsolved exercise's check did not fail"
            ename, evalue = errors[i][0]
            assert ename == "ExerciseError" and HINT in evalue, (path.name, i, ename, evalue)
            # autograde put the hidden tests back into the graded cell
            gid = nb.cells[i].metadata["nbgrader"]["grade_id"]
            src = nbformat.read(str(path), as_version=4)
            want = next(c.source for c in src.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
            assert nb.cells[i].source == want

    # the solutions: full points (a written answer left as "YOUR ANSWER HERE" is 0), no error anywhere
    for e in sc.exercises(CHEAP):
        r = by[("solutions", CHEAP.stem, e.check_id)]
        want = 0.0 if e.manual else float(e.points)
        assert (r["status"], r["score"], r["max_score"]) == ("graded", want, float(e.points)), r
    assert _error_cells(_autograded(course, "solutions", CHEAP)) == {}
    # a Korean submission grades exactly like the English one: the same code cells, the same points
    for e in sc.exercises(CHEAP):
        ko, en = by[("solutions-ko", CHEAP.stem, e.check_id)], by[("solutions", CHEAP.stem, e.check_id)]
        assert (ko["status"], ko["score"], ko["max_score"]) == (en["status"], en["score"], en["max_score"]), (ko, en)
    assert _error_cells(_autograded(course, "solutions-ko", CHEAP)) == {}
    # notebooks a student did not hand in: listed as missing, 0 points
    others = [p for p in NOTEBOOKS if p != CHEAP]
    assert all(by[(who, p.stem, e.check_id)]["status"] == "missing" for who in ("solutions", "solutions-ko")
               for p in others for e in sc.exercises(p))


def test_autograde_broken_submissions_keep_the_other_points(course, tmp_path):
    exs = [e for e in sc.exercises(CHEAP) if not e.manual]
    first, rest = exs[0], exs[1:]
    bad = {
        "syntax_error": "return (",
        "raises": 'raise ValueError("a bug in my code")',
        "infinite_loop": "while True:\n        pass",
    }
    subs = tmp_path / "submissions"
    for student, code in bad.items():
        answers = {first.solution_id: code, **{e.solution_id: "solve" for e in rest}}
        _write(subs, student, CHEAP, _submission(CHEAP, course, answers))

    t0 = time.perf_counter()
    rows = gr.grade_folder(subs, course, tmp_path / "scores.csv", cell_timeout=BAD_CELL_TIMEOUT,
                           submission_timeout=240, source=SOURCE, regenerate=False)
    print(f"graded {len(bad)} broken submissions of {CHEAP.name} in {time.perf_counter() - t0:.1f} s")
    by = _rows_by(rows)
    released = nbformat.read(str(course / "release" / CHEAP.stem / CHEAP.name), as_version=4)
    sol_idx = next(i for i, c in enumerate(released.cells)
                   if c.metadata.get("nbgrader", {}).get("grade_id") == first.solution_id)
    for student in bad:
        r = by[(student, CHEAP.stem, first.check_id)]
        # nbgrader exited 0 (the submission was graded), the broken exercise scores 0 ...
        assert (r["status"], r["score"]) == ("graded", 0.0), r
        # ... and every other exercise keeps its points
        for e in rest:
            r = by[(student, CHEAP.stem, e.check_id)]
            assert (r["status"], r["score"]) == ("graded", float(e.points)), r
        # the broken exercise's check fails; no other graded check does. A syntax error or an exception stays in
        # the exercise's own cells; a hang also stops later cells that call the function (each at the cell limit)
        errors = _error_cells(_autograded(course, student, CHEAP))
        assert sol_idx + 1 in errors and not any(_grade_cell(released, i) for i in set(errors) - {sol_idx + 1}), \
            (student, errors)
        if student != "infinite_loop":
            assert set(errors) <= {sol_idx, sol_idx + 1}, (student, errors)
    assert _error_cells(_autograded(course, "syntax_error", CHEAP))[sol_idx][0][0] == "SyntaxError"
    assert "raised ValueError" in _error_cells(_autograded(course, "raises", CHEAP))[sol_idx + 1][0][1]


def test_outer_timeout_scores_zero_not_stale(course, tmp_path):
    """nbgrader killed by the outer timeout: status 'timeout', 0 points (never a previous run's grades)."""
    subs = tmp_path / "submissions"
    _write(subs, "killed", CHEAP, _submission(CHEAP, course, {e.solution_id: "solve" for e in sc.exercises(CHEAP)}))
    gr.import_submissions(subs, course, [CHEAP.stem])
    status = gr.autograde(course, CHEAP.stem, "killed", timeout=1)
    assert status == "timeout"
    rows = gr.scores(course, {("killed", CHEAP.stem): status}, SOURCE)
    assert rows and all(r["score"] == 0 and r["status"] == "timeout" for r in rows if r["notebook"] == CHEAP.stem)


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


def test_written_answers_are_left_for_manual_grading(tmp_path):
    from nbgrader.api import Gradebook

    _require_nbgrader()
    source, course = _tiny_source(tmp_path / "notebooks"), tmp_path / "course"
    assert "| 01_tiny | `t_why` | hand | 1 |" in sc.points_table(source)
    assert "| **01_tiny** | **total** | | **3** |" in sc.points_table(source)
    assert gr.generate_assignments(course, source) == ["01_tiny"]
    released = nbformat.read(str(course / "release" / "01_tiny" / "01_tiny.ipynb"), as_version=4)
    assert not any("Because." in c.source for c in released.cells), "the class release shows the model answer"
    assert [c.source for c in released.cells][-1] == "YOUR ANSWER HERE"

    subs = tmp_path / "submissions"
    _write(subs, "blank", source / "01_tiny.ipynb", released)
    answered = nbformat.from_dict(released)
    answered.cells[1].source = answered.cells[1].source.replace("raise NotImplementedError()", "return x + x")
    answered.cells[4].source = "Because two is more than one."
    _write(subs, "answered", source / "01_tiny.ipynb", answered)

    rows = gr.grade_folder(subs, course, tmp_path / "scores.csv", cell_timeout=BAD_CELL_TIMEOUT, source=source,
                           regenerate=False, verbose=False)
    by = {(r["student"], r["grade_id"]): (r["status"], r["score"], r["max_score"]) for r in rows}
    assert by == {("answered", "t_double_check"): ("graded", 2.0, 2.0),
                  ("answered", "t_why"): ("manual", 0.0, 1.0),     # waits for the instructor
                  ("blank", "t_double_check"): ("graded", 0.0, 2.0),
                  ("blank", "t_why"): ("graded", 0.0, 1.0)}        # unchanged answer: 0, nothing to grade
    assert "1 written answer(s) to grade by hand" in gr.format_totals(rows)

    # the instructor grades it (as formgrader does); the score table then counts it
    with Gradebook(f"sqlite:///{(course / 'gradebook.db').resolve()}") as gb:
        grade = gb.find_grade("t_why", "01_tiny", "01_tiny", "answered")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    rows = gr.scores(course, {("answered", "01_tiny"): "graded"}, source)
    assert {r["grade_id"]: (r["status"], r["score"]) for r in rows} == {"t_double_check": ("graded", 2.0),
                                                                        "t_why": ("graded", 1.0)}


def test_grading_kernels_run_the_shortened_notebooks_unless_asked_for_full_size(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("DLHELPERS_GRADE_FULL_SIZE", raising=False)
    assert gr.nbgrader_env()["CI"] == "true"                 # notebook 3 trains for seconds, not 5 minutes
    monkeypatch.setenv("DLHELPERS_GRADE_FULL_SIZE", "1")      # `python -m dlhelpers grade --full-size`
    assert "CI" not in gr.nbgrader_env()
    from dlhelpers.tools.cli import build_parser
    args = build_parser().parse_args(["grade", "subs", "--full-size"])
    assert args.full_size is True
