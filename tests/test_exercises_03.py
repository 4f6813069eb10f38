"""Notebook 3's helpers beyond the exercise catalogues (those live in dlhelpers/tools/catalogues/nb03.py and are
graded by tests/test_catalogues.py): the checks leave the global RNG alone, the references behave like the library's
trainer, and the measurement helpers (loss per t, its standard errors, paired differences, fixed-t training with
context dropout) give exactly what they say."""
from __future__ import annotations

import pytest
import torch

from dlhelpers.schedules import NoiseSchedule


# ----------------------------------------------------------------------------------------------- side effects
def test_checks_leave_the_notebooks_global_rng_alone():
    from dlhelpers.notebook.checks.training import (check_context_dropout, check_train_step, check_training_loss,
                                                    reference_drop_context, reference_loss, reference_train_step)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    check_training_loss(reference_loss)
    check_context_dropout(reference_drop_context)
    check_train_step(reference_train_step)
    assert torch.equal(torch.get_rng_state(), state), "a check reseeded the student's global RNG"


# ----------------------------------------------------------------------------------------------- pictures
def test_loss_per_t_is_zero_for_an_exact_model_and_one_for_a_zero_model():
    from dlhelpers.notebook.training_pictures import loss_per_t

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
    from dlhelpers.notebook.training_pictures import loss_per_t

    args = dict(model=torch.nn.Identity(), images=torch.zeros(10, 3, 4, 4), contexts=None,
                schedule=NoiseSchedule.linear(50), generator=torch.Generator(), buckets=2, per_bucket=5)
    args.update(kwargs)
    with pytest.raises(error, match=name):
        loss_per_t(**args)


# ----------------------------------------------------------------------------------------------- context dropout
def test_reference_drop_context_drops_whole_rows_like_the_trainer():
    """Same draw as dlhelpers.training (one uniform per image, (B, 1), dropped below p): the same generator state
    gives the same rows, each either unchanged or all zeros, and the input is left alone."""
    from dlhelpers.notebook.checks.training import reference_drop_context

    c = torch.rand(1000, 5, generator=torch.Generator().manual_seed(0)) + 0.1
    out = reference_drop_context(c.clone(), 0.3, torch.Generator().manual_seed(1))
    keep = torch.rand((1000, 1), generator=torch.Generator().manual_seed(1)) >= 0.3
    assert torch.equal(out, c * keep)
    zero = (out == 0).all(1)
    assert ((out == c).all(1) | zero).all() and 0.25 < zero.float().mean() < 0.35
    assert reference_drop_context(c, 0.0, torch.Generator()).equal(c)
    assert not reference_drop_context(c, 1.0, torch.Generator()).any()


def test_train_with_fixed_t_drops_contexts_at_the_rate_asked():
    from dlhelpers.notebook.training_pictures import train_with_fixed_t

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w, self.seen = torch.nn.Parameter(torch.zeros(())), []

        def forward(self, x, t, c=None):
            self.seen.append(c.detach().clone())
            return torch.zeros_like(x) + self.w

    images, contexts = torch.zeros(64, 3, 4, 4), torch.eye(4)[torch.arange(64) % 4]
    for p, lo, hi in [(0.0, 0.0, 0.0), (0.5, 0.4, 0.6), (1.0, 1.0, 1.0)]:
        spy = Spy()
        train_with_fixed_t(spy, torch.optim.SGD(spy.parameters(), lr=0.1), images, contexts, NoiseSchedule.linear(50),
                           torch.Generator().manual_seed(0), t_fixed=25, steps=20, batch_size=32, p_uncond=p)
        seen = torch.cat(spy.seen)                                                   # (20·32, 4)
        zero = (seen == 0).all(1)
        assert (zero | (seen.sum(1) == 1)).all(), "a context is kept whole or dropped whole"
        assert lo <= zero.float().mean() <= hi, (p, zero.float().mean())
    with pytest.raises(ValueError, match="p_uncond"):
        train_with_fixed_t(Spy(), torch.optim.SGD(Spy().parameters(), lr=0.1), images, contexts,
                           NoiseSchedule.linear(50), torch.Generator(), t_fixed=25, steps=1, batch_size=8, p_uncond=1.5)


def test_train_steps_repeats_the_step_on_random_batches_from_the_generator():
    from dlhelpers.notebook.training_pictures import train_steps
    images = torch.arange(40.0).view(40, 1, 1, 1).expand(40, 3, 4, 4) / 40          # image i is filled with i/40
    contexts, calls = torch.eye(4)[torch.arange(40) % 4], []

    def step(model, optimizer, x0, context, schedule, generator, p_uncond):
        calls.append(((x0[:, 0, 0, 0] * 40).round().long(), context.argmax(1), p_uncond))
        return len(calls) / 10

    net = torch.nn.Linear(1, 1)
    losses = train_steps(step, net, torch.optim.SGD(net.parameters(), lr=0.1), images, contexts,
                         NoiseSchedule.linear(50), torch.Generator().manual_seed(3), steps=3, batch_size=5,
                         p_uncond=0.2)
    assert losses == [0.1, 0.2, 0.3]
    g = torch.Generator().manual_seed(3)
    for idx, c, p in calls:                       # each batch: 5 indices drawn from the generator, contexts alongside
        assert torch.equal(idx, torch.randint(0, 40, (5,), generator=g)) and torch.equal(c, idx % 4) and p == 0.2
    with pytest.raises(TypeError, match="train_step"):
        train_steps(None, net, torch.optim.SGD(net.parameters(), lr=0.1), images, contexts, NoiseSchedule.linear(50),
                    torch.Generator(), steps=1, batch_size=5)


# ----------------------------------------------------------------------------------------------- standard errors
def test_loss_per_t_keeps_each_images_error_and_its_standard_error():
    from dlhelpers.notebook.training_pictures import loss_per_t

    class Half(torch.nn.Module):             # off by exactly 0.5 for images 0, 2, 4, …, exact for the others
        def forward(self, x, t, c=None):
            return c[:, :1, None, None].expand_as(x) * 0.5 + eps_of(x, t)

    s = NoiseSchedule.linear(100)
    x0 = torch.zeros(40, 3, 4, 4)                                               # x_t = √(1 − ᾱ_t) ε
    eps_of = lambda x, t: x / (1 - s.alpha_bar[(t * 100).round().long()]).sqrt().view(-1, 1, 1, 1)
    c = (torch.arange(40) % 2 == 0).float()[:, None].repeat(1, 2)               # (40, 2): 1 for even images
    out = loss_per_t(Half(), x0, c, s, torch.Generator().manual_seed(0), buckets=2, per_bucket=20)
    assert out.per_image.shape == (2, 20)
    assert torch.allclose(out.per_image[0], torch.tensor([0.25, 0.0] * 10, dtype=out.per_image.dtype), atol=1e-6)
    assert out.mse == pytest.approx([0.125, 0.125], abs=1e-6)
    want_se = torch.tensor([0.25, 0.0] * 10).std().item() / 20 ** 0.5             # sample std / √n
    assert out.se == pytest.approx([want_se, want_se], rel=1e-5)


def test_paired_difference_is_the_mean_and_standard_error_of_b_minus_a():
    from dlhelpers.notebook.training_pictures import LossPerT, paired_difference

    a = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    b = a + torch.tensor([[0.1, 0.3, 0.1, 0.3], [1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    A, B = (LossPerT([0, 5, 10], x.mean(1).tolist(), 4, x) for x in (a, b))
    mean, se = paired_difference(A, B)
    assert mean == pytest.approx([0.2, 1.0])
    assert se == pytest.approx([torch.tensor([0.1, 0.3, 0.1, 0.3]).std().item() / 2, 0.0], abs=1e-7)
    assert A.se[0] == pytest.approx(a[0].std().item() / 2)                       # unpaired: much larger
    with pytest.raises(ValueError, match="same buckets"):
        paired_difference(A, LossPerT([0, 4, 10], [0.0, 0.0], 4, a))
    with pytest.raises(TypeError, match="LossPerT"):
        paired_difference(A, LossPerT([0, 5, 10], [0.0, 0.0], 4))
