"""``python -m dlhelpers``: the course's commands, by audience — students (sample, their copies), instructors (the
nbgrader course, grading), translators (the translated editions) and maintainers (weights, data, benchmarks, checks).

One registration pattern: every command module (this one, ``cli_course``, ``refresh_outputs``, ``gpu_check``) has a
``commands()`` that returns plain records — ``dict(name=, audience=, help=, run=, arguments=, aliases=)``, the
fields of ``Command`` — and ``build_parser`` turns them into subcommands and prints them under their audience in
``--help``. A record is plain data so that a command module never imports this one.
Each command is a thin layer over the library; everything it writes goes through ``dlhelpers.io.atomic_write``.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dlhelpers.devices import DEVICE_CHOICES
from dlhelpers.recipes import PRESETS
from dlhelpers.samplers import SAMPLERS
from dlhelpers.validation import PRECISIONS

# the audiences, in the order --help lists them: name → its heading's note
AUDIENCES = {"students": "taking the course",
             "instructors": "teaching it with nbgrader; INSTRUCTORS.md",
             "translators": "the translated editions; INSTRUCTORS.md",
             "maintainers": "the shipped weights and data, benchmarks, checks"}


@dataclass(frozen=True)
class Command:
    """One subcommand: ``arguments(parser)`` adds its arguments, ``run(args)`` does it and returns the exit code."""

    name: str
    audience: str                  # a key of AUDIENCES
    help: str                      # one line: --help's listing, and the command's own --help
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    aliases: tuple = ()

    def __post_init__(self):
        if self.audience not in AUDIENCES:
            raise ValueError(f"{self.name}: audience must be one of {list(AUDIENCES)}, got {self.audience!r}")


# ------------------------------------------------------------------------------------------------ the handlers
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


SHIPPED = ("course", "flow")                        # sample --preset: the shipped weights, in the order tried
DEFAULT_SAMPLER = {"ddpm": "ddim", "flow": "flow-heun"}   # sample without --sampler: by the weights' path (another
#                                                          path: the first of its samplers in the registry)


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_spec(folder: Path):
    """(manifest, run spec) of the weights in ``folder``; a missing or broken manifest is a one-line error."""
    from dlhelpers import pretrained
    from dlhelpers.io import CorruptFileError
    try:
        manifest = pretrained.read_manifest(folder)
        return manifest, pretrained.run_spec(manifest)
    except (CorruptFileError, ValueError, TypeError) as exc:
        raise SystemExit(f"error: {exc}") from None
    except KeyError as exc:
        raise SystemExit(f"error: {pretrained.manifest_path(folder)} has no {exc} entry") from None


def _sample_weights(args):
    """(folder, checkpoint name, run spec, file) of the weights ``sample`` draws from. The rule:

    - ``--weights`` with a path separator or ending in ``.pt`` names weights of your own: a folder with a
      manifest.json (its ``final``) or a .pt file that its folder's manifest lists (then no ``--preset``);
    - otherwise ``--weights`` is a checkpoint name of a shipped folder (default ``final``): ``--preset``'s; without
      ``--preset``, the first of ``SHIPPED`` whose spec walks ``--sampler``'s path (the course's without
      ``--sampler``).
    The path is the manifest's spec (``pretrained.run_spec``, what ``load_pretrained`` gives the model), never a
    name."""
    from dlhelpers import pretrained, samplers

    weights = args.weights
    if any(sep in weights for sep in ("/", os.sep, os.altsep or "/")) or weights.endswith(".pt"):
        if args.preset:
            raise SystemExit(f"error: --weights {weights} names weights of your own; leave out --preset {args.preset}")
        path = Path(weights)
        folder, name = (path.parent, None) if path.suffix == ".pt" else (path, "final")
        if not pretrained.manifest_path(folder).is_file():
            raise SystemExit(f"error: --weights {weights}: {pretrained.manifest_path(folder)} is missing; a weights "
                             f"folder is what `python -m dlhelpers train --out DIR` writes")
        manifest, spec = _read_spec(folder)
    else:
        name, wanted = weights, samplers.get(args.sampler).path if args.sampler else None
        candidates = [args.preset] if args.preset else list(SHIPPED) if wanted else [SHIPPED[0]]
        tried = []
        for preset in candidates:
            folder = pretrained.weights_folder(preset)
            if len(candidates) > 1 and not pretrained.manifest_path(folder).is_file():
                tried.append(f"{_shown(folder)} has none (python -m dlhelpers train --preset {preset})")
                continue
            manifest, spec = _read_spec(folder)
            if len(candidates) == 1 or spec.path == wanted:
                break
            tried.append(f"{_shown(folder)} walks the {spec.path!r} path")
        else:
            raise SystemExit(f"error: none of the shipped weights walks the {wanted!r} path of --sampler "
                             f"{args.sampler}: {'; '.join(tried)}")
    files = manifest.get("files") or {}
    if name is None:                                          # a .pt file: the entry its folder's manifest lists
        name = next((n for n, e in files.items() if Path(str(e.get("file"))).name == path.name), None)
        if name is None:
            raise SystemExit(f"error: {weights} is not in {_shown(pretrained.manifest_path(folder))} "
                             f"(it lists {', '.join(str(e.get('file')) for e in files.values()) or 'nothing'})")
    if name not in files:
        raise SystemExit(f"error: --weights must be a checkpoint of {_shown(folder)} ({', '.join(files)}), a weights "
                         f"folder or a .pt file in one; got {name!r}")
    return folder, name, spec, files[name]["file"]


def _sample_options(sampler: str, args) -> dict:
    from dlhelpers import samplers
    options = {k: v for k, v in (("steps", args.steps), ("eta", args.eta)) if v is not None}
    try:
        return samplers.check_options(sampler, {**options, "guidance_scale": args.guidance})
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None


def cmd_sample(args) -> int:
    """Sample from weights on the path their manifest's spec names: the sampler is checked against it (or chosen
    by it, without ``--sampler``) before any weights are loaded."""
    import torch
    from dlhelpers import pretrained, samplers
    from dlhelpers.devices import pick_device
    from dlhelpers.sprites import CLASS_NAMES
    from dlhelpers.notebook.viz import save_grid

    if args.sampler:
        _sample_options(args.sampler, args)                 # a bad option is refused before any file is read
    folder, name, spec, file = _sample_weights(args)
    sampler = args.sampler or DEFAULT_SAMPLER.get(spec.path) or samplers.samplers_for(spec.path)[0]
    options = _sample_options(sampler, args)
    where = _shown(folder / file)
    if samplers.get(sampler).path != spec.path:
        raise SystemExit(f"error: --sampler {sampler} does not walk the path of the {spec.path!r} weights {where}: "
                         f"{sampler} walks the {samplers.get(sampler).path!r} path, their manifest's spec the "
                         f"{spec.path!r} path; their samplers: {', '.join(samplers.samplers_for(spec.path))}")
    device = pick_device(args.device)
    model, schedule = pretrained.load_pretrained(name, device, weights_dir=folder)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    context = None
    if args.cls is not None:
        if args.cls not in CLASS_NAMES:
            raise SystemExit(f"--class must be one of {CLASS_NAMES}, got {args.cls!r}")
        context = torch.zeros(args.n, len(CLASS_NAMES), device=device)
        context[:, CLASS_NAMES.index(args.cls)] = 1
    t0 = time.perf_counter()
    res = samplers.sample(sampler, model, args.n, schedule, context=context, generator=generator,
                          precision=args.precision, progress=not args.quiet, **options)
    save_grid(args.out, res.samples.cpu(), nrow=8)
    print(f"wrote {args.out} ({args.n} sprites, {sampler} on {where}, {time.perf_counter() - t0:.1f} s)")
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
    """``bench`` (measure, write the report) and ``bench-readme`` (the report's headline numbers into the README)."""
    from dlhelpers.tools.bench import REPORT, run_benchmark, update_readme
    if args.command == "bench-readme":
        try:
            if args.refresh_tables:
                from dlhelpers.tools.bench.run import refresh_tables
                print(f"refreshed the links to the trial tables in {refresh_tables(args.report or REPORT)}")
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


# ------------------------------------------------------------------------------------------------ the records
def commands() -> list[dict]:
    """This module's commands: training, sampling, the data set, the classifier and the benchmark."""
    def train(t):
        t.add_argument("--preset", choices=sorted(PRESETS), default="course",
                       help="a named recipe (dlhelpers.recipes.PRESETS); student: a model of your own")
        t.add_argument("--steps", type=int, default=None, help="override the preset's number of steps")
        t.add_argument("--out", default=None, help="folder for weights and manifest (default data/weights)")
        t.add_argument("--precision", choices=PRECISIONS, default="auto")
        t.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, then MPS, then the CPU")
        t.add_argument("--threads", type=int, default=None, help="CPU threads (default: PyTorch's, = physical cores)")
        t.add_argument("--stop-after", type=int, default=None, help="pause after this many steps (resume later)")
        t.add_argument("--quiet", action="store_true")

    def sample(s):
        s.add_argument("--weights", default="final",
                       help="a checkpoint of the shipped weights (final, step_01000, …), or weights of your own: a "
                            "folder with a manifest.json (its final) or a .pt file in one; the manifest's spec "
                            "names the path the sampler must walk")
        s.add_argument("--preset", choices=SHIPPED, default=None,
                       help="whose shipped weights (default: the first whose spec walks --sampler's path; the "
                            "course's without --sampler)")
        s.add_argument("--sampler", choices=sorted(SAMPLERS), default=None,
                       help="dlhelpers.samplers.SAMPLERS (default: " + ", ".join(
                           f"{v} on {k!r} weights" for k, v in DEFAULT_SAMPLER.items()) + ")")
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

    return [
        dict(name="sample", audience="students", run=cmd_sample, arguments=sample,
             help="sample sprites from the shipped weights (or yours) into a PNG grid"),
        dict(name="train", audience="maintainers", run=cmd_train, arguments=train,
             help="train the ContextUnet on the sprites (resumes after a kill); --preset student: your own"),
        dict(name="data", audience="maintainers", run=cmd_data,
             help="regenerate data/sprites_16x16.npz bit for bit"),
        dict(name="classifier", audience="maintainers", run=cmd_classifier,
             help="retrain the sprite classifier used by the metrics"),
        *_bench_commands(),
    ]


def _bench_commands() -> list[dict]:
    """The benchmark's commands (run by dlhelpers.tools.bench); the report's path is the package's own."""
    from dlhelpers.io import REPO_ROOT
    from dlhelpers.tools.bench import REPORT
    report = _shown(REPORT)

    def bench(b):
        b.add_argument("--smoke", action="store_true", help="a tiny, fast run that checks the benchmark works")
        b.add_argument("--out", default=None, help=f"report path (default {report}; a smoke run: the temp folder)")
        b.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                       help="where to run (auto: CUDA, then MPS, then the CPU)")

    def bench_readme(r):
        r.add_argument("--report", default=None, help=f"report to summarise (default {report})")
        r.add_argument("--readme", default=str(REPO_ROOT / "README.md"), help="README to update")
        r.add_argument("--refresh-tables", action="store_true",
                       help="first rewrite the report's links to the trial tables (recipes, student trials, "
                            "quality per minute), replacing any copies")

    def bench_recipes(q):
        q.add_argument("--trial", default=None, help="a key of dlhelpers.tools.bench.recipes.TRIALS (A, B, …)")
        q.add_argument("--steps", type=int, default=1500, help="training steps per trial")
        q.add_argument("--minutes", default=None, help="also score the weights after these minutes, e.g. 1,2,5")
        q.add_argument("--per-minute", default=None, metavar="TRIAL_JSON",
                       help="write the quality-per-minute table and plot from a trial run with --minutes")
        q.add_argument("--course-replay", action="store_true",
                       help="replay the course run up to its 1, 2, 5, 10, 20-minute steps (into --out), for "
                            "--per-minute")
        q.add_argument("--out", default="runs/recipes", help="folder for the trials' JSON results")
        q.add_argument("--table", action="store_true", help="write the recipe trials' table from the results in --out")
        q.add_argument("--path", default=None, help="with --table: the table's path (default: the package's)")
        q.add_argument("--threads", type=int, default=None, help="torch threads (two trials side by side: 1 each)")

    return [
        dict(name="bench", audience="maintainers", run=cmd_bench, arguments=bench,
             help=f"measure speed and quality; writes the benchmark report ({report}), never the README"),
        dict(name="bench-readme", audience="maintainers", run=cmd_bench, arguments=bench_readme,
             help="write the benchmark report's headline numbers, with a link to it, into README.md"),
        dict(name="bench-recipes", audience="maintainers", run=cmd_bench_recipes, arguments=bench_recipes,
             help="train and score one training-recipe trial, or tabulate them all"),
    ]


def registry() -> list[Command]:
    """Every command of every command module, in registration order."""
    from dlhelpers.tools import cli_course, gpu_check, refresh_outputs
    return [Command(**record) for record in (*commands(), *cli_course.commands(), *refresh_outputs.commands(),
                                             *gpu_check.commands())]


def _listing(cmds: list[Command]) -> str:
    """The commands under their audience's heading, laid out as argparse lays out arguments."""
    width = max(shutil.get_terminal_size().columns - 2, 60)
    col = min(max(len(c.name) for c in cmds) + 4, 24)
    blocks = []
    for audience, note in AUDIENCES.items():
        lines = [f"{audience} ({note}):"]
        for c in (c for c in cmds if c.audience == audience):
            text = c.help + "".join(f" [alias:\xa0{a}]" for a in c.aliases)     # kept on one line
            wrapped = [w.replace("\xa0", " ") for w in textwrap.wrap(text, max(width - col, 20))]
            head = f"  {c.name}"
            if len(head) + 2 > col:
                lines.append(head)
            else:
                lines.append(head.ljust(col) + wrapped.pop(0))
            lines += [" " * col + w for w in wrapped]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def build_parser() -> argparse.ArgumentParser:
    """The parser: one subcommand per ``Command``; ``--help`` lists them by audience (argparse's own list is flat,
    so the subcommands carry no ``help`` there and the epilog groups them)."""
    cmds = registry()
    p = argparse.ArgumentParser(prog="python -m dlhelpers", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="How Diffusion Models Work — helpers. A command's own options: "
                                            "python -m dlhelpers COMMAND --help",
                                epilog=_listing(cmds))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", prog=p.prog, help=argparse.SUPPRESS)
    p.usage = "%(prog)s [-h] COMMAND ..."
    for c in cmds:
        parser = sub.add_parser(c.name, aliases=list(c.aliases), description=c.help)
        if c.arguments is not None:
            c.arguments(parser)
        parser.set_defaults(func=c.run)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
