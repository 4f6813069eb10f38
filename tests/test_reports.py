"""Where things live: ``data/`` holds what the course loads, ``reports/`` what the project measured; each table
lives in one file (the README carries headline numbers and links, the benchmark report links the trial tables)."""
import re
import subprocess
from pathlib import Path

from dlhelpers.io import DATA_DIR, REPO_ROOT
from dlhelpers.tools.bench import report as R

REPORTS = REPO_ROOT / "reports"
DATA_CARD = DATA_DIR / "README.md"
# the Markdown files that hold tables a reader is sent to
DOCUMENTS = [REPO_ROOT / "README.md", REPO_ROOT / "README.ko.md", REPO_ROOT / "INSTRUCTORS.md",
             *sorted((REPO_ROOT / "docs").glob("*.md")), *sorted(REPORTS.glob("*.md")), *sorted(DATA_DIR.rglob("*.md"))]


def _tracked(folder: Path) -> list:
    """The files under ``folder`` that git tracks (all files there outside a git checkout, e.g. an sdist)."""
    out = subprocess.run(["git", "ls-files", "-z", str(folder)], cwd=REPO_ROOT, capture_output=True, text=True)
    names = [n for n in out.stdout.split("\0") if n]
    if out.returncode or not names:
        return sorted(p for p in folder.rglob("*") if p.is_file())
    return sorted(REPO_ROOT / n for n in names)


def _package_text() -> str:
    return "\n".join(p.read_text() for p in (REPO_ROOT / "dlhelpers").rglob("*.py"))


def _manifest_files() -> set:
    """Every file a weights manifest in data/ lists (what load_pretrained reads, checksum-verified)."""
    import json
    names = set()
    for manifest in DATA_DIR.rglob("manifest.json"):
        for entry in json.loads(manifest.read_text()).get("files", {}).values():
            names.add((manifest.parent / entry["file"]).resolve())
    return names


def test_data_holds_only_what_the_course_loads():
    """Each file in data/ is the data card, a file a weights manifest lists, or a file the package names; none is
    a report (no Markdown besides the data card, no file named like one in reports/)."""
    package, listed = _package_text(), _manifest_files()
    report_names = {p.name for p in REPORTS.rglob("*") if p.is_file()} | {p.name for p in REPORTS.iterdir()}
    files = _tracked(DATA_DIR)
    assert DATA_CARD in files
    for path in files:
        rel = path.relative_to(DATA_DIR).as_posix()
        assert path == DATA_CARD or path.suffix != ".md", f"data/{rel}: a report? reports go to reports/"
        assert not set(path.relative_to(DATA_DIR).parts) & report_names, f"data/{rel} is named like a report"
        assert path == DATA_CARD or path.resolve() in listed or path.name in package, \
            f"data/{rel}: neither listed by a weights manifest nor named by the package — not loaded by the course"


def _data_rows(text: str) -> list:
    """The table rows of Markdown ``text`` that hold data: not a header (the line above |---|) nor the rule."""
    lines = text.splitlines()
    rule = lambda ln: ln.startswith("|") and set(ln) <= set("|-: ")
    return [ln.strip() for i, ln in enumerate(lines) if ln.startswith("|") and not rule(ln)
            and not (i + 1 < len(lines) and rule(lines[i + 1]))]


def _copied_rows(texts: dict) -> dict:
    """{row: [names]} for each table row that more than one of ``texts`` ({name: Markdown}) holds."""
    where = {}
    for name, text in texts.items():
        for row in set(_data_rows(text)):
            where.setdefault(row, []).append(name)
    return {row: names for row, names in where.items() if len(names) > 1}


def test_no_table_is_copied_into_a_second_file():
    texts = {str(p.relative_to(REPO_ROOT)): p.read_text() for p in DOCUMENTS}
    assert texts["reports/benchmarks.md"] and _data_rows(texts["reports/recipe_trials.md"])
    copied = _copied_rows(texts)
    assert not copied, f"table rows held by more than one file (link the table instead): {copied}"


def test_the_copy_check_catches_a_planted_copy():
    trials = (REPORTS / "student_trials.md").read_text()
    planted = {"reports/student_trials.md": trials, "README.md": "# Course\n\n" + trials.split("\n", 1)[1]}
    copied = _copied_rows(planted)
    assert copied and len(copied) == len(_data_rows(trials))


def test_the_readme_holds_the_reports_headline_numbers_and_no_table():
    """The README's bench block is what ``bench-readme`` writes from the committed report: rerun it after bench."""
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split(R.START, 1)[1].split(R.END, 1)[0]
    expected = R.summary((REPORTS / "benchmarks.md").read_text(), "reports/benchmarks.md")
    assert block == "\n" + expected, "README.md is stale: run python -m dlhelpers bench-readme"
    assert not _data_rows(block)


def test_the_benchmark_report_links_each_trial_table():
    from dlhelpers.tools.bench import run as bench_run
    text = bench_run.REPORT.read_text()
    assert R.TRIALS_HEADING in text
    for part in (bench_run.RECIPES, bench_run.STUDENT_TRIALS, bench_run.PER_MINUTE):
        assert f"]({part.name})" in text, part.name
        assert not set(_data_rows(part.read_text())) & set(_data_rows(text)), f"{part.name} copied into the report"


def test_relative_links_in_the_readmes_and_reports_resolve():
    """A moved file leaves no dangling link: every relative Markdown link names a file or folder that exists."""
    for doc in [REPO_ROOT / "README.md", REPO_ROOT / "README.ko.md", DATA_CARD, *sorted(REPORTS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:|#", target):       # a web address or an anchor
                continue
            assert (doc.parent / target.split("#")[0]).exists(), f"{doc.relative_to(REPO_ROOT)}: {target}"


def test_prose_lines_in_the_readme_and_trial_notes_fit_120_characters():
    """Tables and code may run long; paragraphs wrap (the 3,279-character line is gone)."""
    for doc in (REPO_ROOT / "README.md", REPORTS / "recipe_trials.md", REPORTS / "student_trials.md",
                REPORTS / "quality_per_minute.md"):
        in_code = False
        for n, line in enumerate(doc.read_text().splitlines(), 1):
            in_code ^= line.startswith("```")
            if not in_code and not line.startswith(("|", "#", "```")):
                assert len(line) <= 120, f"{doc.relative_to(REPO_ROOT)}:{n} is {len(line)} characters"
