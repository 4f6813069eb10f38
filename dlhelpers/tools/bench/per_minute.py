"""Quality per training minute: the student preset and the course preset, scored the recipe trials' way.

- Student preset: a recipe trial run with ``--minutes`` (``recipes.run_trial``) scores the raw weights as they were
  after each minute mark, and the EMA weights at the end, with the first sampler column (DDIM-25 for an ε-model,
  flow Euler-25 for a flow model: 25 network calls either way).
- Course preset: its run replayed (``course_replay``: the same preset, seed and recipe) up to the step the shipped
  run had reached after each minute mark — step = minutes × steps / wall_time from ``data/weights/manifest.json``,
  that run's average rate on 2 threads alone, so the replay itself may run slower or beside other work — its EMA
  weights saved there; then the shipped final weights at the run's end. Scored with DDIM-25.
Both on the recipe trials' protocol (500 sprites, the same x_T and contexts, context accuracy and sprite FD;
Song et al. arXiv:2010.02502 for DDIM, Lipman et al. arXiv:2210.02747 for flow matching).
"""
from __future__ import annotations

import json
from pathlib import Path

from dlhelpers.io import atomic_write, atomic_write_bytes
from dlhelpers.tools.bench.report import REPORTS_DIR, wrap_prose

TABLE = REPORTS_DIR / "quality_per_minute.md"
PLOT = REPORTS_DIR / "quality_per_minute.png"
# the course preset's scores, kept so the table can be rewritten without the replay's snapshots (20 CPU minutes)
COURSE_POINTS = REPORTS_DIR / "trial_records" / "course_minutes.json"


COURSE_MINUTES = (1, 2, 5, 10, 20)
CHECK_STEP = 250        # also kept by the replay: the shipped step_00250 snapshot, to show the replay is the same run


def minute_steps(minutes=COURSE_MINUTES) -> dict:
    """{minutes: step} — the step the shipped course run had reached after that many minutes (its average rate)."""
    from dlhelpers.pretrained import read_manifest
    manifest = read_manifest()
    return {m: max(1, round(m * 60 * manifest["steps"] / manifest["wall_time_s"])) for m in minutes}


def course_replay(out_dir: str | Path = "runs/course_minutes", minutes=COURSE_MINUTES) -> dict:
    """Train the course preset (resumable: ``out_dir``/checkpoint.pt) up to the last minute mark, saving the EMA
    weights at each mark's step as ``out_dir``/step_NNNNN.pt; returns {minutes: step}."""
    import torch
    from dlhelpers.io import atomic_torch_save
    from dlhelpers.sprites import SpriteDataset
    from dlhelpers.recipes import PRESETS
    from dlhelpers.training import train
    from dlhelpers.unet import ContextUnet
    marks = minute_steps(minutes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    preset = PRESETS["course"]
    torch.manual_seed(preset.config.seed)                                   # the initial weights, as train_preset
    model = ContextUnet(**preset.model)
    steps = sorted(set(marks.values()) | {CHECK_STEP})
    train(model, SpriteDataset(), preset.spec.build(), preset.config, checkpoint_path=out / "checkpoint.pt",
          stop_after=max(steps), snapshot_steps=steps,
          on_snapshot=lambda step, state: atomic_torch_save(state, out / f"step_{step:05d}.pt"))
    return marks


def course_points(replay_dir: str | Path = "runs/course_minutes", per_class: int = 100,
                  record: Path = COURSE_POINTS) -> list[dict]:
    """[{minutes, step, accuracy, fd}]: the replay's EMA weights at each minute mark, then the shipped final —
    scored and kept in ``record`` when ``replay_dir`` holds the snapshots, else read back from ``record``."""
    if not Path(replay_dir).is_dir() and Path(record).exists():
        return json.loads(Path(record).read_text())["points"]
    from dlhelpers.io import safe_torch_load
    from dlhelpers.pretrained import load_pretrained, read_manifest
    from dlhelpers.tools.bench.recipes import SAMPLERS, score
    from dlhelpers.unet import ContextUnet
    manifest = read_manifest()
    final, schedule = load_pretrained("final")
    points = []
    for m, step in minute_steps().items():
        path = Path(replay_dir) / f"step_{step:05d}.pt"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; run `python -m dlhelpers bench-recipes --course-replay`")
        model = ContextUnet(**manifest["model"])
        model.load_state_dict(safe_torch_load(path))
        d = score(model, schedule, per_class, names=(SAMPLERS[0],))[SAMPLERS[0]]
        points.append({"minutes": float(m), "step": step, "accuracy": d["accuracy"], "fd": d["fd"]})
    d = score(final, schedule, per_class, names=(SAMPLERS[0],))[SAMPLERS[0]]
    points.append({"minutes": round(manifest["wall_time_s"] / 60, 1), "step": manifest["steps"],
                   "accuracy": d["accuracy"], "fd": d["fd"]})
    atomic_write_bytes(Path(record), json.dumps({"replay_dir": str(replay_dir), "points": points}, indent=1).encode())
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


def write(trial_json: str | Path, table: Path = TABLE, plot: Path = PLOT, per_class: int = 100,
          replay_dir: str | Path = "runs/course_minutes") -> Path:
    """Score the course snapshots, read the student trial, write the Markdown table and the plot."""
    from dlhelpers.pretrained import read_manifest
    record, made = json.loads(Path(trial_json).read_text()), read_manifest()
    marks = ",".join(f"{float(m):g}" for m in record.get("per_minute", {}))
    course_label = "course (n_feat 64, ε on DDPM's path: the run replayed, then the shipped final weights)"
    rows = {"student (" + record["label"] + ")": student_points(record),
            course_label: course_points(replay_dir, per_class)}
    L = ["## Quality per training minute (2 CPU threads, 500 sprites, 25 network calls per sprite)", "", wrap_prose(
         f"Student preset: `python -m dlhelpers bench-recipes --trial {record['key']} --steps {record['steps']} "
         f"--minutes {marks} --out reports/trial_records/student` — raw weights at each minute mark, EMA at the end, "
         "flow Euler-25. Course "
         "preset: `bench-recipes --course-replay --out runs/course_minutes` replays the shipped run (same preset, "
         "seed and recipe) to the step that run had reached after 1, 2, 5, 10 and 20 minutes at its average rate "
         f"(its manifest: {made['steps']:,} steps in {made['wall_time_s'] / 60:.1f} min on "
         f"{made['machine']['threads']} threads), EMA weights there, then the shipped final weights; "
         f"DDIM-25. Then `bench-recipes --per-minute reports/trial_records/student/{record['key']}.json --out "
         "runs/course_minutes`; "
         "`dlhelpers.tools.bench.per_minute` says how each point is made. Minutes are wall time on the day of each "
         "run, on the machine named in the trial's record; the small network's step rate varied by up to 3× between "
         f"sessions (reports/student_trials.md). This student run: {record.get('machine', 'machine not recorded')}; "
         "the course run: its manifest's machine."), "",
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
