"""Quality: every sampler on the shipped weights, from the same noise and contexts, scored by the sprite classifier.

Rows: DDPM-500 (Ho et al., arXiv:2006.11239, Algorithm 2) — the reference every other row is divided by — DDIM at
10/25/50/100 steps and η ∈ {0.5, 1} (Song, Meng & Ermon, arXiv:2010.02502, Eq. (12)), DPM-Solver++(2M) at 10 and
20 steps (Lu et al., arXiv:2211.01095, Algorithm 2), fp32 against the fast path, classifier-free guidance w=2 (Ho &
Salimans, arXiv:2207.12598, Eq. (6)) and the raw weights against their EMA. Each row: wall time, context accuracy
overall and per class, sprite FD (``dlhelpers.evaluation.metrics``) and FD ÷ DDPM-500's; the real-vs-real FD at
the same n is the floor. Also: one short training run in fp32 and on the fast path (same seed and batches).
"""
from __future__ import annotations

import time

import torch

from dlhelpers import samplers
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.tools.bench.timing import synchronize
from dlhelpers.unet import ContextUnet

REFERENCE = "ddpm"                                       # the row every other row is divided by
STEPS = {"ddim": (10, 25, 50, 100), "dpm-solver": (10, 20)}   # the rows' steps; any other sampler: its default
SMOKE_STEPS = {"ddim": (2,), "dpm-solver": (3,)}        # a smoke run's (2 for a sampler not named here)


def quality_section(smoke: bool, device) -> dict:
    """Returns {"rows": [(label, seconds, accuracy dict, fd)], "baseline": real-vs-real FD, "n": sprites,
    "notes": [str], "reference_samples": rows[0]'s sprites}; rows[0] is the reference (DDPM-500; a 3-step DDIM
    stands in for it in a smoke run)."""
    from dlhelpers.evaluation.metrics import context_accuracy, heldout_samples, real_vs_real_fd, sprite_fd
    from dlhelpers.pretrained import available, load_pretrained

    device = torch.device(device)
    per_class = 2 if smoke else 100  # 500 sprites, as issue 14 states its targets (at 60 the FD floor hid every gain)
    n = 5 * per_class
    labels = torch.arange(5).repeat_interleave(per_class)                                    # (n,)
    context = torch.eye(5)[labels].to(device)                                                # (n, 5)
    model, schedule = load_pretrained("final", device=device)
    x_T = torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(1)).to(device)  # (n, 3, 16, 16)
    reference = heldout_samples(n, seed=0)                                                   # (n, 3, 16, 16)
    rows, notes, kept = [], [], {}
    common = dict(context=context, x_T=x_T, progress=False, save_every=None)    # no frames: the samples only

    def run(name, weights=model, **options):   # every row through the registry, from the same noise and generator
        return lambda: samplers.sample(name, weights, n, schedule, generator=torch.Generator(device=device)
                                       .manual_seed(2), **common, **options)

    def measure(label, sample):
        synchronize(device)
        t0 = time.perf_counter()
        samples = sample().samples
        synchronize(device)
        seconds = time.perf_counter() - t0
        rows.append((label, seconds, context_accuracy(samples, labels), sprite_fd(samples, reference)))
        kept.setdefault("reference", samples.cpu())       # rows[0]'s samples: the calls table's yardstick

    if smoke:
        measure("DDIM-3 (smoke stand-in for DDPM-500)", run("ddim", steps=3))
    else:
        measure("DDPM-500", run(REFERENCE))
    for name in samplers.samplers_for("ddpm"):     # every other sampler of the weights' path, from the registry
        sampler = samplers.get(name)
        if name == REFERENCE:
            continue
        if "steps" not in sampler.options:       # all T steps: no smoke row
            if not smoke:
                measure(sampler.title(), run(name))
            continue
        for steps in (SMOKE_STEPS.get(name, (2,)) if smoke else STEPS.get(name, (sampler.default_steps,))):
            measure(sampler.title(steps), run(name, steps=steps))
    k = 2 if smoke else 25
    for eta in ((1.0,) if smoke else (0.5, 1.0)):
        measure(f"DDIM-{k}, η={eta}", run("ddim", steps=k, eta=eta))
    measure(f"DDIM-{k} fp32", run("ddim", steps=k, precision="fp32"))
    measure(f"DDIM-{k}, guidance w=2", run("ddim", steps=k, guidance_scale=2.0))
    if "final_raw" in available():
        raw, _ = load_pretrained("final_raw", device=device)
        measure(f"DDIM-{k}, raw weights (no EMA)", run("ddim", weights=raw, steps=k))
    return {"rows": rows, "baseline": real_vs_real_fd(n, seed=0), "n": n, "notes": notes,
            "reference_samples": kept["reference"]}


def precision_training_section(smoke: bool, device):
    """The same short training run (same seed and batches) in fp32 and on the fast path, through
    ``dlhelpers.training.train``: {precision: (mean loss over the last quarter, its s.e., seconds)}, steps."""
    from dlhelpers.sprites import SpriteDataset
    from dlhelpers.training import TrainConfig, train
    steps, batch = (4, 20) if smoke else (200, 100)
    ds = SpriteDataset()
    out = {}
    for precision in ("fp32", "auto"):
        torch.manual_seed(0)  # the model's initial weights
        model = ContextUnet(3, 64, 5, 16).to(device)
        res = train(model, ds, NoiseSchedule.linear(500), TrainConfig(
            steps=steps, batch_size=batch, seed=0, precision=precision, log_every=1, ema_decay=None), progress=False)
        tail = torch.tensor(res.losses[-max(1, steps // 4):])
        out[precision] = (tail.mean().item(), (tail.std().item() / len(tail) ** 0.5) if len(tail) > 1 else 0.0,
                          res.seconds)
    return out, steps
