"""The run spec: which path noises the data and what the network predicts — one record per checkpoint.

Every model in the course walks a Gaussian path x_t = a_t · x₀ + s_t · ε between data (x₀) and noise (ε):

- ``"ddpm"``: a_t = √ᾱ_t, s_t = √(1 − ᾱ_t) on a discrete schedule t = 0…T (Ho et al. 2020, arXiv:2006.11239,
  eq. 4) — ``dlhelpers.schedules.NoiseSchedule``;
- ``"flow"``: a_t = 1 − t, s_t = t for t ∈ [0, 1], the straight path of flow matching / rectified flow (Lipman et
  al. 2023, arXiv:2210.02747; Liu et al. 2023, arXiv:2209.03003) — ``dlhelpers.flow.FlowPath``.

Both satisfy ``GaussianPath`` (``dlhelpers.path``): everything ``train`` and the sampling loop ask of a path. A new
path (say EDM's σ) is one class that satisfies it, its line in ``ALLOWED`` and its line in ``RunSpec.build``.

What the network outputs is a ``Prediction`` (``dlhelpers.predictions``): ``"eps"`` (DDPM's ε) or
``"velocity"`` (flow matching's u = ε − x₀). Adding v-prediction (Salimans & Ho 2022, arXiv:2202.00512:
v = a_t ε − s_t x₀) is one entry in ``PREDICTIONS`` (target, way back, loss weight) and its name in ``ALLOWED``.

A spec is stored in the weights' manifest (``dlhelpers.pretrained``) and read back by ``load_pretrained``, so a
checkpoint always samples on the path it was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .path import ALLOWED, GaussianPath, check_prediction

__all__ = ["ALLOWED", "DEFAULT_SCHEDULE", "GaussianPath", "RunSpec", "check_prediction"]


DEFAULT_SCHEDULE = dict(timesteps=500, beta_start=1e-4, beta_end=0.02)
SHAPES = ("linear", "cosine")   # "shape" in a DDPM schedule: NoiseSchedule.linear (the default) or .cosine
LEGACY_KEYS = {"beta1": "beta_start", "beta2": "beta_end"}   # the course's names, in manifests written before


@dataclass(frozen=True)
class RunSpec:
    """A training run's objective. ``build()`` gives the path object that ``train`` and the samplers take."""

    path: str = "ddpm"          # "ddpm" (NoiseSchedule) or "flow" (FlowPath): how x_t is made from x₀ and ε
    prediction: str = "eps"     # a key of PREDICTIONS: what the network outputs, hence the loss's target
    schedule: dict | None = None  # NoiseSchedule.linear(**schedule), or .cosine with "shape": "cosine"; None: the
    #                               course's (DEFAULT_SCHEDULE) on
    #                               "ddpm", {} on "flow" (FlowPath(**schedule): only its t_sampling)

    def __post_init__(self):
        if self.schedule is None:
            object.__setattr__(self, "schedule", dict(DEFAULT_SCHEDULE) if self.path == "ddpm" else {})
        if self.path not in ALLOWED:
            raise ValueError(f"path must be one of {sorted(ALLOWED)}, got {self.path!r}")
        check_prediction(self.path, self.prediction)
        if not isinstance(self.schedule, dict):
            raise TypeError(f"schedule must be a dict of NoiseSchedule.linear's arguments, got "
                            f"{type(self.schedule).__name__}")
        object.__setattr__(self, "schedule", {LEGACY_KEYS.get(k, k): v for k, v in self.schedule.items()})
        if self.path == "flow" and set(self.schedule) - {"t_sampling"}:
            raise ValueError(f"schedule may hold only t_sampling on the 'flow' path (t ∈ [0, 1] has no β), got "
                             f"{self.schedule}")
        if self.path == "ddpm" and self.schedule.get("shape", "linear") not in SHAPES:
            raise ValueError(f"schedule's shape must be one of {SHAPES}, got {self.schedule['shape']!r}")
        if self.path == "flow":
            self.build()                  # FlowPath checks its t_sampling

    def build(self):
        """The path object: a ``NoiseSchedule`` (with this prediction) or a ``FlowPath``."""
        if self.path == "flow":
            from .flow import FlowPath
            return FlowPath(prediction=self.prediction, **self.schedule)
        from .schedules import NoiseSchedule
        schedule = dict(self.schedule)
        make = NoiseSchedule.cosine if schedule.pop("shape", "linear") == "cosine" else NoiseSchedule.linear
        return replace(make(**schedule), prediction=self.prediction)

    def to_dict(self) -> dict:
        return {"path": self.path, "prediction": self.prediction, "schedule": dict(self.schedule)}

    @classmethod
    def from_dict(cls, d) -> "RunSpec":
        if not isinstance(d, dict) or set(d) - {"path", "prediction", "schedule"}:
            raise ValueError(f"spec must be a dict with keys path, prediction, schedule; got {d!r}")
        return cls(**d)
