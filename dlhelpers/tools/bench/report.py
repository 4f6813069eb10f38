"""The benchmark's Markdown report, and copying it into the README between its markers.

``render`` turns the measured sections into ``data/benchmarks.md``; ``update_readme`` (``python -m dlhelpers
bench-readme``) copies a report, minus its title, between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in
the README — the benchmark itself never writes the README. No paper: formatting only; the measurements and their
sources are described in ``speed`` and ``quality``.
"""
from __future__ import annotations

from pathlib import Path

from dlhelpers.io import PathLike, atomic_write_bytes

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
SMOKE_TITLE = "# Benchmark (smoke run: tiny sizes, numbers meaningless)"
REFERENCE = "DDPM-500"


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


def update_readme(report_path: PathLike, readme_path: PathLike) -> Path:
    """Copy the report at ``report_path`` (minus its title line) between the README's ``<!-- bench:start -->`` and
    ``<!-- bench:end -->`` markers, atomically. Refuses a smoke run's report. Returns ``readme_path``."""
    for name, value in (("report_path", report_path), ("readme_path", readme_path)):
        if not isinstance(value, (str, Path)) or isinstance(value, bool):
            raise TypeError(f"{name} must be a path, got {type(value).__name__}")
    report_path, readme_path = Path(report_path), Path(readme_path)
    if not report_path.is_file():
        raise ValueError(f"report_path {str(report_path)!r} does not exist; write it with: python -m dlhelpers bench")
    if not readme_path.is_file():
        raise ValueError(f"readme_path {str(readme_path)!r} does not exist")
    report, text = report_path.read_text(), readme_path.read_text()
    if report.startswith(SMOKE_TITLE):
        raise ValueError(f"report_path {str(report_path)!r} holds a smoke run (numbers meaningless); run the full "
                         f"benchmark: python -m dlhelpers bench")
    if not report.startswith("# Benchmark"):
        raise ValueError(f"report_path {str(report_path)!r} is not a benchmark report (no '# Benchmark' title)")
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"readme_path {str(readme_path)!r} must hold one {START} marker followed by one {END} marker")
    body = report.split("\n", 1)[1].lstrip("\n")  # drop the report's title
    new = text[:text.index(START) + len(START)] + "\n" + body + text[text.index(END):]
    atomic_write_bytes(readme_path, new.encode())
    return readme_path
