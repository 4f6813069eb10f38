"""The device-taking paths, run on ``DLHELPERS_TEST_DEVICE`` (default: the CPU).

``python -m dlhelpers gpu-check`` runs this file with DLHELPERS_TEST_DEVICE=cuda (or mps) on a machine with a GPU;
CI runs it on the CPU. Every test builds what a notebook builds: a generator made with ``torch.Generator(device=
"cuda")`` (no index), a model moved with ``.to(device)`` (parameters report ``cuda:0``), and checks results against
the same computation on the CPU.
"""
import os

import pytest
import torch

from support import OracleModel
from dlhelpers.ddim import ddim_step, sample_ddim
from dlhelpers.ddpm import ddpm_step, sample_ddpm
from dlhelpers.devices import pick_device
from dlhelpers.dpm_solver import sample_dpm_solver
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.training import TrainConfig, train
from dlhelpers.unet import ContextUnet

DEVICE = pick_device(os.environ.get("DLHELPERS_TEST_DEVICE", "cpu"))


@pytest.fixture
def on_device():
    torch.manual_seed(0)
    model = ContextUnet(3, 16, 5, 16).eval().to(DEVICE)
    gen = torch.Generator(device=DEVICE.type).manual_seed(0)    # a device name without an index, as notebooks do
    return model, NoiseSchedule.linear(500), gen


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpm_solver"])
def test_samplers_run_with_an_unindexed_generator_and_context(on_device, sampler):
    model, schedule, gen = on_device
    ctx = torch.eye(5, device=DEVICE)[:4]
    kw = dict(context=ctx, generator=gen, progress=False, guidance_scale=2.0)
    if sampler == "ddpm":      # 50 steps: the same loop as 500, a tenth of the calls
        res = sample_ddpm(model, 4, NoiseSchedule.linear(50, 1e-3, 0.2).to(DEVICE), save_every=10, **kw)
    elif sampler == "ddim":
        res = sample_ddim(model, 4, schedule, steps=5, eta=0.5, **kw)
    else:
        res = sample_dpm_solver(model, 4, schedule, steps=5, **kw)
    assert res.samples.device.type == DEVICE.type and torch.isfinite(res.samples).all()
    assert res.frames.device.type == "cpu"


def test_oracle_trajectory_on_device_matches_the_cpu():
    schedule = NoiseSchedule.linear(500)
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1, torch.randn(2, 3, 16, 16, generator=g)
    x_T = schedule.add_noise(x0, 500, eps)
    cpu = sample_ddim(OracleModel(x0, schedule), 2, schedule, steps=10, x_T=x_T, progress=False, precision="fp32")
    dev_schedule = schedule.to(DEVICE)
    dev = sample_ddim(OracleModel(x0.to(DEVICE), dev_schedule).to(DEVICE), 2, dev_schedule, steps=10,
                      x_T=x_T.to(DEVICE), progress=False, precision="fp32")
    torch.testing.assert_close(dev.frames, cpu.frames, rtol=1e-4, atol=1e-4)


def test_public_steps_on_device(on_device):
    _, schedule, gen = on_device
    x, e = (torch.randn(2, 3, 16, 16, device=DEVICE, generator=gen) for _ in range(2))
    t = torch.tensor([3, 400], device=DEVICE)
    assert ddpm_step(x, t, e, schedule, generator=gen).device.type == DEVICE.type
    assert ddim_step(x, 400, 380, e, schedule).device.type == DEVICE.type
    assert schedule.add_noise(x, t, e).device.type == DEVICE.type


def test_a_few_training_steps_on_device(on_device):
    model, schedule, _ = on_device
    data = torch.utils.data.TensorDataset(torch.rand(64, 3, 16, 16) * 2 - 1, torch.eye(5)[torch.arange(64) % 5])
    res = train(model, data, schedule, TrainConfig(steps=6, batch_size=16, warmup_steps=0, log_every=2),
                progress=False)
    assert res.steps_done == 6 and all(loss == loss for loss in res.losses)
    assert next(model.parameters()).device.type == DEVICE.type


def test_a_plain_ddim_loop_matches_sample_ddim_in_full_precision():
    """Notebook 5's "your own DDIM sampler": a loop in the default layout that calls the network directly and steps
    by x̂₀ then re-noising must agree with ``sample_ddim(precision="fp32")`` to 0.01. On an H200 it did not, until
    fp32 meant fp32 (``full_precision``: TF32 off); on the CPU this checks the comparison itself."""
    from dlhelpers.ddim import ddim_timesteps
    from dlhelpers.precision import full_precision
    from dlhelpers.pretrained import load_pretrained

    model, schedule = load_pretrained("final", DEVICE)
    g = torch.Generator(device=DEVICE.type).manual_seed(5)
    x_T = torch.randn(10, 3, 16, 16, generator=g, device=DEVICE)
    ctx = torch.eye(5, device=DEVICE)[torch.arange(10, device=DEVICE) % 5]
    ts = ddim_timesteps(schedule.timesteps, 25)
    x = x_T.clone()
    with torch.no_grad(), full_precision():
        for t, t_prev in zip(ts[:-1], ts[1:]):
            eps = model(x, torch.full((10,), int(t) / schedule.timesteps, device=DEVICE), ctx)
            x = schedule.add_noise(schedule.predict_x0(x, int(t), eps), int(t_prev), eps)
    lib = sample_ddim(model, 10, schedule, steps=25, context=ctx, x_T=x_T, precision="fp32", progress=False).samples
    assert (x - lib).abs().max().item() < 0.01
