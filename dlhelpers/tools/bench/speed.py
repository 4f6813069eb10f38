"""Speed: our UNet against the course's, forward and training step, and the samplers' wall time and overhead.

Forward at B=32 and one training step at B=100 (the course's batch), interleaved medians in one process: the
course's architecture and loop in fp32 (``course_reference``: its ``ResidualConvBlock`` and its training step,
bugs included), ours in fp32 and on the fast path (``dlhelpers.precision``: bf16/fp16 autocast + channels-last
where the device gains from them). Our training step is the library's own: ``dlhelpers.training.diffusion_loss``
(Ho et al., arXiv:2006.11239, Eq. (14)) and ``make_optimizer``. Achieved GFLOP/s of the step are read against the
measured matmul peak. Sampler overhead = DDIM wall time ÷ the wall time of as many bare forwards of the same batch,
the two timed in alternating rounds (timed apart, the ratio wandered between 0.97 and 1.26 from run to run on the
2-core machine; alternated, 0.97–1.04): 1.0 means the loop adds nothing to the network's own time.
"""
from __future__ import annotations

import torch

from dlhelpers.precision import autocast, autocast_dtype, prepare_model, to_memory_format
from dlhelpers import samplers
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.tools.bench.timing import interleaved, matmul_peak_gflops, timed, train_step_flops
from dlhelpers.tools.course_reference import CourseContextUnet, course_schedule, course_training_step
from dlhelpers.training import diffusion_loss, make_optimizer
from dlhelpers.unet import ContextUnet

T = 500


def _inputs(B: int, device, seed: int):
    """Random images (B, 3, 16, 16) in [-1, 1], times (B,) in [0, 1) and one-hot contexts (B, 5) on ``device``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, 3, 16, 16, generator=g).clamp(-1, 1)
    t = torch.rand(B, generator=g)
    c = torch.eye(5)[torch.arange(B) % 5]
    return x.to(device), t.to(device), c.to(device)


def _forward_fn(model, x, t, c, precision, device):
    def run():
        with torch.inference_mode(), autocast(precision, device):
            model(to_memory_format(x) if precision != "fp32" else x, t, c)
    return run


def _our_train_step_fn(model, x, c, schedule, precision, device, seed=0):
    """One step of the library's training loop: ``diffusion_loss`` (p_uncond 0.1, as the course) + its optimizer."""
    opt = make_optimizer(model.parameters(), 1e-3, device)
    g = torch.Generator(device=device).manual_seed(seed)
    schedule = schedule.to(device)
    x = to_memory_format(x) if precision != "fp32" else x

    def run():
        loss = diffusion_loss(model, x, c, schedule, g, p_uncond=0.1, precision=precision)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return run


def _course_train_step_fn(model, x, c, device, seed=0):
    """The course's own loop: plain Adam at its learning rate, its schedule and its ``perturb_input``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator(device=device).manual_seed(seed)
    _, _, ab_t = course_schedule(T, device=device)
    return lambda: course_training_step(model, opt, x, c, ab_t, T, g)


def speed_section(smoke: bool, device) -> tuple[list, dict]:
    """Forward and training-step medians for course fp32 / ours fp32 / ours fast, plus GFLOP/s and matmul peak."""
    device = torch.device(device)
    B_fwd, B_train = (4, 8) if smoke else (32, 100)
    rounds = 2 if smoke else 7
    torch.manual_seed(0)  # the three models' initial weights
    course = CourseContextUnet().to(device).eval()
    ours_fp32 = ContextUnet().to(device).eval()
    ours_fast = prepare_model(ContextUnet(), device).eval()
    x, t, c = _inputs(B_fwd, device, seed=0)
    fwd = interleaved({"course fp32": _forward_fn(course, x, t, c, "fp32", device),
                       "ours fp32": _forward_fn(ours_fp32, x, t, c, "fp32", device),
                       "ours fast": _forward_fn(ours_fast, x, t, c, "auto", device)}, rounds, warmup=2, device=device)
    xt, _, ct = _inputs(B_train, device, seed=1)
    schedule = NoiseSchedule.linear(T)
    steps = {"course fp32": _course_train_step_fn(CourseContextUnet().to(device).train(), xt, ct, device),
             "ours fp32": _our_train_step_fn(ContextUnet().to(device).train(), xt, ct, schedule, "fp32", device),
             "ours fast": _our_train_step_fn(prepare_model(ContextUnet(), device).train(), xt, ct, schedule,
                                             "auto", device)}
    train = interleaved(steps, max(2, rounds // 2), warmup=2, device=device)
    rows = [("UNet forward, B=%d (ms)" % B_fwd, fwd, 1e3), ("training step, B=%d (ms)" % B_train, train, 1e3)]
    flops = train_step_flops(ContextUnet().to(device).train(), xt, ct)
    dtype = autocast_dtype("auto", device)   # what diffusion_loss and the samplers autocast to
    n = 256 if smoke else (4096 if device.type == "cuda" else 1024)
    peak = {"fp32": matmul_peak_gflops(torch.float32, device, n)}
    if dtype is not None:
        peak[str(dtype).replace("torch.", "")] = matmul_peak_gflops(dtype, device, n)
    stats = {
        "train_images_per_s": {k: B_train / v for k, v in train.items()},
        "train_gflops": {k: flops / v / 1e9 for k, v in train.items()},
        "peak_gflops": peak, "peak_n": n,
        "fast_dtype": str(dtype).replace("torch.", "") if dtype is not None else "fp32",
    }
    return rows, stats


def sampler_section(smoke: bool, device):
    """DDIM-25 and DDPM-500 for 64 sprites, fast vs fp32, plus the loop's overhead over bare forwards."""
    device = torch.device(device)
    n = 4 if smoke else 64
    ddim_steps = 2 if smoke else 25
    torch.manual_seed(0)
    model = prepare_model(ContextUnet(), device).eval()
    schedule = NoiseSchedule.linear(T)
    c = torch.eye(5)[torch.arange(n) % 5].to(device)
    def g():
        return torch.Generator(device=device).manual_seed(0)

    def run(name, precision, **options):   # no frames: time the sampler, not the frame copies
        return lambda: samplers.sample(name, model, n, schedule, context=c, generator=g(), progress=False,
                                       precision=precision, save_every=None, **options)
    out = {}
    for precision in ("auto", "fp32"):
        out[f"DDIM-{ddim_steps} {precision}"] = interleaved({"x": run("ddim", precision, steps=ddim_steps)},
                                                            rounds=1 if smoke else 3,
                                                            device=device)["x"]
        # DDPM-500 takes a minute on a CPU: in a smoke run a 3-step DDIM stands in for it
        ddpm_run = run("ddim", precision, steps=3) if smoke else run("ddpm", precision)
        out[f"{'DDIM-3 (for DDPM)' if smoke else 'DDPM-500'} {precision}"] = timed(ddpm_run, device)
    x, t, _ = _inputs(n, device, seed=2)
    forward = _forward_fn(model, x, t, c, "auto", device)

    def bare_forwards():      # the network calls alone, as many as the DDIM run makes
        for _ in range(ddim_steps):
            forward()
    pair = interleaved({"ddim": run("ddim", "auto", steps=ddim_steps), "forwards": bare_forwards},
                       rounds=2 if smoke else 5, device=device)
    return out, pair["ddim"] / pair["forwards"], pair["forwards"] / ddim_steps
