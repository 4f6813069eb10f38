"""The benchmark: a smoke run writes a complete report (every section, per-class and FD-ratio columns), never the
README; a full report links the trial tables instead of copying them (``refresh_tables``); ``update_readme`` writes a
full report's headline numbers, never a table, between the README's markers; bench imports the library only."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from support import record_widths
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
    part, straight = part.split("Straightness of each model", 1)                       # the calls table, then
    straight = [_cells(ln) for ln in straight.splitlines() if ln.startswith("| ") and not ln.startswith("| model")]
    assert {r[0] for r in straight} == {"ddpm", "flow", "reflow"}                        # every model's paths
    assert all(0 < float(r[2].split("±")[0]) <= 1 for r in straight)
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


def _accuracy(overall):
    return {"overall": overall, "per_class": {c: overall for c in CLASS_NAMES}}


def _full_report(trial_links=""):
    """A full (not smoke) report as ``render`` writes it, from made-up measurements."""
    speed = {"course fp32": 0.4, "ours fp32": 0.39, "ours fast": 0.2}
    stats = {"train_images_per_s": {k: 100 / v for k, v in speed.items()},
             "train_gflops": {k: 10.0 for k in speed}, "peak_gflops": {"fp32": 20.0}, "peak_n": 1024}
    quality = {"rows": [("DDPM-500", 170.0, _accuracy(0.986), 2.05), ("DDIM-25", 9.0, _accuracy(0.95), 3.05),
                        ("DPM-Solver++(2M)-20", 5.0, _accuracy(0.96), 2.88), ("DDIM-10", 3.0, _accuracy(0.9), 3.3)],
               "n": 500, "notes": [], "baseline": 0.43}
    return R.render(smoke=False, command="python -m dlhelpers bench", machine="A CPU (x86_64, 2 threads)",
                    torch_version="2.0", fast_path="bfloat16 autocast", seconds=500, where="the CPU, 2 threads",
                    speed_rows=[("training step, B=100 (ms)", speed, 1e3)], stats=stats,
                    sampler_times={"DDIM-25 auto": 1.0, "DDIM-25 fp32": 1.5}, overhead=1.0, one_forward=0.03,
                    memory="", quality=quality, class_names=list(CLASS_NAMES),
                    train_cmp={"fp32": (0.17, 0.003, 80.0)}, train_steps=200) + trial_links


def test_update_readme_writes_the_headline_numbers_between_markers(tmp_path):
    (tmp_path / "reports").mkdir()
    report, readme = tmp_path / "reports" / "b.md", tmp_path / "README.md"
    report.write_text(_full_report())
    readme.write_text(README_TEXT)
    assert update_readme(report, readme) == readme
    new = readme.read_text()
    before, block = new.split(R.START)
    block, after = block.split(R.END)
    assert before == "# Course\n\nintro\n\n" and after == "\n\n## After\nkept\n"
    assert "[reports/b.md](reports/b.md)" in block                          # a link to the report, from the README
    for number in ("2.00×", "400.0 ms", "200.0 ms", "DDPM-500 (170.00 s) 98.6 %", "DDIM-25 95.0 %, FD 3.05, 18.9×",
                   "DPM-Solver++(2M)-20 96.0 %, FD 2.88, 34.0×", "0.43", "A CPU (x86_64, 2 threads)"):
        assert number in " ".join(block.split()), number
    assert "DDIM-10" not in block                                           # headlines only
    assert not [ln for ln in block.splitlines() if ln.startswith("|")]      # no table: the report holds them
    assert max(len(ln) for ln in block.splitlines()) <= 120
    update_readme(str(report), str(readme))
    assert readme.read_text() == new  # idempotent


def test_headline_numbers_at_ten_network_calls_or_fewer():
    """The calls section's headline: per model, the lowest FD within 10 network calls (from the committed report)."""
    from dlhelpers.tools.bench.run import REPORT
    text = REPORT.read_text()
    rows = R._first_table(text, "## Quality against network calls")
    best = {r["model"]: r for r in R._best_within(rows, 10)}
    for model, row in best.items():
        within = [float(r["sprite FD"].split("±")[0]) for r in rows if r["model"] == model
                  and int(r["network calls"]) <= 10]
        assert float(row["sprite FD"].split("±")[0]) == min(within)
    summary = " ".join(R.summary(text, "x.md").split())
    assert all(f"`{r['sampler']}` ({r['network calls']} calls) {r['context accuracy']}" in summary
               for r in best.values()) and len(best) == len({r["model"] for r in rows}) == 3


def test_update_readme_bad_inputs(tmp_path):
    report, readme = tmp_path / "b.md", tmp_path / "README.md"
    report.write_text(_full_report())
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
    report.write_text(FULL_REPORT)          # a benchmark title, but no quality table to take numbers from
    with pytest.raises(ValueError, match="report_path.*quality table"):
        update_readme(report, readme)
    report.write_text("# Notes\n")
    with pytest.raises(ValueError, match="report_path.*not a benchmark report"):
        update_readme(report, readme)
    with pytest.raises(ValueError, match="report_path"):
        update_readme(tmp_path / "missing.md", readme)
    with pytest.raises(TypeError, match="readme_path"):
        update_readme(report, 3)
    assert readme.read_text() == README_TEXT


@pytest.mark.slow
def test_cli_bench_readme_and_device_choice(tmp_path):
    report, readme = tmp_path / "b.md", tmp_path / "README.md"
    report.write_text(_full_report())
    readme.write_text(README_TEXT)
    cmd = [sys.executable, "-m", "dlhelpers"]
    subprocess.run(cmd + ["bench-readme", "--report", str(report), "--readme", str(readme)], check=True,
                   capture_output=True)
    assert "[b.md](b.md)" in readme.read_text() and "DDIM-25 95.0 %" in readme.read_text()
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
    assert report_path(None, smoke=True).parent != REPORT.parent   # not reports/: git never sees a smoke report
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
    from dlhelpers.tools.bench import recipes
    built = record_widths(monkeypatch)
    record = recipes.run_trial("S1", steps=1, out_dir=tmp_path, per_class=1)
    assert built == [32, 32] and record["n_feat"] == recipes.TRIALS["S1"][1].model["n_feat"] == 32
    with pytest.raises(ValueError, match="^out_dir"):
        recipes.write_table(tmp_path / "empty")


def _trial_files(tmp_path, monkeypatch):
    """The three trial tables (and the plot) in ``tmp_path/reports``, in place of the committed ones."""
    from dlhelpers.tools.bench import run as bench_run
    folder = tmp_path / "reports"
    folder.mkdir()
    parts = {"RECIPES": "recipe_trials.md", "STUDENT_TRIALS": "student_trials.md",
             "PER_MINUTE": "quality_per_minute.md", "PER_MINUTE_PLOT": "quality_per_minute.png"}
    heads = {"RECIPES": "## Training recipes tried (1500 steps each)",
             "STUDENT_TRIALS": "## Training recipes tried (S)",
             "PER_MINUTE": "## Quality per training minute (2 threads)"}
    for attr, name in parts.items():
        (folder / name).write_text(f"{heads[attr]}\n\nnote\n\n| t | a |\n|---|---|\n| {attr} | 1 |\n"
                                   if attr in heads else "png")
        monkeypatch.setattr(bench_run, attr, folder / name)
    return folder, heads


def test_refresh_tables_links_the_trial_tables_and_keeps_no_copy(tmp_path, monkeypatch):
    """A report that still holds copies of the trial tables (as the benchmark wrote it before) gets links instead;
    the measured sections above stay as they are; a second run changes nothing."""
    from dlhelpers.tools.bench import run as bench_run
    folder, heads = _trial_files(tmp_path, monkeypatch)
    measured = _full_report()
    report = folder / "benchmarks.md"
    report.write_text(measured + "\n## Training recipes tried (1500 steps each)\n\nold recipes\n\n"
                      "## Training recipes tried (S, an older heading)\n\nold student rows\n")
    assert bench_run.refresh_tables(report) == report
    text = report.read_text()
    assert text.startswith(measured) and "old" not in text
    tail = text[len(measured):]
    assert tail.lstrip("\n").startswith(R.TRIALS_HEADING)
    for name, head in (("recipe_trials.md", heads["RECIPES"]), ("student_trials.md", heads["STUDENT_TRIALS"]),
                       ("quality_per_minute.md", heads["PER_MINUTE"]), ("quality_per_minute.png", "")):
        assert f"]({name})" in tail and head.lstrip("# ") in tail, name   # linked beside it, titled by its heading
    assert "| RECIPES | 1 |" not in text                                   # linked, not copied
    bench_run.refresh_tables(report)
    assert report.read_text() == text
    elsewhere = tmp_path / "other" / "b.md"                                 # links relative to the report
    elsewhere.parent.mkdir()
    elsewhere.write_text(measured)
    bench_run.refresh_tables(elsewhere)
    assert "](../reports/recipe_trials.md)" in elsewhere.read_text()
    for bad in (R.SMOKE_TITLE + "\n\nx\n", "# Notes\n"):
        report.write_text(bad)
        with pytest.raises(ValueError, match="path"):
            bench_run.refresh_tables(report)
    with pytest.raises(ValueError, match="path"):
        bench_run.refresh_tables(tmp_path / "missing.md")


def test_a_full_run_links_the_trial_tables(tmp_path, monkeypatch):
    """run_benchmark ends a full report with the links (measured sections stubbed: they are the smoke test's)."""
    from dlhelpers.tools.bench import run as bench_run
    folder, _ = _trial_files(tmp_path, monkeypatch)
    (folder / "student_trials.md").unlink()                                 # only the tables that exist
    monkeypatch.setattr(bench_run, "render", lambda **kw: _full_report())
    for name, value in (("speed_section", ([], {"fast_dtype": "fp32"})), ("sampler_section", ({}, 1.0, 0.01)),
                        ("quality_section", {"rows": [(0, 0, 0, 1.0)], "reference_samples": None}),
                        ("calls_section", None),
                        ("precision_training_section", ({}, 1))):
        monkeypatch.setattr(bench_run, name, lambda *a, _v=value, **k: _v)
    out = folder / "benchmarks.md"
    text = bench_run.run_benchmark(out=out, device="cpu", verbose=False)
    assert out.read_text() == text and text.startswith(_full_report())
    assert "](recipe_trials.md)" in text and "](quality_per_minute.md)" in text and "student_trials" not in text
    assert "| RECIPES | 1 |" not in text
    smoke = bench_run.run_benchmark(smoke=True, out=tmp_path / "s.md", device="cpu", verbose=False)
    assert R.TRIALS_HEADING not in smoke                                    # a smoke run links nothing


def test_trial_tables_are_written_to_reports():
    """Every table and record the trials write goes to reports/, none to data/ (which holds what the course loads)."""
    from dlhelpers.io import DATA_DIR
    from dlhelpers.tools.bench import per_minute, recipes
    from dlhelpers.tools.bench import run as bench_run
    paths = (bench_run.REPORT, bench_run.STUDENT_TRIALS, recipes.TABLE, per_minute.TABLE, per_minute.PLOT,
             per_minute.COURSE_POINTS)
    for path in paths:
        assert R.REPORTS_DIR in path.parents and DATA_DIR not in path.parents, path
        assert path.is_file(), path


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
