"""The CLI's commands for students and instructors: student copies, the nbgrader course, grading, the points table,
the common-mistakes page, and the translated editions (``i18n-update``, ``i18n-status``)."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def cmd_workbook(args) -> int:
    """``student-copies`` (alias ``workbook``): the student's copies in my-work/ (my-work/ko/ for Korean), missing
    ones only (no nbgrader)."""
    from dlhelpers.tools.student_copies import write_student_copies
    write_student_copies(args.out, lang=args.lang)
    return 0


def cmd_course(args) -> int:
    """Instructors: the nbgrader course (needs nbgrader; without it, a one-line error with the install command)."""
    from dlhelpers.tools import grading
    folder = Path(args.course_dir) if args.course_dir else grading.DEFAULT_COURSE_DIR
    try:
        if args.release:
            print("released to", folder / "release", ":", *grading.generate_assignments(folder, lang=args.lang))
        else:
            print("wrote", folder / "source", ":", *grading.build_course(folder, lang=args.lang))
    except grading.NbgraderMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_grade(args) -> int:
    """Instructors: autograde a folder of submissions (needs nbgrader)."""
    if args.full_size:
        os.environ["DLHELPERS_GRADE_FULL_SIZE"] = "1"
    from dlhelpers.tools import grading
    try:
        grading.grade_folder(args.submissions, args.course_dir, args.csv, args.cell_timeout, args.submission_timeout)
    except grading.NbgraderMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_points_table(args) -> int:
    from dlhelpers.tools.student_copies import points_table
    print(points_table(), end="")
    return 0


def cmd_mistakes_page(args) -> int:
    from dlhelpers.tools.catalogues import write_page
    print("wrote", write_page())
    return 0


def cmd_i18n_update(args) -> int:
    from dlhelpers.tools.student_copies import numbered_notebooks
    from dlhelpers.tools.translation import catalogue_path, update_catalogue
    for path in numbered_notebooks():
        counts = update_catalogue(path, args.lang)
        print(f"{catalogue_path(path, args.lang)}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    from dlhelpers.tools.translation import update_message_catalogue
    print(update_message_catalogue(args.lang))
    return 0


def cmd_i18n_status(args) -> int:
    from dlhelpers.tools.student_copies import numbered_notebooks
    from dlhelpers.tools.translation import message_status, status_table
    print(status_table(numbered_notebooks(), args.lang))
    print(message_status(args.lang))
    return 0


def commands() -> list[dict]:
    """This module's commands, as records for ``dlhelpers.tools.cli`` (its ``Command``'s fields)."""
    def student_copies(w):
        w.add_argument("--out", default=None,
                       help="folder for the copies (default my-work/, or my-work/ko/ for --lang ko)")
        w.add_argument("--lang", choices=("en", "ko"), default="en", help="the course's language (ko: 한국어)")

    def course(c):
        c.add_argument("--course-dir", default=None, help="default course/ in the repository")
        c.add_argument("--release", action="store_true", help="also run nbgrader generate_assignment → course/release/")
        c.add_argument("--lang", choices=("en", "ko"), default="en", help="the language of the notebooks handed out")

    def grade(g):
        g.add_argument("submissions")
        g.add_argument("--course-dir", default=None, help="default course/ in the repository")
        g.add_argument("--csv", default=None, help="score table path (default course/scores.csv)")
        g.add_argument("--cell-timeout", type=int, default=300, help="per-cell limit in seconds")
        g.add_argument("--full-size", action="store_true",
                       help="run the notebooks at full size (default: CI=true, their shortened runs; the same checks)")
        g.add_argument("--submission-timeout", type=float, default=None,
                       help="outer limit per notebook and student in seconds (default 20 × cell timeout)")

    def lang(u):
        u.add_argument("--lang", choices=("ko",), default="ko")

    return [
        dict(name="student-copies", aliases=("workbook",), audience="students", run=cmd_workbook,
             arguments=student_copies,
             help="write your own copies of the notebooks into my-work/ (missing ones only; no solutions)"),
        dict(name="course", audience="instructors", run=cmd_course, arguments=course,
             help="nbgrader course/source/ from notebooks/ (--release: also release)"),
        dict(name="grade", audience="instructors", run=cmd_grade, arguments=grade,
             help="autograde DIR/<student>/NN_name.ipynb into a CSV score table"),
        dict(name="points-table", audience="instructors", run=cmd_points_table,
             help="print the points table that INSTRUCTORS.md carries"),
        dict(name="mistakes-page", audience="instructors", run=cmd_mistakes_page,
             help="write docs/COMMON_MISTAKES.md from the exercise catalogues"),
        dict(name="i18n-update", audience="translators", run=cmd_i18n_update, arguments=lang,
             help="bring translations/<lang>/*.po in step with the English"),
        dict(name="i18n-status", audience="translators", run=cmd_i18n_status, arguments=lang,
             help="translated / fuzzy / missing entries per notebook"),
    ]
