"""One recipe type (dlhelpers.recipes.Preset): the presets, every recipe trial and every live run are presets, and
only TrainConfig declares a recipe's numbers."""
import ast
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from support import record_widths
from dlhelpers.recipes import LIVE, PRESETS, Preset, variant
from dlhelpers.spec import RunSpec
from dlhelpers.training import TrainConfig
from dlhelpers.tools.bench import recipes as bench

PKG = Path(__file__).resolve().parent.parent / "dlhelpers"
RECIPE_NUMBERS = {"lr", "warmup_steps", "batch_size", "ema_decay", "min_snr_gamma", "p_uncond"}


def test_every_trial_and_live_run_is_a_preset():
    assert {k: type(p) for k, (_, p) in bench.TRIALS.items()} == dict.fromkeys(bench.TRIALS, Preset)
    assert {k: type(p) for k, (p, _) in bench.LIVE_TRIALS.items()} == dict.fromkeys(bench.LIVE_TRIALS, Preset)
    assert all(isinstance(label, str) and label for label, _ in bench.TRIALS.values())
    assert all(minutes > 0 for _, minutes in bench.LIVE_TRIALS.values())
    assert not set(bench.TRIALS) & set(bench.LIVE_TRIALS), "a trial key names one run"
    for preset in [p for _, p in bench.TRIALS.values()] + [p for p, _ in bench.LIVE_TRIALS.values()] + [LIVE]:
        preset.config.validate()
        preset.spec.build()


def test_only_train_config_declares_a_recipes_numbers():
    """No second recipe type: no other class in the package has fields such as lr or warmup_steps."""
    found = set()
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                fields = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign)
                          and isinstance(s.target, ast.Name)}
                if fields & RECIPE_NUMBERS:
                    found.add(node.name)
    assert found == {"TrainConfig"}


def test_variant_changes_only_what_it_names():
    course = PRESETS["course"]
    v = variant(course, model=dict(n_feat=32), lr=1e-3)
    assert v.model == dict(course.model, n_feat=32) and v.config == replace(course.config, lr=1e-3)
    assert (v.spec, v.snapshots, v.ship_raw) == (course.spec, course.snapshots, course.ship_raw)
    assert course.model["n_feat"] == 64 and course.config.lr == TrainConfig().lr, "the preset itself is unchanged"
    flow = RunSpec("flow", "velocity", {})
    assert variant(course, spec=flow).spec == flow
    with pytest.raises(TypeError):
        variant(course, learning_rate=1e-3)


def test_the_student_preset_is_trial_s15s_recipe():
    """The student preset's comment names trial S15: its model, path and numbers (its steps aside, which the
    trial's record holds)."""
    student, s15 = PRESETS["student"], bench.TRIALS["S15"][1]
    assert (s15.model, s15.spec) == (student.model, student.spec)
    assert replace(s15.config, steps=student.config.steps) == student.config


def test_trial_d_trains_on_the_cosine_schedule_and_its_spec_round_trips():
    from dlhelpers.schedules import NoiseSchedule
    from dlhelpers.spec import RunSpec
    spec = bench.TRIALS["D"][1].spec
    built = spec.build()
    cosine = NoiseSchedule.cosine(500)
    assert built.prediction == "eps" and torch.equal(built.alpha_bar, cosine.alpha_bar)
    assert not built.alpha_bar.allclose(bench.TRIALS["B"][1].spec.build().alpha_bar)
    assert RunSpec.from_dict(spec.to_dict()) == spec           # a manifest records it
    with pytest.raises(ValueError, match="^schedule's shape"):
        RunSpec("ddpm", "eps", {"shape": "sigmoid"})


def test_a_live_trial_trains_its_preset_through_train_live(tmp_path, monkeypatch):
    """S9 as run_live_trial runs it, shortened to 2 steps and scored on 5 sprites: its model, path and budget."""
    built = record_widths(monkeypatch)
    preset, minutes = bench.LIVE_TRIALS["S9"]
    monkeypatch.setitem(bench.LIVE_TRIALS, "S9", (variant(preset, steps=2, precision="fp32"), minutes))
    record = bench.run_live_trial("S9", out_dir=tmp_path, per_class=1)
    assert built == [32] and (record["steps"], record["ended_by"], record["path"]) == (2, "steps", "flow")
    assert "logit-normal t" in record["label"] and (tmp_path / "S9.json").is_file()
