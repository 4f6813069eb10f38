"""Notebook 06's checks and pictures beyond the catalogues (dlhelpers/tools/catalogues/nb06.py, graded in
tests/test_catalogues.py): the references against the library (the loss's draws in ``FlowPath``'s order, the Euler
reference against ``sample_flow_euler``), messages that name the mistake, the fallback, the pictures module on bad
input, and the numbers the notebook's prose quotes against the outputs stored beside them."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import nbformat
import pytest
import torch
import torch.nn.functional as F

from dlhelpers.flow import FlowPath, sample_flow_euler
from dlhelpers.io import REPO_ROOT
from dlhelpers.notebook.checks import flow as checks
from dlhelpers.notebook.checks.common import ExerciseError
from dlhelpers.notebook.exercises import yours_or_reference
from dlhelpers.unet import ContextUnet
from support import prose_numbers_not_printed

torch.set_num_threads(1)
NOTEBOOK = REPO_ROOT / "notebooks" / "06_flow_matching.ipynb"


def _net(seed=0):
    torch.manual_seed(seed)
    return ContextUnet(n_feat=8).eval()


def test_the_references_pass_their_checks_and_a_broken_answer_falls_back(capsys):
    for ref, check in ((checks.reference_interpolate, checks.check_interpolate),
                       (checks.reference_flow_loss, checks.check_flow_loss),
                       (checks.reference_euler_sample, checks.check_euler_sample)):
        check(ref)
    broken = lambda x0, eps, t: x0
    fn = yours_or_reference(lambda: broken, checks.reference_interpolate, checks.check_interpolate,
                            name="interpolate")
    assert fn is checks.reference_interpolate
    assert "→ using the reference interpolate below" in capsys.readouterr().out


def test_the_loss_check_draws_as_the_library_does():
    """t = torch.rand(B), then ε = torch.randn(shape), from one generator: FlowPath.draw_training_example's order,
    so the reference loss on a real UNet is the MSE against ε − x₀ at exactly those draws."""
    x0 = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    c = F.one_hot(torch.arange(6) % 5, 5).float()
    t, x_t, time_in, eps = FlowPath().draw_training_example(x0, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    t2 = torch.rand(6, generator=g)
    assert torch.equal(t, t2) and torch.equal(eps, torch.randn(x0.shape, generator=g)) and torch.equal(time_in, t)
    net = _net()
    want = F.mse_loss(net(x_t, t, c), eps - x0)
    got = checks.reference_flow_loss(net, x0, c, torch.Generator().manual_seed(7))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert got.requires_grad


def test_the_euler_reference_is_sample_flow_euler():
    net, x_T = _net(2), torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    c = torch.eye(5)[:3]
    for steps in (1, 4, 9):
        lib = sample_flow_euler(net, 3, FlowPath(), steps=steps, context=c, x_T=x_T, precision="fp32",
                                progress=False).samples
        torch.testing.assert_close(checks.reference_euler_sample(net, x_T, c, steps), lib, rtol=1e-4, atol=1e-4)


def test_check_messages_name_the_mistake():
    v = lambda t: t.view(-1, 1, 1, 1)
    with pytest.raises(ExerciseError, match="runs the wrong way"):
        checks.check_interpolate(lambda x0, e, t: v(t) * x0 + (1 - v(t)) * e)
    with pytest.raises(ExerciseError, match="image width"):
        checks.check_interpolate(lambda x0, e, t: (1 - t) * x0 + t * e)

    def loss(target, draw_eps_first=False):
        def fn(model, x0, context, generator):
            if draw_eps_first:
                e = torch.randn(x0.shape, generator=generator)
            t = torch.rand(x0.shape[0], generator=generator)
            if not draw_eps_first:
                e = torch.randn(x0.shape, generator=generator)
            x_t = (1 - v(t)) * x0 + v(t) * e
            return F.mse_loss(model(x_t, t, context), target(x0, e))
        return fn
    checks.check_flow_loss(loss(lambda x0, e: e - x0))
    with pytest.raises(ExerciseError, match="sign is flipped"):
        checks.check_flow_loss(loss(lambda x0, e: x0 - e))
    with pytest.raises(ExerciseError, match="DDPM's habit"):
        checks.check_flow_loss(loss(lambda x0, e: e))
    with pytest.raises(ExerciseError, match="draw t first"):
        checks.check_flow_loss(loss(lambda x0, e: e - x0, draw_eps_first=True))

    def euler(sign=1.0, calls_at_end=False):
        def fn(model, x_T, context, steps):
            x = x_T.clone()
            for i in range(steps, 0, -1):
                t = (i - 1) / steps if calls_at_end else i / steps
                x = x - sign * model(x, torch.full((x.shape[0],), t), context) / steps
            return x
        return fn
    checks.check_euler_sample(euler())
    with pytest.raises(ExerciseError, match="wrong way"):
        checks.check_euler_sample(euler(sign=-1.0))
    with pytest.raises(ExerciseError, match="at its start t"):
        checks.check_euler_sample(euler(calls_at_end=True))
    with pytest.raises(ExerciseError, match="not implemented yet"):
        checks.check_euler_sample(lambda *a: (_ for _ in ()).throw(NotImplementedError()))


def test_pictures_reject_bad_input_and_draw():
    import matplotlib.pyplot as plt

    from dlhelpers.notebook import flow_pictures as pics
    from dlhelpers.schedules import NoiseSchedule

    with pytest.raises(TypeError, match="schedule"):
        pics.plot_paths(FlowPath())
    with pytest.raises(ValueError, match="frames"):
        pics.bend(torch.zeros(1, 2, 3, 4, 4))
    with pytest.raises(TypeError, match="trajectories"):
        pics.plot_bends({})
    with pytest.raises(ValueError, match="fd_se"):
        pics.plot_calls_sweep({"a": [1, 2]}, {"a": [0.5, 0.6]}, {"a": [3.0, 2.0]}, {"a": [0.1]})
    with pytest.raises(ValueError, match="accuracy"):
        pics.plot_calls_sweep({"a": [1]}, {"b": [0.5]}, {"a": [3.0]}, {"a": [0.1]})
    assert len(pics.plot_paths(NoiseSchedule.linear(50)).axes) == 2
    line = torch.linspace(0, 1, 6).view(6, 1, 1, 1, 1) * torch.ones(6, 2, 3, 4, 4)   # two straight trajectories
    along, off = pics.bend(line)
    torch.testing.assert_close(along[:, 0], torch.linspace(0, 1, 6))
    assert off.abs().max() < 1e-6
    a, arc = torch.linspace(0, 1.5, 8), torch.zeros(8, 1, 2, 4, 4)                    # one trajectory on a circle
    arc[:, 0, 0], arc[:, 0, 1] = a.cos().view(8, 1, 1), a.sin().view(8, 1, 1)
    assert pics.bend(arc)[1].max() > 0.1                                              # a bent path leaves the chord
    assert len(pics.plot_bends({"line": line, "arc": arc}, n=2).axes) == 2
    fig = pics.plot_calls_sweep({"a": [1, 3]}, {"a": [0.5, 0.6]}, {"a": [3.0, 2.0]}, {"a": [0.2, 0.1]}, fd_floor=0.5)
    assert len(fig.axes) == 2
    plt.close("all")


# -------------------------------------------------------------------------- the prose against the stored outputs
def _cells():
    return nbformat.read(str(NOTEBOOK), as_version=4).cells


def test_the_prose_quotes_the_stored_measurements():
    """Every decimal number in the markdown right after a measurement cell (the sweep, the straightness) is printed
    in that cell's stored output: the prose says what the notebook measured."""
    cells = _cells()
    for marker in ("meter = FDMeter(", "straight = {name: straightness", "within_class_variety(s,",
                   "straightness, 25 steps (section 4)"):
        missing = prose_numbers_not_printed(cells, marker)
        assert not missing, f"numbers in the prose after {marker!r} not in its output: {missing}"
