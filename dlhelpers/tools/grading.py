"""The instructor's nbgrader course and autograding, built from ``notebooks/`` on demand (needs nbgrader).

Students never need this module: their copies come from ``dlhelpers.tools.student_copies``. nbgrader is an
optional dependency (``pip install -e ".[instructor]"``); nothing else in the course imports it.

* ``build_course(course_dir)`` — ``python -m dlhelpers course`` — the git-ignored nbgrader course directory
  ``course/source/<NN_name>/<NN_name>.ipynb``, the *class version* of each notebook (``student_copies.class_version``:
  the ``self-study-answer`` model answers dropped), that the repository's ``nbgrader_config.py`` points at;
  ``--release`` also runs ``nbgrader generate_assignment`` (``generate_assignments``).
* ``grade_folder(submissions)`` — ``python -m dlhelpers grade DIR`` — runs ``nbgrader autograde`` on a folder of
  submitted notebooks (``DIR/<student>/<NN_name>.ipynb``), one notebook of one student at a time under a per-cell
  timeout and an outer timeout, and writes one CSV row per student and graded cell. Written answers (markdown,
  nbgrader ``solution`` + ``grade``) are left for manual grading (status ``manual`` until graded in formgrader).
* ``nbgrader_student_version(nb)`` — what ``nbgrader generate_assignment`` makes of a notebook's cells, by its own
  preprocessors; the tests compare it with ``student_copies.student_copy``.

See INSTRUCTORS.md for the commands.
"""
from __future__ import annotations

import copy
import csv
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence

from dlhelpers.io import REPO_ROOT, PathLike, atomic_write_bytes
from dlhelpers.tools.student_copies import assignment_name, class_version, exercises, numbered_notebooks

NBGRADER_CONFIG = REPO_ROOT / "nbgrader_config.py"
DEFAULT_COURSE_DIR = REPO_ROOT / "course"
ASSIGNMENT_GLOB = "[0-9][0-9]_*"  # the course's assignments in course/source/, for nbgrader commands
INSTALL_HINT = 'pip install -e ".[instructor]"'

# Per-cell limit for autograding (seconds). The slowest cell of a notebook takes well under a minute on a
# 2-core laptop; five minutes leaves room for slower machines and still ends a submission that loops forever.
DEFAULT_CELL_TIMEOUT = 300


class NbgraderMissing(ImportError):
    """nbgrader (an optional, instructor-only dependency) is not installed."""


def require_nbgrader():
    """nbgrader's preprocessors module, or NbgraderMissing with the install command."""
    try:
        import nbgrader.preprocessors as pre
    except ImportError as exc:
        raise NbgraderMissing(
            f"the instructor commands (course, grade) need nbgrader, an optional dependency. Install it with\n"
            f"    {INSTALL_HINT}\n(from the repository root), then run the command again. Students do not need it: "
            f"`python -m dlhelpers student-copies` makes their copies without it.") from exc
    return pre


def nbgrader_student_version(nb):
    """The student version of a notebook by nbgrader's own preprocessors, in ``generate_assignment``'s order
    (without the gradebook, header and test-template steps): LockCells, ClearSolutions, ClearOutput,
    CheckCellMetadata, ComputeChecksums, ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata."""
    import nbformat
    from nbconvert.exporters import NotebookExporter
    from traitlets.config import Config

    pre = require_nbgrader()
    exporter = NotebookExporter(config=Config())
    for cls in (pre.LockCells, pre.ClearSolutions, pre.ClearOutput, pre.CheckCellMetadata, pre.ComputeChecksums,
                pre.ClearHiddenTests, pre.ClearMarkScheme, pre.ComputeChecksums, pre.CheckCellMetadata):
        exporter.register_preprocessor(cls(), enabled=True)
    body, _ = exporter.from_notebook_node(copy.deepcopy(nb), resources={})
    return nbformat.reads(body, as_version=4)


# ------------------------------------------------------------------------------------------ the nbgrader course
def build_course(course_dir: Optional[PathLike] = None, source: Optional[PathLike] = None) -> list[str]:
    """(Re)generate ``course_dir/source/<NN_name>/<NN_name>.ipynb`` (class versions) from ``notebooks/``.

    Returns the assignment names. ``course/`` is git-ignored and generated: ``notebooks/`` stays the only copy to
    edit.
    """
    import nbformat

    course = Path(course_dir) if course_dir is not None else DEFAULT_COURSE_DIR
    names = []
    for path in numbered_notebooks(source):
        name = assignment_name(path)
        folder = course / "source" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        nb = class_version(nbformat.read(str(path), as_version=4))
        atomic_write_bytes(folder / path.name, nbformat.writes(nb).encode("utf-8"))
        names.append(name)
    write_course_config(course)
    return names


def write_course_config(course_dir: PathLike) -> Path:
    """``course_dir/nbgrader_config.py``: the repository's config with the course root set to ``course_dir``, so
    that nbgrader run inside ``course_dir`` (as ``run_nbgrader`` does) finds both."""
    course = Path(course_dir).resolve()
    course.mkdir(parents=True, exist_ok=True)
    text = (f"# Generated by `python -m dlhelpers course`: the repository's nbgrader config, rooted in this folder.\n"
            f"c = get_config()  # noqa: F821\n"
            f"load_subconfig({str(NBGRADER_CONFIG)!r})  # noqa: F821\n"
            f"c.CourseDirectory.root = {str(course)!r}\n")
    target = course / "nbgrader_config.py"
    if not target.exists() or target.read_text() != text:
        atomic_write_bytes(target, text.encode("utf-8"))
    return target


def nbgrader_env() -> dict:
    """The environment for nbgrader: this Python's ``bin`` first on PATH (nbgrader runs ``alembic`` from there)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run_nbgrader(args: Sequence[str], course_dir: PathLike, timeout: Optional[float] = None,
                 log: Optional[io.TextIOBase] = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` on ``course_dir`` with the repository's ``nbgrader_config.py``.

    Runs in ``course_dir``, where ``write_course_config`` puts a config that loads the repository's (and nothing
    lands in the caller's folder). Raises ``subprocess.TimeoutExpired`` after
    ``timeout`` seconds (the process is killed).
    """
    require_nbgrader()
    course = Path(course_dir).resolve()
    write_course_config(course)
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"]
    # Its own process group, so that a timeout ends nbgrader and every kernel it started (kernels run in their own
    # sessions: they are found as descendants and ended by id before nbgrader itself).
    popen = subprocess.Popen(cmd, cwd=course, env=nbgrader_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        out, err = popen.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(popen)
        out, err = popen.communicate()
        if log is not None:
            log.write(f"$ {' '.join(cmd)}\n{out}{err}(killed after {timeout} s)\n")
        raise subprocess.TimeoutExpired(cmd, timeout, out, err) from None
    if log is not None:
        log.write(f"$ {' '.join(cmd)}\n{out}{err}(exit {popen.returncode})\n")
    return subprocess.CompletedProcess(cmd, popen.returncode, out, err)


def _kill_tree(popen: subprocess.Popen) -> None:
    """SIGKILL a process started by ``run_nbgrader`` and all its descendants, by process id."""
    import signal

    pids = []
    try:
        import psutil
        pids = [c.pid for c in psutil.Process(popen.pid).children(recursive=True)]
    except Exception:  # psutil missing or the process already gone: the kernels notice their parent died
        pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except OSError:
        popen.kill()


def generate_assignments(course_dir: Optional[PathLike] = None, source: Optional[PathLike] = None,
                         timeout: float = 600) -> list[str]:
    """``build_course`` + ``nbgrader generate_assignment`` for every notebook → ``course_dir/release/``."""
    course = Path(course_dir) if course_dir is not None else DEFAULT_COURSE_DIR
    names = build_course(course, source)
    # One nbgrader run for all of them (its start-up costs seconds): the assignment id is a glob.
    proc = run_nbgrader(["generate_assignment", ASSIGNMENT_GLOB, "--force"], course, timeout=timeout)
    missing = [n for n in names if not (course / "release" / n / f"{n}.ipynb").exists()]
    if proc.returncode != 0 or missing:
        raise RuntimeError(f"nbgrader generate_assignment failed (exit {proc.returncode}; not released: {missing}):"
                           f"\n{proc.stdout}{proc.stderr}")
    return names


# ------------------------------------------------------------------------------------------------- grading
SCORE_COLUMNS = ("student", "notebook", "grade_id", "score", "max_score", "status")


def import_submissions(submissions: PathLike, course_dir: PathLike, assignments: Iterable[str]) -> dict:
    """Copy ``submissions/<student>/<NN_name>.ipynb`` into nbgrader's ``course_dir/submitted/<student>/<NN_name>/``.

    Returns {student: [assignments submitted]}. Files that are not course notebooks are ignored.
    """
    wanted = set(assignments)
    found: dict = {}
    for student_dir in sorted(p for p in Path(submissions).iterdir() if p.is_dir()):
        for nb in sorted(student_dir.glob("*.ipynb")):
            name = assignment_name(nb)
            if name not in wanted:
                continue
            target = Path(course_dir) / "submitted" / student_dir.name / name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            shutil.copyfile(nb, target / nb.name)
            found.setdefault(student_dir.name, []).append(name)
    return found


def autograde(course_dir: PathLike, assignment: str, student: str, cell_timeout: int = DEFAULT_CELL_TIMEOUT,
              timeout: Optional[float] = None, log: Optional[io.TextIOBase] = None) -> str:
    """``nbgrader autograde ASSIGNMENT --student=STUDENT --force --ExecutePreprocessor.timeout=CELL_TIMEOUT``.

    Returns "graded", "failed" (nbgrader exited non-zero: the submission could not be graded) or "timeout" (the
    outer ``timeout`` ended it; default 20 × ``cell_timeout``).
    """
    timeout = timeout if timeout is not None else 20 * cell_timeout
    args = ["autograde", assignment, f"--student={student}", "--force",
            f"--ExecutePreprocessor.timeout={int(cell_timeout)}"]
    try:
        proc = run_nbgrader(args, course_dir, timeout=timeout, log=log)
    except subprocess.TimeoutExpired:
        if log is not None:
            log.write(f"$ nbgrader {' '.join(args)}: killed after {timeout} s\n")
        return "timeout"
    return "graded" if proc.returncode == 0 else "failed"


def scores(course_dir: PathLike, results: dict, source: Optional[PathLike] = None) -> list[dict]:
    """One row per (student, notebook, graded cell) from the gradebook; ``results[(student, notebook)]`` is the
    autograde status. A notebook not graded (missing, failed, timed out) scores 0 on every cell, never a stale
    grade. A written answer that still waits for its manual grade has status ``manual`` and scores 0 for now
    (an unchanged answer, "YOUR ANSWER HERE", is scored 0 by nbgrader itself and counts as graded).
    """
    from nbgrader.api import Gradebook, MissingEntry

    course = Path(course_dir).resolve()
    table = {assignment_name(p): exercises(p) for p in numbered_notebooks(source)}
    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in sorted({s for s, _ in results}):
            for notebook, exs in table.items():
                status = results.get((student, notebook), "missing")
                found: dict = {}
                if status == "graded":
                    try:
                        for e in exs:
                            grade = gb.find_grade(e.check_id, notebook, notebook, student)
                            found[e.check_id] = (float(grade.score), "manual" if grade.needs_manual_grade else status)
                    except MissingEntry:  # graded against an older version of the notebook
                        status = "failed"
                for e in exs:
                    score, cell_status = found[e.check_id] if status == "graded" else (0.0, status)
                    rows.append(dict(student=student, notebook=notebook, grade_id=e.check_id, score=score,
                                     max_score=float(e.points), status=cell_status))
    return rows


def write_scores_csv(rows: list[dict], path: PathLike) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SCORE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "score": f"{r['score']:g}", "max_score": f"{r['max_score']:g}"})
    return atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def grade_folder(submissions: PathLike, course_dir: Optional[PathLike] = None, csv_path: Optional[PathLike] = None,
                 cell_timeout: int = DEFAULT_CELL_TIMEOUT, submission_timeout: Optional[float] = None,
                 source: Optional[PathLike] = None, regenerate: bool = True, verbose: bool = True) -> list[dict]:
    """Autograde a folder of submissions ``submissions/<student>/<NN_name>.ipynb`` into a score table.

    Generates the assignments (gradebook + release) from ``notebooks/`` unless ``regenerate`` is false, copies the
    submissions into ``course_dir/submitted/``, autogrades each (student, notebook) on its own — a submission that
    hangs or crashes nbgrader costs only its own notebook — and writes ``csv_path`` (default
    ``course_dir/scores.csv``). The autograded notebooks (with hidden tests and outputs) are in
    ``course_dir/autograded/<student>/<NN_name>/``; nbgrader's output is in ``course_dir/autograde.log``.
    """
    if not Path(submissions).is_dir():
        raise ValueError(f"submissions: {submissions} is not a folder (expected <student>/NN_name.ipynb inside)")
    course = Path(course_dir) if course_dir is not None else DEFAULT_COURSE_DIR
    course.mkdir(parents=True, exist_ok=True)
    if regenerate:
        assignments = generate_assignments(course, source)
    else:
        assignments = [assignment_name(p) for p in numbered_notebooks(source)]
    found = import_submissions(submissions, course, assignments)
    if not found:
        raise FileNotFoundError(f"no submissions in {submissions} (expected {submissions}/<student>/NN_name.ipynb)")
    results = {}
    with open(course / "autograde.log", "a", encoding="utf-8") as log:
        for student, names in found.items():
            for name in names:
                t0, cpu0 = time.perf_counter(), _children_cpu()
                status = autograde(course, name, student, cell_timeout, submission_timeout, log=log)
                results[(student, name)] = status
                # CPU time of nbgrader and its kernel (once reaped): the wall time on an idle machine, roughly
                line = (f"{student} {name}: {status} in {time.perf_counter() - t0:.0f} s "
                        f"(CPU {_children_cpu() - cpu0:.0f} s)")
                log.write(line + "\n")
                if verbose:
                    print(line, flush=True)
    rows = scores(course, results, source)
    write_scores_csv(rows, csv_path if csv_path is not None else course / "scores.csv")
    if verbose:
        print(format_totals(rows))
    return rows


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished child processes (and theirs)."""
    try:
        import resource
    except ImportError:  # not on Unix
        return 0.0
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def format_totals(rows: list[dict]) -> str:
    """A short per-student, per-notebook summary of score rows (and how many answers wait for a manual grade)."""
    totals: dict = {}
    for r in rows:
        s, m, statuses = totals.setdefault((r["student"], r["notebook"]), [0.0, 0.0, []])
        totals[(r["student"], r["notebook"])] = [s + r["score"], m + r["max_score"], statuses + [r["status"]]]
    lines = []
    for (st, nb), (s, m, statuses) in totals.items():
        auto = [x for x in statuses if x != "manual"]
        note = f" + {statuses.count('manual')} written answer(s) to grade by hand" if "manual" in statuses else ""
        lines.append(f"{st:<20} {nb:<24} {s:g}/{m:g}  {auto[0] if auto else 'graded'}{note}")
    return "\n".join(lines)


