"""The run spec (``dlhelpers.spec``): what path a checkpoint was trained on and what its network predicts — kept in
the manifest, read back by ``load_pretrained``, and enforced by the samplers."""
import json
import re

import pytest
import torch

from dlhelpers import pretrained, samplers
from dlhelpers.ddim import sample_ddim
from dlhelpers.flow import FlowPath, sample_flow_euler, sample_flow_heun
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.path import GaussianPath
from dlhelpers.predictions import PREDICTIONS, training_target
from dlhelpers.spec import ALLOWED, DEFAULT_SCHEDULE, RunSpec
from dlhelpers.unet import ContextUnet
from support import corner_squares

FLOW = RunSpec("flow", "velocity", {})
TINY_NET = dict(in_channels=3, n_feat=16, n_cfeat=5, height=16)


def _starts_with(message: str, name: str) -> bool:
    return re.match(rf"{re.escape(name)}(?![\w.])", message) is not None


# ------------------------------------------------------------------------------------------------ the record
@pytest.mark.parametrize("spec", [RunSpec(), FLOW,
                                  RunSpec("ddpm", "eps", dict(timesteps=50, beta_start=1e-3, beta_end=0.05)),
                                  RunSpec("flow", "velocity", {"t_sampling": "logit-normal"})],
                         ids=["default", "flow", "ddpm-50", "flow-logit-normal"])
def test_round_trip_through_a_dict_and_json(spec):
    d = spec.to_dict()
    assert set(d) == {"path", "prediction", "schedule"}
    assert RunSpec.from_dict(d) == spec
    assert RunSpec.from_dict(json.loads(json.dumps(d))) == spec       # what the manifest stores
    d["schedule"]["timesteps"] = 7                                    # a copy: the spec itself is unchanged
    assert spec.to_dict()["schedule"].get("timesteps") != 7


def test_the_default_is_the_course_ddpm_run():
    assert RunSpec().to_dict() == {"path": "ddpm", "prediction": "eps", "schedule": DEFAULT_SCHEDULE}
    built, course = RunSpec().build(), NoiseSchedule.linear(500, 1e-4, 0.02)
    assert isinstance(built, NoiseSchedule) and built.prediction == "eps"
    torch.testing.assert_close(built.alpha_bar, course.alpha_bar, rtol=0, atol=0)


@pytest.mark.parametrize("path", sorted(ALLOWED))
def test_every_allowed_pair_builds_a_path_whose_spec_is_the_same(path):
    for prediction in ALLOWED[path]:
        assert prediction in PREDICTIONS
        spec = RunSpec(path, prediction)                   # the path's default schedule
        built = spec.build()
        assert isinstance(built, GaussianPath)
        assert built.prediction == prediction
        assert (built.PATH, built.prediction) == (path, prediction)   # the path names itself, as check_path reads


def test_a_flow_spec_builds_its_t_sampling():
    assert FLOW.build().t_sampling == "uniform"
    assert RunSpec("flow", "velocity", {"t_sampling": "logit-normal"}).build().t_sampling == "logit-normal"


INVALID = {
    "flow predicting eps": (lambda: RunSpec("flow", "eps", {}), ValueError, "prediction"),
    "ddpm predicting velocity": (lambda: RunSpec("ddpm", "velocity"), ValueError, "prediction"),
    "unknown prediction": (lambda: RunSpec("ddpm", "x0"), ValueError, "prediction"),
    "unknown path": (lambda: RunSpec("score", "eps"), ValueError, "path"),
    "flow with a schedule": (lambda: RunSpec("flow", "velocity", dict(timesteps=500)), ValueError, "schedule"),
    "flow t_sampling unknown": (lambda: RunSpec("flow", "velocity", {"t_sampling": "cosine"}), ValueError,
                                "t_sampling"),
    "schedule not a dict": (lambda: RunSpec("ddpm", "eps", [500, 1e-4, 0.02]), TypeError, "schedule"),
    "from_dict extra key": (lambda: RunSpec.from_dict({**FLOW.to_dict(), "shift": 3.0}), ValueError, "spec"),
    "from_dict not a dict": (lambda: RunSpec.from_dict("flow"), ValueError, "spec"),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_spec_is_refused_naming_the_argument(name):
    fn, exc, needle = INVALID[name]
    with pytest.raises(exc) as info:
        fn()
    assert _starts_with(str(info.value), needle), f"message does not start with {needle!r}: {info.value}"


# ------------------------------------------------------------------------------------------------ predictions
def test_velocity_target_and_its_inverse_on_the_straight_path():
    """u = ε − x₀; from (u, x_t) back to x̂₀ = x_t − t·u and ε̂ = x_t + (1 − t)·u: exactly (x₀, ε)."""
    g = torch.Generator().manual_seed(0)
    x0, eps, t = torch.randn(4, 3, 8, 8, generator=g), torch.randn(4, 3, 8, 8, generator=g), torch.rand(4, generator=g)
    path = FlowPath()
    a, s = path.coefficients(t, x0.shape)
    torch.testing.assert_close(a, (1 - t).view(-1, 1, 1, 1), rtol=0, atol=0)
    torch.testing.assert_close(s, t.view(-1, 1, 1, 1), rtol=0, atol=0)
    u = training_target(path, x0, eps, a, s)
    torch.testing.assert_close(u, eps - x0, rtol=0, atol=0)
    x0_hat, eps_hat = PREDICTIONS[path.prediction].split(u, path.add_noise(x0, t, eps), a, s)
    torch.testing.assert_close(x0_hat, x0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(eps_hat, eps, rtol=1e-5, atol=1e-5)


def test_eps_target_and_its_inverse_on_the_ddpm_path():
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(3, 3, 8, 8, generator=g), torch.randn(3, 3, 8, 8, generator=g)
    sch, t = NoiseSchedule.linear(500), torch.tensor([1, 250, 500])
    a, s = sch.coefficients(t, x0.shape)
    assert training_target(sch, x0, eps, a, s) is eps
    x0_hat, eps_hat = PREDICTIONS[sch.prediction].split(eps, sch.add_noise(x0, t, eps), a, s)
    torch.testing.assert_close(x0_hat, x0, rtol=1e-3, atol=1e-3)       # ÷ √ᾱ_500 ≈ 0.08 amplifies rounding
    torch.testing.assert_close(eps_hat, eps, rtol=0, atol=0)


# ------------------------------------------------------------------------------------------------ save and load
def _squares(n=64):
    return corner_squares(n)


def test_a_trained_preset_records_its_spec_and_loads_on_its_path(tmp_path):
    """train_preset("tiny") (DDPM, ε) writes the spec into the manifest; load_pretrained returns its schedule and a
    model carrying run_spec, which the flow samplers then refuse."""
    manifest = pretrained.train_preset("tiny", _squares(), {"device": "cpu"}, out=tmp_path, steps=12, precision="fp32",
                                       progress=False, log=lambda *a: None)
    tiny = RunSpec("ddpm", "eps", dict(timesteps=500, beta_start=1e-4, beta_end=0.02))
    assert manifest["spec"] == tiny.to_dict()
    assert json.loads((tmp_path / "manifest.json").read_text())["spec"] == tiny.to_dict()
    assert set(manifest["files"]) == {"step_00010", "final", "final_raw"}
    model, schedule = pretrained.load_pretrained("final", weights_dir=tmp_path)
    assert isinstance(schedule, NoiseSchedule) and schedule.timesteps == 500 and schedule.prediction == "eps"
    assert model.run_spec == tiny
    res = sample_ddim(model, 2, schedule, steps=2, progress=False, precision="fp32")
    assert torch.isfinite(res.samples).all()
    with pytest.raises(ValueError, match="^path is a 'flow' path"):    # the flow samplers' argument is path
        sample_flow_euler(model, 2, FlowPath(), steps=2, progress=False)


@pytest.fixture
def flow_weights(tmp_path):
    """A tiny flow checkpoint as train_preset would write it: fp16 weights and a manifest whose spec is flow."""
    torch.manual_seed(1)
    net = ContextUnet(**TINY_NET).eval()
    sha = pretrained.export_state(net.state_dict(), tmp_path / "final.pt")
    pretrained.write_manifest({"spec": FLOW.to_dict(), "model": TINY_NET, "schedule": {},
                               "files": {"final": {"file": "final.pt", "sha256": sha, "step": 0}}}, tmp_path)
    return tmp_path, net


def test_a_flow_checkpoint_loads_as_a_flow_path(flow_weights):
    folder, net = flow_weights
    model, path = pretrained.load_pretrained("final", weights_dir=folder)
    assert isinstance(path, FlowPath) and path.prediction == "velocity"
    assert model.run_spec == FLOW and not model.training
    net.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in net.state_dict().items()})
    x, t = torch.randn(2, 3, 16, 16), torch.rand(2)
    torch.testing.assert_close(model(x, t), net(x, t), rtol=1e-5, atol=1e-5)   # the same (fp16-rounded) network
    for sampler in (sample_flow_euler, sample_flow_heun):
        assert torch.isfinite(sampler(model, 2, path, steps=2, progress=False, precision="fp32").samples).all()


def test_a_flow_model_is_refused_by_the_ddpm_samplers(flow_weights):
    model, _ = pretrained.load_pretrained("final", weights_dir=flow_weights[0])
    for name in samplers.samplers_for("ddpm"):
        with pytest.raises(ValueError) as info:
            samplers.sample(name, model, 2, NoiseSchedule.linear(500), progress=False)
        assert _starts_with(str(info.value), "path") and "'flow'" in str(info.value), info.value   # the registry's
    with pytest.raises(ValueError, match="^schedule"):
        sample_ddim(model, 2, NoiseSchedule.linear(500), progress=False)


def test_a_manifest_without_a_spec_is_a_ddpm_eps_run(flow_weights):
    """Weights written before the spec existed: their schedule (in the course's names beta1, beta2, as manifests of
    that time wrote it), ε-prediction."""
    folder, _ = flow_weights
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["spec"]
    manifest["schedule"] = dict(timesteps=50, beta1=1e-4, beta2=0.02)
    pretrained.write_manifest(manifest, folder)
    model, schedule = pretrained.load_pretrained("final", weights_dir=folder)
    assert model.run_spec == RunSpec("ddpm", "eps", dict(timesteps=50, beta_start=1e-4, beta_end=0.02))
    assert isinstance(schedule, NoiseSchedule) and schedule.prediction == "eps"
    torch.testing.assert_close(schedule.alpha_bar, NoiseSchedule.linear(50, 1e-4, 0.02).alpha_bar, rtol=0, atol=0)


def test_a_manifest_with_an_invalid_spec_is_refused(flow_weights):
    folder, _ = flow_weights
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["spec"]["prediction"] = "eps"
    pretrained.write_manifest(manifest, folder)
    with pytest.raises(ValueError, match="^prediction"):
        pretrained.load_pretrained("final", weights_dir=folder)
