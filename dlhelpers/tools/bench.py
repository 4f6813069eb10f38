"""``python -m dlhelpers bench``: speed and quality, measured in one process, as ratios against references.

Speed (interleaved rounds, medians): our UNet on the fast path (bf16 autocast + channels-last) and in fp32 against the
course's architecture in fp32 (``course_reference``) — forward at B=32, training step at B=100; DDIM-25 and DDPM-500
for 64 sprites in both precisions; sampler overhead = sampler time ÷ (steps × one forward of the same batch);
achieved GFLOP/s of the training step (``torch.utils.flop_counter.FlopCounterMode``) beside the measured
matrix-multiply peak in the same dtype; peak memory.

Quality, on the shipped weights: DDPM-500 vs DDIM-{10,25,50,100} and η ∈ {0, 0.5, 1} from the same noise and
contexts — wall time, speed-up, context accuracy and sprite FD (``dlhelpers.metrics``) next to the real-vs-real FD
at the same n; EMA vs raw weights; fp32 vs fast path (accuracy, and a short training run's loss in each).
"""
from __future__ import annotations

import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from dlhelpers import precision as fast
from dlhelpers.tools.course_reference import CourseContextUnet
from dlhelpers.ddim import sample_ddim
from dlhelpers.ddpm import sample_ddpm
from dlhelpers.io import DATA_DIR, REPO_ROOT, atomic_write_bytes
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.unet import ContextUnet

REPORT = DATA_DIR / "benchmarks.md"
README = REPO_ROOT / "README.md"


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(variants: dict, rounds: int, warmup: int = 1) -> dict:
    """Median seconds per variant; the variants alternate within each round so drift hits them all alike."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in variants}
    for _ in range(rounds):
        for k, fn in variants.items():
            times[k].append(_timed(fn))
    return {k: statistics.median(v) for k, v in times.items()}


def _forward_fn(model, x, t, c, precision):
    def run():
        with torch.inference_mode(), fast.autocast(precision, x.device):
            model(fast.to_memory_format(x) if precision != "fp32" else x, t, c)
    return run


def _train_step_fn(model, x, c, schedule, precision, seed=0, course=False):
    from dlhelpers.training import make_optimizer
    # the course's plain Adam for the reference; ours uses the trainer's optimizer
    opt = torch.optim.Adam(model.parameters(), lr=1e-4) if course else make_optimizer(model.parameters(), 1e-4, "cpu")
    g = torch.Generator().manual_seed(seed)
    T = schedule.timesteps
    x = fast.to_memory_format(x) if precision != "fp32" else x

    def run():
        t = torch.randint(1, T + 1, (x.shape[0],), generator=g)
        noise = torch.randn(x.shape, generator=g)
        with fast.autocast(precision, x.device):
            pred = model(schedule.add_noise(x, t, noise), (t.float() / T).view(-1, 1, 1, 1), c)
        loss = F.mse_loss(pred.float(), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return run


def matmul_peak_gflops(dtype, n=1024, reps=10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n ** 3 / best / 1e9


def train_step_flops(model, x, c, T) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(x, torch.rand(x.shape[0], 1, 1, 1), c)
        out.square().mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def speed_section(smoke: bool) -> tuple[list, dict]:
    torch.manual_seed(0)
    B_fwd, B_train = (4, 8) if smoke else (32, 100)
    rounds = 2 if smoke else 7
    T = 500
    schedule = NoiseSchedule.linear(T)
    course = CourseContextUnet().eval()
    ours_fast = fast.prepare_model(ContextUnet()).eval()
    ours_fp32 = ContextUnet().eval()
    x, t, c = torch.randn(B_fwd, 3, 16, 16), torch.rand(B_fwd, 1, 1, 1), torch.eye(5)[torch.arange(B_fwd) % 5]
    fwd = interleaved({"course fp32": _forward_fn(course, x, t, c, "fp32"),
                       "ours fp32": _forward_fn(ours_fp32, x, t, c, "fp32"),
                       "ours fast": _forward_fn(ours_fast, x, t, c, "auto")}, rounds, warmup=2)
    xt, ct = torch.randn(B_train, 3, 16, 16).clamp(-1, 1), torch.eye(5)[torch.arange(B_train) % 5]
    models = {"course fp32": CourseContextUnet().train(), "ours fp32": ContextUnet().train(),
              "ours fast": fast.prepare_model(ContextUnet()).train()}
    train = interleaved({k: _train_step_fn(m, xt, ct, schedule, "fp32" if "fp32" in k else "auto",
                                           course=k.startswith("course"))
                         for k, m in models.items()}, max(2, rounds // 2), warmup=2)
    rows = [("UNet forward, B=%d (ms)" % B_fwd, fwd, 1e3), ("training step, B=%d (ms)" % B_train, train, 1e3)]
    flops = train_step_flops(ContextUnet().train(), xt, ct, T)
    dtype = fast.autocast_dtype("auto", "cpu") or torch.float32
    peak = {"fp32": matmul_peak_gflops(torch.float32, 256 if smoke else 1024)}
    if dtype == torch.bfloat16:
        peak["bf16"] = matmul_peak_gflops(torch.bfloat16, 256 if smoke else 1024)
    stats = {
        "forward_ratio": fwd["course fp32"] / fwd["ours fast"],
        "train_ratio": train["course fp32"] / train["ours fast"],
        "train_images_per_s": {k: B_train / v for k, v in train.items()},
        "train_gflops": {k: flops / v / 1e9 for k, v in train.items()},
        "peak_gflops": peak, "fast_dtype": str(dtype).replace("torch.", ""),
        "forward_fast_s": fwd["ours fast"],
    }
    return rows, stats


def sampler_section(smoke: bool):
    """DDIM-25 and DDPM-500 for 64 sprites, fast vs fp32, plus the loop's overhead over bare forwards."""
    n = 4 if smoke else 64
    ddim_steps, T = (2, 500) if smoke else (25, 500)
    torch.manual_seed(0)
    model = fast.prepare_model(ContextUnet()).eval()
    schedule = NoiseSchedule.linear(T)
    c = torch.eye(5)[torch.arange(n) % 5]
    out = {}
    for precision in ("auto", "fp32"):
        g = lambda: torch.Generator().manual_seed(0)
        out[f"DDIM-{ddim_steps} {precision}"] = interleaved({"x": lambda: sample_ddim(
            model, n, schedule, steps=ddim_steps, context=c, generator=g(), progress=False, precision=precision)},
            rounds=1 if smoke else 3)["x"]
        ddpm_run = (lambda: sample_ddim(model, n, schedule, steps=3, context=c, generator=g(), progress=False,
                                        precision=precision)) if smoke else (lambda: sample_ddpm(
            model, n, schedule, context=c, generator=g(), progress=False, precision=precision))
        out[f"DDPM-{3 if smoke else 500} {precision}"] = _timed(ddpm_run)
    x, t = torch.randn(n, 3, 16, 16), torch.rand(n)
    one_forward = interleaved({"f": _forward_fn(model, x, t, c, "auto")}, rounds=5 if smoke else 15, warmup=2)["f"]
    overhead = out[f"DDIM-{ddim_steps} auto"] / (ddim_steps * one_forward)
    return out, overhead, one_forward


def quality_section(smoke: bool):
    from dlhelpers.evaluation.metrics import context_accuracy, heldout_samples, real_vs_real_fd, sprite_fd
    from dlhelpers.pretrained import available, load_pretrained

    per_class = 2 if smoke else 50  # 250 sprites: at 60 the FD noise floor (≈6) hid every difference
    n = 5 * per_class
    labels = torch.arange(5).repeat_interleave(per_class)
    context = torch.eye(5)[labels]
    model, schedule = load_pretrained("final")
    x_T = torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    reference = heldout_samples(n, seed=0)
    rows = []

    def measure(label, run):
        t0 = time.perf_counter()
        samples = run()
        seconds = time.perf_counter() - t0
        acc = context_accuracy(samples, labels)["overall"]
        rows.append((label, seconds, acc, sprite_fd(samples, reference)))

    g = lambda: torch.Generator().manual_seed(2)
    if smoke:
        measure("DDIM-3 (smoke)", lambda: sample_ddim(model, n, schedule, steps=3, context=context, x_T=x_T,
                                                      generator=g(), progress=False).samples)
    else:
        measure("DDPM-500", lambda: sample_ddpm(model, n, schedule, context=context, x_T=x_T, generator=g(),
                                                progress=False).samples)
    for steps in ((2,) if smoke else (10, 25, 50, 100)):
        measure(f"DDIM-{steps}", lambda: sample_ddim(model, n, schedule, steps=steps, context=context, x_T=x_T,
                                                      generator=g(), progress=False).samples)
    for eta in ((1.0,) if smoke else (0.5, 1.0)):
        measure(f"DDIM-{2 if smoke else 25}, η={eta}", lambda: sample_ddim(
            model, n, schedule, steps=2 if smoke else 25, eta=eta, context=context, x_T=x_T, generator=g(),
            progress=False).samples)
    measure(f"DDIM-{2 if smoke else 25} fp32", lambda: sample_ddim(
        model, n, schedule, steps=2 if smoke else 25, context=context, x_T=x_T, generator=g(), progress=False,
        precision="fp32").samples)
    measure(f"DDIM-{2 if smoke else 25}, guidance w=2", lambda: sample_ddim(
        model, n, schedule, steps=2 if smoke else 25, context=context, x_T=x_T, generator=g(), progress=False,
        guidance_scale=2.0).samples)
    if "final_raw" in available():
        raw, _ = load_pretrained("final_raw")
        measure(f"DDIM-{2 if smoke else 25}, raw weights (no EMA)", lambda: sample_ddim(
            raw, n, schedule, steps=2 if smoke else 25, context=context, x_T=x_T, generator=g(),
            progress=False).samples)
    baseline = real_vs_real_fd(n, seed=0)
    return rows, baseline, n


def precision_training_section(smoke: bool):
    """The same short training run (same seed and batches) in fp32 and on the fast path."""
    from dlhelpers.sprites import SpriteDataset
    from dlhelpers.training import TrainConfig, train
    steps = 4 if smoke else 200
    ds = SpriteDataset()
    out = {}
    for precision in ("fp32", "auto"):
        torch.manual_seed(0)
        model = ContextUnet(3, 64, 5, 16)
        res = train(model, ds, NoiseSchedule.linear(500), TrainConfig(
            steps=steps, batch_size=100, seed=0, precision=precision, log_every=1, ema_decay=None), progress=False)
        tail = torch.tensor(res.losses[-max(1, steps // 4):])
        out[precision] = (tail.mean().item(), (tail.std().item() / len(tail) ** 0.5) if len(tail) > 1 else 0.0,
                          res.seconds)
    return out, steps


def run_benchmark(smoke: bool = False, out: str | None = None) -> str:
    t_start = time.perf_counter()
    print("speed: forward and training step (interleaved)…", flush=True)
    speed_rows, stats = speed_section(smoke)
    print("speed: samplers…", flush=True)
    sampler_times, overhead, one_forward = sampler_section(smoke)
    print("quality: samplers on the shipped weights…", flush=True)
    quality_rows, baseline, n = quality_section(smoke)
    print("quality: short training run, fp32 vs fast path…", flush=True)
    train_cmp, train_steps = precision_training_section(smoke)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    ddpm_row = quality_rows[0]
    L = [f"# Benchmark{' (smoke run: tiny sizes, numbers meaningless)' if smoke else ''}", "",
         f"`python -m dlhelpers bench{' --smoke' if smoke else ''}` — {_machine()}, torch {torch.__version__}, "
         f"{torch.get_num_threads()} threads, fast path = {stats['fast_dtype']} autocast + channels-last. "
         f"Total run {time.perf_counter() - t_start:.0f} s.", "",
         "## Speed (medians of interleaved rounds, same process)", "",
         "| measurement | course fp32 | ours fp32 | ours fast | fast vs course |", "|---|---:|---:|---:|---:|"]
    for label, d, scale in speed_rows:
        L.append(f"| {label} | {d['course fp32'] * scale:.1f} | {d['ours fp32'] * scale:.1f} | "
                 f"{d['ours fast'] * scale:.1f} | **{d['course fp32'] / d['ours fast']:.2f}×** |")
    ips = stats["train_images_per_s"]
    L.append(f"| training images/s | {ips['course fp32']:.0f} | {ips['ours fp32']:.0f} | {ips['ours fast']:.0f} | "
             f"**{ips['ours fast'] / ips['course fp32']:.2f}×** |")
    gf = stats["train_gflops"]
    peak_txt = ", ".join(f"{k} {v:.0f}" for k, v in stats["peak_gflops"].items())
    L += ["", f"Training step achieved GFLOP/s: course fp32 {gf['course fp32']:.0f}, ours fp32 {gf['ours fp32']:.0f}, "
              f"ours fast {gf['ours fast']:.0f} — against a measured matmul peak (1024², one process) of {peak_txt} "
              f"GFLOP/s.", "",
          "| sampler (64 sprites unless smoke) | fast path (s) | fp32 (s) | fp32 ÷ fast |", "|---|---:|---:|---:|"]
    for name in sorted({k.rsplit(" ", 1)[0] for k in sampler_times}):
        a, f32 = sampler_times[f"{name} auto"], sampler_times[f"{name} fp32"]
        L.append(f"| {name} | {a:.2f} | {f32:.2f} | {f32 / a:.2f}× |")
    L += ["", f"Sampler overhead (DDIM wall time ÷ steps × one forward of the same batch, {one_forward * 1e3:.1f} ms): "
              f"**{overhead:.3f}**. Peak memory (max RSS of the benchmark process): {peak_mb:.0f} MB.", "",
          f"## Quality on the shipped weights ({n} sprites, {n // 5} per class, same noise and contexts)", "",
          "| sampler | wall time (s) | speed-up vs first row | context accuracy | sprite FD |",
          "|---|---:|---:|---:|---:|"]
    for label, seconds, acc, fd in quality_rows:
        L.append(f"| {label} | {seconds:.2f} | {ddpm_row[1] / seconds:.1f}× | {acc * 100:.1f} % | {fd:.2f} |")
    L += ["", f"Real-vs-real sprite FD at the same n (two disjoint held-out sets): **{baseline:.2f}** — the floor "
              f"for these numbers.", "",
          f"## fp32 vs fast path, same {train_steps}-step training run (same seed and batches)", "",
          "| precision | mean loss over the last quarter | ± s.e. | seconds |", "|---|---:|---:|---:|"]
    for k, (mean, se, sec) in train_cmp.items():
        L.append(f"| {k} | {mean:.4f} | {se:.4f} | {sec:.1f} |")
    report = "\n".join(L) + "\n"
    print(report)
    path = Path(out) if out else REPORT
    atomic_write_bytes(path, report.encode())
    if not smoke and out is None and README.exists():
        _update_readme(report)
    return report


def _update_readme(report: str) -> None:
    text = README.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        body = report.split("\n", 2)[2]  # drop the report's title
        new = text[:text.index(start) + len(start)] + "\n" + body + text[text.index(end):]
        atomic_write_bytes(README, new.encode())


def _machine() -> str:
    from dlhelpers.tools.cli import _cpu_name
    return f"{_cpu_name()} ({platform.machine()}, {torch.get_num_threads()} threads)"


if __name__ == "__main__":
    run_benchmark(smoke="--smoke" in sys.argv)
