"""``python -m dlhelpers gpu-check``: does the course run on this machine's GPU, and how fast?

On a machine with an NVIDIA (CUDA) or Apple (MPS) GPU it
1. runs the device-taking unit tests (tests/test_on_device.py, tests/test_devices.py) on the GPU,
2. executes all the notebooks top to bottom with nbclient (they pick the GPU themselves, as for a student),
3. trains the tiny preset for a few steps on the GPU (``python -m dlhelpers train --preset tiny --device ...``),
4. times every sampler of ``dlhelpers.samplers.SAMPLERS`` at its default steps for 64 sprites from the shipped
   weights of its path (median of 3 runs after a warm-up, with ``torch.cuda.synchronize``), and prints one table
   naming the card.
On a machine without a GPU it says so and exits 0. ``--device cpu`` runs the same steps on the CPU (to test this
command itself); ``--skip-notebooks`` leaves out step 2, ``--save-notebooks DIR`` keeps the executed notebooks,
``--tests EXPR`` runs only the device tests matching a pytest -k expression, ``--repeats`` sets the timed runs.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from dlhelpers.io import REPO_ROOT


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _run(cmd: list[str], env: dict | None = None, timeout: int = 900) -> tuple[bool, float, str]:
    """(passed, seconds, last line); a failing command's last 40 lines are printed, since the table has room for one."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    if proc.returncode != 0:
        print(f"--- {' '.join(cmd[1:])} failed (exit {proc.returncode}); its last lines:", *lines[-40:], sep="\n")
    return proc.returncode == 0, time.perf_counter() - t0, (lines[-1:] or [""])[0][:120]


def _notebooks(device: torch.device, save_dir: str | None = None) -> list[tuple[str, bool, float, str]]:
    import nbformat
    from nbclient import NotebookClient

    rows = []
    for path in sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        t0 = time.perf_counter()
        try:
            NotebookClient(nb, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            ok, note = True, ""
        except Exception as exc:  # noqa: BLE001 - report any failure as a row
            ok, note = False, f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:100]}"
        devices = {line.split("device:")[1].split(",")[0].strip() for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) for line in str(o.get("text", "")).splitlines()
                   if line.startswith("device:")}
        rows.append((path.name, ok, time.perf_counter() - t0, note or f"ran on {', '.join(sorted(devices)) or '?'}"))
        if save_dir is not None:   # the executed notebook, outputs and all, to look at afterwards
            os.makedirs(save_dir, exist_ok=True)
            nbformat.write(nb, os.path.join(save_dir, path.name))
    return rows


def _timings(device: torch.device, n: int = 64, repeats: int = 3) -> list[tuple[str, float, float]]:
    """Every sampler of the registry at its default steps, on the model of its path (flow rows if its weights
    are there)."""
    from dlhelpers import samplers
    from dlhelpers.io import CorruptFileError
    from dlhelpers.pretrained import load_pretrained

    models = {"ddpm": load_pretrained("final", device)}
    try:
        models["flow"] = load_pretrained("final", device, preset="flow")
    except CorruptFileError:
        pass
    runs = {}
    for name, sampler in samplers.SAMPLERS.items():
        if sampler.path in models:
            model, path = models[sampler.path]
            steps = {"steps": sampler.default_steps} if sampler.default_steps else {}
            label = f"{name}-{sampler.default_steps}" if sampler.default_steps else name
            runs[label] = (lambda g, name=name, model=model, path=path, steps=steps: samplers.sample(
                name, model, n, path, generator=g, progress=False, save_every=None, **steps))
    rows = []
    for name, fn in runs.items():
        fn(torch.Generator(device=device.type).manual_seed(0))   # warm-up (kernels, autocast caches)
        times = []
        for r in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            fn(torch.Generator(device=device.type).manual_seed(r))
            _sync(device)
            times.append(time.perf_counter() - t0)
        rows.append((name, statistics.median(times), min(times)))
    return rows


def gpu_check(device_name: str = "auto", skip_notebooks: bool = False, n: int = 64,
              save_notebooks: str | None = None, tests: str | None = None, repeats: int = 3) -> int:
    from dlhelpers.devices import pick_device
    from dlhelpers.precision import autocast_dtype
    from dlhelpers.tools.machine import device_name as describe
    from dlhelpers.validation import check_positive_int

    n, repeats = check_positive_int(n, "n"), check_positive_int(repeats, "repeats")
    device = pick_device(device_name)
    if device.type == "cpu" and device_name == "auto":
        print(f"gpu-check: no GPU here (torch {torch.__version__}: torch.cuda.is_available() is "
              f"{torch.cuda.is_available()}, MPS unavailable); nothing to check. Run it on a machine with an NVIDIA "
              f"or Apple GPU (or pass --device cpu to exercise the check itself).")
        return 0
    card = describe(device)
    print(f"gpu-check on {card} ({device}), torch {torch.__version__}; autocast for sampling: "
          f"{autocast_dtype('auto', device)}, for training: {autocast_dtype('auto', device, training=True)}")
    table = []
    ok, secs, tail = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_on_device.py",
                           "tests/test_devices.py", *(["-k", tests] if tests else [])],
                          env={"DLHELPERS_TEST_DEVICE": device.type})
    table.append(("unit tests on the device", "pass" if ok else "FAIL", f"{secs:.1f} s", tail))
    if not skip_notebooks:
        for name, ok_nb, secs_nb, note in _notebooks(device, save_notebooks):
            table.append((f"notebook {name}", "pass" if ok_nb else "FAIL", f"{secs_nb:.1f} s", note))
            ok = ok and ok_nb
    with tempfile.TemporaryDirectory() as tmp:
        ok_tr, secs, tail = _run([sys.executable, "-m", "dlhelpers", "train", "--preset", "tiny", "--device",
                                  device.type, "--out", tmp, "--quiet"])
    table.append(("train --preset tiny (20 steps)", "pass" if ok_tr else "FAIL", f"{secs:.1f} s", tail))
    for name, median, best in _timings(device, n, repeats):
        table.append((f"{name}, {n} sprites", "time", f"{median:.3f} s", f"median of {repeats} (best {best:.3f} s)"))
    print(f"\n| check on {card} | result | time | note |\n|---|---|---:|---|")
    for row in table:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0 if ok and ok_tr else 1


def commands() -> list[dict]:
    """This module's command, as a record for ``dlhelpers.tools.cli`` (its ``Command``'s fields)."""
    def arguments(g):
        g.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
        g.add_argument("--skip-notebooks", action="store_true")
        g.add_argument("--n", type=int, default=64, help="sprites per timed sampling run")
        g.add_argument("--save-notebooks", metavar="DIR", help="write the executed notebooks (with their outputs) here")
        g.add_argument("--tests", metavar="EXPR", help="only the device tests matching this pytest -k expression")
        g.add_argument("--repeats", type=int, default=3, help="timed runs per sampler (after one warm-up)")

    return [dict(name="gpu-check", audience="maintainers", arguments=arguments,
                 help="run the unit tests, notebooks, a short training and timings on the GPU",
                 run=lambda args: gpu_check(args.device, args.skip_notebooks, args.n, args.save_notebooks,
                                            args.tests, args.repeats))]
