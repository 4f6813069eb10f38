"""The notebook widgets without a browser: the kernel side of every interaction, and the static fallback."""
import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from dlhelpers.notebook import widgets as W
from dlhelpers.ddim import sample_ddim
from dlhelpers.sampling import SampleResult

pytest.importorskip("ipywidgets")


@pytest.fixture
def result(tiny_model, schedule):
    return sample_ddim(tiny_model, 4, schedule, steps=6, progress=False, generator=torch.Generator().manual_seed(0))


def test_outside_a_kernel_there_is_no_widget_frontend():
    assert W.widget_frontend_available() is False


def test_scrubber_slider_updates_both_images(result):
    box = W.timestep_scrubber(result, nrow=4, static=False)
    assert box.slider.label == str(result.frame_timesteps[0])
    xt, x0 = box.image.value, box.x0_image.value
    assert xt[:8] == b"\x89PNG\r\n\x1a\n" and x0 != xt
    box.slider.value = 3
    assert box.image.value != xt and box.x0_image.value != x0
    assert f"t = {result.frame_timesteps[3]}" in box.caption.value
    box.slider.value = len(result.frame_timesteps) - 1
    assert "(done)" in box.caption.value


def test_scrubber_without_x0(result):
    box = W.timestep_scrubber(result, show_x0=False, static=False)
    assert box.x0_image is None
    box.slider.value = 1
    no_x0 = SampleResult(result.samples, result.frames, result.frame_timesteps, None)
    assert W.timestep_scrubber(no_x0, show_x0=False, static=False).x0_image is None
    with pytest.raises(ValueError, match="show_x0"):
        W.timestep_scrubber(no_x0)


def test_static_fallbacks_are_figures(result, tiny_model, schedule):
    from matplotlib.figure import Figure
    assert isinstance(W.timestep_scrubber(result), Figure)  # not in a kernel → static picture
    assert isinstance(W.context_mixer(tiny_model, schedule, n_samples=4, steps=3), Figure)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(result="frames"), TypeError, "result"),
    (dict(nrow=0), ValueError, "nrow"),
    (dict(nrow=2.5), TypeError, "nrow"),
    (dict(show_x0="yes"), TypeError, "show_x0"),
    (dict(static="no"), TypeError, "static"),
])
def test_scrubber_bad_arguments(result, kwargs, exc, word):
    args = dict(result=result) | kwargs
    with pytest.raises(exc, match=word):
        W.timestep_scrubber(**args)


def test_scrubber_mismatched_result(result):
    bad = SampleResult(result.samples, result.frames, result.frame_timesteps[:-1], result.x0_preds)
    with pytest.raises(ValueError, match="frame_timesteps"):
        W.timestep_scrubber(bad)
    bad = SampleResult(result.samples, result.frames[0], result.frame_timesteps, result.x0_preds)
    with pytest.raises(ValueError, match="frames"):
        W.timestep_scrubber(bad)


def test_mixture_is_one_normalised_row_and_zero_is_the_null_row():
    c = W.mixture_context([1, 0, 1, 0, 0])
    assert c.shape == (1, 5) and c.dtype == torch.float32
    assert torch.allclose(c, torch.tensor([[0.5, 0, 0.5, 0, 0]]))
    assert torch.allclose(W.mixture_context([0.2, 0.2, 0.2, 0.2, 0.2]), torch.full((1, 5), 0.2))
    assert torch.allclose(W.mixture_context((3, 0, 1, 0, 0)), torch.tensor([[0.75, 0, 0.25, 0, 0]]))
    null = W.mixture_context([0, 0, 0, 0, 0])
    assert null.shape == (1, 5) and not null.any()
    assert W.describe_mixture(null).startswith("null context")
    assert W.describe_mixture(None).startswith("null context")
    assert W.describe_mixture(c) == "hero 0.50, food 0.50"
    assert W.describe_mixture(c[0]) == "hero 0.50, food 0.50"
    with pytest.raises(ValueError, match="context"):
        W.describe_mixture(torch.zeros(2, 5))


def test_mixture_row_is_the_same_as_the_exercise_and_the_samplers_broadcast_it(tiny_model, schedule):
    from dlhelpers.notebook.checks import check_mix_contexts
    check_mix_contexts(W.mixture_context)  # the reference passes the student's check: one convention
    gen = lambda: torch.Generator().manual_seed(3)
    row = W.mixture_context([0, 1, 0, 1, 0])
    a = sample_ddim(tiny_model, 3, schedule, steps=3, context=row, generator=gen(), progress=False).samples
    b = sample_ddim(tiny_model, 3, schedule, steps=3, context=row.expand(3, 5), generator=gen(), progress=False)
    assert torch.equal(a, b.samples)
    null = W.mixture_context([0] * 5)
    a = sample_ddim(tiny_model, 3, schedule, steps=3, context=null, generator=gen(), progress=False).samples
    b = sample_ddim(tiny_model, 3, schedule, steps=3, context=None, generator=gen(), progress=False).samples
    assert torch.equal(a, b)


@pytest.mark.parametrize("weights, exc, word", [
    ([1, 0], ValueError, "5 entries"),
    ([1, -1, 0, 0, 0], ValueError, r"weights\[1\]"),
    (3, TypeError, "weights"),
    (["a", 0, 0, 0, 0], TypeError, r"weights\[0\]"),
    ([float("inf"), 0, 0, 0, 0], ValueError, "finite"),
    ([float("nan"), 0, 0, 0, 0], ValueError, "NaN"),
])
def test_mixture_bad_weights(weights, exc, word):
    with pytest.raises(exc, match=word):
        W.mixture_context(weights)


def test_mixer_button_and_sliders_change_the_picture(tiny_model, schedule):
    box = W.context_mixer(tiny_model, schedule, n_samples=4, steps=3, seed=5, static=False)
    assert [s.description for s in box.sliders] == list(W.CLASS_NAMES)
    assert box.guidance.value == 1.0 and (box.guidance.min, box.guidance.max) == (0.0, 5.0)
    first = box.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and "seed 5" in box.status.value
    box.button.click()
    second = box.image.value
    assert second != first and "seed 6" in box.status.value
    box.button.click()
    assert box.image.value not in (first, second) and "seed 7" in box.status.value
    box.sliders[0].value = 0.0  # all zero → null context, same seed
    assert "null context" in box.status.value and "seed 7" in box.status.value
    box.sliders[2].value = 0.5
    box.sliders[3].value = 0.5
    assert "food 0.50, spell 0.50" in box.status.value
    box.guidance.value = 3.0
    assert "guidance 3.0" in box.status.value and not box.button.disabled


def test_mixer_uses_the_given_mix_function(tiny_model, schedule):
    calls = []

    def mine(weights):
        calls.append(list(weights))
        return W.mixture_context(weights)

    box = W.context_mixer(tiny_model, schedule, n_samples=2, steps=2, static=False, mix=mine)
    assert calls == [[1.0, 0.0, 0.0, 0.0, 0.0]]  # the first picture
    box.sliders[1].value = 1.0
    assert calls[-1] == [1.0, 1.0, 0.0, 0.0, 0.0] and "hero 0.50, non-hero 0.50" in box.status.value
    bad = W.context_mixer(tiny_model, schedule, n_samples=2, steps=2, static=False,
                          mix=lambda w: torch.tensor(w, dtype=torch.float32))   # (5,), not (1, 5)
    assert "error" in bad.status.value and "(1, 5)" in bad.status.value and not bad.button.disabled
    with pytest.raises(TypeError, match="mix"):
        W.context_mixer(tiny_model, schedule, static=False, mix="hero")


def test_mixer_same_seed_is_reproducible(tiny_model, schedule):
    a = W.context_mixer(tiny_model, schedule, n_samples=4, steps=3, static=False)
    b = W.context_mixer(tiny_model, schedule, n_samples=4, steps=3, static=False)
    assert a.image.value == b.image.value


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(model="unet"), TypeError, "model"),
    (dict(schedule=None), TypeError, "schedule"),
    (dict(n_samples=0), ValueError, "n_samples"),
    (dict(steps=0), ValueError, "steps"),
    (dict(steps=10_000), ValueError, "steps"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(device="meta"), ValueError, "device"),
    (dict(device=3.5), TypeError, "device"),
    (dict(weights=(1, 2)), ValueError, "weights"),
])
def test_mixer_bad_arguments(tiny_model, schedule, kwargs, exc, word):
    args = dict(model=tiny_model, schedule=schedule, n_samples=2, steps=2, static=False) | kwargs
    with pytest.raises(exc, match=word):
        W.context_mixer(**args)


def test_mixer_rejects_a_model_with_other_contexts(schedule):
    from dlhelpers.unet import ContextUnet
    with pytest.raises(ValueError, match="n_cfeat"):
        W.context_mixer(ContextUnet(3, 16, 3, 16), schedule, static=False)
