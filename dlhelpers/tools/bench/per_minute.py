"""Quality per training minute: the student preset and the course preset, scored the recipe trials' way.

- Student preset: a recipe trial run with ``--minutes`` (``recipes.run_trial``) scores the raw weights as they were
  after each minute mark, and the EMA weights at the end, with the first sampler column (DDIM-25 for an ε-model,
  flow Euler-25 for a flow model: 25 network calls either way).
- Course preset: its shipped EMA snapshots (steps 250, 1000, 3000 and 9000 of ``data/weights``), placed in time
  at wall_time × step / steps from its manifest (the step rate of that run taken as constant), scored with DDIM-25.
Both on the recipe trials' protocol (500 sprites, the same x_T and contexts, context accuracy and sprite FD;
Song et al. arXiv:2010.02502 for DDIM, Lipman et al. arXiv:2210.02747 for flow matching).
"""
from __future__ import annotations

import json
from pathlib import Path

from dlhelpers.io import DATA_DIR, atomic_write, atomic_write_bytes

TABLE = DATA_DIR / "quality_per_minute.md"
PLOT = DATA_DIR / "quality_per_minute.png"


def course_points(per_class: int = 100) -> list[dict]:
    """[{minutes, step, accuracy, fd}] for the course preset's shipped EMA snapshots and final weights."""
    from dlhelpers.pretrained import available, load_pretrained, read_manifest
    from dlhelpers.tools.bench.recipes import SAMPLERS, score
    manifest = read_manifest()
    rate = manifest["wall_time_s"] / manifest["steps"] / 60          # minutes per step, the run's average
    points = []
    for name in available():
        if name == "final_raw":
            continue
        step = manifest["files"][name]["step"]
        model, schedule = load_pretrained(name)
        d = score(model, schedule, per_class, names=(SAMPLERS[0],))[SAMPLERS[0]]
        points.append({"minutes": round(step * rate, 1), "step": step, "accuracy": d["accuracy"], "fd": d["fd"]})
    return points


def student_points(record: dict) -> list[dict]:
    """[{minutes, step, accuracy, fd}] from a trial's JSON: its minute marks (raw weights), then its end (EMA)."""
    from dlhelpers.tools.bench.recipes import SAMPLERS
    points = [{"minutes": round(v["seconds"] / 60, 2), "step": v["step"], "accuracy": v["accuracy"], "fd": v["fd"],
               "weights": "raw"} for v in record.get("per_minute", {}).values()]
    end = record["ema"][SAMPLERS[0]]
    points.append({"minutes": round(record["train_seconds"] / 60, 2), "step": record["steps"],
                   "accuracy": end["accuracy"], "fd": end["fd"], "weights": "EMA"})
    return sorted(points, key=lambda p: p["minutes"])


def write(trial_json: str | Path, table: Path = TABLE, plot: Path = PLOT, per_class: int = 100) -> Path:
    """Score the course snapshots, read the student trial, write the Markdown table and the plot."""
    record = json.loads(Path(trial_json).read_text())
    rows = {"student (" + record["label"] + ")": student_points(record),
            "course (shipped weights, n_feat 64, ε on DDPM's path)": course_points(per_class)}
    L = ["## Quality per training minute (2 CPU threads, 500 sprites, 25 network calls per sprite)", "",
         "`python -m dlhelpers bench-recipes --trial S4 --steps 3500 --minutes 1,2,3,4 --out runs/student`, then "
         "`--per-minute runs/student/S4.json`; `dlhelpers.tools.bench.per_minute` says how each point is made. "
         "Student: raw weights at each minute mark, EMA at the end, flow Euler-25. Course: its shipped EMA "
         "snapshots, placed at the run's average step rate, DDIM-25.", "",
         "| preset | minutes | step | weights | context accuracy | sprite FD |", "|---|---:|---:|---|---:|---:|"]
    for name, points in rows.items():
        for p in points:
            L.append(f"| {name} | {p['minutes']:.1f} | {p['step']} | {p.get('weights', 'EMA')} | "
                     f"{p['accuracy'] * 100:.1f} % | {p['fd']:.2f} |")
    atomic_write_bytes(table, ("\n".join(L) + "\n").encode())
    _plot(rows, plot)
    return table


def _plot(rows: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=80)
    for name, points in rows.items():
        m = [p["minutes"] for p in points]
        a1.plot(m, [p["accuracy"] * 100 for p in points], "o-", label=name.split(" (")[0])
        a2.plot(m, [p["fd"] for p in points], "o-", label=name.split(" (")[0])
    a1.set(xscale="log", xlabel="training minutes (2 CPU threads)", ylabel="context accuracy (%)")
    a2.set(xscale="log", yscale="log", xlabel="training minutes (2 CPU threads)", ylabel="sprite FD (lower is better)")
    a1.axhline(85, color="grey", lw=0.5, ls="--")
    a1.legend(), fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
