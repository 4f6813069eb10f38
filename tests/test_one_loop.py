"""One loop, one table, one protocol (issue 33): every sampler runs through ``sampling.sample_loop``, reads the
network only through ``PREDICTIONS``, and gives the same sprites as before the refactor; each prediction's loss
weight is its min-SNR-γ weight derived a second way; ``NoiseSchedule`` and ``FlowPath`` satisfy ``GaussianPath``."""
import dataclasses
from pathlib import Path

import pytest
import torch

from dlhelpers import samplers, sampling
from dlhelpers.flow import FlowPath
from dlhelpers.predictions import PREDICTIONS
from dlhelpers.pretrained import load_pretrained
from dlhelpers.samplers import SAMPLERS
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.path import ALLOWED, GaussianPath
from dlhelpers.spec import RunSpec

# Every registry sampler's samples on the shipped weights, made by the code before the one loop (commit 7a0ef0b:
# x_T and contexts below, precision fp32, one thread). On the machine that made them, the six cases on DDPM's path
# came out bit for bit the same after the change and the four flow cases within 1.5e-5 (their slope is now ε̂ − x̂₀
# from the table, not the raw u); compared at 1e-4 so another CPU's fp32 rounding passes.
BEFORE = Path(__file__).parent / "data" / "sampler_outputs_7a0ef0b.pt"
CASES = [   # (sampler, weights, its own options, guidance)
    ("ddpm", "course", {}, 1.0),      # (the file also holds DDPM with guidance 3: 20 s, guidance is DDIM's case here)
    ("ddim", "course", {"steps": 25, "eta": 0.0}, 1.0), ("ddim", "course", {"steps": 7, "eta": 1.0}, 2.0),
    ("dpm-solver", "course", {"steps": 10}, 1.0), ("dpm-solver", "course", {"steps": 3}, 2.0),
    ("flow-euler", "flow", {"steps": 4}, 1.0), ("flow-euler", "flow", {"steps": 1}, 2.0),
    ("flow-heun", "flow", {"steps": 3}, 1.0), ("flow-heun", "flow", {"steps": 5}, 2.0),
]


def _key(name, preset, opts, w):
    return f"{name}|{preset}|{sorted(opts.items())}|w={w}"


SHIPPED = ("ddpm", "ddim", "dpm-solver", "flow-euler", "flow-heun")   # the registry at 7a0ef0b


def test_the_stored_outputs_cover_every_sampler_shipped_before_the_one_loop():
    assert {name for name, *_ in CASES} == set(SHIPPED) and set(SHIPPED) <= set(SAMPLERS)
    assert set(torch.load(BEFORE, weights_only=True)) >= {_key(*c) for c in CASES}


@pytest.mark.parametrize("name, preset, opts, w", [
    pytest.param(*c, marks=pytest.mark.slow) if c[0] == "ddpm" else c for c in CASES],
    ids=[_key(*c) for c in CASES])
def test_every_sampler_draws_the_same_sprites_as_before_the_one_loop(name, preset, opts, w):
    model, path = load_pretrained("final", preset=preset)
    g = torch.Generator().manual_seed(1234)
    x_T = torch.randn(4, 3, 16, 16, generator=g)
    ctx = torch.nn.functional.one_hot(torch.tensor([0, 1, 3, 4]), 5).float()
    res = samplers.sample(name, model, 4, path, context=ctx, generator=g, x_T=x_T, precision="fp32",
                          progress=False, guidance_scale=w, save_every=None, **opts)
    want = torch.load(BEFORE, weights_only=True)[_key(name, preset, opts, w)]
    torch.testing.assert_close(res.samples, want, rtol=0, atol=1e-4)


class Constant(torch.nn.Module):
    """Answers a fixed tensor; ContextUnet's geometry."""

    in_channels, h, n_cfeat = 3, 8, 5

    def __init__(self, value=0.1):
        super().__init__()
        self.value, self.w = value, torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t, c=None):
        return torch.full_like(x, self.value) + 0 * self.w


# one path of each kind a spec names, as a spec builds it (a new path is covered without a test edit)
PATH_OF = {name: RunSpec(name, predictions[0]).build() for name, predictions in ALLOWED.items()}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_runs_through_the_one_loop(monkeypatch, name):
    """A seam: ``sampling.sample_loop`` replaced by a recorder. Every registry sampler must call it (none has a
    loop of its own), with its grid."""
    seen = []
    real = sampling.sample_loop

    def spy(model, path, n, grid, make_step, **kw):
        seen.append(list(grid))
        return real(model, path, n, grid, make_step, **kw)

    monkeypatch.setattr(sampling, "sample_loop", spy)
    s = SAMPLERS[name]
    steps = {"steps": 3} if "steps" in s.options else {}
    samplers.sample(name, Constant(), 2, PATH_OF[s.path], progress=False, precision="fp32", **steps)
    assert len(seen) == 1 and seen[0][0] > seen[0][-1] == 0


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_reads_the_network_only_through_the_prediction_table(monkeypatch, name):
    """Replace the path's table entry by one whose x̂₀ and ε̂ are both 0: every sampler's result must change to
    what the pair says (an output read around the table would ignore it)."""
    s = SAMPLERS[name]
    path = PATH_OF[s.path]
    steps = {"steps": 3} if "steps" in s.options else {}
    kw = dict(progress=False, precision="fp32", x_T=torch.ones(2, 3, 8, 8), **steps)
    plain = samplers.sample(name, Constant(), 2, path, **kw).samples
    right = PREDICTIONS[path.prediction]
    monkeypatch.setitem(PREDICTIONS, path.prediction, dataclasses.replace(
        right, split=lambda out, x_t, a, s: (torch.zeros_like(x_t), torch.zeros_like(x_t))))
    zeroed = samplers.sample(name, Constant(), 2, path, **kw).samples
    assert not torch.allclose(plain, zeroed)
    # what (x̂₀, ε̂) = (0, 0) implies: DDIM and DPM-Solver land on x̂₀ = 0; the flow's slope ε̂ − x̂₀ = 0 leaves x_T
    # where it is (DDPM adds σ_t z from its generator)
    implied = {"ddim": 0.0, "dpm-solver": 0.0, "flow-euler": 1.0, "flow-heun": 1.0}
    if name in implied:
        torch.testing.assert_close(zeroed, torch.full_like(zeroed, implied[name]), rtol=0, atol=1e-6)


def test_frames_are_asked_for_not_switched_off():
    """save_every=None records nothing; a callback sees every step with the loop's x̂₀; save_every=k keeps every
    k-th frame and the end."""
    model, path = Constant(), NoiseSchedule.linear(20)
    none = samplers.sample("ddim", model, 2, path, steps=5, save_every=None, progress=False)
    assert none.frames is None and none.x0_preds is None and none.frame_timesteps == []
    seen = []
    every2 = samplers.sample("ddim", model, 2, path, steps=5, save_every=2, progress=False,
                             callback=lambda i, t, x, x0: seen.append((i, t, x0.shape)))
    assert [i for i, _, _ in seen] == [0, 1, 2, 3, 4] and [t for _, t, _ in seen] == [20, 16, 12, 8, 4]
    assert every2.frame_timesteps == [20, 12, 4, 0] and every2.frames.shape == (4, 2, 3, 8, 8)
    torch.testing.assert_close(every2.frames[-1], every2.samples)


# ------------------------------------------------------------------------------------------------ the table
# every (path, prediction) pair a run spec allows, each built as training and sampling would build it
PAIRS = [(path, prediction) for path, predictions in ALLOWED.items() for prediction in predictions]


@pytest.mark.parametrize("path_name, prediction", PAIRS, ids=[f"{p}-{q}" for p, q in PAIRS])
def test_each_predictions_loss_weight_is_min_snr_times_its_x0_gain_squared(path_name, prediction):
    """A second derivation of each entry's min-SNR-γ weight: Hang et al. weight the x₀ error by min(SNR, γ); the
    x₀ error of an output y is (∂x̂₀/∂y)² times its own, and ∂x̂₀/∂y is taken here by autograd through the
    entry's own ``split`` at the path's coefficients."""
    entry, path = PREDICTIONS[prediction], RunSpec(path_name, prediction).build()
    t = (torch.tensor([1, 40, 150, 300, 499]) if isinstance(path, NoiseSchedule)
         else torch.tensor([0.02, 0.2, 0.5, 0.8, 0.97]))
    a, s = path.coefficients(t, (5, 1))
    out = torch.zeros(5, 1, dtype=torch.float64, requires_grad=True)
    x0_hat, _ = entry.split(out, torch.zeros(5, 1, dtype=torch.float64), a.double(), s.double())
    gain = torch.autograd.grad(x0_hat.sum(), out)[0].squeeze(1)                     # ∂x̂₀/∂y, (5,)
    snr = path.snr(t)
    for gamma in (0.5, 5.0):
        torch.testing.assert_close(entry.min_snr_weight(snr, gamma), snr.clamp(max=gamma) * gain ** 2,
                                   rtol=1e-5, atol=1e-7)     # the coefficients are float32


@pytest.mark.parametrize("path_name, prediction", PAIRS, ids=[f"{p}-{q}" for p, q in PAIRS])
def test_each_predictions_way_back_inverts_its_target(path_name, prediction):
    """split(target(x₀, ε), x_t) = (x₀, ε) on the path's own x_t = a·x₀ + s·ε, at every kind of time."""
    entry, path = PREDICTIONS[prediction], RunSpec(path_name, prediction).build()
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(5, 3, 4, 4, generator=g), torch.randn(5, 3, 4, 4, generator=g)
    t = (torch.tensor([1, 40, 150, 300, 499]) if isinstance(path, NoiseSchedule)
         else torch.tensor([0.02, 0.2, 0.5, 0.8, 0.97]))
    a, s = path.coefficients(t, x0.shape)
    x0_hat, eps_hat = entry.split(entry.target(x0, eps, a, s), a * x0 + s * eps, a, s)
    torch.testing.assert_close(x0_hat, x0, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(eps_hat, eps, rtol=1e-4, atol=1e-4)


def test_the_eps_weight_is_hang_et_al_eq_7():
    snr = torch.tensor([9.0, 1.0, 1 / 9], dtype=torch.float64)
    torch.testing.assert_close(PREDICTIONS["eps"].min_snr_weight(snr, 5.0),
                               torch.tensor([5 / 9, 1.0, 1.0], dtype=torch.float64))


@pytest.mark.parametrize("path_name", sorted(ALLOWED))
def test_every_allowed_prediction_has_a_full_table_entry(path_name):
    for prediction in ALLOWED[path_name]:
        entry = PREDICTIONS[prediction]
        assert callable(entry.target) and callable(entry.split) and callable(entry.min_snr_weight)


def test_a_path_refuses_a_prediction_it_cannot_sample():
    with pytest.raises(ValueError, match="^prediction"):
        FlowPath(prediction="eps")
    with pytest.raises(ValueError, match="^prediction"):
        dataclasses.replace(NoiseSchedule.linear(10), prediction="velocity")


# ------------------------------------------------------------------------------------------------ the protocol
def test_both_paths_satisfy_the_written_protocol():
    for spec in (RunSpec("ddpm", "eps"), RunSpec("flow", "velocity", {}), RunSpec("flow", "velocity",
                                                                                  {"t_sampling": "logit-normal"})):
        path = spec.build()
        assert isinstance(path, GaussianPath), path
        assert path.PATH == spec.path and path.prediction == spec.prediction


def test_an_object_missing_a_protocol_method_is_not_a_path_and_the_samplers_say_so():
    class NoSNR:
        PATH, prediction = "flow", "velocity"

        def to(self, device):
            return self

        def coefficients(self, t, x_shape):
            return 1 - t, t

        def network_time(self, t):
            return t

        def draw_training_example(self, x0, generator):
            raise NotImplementedError

        def add_noise(self, x0, t, noise):
            raise NotImplementedError

    assert not isinstance(NoSNR(), GaussianPath)
    with pytest.raises(TypeError, match="^path must be a FlowPath"):
        samplers.sample("flow-euler", Constant(), 2, NoSNR(), progress=False)


def test_notebook_5s_eps_loop_refuses_pairs_that_do_not_chain():
    """reverse_loop builds the one loop's grid from the pairs: pairs that skip would evaluate the network at one t
    and step from another."""
    model, schedule = Constant(), NoiseSchedule.linear(20)
    step = lambda x, t, t_prev, eps, sched, gen: x
    with pytest.raises(ValueError, match="^pairs must chain"):
        sampling.reverse_loop(model, schedule, 2, [(20, 10), (9, 0)], step, progress=False)
    with pytest.raises(ValueError, match="^pairs must be a non-empty"):
        sampling.reverse_loop(model, schedule, 2, [], step, progress=False)
    res = sampling.reverse_loop(model, schedule, 2, [(20, 10), (10, 0)], step, progress=False, save_every=1)
    assert res.frame_timesteps == [20, 10, 0]


def test_the_loss_reads_the_path_on_the_batchs_device(monkeypatch):
    """diffusion_loss called directly (the notebooks' checks do) with a path on another device: it moves the path
    to the batch's device first (a seam: NoiseSchedule.to records where it was asked to go)."""
    from dlhelpers.training import diffusion_loss
    asked = []
    real = NoiseSchedule.to
    monkeypatch.setattr(NoiseSchedule, "to", lambda self, device: asked.append(torch.device(device)) or
                        real(self, device))
    zero = lambda x, t, c=None: torch.zeros_like(x)
    diffusion_loss(zero, torch.zeros(2, 3, 8, 8), None, NoiseSchedule.linear(20), torch.Generator(),
                   min_snr_gamma=5.0)
    assert asked and asked[0] == torch.device("cpu")
