"""The weights we ship: trained on a CPU by ``python -m dlhelpers train --preset course`` (DDPM, ε) and
``--preset flow`` (flow matching, velocity; in ``data/weights/flow``), checked by sha256.

``manifest.json`` in each folder records, for every shipped file, its sha256 and training step, plus the run spec
(``dlhelpers.spec``: the path and what the network predicts), the exact command, the configuration, the wall
time, the machine and the loss curve. This module writes it (``train_preset``) and reads it (``load_pretrained``).
Weights are stored as fp16 state dicts (half the size; the model runs them in fp32 or bf16) and read with
``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .precision import prepare_model
from .io import (DATA_DIR, CorruptFileError, atomic_torch_save, atomic_write_bytes, safe_torch_load, sha256_file,
                 verify_file)
from .spec import RunSpec
from .unet import ContextUnet

# DLHELPERS_WEIGHTS_DIR points the loader at another folder with the same layout (e.g. weights you trained).
WEIGHTS_DIR = Path(os.environ.get("DLHELPERS_WEIGHTS_DIR") or DATA_DIR / "weights")
# preset → its folder under WEIGHTS_DIR (student: yours, trained by `train --preset student`)
FOLDERS = {"course": "", "flow": "flow", "reflow": "reflow", "student": "student"}
REGENERATE = "python -m dlhelpers train --preset course"


def weights_folder(preset: str = "course") -> Path:
    if preset not in FOLDERS:
        raise ValueError(f"preset must be one of {sorted(FOLDERS)}, got {preset!r}")
    return WEIGHTS_DIR / FOLDERS[preset]


def manifest_path(weights_dir: Path | None = None) -> Path:
    return Path(weights_dir or WEIGHTS_DIR) / "manifest.json"


def read_manifest(weights_dir: Path | None = None) -> dict:
    path = manifest_path(weights_dir)
    regenerate = _regenerate(weights_dir)
    if not path.is_file():
        raise CorruptFileError(f"{path} is missing. Regenerate the weights with: {regenerate}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{path} is not valid JSON ({exc}). Regenerate it with: {regenerate}") from None


def available(weights_dir: Path | None = None) -> list[str]:
    """Names of the shipped weight files, earliest first, ending with "final"."""
    files = read_manifest(weights_dir)["files"]
    return sorted(files, key=lambda n: files[n]["step"])


def _regenerate(weights_dir) -> str:
    """The command that (re)makes the weights in ``weights_dir``."""
    here = Path(weights_dir or WEIGHTS_DIR).resolve()
    for preset in FOLDERS:
        if here == weights_folder(preset).resolve():
            return f"python -m dlhelpers train --preset {preset}"
    return REGENERATE


def run_spec(manifest: dict) -> RunSpec:
    """The manifest's run spec; manifests from before the spec existed are DDPM ε-models on their schedule."""
    if "spec" in manifest:
        return RunSpec.from_dict(manifest["spec"])
    return RunSpec("ddpm", "eps", manifest["schedule"])


def load_pretrained(name: str = "final", device=None, weights_dir: Path | None = None, preset: str = "course"):
    """(model, schedule) for a shipped checkpoint, in eval mode on ``device`` (default CPU), checksum verified.

    ``preset="flow"`` loads the flow-matching model; its "schedule" is then a ``FlowPath``. The second value is
    always the path the model was trained on (the manifest's run spec); the model carries it as ``run_spec``, and
    the samplers refuse a model sampled on another path."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string such as 'final', got {type(name).__name__}")
    if weights_dir is None:
        weights_dir = weights_folder(preset)
    regenerate = _regenerate(weights_dir)
    manifest = read_manifest(weights_dir)
    files = manifest["files"]
    if name not in files:
        raise ValueError(f"name must be one of {available(weights_dir)}, got {name!r}")
    entry = files[name]
    path = verify_file(manifest_path(weights_dir).parent / entry["file"], entry["sha256"], regenerate)
    state = safe_torch_load(path, map_location="cpu")
    model_cfg, spec = manifest["model"], run_spec(manifest)
    model = ContextUnet(**model_cfg)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (RuntimeError, AttributeError) as exc:
        raise CorruptFileError(f"{path} does not match ContextUnet({model_cfg}): {exc}. "
                               f"Regenerate it with: {regenerate}") from None
    device = torch.device(device) if device is not None else torch.device("cpu")
    prepare_model(model, device)
    model.run_spec = spec
    return model.eval(), spec.build().to(device)


def train_preset(preset: str, dataset, machine: dict, out: Path | None = None, steps: int | None = None,
                 precision: str = "auto", device=None, stop_after: int | None = None, progress: bool = True,
                 command: str = "", log=print) -> dict | None:
    """Train a preset from scratch (or resume its checkpoint in ``out``) on ``dataset`` (the sprites), export fp16
    weights and write the manifest next to them; ``machine`` (a dict) describes where it ran. Returns the manifest,
    or None when paused by ``stop_after`` (run again to resume). A preset with ``init`` starts from that preset's
    shipped weights; with ``pairs`` (reflow) it trains on pairs its ``init`` model draws, kept in ``out/pairs``
    (resumable), instead of on ``dataset``."""
    from dataclasses import asdict, replace

    from .recipes import PRESETS
    from .training import train

    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    chosen = PRESETS[preset]
    cfg = replace(chosen.config, precision=precision, **({"steps": steps} if steps else {}))
    snapshots = tuple(s for s in chosen.snapshots if s < cfg.steps)
    out = Path(out) if out is not None else (weights_folder(preset) if preset in FOLDERS else WEIGHTS_DIR / preset)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(device) if device is not None else torch.device("cpu")
    torch.manual_seed(cfg.seed)  # the model's initial weights
    model = ContextUnet(**chosen.model).to(device)   # initialised on the CPU, so identical on every device
    files: dict = {}
    extra: dict = {}
    if chosen.init is not None:
        pairs, extra = _reflow_start(chosen, model, device, out, progress, log)
        dataset = pairs if pairs is not None else dataset

    def export(name: str, step: int, state: dict) -> None:
        files[name] = {"file": f"{name}.pt", "sha256": export_state(state, out / f"{name}.pt"), "step": step}

    for s in snapshots:  # snapshots exported before a kill are kept
        p = out / f"step_{s:05d}.pt"
        if p.exists():
            files[p.stem] = {"file": p.name, "sha256": sha256_file(p), "step": s}
    log(f"training ContextUnet{chosen.model} on the {chosen.spec.path!r} path ({chosen.spec.prediction}) for "
        f"{cfg.steps} steps on {machine.get('device', device)} (preset {preset}, precision {cfg.precision}, "
        f"{torch.get_num_threads()} threads); checkpoint {out / 'train_checkpoint.ckpt'}")
    result = train(model, dataset, chosen.spec.build(), cfg, checkpoint_path=out / "train_checkpoint.ckpt",
                   progress=progress, snapshot_steps=snapshots, stop_after=stop_after,
                   on_snapshot=lambda step, state: export(f"step_{step:05d}", step, state))
    if result.steps_done < cfg.steps:
        log(f"paused at step {result.steps_done}; run the same command again to resume")
        return None
    export("final", cfg.steps, result.ema_state if result.ema_state is not None else model.state_dict())
    if chosen.ship_raw:
        export("final_raw", cfg.steps, model.state_dict())
    manifest = {
        "command": command, "spec": chosen.spec.to_dict(),
        "model": chosen.model, "schedule": chosen.spec.schedule, "config": asdict(cfg),
        "steps": result.steps_done, "wall_time_s": round(result.seconds, 1),
        "machine": machine, "files": dict(sorted(files.items(), key=lambda kv: kv[1]["step"])),
        "weights_note": "fp16 state dicts; 'final' is the EMA of the weights"
                        + (", 'final_raw' the last raw weights" if chosen.ship_raw else ""),
        "loss_curve": {"steps": result.loss_steps, "loss": [round(x, 5) for x in result.losses]},
        **extra,
    }
    _plot_loss(out / "loss_curve.png", result.loss_steps, result.losses)
    write_manifest(manifest, out)
    log(f"done in {result.seconds / 60:.1f} min; wrote {len(files)} weight files and {manifest_path(out)}")
    return manifest


def _reflow_start(chosen, model, device, out: Path, progress: bool, log):
    """(the dataset to train on, the manifest's record of where the run started): ``chosen.init``'s shipped weights
    copied into ``model``; with ``chosen.pairs``, the pairs its model draws (``dlhelpers.reflow``)."""
    from dataclasses import asdict

    from .reflow import PairDataset, make_pairs

    teacher, teacher_path = load_pretrained("final", device, preset=chosen.init)
    entry = read_manifest(weights_folder(chosen.init))["files"]["final"]
    model.load_state_dict(teacher.state_dict())
    start = {"init": {"preset": chosen.init, "file": entry["file"], "sha256": entry["sha256"]}}
    if chosen.pairs is None:
        return None, start
    log(f"drawing {chosen.pairs.per_class} pairs per class with {chosen.pairs.sampler}-{chosen.pairs.steps} from "
        f"the {chosen.init!r} weights into {out / 'pairs'} (resumable)")
    pairs = make_pairs(teacher, teacher_path, chosen.pairs, out=out / "pairs", progress=progress)
    start["reflow"] = {"teacher": start["init"], "pairs": asdict(chosen.pairs), "n_pairs": len(pairs["labels"]),
                       "pairs_sha256": pairs["sha256"], "pairs_seconds": pairs["seconds"]}
    return PairDataset(pairs, chosen.model["n_cfeat"]), start


def _plot_loss(path: Path, steps, losses) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .io import atomic_write
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    ax.plot(steps, losses, lw=1)
    ax.set_xlabel("step"), ax.set_ylabel("MSE loss"), ax.set_yscale("log"), ax.set_title("training loss")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)


def export_state(state: dict, path: Path) -> str:
    """Write an fp16 copy of a state dict atomically; returns its sha256."""
    half = {k: (v.detach().to("cpu", torch.float16).contiguous() if v.is_floating_point() else v.detach().cpu())
            for k, v in state.items()}
    atomic_torch_save(half, path)
    return sha256_file(path)


def write_manifest(manifest: dict, weights_dir: Path | None = None) -> Path:
    return atomic_write_bytes(manifest_path(weights_dir), (json.dumps(manifest, indent=1) + "\n").encode())
