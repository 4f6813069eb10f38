"""Student versions of the notebooks, and the instructor's nbgrader course, built from ``notebooks/`` on demand.

The notebooks in ``notebooks/`` are the single source: each exercise is authored in nbgrader's source format
(a solution cell with ``### BEGIN SOLUTION`` / ``### END SOLUTION``, then a locked, graded check cell that may end
with a ``### BEGIN HIDDEN TESTS`` region). Everything else is generated, never edited by hand:

* ``write_workbook(out)`` — ``python -m dlhelpers workbook`` — the self-study student versions, made by nbgrader's
  own preprocessors (the ones ``nbgrader generate_assignment`` runs, minus its gradebook): solutions replaced by
  ``raise NotImplementedError()``, hidden tests removed, outputs cleared, graded cells locked.
* ``build_course(course_dir)`` — ``python -m dlhelpers.workbook course`` — the git-ignored nbgrader course
  directory ``course/source/<NN_name>/<NN_name>.ipynb`` that the repository's ``nbgrader_config.py`` points at.
* ``grade_folder(submissions)`` — ``python -m dlhelpers.workbook grade DIR`` — runs ``nbgrader autograde`` on a
  folder of submitted notebooks (``DIR/<student>/<NN_name>.ipynb``), one notebook of one student at a time under a
  per-cell timeout and an outer timeout, and writes one CSV row per student and exercise.

nbgrader is an optional dependency (``pip install -e ".[instructor]"``); the course itself never imports it.
See INSTRUCTORS.md for the commands.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from dlhelpers.io import REPO_ROOT, PathLike

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
NBGRADER_CONFIG = REPO_ROOT / "nbgrader_config.py"
DEFAULT_COURSE_DIR = REPO_ROOT / "course"
NOTEBOOK_PATTERN = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")
ASSIGNMENT_GLOB = "[0-9][0-9]_*"  # the course's assignments in course/source/, for nbgrader commands
INSTALL_HINT = 'pip install -e ".[instructor]"'

# Per-cell limit for autograding (seconds). The slowest cell of a notebook takes well under a minute on a
# 2-core laptop; five minutes leaves room for slower machines and still ends a submission that loops forever.
DEFAULT_CELL_TIMEOUT = 300


class NbgraderMissing(ImportError):
    """nbgrader (an optional, instructor-only dependency) is not installed."""


def _require_nbgrader():
    try:
        import nbgrader.preprocessors as pre  # noqa: F401
    except ImportError as exc:
        raise NbgraderMissing(
            f"making student versions of the notebooks needs nbgrader, an optional dependency. Install it with\n"
            f"    {INSTALL_HINT}\n(from the repository root), then run the command again.") from exc
    return pre


# ---------------------------------------------------------------------------------------------- the notebooks
def numbered_notebooks(source: Optional[PathLike] = None) -> list[Path]:
    """The course notebooks ``NN_name.ipynb`` in ``source`` (default ``notebooks/``), in order."""
    folder = Path(source) if source is not None else NOTEBOOKS_DIR
    paths = sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name))
    if not paths:
        raise FileNotFoundError(f"no course notebooks (NN_name.ipynb) in {folder}")
    return paths


def assignment_name(notebook: PathLike) -> str:
    """The nbgrader assignment of a notebook: its file name without ``.ipynb`` (``01_sampling``)."""
    return Path(notebook).stem


@dataclass(frozen=True)
class Exercise:
    notebook: str      # "01_sampling"
    solution_id: str   # grade_id of the solution cell
    check_id: str      # grade_id of the graded check cell that follows it
    points: int


def exercises(notebook: PathLike) -> list[Exercise]:
    """The graded exercises of a source notebook: each solution cell and the graded check cell right after it."""
    import nbformat
    nb = nbformat.read(str(notebook), as_version=4)
    out = []
    for cell, nxt in zip(nb.cells, nb.cells[1:]):
        md, md_next = cell.metadata.get("nbgrader", {}), nxt.metadata.get("nbgrader", {})
        if md.get("solution") and md_next.get("grade"):
            out.append(Exercise(assignment_name(notebook), md["grade_id"], md_next["grade_id"],
                                int(md_next["points"])))
    return out


def points_table(source: Optional[PathLike] = None) -> str:
    """The Markdown table of graded cells and points per notebook that INSTRUCTORS.md carries (a test compares)."""
    lines = ["| notebook | graded cell (`grade_id`) | points |", "|---|---|---:|"]
    total = 0
    for path in numbered_notebooks(source):
        ex = exercises(path)
        for e in ex:
            lines.append(f"| {e.notebook} | `{e.check_id}` | {e.points} |")
        subtotal = sum(e.points for e in ex)
        total += subtotal
        lines.append(f"| **{assignment_name(path)}** | **total** | **{subtotal}** |")
    lines.append(f"| **course** | **total** | **{total}** |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------- student versions
def student_notebook(nb):
    """The student version of a source notebook (an ``nbformat.NotebookNode``; the input is not modified).

    Runs nbgrader's own preprocessors in ``nbgrader generate_assignment``'s order (without the gradebook, header
    and test-template steps): LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums,
    ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata.
    """
    import copy

    import nbformat
    from nbconvert.exporters import NotebookExporter
    from traitlets.config import Config

    pre = _require_nbgrader()
    exporter = NotebookExporter(config=Config())
    for cls in (pre.LockCells, pre.ClearSolutions, pre.ClearOutput, pre.CheckCellMetadata, pre.ComputeChecksums,
                pre.ClearHiddenTests, pre.ClearMarkScheme, pre.ComputeChecksums, pre.CheckCellMetadata):
        exporter.register_preprocessor(cls(), enabled=True)
    body, _ = exporter.from_notebook_node(copy.deepcopy(nb), resources={})
    return nbformat.reads(body, as_version=4)


def write_workbook(out: PathLike = "workbook", source: Optional[PathLike] = None, force: bool = False) -> list[Path]:
    """Write the student version of every course notebook into ``out`` (default ``workbook/``).

    A notebook already in ``out`` is kept (it may hold the student's work) unless ``force`` is true; delete it to
    get a fresh copy. Returns the paths written.
    """
    import nbformat

    from dlhelpers.io import atomic_write

    _require_nbgrader()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in numbered_notebooks(source):
        target = out / path.name
        if target.exists() and not force:
            print(f"kept {target} (it may hold your work; delete it to get a fresh copy)")
            continue
        student = student_notebook(nbformat.read(str(path), as_version=4))
        data = nbformat.writes(student).encode("utf-8")
        atomic_write(target, lambda f: f.write(data))
        written.append(target)
        print(f"wrote {target}")
    if written:
        print(f"open them with: jupyter lab {out}")
    return written


# ------------------------------------------------------------------------------------------ the nbgrader course
def build_course(course_dir: Optional[PathLike] = None, source: Optional[PathLike] = None) -> list[str]:
    """(Re)generate ``course_dir/source/<NN_name>/<NN_name>.ipynb`` from ``notebooks/``; returns the assignments.

    ``course/`` is git-ignored and generated: the notebooks in ``notebooks/`` stay the only copy to edit.
    """
    course = Path(course_dir) if course_dir is not None else DEFAULT_COURSE_DIR
    names = []
    for path in numbered_notebooks(source):
        name = assignment_name(path)
        folder = course / "source" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copyfile(path, folder / path.name)
        names.append(name)
    write_course_config(course)
    return names


def write_course_config(course_dir: PathLike) -> Path:
    """``course_dir/nbgrader_config.py``: the repository's config with the course root set to ``course_dir``, so
    that nbgrader run inside ``course_dir`` (as ``run_nbgrader`` does) finds both."""
    course = Path(course_dir).resolve()
    course.mkdir(parents=True, exist_ok=True)
    text = (f"# Generated by dlhelpers.workbook: the repository's nbgrader config, rooted in this folder.\n"
            f"c = get_config()  # noqa: F821\n"
            f"load_subconfig({str(NBGRADER_CONFIG)!r})  # noqa: F821\n"
            f"c.CourseDirectory.root = {str(course)!r}\n")
    target = course / "nbgrader_config.py"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
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
    _require_nbgrader()
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
    autograde status. A notebook not graded (missing, failed, timed out) scores 0 on every cell, never a stale grade.
    """
    from nbgrader.api import Gradebook, MissingEntry

    course = Path(course_dir).resolve()
    table = {assignment_name(p): exercises(p) for p in numbered_notebooks(source)}
    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in sorted({s for s, _ in results}):
            for notebook, exs in table.items():
                status = results.get((student, notebook), "missing")
                if status == "graded":
                    try:
                        found = {e.check_id: float(gb.find_grade(e.check_id, notebook, notebook, student).score)
                                 for e in exs}
                    except MissingEntry:  # graded against an older version of the notebook
                        status = "failed"
                for e in exs:
                    score = found[e.check_id] if status == "graded" else 0.0
                    rows.append(dict(student=student, notebook=notebook, grade_id=e.check_id, score=score,
                                     max_score=float(e.points), status=status))
    return rows


def write_scores_csv(rows: list[dict], path: PathLike) -> Path:
    from dlhelpers.io import atomic_write

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SCORE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "score": f"{r['score']:g}", "max_score": f"{r['max_score']:g}"})
    data = buf.getvalue().encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))


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
    """A short per-student, per-notebook summary of score rows."""
    totals: dict = {}
    for r in rows:
        key = (r["student"], r["notebook"])
        s, m, _ = totals.get(key, (0.0, 0.0, r["status"]))
        totals[key] = (s + r["score"], m + r["max_score"], r["status"])
    return "\n".join(f"{st:<20} {nb:<24} {s:g}/{m:g}  {status}" for (st, nb), (s, m, status) in totals.items())


# --------------------------------------------------------------------------------------------------- CLI
def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dlhelpers.workbook",
                                description="student versions and nbgrader autograding of the course notebooks")
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("workbook", help="write student versions (same as `python -m dlhelpers workbook`)")
    w.add_argument("--out", default="workbook")
    w.add_argument("--force", action="store_true", help="overwrite notebooks already in --out")
    c = sub.add_parser("course", help="generate course/source/ from notebooks/ (add --release for course/release/)")
    c.add_argument("--course-dir", default=None)
    c.add_argument("--release", action="store_true", help="also run nbgrader generate_assignment for each notebook")
    g = sub.add_parser("grade", help="autograde DIR/<student>/NN_name.ipynb into a CSV score table")
    g.add_argument("submissions")
    g.add_argument("--course-dir", default=None)
    g.add_argument("--csv", default=None, help="score table path (default course/scores.csv)")
    g.add_argument("--cell-timeout", type=int, default=DEFAULT_CELL_TIMEOUT)
    g.add_argument("--submission-timeout", type=float, default=None,
                   help="outer limit per notebook and student in seconds (default 20 × cell timeout)")
    sub.add_parser("points-table", help="print the points table that INSTRUCTORS.md carries")
    args = p.parse_args(argv)
    try:
        if args.command == "workbook":
            write_workbook(args.out, force=args.force)
        elif args.command == "course":
            if args.release:
                names = generate_assignments(args.course_dir)
                print("released to", Path(args.course_dir or DEFAULT_COURSE_DIR) / "release", ":", *names)
            else:
                names = build_course(args.course_dir)
                print("wrote", Path(args.course_dir or DEFAULT_COURSE_DIR) / "source", ":", *names)
        elif args.command == "grade":
            grade_folder(args.submissions, args.course_dir, args.csv, args.cell_timeout, args.submission_timeout)
        elif args.command == "points-table":
            print(points_table(), end="")
    except NbgraderMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
