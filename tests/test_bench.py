"""The benchmark: a smoke run writes a complete report (every section, per-class and FD-ratio columns), never the
README; ``update_readme`` copies a full report between the README's markers; bench imports the library only."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dlhelpers.sprites import CLASS_NAMES
from dlhelpers.tools import machine
from dlhelpers.tools.bench import report as R
from dlhelpers.tools.bench import run_benchmark, update_readme
from dlhelpers.tools.bench.timing import interleaved
from dlhelpers.tools.course_reference import CourseContextUnet, course_perturb_input, course_schedule, \
    course_training_step
from dlhelpers.training import diffusion_loss
from dlhelpers.unet import ContextUnet


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _number(cell):
    return float(re.sub(r"[^0-9.\-]", "", cell))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The benchmark's smoke run (~11 s): the tests that read it are marked slow (the full tier runs them)."""
    from dlhelpers.tools.bench import run as run_module
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("bench") / "report.md"
    written = []

    def recording_write(path, data):
        written.append(Path(path).resolve())
        return real_write(path, data)

    real_write = run_module.atomic_write_bytes
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run_module, "atomic_write_bytes", recording_write)
        mp.setattr(R, "atomic_write_bytes", recording_write)
        text = run_benchmark(smoke=True, out=str(out), device="cpu", verbose=False)
    assert written == [out.resolve()], f"the benchmark wrote {written}; only --out, never the README"
    return text, out


@pytest.mark.slow
def test_smoke_report_has_every_section(smoke):
    text, out = smoke
    assert out.read_text() == text
    assert text.startswith(R.SMOKE_TITLE)
    for heading in ("## Speed on the CPU, 1 thread (", "## Quality on the shipped weights", "## fp32 vs fast path"):
        assert heading in text
    assert machine.cpu_name() in text and "--device cpu" in text
    for row in ("| UNet forward", "| training step", "| training images/s", "| DDIM-2 |", "Sampler overhead",
                "Real-vs-real sprite FD", "| fp32 |", "| auto |"):
        assert row in text, row


@pytest.mark.slow
def test_calls_section_sets_the_flow_model_beside_the_ddpm_model(smoke):
    """Issue 23: every few-step sampler of the registry, at each call budget, on the model of its path."""
    from dlhelpers.samplers import SAMPLERS
    from dlhelpers.tools.bench.calls import steps_for
    text, _ = smoke
    part = text.split("## Quality against network calls", 1)[1].split("\n## ", 1)[0]   # this section only
    rows = [_cells(ln) for ln in part.splitlines() if ln.startswith("| ") and not ln.startswith("| sampler")]
    seen = {(r[0], r[1], int(r[2])) for r in rows}
    for name, s in SAMPLERS.items():
        if name != "ddpm":
            assert (name, s.path, s.calls(steps_for(name, 1))) in seen, (name, seen)
    assert all("±" in r[4] and r[5].count("/") == len(CLASS_NAMES) - 1 and "±" in r[6] for r in rows)
    assert steps_for("flow-heun", 10) == 5 and steps_for("flow-heun", 2) == 1 and steps_for("ddim", 16) == 16


@pytest.mark.slow
def test_quality_table_per_class_and_fd_ratio_columns(smoke):
    text, _ = smoke
    lines = text.split("## Quality", 1)[1].splitlines()
    header_at = next(i for i, ln in enumerate(lines) if ln.startswith("| sampler |"))
    header = _cells(lines[header_at])
    assert header[3:4 + len(CLASS_NAMES)] == ["context accuracy", *CLASS_NAMES]
    assert header[-2:] == ["sprite FD", "FD ÷ DDPM-500's"]
    rows = []
    for ln in lines[header_at + 2:]:
        if not ln.startswith("|"):
            break
        rows.append(_cells(ln))
    labels = [r[0] for r in rows]
    assert any(lb.startswith("DPM-Solver++(2M)-") for lb in labels), labels
    assert "DDIM-2, guidance w=2" in labels and "DDIM-2 fp32" in labels
    ref_fd = _number(rows[0][-2])
    for r in rows:
        assert len(r) == len(header), r
        per_class = [_number(c) for c in r[4:4 + len(CLASS_NAMES)]]
        # equal numbers of sprites per class: the overall accuracy is the mean of the per-class ones
        assert _number(r[3]) == pytest.approx(sum(per_class) / len(per_class), abs=0.6), r
        fd, ratio = _number(r[-2]), _number(r[-1])
        assert fd > 0 and ratio == pytest.approx(fd / ref_fd, abs=0.011), r
    assert _number(rows[0][-1]) == 1.0 and _number(rows[0][2]) == 1.0


README_TEXT = "# Course\n\nintro\n\n<!-- bench:start -->\nold table\n<!-- bench:end -->\n\n## After\nkept\n"
FULL_REPORT = "# Benchmark\n\n`python -m dlhelpers bench` — a machine.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"


def test_update_readme_copies_between_markers(tmp_path):
    report, readme = tmp_path / "b.md", tmp_path / "README.md"
    report.write_text(FULL_REPORT)
    readme.write_text(README_TEXT)
    assert update_readme(report, readme) == readme
    new = readme.read_text()
    assert new == ("# Course\n\nintro\n\n<!-- bench:start -->\n`python -m dlhelpers bench` — a machine.\n\n"
                   "| a | b |\n|---|---|\n| 1 | 2 |\n<!-- bench:end -->\n\n## After\nkept\n")
    update_readme(str(report), str(readme))
    assert readme.read_text() == new  # idempotent


def test_update_readme_bad_inputs(tmp_path):
    report, readme = tmp_path / "b.md", tmp_path / "README.md"
    report.write_text(FULL_REPORT)
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="readme_path"):
        update_readme(report, readme)
    readme.write_text("<!-- bench:end -->\n<!-- bench:start -->\n")
    with pytest.raises(ValueError, match="readme_path"):
        update_readme(report, readme)
    readme.write_text(README_TEXT)
    report.write_text(R.SMOKE_TITLE + "\n\nnumbers\n")
    with pytest.raises(ValueError, match="report_path.*smoke"):
        update_readme(report, readme)
    with pytest.raises(ValueError, match="report_path"):
        update_readme(tmp_path / "missing.md", readme)
    with pytest.raises(TypeError, match="readme_path"):
        update_readme(report, 3)
    assert readme.read_text() == README_TEXT


@pytest.mark.slow
def test_cli_bench_readme_and_device_choice(tmp_path):
    report, readme = tmp_path / "b.md", tmp_path / "README.md"
    report.write_text(FULL_REPORT)
    readme.write_text(README_TEXT)
    cmd = [sys.executable, "-m", "dlhelpers"]
    subprocess.run(cmd + ["bench-readme", "--report", str(report), "--readme", str(readme)], check=True,
                   capture_output=True)
    assert "| 1 | 2 |" in readme.read_text()
    if not torch.cuda.is_available():
        res = subprocess.run(cmd + ["bench", "--smoke", "--device", "cuda", "--out", str(tmp_path / "x.md")],
                             capture_output=True, text=True)
        assert res.returncode == 1 and "cuda" in res.stderr.lower() and not (tmp_path / "x.md").exists()


def test_run_benchmark_bad_inputs(tmp_path):
    out = str(tmp_path / "never.md")
    with pytest.raises(TypeError, match="smoke"):
        run_benchmark(smoke="yes", out=out)
    with pytest.raises(ValueError, match="device"):
        run_benchmark(smoke=True, device="tpu", out=out)
    with pytest.raises(TypeError, match="out"):
        run_benchmark(smoke=True, out=3)
    assert not (tmp_path / "never.md").exists()


def test_a_smoke_run_never_replaces_the_committed_report():
    from dlhelpers.tools.bench.run import REPORT, report_path
    assert report_path(None, smoke=False) == REPORT
    assert report_path(None, smoke=True).parent != REPORT.parent   # not data/: git never sees a smoke report
    assert report_path("x.md", smoke=True) == Path("x.md")


def test_bench_imports_the_library_only_and_the_library_never_imports_bench():
    code = ("import sys, dlhelpers.tools.bench; "
            "bad = [m for m in sys.modules if m == 'dlhelpers.tools.cli']; assert not bad, bad; "
            "import dlhelpers.training, dlhelpers.evaluation.metrics, dlhelpers.pretrained")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    code = ("import sys, dlhelpers, dlhelpers.training, dlhelpers.sampling, dlhelpers.dpm_solver, "
            "dlhelpers.evaluation.metrics; bad = [m for m in sys.modules if m.startswith('dlhelpers.tools')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_our_training_step_is_the_librarys_loss(monkeypatch):
    """The benchmark times the library's own training step: each step goes through diffusion_loss (a seam: the
    function the step looks up), and its optimizer updates the weights."""
    from dlhelpers.schedules import NoiseSchedule
    from dlhelpers.tools.bench import speed
    calls = []

    def recorded(*args, **kwargs):
        calls.append(kwargs)
        return diffusion_loss(*args, **kwargs)

    monkeypatch.setattr(speed, "diffusion_loss", recorded)
    torch.manual_seed(0)
    model = ContextUnet(n_feat=16).train()
    x, c = torch.randn(4, 3, 16, 16), torch.eye(5)[:4]
    before = model.out[-1].weight.detach().clone()
    step = speed._our_train_step_fn(model, x, c, NoiseSchedule.linear(500, 1e-4, 0.02), "fp32", torch.device("cpu"))
    step()
    step()
    assert len(calls) == 2 and calls[0]["p_uncond"] == 0.1        # the course's rate of null contexts
    assert not torch.equal(before, model.out[-1].weight)


def test_course_reference_keeps_the_courses_loop():
    _, _, ab_t = course_schedule(500)
    assert ab_t[0] == 1 and ab_t.shape == (501,)
    t = torch.tensor([10, 400])
    x = course_perturb_input(torch.zeros(2, 3, 16, 16), t, torch.ones(2, 3, 16, 16), ab_t)
    assert torch.allclose(x[:, 0, 0, 0], 1 - ab_t[t])   # the course's (1 − ᾱ_t), not √(1 − ᾱ_t)
    torch.manual_seed(0)
    model = CourseContextUnet(n_feat=16).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = model.out[-1].weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(4, 3, 16, 16, generator=g).clamp(-1, 1)
    loss = course_training_step(model, opt, x0, torch.eye(5)[:4], ab_t, 500, g)
    assert torch.isfinite(loss) and not torch.equal(before, model.out[-1].weight)


def test_interleaved_and_machine(monkeypatch):
    calls = []
    med = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3, warmup=1)
    assert set(med) == {"a", "b"} and calls == ["a", "b"] + ["a", "b"] * 3
    with pytest.raises(ValueError, match="rounds"):
        interleaved({"a": lambda: None}, rounds=0)
    assert machine.cpu_name() in machine.describe("cpu")
    info = machine.machine_info()
    assert {"platform", "processor", "threads", "torch", "cpu_arithmetic"} <= set(info)
    from dlhelpers import precision
    for native, word in ((True, "bf16"), (False, "fp32")):       # a CPU timing says which arithmetic it ran
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
        assert machine.describe("cpu").endswith(f", {word})") and machine.machine_info()["cpu_arithmetic"] == word


@pytest.mark.slow
def test_recipe_trial_runs_and_its_table_has_every_number(tmp_path):
    """A 2-step trial scored on 10 sprites (the real one: 1500 steps, 500 sprites) and the table rendered from it."""
    from dlhelpers.tools.bench import recipes
    record = recipes.run_trial("C", steps=2, out_dir=tmp_path, per_class=2)
    assert record["steps"] == 2 and set(record["ema"]) == set(recipes.SAMPLERS) == set(record["raw"])
    table = recipes.write_table(tmp_path, path=tmp_path / "table.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| C:")]
    assert len(rows) == 2 and "min-SNR" in rows[0]
    for row, which in zip(rows, ("ema", "raw")):
        d = record[which]["DDIM-25"]
        assert f"{d['accuracy'] * 100:.1f} %" in row and f"{d['fd']:.2f}" in row, row
    with pytest.raises(ValueError, match="^key"):
        recipes.run_trial("Z", steps=2, out_dir=tmp_path)


def test_a_student_trial_trains_its_own_width(tmp_path, monkeypatch):
    """The student trials change the UNet's width: every network the trial builds has that width."""
    import dlhelpers.unet
    from dlhelpers.tools.bench import recipes
    built, real = [], dlhelpers.unet.ContextUnet

    def spy(*args, **kwargs):
        built.append(kwargs.get("n_feat"))
        return real(*args, **kwargs)
    monkeypatch.setattr(dlhelpers.unet, "ContextUnet", spy)
    record = recipes.run_trial("S1", steps=1, out_dir=tmp_path, per_class=1)
    assert built == [32, 32] and record["n_feat"] == recipes.TRIALS["S1"].n_feat == 32
    with pytest.raises(ValueError, match="^out_dir"):
        recipes.write_table(tmp_path / "empty")


def test_refresh_tables_replaces_only_the_separately_measured_tables(tmp_path, monkeypatch):
    from dlhelpers.tools.bench import run as bench_run
    parts = {name: tmp_path / f"{name}.md" for name in ("recipes", "student", "minute")}
    parts["recipes"].write_text("## Training recipes tried (A)\n\nold recipes\n")
    parts["student"].write_text("## Training recipes tried (S)\n\nnew student rows\n")
    parts["minute"].write_text("## Quality per training minute\n\nnew minutes\n")
    for attr, name in (("RECIPES", "recipes"), ("STUDENT_TRIALS", "student"), ("PER_MINUTE", "minute")):
        monkeypatch.setattr(bench_run, attr, parts[name])
    report = tmp_path / "b.md"
    report.write_text(FULL_REPORT + "\n## Training recipes tried (A)\n\nold recipes\n\n"
                      "## Training recipes tried (S)\n\n"
                      "old student rows\n")
    bench_run.refresh_tables(report)
    assert report.read_text() == (FULL_REPORT + "\n## Training recipes tried (A)\n\nold recipes\n\n"
                                  "## Training recipes tried (S)\n\nnew student rows\n\n"
                                  "## Quality per training minute\n\nnew minutes\n")
    report.write_text(FULL_REPORT)
    with pytest.raises(ValueError, match="path"):
        bench_run.refresh_tables(report)


def test_course_minutes_are_kept_so_the_table_needs_no_replay(tmp_path):
    """The course preset's per-minute scores cost a 20-minute replay; they are kept in a record and read back when the
    replay's snapshots are gone — and without either, the error names the command that makes them."""
    import json
    from dlhelpers.tools.bench import per_minute
    points = [{"minutes": 1.0, "step": 169, "accuracy": 0.218, "fd": 23.26}]
    record = tmp_path / "course_minutes.json"
    record.write_text(json.dumps({"replay_dir": "runs/course_minutes", "points": points}))
    assert per_minute.course_points(tmp_path / "gone", record=record) == points
    shipped = json.loads(per_minute.COURSE_POINTS.read_text())["points"]
    assert [p["minutes"] for p in shipped][:5] == [float(m) for m in per_minute.COURSE_MINUTES]
    assert [p["step"] for p in shipped][:5] == list(per_minute.minute_steps().values())
    with pytest.raises(FileNotFoundError, match="--course-replay"):
        per_minute.course_points(tmp_path / "gone", record=tmp_path / "none.json")
