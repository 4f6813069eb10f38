"""A training run the student watches: their own train step, repeated for about five minutes, in one live output.

The loop is Algorithm 1 of Ho et al. (DDPM, 2020, arXiv:2006.11239): a random batch, one step of the student's
``my_train_step`` (notebook 3: context dropout, the loss of eq. 14, backward, Adam), repeated. Its size and
schedule are the student preset's (``dlhelpers.training.PRESETS["student"]``: ``ContextUnet(n_feat=32)``, Adam at
3e-3 with 200 warm-up steps, then a linear decay to 0) with batches of 100 (the preset's are 50 since trials
S14–S16; the notebook's numbers, trials S7–S9, were measured with 100), on the ε-objective the student wrote (the
preset itself trains flow matching: trials S7–S16 of data/student_trials.md). The decay runs
on progress = max(step / steps, elapsed / time budget): a slow laptop ends on time with fewer steps, a GPU ends
at ``steps``.

One output area (an IPython display updated in place): a progress bar with the time left, the loss curve, and a
row of sprites sampled from the current weights (DDIM-25 at η = 1, Song et al. 2020, arXiv:2010.02502; Euler-25 for
a flow model, ``dlhelpers.flow``; from the same noise each time) every ``redraw_seconds``. Interrupting the kernel
ends the loop cleanly; the weights trained so far stay in the model, so the next cells sample from them.
"""
from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field

import torch

from dlhelpers.devices import model_device
from dlhelpers.notebook.i18n import fmt, tr
from dlhelpers.precision import autocast, prepare_model, to_memory_format
from dlhelpers.training import make_optimizer
from dlhelpers.validation import check_generator, check_image_batch, check_positive_int, check_precision, check_real


@dataclass(frozen=True)
class LiveSettings:
    """The live run's recipe: the student preset's size and schedule, for at most 5 minutes."""

    steps: int = 3500             # a cap for fast machines; on 2 cores the 5 minutes end first (2,167–2,376 steps)
    minutes: float = 5.0          # the time budget: the run ends at `steps` or here, whichever comes first
    batch_size: int = 100         # the course's batch (trials S7–S9, which notebook 3 cites, used it)
    lr: float = 3e-3              # Adam's peak: the student preset's (higher than the course's 2e-3: a smaller net)
    warmup_steps: int = 200       # linear warm-up: Adam's first steps are large
    p_uncond: float = 0.1         # context dropout, as the shipped weights: notebook 4's guidance needs it
    redraw_seconds: float = 30.0  # how often the sprite row is sampled again (each redraw costs ~25 network calls)
    precision: str = "auto"       # bf16 autocast where the CPU/GPU runs it natively: ~1.6× faster per step here

    def validate(self) -> "LiveSettings":
        check_positive_int(self.steps, "steps")
        check_real(self.minutes, "minutes", low=0.0, open_interval=True)
        check_positive_int(self.batch_size, "batch_size")
        check_real(self.lr, "lr", low=0.0, open_interval=True)
        check_positive_int(self.warmup_steps, "warmup_steps", low=0)
        check_real(self.p_uncond, "p_uncond", low=0.0, high=1.0)
        check_real(self.redraw_seconds, "redraw_seconds", low=0.0)
        check_precision(self.precision)
        return self


@dataclass
class LiveRun:
    steps: int = 0                                       # optimizer steps done
    losses: list = field(default_factory=list)           # each step's loss, as the train step returned it
    seconds: float = 0.0                                 # wall time of the whole run, redraws included
    ended_by: str = "steps"                              # "steps", "time" or "interrupt"


def live_lr(step: int, elapsed: float, s: LiveSettings) -> float:
    """The learning rate for step ``step`` (0-based) after ``elapsed`` seconds: warm-up, then linear decay on
    progress = max(share of steps, share of the time budget)."""
    if step < s.warmup_steps:
        return s.lr * (step + 1) / s.warmup_steps
    by_steps = (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps)
    return s.lr * max(0.0, 1.0 - max(by_steps, elapsed / (s.minutes * 60)))


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
    B, N = min(s.batch_size, images.shape[0]), images.shape[0]
    prepare_model(model, device)                     # channels-last where oneDNN prefers it (the fast path of train())
    optimizer = make_optimizer(model.parameters(), s.lr, device)     # Adam, its fused kernel where PyTorch has one
    live = _View(s, view, _preview(model, schedule, contexts.shape[1], preview_seed, s.precision))
    run, start = LiveRun(), time.perf_counter()
    last_draw = last_text = start
    model.train()
    try:
        while run.steps < s.steps:
            elapsed = time.perf_counter() - start
            if elapsed >= s.minutes * 60:
                run.ended_by = "time"
                break
            for group in optimizer.param_groups:
                group["lr"] = live_lr(run.steps, elapsed, s)
            idx = torch.randint(0, N, (B,), generator=generator, device=device)          # (B,) a random batch
            with autocast(s.precision, device, training=True):
                loss = train_step(model, optimizer, to_memory_format(images[idx]), contexts[idx], schedule, generator,
                                  s.p_uncond)
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


def _preview(model, schedule, n_cfeat: int, seed: int, precision: str):
    """A function drawing 2 sprites per class from the current weights, from the same noise every time: DDIM-25 on
    DDPM's path, Euler-25 on the flow path (``dlhelpers.flow``)."""
    from dlhelpers.ddim import sample_ddim
    from dlhelpers.flow import sample_flow_euler
    device = model_device(model)
    labels = torch.arange(n_cfeat).repeat(2)                                             # (2K,)
    ctx = torch.nn.functional.one_hot(labels, n_cfeat).float().to(device)                # (2K, K)
    flow = getattr(schedule, "PATH", "ddpm") == "flow"

    def draw():
        g = torch.Generator(device=device).manual_seed(seed)
        x_T = torch.randn(len(labels), 3, 16, 16, generator=g, device=device)           # (2K, 3, 16, 16)
        common = dict(context=ctx, x_T=x_T, generator=g, progress=False, precision=precision)
        out = (sample_flow_euler(model, len(labels), schedule, steps=25, **common) if flow else
               sample_ddim(model, len(labels), schedule, steps=25, eta=1.0, **common))
        return out.samples.float().cpu()
    draw.sampler = "Euler-25" if flow else "DDIM-25"
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
                left = min(left, (s.steps - run.steps) * rate)
            line = fmt("step {0:,} of {1:,} · {2} · about {3} left{4}", run.steps, s.steps, _minutes(elapsed),
                       _minutes(max(0.0, left)), loss)
        elif state == "interrupted":
            line = fmt("interrupted at step {0:,} after {1}; the weights so far are kept{2}", run.steps,
                       _minutes(elapsed), loss)
        else:
            line = fmt("done: {0:,} steps in {1}{2}", run.steps, _minutes(elapsed), loss)
        html = (f'<div class="dlhelpers-live-training" data-step="{run.steps}" data-state="{state}">'
                f'<progress value="{run.steps}" max="{s.steps}" style="width: 40em"></progress> '
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
        a1.set(xlim=(0, self.s.steps), yscale="log", xlabel=tr("step"), ylabel=tr("loss (MSE)"),
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
