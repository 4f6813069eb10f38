"""Notebook 07's checks and measurements beyond the catalogues (dlhelpers/tools/catalogues/nb07.py, graded in
tests/test_catalogues.py): the references against the library (the pairs against notebook 6's Euler sampler, the
straightness against ``dlhelpers.flow.straightness``), the fallback, the measuring functions on a small network
(what they return, that the live run trains a copy on the pairs' own noise), the one-call sampler against diffusers
on the shipped reflow weights, and the numbers the prose quotes against the outputs stored beside them."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import nbformat
import pytest
import torch
import torch.nn.functional as F

from dlhelpers import training
from dlhelpers.flow import FlowPath, sample_flow_euler, straightness
from dlhelpers.io import REPO_ROOT
from dlhelpers.notebook import reflow_pictures as rp
from dlhelpers.notebook.checks import reflow as checks
from dlhelpers.notebook.checks.common import ExerciseError
from dlhelpers.notebook.checks.flow import reference_euler_sample
from dlhelpers.notebook.ddim_pictures import FDMeter
from dlhelpers.notebook.exercises import yours_or_reference
from dlhelpers.unet import ContextUnet
from support import prose_numbers_not_printed

torch.set_num_threads(1)
NOTEBOOK = REPO_ROOT / "notebooks" / "07_one_call.ipynb"


def _net(seed=0, n_feat=8):
    torch.manual_seed(seed)
    return ContextUnet(n_feat=n_feat).eval()


def test_the_references_pass_their_checks_and_a_broken_answer_falls_back(capsys):
    checks.check_pairs(checks.reference_pairs)
    checks.check_straightness(checks.reference_straightness)
    broken = lambda sample, labels, generator: (torch.zeros(len(labels), 3, 16, 16),) * 2
    fn = yours_or_reference(lambda: broken, checks.reference_pairs, checks.check_pairs, name="pairs")
    assert fn is checks.reference_pairs
    assert "→ using the reference pairs below" in capsys.readouterr().out


def test_the_reference_pairs_are_the_noise_and_the_sprite_it_became():
    """With notebook 6's Euler sampler on a real UNet: x_T is the generator's first draw, and x̂₀ is exactly what
    Euler reaches from that x_T with each label's context, clamped."""
    net, labels = _net(), torch.tensor([0, 1, 2, 3, 4, 1])
    sample = lambda x, c: reference_euler_sample(net, x, c, 3)
    noise, x0 = checks.reference_pairs(sample, labels, torch.Generator().manual_seed(4))
    torch.testing.assert_close(noise, torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(4)))
    ctx = F.one_hot(labels, 5).float()
    lib = sample_flow_euler(net, 6, FlowPath(), steps=3, context=ctx, x_T=noise, progress=False, precision="fp32")
    torch.testing.assert_close(x0, lib.samples.clamp(-1, 1), rtol=1e-5, atol=1e-5)


def test_check_messages_name_the_mistake_beyond_the_catalogue():
    """An answer that samples each sprite on its own from the right noise is accepted; one that samples twice, one
    that returns a single tensor and one that changes the frames in place are told so."""
    def per_image(sample, labels, generator):
        x_T = torch.randn((len(labels), 3, 16, 16), generator=generator)
        x0 = torch.cat([sample(x_T[i:i + 1], F.one_hot(labels[i:i + 1], 5).float()) for i in range(len(labels))])
        return x_T, x0.clamp(-1, 1)

    checks.check_pairs(per_image)

    def twice(sample, labels, generator):
        x_T, x0 = checks.reference_pairs(sample, labels, generator)
        sample(x_T, F.one_hot(labels, 5).float())                       # a second look, for nothing
        return x_T, x0

    with pytest.raises(ExerciseError, match="drew 16 sprites for 8 labels"):
        checks.check_pairs(twice)
    with pytest.raises(ExerciseError, match="expected a pair"):
        checks.check_pairs(lambda s, labels, g: torch.zeros(len(labels), 3, 16, 16))

    def in_place(frames):
        out = straightness(frames)
        frames.zero_()
        return out

    with pytest.raises(ExerciseError, match="in place"):
        checks.check_straightness(in_place)


def test_the_check_trajectories_have_their_known_straightness():
    torch.testing.assert_close(straightness(checks._trajectories())[:3], torch.tensor([1.0, 2 ** -0.5, 1 / 3]))


def test_pair_costs_and_the_decision():
    net, labels = _net(), torch.arange(10) % 5
    x_T = torch.randn(10, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    costs = rp.pair_costs(net, FlowPath(), labels, x_T, steps=(1, 2), exact_steps=2)
    assert sorted(costs) == [1, 2]
    for s, c in costs.items():
        assert c.steps == s and c.off_ode >= 0 and 0 <= c.accuracy <= 1
        assert c.per_10k == pytest.approx(c.seconds * 1000)
    assert costs[2].off_ode < costs[1].off_ode            # Euler-2 is nearer Heun-2's end than Euler-1
    assert rp.choose_steps(lambda: 1, costs) == 1
    for bad in (None, 3, True, "2"):
        assert rp.choose_steps(lambda: bad, costs) == 2   # the largest measured choice, with a line saying so

    def skipped():
        raise NameError("PAIR_STEPS")

    assert rp.choose_steps(skipped, costs) == 2
    with pytest.raises(ValueError, match="exact_steps"):
        rp.pair_costs(net, FlowPath(), labels, x_T, exact_steps=0)


def test_live_reflow_trains_a_copy_on_each_pairs_own_noise(monkeypatch):
    """The teacher is left as it was; the copy's loss is the flow loss on the pairs' noise: with the coupling
    dropped (``training.coupled_noise`` planted to return None, the trainer then draws fresh noise) the run
    differs."""
    teacher, labels = _net(), torch.arange(20) % 5
    noise = torch.randn(20, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    x0 = torch.rand(20, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    kw = dict(batch_size=10, lr=1e-3)
    a, _ = rp.live_reflow(teacher, (noise, x0, labels), FlowPath(), 3, **kw)
    b, _ = rp.live_reflow(teacher, (noise, x0, labels), FlowPath(), 3, **kw)
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())
    assert a is not teacher and not a.training
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())          # seeded
    assert any(not torch.equal(v, before[k]) for k, v in a.state_dict().items())
    monkeypatch.setattr(training, "coupled_noise", lambda dataset, images: None)
    c, _ = rp.live_reflow(teacher, (noise, x0, labels), FlowPath(), 3, **kw)
    assert any(not torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items())


def test_calls_table_scores_every_model_and_measures_with_the_given_function():
    net, labels = _net(), torch.arange(10) % 5
    x_T = torch.randn(10, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    meter = FDMeter(torch.rand(20, 3, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1)
    seen = []

    def measure(frames):
        seen.append(frames.shape)
        return straightness(frames)

    out = rp.calls_table({"a": net, "b": _net(1)}, FlowPath(), labels, x_T, meter, calls=(1, 3), straight_steps=3,
                         measure=measure)
    assert sorted(out["fd"]) == [("a", 1), ("a", 3), ("b", 1), ("b", 3)]
    assert seen == [(4, 10, 3, 16, 16)] * 2 and sorted(out["straightness"]) == ["a", "b"]
    one = sample_flow_euler(net, 10, FlowPath(), steps=1, context=F.one_hot(labels, 5).float(), x_T=x_T,
                            progress=False)
    torch.testing.assert_close(out["samples"]["a", 1], one.samples.clamp(-1, 1))
    with pytest.raises(ValueError, match="straight_steps"):
        rp.calls_table({"a": net}, FlowPath(), labels, x_T, meter, calls=(1, 2), straight_steps=3)


def test_one_call_of_the_shipped_reflow_model_is_diffusers_flow_match_euler_with_one_step():
    """The notebook's one-call sampler on the shipped weights: ``FlowMatchEulerDiscreteScheduler`` with the single
    sigma 1 (then 0) takes x̂₀ = x₁ − u_θ(x₁, 1, c), as ``sample_flow_euler(steps=1)`` does."""
    diffusers = pytest.importorskip("diffusers")
    from dlhelpers.pretrained import load_pretrained

    model, path = load_pretrained("final", "cpu", preset="reflow")
    ctx = F.one_hot(torch.arange(4) % 5, 5).float()
    x_T = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(9))
    ours = sample_flow_euler(model, 4, path, steps=1, context=ctx, x_T=x_T, progress=False, precision="fp32")
    sched = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    sched.set_timesteps(sigmas=[1.0])
    assert sched.sigmas.tolist() == [1.0, 0.0]
    with torch.no_grad():
        (k,) = sched.timesteps
        theirs = sched.step(model(x_T, (k / 1000).expand(4), ctx), k, x_T).prev_sample
    torch.testing.assert_close(ours.samples, theirs, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------------- the stored outputs
def _cells():
    return nbformat.read(str(NOTEBOOK), as_version=4).cells


def test_the_prose_quotes_the_stored_measurements():
    """Every decimal number in the markdown right after a measurement cell (the pair costs, the calls table) is
    printed in that cell's stored output: the prose says what the notebook measured."""
    cells = _cells()
    for marker in ("costs = pair_costs(", "table = calls_table("):
        missing = prose_numbers_not_printed(cells, marker)
        assert not missing, f"numbers in the prose after {marker!r} not in its output: {missing}"
