"""Notebook 3's exercises graded as nbgrader would: the source solution and genuinely different right answers pass
both the visible check and the autograder; each classic mistake fails both; the student's stub fails.

(a) my_add_noise, (b) my_loss (the check's model is an oracle: a right loss is ≈ 0), (c) my_train_step."""
from __future__ import annotations

import pytest

from tests.exercise_harness import exercise, grade

NB = "03"

# ----------------------------------------------------------------------------------------------- (a) add noise
ADD_NOISE_RIGHT = {
    "view": """
def my_add_noise(x0, t, noise, schedule):
    ab = schedule.alpha_bar[t].view(-1, 1, 1, 1)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise
""",
    "gather_and_none_indexing": """
def my_add_noise(x0, t, noise, schedule):
    s = schedule.alpha_bar.gather(0, t).sqrt()[:, None, None, None]
    return s * x0 + (1 - s ** 2).sqrt() * noise
""",
    "loop_per_image": """
import torch
def my_add_noise(x0, t, noise, schedule):
    out = []
    for i in range(x0.shape[0]):
        ab = schedule.alpha_bar[int(t[i])]
        out.append(ab.sqrt() * x0[i] + (1 - ab).sqrt() * noise[i])
    return torch.stack(out)
""",
    "library": """
def my_add_noise(x0, t, noise, schedule):
    return schedule.add_noise(x0, t, noise)
""",
}

_AB = "    ab = schedule.alpha_bar[t].view(-1, 1, 1, 1)\n"
ADD_NOISE_WRONG = {
    "no_sqrt_on_noise": _AB + "    return ab.sqrt() * x0 + (1 - ab) * noise\n",
    "no_sqrt_on_x0": _AB + "    return ab * x0 + (1 - ab).sqrt() * noise\n",
    "alpha_not_alpha_bar": "    a = schedule.alpha[t].view(-1, 1, 1, 1)\n    return a.sqrt() * x0 + (1 - a).sqrt() * noise\n",
    "no_reshape": "    ab = schedule.alpha_bar[t]\n    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise\n",
    "t_minus_one": "    ab = schedule.alpha_bar[t - 1].view(-1, 1, 1, 1)\n    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise\n",
    "first_t_for_all": "    ab = schedule.alpha_bar[t[0]]\n    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise\n",
    "swapped": _AB + "    return ab.sqrt() * noise + (1 - ab).sqrt() * x0\n",
    "in_place": _AB + "    return x0.mul_(ab.sqrt()).add_((1 - ab).sqrt() * noise)\n",
}

# ----------------------------------------------------------------------------------------------- (b) loss
SETUP_B = "import torch\n" + ADD_NOISE_RIGHT["view"]

_LOSS_HEAD = "import torch\nimport torch.nn.functional as F\ndef my_loss(model, x0, context, schedule, generator):\n"
_T = "    B, T = x0.shape[0], schedule.timesteps\n"
_DRAW_T = "    t = torch.randint(1, T + 1, (B,), generator=generator, device=x0.device)\n"
_DRAW_N = "    noise = torch.randn(x0.shape, generator=generator, device=x0.device)\n"
_XT = "    x_t = my_add_noise(x0, t, noise, schedule)\n"


def _loss(body: str) -> str:
    return _LOSS_HEAD + body


LOSS_RIGHT = {
    "solution_order": _loss(_T + _DRAW_T + _DRAW_N + _XT
                            + "    return F.mse_loss(model(x_t, t.float() / T, context), noise)\n"),
    "noise_first_inline_formula": _loss(_T + _DRAW_N + _DRAW_T
                                        + "    ab = schedule.alpha_bar[t][:, None, None, None]\n"
                                        + "    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise\n"
                                        + "    return ((model(x_t, t / T, context) - noise) ** 2).mean()\n"),
    "library_noising_and_float_division": _loss(
        "    T = schedule.timesteps\n"
        "    t = torch.randint(1, T + 1, (len(x0),), generator=generator, device=x0.device)\n"
        "    eps = torch.randn(x0.shape, generator=generator, device=x0.device)\n"
        "    pred = model(schedule.add_noise(x0, t, eps), t.to(torch.float32) / float(T), context)\n"
        "    return F.mse_loss(pred, eps, reduction='mean')\n"),
}

LOSS_WRONG = {
    "clean_image_to_model": _loss(_T + _DRAW_T + _DRAW_N
                                  + "    return F.mse_loss(model(x0, t.float() / T, context), noise)\n"),
    "two_different_noises": _loss(_T + _DRAW_T + _DRAW_N + _XT
                                  + "    target = torch.randn(x0.shape, generator=generator)\n"
                                  + "    return F.mse_loss(model(x_t, t.float() / T, context), target)\n"),
    "context_dropped": _loss(_T + _DRAW_T + _DRAW_N + _XT
                             + "    return F.mse_loss(model(x_t, t.float() / T), noise)\n"),
    "t_not_normalised": _loss(_T + _DRAW_T + _DRAW_N + _XT
                              + "    return F.mse_loss(model(x_t, t.float(), context), noise)\n"),
    "t_zero_allowed": _loss(_T + "    t = torch.randint(0, T, (B,), generator=generator)\n" + _DRAW_N + _XT
                            + "    return F.mse_loss(model(x_t, t.float() / T, context), noise)\n"),
    "t_never_T": _loss(_T + "    t = torch.randint(1, T, (B,), generator=generator)\n" + _DRAW_N + _XT
                       + "    return F.mse_loss(model(x_t, t.float() / T, context), noise)\n"),
    "one_t_for_the_batch": _loss(_T + "    t = torch.randint(1, T + 1, (1,), generator=generator).expand(B)\n"
                                 + _DRAW_N + _XT
                                 + "    return F.mse_loss(model(x_t, t.float() / T, context), noise)\n"),
    "target_x0": _loss(_T + _DRAW_T + _DRAW_N + _XT + "    return F.mse_loss(model(x_t, t.float() / T, context), x0)\n"),
    "t_drawn_twice": _loss(_T + _DRAW_T + _DRAW_N + _XT + _DRAW_T
                           + "    return F.mse_loss(model(x_t, t.float() / T, context), noise)\n"),
    "global_rng": _loss(_T + "    t = torch.randint(1, T + 1, (B,))\n    noise = torch.randn(x0.shape)\n" + _XT
                        + "    return F.mse_loss(model(x_t, t.float() / T, context), noise)\n"),
    "hard_coded_T": _loss("    B, T = x0.shape[0], 500\n" + _DRAW_T + _DRAW_N + _XT
                          + "    return F.mse_loss(model(x_t, t.float() / T, context), noise)\n"),
    "sum_not_mean": _loss(_T + _DRAW_T + _DRAW_N + _XT
                          + "    return F.mse_loss(model(x_t, t.float() / T, context), noise, reduction='sum')\n"),
    "absolute_error": _loss(_T + _DRAW_T + _DRAW_N + _XT
                            + "    return F.l1_loss(model(x_t, t.float() / T, context), noise)\n"),
    "returns_item": _loss(_T + _DRAW_T + _DRAW_N + _XT
                          + "    return F.mse_loss(model(x_t, t.float() / T, context), noise).item()\n"),
}

# ----------------------------------------------------------------------------------------------- (c) train step
SETUP_C = SETUP_B + LOSS_RIGHT["solution_order"]
_STEP = "import torch\ndef my_train_step(model, optimizer, x0, context, schedule, generator):\n"
_LOSS_CALL = "    loss = my_loss(model, x0, context, schedule, generator)\n"

STEP_RIGHT = {
    "solution_order": _STEP + "    optimizer.zero_grad()\n" + _LOSS_CALL
                      + "    loss.backward()\n    optimizer.step()\n    return loss.item()\n",
    "model_zero_grad_after_loss": _STEP + _LOSS_CALL + "    model.zero_grad(set_to_none=True)\n"
                                  + "    loss.backward()\n    optimizer.step()\n    return float(loss)\n",
    "manual_grad_reset": _STEP + "    for p in model.parameters():\n        p.grad = None\n" + _LOSS_CALL
                         + "    loss.backward()\n    optimizer.step()\n    return float(loss.detach())\n",
}

STEP_WRONG = {
    "no_zero_grad": _STEP + _LOSS_CALL + "    loss.backward()\n    optimizer.step()\n    return loss.item()\n",
    "zero_grad_between_backward_and_step": _STEP + _LOSS_CALL + "    loss.backward()\n    optimizer.zero_grad()\n"
                                           + "    optimizer.step()\n    return loss.item()\n",
    "zero_grad_at_the_end": _STEP + _LOSS_CALL + "    loss.backward()\n    optimizer.step()\n"
                            + "    optimizer.zero_grad()\n    return loss.item()\n",
    "no_step": _STEP + "    optimizer.zero_grad()\n" + _LOSS_CALL + "    loss.backward()\n    return loss.item()\n",
    "no_backward": _STEP + "    optimizer.zero_grad()\n" + _LOSS_CALL + "    optimizer.step()\n    return loss.item()\n",
    "returns_tensor": _STEP + "    optimizer.zero_grad()\n" + _LOSS_CALL
                      + "    loss.backward()\n    optimizer.step()\n    return loss\n",
    "returns_nothing": _STEP + "    optimizer.zero_grad()\n" + _LOSS_CALL + "    loss.backward()\n    optimizer.step()\n",
    "two_steps": _STEP + "    optimizer.zero_grad()\n" + _LOSS_CALL
                 + "    loss.backward()\n    optimizer.step()\n    optimizer.step()\n    return loss.item()\n",
    "own_optimizer": _STEP + "    opt = torch.optim.Adam(model.parameters())\n    opt.zero_grad()\n" + _LOSS_CALL
                     + "    loss.backward()\n    opt.step()\n    return loss.item()\n",
    "fresh_generator": _STEP + "    optimizer.zero_grad()\n"
                       + "    loss = my_loss(model, x0, context, schedule, torch.Generator().manual_seed(0))\n"
                       + "    loss.backward()\n    optimizer.step()\n    return loss.item()\n",
    "context_dropped": _STEP + "    optimizer.zero_grad()\n    loss = my_loss(model, x0, None, schedule, generator)\n"
                       + "    loss.backward()\n    optimizer.step()\n    return loss.item()\n",
}

EXERCISES = {
    "nb03_add_noise": ("", ADD_NOISE_RIGHT, ADD_NOISE_WRONG),
    "nb03_training_loss": (SETUP_B, LOSS_RIGHT, LOSS_WRONG),
    "nb03_train_step": (SETUP_C, STEP_RIGHT, STEP_WRONG),
}


def _wrap(grade_id: str, body: str) -> str:
    if grade_id == "nb03_add_noise" and not body.lstrip().startswith(("def", "import")):
        return "def my_add_noise(x0, t, noise, schedule):\n" + body
    return body


def _cases(kind: int):
    return [pytest.param(gid, name, src, id=f"{gid}-{name}")
            for gid, parts in EXERCISES.items() for name, src in parts[kind].items()]


@pytest.mark.parametrize("grade_id,name,answer", _cases(1))
def test_right_answers_pass_both(grade_id, name, answer):
    out = grade(NB, grade_id, _wrap(grade_id, answer), setup=EXERCISES[grade_id][0])
    assert out.visible and out.autograder, f"{grade_id} right answer {name!r} failed: {out.message}"


@pytest.mark.parametrize("grade_id,name,answer", _cases(2))
def test_classic_mistakes_fail_both(grade_id, name, answer):
    out = grade(NB, grade_id, _wrap(grade_id, answer), setup=EXERCISES[grade_id][0])
    assert not out.visible and not out.autograder, \
        f"{grade_id} wrong answer {name!r}: visible={out.visible}, autograder={out.autograder}"


@pytest.mark.parametrize("grade_id", list(EXERCISES))
def test_source_solution_passes_and_stub_fails(grade_id):
    ex, setup = exercise(NB, grade_id), EXERCISES[grade_id][0]
    out = grade(NB, grade_id, ex.solution, setup=setup)
    assert out.visible and out.autograder, out.message
    out = grade(NB, grade_id, ex.stub, setup=setup)
    assert not out.visible and not out.autograder
    assert "not implemented yet" in out.message


@pytest.mark.parametrize("grade_id,name,hint", [
    ("nb03_training_loss", "clean_image_to_model", "clean x0"),
    ("nb03_training_loss", "two_different_noises", "another noise"),
    ("nb03_training_loss", "context_dropped", "no context"),
    ("nb03_training_loss", "t_not_normalised", "normalised time"),
    ("nb03_training_loss", "t_zero_allowed", "t = 0"),
    ("nb03_training_loss", "target_x0", "target is x0"),
    ("nb03_training_loss", "t_drawn_twice", "do not match"),
    ("nb03_training_loss", "global_rng", "generator"),
    ("nb03_training_loss", "hard_coded_T", "T = 100"),
    ("nb03_training_loss", "sum_not_mean", "sum instead of the mean"),
    ("nb03_train_step", "no_zero_grad", "zero_grad() before"),
    ("nb03_train_step", "zero_grad_between_backward_and_step", "did not change"),
    ("nb03_train_step", "returns_tensor", "loss.item()"),
    ("nb03_train_step", "two_steps", "one optimizer.step()"),
    ("nb03_train_step", "fresh_generator", "generator"),
    ("nb03_add_noise", "no_reshape", "(B, 1, 1, 1)"),
    ("nb03_add_noise", "t_minus_one", "off by one"),
    ("nb03_add_noise", "first_t_for_all", "each image's own t"),
])
def test_the_check_names_the_mistake(grade_id, name, hint):
    answer = EXERCISES[grade_id][2][name]
    out = grade(NB, grade_id, _wrap(grade_id, answer), setup=EXERCISES[grade_id][0])
    assert hint in out.message, f"{grade_id}/{name}: expected {hint!r} in {out.message!r}"


# ----------------------------------------------------------------------------------------------- side effects
def test_checks_leave_the_notebooks_global_rng_alone():
    import torch

    from dlhelpers.notebook.checks.training import (check_train_step, check_training_loss, reference_loss,
                                                    reference_train_step)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    check_training_loss(reference_loss)
    check_train_step(reference_train_step)
    assert torch.equal(torch.get_rng_state(), state), "a check reseeded the student's global RNG"


# ----------------------------------------------------------------------------------------------- pictures
def test_loss_per_t_is_zero_for_an_exact_model_and_one_for_a_zero_model():
    import torch

    from dlhelpers.notebook.training_pictures import loss_per_t
    from dlhelpers.schedules import NoiseSchedule

    s = NoiseSchedule.linear(100)
    x0 = torch.rand(40, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1   # (N, C, H, W)

    seen = []

    class Exact(torch.nn.Module):            # knows x0 (all images equal), so it recovers ε from x_t and t/T
        def forward(self, x, t, c=None):
            seen.append((t * 100).round().long())
            ab = s.alpha_bar[seen[-1]].view(-1, 1, 1, 1)
            return (x - ab.sqrt() * x0[:1]) / (1 - ab).sqrt()

    same = x0[:1].expand(40, -1, -1, -1).contiguous()
    exact = loss_per_t(Exact(), same, None, s, torch.Generator().manual_seed(1), buckets=4, per_bucket=10)
    assert len(seen) == 4
    assert exact.edges == [0, 25, 50, 75, 100] and max(exact.mse) < 1e-6
    for k, lo, hi in zip(seen, exact.edges[:-1], exact.edges[1:]):   # one call per bucket, t inside it
        assert lo < k.min() and k.max() <= hi, (lo, hi, k)

    class Zero(torch.nn.Module):             # predicts no noise: its error is E[ε²] = 1 at every t
        def forward(self, x, t, c=None):
            return torch.zeros_like(x)

    zero = loss_per_t(Zero(), x0, None, s, torch.Generator().manual_seed(1), buckets=4, per_bucket=10)
    assert all(0.9 < v < 1.1 for v in zero.mse), zero.mse


@pytest.mark.parametrize("kwargs,error,name", [
    (dict(buckets=0), ValueError, "buckets"),
    (dict(per_bucket=20), ValueError, "per_bucket"),
    (dict(generator=None), TypeError, "generator"),
    (dict(schedule="linear"), TypeError, "schedule"),
])
def test_loss_per_t_rejects_bad_arguments_by_name(kwargs, error, name):
    import torch

    from dlhelpers.notebook.training_pictures import loss_per_t
    from dlhelpers.schedules import NoiseSchedule

    args = dict(model=torch.nn.Identity(), images=torch.zeros(10, 3, 4, 4), contexts=None,
                schedule=NoiseSchedule.linear(50), generator=torch.Generator(), buckets=2, per_bucket=5)
    args.update(kwargs)
    with pytest.raises(error, match=name):
        loss_per_t(**args)
