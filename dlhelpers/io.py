"""Files that are never half-written and never silently wrong.

Every file the course writes (checkpoints, weights, the sprite set, reports) goes through ``atomic_write``:
the bytes land in a temporary file in the same folder and ``os.replace`` swaps it in, so a kill at any moment
leaves either the old file or the new one, never a torn one. Every file the course *reads* from ``data/`` is
checked against a sha256 recorded beside it; a mismatch raises ``CorruptFileError`` naming the file and the
command that regenerates it.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Callable, Union

import torch

PathLike = Union[str, os.PathLike]

# The repository checkout this package lives in (an editable install): data/ and notebooks/ sit beside it.
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"


class CorruptFileError(ValueError):
    """A data or weight file is missing, truncated or does not match its recorded checksum."""


def sha256_file(path: PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: PathLike, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(f)`` on a temp file beside ``path``, fsync it, then ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a shipped file should be readable like any other
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_torch_save(obj, path: PathLike) -> Path:
    return atomic_write(path, lambda f: torch.save(obj, f))


def verify_file(path: PathLike, expected_sha256: str, regenerate: str) -> Path:
    """Raise ``CorruptFileError`` unless ``path`` exists and hashes to ``expected_sha256``.

    ``regenerate`` is the shell command that rebuilds the file; it goes into the message so a student
    knows what to run.
    """
    path = Path(path)
    if not path.is_file():
        raise CorruptFileError(f"{path} is missing. Regenerate it with: {regenerate}")
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise CorruptFileError(
            f"{path} is corrupt or out of date (sha256 {actual[:12]}…, expected {expected_sha256[:12]}…). "
            f"Regenerate it with: {regenerate}"
        )
    return path


def safe_torch_load(path: PathLike, map_location=None):
    """``torch.load`` with ``weights_only=True``; a truncated or foreign file becomes ``CorruptFileError``."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CorruptFileError(f"{path} is missing") from None
    except Exception as exc:  # torch raises several types for damaged archives
        raise CorruptFileError(f"{path} could not be read as a torch checkpoint: {exc}") from exc
