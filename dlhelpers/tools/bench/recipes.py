"""Training-recipe trials: the same short run under different recipes, scored the same way (issue 14).

Each trial is a preset (``dlhelpers.recipes``) changed with ``variant``; it trains from the same initial weights
(one per width), seed and batches for ``steps`` optimizer steps, then samples 500 sprites (100 per class) from the
same x_T and contexts with DDIM-25 (Song et al., arXiv:2010.02502) and DPM-Solver++(2M)-20 (Lu et al.,
arXiv:2211.01095), and scores them with the project's classifier (context accuracy overall and per class, sprite FD
against 500 held-out sprites; ``dlhelpers.evaluation.metrics``), for the EMA and the raw weights. Ideas measured:

- the learning rate and its warm-up (linear warm-up, then the course's linear decay to 0);
- min-SNR-γ loss weighting, Hang et al., arXiv:2303.09556, eq. (7) (``TrainConfig.min_snr_gamma``);
- the cosine schedule of Nichol & Dhariwal, arXiv:2102.09672, eq. (17), with ``NoiseSchedule.cosine``'s floor;
- the flow-matching objective (Lipman et al., arXiv:2210.02747; ``dlhelpers.flow``), scored with its own samplers
  at the same budget of network calls: Euler-25 in the DDIM-25 column, Heun-10 (19 calls) in the DPM-Solver++ one.

A short run ranks recipes, it does not predict the full run's numbers: the winner is then trained at full length
(``python -m dlhelpers train``) and scored by ``python -m dlhelpers bench``. ``render`` makes the Markdown table
that ``reports/recipe_trials.md`` holds (and ``reports/student_trials.md``, for the S trials); the benchmark report
links them.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from dlhelpers.io import atomic_write_bytes
from dlhelpers.recipes import LIVE, PRESETS, variant
from dlhelpers.spec import RunSpec
from dlhelpers.tools.bench.report import REPORTS_DIR, wrap_prose
from dlhelpers.tools.machine import describe

TABLE = REPORTS_DIR / "recipe_trials.md"
SAMPLERS = ("DDIM-25", "DPM-Solver++(2M)-20")


COSINE = RunSpec("ddpm", "eps", {"shape": "cosine", "timesteps": 500})   # Nichol & Dhariwal's, with its ᾱ_T floor
FLOW = RunSpec("flow", "velocity", {})
FLOW_LOGIT_NORMAL = RunSpec("flow", "velocity", {"t_sampling": "logit-normal"})
_A = variant(PRESETS["course"], lr=1e-3, warmup_steps=100, min_snr_gamma=None)   # the original course's recipe
_B = variant(_A, lr=2e-3, warmup_steps=200)
_S1 = variant(_B, model=dict(n_feat=32), lr=3e-3, min_snr_gamma=5.0)
_S4 = variant(_S1, spec=FLOW, min_snr_gamma=None)
_S11 = variant(_S4, spec=FLOW_LOGIT_NORMAL, ema_decay=0.995)
_S15 = variant(_S11, batch_size=50)

TRIALS = {   # key → (what changed, for the table; the recipe: a preset). The step count is run_trial's argument.
    "A": ("course recipe (lr 1e-3, warm-up 100)", _A),
    "B": ("lr 2e-3, warm-up 200", _B),
    "C": ("B + min-SNR-γ, γ = 5", variant(_B, min_snr_gamma=5.0)),
    "D": ("B on the cosine schedule (ᾱ_T floor)", variant(_B, spec=COSINE)),
    # Toward a student preset (issue 24): minutes of training on a laptop, so the step count depends on the width.
    "S1": ("student: n_feat 32, lr 3e-3, warm-up 200, min-SNR-γ 5", _S1),
    "S2": ("student: n_feat 48, lr 2e-3, warm-up 200, min-SNR-γ 5", variant(_S1, model=dict(n_feat=48), lr=2e-3)),
    "S3": ("student: n_feat 32, lr 4e-3, warm-up 200, min-SNR-γ 5", variant(_S1, lr=4e-3)),
    "S4": ("student: flow matching, n_feat 32, lr 3e-3, warm-up 200", _S4),
    # For notebook 3's live run, driven by the student's own ε step (plain MSE): can ε reach the target in time?
    "S5": ("student: ε, plain MSE, n_feat 32, lr 3e-3, warm-up 200", variant(_S1, min_snr_gamma=None)),
    "S6": ("student: ε, min-SNR-γ 5, n_feat 32, lr 3e-3, warm-up 200, batch 64", variant(_S1, batch_size=64)),
    # S7–S9 are notebook 3's live run (LIVE_TRIALS below); S10 the student preset after S9's finding
    "S10": ("student: flow matching, logit-normal t, n_feat 32, lr 3e-3, warm-up 200",
            variant(_S4, spec=FLOW_LOGIT_NORMAL)),
    "S11": ("student: flow matching, logit-normal t, n_feat 32, lr 3e-3, warm-up 200, EMA decay 0.995", _S11),
    "S12": ("student: S11 with batches of 64 (more steps in the same minutes)", variant(_S11, batch_size=64)),
    "S13": ("student: flow matching, logit-normal t, n_feat 32, lr 3e-3, warm-up 200, EMA decay 0.995, batch 64",
            variant(_S11, batch_size=64)),
    # On a slower CPU (fp32): batches of 50 against 100 at equal sprites seen (the exploration in
    # reports/student_trials.md's note). S14 and S15 differ only in their steps (their records hold them); S15 is
    # the student preset's recipe.
    "S14": ("student: S11 with batches of 50", _S15),
    "S15": ("student: S11 with batches of 50, longer", _S15),
    "S16": ("student: S15 repeated with seed 1 (other initial weights, batches and draws)", variant(_S15, seed=1)),
}
# each column's sampler and steps, through the registry; a flow trial's column is filled by the flow sampler with
# the same budget of network calls as the DDPM sampler it stands beside
COLUMNS = {"ddpm": {"DDIM-25": ("ddim", 25), "DPM-Solver++(2M)-20": ("dpm-solver", 20)},
           "flow": {"DDIM-25": ("flow-euler", 25), "DPM-Solver++(2M)-20": ("flow-heun", 10)}}


def score(model, path, per_class: int = 100, names: tuple = SAMPLERS) -> dict:
    """{sampler: {"accuracy": overall, "per_class": {...}, "fd": sprite FD, "seconds": s}} for ``SAMPLERS``."""
    from dlhelpers import samplers
    from dlhelpers.evaluation.metrics import context_accuracy, heldout_samples, sprite_fd

    n = 5 * per_class
    labels = torch.arange(5).repeat_interleave(per_class)                                     # (n,)
    x_T = torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(1))              # (n, 3, 16, 16)
    common = dict(context=torch.eye(5)[labels], x_T=x_T, progress=False, save_every=None)
    reference = heldout_samples(n, seed=0)
    runs = {col: (lambda name=name, k=k: samplers.sample(name, model, n, path, steps=k, **common))
            for col, (name, k) in COLUMNS[path.PATH].items()}
    out = {}
    for name in names:
        t0 = time.perf_counter()
        samples = runs[name]().samples
        acc = context_accuracy(samples, labels)
        out[name] = {"accuracy": acc["overall"], "per_class": acc["per_class"], "fd": sprite_fd(samples, reference),
                     "seconds": time.perf_counter() - t0}
    return out


def run_trial(key: str, steps: int = 1500, out_dir: str | Path = "runs/recipes", per_class: int = 100,
              minutes: tuple = ()) -> dict:
    """Train trial ``key`` of ``TRIALS`` for ``steps`` steps, score it, write ``out_dir/<key>.json``; returns it.
    ``minutes``: also score the raw weights as they were after that many minutes of training (quality per minute;
    the first sampler column only)."""
    from dlhelpers.sprites import SpriteDataset
    from dlhelpers.training import train
    from dlhelpers.unet import ContextUnet

    if key not in TRIALS:
        raise ValueError(f"key must be one of {sorted(TRIALS)}, got {key!r}")
    label, preset = TRIALS[key]
    schedule = preset.spec.build()
    cfg = replace(preset.config, steps=steps, checkpoint_every=10 ** 9)
    arch = preset.model
    torch.manual_seed(cfg.seed)   # the same initial weights for every trial of one width
    model = ContextUnet(**arch)
    marks, start = {}, time.perf_counter()

    def keep_at_minutes(step, loss, model):   # raw weights at each time mark; runs every log_every steps
        elapsed = (time.perf_counter() - start) / 60
        for m in minutes:
            if m not in marks and elapsed >= m:
                weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
                marks[m] = (step, round(elapsed * 60, 1), weights)

    result = train(model, SpriteDataset(), schedule, cfg, progress=False, callback=keep_at_minutes if minutes else None)
    ema = ContextUnet(**arch)
    ema.load_state_dict(result.ema_state)
    record = {"key": key, "label": label, "path": preset.spec.path, "steps": steps, "threads": torch.get_num_threads(),
              "n_feat": arch["n_feat"], "machine": describe(), "train_seconds": round(result.seconds, 1),
              "final_loss": sum(result.losses[-10:]) / 10,
              "ema": score(ema, schedule, per_class), "raw": score(model, schedule, per_class)}
    first = SAMPLERS[0]
    record["per_minute"] = {}
    for m, (step, secs, state) in sorted(marks.items()):
        snap = ContextUnet(**arch)
        snap.load_state_dict(state)
        d = score(snap, schedule, per_class, names=(first,))[first]
        record["per_minute"][str(m)] = {"step": step, "seconds": secs, "accuracy": d["accuracy"], "fd": d["fd"]}
    path = Path(out_dir) / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(record, indent=1).encode())
    return record


# Notebook 3's live run itself (dlhelpers.notebook.live_training), scored like the trials: key → (the recipe, its
# time budget in minutes). S7: the student's ε step; S8: the same step with flow matching's loss; S9: S8 with
# logit-normal t at S8's step count (a budget that never binds: its steps end it).
LIVE_TRIALS = {"S7": (LIVE, 5.0), "S8": (variant(LIVE, spec=FLOW), 5.0),
               "S9": (variant(LIVE, spec=FLOW_LOGIT_NORMAL, steps=2260), 100.0)}
LIVE_STEPS = {"ddpm": "the student's ε step", "flow": "the same step with flow matching's loss"}   # for the label


def run_live_trial(key: str = "S7", out_dir: str | Path = "runs/recipes", per_class: int = 100) -> dict:
    """Notebook 3's five-minute run as the notebook does it — the reference step (S7: the student's solved ε
    ``my_train_step``; S8, S9: the same step with flow matching's loss) in ``train_live`` with the trial's recipe
    and time budget, random batches, no EMA — then scored; written to ``out_dir/<key>.json``."""
    from dlhelpers.notebook.checks.training import reference_drop_context, reference_train_step
    from dlhelpers.notebook.live_training import LiveSettings, train_live
    from dlhelpers.sprites import SpriteDataset
    from dlhelpers.training import diffusion_loss
    from dlhelpers.unet import ContextUnet

    class Quiet:                                   # the live view, outside a notebook: one line per redraw
        def update(self, obj):
            print(obj._repr_mimebundle_()["text/plain"], flush=True)

    def flow_step(model, optimizer, x0, context, schedule, generator, p_uncond):
        optimizer.zero_grad(set_to_none=True)
        loss = diffusion_loss(model, x0, reference_drop_context(context, p_uncond, generator), schedule, generator,
                              precision="fp32")          # notebook 6's loss on this path (its t sampling)
        loss.backward()
        optimizer.step()
        return loss.item()

    preset, minutes = LIVE_TRIALS[key]
    cfg, path = preset.config, preset.spec.path
    s = LiveSettings(config=cfg, minutes=minutes, redraw_seconds=60.0)
    torch.manual_seed(0)                           # notebook 3's SEED: the initial weights
    model = ContextUnet(**preset.model)
    images, contexts = SpriteDataset().tensors
    schedule = preset.spec.build()
    run = train_live({"ddpm": reference_train_step, "flow": flow_step}[path], model, images, contexts, schedule,
                     torch.Generator().manual_seed(0), s, view=Quiet())
    t_sampling = preset.spec.schedule.get("t_sampling", "uniform")
    step = LIVE_STEPS[path] + ("" if t_sampling == "uniform" else f", {t_sampling} t")
    record = {"key": key, "label": f"notebook 3's live run: {step}, n_feat {preset.model['n_feat']}, lr {cfg.lr:g}, "
              f"warm-up {cfg.warmup_steps}, {cfg.steps:,} steps or {minutes:g} min, no EMA", "path": path,
              "steps": run.steps, "threads": torch.get_num_threads(), "n_feat": preset.model["n_feat"],
              "machine": describe(), "train_seconds": round(run.seconds, 1),
              "ended_by": run.ended_by, "final_loss": sum(run.losses[-100:]) / len(run.losses[-100:]),
              "raw": score(model, schedule, per_class)}
    out = Path(out_dir) / f"{key}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, json.dumps(record, indent=1).encode())
    return record


def write_table(out_dir: str | Path = "runs/recipes", path: str | Path = TABLE, note: str = "") -> Path:
    """Render every ``out_dir/*.json`` (in key order: S2 before S10) into ``path`` (default
    ``reports/recipe_trials.md``)."""
    from dlhelpers.sprites import CLASS_NAMES
    natural = lambda p: (p.stem.rstrip("0123456789"), int(p.stem[len(p.stem.rstrip("0123456789")):] or 0))  # S2 < S10
    records = [json.loads(p.read_text()) for p in sorted(Path(out_dir).glob("*.json"), key=natural)]
    if not records:
        raise ValueError(f"out_dir {str(out_dir)!r} holds no trial results; "
                         "run: python -m dlhelpers bench-recipes --trial A")
    steps = sorted({r["steps"] for r in records})
    text = (f"## Training recipes tried ({'/'.join(map(str, steps))} steps each, 500 sprites, 100 per class)\n\n"
            + wrap_prose(f"`python -m dlhelpers bench-recipes --trial KEY` for each trial, then `--table`; "
                         f"`dlhelpers.tools.bench.recipes` says what is held fixed.{(' ' + note) if note else ''}")
            + "\n\n"
            + render(records, list(CLASS_NAMES)))
    atomic_write_bytes(Path(path), text.encode())
    return Path(path)


def render(records: list, class_names) -> str:
    """The trials as a Markdown table: one row per trial and weights (EMA / raw), both samplers."""
    L = ["| trial | weights | plain MSE, last 100 steps | " + " | ".join(
        f"{s} acc. | {s} FD" for s in SAMPLERS) + " | DDIM-25 per class (" + " / ".join(class_names) + ") |",
         "|---|---|---:|" + "---:|" * (2 * len(SAMPLERS)) + "---|"]
    for r in records:
        for which in ("ema", "raw"):
            if which not in r:                    # a run without an EMA copy (notebook 3's live run)
                continue
            d = r[which]
            cells = " | ".join(f"{d[s]['accuracy'] * 100:.1f} % | {d[s]['fd']:.2f}" for s in SAMPLERS)
            per = " / ".join(f"{d['DDIM-25']['per_class'][c] * 100:.0f}" for c in class_names)
            loss = "—" if r.get("final_loss") is None else f"{r['final_loss']:.4f}"
            L.append(f"| {r['key']}: {r['label']} | {which.upper() if which == 'ema' else which} | {loss} | {cells} | "
                     f"{per} |")
    return "\n".join(L) + "\n"


def cli(args) -> int:
    """``python -m dlhelpers bench-recipes``: one trial (``--trial``), or the table of all results (``--table``)."""
    try:   # --threads: set by the CLI's bench-recipes command before it calls this
        if args.table:
            print(f"wrote {write_table(args.out, **({'path': args.path} if args.path else {}))}")
        else:
            minutes = tuple(float(m) for m in args.minutes.split(",")) if args.minutes else ()
            if args.trial in LIVE_TRIALS:
                print(json.dumps(run_live_trial(args.trial, args.out), indent=1))
                return 0
            print(json.dumps(run_trial(args.trial, steps=args.steps, out_dir=args.out, minutes=minutes), indent=1))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
