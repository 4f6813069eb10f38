"""Devices compared by resolved type and index: the bug that stopped four notebooks on an NVIDIA GPU.

There, ``torch.Generator(device="cuda")`` reported ``cuda`` while the model's parameters reported ``cuda:0``, and
the samplers compared the two with ``!=``. CI has no GPU, so these tests make the CPU play both roles: the
function that reads the model's device is patched to answer ``cpu:0`` (an index) while the generator and x_T say
``cpu`` (none), and the other way round; a true mismatch must still be rejected, naming both devices.
"""
import pytest
import torch

from dlhelpers import devices
from dlhelpers.ddim import sample_ddim
from dlhelpers.ddpm import sample_ddpm
from dlhelpers.dpm_solver import sample_dpm_solver
from dlhelpers.schedules import NoiseSchedule

SAMPLERS = {
    "ddim": lambda m, s, **kw: sample_ddim(m, 2, s, steps=3, progress=False, precision="fp32", **kw),
    "ddpm": lambda m, s, **kw: sample_ddpm(m, 2, s, progress=False, precision="fp32", save_every=25, **kw),
    "dpm_solver": lambda m, s, **kw: sample_dpm_solver(m, 2, s, steps=3, progress=False, precision="fp32", **kw),
}


def test_same_device_resolves_the_index():
    assert devices.same_device("cpu", "cpu")
    assert devices.same_device(torch.device("cpu"), torch.device("cpu", 0))
    assert devices.same_device("cpu:0", "cpu")
    # Without a GPU, "cuda" resolves to index 0 — the comparison itself needs no GPU.
    assert devices.same_device("cuda", "cuda:0") and devices.same_device("cuda:0", "cuda")
    assert not devices.same_device("cuda:1", "cuda:0")
    assert not devices.same_device("cpu", "cuda:0")
    assert not devices.same_device("mps", "cpu")
    assert devices.same_device("mps", "mps:0")


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("model_says", ["cpu:0", "cpu"])
def test_generator_and_x_T_without_index_match_a_model_with_one(monkeypatch, tiny_model, sampler, model_says):
    """Model reports "cpu:0", generator and x_T "cpu" (the GPU bug's shape), and the reverse."""
    schedule = NoiseSchedule.linear(50, 1e-3, 0.2)     # 50 steps: DDPM's loop in a tenth of the calls
    monkeypatch.setattr(devices, "model_device", lambda model: torch.device(model_says))
    g = torch.Generator(device="cpu").manual_seed(0)
    x_T = torch.randn(2, 3, 16, 16, generator=g)
    ctx = torch.eye(5)[:2]
    res = SAMPLERS[sampler](tiny_model, schedule, generator=g, x_T=x_T, context=ctx)
    assert res.samples.shape == (2, 3, 16, 16)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_a_true_mismatch_is_rejected_naming_both_devices(monkeypatch, tiny_model, schedule, sampler):
    monkeypatch.setattr(devices, "model_device", lambda model: torch.device("cuda", 0))
    with pytest.raises(ValueError) as info:
        SAMPLERS[sampler](tiny_model, schedule, generator=torch.Generator().manual_seed(0))
    message = str(info.value)
    assert message.startswith("generator is on cpu") and "cuda:0" in message, message


def test_x_T_on_another_device_is_rejected(monkeypatch, tiny_model, schedule):
    monkeypatch.setattr(devices, "model_device", lambda model: torch.device("cuda", 1))
    with pytest.raises(ValueError, match=r"^x_T is on cpu but the model is on cuda:1"):
        sample_ddim(tiny_model, 2, schedule, steps=2, x_T=torch.randn(2, 3, 16, 16), progress=False)


def test_pick_device():
    assert devices.pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if devices._mps_available() else "cpu")
    assert devices.pick_device("auto").type == expected
    with pytest.raises(ValueError, match="^device"):
        devices.pick_device("tpu")
    with pytest.raises(TypeError, match="^device"):
        devices.pick_device(3)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            devices.pick_device("cuda")


def test_full_precision_turns_tf32_off_and_puts_the_settings_back():
    from dlhelpers.precision import autocast, full_precision

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        with pytest.raises(RuntimeError, match="inside"):
            with full_precision():
                assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
                raise RuntimeError("inside")
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        # precision="fp32" on CUDA is full precision (no GPU needed to build the context); on the CPU nothing changes
        with autocast("fp32", torch.device("cuda")):
            assert not torch.backends.cudnn.allow_tf32
        with autocast("fp32", "cpu"):
            assert torch.backends.cudnn.allow_tf32
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
