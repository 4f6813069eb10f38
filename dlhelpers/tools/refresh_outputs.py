"""Re-execute course notebooks in place and keep only their text outputs (no stored images, widgets or HTML).

    python -m dlhelpers refresh-outputs notebooks/01_sampling.ipynb [more.ipynb ...]

Runs each notebook top to bottom with nbclient in its own folder (as nbval and JupyterLab do), with ``CI`` unset
so the stored outputs are what a student sees, then drops every output that is not text: images are drawn at run
time, never stored. Prints each notebook's wall time. The file is replaced atomically.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

TEXT_MIME = ("text/plain",)


def _strip(nb) -> None:
    nb.metadata.pop("widgets", None)           # saved widget state: a picture by another name (the mixer's PNG)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)   # run timestamps: noise in every diff
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("display_data", "execute_result"):
                data = {k: v for k, v in out.get("data", {}).items() if k in TEXT_MIME}
                if not data or "widget" in str(out.get("data", {}).keys()):
                    continue
                text = data.get("text/plain", "")
                if isinstance(text, list):
                    text = "".join(text)
                if text.startswith(("<Figure size", "<IPython.core.display", "<matplotlib.")):
                    continue  # the text stand-in of a picture
                out["data"] = data
                out.get("metadata", {}).clear()
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                continue  # progress bars and warnings vary between runs
            kept.append(out)
        cell["outputs"] = kept


def refresh(path: Path, timeout: int = 600) -> float:
    import nbformat
    from nbclient import NotebookClient

    from dlhelpers.io import atomic_write_bytes

    path = Path(path).resolve()
    nb = nbformat.read(str(path), as_version=4)
    env_ci = os.environ.pop("CI", None)
    try:
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - t0
    finally:
        if env_ci is not None:
            os.environ["CI"] = env_ci
    _strip(nb)
    atomic_write_bytes(path, (nbformat.writes(nb) + "\n").encode())
    return seconds


def commands() -> list[dict]:
    """This module's command, as a record for ``dlhelpers.tools.cli`` (its ``Command``'s fields)."""
    def arguments(r):
        r.add_argument("notebooks", nargs="+")
        r.add_argument("--timeout", type=int, default=600, help="per-cell limit in seconds")

    return [dict(name="refresh-outputs", audience="maintainers", run=_cmd, arguments=arguments,
                 help="re-run notebooks in place, keeping text outputs only")]


def _cmd(args) -> int:
    for p in args.notebooks:
        print(f"{p}: {refresh(Path(p), args.timeout):.1f} s")
    return 0
