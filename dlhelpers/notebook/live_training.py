"""A training run the student watches: their own train step, repeated for about five minutes, in one live output.

The loop is Algorithm 1 of Ho et al. (DDPM, 2020, arXiv:2006.11239): a random batch, one step of the student's
``my_train_step`` (notebook 3: context dropout, the loss of eq. 14, backward, Adam), repeated. Its recipe is a
preset, ``dlhelpers.recipes.LIVE``: the student preset's size and learning-rate schedule, changed where the live run
differs and why (trials S7–S9, reports/student_trials.md). ``LiveSettings`` adds only what a live run has: its time
budget and how often it redraws. The learning rate is the trainer's (``dlhelpers.training.lr_at``: warm-up, then a
linear decay to 0), with the time spent counted as steps done: a slow laptop ends on time with fewer steps, a GPU
ends at ``steps``.

One output area (an IPython display updated in place): a progress bar with the time left, the loss curve, and a
row of sprites sampled from the current weights (DDIM-25 at η = 1, Song et al. 2020, arXiv:2010.02502; Euler-25 for
a flow model, ``dlhelpers.flow``; from the same noise each time) every ``redraw_seconds``. Interrupting the kernel
ends the loop cleanly; the weights trained so far stay in the model, so the next cells sample from them.
"""
from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field, replace

import torch

from dlhelpers.devices import model_device
from dlhelpers.notebook.i18n import fmt, tr
from dlhelpers.precision import autocast, prepare_model, to_memory_format
from dlhelpers.recipes import LIVE
from dlhelpers.training import TrainConfig, lr_at, make_optimizer
from dlhelpers.validation import check_generator, check_image_batch, check_real


@dataclass(frozen=True, init=False)
class LiveSettings:
    """A live run: a recipe (``config``, default ``LIVE.config``) and what only a live run has. Keywords naming a
    ``TrainConfig`` field change that recipe: ``LiveSettings(steps=100, minutes=0.2, p_uncond=0.1)``. The loop uses
    the recipe's steps (a cap), batch_size, lr, warmup_steps, p_uncond and precision; it keeps no EMA."""

    config: TrainConfig           # the recipe's numbers (dlhelpers.recipes.LIVE: why each is what it is)
    minutes: float                # the time budget: the run ends at config.steps or here, whichever comes first
    redraw_seconds: float         # how often the sprite row is sampled again (each redraw costs 25 network calls)

    def __init__(self, *, config: TrainConfig | None = None, minutes: float = 5.0, redraw_seconds: float = 30.0,
                 **changes):
        object.__setattr__(self, "config", replace(LIVE.config if config is None else config, **changes))
        object.__setattr__(self, "minutes", minutes)
        object.__setattr__(self, "redraw_seconds", redraw_seconds)

    def validate(self) -> "LiveSettings":
        if not isinstance(self.config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(self.config).__name__}")
        self.config.validate()
        check_real(self.config.lr, "lr", low=0.0, open_interval=True)      # a run that cannot move is refused
        check_real(self.minutes, "minutes", low=0.0, open_interval=True)
        check_real(self.redraw_seconds, "redraw_seconds", low=0.0)
        return self


@dataclass
class LiveRun:
    steps: int = 0                                       # optimizer steps done
    losses: list = field(default_factory=list)           # each step's loss, as the train step returned it
    seconds: float = 0.0                                 # wall time of the whole run, redraws included
    ended_by: str = "steps"                              # "steps", "time" or "interrupt"


def live_lr(step: int, elapsed: float, s: LiveSettings) -> float:
    """The learning rate for step ``step`` (0-based) after ``elapsed`` seconds: the trainer's ``lr_at`` (warm-up,
    then linear decay), where after the warm-up the share of the time budget spent counts as the same share of the
    decay's steps done when it is further along: progress = max(share of steps, share of time)."""
    cfg = s.config
    if step >= cfg.warmup_steps:
        by_time = cfg.warmup_steps + elapsed / (s.minutes * 60) * max(1, cfg.steps - cfg.warmup_steps)
        step = max(step, by_time)
    return lr_at(step, cfg)


def train_live(train_step, model, images, contexts, schedule, generator: torch.Generator,
               settings: LiveSettings = LiveSettings(), view=None, preview_seed: int = 0) -> LiveRun:
    """Train ``model`` in place with ``train_step(model, optimizer, x0, context, schedule, generator, p_uncond)``
    (it returns the batch's loss as a float) on random batches of ``images`` (N, C, H, W) and one-hot ``contexts``
    (N, K), showing the live view. ``view``: an object with ``update(obj)`` (default: a new IPython display)."""
    if not callable(train_step):
        raise TypeError(f"train_step must be a function, got {type(train_step).__name__}")
    s = settings.validate() if isinstance(settings, LiveSettings) else None
    if s is None:
        raise TypeError(f"settings must be a LiveSettings, got {type(settings).__name__}")
    check_image_batch(images, "images")
    if not isinstance(contexts, torch.Tensor) or contexts.ndim != 2 or contexts.shape[0] != images.shape[0]:
        raise ValueError(f"contexts must be a (N, K) tensor with N = {images.shape[0]} (one row per image)")
    check_generator(generator)
    if generator is None:
        raise TypeError("generator must be a torch.Generator (every random draw takes one)")
    device = model_device(model)
    cfg = s.config
    B, N = min(cfg.batch_size, images.shape[0]), images.shape[0]
    prepare_model(model, device)                     # channels-last where oneDNN prefers it (the fast path of train())
    optimizer = make_optimizer(model.parameters(), cfg.lr, device)   # Adam, its fused kernel where PyTorch has one
    live = _View(s, view, _preview(model, schedule, contexts.shape[1], preview_seed, cfg.precision))
    run, start = LiveRun(), time.perf_counter()
    last_draw = last_text = start
    model.train()
    try:
        while run.steps < cfg.steps:
            elapsed = time.perf_counter() - start
            if elapsed >= s.minutes * 60:
                run.ended_by = "time"
                break
            for group in optimizer.param_groups:
                group["lr"] = live_lr(run.steps, elapsed, s)
            idx = torch.randint(0, N, (B,), generator=generator, device=device)          # (B,) a random batch
            with autocast(cfg.precision, device, training=True):
                loss = train_step(model, optimizer, to_memory_format(images[idx]), contexts[idx], schedule, generator,
                                  cfg.p_uncond)
            run.losses.append(float(loss))
            run.steps += 1
            now = time.perf_counter()
            if now - last_draw >= s.redraw_seconds:
                live.draw(run, now - start)
                last_draw = now
            elif now - last_text >= 1.0:
                live.text(run, now - start)
                last_text = now
    except KeyboardInterrupt:
        run.ended_by = "interrupt"
    finally:
        model.eval()
        run.seconds = time.perf_counter() - start
    live.draw(run, run.seconds, done=True)
    return run


# the preview's sampler on each path, through the registry (``dlhelpers.samplers``): 25 network calls either way
PREVIEW = {"ddpm": ("ddim", dict(steps=25, eta=1.0), "DDIM-25"), "flow": ("flow-euler", dict(steps=25), "Euler-25")}


def _preview(model, path, n_cfeat: int, seed: int, precision: str):
    """A function drawing 2 sprites per class from the current weights, from the same noise every time: DDIM-25 on
    DDPM's path, Euler-25 on the flow path (``dlhelpers.flow``)."""
    from dlhelpers import samplers
    device = model_device(model)
    labels = torch.arange(n_cfeat).repeat(2)                                             # (2K,)
    ctx = torch.nn.functional.one_hot(labels, n_cfeat).float().to(device)                # (2K, K)
    if path.PATH in PREVIEW:
        name, options, label = PREVIEW[path.PATH]
    else:                                         # another path: its first sampler in the registry, its defaults
        name = samplers.samplers_for(path.PATH)[0]
        options, label = {}, samplers.get(name).title()

    def draw():
        g = torch.Generator(device=device).manual_seed(seed)
        x_T = torch.randn(len(labels), 3, 16, 16, generator=g, device=device)           # (2K, 3, 16, 16)
        out = samplers.sample(name, model, len(labels), path, context=ctx, x_T=x_T, generator=g, progress=False,
                              precision=precision, save_every=None, **options)
        return out.samples.float().cpu()
    draw.sampler = label
    return draw


def _minutes(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return fmt("{0} min {1:02d} s", m, s) if m else fmt("{0} s", s)


class _View:
    """The one output area: HTML with a <progress> bar and its line of text over a PNG of loss curve and sprites."""

    def __init__(self, s: LiveSettings, view, preview):
        self.s, self.preview, self.png = s, preview, ""
        if view is None:
            from IPython.display import display
            view = display(_Bundle({"text/plain": tr("starting…")}), display_id=True)
        self.view = view
        self.png = self._picture(LiveRun(), torch.zeros(0))
        self.view.update(self._bundle(LiveRun(), 0.0, "running"))

    def text(self, run: LiveRun, elapsed: float) -> None:
        self.view.update(self._bundle(run, elapsed, "running"))

    def draw(self, run: LiveRun, elapsed: float, done: bool = False) -> None:
        self.png = self._picture(run, self.preview())
        self.view.update(self._bundle(run, elapsed, ("interrupted" if run.ended_by == "interrupt" else "done")
                                      if done else "running"))

    def _bundle(self, run: LiveRun, elapsed: float, state: str) -> "_Bundle":
        s = self.s
        recent = run.losses[-50:]
        loss = fmt(", loss {0:.3f} (mean of the last {1})", sum(recent) / len(recent), len(recent)) if recent else ""
        if state == "running":
            rate = elapsed / run.steps if run.steps else None
            left = s.minutes * 60 - elapsed
            if rate is not None:
                left = min(left, (s.config.steps - run.steps) * rate)
            line = fmt("step {0:,} of {1:,} · {2} · about {3} left{4}", run.steps, s.config.steps, _minutes(elapsed),
                       _minutes(max(0.0, left)), loss)
        elif state == "interrupted":
            line = fmt("interrupted at step {0:,} after {1}; the weights so far are kept{2}", run.steps,
                       _minutes(elapsed), loss)
        else:
            line = fmt("done: {0:,} steps in {1}{2}", run.steps, _minutes(elapsed), loss)
        html = (f'<div class="dlhelpers-live-training" data-step="{run.steps}" data-state="{state}">'
                f'<progress value="{run.steps}" max="{s.config.steps}" style="width: 40em"></progress> '
                f'<span>{line}</span><br><img src="data:image/png;base64,{self.png}"/></div>')
        return _Bundle({"text/html": html, "text/plain": line})

    def _picture(self, run: LiveRun, sprites: torch.Tensor) -> str:
        from matplotlib.figure import Figure
        from dlhelpers.notebook.viz import make_grid
        from dlhelpers.sprites import CLASS_NAMES
        fig = Figure(figsize=(10, 2.6), dpi=80)
        a1, a2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
        if run.losses:
            k = max(1, len(run.losses) // 200)                                           # ≤ 200 points on the curve
            n = len(run.losses) // k * k
            mean = torch.tensor(run.losses[:n]).view(-1, k).mean(1) if n else torch.tensor(run.losses)
            a1.plot(torch.arange(1, len(mean) + 1) * k, mean, lw=1)
        a1.set(xlim=(0, self.s.config.steps), yscale="log", xlabel=tr("step"), ylabel=tr("loss (MSE)"),
               title=tr("training loss"))
        if len(sprites):
            a2.imshow(make_grid(sprites, nrow=len(sprites) // 2), interpolation="nearest")
            a2.set_title(fmt("sampled at step {0:,} ({1})", run.steps, self.preview.sampler), fontsize=9)
            a2.set_xticks([(i + 0.5) * 17 for i in range(len(CLASS_NAMES))], CLASS_NAMES, fontsize=7)
            a2.set_yticks([])
        else:
            a2.set_axis_off()
            a2.text(0.5, 0.5, tr("sprites appear here at the first redraw"), ha="center", va="center")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return base64.b64encode(buf.getvalue()).decode("ascii")


class _Bundle:
    """What IPython displays: a fixed MIME bundle."""

    def __init__(self, data: dict):
        self.data = data

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.data
