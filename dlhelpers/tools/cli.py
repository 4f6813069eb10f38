"""``python -m dlhelpers``: train, sample, regenerate data, the metric classifier, benchmark, student copies, grading.

Each command is a thin layer over the library; everything it writes goes through ``dlhelpers.io.atomic_write``.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time

from dlhelpers.devices import DEVICE_CHOICES
from dlhelpers.samplers import SAMPLERS
from dlhelpers.training import PRESETS
from dlhelpers.validation import PRECISIONS

def cmd_train(args) -> int:
    """Train a preset; ``dlhelpers.pretrained.train_preset`` exports the weights and writes their manifest."""
    import torch
    import platform

    from dlhelpers import pretrained
    from dlhelpers.devices import pick_device
    from dlhelpers.sprites import SpriteDataset
    from dlhelpers.tools.machine import cpu_name, device_name

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    machine = {"platform": platform.platform(), "processor": cpu_name(), "device": device_name(device),
               "threads": torch.get_num_threads(), "torch": torch.__version__}
    pretrained.train_preset(args.preset, SpriteDataset(), machine, out=args.out, steps=args.steps,
                            precision=args.precision, device=device, stop_after=args.stop_after,
                            progress=not args.quiet,
                            command="python -m dlhelpers " + " ".join(shlex.quote(a) for a in args.argv))
    return 0


def cmd_sample(args) -> int:
    import torch
    from dlhelpers import samplers
    from dlhelpers.devices import pick_device
    from dlhelpers.pretrained import load_pretrained
    from dlhelpers.sprites import CLASS_NAMES
    from dlhelpers.notebook.viz import save_grid

    preset = args.preset or ("flow" if samplers.get(args.sampler).path == "flow" else "course")
    options = {k: v for k, v in (("steps", args.steps), ("eta", args.eta)) if v is not None}
    try:
        options = samplers.check_options(args.sampler, {**options, "guidance_scale": args.guidance})
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    if samplers.get(args.sampler).path != ("flow" if preset == "flow" else "ddpm"):
        raise SystemExit(f"error: --sampler {args.sampler} does not walk the path of the {preset!r} weights; "
                         f"their samplers: {', '.join(samplers.samplers_for('flow' if preset == 'flow' else 'ddpm'))}")
    device = pick_device(args.device)
    model, schedule = load_pretrained(args.weights, device, preset=preset)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    context = None
    if args.cls is not None:
        if args.cls not in CLASS_NAMES:
            raise SystemExit(f"--class must be one of {CLASS_NAMES}, got {args.cls!r}")
        context = torch.zeros(args.n, len(CLASS_NAMES), device=device)
        context[:, CLASS_NAMES.index(args.cls)] = 1
    t0 = time.perf_counter()
    res = samplers.sample(args.sampler, model, args.n, schedule, context=context, generator=generator,
                          precision=args.precision, progress=not args.quiet, **options)
    save_grid(args.out, res.samples.cpu(), nrow=8)
    print(f"wrote {args.out} ({args.n} sprites, {args.sampler}, {time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_data(args) -> int:
    from dlhelpers.sprites import build_dataset_file
    build_dataset_file()
    return 0


def cmd_classifier(args) -> int:
    from dlhelpers.evaluation.classifier import train_classifier_file
    train_classifier_file()
    return 0


def cmd_bench(args) -> int:
    """``bench`` (measure, write the report) and ``bench-readme`` (copy the report into the README)."""
    from dlhelpers.tools.bench import REPORT, run_benchmark, update_readme
    if args.command == "bench-readme":
        try:
            if args.refresh_tables:
                from dlhelpers.tools.bench.run import refresh_tables
                print(f"refreshed the trial tables in {refresh_tables(args.report or REPORT)}")
            path = update_readme(args.report or REPORT, args.readme)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"updated {path} from {args.report or REPORT}")
        return 0
    try:
        run_benchmark(smoke=args.smoke, out=args.out, device=args.device)
    except ValueError as exc:  # e.g. --device cuda on a machine without one
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dlhelpers", description="How Diffusion Models Work — helpers")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train the ContextUnet on the sprites (resumes after a kill)")
    t.add_argument("--preset", choices=sorted(PRESETS), default="course",
                   help="a named recipe (dlhelpers.training.PRESETS)")
    t.add_argument("--steps", type=int, default=None, help="override the preset's number of steps")
    t.add_argument("--out", default=None, help="folder for weights and manifest (default data/weights)")
    t.add_argument("--precision", choices=PRECISIONS, default="auto")
    t.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then the CPU")
    t.add_argument("--threads", type=int, default=None, help="CPU threads (default: PyTorch's, = physical cores)")
    t.add_argument("--stop-after", type=int, default=None, help="pause after this many steps (resume later)")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="sample sprites from the shipped weights into a PNG grid")
    s.add_argument("--weights", default="final")
    s.add_argument("--preset", choices=("course", "flow"), default=None,
                   help="whose weights (default: the flow model for the flow samplers, else the course's)")
    s.add_argument("--sampler", choices=sorted(SAMPLERS), default="ddim", help="dlhelpers.samplers.SAMPLERS")
    s.add_argument("--steps", type=int, default=None, help="steps, for the samplers that take them (default: "
                   "the sampler's own); refused by ddpm")
    s.add_argument("--eta", type=float, default=None, help="DDIM's η in [0, 1]; refused by the other samplers")
    s.add_argument("--n", type=int, default=32)
    s.add_argument("--class", dest="cls", default=None, help="hero, non-hero, food, spell or side-facing")
    s.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale w (1 = off)")
    s.add_argument("--precision", choices=PRECISIONS, default="auto")
    s.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then the CPU")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="samples.png")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_sample)

    sub.add_parser("data", help="regenerate data/sprites_16x16.npz bit for bit").set_defaults(func=cmd_data)
    sub.add_parser("classifier", help="retrain the sprite classifier used by the metrics").set_defaults(
        func=cmd_classifier)

    _bench_commands(sub)
    from dlhelpers.tools import cli_course, gpu_check, refresh_outputs
    cli_course.add_commands(sub)
    refresh_outputs.add_commands(sub)
    gpu_check.add_commands(sub)
    return p


def _bench_commands(sub) -> None:
    """The benchmark's subcommands (owned by dlhelpers.tools.bench)."""
    from dlhelpers.io import REPO_ROOT
    b = sub.add_parser("bench", help="measure speed and quality; writes data/benchmarks.md (never the README)")
    b.add_argument("--smoke", action="store_true", help="a tiny, fast run that checks the benchmark works")
    b.add_argument("--out", default=None, help="report path (default data/benchmarks.md; a smoke run: the temp folder)")
    b.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="where to run (auto: CUDA, then MPS, then the CPU)")
    b.set_defaults(func=cmd_bench)
    r = sub.add_parser("bench-readme", help="copy the benchmark report into README.md between its bench markers")
    r.add_argument("--report", default=None, help="report to copy (default data/benchmarks.md)")
    r.add_argument("--readme", default=str(REPO_ROOT / "README.md"), help="README to update")
    r.add_argument("--refresh-tables", action="store_true",
                   help="first re-append data/recipe_trials.md, student_trials.md, quality_per_minute.md to the report")
    r.set_defaults(func=cmd_bench)
    q = sub.add_parser("bench-recipes", help="train and score one training-recipe trial, or tabulate them all")
    q.add_argument("--trial", default=None, help="a key of dlhelpers.tools.bench.recipes.TRIALS (A, B, …)")
    q.add_argument("--steps", type=int, default=1500, help="training steps per trial")
    q.add_argument("--minutes", default=None, help="also score the weights after these minutes, e.g. 1,2,5")
    q.add_argument("--per-minute", default=None, metavar="TRIAL_JSON",
                   help="write data/quality_per_minute.md and .png from a trial run with --minutes")
    q.add_argument("--course-replay", action="store_true",
                   help="replay the course run up to its 1, 2, 5, 10, 20-minute steps (into --out), for --per-minute")
    q.add_argument("--out", default="runs/recipes", help="folder for the trials' JSON results")
    q.add_argument("--table", action="store_true", help="write data/recipe_trials.md from the results in --out")
    q.add_argument("--path", default=None, help="with --table: the table's path (default data/recipe_trials.md)")
    q.add_argument("--threads", type=int, default=None, help="torch threads (two trials side by side: 1 each)")
    q.set_defaults(func=cmd_bench_recipes)


def cmd_bench_recipes(args) -> int:
    """One trial, the trials' table, or (``--per-minute``) the quality-per-minute table and plot."""
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.course_replay:
        from dlhelpers.tools.bench.per_minute import course_replay
        print(f"EMA weights at {course_replay(args.out)} (minutes: step) in {args.out}")
        return 0
    if args.per_minute:
        from dlhelpers.tools.bench.per_minute import write
        print(f"wrote {write(args.per_minute, replay_dir=args.out)}")
        return 0
    from dlhelpers.tools.bench.recipes import cli
    return cli(args)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
