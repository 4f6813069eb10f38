"""Notebook 7's measurements: what the pairs cost and how far they are from the teacher's ODE, a short reflow run of
the student's own, and quality against network calls with the straightness of the paths.

References: Liu, Gong & Liu, "Flow Straight and Fast" (rectified flow), 2023, arXiv:2209.03003, Algorithm 1 (reflow);
Lee, Lin & Fanti, "Improving the Training of Rectified Flows", 2024, arXiv:2405.20320 (start from the first flow).
Each function prints its table or verdict in the course's language and returns the numbers the notebook reveals.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch

from dlhelpers import samplers
from dlhelpers.evaluation.metrics import context_accuracy
from dlhelpers.flow import straightness
from dlhelpers.notebook.i18n import say
from dlhelpers.reflow import PairDataset
from dlhelpers.training import TrainConfig, train
from dlhelpers.validation import check_image_batch, check_positive_int, check_real


def _sample(model, path, sampler: str, steps: int, x_T, labels, save_every=None):
    """One registry sampler from ``x_T`` (N, C, H, W) with each label's context; the SampleResult."""
    ctx = torch.nn.functional.one_hot(labels, model.n_cfeat).float().to(x_T.device)
    return samplers.sample(sampler, model, len(labels), path, steps=steps, context=ctx, x_T=x_T,
                           save_every=save_every, progress=False)


@dataclass
class PairCost:
    steps: int            # Euler steps (= network calls) per pair
    seconds: float        # measured wall time for these pairs
    per_10k: float        # the same, scaled to 10,000 pairs (the shipped run's number)
    off_ode: float        # RMS pixel distance of the pairs' sprites from the teacher's exact ODE ends
    accuracy: float       # the classifier's agreement with the requested classes


def pair_costs(teacher, path, labels, x_T, steps=(1, 2, 4, 8, 16), exact_steps: int = 25) -> dict:
    """For each number of Euler ``steps``: what drawing the pairs costs on this machine, and how far their sprites
    land from the teacher's own ODE solution (Heun with ``exact_steps``, 2·exact_steps − 1 calls), in RMS pixels
    (the pixels span [−1, 1]). Prints one line per choice; returns {steps: PairCost}."""
    check_image_batch(x_T, "x_T")
    check_positive_int(exact_steps, "exact_steps")
    steps = [check_positive_int(s, "steps") for s in steps]
    exact = _sample(teacher, path, "flow-heun", exact_steps, x_T, labels).samples.clamp(-1, 1)
    out = {}
    for s in steps:
        start = time.perf_counter()
        x0 = _sample(teacher, path, "flow-euler", s, x_T, labels).samples.clamp(-1, 1)
        seconds = time.perf_counter() - start
        off = (x0 - exact).pow(2).mean(dim=(1, 2, 3)).sqrt().mean().item()
        acc = context_accuracy(x0, labels.cpu())["overall"]
        out[s] = PairCost(s, seconds, seconds * 10_000 / len(labels), off, acc)
        say("Euler-{0:<2}: {1:5.1f} s per 10,000 pairs on this machine; sprites {2:.3f} RMS from the exact ODE ends; "
            "classifier agrees with the class for {3:.0%}", s, out[s].per_10k, off, acc)
    return out


def choose_steps(get_choice, costs: dict) -> int:
    """The student's pair-step decision (``lambda: PAIR_STEPS``), one of the measured choices; an empty or invalid
    choice falls back to the largest measured one (the closest to the exact ODE), with a line that says so."""
    try:
        choice = get_choice()
    except NameError:
        choice = None
    if isinstance(choice, int) and not isinstance(choice, bool) and choice in costs:
        c = costs[choice]
        say("your pairs: Euler-{0}, {1:.3f} RMS from the exact ends, {2:.0f} s per 10,000 pairs", choice, c.off_ode,
            c.per_10k)
        return choice
    fallback = max(costs)
    say("PAIR_STEPS is {0!r}, not one of {1}: using Euler-{2} so that the cells below run", choice, sorted(costs),
        fallback)
    return fallback


def live_reflow(teacher, pairs: tuple, path, steps: int, batch_size: int = 50, lr: float = 2e-4, seed: int = 0,
                plot=None):
    """A reflow run of the student's own: a copy of ``teacher`` trained for ``steps`` steps on ``pairs`` =
    (x_T, x̂₀, labels) with the flow loss on each pair's own noise (``dlhelpers.training.train``), no EMA. ``plot``
    (a LiveLossPlot) is updated as it goes. Returns (the trained copy, seconds)."""
    noise, x0, labels = pairs
    check_image_batch(noise, "pairs")
    check_positive_int(steps, "steps")
    check_real(lr, "lr", low=0.0, open_interval=True)
    student = copy.deepcopy(teacher)
    data = PairDataset({"noise": noise.cpu(), "x0": x0.cpu(), "labels": labels.cpu()}, teacher.n_cfeat)
    cfg = TrainConfig(steps=steps, batch_size=min(batch_size, len(labels)), lr=lr, warmup_steps=0, ema_decay=None,
                      min_snr_gamma=None, checkpoint_every=10 ** 9, seed=seed, log_every=max(1, steps // 40))
    callback = (lambda step, loss, model: plot.update(step, loss)) if plot is not None else None
    result = train(student, data, path, cfg, callback=callback, progress=False)
    student.eval()
    return student, result.seconds


def calls_table(models: dict, path, labels, x_T, meter, calls=(1, 2, 4, 25), straight_steps: int = 25,
                measure=straightness) -> dict:
    """Flow-Euler at each number of ``calls`` for every model ({name: model}), from the same ``x_T`` and contexts:
    context accuracy and sprite FD ± 1.96 jackknife s.e. (``meter``, an FDMeter); then each model's mean
    straightness over its ``straight_steps``-step paths (one of ``calls``: those sprites are scored too), by
    ``measure`` (frames → (N,): exercise (b)). Prints the table; returns {"accuracy": {(name, calls): …}, "fd":
    {(name, calls): …}, "straightness": {name: (N,) tensor}, "samples": {(name, calls): (N, C, H, W)}}."""
    calls = [check_positive_int(c, "calls") for c in calls]
    if straight_steps not in calls:
        raise ValueError(f"straight_steps must be one of calls {calls}, got {straight_steps!r}")
    out = {"accuracy": {}, "fd": {}, "straightness": {}, "samples": {}}
    for name, model in models.items():
        cells = []
        for c in calls:
            run = _sample(model, path, "flow-euler", c, x_T, labels, save_every=1 if c == straight_steps else None)
            s = run.samples.clamp(-1, 1)
            key = (name, c)
            out["samples"][key] = s
            out["accuracy"][key] = context_accuracy(s, labels.cpu())["overall"]
            out["fd"][key] = meter.add(f"{name}-{c}", s)
            cells.append(f"{c}: {out['accuracy'][key]:4.0%} / {out['fd'][key]:5.2f} ± "
                         f"{1.96 * meter.se(f'{name}-{c}'):.2f}")
            if c == straight_steps:
                out["straightness"][name] = measure(run.frames).float()
        st = out["straightness"][name]
        say("{0:<15} calls → accuracy / FD: {1};  straightness {2:.4f} ± {3:.4f}", name, "   ".join(cells), st.mean(),
            st.std() / len(st) ** 0.5)
    return out
