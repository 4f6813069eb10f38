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


def test_the_course_has_six_numbered_notebooks():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1)), f"notebook numbers must run 01, 02, …: {IDS}"
    assert len(numbers) >= 6, f"expected the six course notebooks, found {IDS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_small_valid_and_without_images(path):
    size = path.stat().st_size
    assert size < 1_000_000, f"{path.name} is {size / 1e6:.2f} MB; strip outputs (limit 1 MB)"
    nb = _load(path)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("language") == "python", "nbgrader needs kernelspec.language"
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state (pictures, slider values); strip it"
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


# ------------------------------------------------------------------------- reading load, answers, predictions
MAX_PROSE_WORDS = 2000
MAX_PROSE_WORDS_OPTIONAL = 1200       # a "going further" notebook (07): short, on top of the course (issue 34)
_FOLDED = re.compile(r"<details>.*?</details>", re.S)


def prose_words(nb) -> int:
    """Words of prose on the main path: markdown outside folded ``<details>`` boxes (hints, "Going further", model
    answers), display math (``$$…$$``) and fenced code; a word is a whitespace-separated token."""
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = _FOLDED.sub(" ", cell.source)
        text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
        text = re.sub(r"```.*?```", " ", text, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        n += len([w for w in text.split() if re.search(r"\w", w)])
    return n


def test_prose_words_counts_what_it_says():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("One two, three.\n\n$$x = 1$$\n"
                                      "<details><summary>Hint</summary>four five</details>"),
        nbformat.v4.new_code_cell("six seven"),
        nbformat.v4.new_markdown_cell("```\neight\n```\n— nine $a$")])
    assert prose_words(nb) == 5        # One two, three. nine $a$


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_main_path_prose_is_at_most_2000_words(path):
    nb = _load(path)
    optional = "going further" in nb.cells[0].source.splitlines()[0].lower()
    limit = MAX_PROSE_WORDS_OPTIONAL if optional else MAX_PROSE_WORDS
    words = prose_words(nb)
    assert words <= limit, (f"{path.name}: {words} words of prose outside folded boxes (limit "
                                      f"{limit}); fold what a learner may skip into <details> "
                                      "'Going further'")


def _answer_lines(source: str) -> list:
    """The solution region's lines worth hiding: code (comments and indentation dropped), 12+ characters."""
    region = source.split(BEGIN_SOL, 1)[1].split(END_SOL, 1)[0]
    lines = []
    for line in region.split("\n"):
        code = " ".join(re.sub(r"\s+#.*$", "", line).split())
        if code.startswith("#"):
            continue
        expr = re.sub(r"^(return\s+|[\w.,\[\] ]+?\s*[-+*/]?=\s*)", "", code)   # also the bare expression
        if not re.search(r"[-+*/@]|\(.*[^\w, ].*\)", expr):   # a bare name, index or call on plain names
            expr = code
        lines += [c for c in dict.fromkeys((code, expr)) if len(c) >= 12]
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_answer_line_is_printed_above_its_stub(path):
    """What the student sees above a stub (cells, outputs, hints) never contains a line of that exercise's answer."""
    nb = _load(path)
    student = student_copy(nb, path.name)
    for i, cell, md in _nbgrader_cells(nb):
        if not md.get("solution") or is_written_answer(cell):
            continue
        outputs = [str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                   for above in nb.cells[:i] for o in above.get("outputs", [])]
        shown = "\n".join(" ".join(t.split()) for t in [c.source for c in student.cells[:i]] + outputs)
        leaked = [ln for ln in _answer_lines(cell.source) if ln in shown]
        assert not leaked, f"{path.name} {md['grade_id']}: answer lines shown above the stub: {leaked}"


def test_answer_lines_catch_a_planted_leak():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    y = torch.sqrt(x) * 2   # root\n    return y\n    ### END SOLUTION\n"
    assert _answer_lines(src) == ["y = torch.sqrt(x) * 2", "torch.sqrt(x) * 2"]


PREDICT = re.compile(r"\*\*Predict[:.]?\*\*")
GUESS_TAG = "guess"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_predict_prompt_has_a_guess_cell_and_a_reveal(path):
    """A Predict prompt is followed by an ungraded code cell tagged ``guess`` assigning one name; a later cell
    reveals it with ``reveal(lambda: NAME, …)``."""
    nb = _load(path)
    prompts = [i for i, c in enumerate(nb.cells)
               if c.cell_type == "markdown" and PREDICT.search(_FOLDED.sub("", c.source))]
    guesses = [i for i, c in enumerate(nb.cells) if GUESS_TAG in c.metadata.get("tags", [])]
    assert prompts, f"{path.name}: no Predict prompt"
    assert [i + 1 for i in prompts] == guesses, f"{path.name}: Predict prompts at {prompts}, guess cells at {guesses}"
    for i in guesses:
        cell = nb.cells[i]
        assert cell.cell_type == "code" and "nbgrader" not in cell.metadata, f"{path.name} cell {i}: ungraded code"
        names = re.findall(r"^(\w+)\s*=", cell.source, flags=re.M)
        assert len(names) == 1, f"{path.name} cell {i}: a guess cell assigns exactly one name, got {names}"
        later = "\n".join(c.source for c in nb.cells[i + 1:] if c.cell_type == "code")
        assert re.search(rf"reveal\(\s*lambda:\s*{names[0]}\b", later), \
            f"{path.name} cell {i}: no later `reveal(lambda: {names[0]}, …)`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_code_exercise_has_folded_hints(path):
    """Between the previous graded cell and a stub, a markdown cell holds ``<details><summary>Hint 1``."""
    nb = _load(path)
    start = 0
    for i, cell, md in _nbgrader_cells(nb):
        if md.get("solution") and not is_written_answer(cell):
            prose = "\n".join(c.source for c in nb.cells[start:i] if c.cell_type == "markdown")
            assert re.search(r"<details>\s*<summary>\s*Hint 1", prose), f"{path.name} {md['grade_id']}: no Hint 1"
        if md.get("grade"):
            start = i + 1


# A line that starts with a number of three or more digits and ")" or "." — a year carried over from the line
# above, "2024) is …" — is an ordered-list item to CommonMark: JupyterLab renders "2024. is …" as a new list.
YEAR_AS_LIST = re.compile(r"^\s*\d{3,}[.)](\s|$)")


def _markdown_lines(text: str) -> list:
    return [ln for ln in text.splitlines() if YEAR_AS_LIST.match(ln)]


def test_the_list_trap_is_seen():
    assert _markdown_lines("… (Black Forest Labs,\n  2024) is a rectified-flow transformer")
    assert not _markdown_lines("1. a list item\n10) another\n(Ho & Salimans, 2022) follows")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_markdown_line_starts_with_a_year_that_becomes_a_list(path):
    nb = nbformat.read(str(path), as_version=4)
    bad = [(i, ln) for i, c in enumerate(nb.cells) if c.cell_type == "markdown" for ln in _markdown_lines(c.source)]
    assert not bad, f"{path.name}: rewrap these lines (CommonMark reads them as list items): {bad}"


def test_no_translated_line_starts_with_a_year_that_becomes_a_list():
    import polib
    bad = [(po.name, ln) for po in sorted((REPO_ROOT / "translations").glob("*/*.po"))
           for e in polib.pofile(str(po)) for ln in _markdown_lines(e.msgstr)]
    assert not bad, f"rewrap these translated lines (CommonMark reads them as list items): {bad}"
