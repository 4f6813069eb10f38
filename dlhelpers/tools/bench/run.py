"""``run_benchmark``: the speed and quality sections in one process, written to ``reports/benchmarks.md`` (or
``out``), ending with links to the tables measured separately (``report.trial_links``), never copies of them.

What is measured, and against which papers, is in ``speed`` and ``quality``; this module resolves the device
(``dlhelpers.devices.pick_device``: CUDA, MPS, then the CPU), runs the sections and records the machine
(``dlhelpers.tools.machine``). On a GPU the times are absolute times on the card the header names.
"""
from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import torch

from dlhelpers.precision import use_channels_last
from dlhelpers.devices import pick_device
from dlhelpers.io import atomic_write_bytes
from dlhelpers.sprites import CLASS_NAMES
from dlhelpers.tools import machine
from dlhelpers.tools.bench.calls import calls_section
from dlhelpers.tools.bench.quality import precision_training_section, quality_section
from dlhelpers.tools.bench.per_minute import PLOT as PER_MINUTE_PLOT
from dlhelpers.tools.bench.per_minute import TABLE as PER_MINUTE
from dlhelpers.tools.bench.recipes import TABLE as RECIPES
from dlhelpers.tools.bench.report import REPORTS_DIR, SMOKE_TITLE, TRIALS_HEADING, render, trial_links
from dlhelpers.tools.bench.speed import sampler_section, speed_section

REPORT = REPORTS_DIR / "benchmarks.md"
# issue 24's student-preset trials: bench-recipes --table --out runs/student --path reports/student_trials.md
STUDENT_TRIALS = REPORTS_DIR / "student_trials.md"
SMOKE_REPORT = Path(tempfile.gettempdir()) / "dlhelpers_bench_smoke.md"  # a smoke run never replaces REPORT


def report_path(out, smoke: bool) -> Path:
    """Where the report goes: ``out`` if given, else ``REPORT`` for a full run and ``SMOKE_REPORT`` for a smoke one."""
    if out is not None and not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path or None, got {type(out).__name__}")
    return Path(out) if out is not None else (SMOKE_REPORT if smoke else REPORT)


def _fast_path_text(device: torch.device, dtype_name: str) -> str:
    """What "ours fast" means on ``device`` (``dlhelpers.precision``'s per-device table)."""
    parts = [f"{dtype_name} autocast" if dtype_name != "fp32" else "fp32 (no autocast)"]
    parts.append("channels-last" if use_channels_last(device) else "default memory format")
    return " + ".join(parts)


def _memory_line(device: torch.device) -> str:
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = f"Peak memory (max RSS of the benchmark process): {rss_mb:.0f} MB."
    if device.type == "cuda":
        gpu_mb = torch.cuda.max_memory_allocated(device) / 2 ** 20
        line += f" Peak GPU memory allocated (`torch.cuda.max_memory_allocated`): {gpu_mb:.0f} MB."
    return line


def run_benchmark(smoke: bool = False, out: str | os.PathLike | None = None, device: str = "auto",
                  verbose: bool = True) -> str:
    """Run the benchmark on ``device`` ("auto", "cpu", "cuda", "mps"), write the report to ``out`` (default
    ``reports/benchmarks.md``; for a smoke run ``SMOKE_REPORT`` in the temp folder) atomically and return it.
    ``smoke=True``: tiny sizes, under a minute on a CPU, numbers meaningless — it checks that every section runs.
    Never writes the README (``update_readme`` writes its headline numbers there)."""
    if not isinstance(smoke, bool):
        raise TypeError(f"smoke must be a bool, got {type(smoke).__name__}")
    path = report_path(out, smoke)
    dev = pick_device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    say = print if verbose else (lambda *a, **k: None)
    t_start = time.perf_counter()
    say(f"speed: forward and training step on {dev} (interleaved)…", flush=True)
    speed_rows, stats = speed_section(smoke, dev)
    say("speed: samplers…", flush=True)
    sampler_times, overhead, one_forward = sampler_section(smoke, dev)
    say("quality: samplers on the shipped weights…", flush=True)
    quality = quality_section(smoke, dev)
    say("quality against network calls: the flow and reflow models beside the DDPM model…", flush=True)
    calls = calls_section(smoke, dev, reference_samples=quality["reference_samples"])
    say("quality: short training run, fp32 vs fast path…", flush=True)
    train_cmp, train_steps = precision_training_section(smoke, dev)

    command = "python -m dlhelpers bench" + (" --smoke" if smoke else "") + (
        f" --device {device}" if device != "auto" else "")
    report = render(smoke=smoke, command=command, machine=machine.describe(dev), torch_version=torch.__version__,
                    fast_path=_fast_path_text(dev, stats["fast_dtype"]), seconds=time.perf_counter() - t_start,
                    where=machine.device_name(dev) if dev.type != "cpu" else f"the CPU, {machine.threads_text()}",
                    speed_rows=speed_rows, stats=stats, sampler_times=sampler_times, overhead=overhead,
                    one_forward=one_forward, memory=_memory_line(dev), quality=quality, calls=calls,
                    class_names=list(CLASS_NAMES), train_cmp=train_cmp, train_steps=train_steps)
    if not smoke:   # measured separately (trials of minutes to an hour each): linked, each table in its own file
        report += _links(path)
    say(report)
    atomic_write_bytes(path, report.encode())
    say(f"wrote {path}")
    return report


def _links(path: Path) -> str:
    links = trial_links(path, (RECIPES, STUDENT_TRIALS, PER_MINUTE, PER_MINUTE_PLOT))
    return "\n" + links if links else ""


def refresh_tables(path=None) -> Path:
    """Rewrite the end of the full report at ``path`` (default ``REPORT``): its links to the tables measured
    separately (``report.trial_links``: the recipe and student trials, quality per minute), for a trial table
    written after the benchmark ran. A report that still holds copies of those tables (as the benchmark wrote them
    before they were linked) loses the copies for the links; the measured sections above stay as they are."""
    path = Path(path) if path is not None else REPORT
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} does not exist; write it with: python -m dlhelpers bench")
    report = path.read_text()
    if report.startswith(SMOKE_TITLE) or not report.startswith("# Benchmark"):
        raise ValueError(f"path {str(path)!r} is not a full benchmark report (a smoke run's, or no '# Benchmark')")
    stems = [TRIALS_HEADING] + [part.read_text().split("\n", 1)[0].split(" (", 1)[0]
                                for part in (RECIPES, STUDENT_TRIALS, PER_MINUTE) if part.is_file()]
    starts = [i + 1 for i in (report.find(f"\n{stem}") for stem in stems if stem.startswith("## ")) if i >= 0]
    cut = min(starts, default=len(report))
    atomic_write_bytes(path, (report[:cut].rstrip("\n") + "\n" + _links(path)).encode())
    return path
