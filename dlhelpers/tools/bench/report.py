"""The benchmark's Markdown report, and its headline numbers in the README between its markers.

``render`` turns the measured sections into ``reports/benchmarks.md``; ``trial_links`` ends a full report with links
to the tables measured separately (the recipe and student trials, quality per minute), which each live in their
own file in ``reports/`` and are never copied. ``update_readme`` (``python -m dlhelpers bench-readme``) writes a
few headline numbers of a report (``summary``), with a link to it, between ``<!-- bench:start -->`` and
``<!-- bench:end -->`` in the README: the README holds no copy of a table, and the benchmark itself never writes
the README. No paper: formatting only; the measurements and their sources are described in ``speed`` and
``quality``.
"""
from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

from dlhelpers.io import REPO_ROOT, PathLike, atomic_write_bytes

REPORTS_DIR = REPO_ROOT / "reports"   # what the project measured; data/ holds only what the course loads
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
SMOKE_TITLE = "# Benchmark (smoke run: tiny sizes, numbers meaningless)"
REFERENCE = "DDPM-500"
TRIALS_HEADING = "## Tables measured separately"


def _speed_lines(speed_rows, stats, sampler_times, overhead, one_forward, memory, where) -> list:
    L = [f"## Speed on {where} (medians of interleaved rounds, same process)", "",
         "| measurement | course fp32 | ours fp32 | ours fast | fast vs course |", "|---|---:|---:|---:|---:|"]
    for label, d, scale in speed_rows:
        L.append(f"| {label} | {d['course fp32'] * scale:.1f} | {d['ours fp32'] * scale:.1f} | "
                 f"{d['ours fast'] * scale:.1f} | **{d['course fp32'] / d['ours fast']:.2f}×** |")
    ips = stats["train_images_per_s"]
    L.append(f"| training images/s | {ips['course fp32']:.0f} | {ips['ours fp32']:.0f} | {ips['ours fast']:.0f} | "
             f"**{ips['ours fast'] / ips['course fp32']:.2f}×** |")
    gf = stats["train_gflops"]
    peak_txt = ", ".join(f"{k} {v:.0f}" for k, v in stats["peak_gflops"].items())
    n = stats["peak_n"]
    L += ["", f"Training step achieved GFLOP/s: course fp32 {gf['course fp32']:.0f}, ours fp32 {gf['ours fp32']:.0f}, "
              f"ours fast {gf['ours fast']:.0f} — against a measured matmul peak ({n}², same device) of {peak_txt} "
              f"GFLOP/s.", "",
          "| sampler (64 sprites unless smoke) | fast path (s) | fp32 (s) | fp32 ÷ fast |", "|---|---:|---:|---:|"]
    for name in sorted({k.rsplit(" ", 1)[0] for k in sampler_times}):
        a, f32 = sampler_times[f"{name} auto"], sampler_times[f"{name} fp32"]
        L.append(f"| {name} | {a:.2f} | {f32:.2f} | {f32 / a:.2f}× |")
    L += ["", f"Sampler overhead (DDIM wall time ÷ as many bare forwards of the same batch, in alternating rounds; "
              f"one forward {one_forward * 1e3:.1f} ms): **{overhead:.3f}**. {memory}", ""]
    return L


def _quality_lines(quality, class_names, smoke) -> list:
    rows, n = quality["rows"], quality["n"]
    ref_seconds, ref_fd = rows[0][1], rows[0][3]
    L = [f"## Quality on the shipped weights ({n} sprites, {n // 5} per class, same noise and contexts)", "",
         f"Context accuracy per class = the fraction of sprites requested as that class that the classifier puts "
         f"there. {'Row 1 stands in for ' + REFERENCE + ' in a smoke run.' if smoke else ''}".rstrip(), "",
         f"| sampler | wall time (s) | speed-up vs {REFERENCE} | context accuracy | "
         + " | ".join(class_names) + f" | sprite FD | FD ÷ {REFERENCE}'s |",
         "|---|" + "---:|" * (5 + len(class_names))]
    for label, seconds, acc, fd in rows:
        per = " | ".join(f"{acc['per_class'][c] * 100:.0f} %" for c in class_names)
        ratio = f"{fd / ref_fd:.2f}" if ref_fd > 0 else "—"
        L.append(f"| {label} | {seconds:.2f} | {ref_seconds / seconds:.1f}× | {acc['overall'] * 100:.1f} % | {per} | "
                 f"{fd:.2f} | {ratio} |")
    L += [""] + [f"{note}" for note in quality["notes"]] + ([""] if quality["notes"] else [])
    L += [f"Real-vs-real sprite FD at the same n (two disjoint held-out sets): **{quality['baseline']:.2f}** — the "
          f"floor for these numbers.", ""]
    return L


def render(*, smoke, command, machine, torch_version, fast_path, seconds, where, speed_rows, stats, sampler_times,
           overhead, one_forward, memory, quality, class_names, train_cmp, train_steps, calls=None) -> str:
    """The whole report as Markdown (see ``run.run_benchmark`` for what each argument holds)."""
    L = [SMOKE_TITLE if smoke else "# Benchmark", "",
         f"`{command}` — {machine}, torch {torch_version}, fast path = {fast_path}. "
         f"Total run {seconds:.0f} s.", ""]
    L += _speed_lines(speed_rows, stats, sampler_times, overhead, one_forward, memory, where)
    L += _quality_lines(quality, class_names, smoke)
    if calls is not None:
        from dlhelpers.tools.bench.calls import calls_lines
        L += calls_lines(calls)
    L += [f"## fp32 vs fast path, same {train_steps}-step training run (same seed and batches)", "",
          "| precision | mean loss over the last quarter | ± s.e. | seconds |", "|---|---:|---:|---:|"]
    for k, (mean, se, sec) in train_cmp.items():
        L.append(f"| {k} | {mean:.4f} | {se:.4f} | {sec:.1f} |")
    return "\n".join(L) + "\n"


def wrap_prose(paragraph: str) -> str:
    """A Markdown paragraph as lines of at most 120 characters (words and links kept whole): the same paragraph."""
    return textwrap.fill(paragraph, 120, break_long_words=False, break_on_hyphens=False)


def trial_links(report_path: PathLike, parts) -> str:
    """The full report's last section: a link to each file of ``parts`` that exists (the tables measured separately,
    in trials of minutes to an hour each), relative to ``report_path``'s folder, titled by the table's heading.
    Each table stays in its own file: the report links it and holds no copy. "" when none exists."""
    folder = Path(report_path).resolve().parent
    items = []
    for part in map(Path, parts):
        if not part.is_file():
            continue
        link = Path(os.path.relpath(part.resolve(), folder)).as_posix()
        title = part.read_text().split("\n", 1)[0].lstrip("#").strip() if part.suffix == ".md" else ""
        items.append(f"- [{title or part.name}]({link})")
    if not items:
        return ""
    return "\n".join([TRIALS_HEADING, "", wrap_prose(
        "Not part of this run: trials of minutes to an hour each, measured with `python -m dlhelpers bench-recipes` "
        "on the machines their notes name. Each table lives in its own file:"), "", *items]) + "\n"


def _cells(line: str) -> list:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _first_table(report: str, heading: str) -> list:
    """The rows (dicts by column) of the first table under the section whose heading starts with ``heading``."""
    if f"\n{heading}" not in report:
        return []
    rows = []
    for line in report.split(f"\n{heading}", 1)[1].split("\n## ", 1)[0].splitlines():
        if line.startswith("|"):
            rows.append(_cells(line))
        elif rows:
            break
    return [dict(zip(rows[0], r)) for r in rows[2:]]


def _column(row: dict, start: str) -> str:
    return next(v for k, v in row.items() if k.startswith(start)).replace("*", "")


def _best_within(rows: list, calls: int) -> list:
    """Per model (in the table's order): the row of lowest sprite FD among those with at most ``calls`` calls."""
    best = {}
    for r in rows:
        fd = float(r["sprite FD"].split("±")[0])
        if int(r["network calls"]) <= calls and (r["model"] not in best or fd < best[r["model"]][0]):
            best[r["model"]] = (fd, r)
    return [r for _, r in best.values()]


def summary(report: str, link: str) -> str:
    """A few headline numbers of the full benchmark report ``report`` as short Markdown lines, with a link
    (``link``) to it: the README's results, never a copy of a table. ValueError if it is not a full report."""
    if report.startswith(SMOKE_TITLE):
        raise ValueError("holds a smoke run (numbers meaningless); run the full benchmark: python -m dlhelpers bench")
    if not report.startswith("# Benchmark"):
        raise ValueError("is not a benchmark report (no '# Benchmark' title)")
    head = re.search(r"^`(?P<command>[^`]+)` — (?P<machine>.+), torch (?P<torch>\S+), fast path = (?P<fast>.+?)\. ",
                     report, re.M)
    quality = _first_table(report, "## Quality on the shipped weights")
    if head is None or not quality:
        raise ValueError("holds no header line or no quality table; write it with: python -m dlhelpers bench")
    try:
        items = _headlines(report, head["fast"], quality)
    except (KeyError, StopIteration, AttributeError) as exc:
        raise ValueError(f"holds a table without the columns render() writes ({exc!r})") from None
    intro = (f"Headline numbers of [{link}]({link}), which holds the benchmark's tables and links the trials "
             f"measured separately (`{head['command']}` on {head['machine']}, torch {head['torch']}):")
    wrap = lambda text, indent="": textwrap.fill(text, 118, subsequent_indent=indent, break_long_words=False,
                                                 break_on_hyphens=False)
    return "\n".join([wrap(intro), ""] + [wrap("- " + item, "  ") for item in items]) + "\n"


def _headlines(report: str, fast_path: str, quality: list) -> list:
    """``summary``'s items: the training step's speed-up, three samplers' quality, the best at ≤ 10 network calls."""
    items = []
    step = [r for r in _first_table(report, "## Speed on") if r["measurement"].startswith("training step")]
    if step:
        r = step[0]
        what, unit = re.fullmatch(r"(.*?)\s*(?:\((\w+)\))?", r["measurement"]).groups()
        unit = f" {unit}" if unit else ""
        items.append(f"**Speed**: {what}: {r['course fp32']}{unit} in the course's fp32 loop, {r['ours fast']}{unit} "
                     f"on our fast path ({fast_path}), {_column(r, 'fast vs course')} as fast.")
    ref = quality[0]["sampler"]
    shown = [r for r in quality if r["sampler"] in (ref, "DDIM-25", "DPM-Solver++(2M)-20")]
    floor = re.search(r"Real-vs-real sprite FD[^*]*\*\*([0-9.]+)\*\*", report)
    n = re.search(r"^## Quality on the shipped weights \((\d+) sprites", report, re.M)
    items.append(f"**Quality** on the shipped weights{f' ({n[1]} sprites)' if n else ''}: "
                 + "; ".join(f"{r['sampler']} ({_column(r, 'wall')} s) {r['context accuracy']} context accuracy, "
                             f"sprite FD {r['sprite FD']}" if i == 0 else
                             f"{r['sampler']} {r['context accuracy']}, FD {r['sprite FD']}, "
                             f"{_column(r, 'speed-up')} faster" for i, r in enumerate(shown))
                 + (f" (real-vs-real FD, the floor: {floor[1]})." if floor else "."))
    calls = _first_table(report, "## Quality against network calls")
    if calls:
        items.append("**At most 10 network calls** per sprite, the lowest FD: " + "; ".join(
            f"the `{r['model']}` model with `{r['sampler']}` ({r['network calls']} calls) {r['context accuracy']}, "
            f"FD {r['sprite FD']}" for r in _best_within(calls, 10)) + ".")
    return items


def update_readme(report_path: PathLike, readme_path: PathLike) -> Path:
    """Write the headline numbers of the report at ``report_path`` (``summary``, with a link to the report relative
    to the README) between the README's ``<!-- bench:start -->`` and ``<!-- bench:end -->`` markers, atomically.
    Refuses a smoke run's report. Returns ``readme_path``."""
    for name, value in (("report_path", report_path), ("readme_path", readme_path)):
        if not isinstance(value, (str, Path)) or isinstance(value, bool):
            raise TypeError(f"{name} must be a path, got {type(value).__name__}")
    report_path, readme_path = Path(report_path), Path(readme_path)
    if not report_path.is_file():
        raise ValueError(f"report_path {str(report_path)!r} does not exist; write it with: python -m dlhelpers bench")
    if not readme_path.is_file():
        raise ValueError(f"readme_path {str(readme_path)!r} does not exist")
    text = readme_path.read_text()
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"readme_path {str(readme_path)!r} must hold one {START} marker followed by one {END} marker")
    link = Path(os.path.relpath(report_path.resolve(), readme_path.resolve().parent)).as_posix()
    try:
        body = summary(report_path.read_text(), link)
    except ValueError as exc:
        raise ValueError(f"report_path {str(report_path)!r} {exc}") from None
    new = text[:text.index(START) + len(START)] + "\n" + body + text[text.index(END):]
    atomic_write_bytes(readme_path, new.encode())
    return readme_path
