"""The sampler registry: every sampler of the package, the path it walks, the options it takes, what it costs.

The CLI (``python -m dlhelpers sample``), the benchmark, gpu-check and the tests iterate ``SAMPLERS`` instead of
naming samplers in strings of their own; ``sample(name, ...)`` checks every option once, through one shared
table (``OPTIONS``), and refuses an option the sampler would ignore. A new sampler is its module plus one line
here.

- ``ddpm``: Ho et al. 2020, Algorithm 2 (``dlhelpers.ddpm``), all T steps.
- ``ddim``: Song et al. 2021, eq. (12) (``dlhelpers.ddim``).
- ``dpm-solver``: Lu et al. 2022, DPM-Solver++(2M) (``dlhelpers.dpm_solver``).
- ``flow-euler``, ``flow-heun``: the flow-matching ODE, Euler and Heun (``dlhelpers.flow``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .ddim import sample_ddim
from .ddpm import sample_ddpm
from .dpm_solver import sample_dpm_solver
from .flow import sample_flow_euler, sample_flow_heun
from .validation import check_positive_int, check_real


@dataclass(frozen=True)
class Sampler:
    """One sampler: its function, the path it walks, its own options and its network calls per run."""

    fn: Callable                   # fn(model, n_samples, schedule, **options, context=…, generator=…, …)
    path: str                      # "ddpm" (a NoiseSchedule) or "flow" (a FlowPath): ``dlhelpers.spec``
    options: tuple                 # the keyword options it uses besides the common ones (keys of OPTIONS)
    calls: Callable                # calls(steps, T=500) → network calls per sample (guidance doubles the batch,
    #                                not the calls); T: the schedule's length, for DDPM's all-T-steps sampler
    default_steps: int | None = None


SAMPLERS = {
    "ddpm": Sampler(sample_ddpm, "ddpm", (), lambda steps, T=500: T),
    "ddim": Sampler(sample_ddim, "ddpm", ("steps", "eta"), lambda steps, T=500: steps, 25),
    "dpm-solver": Sampler(sample_dpm_solver, "ddpm", ("steps",), lambda steps, T=500: steps, 20),
    "flow-euler": Sampler(sample_flow_euler, "flow", ("steps",), lambda steps, T=500: steps, 10),
    "flow-heun": Sampler(sample_flow_heun, "flow", ("steps",), lambda steps, T=500: 2 * steps - 1, 5),
}

# every numeric option, checked once for every sampler: finite and in range, the message naming it
OPTIONS = {
    "steps": lambda v: check_positive_int(v, "steps"),
    "eta": lambda v: check_real(v, "eta", low=0.0, high=1.0),
    "guidance_scale": lambda v: check_real(v, "guidance_scale", low=0.0),
}
COMMON = ("guidance_scale",)   # options every sampler takes


def samplers_for(path: str) -> list[str]:
    """The names of the samplers that walk ``path`` ("ddpm" or "flow")."""
    return [name for name, s in SAMPLERS.items() if s.path == path]


def get(name: str) -> Sampler:
    if not isinstance(name, str):
        raise TypeError(f"name must be a sampler name (a string), got {type(name).__name__}")
    if name not in SAMPLERS:
        raise ValueError(f"name must be one of {sorted(SAMPLERS)}, got {name!r}")
    return SAMPLERS[name]


def check_options(name: str, options: dict) -> dict:
    """``options`` checked for sampler ``name``: each in range, and none that the sampler ignores."""
    sampler = get(name)
    out = {}
    for key, value in options.items():
        if key not in sampler.options + COMMON:
            takes = ", ".join(sampler.options + COMMON)
            raise ValueError(f"{key} is not an option of the {name} sampler (it takes {takes}); leave it out")
        out[key] = OPTIONS[key](value)
    return out


def sample(name: str, model, n_samples: int, schedule, **kwargs):
    """Run sampler ``name``. Its own options (``steps``, ``eta``) and ``guidance_scale`` are checked by
    ``check_options``; anything else (``context``, ``generator``, ``x_T``, ``progress``, ``save_every``,
    ``precision``) goes to the sampler as it is."""
    own = {k: kwargs.pop(k) for k in list(kwargs) if k in OPTIONS}
    return get(name).fn(model, n_samples, schedule, **check_options(name, own), **kwargs)
