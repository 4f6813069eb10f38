"""Every exercise check passes the right answer and fails each classic mistake with its short hint."""
import pytest
import torch
import torch.nn.functional as F

from dlhelpers.notebook import checks
from dlhelpers.ddim import ddim_step, ddim_timesteps
from dlhelpers.ddpm import ddpm_step


def right_add_noise(x0, t, noise, s):
    ab = s.alpha_bar[t].view(-1, 1, 1, 1)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def right_training_loss(model, x0, context, s, g):
    t = torch.randint(1, s.timesteps + 1, (x0.shape[0],), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    return F.mse_loss(model(s.add_noise(x0, t, noise), t / s.timesteps, context), noise)


def one_t_loss(model, x0, context, s, g):
    t = torch.randint(1, s.timesteps + 1, (1,), generator=g).expand(x0.shape[0])
    noise = torch.randn(x0.shape, generator=g)
    return F.mse_loss(model(s.add_noise(x0, t, noise), t / s.timesteps, context), noise)


def integer_t_loss(model, x0, context, s, g):
    t = torch.randint(1, s.timesteps + 1, (x0.shape[0],), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    return F.mse_loss(model(s.add_noise(x0, t, noise), t.float(), context), noise)


def x0_target_loss(model, x0, context, s, g):
    t = torch.randint(1, s.timesteps + 1, (x0.shape[0],), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    return F.mse_loss(model(s.add_noise(x0, t, noise), t / s.timesteps, context), x0)


def mix_right(w):
    w = torch.tensor(w, dtype=torch.float32).reshape(1, -1)
    return w / w.sum() if w.sum() > 0 else w


def raises_inside(*args):
    raise KeyError("oops")


def not_done(*args):
    raise NotImplementedError()


CASES = [
    # (check, right answer, [(wrong answer, hint fragment), ...])
    (checks.check_add_noise, right_add_noise, [
        (lambda x0, t, n, s: s.alpha_bar[t].view(-1, 1, 1, 1).sqrt() * x0 + (1 - s.alpha_bar[t].view(-1, 1, 1, 1)) * n,
         "square root"),
        (lambda x0, t, n, s: s.alpha[t].view(-1, 1, 1, 1).sqrt() * x0 + (1 - s.alpha[t].view(-1, 1, 1, 1)).sqrt() * n,
         "cumulative"),
        (lambda x0, t, n, s: x0, "values differ"),
    ]),
    (checks.check_ddpm_step, lambda x, t, e, s, z: ddpm_step(x, t, e, s, z=z), [
        (lambda x, t, e, s, z: ddpm_step(x, t, e, s, z=torch.zeros_like(z)) + s.beta[t].sqrt() * z, "last step"),
        (lambda x, t, e, s, z: ddpm_step(x, t, e, s, z=torch.zeros_like(z)), "no noise was added"),
        (lambda x, t, e, s, z: (x - e * (1 - s.alpha[t]) / (1 - s.alpha_bar[t])) / s.alpha[t].sqrt()
         + (s.beta[t].sqrt() * z if t > 1 else 0), "√(1 − ᾱ_t)"),
        (lambda x, t, e, s, z: ddpm_step(x, t, e, s, z=torch.zeros_like(z)) + (s.beta[t] * z if t > 1 else 0),
         "needs √β_t"),
    ]),
    (checks.check_predict_x0, lambda x, t, e, s: (x - (1 - s.alpha_bar[t]).sqrt() * e) / s.alpha_bar[t].sqrt(), [
        (lambda x, t, e, s: x - (1 - s.alpha_bar[t]).sqrt() * e, "divide by √ᾱ_t"),
    ]),
    (checks.check_inject, lambda h, c, t: c * h + t, [
        (lambda h, c, t: h + c + t, "multiplies"),
        (lambda h, c, t: t * h + c, "swapped"),
        (lambda h, c, t: c * (h + t), "after the multiplication"),
        (lambda h, c, t: None, "forget `return`"),
    ]),
    (checks.check_one_hot_context,
     lambda y, k: F.one_hot(y.clamp(min=0), k).float() * (y >= 0).float().unsqueeze(1), [
         (lambda y, k: F.one_hot(y.clamp(min=0), k).float(), "null context"),
         (lambda y, k: F.one_hot(y.clamp(min=0), k) * (y >= 0).long().unsqueeze(1), "float tensor"),
     ]),
    (checks.check_training_loss, right_training_loss, [
        (one_t_loss, "random t per image"),
        (integer_t_loss, "normalised time"),
        (x0_target_loss, "noise ε"),
    ]),
    (checks.check_guidance, lambda ec, eu, w: eu + w * (ec - eu), [
        (lambda ec, eu, w: ec + w * (ec - eu), "unconditional"),
        (lambda ec, eu, w: eu + w * (eu - ec), "reversed"),
    ]),
    (checks.check_mix_contexts, mix_right, [
        (lambda w: torch.tensor(w).reshape(1, -1), "normalise"),
        (lambda w: torch.tensor(w).reshape(1, -1) / torch.tensor(w).sum(), "null context"),
    ]),
    (checks.check_ddim_timesteps, ddim_timesteps, [
        (lambda T, n: list(range(T, -1, -(T // n))), "must start at"),
        (lambda T, n: [round(T - i * T / n) for i in range(n)], "expected"),
    ]),
    (checks.check_ddim_step, lambda x, t, tp, e, s: ddim_step(x, t, tp, e, s, eta=0.0), [
        (lambda x, t, tp, e, s: ddim_step(x, t, t - 1, e, s, eta=0.0), "t − 1"),
        (lambda x, t, tp, e, s: x, "unchanged"),
    ]),
]


@pytest.mark.parametrize("check,right,wrongs", CASES, ids=[c[0].__name__ for c in CASES])
def test_check_accepts_the_right_answer_and_rejects_classic_mistakes(check, right, wrongs, capsys):
    check(right)
    out = capsys.readouterr().out
    assert out.startswith("✓") and out.count("\n") == 1
    for wrong, hint in wrongs:
        with pytest.raises(checks.ExerciseError) as info:
            check(wrong)
        msg = str(info.value)
        assert hint in msg, f"{check.__name__}: expected hint {hint!r}, got {msg!r}"
        assert msg.count("\n") <= 1 and len(msg) < 240


@pytest.mark.parametrize("check", [c[0] for c in CASES], ids=[c[0].__name__ for c in CASES])
def test_stub_and_crash_are_reported_briefly(check):
    with pytest.raises(checks.ExerciseError, match="not implemented yet"):
        check(not_done)
    with pytest.raises(checks.ExerciseError, match="KeyError: 'oops'"):
        check(raises_inside)
    with pytest.raises(checks.ExerciseError, match="expected a function"):
        check(42)


def test_ipython_shows_only_the_hint():
    err = checks.ExerciseError("inject: the context was added")
    lines = err._render_traceback_()
    assert len(lines) == 1 and "the context was added" in lines[0]
