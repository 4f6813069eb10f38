"""The repo installs itself: dependencies agree, the CLI answers, CI runs the README's test command."""
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch-cpu": "torch", "pytorch": "torch"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(d) for d in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(d) for d in extra}
    listed = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"\s*-\s+([A-Za-z0-9_.\-]+)", line)
        if m and m.group(1) not in ("pip", "python", "conda-forge"):
            listed.add(CONDA_NAMES.get(m.group(1).lower(), m.group(1).lower()))
    assert wanted == listed, f"only in pyproject: {wanted - listed}; only in environment.yml: {listed - wanted}"


def test_readme_quick_start_is_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [ln.split("#")[0].strip() for ln in block.strip().splitlines() if ln.strip()]
    assert commands == ["python run.py lab", "python run.py test"]
    assert "run.py test" in (ROOT / ".ci" / "run").read_text()


def test_cli_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "dlhelpers", "--help"], capture_output=True, text=True, check=True)
    for cmd in ("train", "sample", "data", "classifier", "bench", "bench-readme", "student-copies", "course", "grade",
                "points-table", "gpu-check", "refresh-outputs"):
        assert cmd in out.stdout


def test_cli_sample_writes_a_png(tmp_path):
    out = tmp_path / "grid.png"
    subprocess.run([sys.executable, "-m", "dlhelpers", "sample", "--steps", "3", "--n", "5", "--class", "food",
                    "--out", str(out), "--quiet"], check=True, capture_output=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_cli_train_tiny_resumes_and_writes_a_manifest(tmp_path):
    import json
    base = [sys.executable, "-m", "dlhelpers", "train", "--preset", "tiny", "--out", str(tmp_path), "--quiet"]
    subprocess.run(base + ["--stop-after", "10"], check=True, capture_output=True)
    assert (tmp_path / "train_checkpoint.ckpt").exists() and not (tmp_path / "manifest.json").exists()
    subprocess.run(base, check=True, capture_output=True)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["steps"] == 20 and {"final", "step_00010"} <= set(manifest["files"])
    assert len(manifest["loss_curve"]["loss"]) == 2


def test_every_module_opens_with_a_docstring():
    for path in (ROOT / "dlhelpers").glob("*.py"):
        first = path.read_text().lstrip().splitlines()[0]
        assert first.startswith('"""'), f"{path.name} must open with a docstring"


def test_repo_stays_light():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:  # not a git checkout (e.g. an sdist)
        return
    for name in tracked:
        p = ROOT / name
        assert not name.startswith((".venv/", "workbook/")) and "__pycache__" not in name, name
        assert not name.endswith((".ckpt", ".tmp")), name
        if name.endswith(".ipynb"):
            assert p.stat().st_size < 1_000_000, name
            assert '"image/png"' not in p.read_text(), f"{name} has embedded images"
    assert (ROOT / "data/sprites_16x16.npz").stat().st_size <= 15 * 2 ** 20


def test_gpu_check_without_a_gpu_exits_cleanly_and_says_why():
    out = subprocess.run([sys.executable, "-m", "dlhelpers", "gpu-check"], capture_output=True, text=True, timeout=120)
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the check would run for real")
    assert out.returncode == 0 and "no GPU here" in out.stdout, out.stdout + out.stderr


@pytest.mark.slow
def test_gpu_check_machinery_on_the_cpu():
    """--device cpu runs every step of the check (minus the notebooks) and prints the table."""
    out = subprocess.run([sys.executable, "-m", "dlhelpers", "gpu-check", "--device", "cpu", "--skip-notebooks",
                          "--n", "1", "--repeats", "1", "--tests", "full_precision or public_steps"],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    from dlhelpers.samplers import SAMPLERS
    timed = [f"{k}-{s.default_steps}" if s.default_steps else k for k, s in SAMPLERS.items()]   # the whole registry
    for row in ("unit tests on the device | pass", "train --preset tiny (20 steps) | pass", "median of 1",
                *(f"{label}, 1 sprites" for label in timed)):
        assert row in out.stdout, out.stdout
    assert re.search(r"\| \d+ passed, \d+ deselected", out.stdout), out.stdout   # --tests reached pytest's -k
