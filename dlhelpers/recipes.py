"""Training recipes: a named run (``Preset``) — the model, the path, the numbers of ``TrainConfig`` — and the presets.

A preset is the one way the package describes a training run. ``python -m dlhelpers train --preset NAME`` trains one
(``dlhelpers.pretrained.train_preset``); a trial of the recipe benchmark (``dlhelpers.tools.bench.recipes``) and
notebook 3's live run (``LIVE``) are presets changed with ``variant`` (``dataclasses.replace``), never a type of
their own. Beside each preset: why it holds what it holds, and the trial that decided it. The measurements (accuracy,
FD, seconds, the machine) are in the trial records (``reports/recipe_trials.md``, ``reports/student_trials.md``),
where they were made, not in comments that go stale.

The trainer (``dlhelpers.training``) never imports this module: it trains any ``TrainConfig``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .reflow import PairRecipe
from .spec import RunSpec
from .training import TrainConfig


@dataclass(frozen=True)
class Preset:
    """A named training run: the model, the run spec (path and prediction), the recipe, and which EMA snapshots
    to export."""

    model: dict                   # ContextUnet(**model): the width is the recipe's main trade of speed for quality
    spec: RunSpec                 # the path and what the network predicts; spec.build() is what train() takes
    config: TrainConfig           # the recipe's numbers: steps, batch, the lr schedule, EMA, loss weighting
    snapshots: tuple = ()         # steps whose EMA weights are exported as step_NNNNN.pt: notebook 3 samples them
    #                               to show what training does over time
    ship_raw: bool = True         # also export the last raw (non-EMA) weights as final_raw.pt: the benchmark's row
    #                               that shows what the EMA adds
    init: str | None = None       # a preset whose shipped final weights start the run (reflow starts from the first
    #                               flow, Lee et al. 2024), and with ``pairs`` its teacher; None: random weights
    pairs: PairRecipe | None = None   # train on pairs drawn by ``init``'s model (dlhelpers.reflow) instead of on
    #                                   the sprites; None: the sprites


def variant(preset: Preset, *, model: dict | None = None, spec: RunSpec | None = None, **config) -> Preset:
    """``preset`` with some of its ``TrainConfig`` fields changed (``config``), its model's arguments updated by
    ``model`` and, if given, another ``spec``: ``variant(PRESETS["course"], lr=1e-3, model=dict(n_feat=32))``."""
    return replace(preset, model={**preset.model, **(model or {})}, spec=spec if spec is not None else preset.spec,
                   config=replace(preset.config, **config))


UNET = dict(in_channels=3, n_feat=64, n_cfeat=5, height=16)       # the course's ContextUnet for 16×16 sprites
DDPM_EPS = RunSpec("ddpm", "eps", dict(timesteps=500, beta_start=1e-4, beta_end=0.02))   # the course's linear schedule

PRESETS = {
    # The shipped weights (data/weights; their manifest records the command, machine and wall time): trial C's
    # recipe, the best of trials A–D (reports/recipe_trials.md), with a longer warm-up, trained to full length.
    "course": Preset(model=UNET, spec=DDPM_EPS, config=TrainConfig(), snapshots=(250, 1000, 3000)),
    # Flow matching (notebook 6): the course's UNet and recipe on the straight path, predicting the velocity;
    # min-SNR-γ off: the flow trials (S4, S8–S16) measured the plain velocity loss. Shipped in data/weights/flow.
    "flow": Preset(model=UNET, spec=RunSpec("flow", "velocity", {}), config=TrainConfig(min_snr_gamma=None),
                   ship_raw=False),
    # A model of your own in minutes on a laptop (issue 24): trial S15 (reports/student_trials.md). Flow matching
    # beat the ε-objective in the same minutes (S4 against S1–S6), logit-normal t beat uniform t (S9 against S8);
    # half the width for more steps per minute, so a higher peak lr (S1–S3); a 200-step EMA, short enough for a run
    # of a few thousand steps (S11); batches of 50, the one change clear of the noise at equal sprites seen (the
    # exploration noted with S14–S16). Not shipped.
    "student": Preset(model=dict(UNET, n_feat=32), spec=RunSpec("flow", "velocity", {"t_sampling": "logit-normal"}),
                      config=TrainConfig(steps=3300, batch_size=50, lr=3e-3, warmup_steps=200, ema_decay=0.995,
                                         min_snr_gamma=None),
                      ship_raw=False),
    # Reflow (issue 34; notebook 7): the first flow's own pairs (10,000, flow-Heun-5), its weights as the start, the
    # same velocity loss on each pair's own noise (reports/reflow_trials.md). From the trials: a lower peak lr with
    # no warm-up (the start is already trained: R0, R1); 2,000 pairs per class (R1); the ends of the path trained
    # more often, where one and two calls read the network (Lee et al. 2024's U shape); 4,000 steps, what fits the
    # 90-minute CPU budget with the pairs.
    "reflow": Preset(model=UNET, spec=RunSpec("flow", "velocity", {"t_sampling": "u-shaped"}),
                     config=TrainConfig(steps=4000, lr=2e-4, warmup_steps=0, ema_decay=0.995, min_snr_gamma=None),
                     ship_raw=False, init="flow", pairs=PairRecipe()),
    # A smoke-test size: seconds on a CPU, for tests and for trying the command.
    "tiny": Preset(model=dict(UNET, n_feat=16), spec=DDPM_EPS,
                   config=TrainConfig(steps=20, batch_size=32, warmup_steps=0, checkpoint_every=10), snapshots=(10,)),
}

# Notebook 3's live run (dlhelpers.notebook.live_training; trials S7–S9): the student preset's size and lr schedule,
# driven by the student's own step. Where it differs, and why: the ε-objective on the course's schedule (the step the
# student wrote; the preset trains flow matching); batches of 100 (S7–S9, which the notebook cites, were measured
# with them); no EMA (the live loop shows and keeps the raw weights); steps only a cap for fast machines (the
# notebook's time budget ends the run on a laptop).
LIVE = variant(PRESETS["student"], spec=DDPM_EPS, steps=3500, batch_size=100, ema_decay=None)
