"""The sampler registry (``dlhelpers.samplers``): every sampler runs, costs what the registry says, walks only its
own path, and refuses bad or ignored options with a message that names them — directly, through ``sample``, and
through the CLI."""
import inspect
import re

import pytest
import torch

from dlhelpers import samplers
from dlhelpers.ddim import sample_ddim
from dlhelpers.ddpm import sample_ddpm
from dlhelpers.dpm_solver import sample_dpm_solver
from dlhelpers.flow import sample_flow_euler, sample_flow_heun
from dlhelpers.samplers import COMMON, OPTIONS, SAMPLERS
from dlhelpers.path import ALLOWED
from dlhelpers.spec import RunSpec
from dlhelpers.tools.cli import main
from dlhelpers.unet import ContextUnet

# one path of each kind a spec names, as a spec builds it, and for each another kind (a new path needs no edit here)
PATHS = {name: RunSpec(name, predictions[0]).build() for name, predictions in ALLOWED.items()}
OTHER = {name: next(other for other in PATHS if other != name) for name in PATHS}
# the shipped samplers' functions of the same name (the notebooks call these): the registry's record run with its
# options. A new sampler needs none: the registry's route is tested for every sampler.
FUNCTIONS = {"ddpm": sample_ddpm, "ddim": sample_ddim, "dpm-solver": sample_dpm_solver,
             "flow-euler": sample_flow_euler, "flow-heun": sample_flow_heun}


def _starts_with(message: str, name: str) -> bool:
    return re.match(rf"{re.escape(name)}(?![\w.])", message) is not None


class Counting(torch.nn.Module):
    """A tiny ContextUnet that records the batch size of every forward call."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.inner = ContextUnet(3, 16, 5, 16)
        self.in_channels, self.h, self.n_cfeat = 3, 16, 5
        self.batches = []

    def forward(self, x, t, c=None):
        self.batches.append(x.shape[0])
        return self.inner(x, t, c)


def test_the_registry_lists_every_path_and_option():
    assert samplers.samplers_for("ddpm")[:3] == ["ddpm", "ddim", "dpm-solver"]    # the shipped ones, in order
    assert samplers.samplers_for("flow")[:2] == ["flow-euler", "flow-heun"]
    assert sorted(name for path in PATHS for name in samplers.samplers_for(path)) == sorted(SAMPLERS)
    assert set(OPTIONS) == {"steps", "eta", "guidance_scale", "extra_noise"} and COMMON == ("guidance_scale",)
    assert set(FUNCTIONS) <= set(SAMPLERS)
    for name, s in SAMPLERS.items():
        assert s.path in PATHS and s.name == name, name
        assert set(s.options) <= set(OPTIONS), name
        if name not in FUNCTIONS:
            continue
        params = inspect.signature(FUNCTIONS[name]).parameters
        assert all(option in params for option in s.options), name
        # default_steps is the function's own default, and only samplers with steps have one
        assert s.default_steps == (params["steps"].default if "steps" in s.options else None), name
        assert ("steps" in params) == ("steps" in s.options), name


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_runs_with_its_defaults_and_costs_what_the_registry_says(name):
    s, model = SAMPLERS[name], Counting()
    res = samplers.sample(name, model, 2, PATHS[s.path], generator=torch.Generator().manual_seed(0),
                          progress=False, precision="fp32", save_every=None)
    assert res.samples.shape == (2, 3, 16, 16) and torch.isfinite(res.samples).all() and res.frames is None
    assert len(model.batches) == s.calls(s.default_steps) and set(model.batches) == {2}
    if "steps" in s.options:
        # a few steps, with guidance: the same number of calls, each one batch of conditional + unconditional
        model.batches.clear()
        samplers.sample(name, model, 2, PATHS[s.path], steps=3, guidance_scale=2.0, context=torch.eye(5)[:2],
                        progress=False, precision="fp32")
        assert len(model.batches) == s.calls(3) and set(model.batches) == {4}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_refuses_the_other_paths_schedule(name):
    """A FlowPath given to a DDPM sampler, or a NoiseSchedule to a flow sampler: a TypeError naming the argument,
    ``schedule`` or ``path`` (not an AttributeError from inside the sampler)."""
    s = SAMPLERS[name]
    with pytest.raises(TypeError) as info:
        run = FUNCTIONS.get(name, lambda *a, **k: samplers.sample(name, *a, **k))
        run(Counting(), 2, PATHS[OTHER[s.path]], progress=False)
    # DDPM's sampler functions call it schedule; the registry's route and the flow functions, path
    assert _starts_with(str(info.value), "schedule" if s.path == "ddpm" and name in FUNCTIONS else "path"), info.value


INF, NAN = float("inf"), float("nan")
BAD = {   # value, exception
    "steps": [(0, ValueError), (-3, ValueError), (2.5, TypeError), (INF, TypeError), (NAN, TypeError),
              (True, TypeError)],
    "eta": [(1.5, ValueError), (-0.1, ValueError), (INF, ValueError), (-INF, ValueError), (NAN, ValueError)],
    "guidance_scale": [(-1.0, ValueError), (INF, ValueError), (-INF, ValueError), (NAN, ValueError)],
    "extra_noise": [(1, TypeError), ("no", TypeError), (None, TypeError)],
}
CASES = [(name, option, value, exc, route) for name, s in SAMPLERS.items() for option in s.options + COMMON
         for value, exc in BAD[option] for route in (("sample", "function") if name in FUNCTIONS else ("sample",))]


@pytest.mark.parametrize("name, option, value, exc, route", CASES,
                         ids=[f"{n}-{o}={v}-{r}" for n, o, v, _, r in CASES])
def test_every_option_refuses_bad_values_naming_itself(name, option, value, exc, route):
    s = SAMPLERS[name]
    call = samplers.sample if route == "sample" else (lambda _name, *a, **k: FUNCTIONS[_name](*a, **k))
    with pytest.raises(exc) as info:
        call(name, Counting(), 2, PATHS[s.path], progress=False, **{option: value})
    assert _starts_with(str(info.value), option), f"message does not start with {option!r}: {info.value}"


@pytest.mark.parametrize("name, option", [("dpm-solver", "eta"), ("flow-euler", "eta"), ("flow-heun", "eta"),
                                          ("ddpm", "eta"), ("ddpm", "steps")])
def test_check_options_refuses_an_option_the_sampler_ignores(name, option):
    with pytest.raises(ValueError) as info:
        samplers.check_options(name, {option: 1})
    message = str(info.value)
    assert _starts_with(message, option) and f"the {name} sampler" in message, message
    with pytest.raises(ValueError, match=f"^{option}"):
        samplers.sample(name, Counting(), 2, PATHS[SAMPLERS[name].path], progress=False, **{option: 1})


def test_check_options_returns_the_checked_values():
    assert samplers.check_options("ddim", {"steps": 3, "eta": 1, "guidance_scale": 0}) == \
        {"steps": 3, "eta": 1.0, "guidance_scale": 0.0}
    assert samplers.check_options("flow-heun", {}) == {}
    with pytest.raises(ValueError, match="^name"):
        samplers.get("euler")
    with pytest.raises(TypeError, match="^name"):
        samplers.get(3)


@pytest.mark.parametrize("argv, needle", [
    (["--sampler", "ddpm", "--steps", "3"], "steps is not an option of the ddpm sampler"),
    (["--sampler", "dpm-solver", "--eta", "0.5"], "eta is not an option of the dpm-solver sampler"),
    (["--sampler", "flow-heun", "--eta", "0"], "eta is not an option of the flow-heun sampler"),
    (["--sampler", "flow-euler", "--steps", "0"], "steps must be"),
    (["--sampler", "ddim", "--guidance", "inf"], "guidance_scale must be a finite number"),
    (["--sampler", "ddim", "--guidance", "nan"], "guidance_scale must not be NaN"),
    (["--sampler", "ddim", "--preset", "flow"], "--sampler ddim does not walk the path of the 'flow' weights"),
])
def test_the_cli_refuses_before_loading_any_weights(argv, needle, monkeypatch):
    from dlhelpers import pretrained
    monkeypatch.setattr(pretrained, "load_pretrained", lambda *a, **k: pytest.fail("loaded weights"))
    with pytest.raises(SystemExit) as info:
        main(["sample", *argv, "--quiet"])
    code = info.value.code
    assert isinstance(code, str) and code.startswith("error: ") and needle in code, code   # a str: exit status 1
