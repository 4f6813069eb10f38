"""The weights we ship: trained on a CPU by ``python -m dlhelpers train --preset course``, checked by sha256.

``data/weights/manifest.json`` records, for every shipped file, its sha256 and training step, plus the exact
command, the configuration, the wall time, the machine and the loss curve. Weights are stored as fp16 state dicts
(half the size; the model runs them in fp32 or bf16) and read with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .precision import prepare_model
from .io import DATA_DIR, CorruptFileError, atomic_torch_save, atomic_write_bytes, safe_torch_load, sha256_file, verify_file
from .schedules import NoiseSchedule
from .unet import ContextUnet

# DLHELPERS_WEIGHTS_DIR points the loader at another folder with the same layout (e.g. weights you trained).
WEIGHTS_DIR = Path(os.environ.get("DLHELPERS_WEIGHTS_DIR") or DATA_DIR / "weights")
REGENERATE = "python -m dlhelpers train --preset course"


def manifest_path(weights_dir: Path | None = None) -> Path:
    return Path(weights_dir or WEIGHTS_DIR) / "manifest.json"


def read_manifest(weights_dir: Path | None = None) -> dict:
    path = manifest_path(weights_dir)
    if not path.is_file():
        raise CorruptFileError(f"{path} is missing. Regenerate the weights with: {REGENERATE}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{path} is not valid JSON ({exc}). Regenerate it with: {REGENERATE}") from None


def available(weights_dir: Path | None = None) -> list[str]:
    """Names of the shipped weight files, earliest first, ending with "final"."""
    files = read_manifest(weights_dir)["files"]
    return sorted(files, key=lambda n: files[n]["step"])


def load_pretrained(name: str = "final", device=None, weights_dir: Path | None = None):
    """(model, schedule) for a shipped checkpoint, in eval mode on ``device`` (default CPU), checksum verified."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string such as 'final', got {type(name).__name__}")
    manifest = read_manifest(weights_dir)
    files = manifest["files"]
    if name not in files:
        raise ValueError(f"name must be one of {available(weights_dir)}, got {name!r}")
    entry = files[name]
    path = verify_file(manifest_path(weights_dir).parent / entry["file"], entry["sha256"], REGENERATE)
    state = safe_torch_load(path, map_location="cpu")
    model_cfg, sched_cfg = manifest["model"], manifest["schedule"]
    model = ContextUnet(**model_cfg)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (RuntimeError, AttributeError) as exc:
        raise CorruptFileError(f"{path} does not match ContextUnet({model_cfg}): {exc}. "
                               f"Regenerate it with: {REGENERATE}") from None
    device = torch.device(device) if device is not None else torch.device("cpu")
    prepare_model(model, device)
    schedule = NoiseSchedule.linear(**sched_cfg).to(device)
    return model.eval(), schedule


def export_state(state: dict, path: Path) -> str:
    """Write an fp16 copy of a state dict atomically; returns its sha256."""
    half = {k: (v.detach().to("cpu", torch.float16).contiguous() if v.is_floating_point() else v.detach().cpu())
            for k, v in state.items()}
    atomic_torch_save(half, path)
    return sha256_file(path)


def write_manifest(manifest: dict, weights_dir: Path | None = None) -> Path:
    return atomic_write_bytes(manifest_path(weights_dir), (json.dumps(manifest, indent=1) + "\n").encode())
