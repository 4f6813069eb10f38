"""Notebook 3's five-minute run (dlhelpers.notebook.live_training): the learning-rate schedule on steps and time,
the student's step called as asked, the live view's updates and its end, a clean stop on interrupt that keeps the
weights, the time budget, and refusals naming the argument."""
from __future__ import annotations

import dataclasses
import re
import time

import pytest
import torch

from dlhelpers import training
from dlhelpers.notebook import live_training
from dlhelpers.notebook.checks.training import reference_train_step
from dlhelpers.notebook.live_training import LiveSettings, live_lr, train_live
from dlhelpers.recipes import LIVE, PRESETS
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.unet import ContextUnet


class FakeView:
    """Stands in for the IPython display: keeps every bundle it is sent."""

    def __init__(self):
        self.bundles = []

    def update(self, obj):
        self.bundles.append(obj._repr_mimebundle_())

    def states(self):
        return [(int(re.search(r'data-step="(\d+)"', b["text/html"]).group(1)),
                 re.search(r'data-state="(\w+)"', b["text/html"]).group(1)) for b in self.bundles]


def data(n=40, k=5):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, 3, 16, 16, generator=g) * 2 - 1                          # (N, 3, 16, 16)
    contexts = torch.nn.functional.one_hot(torch.arange(n) % k, k).float()           # (N, K)
    return images, contexts


def net(seed=0):
    torch.manual_seed(seed)
    return ContextUnet(n_feat=16)


SCHEDULE = NoiseSchedule.linear(50)
FAST = dict(batch_size=8, precision="fp32", redraw_seconds=0.0)     # redraw after every step


def test_learning_rate_warms_up_then_decays_on_steps_or_time_whichever_is_further():
    s = LiveSettings(steps=1000, minutes=10.0, lr=1.0, warmup_steps=100)
    assert [live_lr(k, 0.0, s) for k in (0, 49, 99)] == pytest.approx([0.01, 0.5, 1.0])
    assert [live_lr(k, 0.0, s) for k in (100, 550, 1000)] == pytest.approx([1.0, 0.5, 0.0])
    assert live_lr(100, 300.0, s) == pytest.approx(0.5)          # half the 10 minutes: half the rate
    assert live_lr(550, 450.0, s) == pytest.approx(0.25)         # three quarters of the time beats half the steps
    assert live_lr(550, 9999.0, s) == 0.0


def check_live_schedule_is_the_trainers():
    """live_lr is training.lr_at: at the same step with no time spent, and, after the warm-up, at the step whose
    share of the decay equals the share of the time budget spent, when that is further along."""
    s = LiveSettings(steps=1000, minutes=10.0, lr=1.0, warmup_steps=100)
    for step in (0, 37, 99, 100, 420, 999, 1000):
        assert live_lr(step, 0.0, s) == pytest.approx(training.lr_at(step, s.config)), step
    for step, elapsed, same_as in ((50, 500.0, 50), (100, 300.0, 550), (550, 450.0, 775), (900, 60.0, 900),
                                   (200, 600.0, 1000)):
        assert live_lr(step, elapsed, s) == pytest.approx(training.lr_at(same_as, s.config)), (step, elapsed)


def test_the_live_schedule_is_the_trainers_with_time_counted_as_steps():
    check_live_schedule_is_the_trainers()


def test_mutant_live_schedule_of_its_own_fails(monkeypatch):
    """A schedule that drifts from the trainer's (here: a warm-up twice as long) is caught; it also shows live_lr
    goes through lr_at, since changing lr_at changes it."""
    real = training.lr_at
    monkeypatch.setattr(live_training, "lr_at",
                        lambda step, cfg: real(step, dataclasses.replace(cfg, warmup_steps=2 * cfg.warmup_steps)))
    with pytest.raises(AssertionError):
        check_live_schedule_is_the_trainers()


def test_the_live_recipe_is_the_student_presets_and_the_notebooks_keywords_change_it():
    """Defaults: dlhelpers.recipes.LIVE, the student preset's lr schedule, context dropout and precision. Notebook 3's
    cell calls LiveSettings(steps=…, minutes=…, [redraw_seconds=…,] p_uncond=…): those keywords still work."""
    student, default = PRESETS["student"].config, LiveSettings()
    assert default.config == LIVE.config and LIVE.model == PRESETS["student"].model
    for name in ("lr", "warmup_steps", "p_uncond", "precision"):
        assert getattr(default.config, name) == getattr(student, name), name
    assert LIVE.config.ema_decay is None and LIVE.spec.path == "ddpm"     # no EMA; the student's own ε step
    s = LiveSettings(steps=100, minutes=0.2, redraw_seconds=3, p_uncond=0.1).validate()
    assert (s.config.steps, s.minutes, s.redraw_seconds, s.config.p_uncond) == (100, 0.2, 3, 0.1)
    assert s.config.lr == LIVE.config.lr and LiveSettings(steps=3500, minutes=5.0, p_uncond=0.1).validate()
    with pytest.raises(TypeError, match="emma_decay"):
        LiveSettings(emma_decay=0.9)                    # a keyword that names no field of the recipe


def test_runs_the_given_step_with_the_schedule_and_shows_every_step_until_done():
    images, contexts = data()
    model, seen = net(), []

    def step(model, optimizer, x0, context, schedule, generator, p_uncond):
        seen.append((x0.shape[0], optimizer.param_groups[0]["lr"], p_uncond, schedule is SCHEDULE))
        return reference_train_step(model, optimizer, x0, context, schedule, generator, p_uncond)

    before = {k: v.clone() for k, v in model.state_dict().items()}
    view = FakeView()
    s = LiveSettings(steps=5, minutes=100.0, lr=0.3, warmup_steps=3, p_uncond=0.25, **FAST)
    run = train_live(step, model, images, contexts, SCHEDULE, torch.Generator().manual_seed(1), s, view=view)
    assert (run.steps, len(run.losses), run.ended_by) == (5, 5, "steps")
    assert [b for b, *_ in seen] == [8] * 5 and all(p == 0.25 and same for _, _, p, same in seen)
    assert [lr for _, lr, _, _ in seen] == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.15], rel=1e-3)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items()), "the weights did not move"
    assert not model.training, "the model is left in eval mode for sampling"
    states = view.states()
    assert states[0] == (0, "running") and states[-1] == (5, "done")
    assert [n for n, _ in states] == sorted(n for n, _ in states), "the step shown never goes back"
    assert {n for n, _ in states} >= {1, 2, 3, 4, 5}, "redraw_seconds=0 redraws after every step"
    assert '<progress value="5" max="5"' in view.bundles[-1]["text/html"]
    assert "data:image/png;base64," in view.bundles[-1]["text/html"]
    assert view.bundles[-1]["text/plain"].startswith("done: 5 steps")


def test_an_interrupt_stops_cleanly_and_keeps_the_weights_trained_so_far():
    images, contexts = data()
    s = LiveSettings(steps=10, minutes=100.0, lr=0.01, warmup_steps=10, **FAST)      # lr depends on the step only
    calls = []

    def interrupted_at_4(*args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return reference_train_step(*args)

    model, view = net(), FakeView()
    try:
        run = train_live(interrupted_at_4, model, images, contexts, SCHEDULE, torch.Generator().manual_seed(1), s,
                         view=view)
    except KeyboardInterrupt:
        pytest.fail("the interrupt escaped train_live: the notebook's later cells would not run")
    assert (run.steps, run.ended_by) == (3, "interrupt")
    assert view.states()[-1] == (3, "interrupted")
    assert "weights so far are kept" in view.bundles[-1]["text/plain"]
    three = net()
    train_live(reference_train_step, three, images, contexts, SCHEDULE, torch.Generator().manual_seed(1),
               LiveSettings(steps=3, minutes=100.0, lr=0.01, warmup_steps=10, **FAST), view=FakeView())
    for k, v in three.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), f"{k}: not the weights of the 3 steps done"


def test_the_time_budget_ends_the_run_before_its_steps():
    images, contexts = data()

    def slow(*args):
        time.sleep(0.05)
        return 1.0

    run = train_live(slow, net(), images, contexts, SCHEDULE, torch.Generator().manual_seed(1),
                     LiveSettings(steps=100, minutes=0.005, batch_size=8, redraw_seconds=600.0), view=FakeView())
    assert run.ended_by == "time" and 1 <= run.steps < 20                                    # 0.3 s: about 6 steps


def test_bad_arguments_are_refused_by_name():
    images, contexts = data()
    g = torch.Generator().manual_seed(1)
    for bad, name in [(dict(steps=0), "steps"), (dict(minutes=0.0), "minutes"), (dict(lr=-1.0), "lr"),
                      (dict(p_uncond=1.5), "p_uncond"), (dict(precision="fp8"), "precision")]:
        with pytest.raises(ValueError, match=name):
            train_live(reference_train_step, net(), images, contexts, SCHEDULE, g, LiveSettings(**bad), view=FakeView())
    with pytest.raises(TypeError, match="train_step"):
        train_live(None, net(), images, contexts, SCHEDULE, g, view=FakeView())
    with pytest.raises(TypeError, match="settings"):
        train_live(reference_train_step, net(), images, contexts, SCHEDULE, g, {"steps": 5}, view=FakeView())
    with pytest.raises(ValueError, match="contexts"):
        train_live(reference_train_step, net(), images, contexts[:3], SCHEDULE, g, view=FakeView())
    with pytest.raises(TypeError, match="generator"):
        train_live(reference_train_step, net(), images, contexts, SCHEDULE, None, view=FakeView())


def test_a_flow_model_is_previewed_with_the_flow_sampler():
    from dlhelpers.flow import FlowPath
    from dlhelpers.notebook.checks.flow import reference_flow_loss

    def flow_step(model, optimizer, x0, context, schedule, generator, p_uncond):
        optimizer.zero_grad()
        loss = reference_flow_loss(model, x0, context, generator)
        loss.backward()
        optimizer.step()
        return loss.item()

    images, contexts = data()
    view = FakeView()
    run = train_live(flow_step, net(), images, contexts, FlowPath(), torch.Generator().manual_seed(1),
                     LiveSettings(steps=2, minutes=100.0, **FAST), view=view)
    assert run.steps == 2 and view.states()[-1] == (2, "done")
