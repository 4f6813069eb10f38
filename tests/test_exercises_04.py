"""Notebook 4's library code and wiring (the exercises' catalogues are graded in tests/test_catalogues.py from
dlhelpers/tools/catalogues/nb04.py).

Here: later cells really use the student's functions (through yours_or_reference), the references they fall back
to follow the same conventions (the guided loop agrees with the library's sample_ddim), the check of the guided
loop names planted mistakes, and the pictures/measurements module (dlhelpers.notebook.context_pictures).
"""
from __future__ import annotations

import itertools
import re

import matplotlib
import nbformat
import pytest
import torch

from dlhelpers.io import REPO_ROOT

matplotlib.use("Agg")

NB = "04"
NOTEBOOKS = REPO_ROOT / "notebooks"


# ------------------------------------------------------------------------ later cells use the student's code
def _code_cells():
    path = next(NOTEBOOKS.glob(f"{NB}_*.ipynb"))
    return [c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]


def test_later_cells_run_through_the_students_functions():
    cells = _code_cells()
    src = "\n".join(cells)
    assert re.search(r"mix = yours_or_reference\(lambda: my_mix_contexts, mixture_context, check_mix_contexts\)", src)
    assert re.search(r"guide = yours_or_reference\(lambda: my_guided_eps, guided_eps, check_guidance\)", src)
    assert re.search(r"mixing_sweep\(model, schedule, mix\b", src), "the sweep must use the student's mixer"
    assert re.search(r"guided = yours_or_reference\(lambda: my_guided_sample, guided_sample, check_guided_sample\)",
                     src)
    assert re.search(r"return guided\(model, x_T, context, w, schedule, timesteps, guide, eta=ETA", src), \
        "draw must run the student's loop with the student's ε̃"
    assert "context_mixer(model, schedule, n_samples=16, mix=mix, sample=draw)" in src, \
        "the mixer must use the student's loop and mixer"
    assert "draw(x_T, g_ctx, w, gen)" in src, "the guidance pictures must use the student's loop"
    assert re.search(r"STEPS, ETA = 20, 1\.0", src), "pictures: DDIM at η = 1"
    assert "mixture_context(w)" not in src, "no cell may mix with a reference of another convention"


def test_references_follow_the_exercise_conventions():
    from dlhelpers.notebook.checks.context import (check_guidance, check_guided_sample, check_mix_contexts,
                                                   guided_eps, guided_sample)
    from dlhelpers.notebook.exercises import yours_or_reference
    from dlhelpers.notebook.widgets import mixture_context
    check_mix_contexts(mixture_context)
    check_guidance(guided_eps)
    check_guided_sample(guided_sample)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):  # property: the mixer divides by the sum, for any non-negative weights (some zero)
        w = (torch.rand(5, generator=g) * (torch.rand(5, generator=g) > 0.3)).tolist()
        want = torch.tensor([w]) / sum(w) if sum(w) else torch.zeros(1, 5)
        assert torch.allclose(mixture_context(w), want, atol=1e-6)
    broken = yours_or_reference(lambda: (lambda w: None), mixture_context, check_mix_contexts, quiet=True)
    assert broken is mixture_context


def test_guided_eps_reference_matches_the_library_sampler(tiny_model):
    from dlhelpers.notebook.checks.context import guided_eps
    from dlhelpers.sampling import predict_noise
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(3, 3, 16, 16, generator=g), torch.rand(3, generator=g)
    c = torch.eye(5)[[0, 2, 4]]
    with torch.no_grad():
        for w in (0.0, 2.0, 4.5):
            want = predict_noise(tiny_model, x, t, c, w)
            got = guided_eps(tiny_model(x, t, c), tiny_model(x, t, torch.zeros_like(c)), w)
            assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("w, eta", [(1.0, 0.0), (3.0, 0.0), (2.0, 1.0)])
def test_guided_sample_reference_is_the_library_sampler(tiny_model, schedule, w, eta):
    """The reference loop = sample_ddim(guidance_scale=w, eta) from the same x_T and the same generator seed."""
    from dlhelpers.ddim import ddim_timesteps, sample_ddim
    from dlhelpers.notebook.checks.context import guided_eps, guided_sample
    x_T = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    c = torch.eye(5)[[1, 3, 4]]
    want = sample_ddim(tiny_model, 3, schedule, steps=4, eta=eta, context=c, x_T=x_T, guidance_scale=w,
                       precision="fp32", generator=torch.Generator().manual_seed(5), progress=False).samples
    got = guided_sample(tiny_model, x_T, c, w, schedule, ddim_timesteps(schedule.timesteps, 4), guided_eps, eta,
                        torch.Generator().manual_seed(5))
    assert torch.allclose(got, want, atol=1e-5)


def _loop(body):
    from dlhelpers.ddim import ddim_step
    ns = {"torch": torch, "ddim_step": ddim_step}
    exec("def f(model, x_T, context, w, schedule, timesteps, guide, eta=0.0, generator=None):\n"
         "    T, x, B = schedule.timesteps, x_T, x_T.shape[0]\n"
         "    with torch.no_grad():\n"
         "        for t, t_prev in zip(timesteps[:-1], timesteps[1:]):\n"
         "            tn = torch.full((B,), t / T)\n" + body + "    return x\n", ns)
    return ns["f"]


@pytest.mark.parametrize("body, words", [
    ("            e = model(torch.cat([x, x]), torch.cat([tn, tn]), torch.cat([torch.zeros_like(context), context]))\n"
     "            x = ddim_step(x, t, t_prev, guide(e[:B], e[B:], w), schedule, eta=eta, generator=generator)\n",
     "swapped"),                                                  # a batched call, halves read the wrong way round
    ("            e = model(x, tn, context)\n"
     "            x = ddim_step(x, t, t_prev, guide(e, model(x, tn, 0 * context + 1), w), schedule, eta=eta)\n",
     "neither `context` nor the null context"),
    ("            e = model(x, tn, context)\n"
     "            x = ddim_step(x, t, t_prev, guide(e, model(x, tn, None), w), schedule, eta=eta,\n"
     "                          z=torch.randn(x.shape, generator=torch.Generator().manual_seed(0)))\n",
     "generator was ignored"),                                    # its own reseeded generator: always the same z
])
def test_the_loop_check_names_planted_mistakes(body, words):
    from dlhelpers.notebook.checks.common import ExerciseError
    from dlhelpers.notebook.checks.context import check_guided_sample
    with pytest.raises(ExerciseError, match=re.escape(words)):
        check_guided_sample(_loop(body))


def test_the_loop_check_leaves_the_global_rng_alone():
    from dlhelpers.notebook.checks.context import check_guided_sample, guided_sample
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    check_guided_sample(guided_sample)
    assert torch.equal(torch.rand(3), want)


# ------------------------------------------------------------------------------------ the pictures module
@pytest.fixture(scope="module")
def real():
    from dlhelpers.evaluation.metrics import heldout_samples
    return heldout_samples(200, labels=True)


def test_class_probabilities_are_a_softmax_per_sprite(real):
    from dlhelpers.notebook.context_pictures import class_probabilities
    x, y = real
    p = class_probabilities(x)
    assert p.shape == (len(x), 5) and bool((p >= 0).all())
    assert torch.allclose(p.sum(1), torch.ones(len(x)), atol=1e-5)
    assert float((p.argmax(1) == y).float().mean()) > 0.8  # the classifier knows real sprites
    with pytest.raises(ValueError, match="samples"):
        class_probabilities(torch.zeros(2, 1, 16, 16))


def test_variety_is_the_mean_pairwise_rms_pixel_distance_within_each_class(real):
    from dlhelpers.notebook.context_pictures import within_class_variety
    x, y = real[0][:40], real[1][:40]
    flat = x.clamp(-1, 1).flatten(1)
    per_class = []
    for k in y.unique().tolist():
        idx = (y == k).nonzero().flatten().tolist()
        pairs = list(itertools.combinations(idx, 2))
        per_class.append(sum(float((flat[i] - flat[j]).pow(2).mean().sqrt()) for i, j in pairs) / len(pairs))
    v = within_class_variety(x, y, torch.Generator().manual_seed(0), n_boot=200)
    assert v.mean == pytest.approx(sum(per_class) / len(per_class), rel=1e-4)
    assert v.low < v.mean < v.high and v.level == 0.95


def test_variety_bootstrap_leaves_out_a_sprite_paired_with_itself():
    """Two sprites per class at RMS distance 1 and 0.5: every bootstrap draw with a pair gives exactly the mean."""
    from dlhelpers.notebook.context_pictures import within_class_variety
    x = torch.zeros(4, 3, 2, 2)
    x[1], x[3] = 1.0, 0.5
    v = within_class_variety(x, torch.tensor([0, 0, 1, 1]), torch.Generator().manual_seed(0), n_boot=50)
    assert (v.mean, v.low, v.high) == pytest.approx((0.75, 0.75, 0.75))


def test_variety_change_is_paired_and_signed(real):
    from dlhelpers.notebook.context_pictures import variety_change, within_class_variety
    x, y = real[0][:30], real[1][:30]
    same = variety_change(x, x, y, torch.Generator().manual_seed(0), n_boot=100)
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)
    louder = (x * 1.5).clamp(-1, 1)
    d = variety_change(x, louder, y, torch.Generator().manual_seed(0), n_boot=100)
    gen = torch.Generator().manual_seed(0)
    assert d.mean == pytest.approx(within_class_variety(louder, y, gen).mean - within_class_variety(x, y, gen).mean)
    assert d.mean > 0 and d.low <= d.mean <= d.high
    with pytest.raises(ValueError, match="same shape"):
        variety_change(x, x[:-1], y)


@pytest.mark.parametrize("labels, word", [(torch.tensor([0, 0, 1]), "≥ 2"), (torch.tensor([0.0, 0, 0, 0]), "labels"),
                                          (torch.tensor([0, 0]), "labels")])
def test_variety_bad_labels(labels, word):
    from dlhelpers.notebook.context_pictures import within_class_variety
    x = torch.zeros(len(labels) if len(labels) != 2 else 4, 3, 4, 4)
    with pytest.raises(ValueError, match=word):
        within_class_variety(x, labels)


def test_mixing_sweep_keeps_the_noise_and_changes_only_the_context(tiny_model, schedule):
    from dlhelpers.ddim import sample_ddim
    from dlhelpers.notebook.context_pictures import mixing_sweep
    from dlhelpers.notebook.widgets import mixture_context
    seen = []

    def mix(w):
        seen.append(list(w))
        return mixture_context(w)

    s = mixing_sweep(tiny_model, schedule, mix, "hero", "food", n_steps=3, n_samples=4, steps=2, n_show=2,
                     generator=torch.Generator().manual_seed(0))
    assert seen == [[1.0, 0, 0, 0, 0], [0.5, 0, 0.5, 0, 0], [0.0, 0, 1.0, 0, 0]]
    assert s.images.shape == (3, 2, 3, 16, 16) and s.probs.shape == s.probs_se.shape == (3, 5)
    assert s.sprite_probs.shape == (3, 4, 5) and torch.allclose(s.sprite_probs.mean(1), s.probs)
    assert torch.allclose(s.probs.sum(1), torch.ones(3), atol=1e-5) and s.a.tolist() == [0.0, 0.5, 1.0]
    assert bool((s.probs_se >= 0).all())
    gen = torch.Generator().manual_seed(0)                    # the sweep's draws: x_T, then the per-step noise seed
    x_T = torch.randn(4, 3, 16, 16, generator=gen)
    noise_seed = int(torch.randint(2 ** 62, (1,), generator=gen))
    hero = sample_ddim(tiny_model, 4, schedule, steps=2, eta=1.0, context=torch.eye(5)[:1], x_T=x_T,
                       generator=torch.Generator().manual_seed(noise_seed), progress=False)
    assert torch.allclose(s.images[0], hero.samples[:2], atol=1e-5)
    same = mixing_sweep(tiny_model, schedule, lambda w: mixture_context([1, 0, 0, 0, 0]), n_steps=3, n_samples=2,
                        steps=2, generator=torch.Generator().manual_seed(0), n_show=2)
    assert torch.allclose(same.images[0], same.images[2])  # one x_T and one per-step noise for every column


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(mix="hero"), TypeError, "mix"),
    (dict(mix=lambda w: torch.tensor(w)), ValueError, "mix"),
    (dict(start="dragon"), ValueError, "start"),
    (dict(end="food", start="food"), ValueError, "different"),
    (dict(n_steps=1), ValueError, "n_steps"),
    (dict(n_show=9), ValueError, "n_show"),
    (dict(generator="seed"), TypeError, "generator"),
    (dict(eta=2.0), ValueError, "eta"),
])
def test_mixing_sweep_bad_arguments(tiny_model, schedule, kwargs, exc, word):
    from dlhelpers.notebook.context_pictures import mixing_sweep
    from dlhelpers.notebook.widgets import mixture_context
    args = dict(mix=mixture_context, n_steps=2, n_samples=2, steps=2, n_show=1) | kwargs
    with pytest.raises(exc, match=word):
        mixing_sweep(tiny_model, schedule, **args)


def test_plots_are_figures(tiny_model, schedule):
    from matplotlib.figure import Figure
    from dlhelpers.notebook.context_pictures import Variety, mixing_sweep, plot_guidance_tradeoff, plot_mixing_sweep
    from dlhelpers.notebook.widgets import mixture_context
    s = mixing_sweep(tiny_model, schedule, mixture_context, n_steps=2, n_samples=2, steps=1, n_show=2)
    fig = plot_mixing_sweep(s)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 and len(fig.axes[1].lines) == 5
    v = [Variety(0.7, 0.68, 0.72), Variety(0.75, 0.73, 0.77), Variety(0.8, 0.78, 0.82)]
    ci = [(0.1, 0.3), (0.8, 0.95), (0.93, 1.0)]
    fig = plot_guidance_tradeoff([0, 1, 2], [0.2, 0.9, 1.0], ci, v, Variety(0.77, 0.76, 0.78), 50)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="one entry per w"):
        plot_guidance_tradeoff([0, 1], [0.2], ci[:2], v[:2])
    with pytest.raises(TypeError, match="within_class_variety"):
        plot_guidance_tradeoff([0], [0.2], ci[:1], [0.5])
    with pytest.raises(TypeError, match="sweep"):
        plot_mixing_sweep("sweep")


@pytest.mark.parametrize("p, n, low, high", [(1.0, 100, 0.9630, 1.0), (0.0, 100, 0.0, 0.0370),
                                             (0.5, 100, 0.4038, 0.5962), (0.96, 100, 0.9016, 0.9843)])
def test_proportion_interval_is_wilsons(p, n, low, high):
    """Wilson's 95 % score interval (values from its closed form); at p = 1 it keeps a width, unlike p ± 1.96 s.e."""
    from dlhelpers.notebook.context_pictures import proportion_interval
    assert proportion_interval(p, n) == pytest.approx((low, high), abs=1e-4)


def test_proportion_interval_bad_arguments():
    from dlhelpers.notebook.context_pictures import proportion_interval
    with pytest.raises(ValueError, match="p"):
        proportion_interval(1.5, 10)
    with pytest.raises(ValueError, match="n"):
        proportion_interval(0.5, 0)


# ------------------------------------------------------------------------------------------------ the mixer
def _recording_sampler(calls):
    def sample(x_T, context, w, generator):
        calls.append((x_T.clone(), context.clone(), w))
        return torch.tanh(x_T + context.sum(1).view(-1, 1, 1, 1) * w)
    return sample


def test_mixer_draws_with_the_given_sampler_and_mix(tiny_model, schedule):
    from matplotlib.figure import Figure
    from dlhelpers.notebook.widgets import context_mixer, mixture_context
    calls = []
    fig = context_mixer(tiny_model, schedule, n_samples=4, static=True, sample=_recording_sampler(calls))
    assert isinstance(fig, Figure) and len(calls) == 1
    x_T, context, w = calls[0]
    assert x_T.shape == (4, 3, 16, 16) and w == 1.0
    assert torch.equal(context, torch.tensor([[1.0, 0, 0, 0, 0]]).expand(4, 5))
    box = context_mixer(tiny_model, schedule, n_samples=4, seed=5, static=False, mix=mixture_context,
                        sample=_recording_sampler(calls))
    first = box.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and "seed 5" in box.status.value
    box.sliders[2].value = 1.0                               # hero + food, the same seed: the same x_T
    assert torch.equal(calls[-1][0], calls[-2][0]) and "hero 0.50, food 0.50" in box.status.value
    box.guidance.value = 3.0
    assert calls[-1][2] == 3.0 and "guidance 3.0" in box.status.value
    box.button.click()
    assert "seed 6" in box.status.value and not torch.equal(calls[-1][0], calls[-2][0])


def test_mixer_bad_arguments_and_a_broken_sampler(tiny_model, schedule):
    from dlhelpers.notebook.widgets import context_mixer
    box = context_mixer(tiny_model, schedule, n_samples=2, static=False, sample=lambda x, c, w, g: x[:1])
    assert "error" in box.status.value and "(2, 3, 16, 16)" in box.status.value
    with pytest.raises(TypeError, match="^sample"):
        context_mixer(tiny_model, schedule, sample="draw")
    with pytest.raises(ValueError, match="^eta"):
        context_mixer(tiny_model, schedule, eta=2.0)


