"""The sampler registry: every sampler of the package, the path it walks, the options it takes, what it costs.

The CLI (``python -m dlhelpers sample``), the benchmark, gpu-check and the tests iterate ``SAMPLERS`` instead of
naming samplers in strings of their own. A sampler is a ``dlhelpers.sampling.Sampler``: a time grid and a step,
run by the one loop (``sampling.sample_loop``); ``sample(name, ...)`` checks every option once, through one shared
table (``sampling.OPTIONS``), and refuses an option the sampler would ignore. A new sampler is its step function,
its ``Sampler`` record and one line here.

- ``ddpm``: Ho et al. 2020, Algorithm 2 (``dlhelpers.ddpm``), all T steps.
- ``ddim``: Song et al. 2021, eq. (12) (``dlhelpers.ddim``).
- ``dpm-solver``: Lu et al. 2022, DPM-Solver++(2M) (``dlhelpers.dpm_solver``).
- ``flow-euler``, ``flow-heun``: the flow-matching ODE, Euler and Heun (``dlhelpers.flow``).
"""
from __future__ import annotations

from .ddim import DDIM
from .ddpm import DDPM
from .dpm_solver import DPM_SOLVER
from .flow import FLOW_EULER, FLOW_HEUN
from .sampling import COMMON, OPTIONS, Sampler, SampleResult

__all__ = ["SAMPLERS", "COMMON", "OPTIONS", "Sampler", "samplers_for", "get", "check_options", "sample"]

SAMPLERS = {s.name: s for s in (
    DDPM,
    DDIM,
    DPM_SOLVER,
    FLOW_EULER,
    FLOW_HEUN,
)}


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
    return get(name).check_options(options)


def sample(name: str, model, n_samples: int, path, **kwargs) -> SampleResult:
    """Run sampler ``name`` on ``path`` (a ``NoiseSchedule`` or a ``FlowPath``). Its own options (``steps``,
    ``eta``, ``extra_noise``) and ``guidance_scale`` are checked; anything else (``context``, ``generator``,
    ``x_T``, ``progress``, ``save_every`` (None: no frames), ``precision``, ``callback``) goes to the loop."""
    return get(name).run(model, n_samples, path, **kwargs)
