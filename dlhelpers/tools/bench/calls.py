"""Quality against network calls: the flow and reflow models' samplers beside the DDPM model's, on the same noise and
contexts, and how straight each model's 25-step paths are.

For every few-step sampler in ``dlhelpers.samplers.SAMPLERS`` — DDIM (Song et al., arXiv:2010.02502, eq. 12) and
DPM-Solver++(2M) (Lu et al., arXiv:2211.01095) on the DDPM model, Euler and Heun on the flow-matching model
(Lipman et al., arXiv:2210.02747; Karras et al., arXiv:2206.00364, Algorithm 1) — and each budget of network calls
in ``CALLS``, the largest number of steps that fits the budget is run from the same x_T and contexts (Heun's
2·steps − 1 calls cannot be even: it runs the odd count just below). Each row: the calls actually made, context
accuracy ± 1.96 s.e. (binomial), sprite FD ± 1.96 s.e. (jackknife over 10 interleaved blocks) against a
class-matched reference (``metrics.class_matched_reference``: the samples' 100 per class), FD ÷ DDPM-500's on the
same reference, wall time. The reflowed flow model (Liu et al., arXiv:2209.03003, Algorithm 1; ``dlhelpers.reflow``)
runs the flow samplers. Straightness, as notebook 6 measures it (``dlhelpers.flow.straightness``: chord ÷ path
length of each sprite's 25 frames), for flow-Euler-25 on each flow model and DDIM-25 (η = 0) on the DDPM model.
"""
from __future__ import annotations

import time

import torch

from dlhelpers import samplers
from dlhelpers.tools.bench.timing import synchronize

CALLS = (1, 2, 4, 8, 10, 16, 25)   # the budgets, and 10: its target's budget


def steps_for(name: str, budget: int) -> int | None:
    """The most steps of sampler ``name`` whose network calls fit ``budget`` (None if even one step does not)."""
    sampler = samplers.get(name)
    fits = [s for s in range(1, budget + 1) if sampler.calls(s) <= budget]
    return max(fits) if fits else None


def fd_with_se(samples: torch.Tensor, reference: torch.Tensor, blocks: int = 10) -> tuple[float, float]:
    """Sprite FD and its jackknife standard error, leaving out one of ``blocks`` interleaved blocks (every
    ``blocks``-th sample: each block holds every class, as the samples are ordered by class)."""
    from dlhelpers.evaluation.metrics import jackknife_se, sprite_fd
    fd = sprite_fd(samples, reference)
    idx = torch.arange(samples.shape[0])
    loo = [sprite_fd(samples[idx % blocks != k], reference) for k in range(blocks)]
    return fd, jackknife_se(loo)


def calls_section(smoke: bool, device, reference_samples: torch.Tensor | None = None) -> dict:
    """{"rows": [(sampler, model, calls, steps, acc, acc_se, fd, fd_se, seconds, per-class accuracy)], "n": sprites,
    "notes": [...], "reference_fd": DDPM-500's FD on the same reference (from ``reference_samples``, its sprites in
    the same class order), "straightness": {model: (sampler, mean, s.e.)}}."""
    from dlhelpers.evaluation.metrics import class_matched_reference, context_accuracy, sprite_fd
    from dlhelpers.io import CorruptFileError
    from dlhelpers.pretrained import load_pretrained

    device = torch.device(device)
    per_class = 2 if smoke else 100
    n = 5 * per_class
    labels = torch.arange(5).repeat_interleave(per_class)                                    # (n,)
    context = torch.eye(5)[labels].to(device)                                                # (n, 5)
    x_T = torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(1)).to(device)  # the quality section's
    reference = class_matched_reference(per_class)                                          # (n, 3, 16, 16)
    reference_fd = sprite_fd(reference_samples, reference) if reference_samples is not None else None
    models, notes = {"ddpm": load_pretrained("final", device=device)}, []
    for preset in ("flow", "reflow"):
        try:
            models[preset] = load_pretrained("final", device=device, preset=preset)
        except (CorruptFileError, FileNotFoundError) as exc:
            notes.append(f"{preset} rows skipped: {exc}")
    rows, straight = [], {}
    for (name, sampler), (model_name, (model, path)) in ((s, m) for m in models.items()
                                                          for s in samplers.SAMPLERS.items()):
        if "steps" not in sampler.options or sampler.path != path.PATH:    # all-T samplers cost 500 calls
            continue
        for budget in ((1, 2) if smoke else CALLS):
            steps = steps_for(name, budget)
            if steps is None or any(r[:2] == (name, model_name) and r[3] == steps for r in rows):
                continue   # Heun at 2 calls is Heun at 1: one row
            synchronize(device)
            t0 = time.perf_counter()
            out = samplers.sample(name, model, n, path, steps=steps, context=context, x_T=x_T,
                                  generator=torch.Generator(device=device).manual_seed(2), progress=False,
                                  save_every=None).samples
            synchronize(device)
            seconds = time.perf_counter() - t0
            scored = context_accuracy(out, labels)
            acc = scored["overall"]
            fd, fd_se = fd_with_se(out.cpu(), reference)
            rows.append((name, model_name, sampler.calls(steps), steps, acc, (acc * (1 - acc) / n) ** 0.5,
                         fd, fd_se, seconds, scored["per_class"]))
    for model_name, (model, path) in models.items():
        straight[model_name] = path_straightness(model, path, context, x_T, steps=3 if smoke else 25)
    from dlhelpers.sprites import CLASS_NAMES
    return {"rows": rows, "n": n, "notes": notes, "reference_fd": reference_fd, "classes": list(CLASS_NAMES),
            "straightness": straight}


def path_straightness(model, path, context, x_T, steps: int = 25) -> tuple[str, float, float]:
    """(sampler, mean, s.e.) of the chord ÷ length of each sprite's path: flow-Euler on a flow model, DDIM (η = 0)
    on a DDPM model, ``steps`` steps from ``x_T``."""
    from dlhelpers.flow import straightness
    name = "flow-euler" if path.PATH == "flow" else "ddim"
    frames = samplers.sample(name, model, x_T.shape[0], path, steps=steps, context=context, x_T=x_T,
                             progress=False, save_every=1).frames
    s = straightness(frames.cpu())                                                            # (N,)
    return f"{name}-{steps}", s.mean().item(), (s.std() / len(s) ** 0.5).item()


def calls_lines(section: dict) -> list:
    ref = section["reference_fd"]
    L = [f"## Quality against network calls: the flow and reflow models beside the DDPM model ({section['n']} "
         f"sprites, same x_T and contexts)", "",
         "Each sampler runs the most steps whose network calls fit the budget (Heun: 2·steps − 1). Intervals are "
         "± 1.96 standard errors (binomial for accuracy, jackknife over 10 interleaved blocks for FD). FD against "
         f"a class-matched reference ({section['n'] // 5} held-out sprites per class, as many as the samples); "
         + (f"DDPM-500's FD on it: {ref:.2f}." if ref else "no DDPM-500 row to divide by."), "",
         "| sampler | model | network calls | steps | context accuracy | per class (" + " / ".join(section["classes"])
         + ") | sprite FD | FD ÷ DDPM-500's | wall time (s) |",
         "|---|---|---:|---:|---:|---|---:|---:|---:|"]
    for name, model, calls, steps, acc, acc_se, fd, fd_se, seconds, per in section["rows"]:
        ratio = f"{fd / ref:.2f}" if ref else "—"
        per_class = " / ".join(f"{per[c] * 100:.0f}" for c in section["classes"])
        L.append(f"| {name} | {model} | {calls} | {steps} | {acc * 100:.1f} ± {196 * acc_se:.1f} % | {per_class} | "
                 f"{fd:.2f} ± {1.96 * fd_se:.2f} | {ratio} | {seconds:.2f} |")
    L += [""] + list(section["notes"]) + ([""] if section["notes"] else [])
    if section.get("straightness"):
        L += ["Straightness of each model's paths (chord ÷ path length per sprite, mean ± 1.96 s.e.; 1 is straight):",
              "", "| model | sampler | straightness |", "|---|---|---:|"]
        L += [f"| {m} | {name} | {mean:.4f} ± {1.96 * se:.4f} |"
              for m, (name, mean, se) in section["straightness"].items()]
        L.append("")
    return L
