"""Bad input stops at the door: a ValueError/TypeError whose message starts with the argument's name."""
import re

import pytest
import torch

from dlhelpers.ddim import ddim_step, ddim_timesteps, sample_ddim
from dlhelpers.ddpm import ddpm_step, sample_ddpm
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.training import TrainConfig, train
from dlhelpers.unet import ContextUnet

S = NoiseSchedule.linear(500)
M = ContextUnet(3, 16, 5, 16).eval()
X = torch.randn(2, 3, 16, 16)
E = torch.randn(2, 3, 16, 16)
NAN = X.clone()
NAN[0, 0, 0, 0] = float("nan")

CASES = {
    # schedules
    "timesteps not int": (lambda: NoiseSchedule.linear(500.0), TypeError, "timesteps"),
    "timesteps zero": (lambda: NoiseSchedule.linear(0), ValueError, "timesteps"),
    "beta order": (lambda: NoiseSchedule.linear(500, 0.02, 1e-4), ValueError, "beta_start"),
    "add_noise image rank": (lambda: S.add_noise(torch.randn(3, 16, 16), 5, torch.randn(3, 16, 16)), ValueError, "x0"),
    "add_noise t too big": (lambda: S.add_noise(X, 501, E), ValueError, "t"),
    "add_noise t negative": (lambda: S.add_noise(X, torch.tensor([-1, 3]), E), ValueError, "t"),
    "add_noise t float": (lambda: S.add_noise(X, torch.tensor([0.5, 0.2]), E), TypeError, "t"),
    "add_noise t wrong length": (lambda: S.add_noise(X, torch.tensor([1, 2, 3]), E), ValueError, "t"),
    "add_noise noise shape": (lambda: S.add_noise(X, 5, torch.randn(2, 3, 8, 8)), ValueError, "noise"),
    "add_noise empty batch": (lambda: S.add_noise(X[:0], 5, E[:0]), ValueError, "x0"),
    "add_noise nan": (lambda: S.add_noise(NAN, 5, E), ValueError, "x0"),
    "add_noise int images": (lambda: S.add_noise(X.long(), 5, E), TypeError, "x0"),
    "add_noise not a tensor": (lambda: S.add_noise(X.numpy(), 5, E), TypeError, "x0"),
    "add_noise mismatched devices": (lambda: S.add_noise(X, 5, E.to("meta")), ValueError, "noise"),
    # model
    "model wrong channels": (lambda: M(torch.randn(2, 1, 16, 16), torch.rand(2)), ValueError, "x"),
    "model wrong size": (lambda: M(torch.randn(2, 3, 28, 28), torch.rand(2)), ValueError, "x"),
    "model wrong rank": (lambda: M(torch.randn(3, 16, 16), torch.rand(1)), ValueError, "x"),
    "model context width": (lambda: M(X, torch.rand(2), torch.zeros(2, 10)), ValueError, "c"),
    "model context rows": (lambda: M(X, torch.rand(2), torch.zeros(3, 5)), ValueError, "c"),
    "model integer t": (lambda: M(X, torch.tensor([3, 400])), TypeError, "t"),
    "model t shape": (lambda: M(X, torch.rand(2, 2)), ValueError, "t"),
    "sample_ddim nan x_T": (lambda: sample_ddim(M, 2, S, x_T=NAN, progress=False), ValueError, "x_T"),
    "sample_ddim x_T on another device": (lambda: sample_ddim(M, 2, S, x_T=X.to("meta"), progress=False), ValueError,
                                          "x_T"),
    "model empty batch": (lambda: M(X[:0], torch.rand(0)), ValueError, "x"),
    "model height not /4": (lambda: ContextUnet(3, 16, 5, 18), ValueError, "height"),
    "model n_feat not /8": (lambda: ContextUnet(3, 12, 5, 16), ValueError, "n_feat"),
    # DDPM
    "ddpm_step t zero": (lambda: ddpm_step(X, 0, E, S), ValueError, "t"),
    "ddpm_step t beyond T": (lambda: ddpm_step(X, 501, E, S), ValueError, "t"),
    "ddpm_step eps shape": (lambda: ddpm_step(X, 5, E[:1], S), ValueError, "eps_pred"),
    "ddpm_step z shape": (lambda: ddpm_step(X, 5, E, S, z=torch.randn(1, 3, 16, 16)), ValueError, "z"),
    "ddpm_step generator type": (lambda: ddpm_step(X, 5, E, S, generator=0), TypeError, "generator"),
    "sample_ddpm n_samples": (lambda: sample_ddpm(M, 0, S, progress=False), ValueError, "n_samples"),
    "sample_ddpm context width": (lambda: sample_ddpm(M, 2, S, context=torch.zeros(2, 4), progress=False),
                                  ValueError, "context"),
    "sample_ddpm extra_noise": (lambda: sample_ddpm(M, 2, S, extra_noise="no", progress=False), TypeError,
                                "extra_noise"),
    # DDIM
    "ddim_timesteps n zero": (lambda: ddim_timesteps(500, 0), ValueError, "n"),
    "ddim_timesteps n > T": (lambda: ddim_timesteps(500, 501), ValueError, "n"),
    "ddim_timesteps n float": (lambda: ddim_timesteps(500, 2.5), TypeError, "n"),
    "ddim_step negative eta": (lambda: ddim_step(X, 10, 5, E, S, eta=-0.1), ValueError, "eta"),
    "ddim_step t_prev >= t": (lambda: ddim_step(X, 10, 10, E, S), ValueError, "t_prev"),
    "ddim_step t_prev negative": (lambda: ddim_step(X, 10, -1, E, S), ValueError, "t_prev"),
    "sample_ddim steps": (lambda: sample_ddim(M, 2, S, steps=0, progress=False), ValueError, "steps"),
    "sample_ddim steps > T": (lambda: sample_ddim(M, 2, S, steps=501, progress=False), ValueError, "steps"),
    "sample_ddim eta": (lambda: sample_ddim(M, 2, S, eta=2.0, progress=False), ValueError, "eta"),
    "sample_ddim precision": (lambda: sample_ddim(M, 2, S, precision="fp8", progress=False), ValueError, "precision"),
    "sample_ddim guidance": (lambda: sample_ddim(M, 2, S, guidance_scale=-1, progress=False), ValueError,
                             "guidance_scale"),
    "sample_ddim x_T shape": (lambda: sample_ddim(M, 2, S, x_T=torch.randn(3, 3, 16, 16), progress=False),
                              ValueError, "x_T"),
    # training
    "train p_uncond": (lambda: train(M, torch.utils.data.TensorDataset(X.clamp(-1, 1), torch.eye(5)[:2]), S,
                                     TrainConfig(steps=1, p_uncond=1.5), progress=False), ValueError, "p_uncond"),
    "train images not in [-1,1]": (lambda: train(M, torch.utils.data.TensorDataset(X * 10, torch.eye(5)[:2]), S,
                                                 TrainConfig(steps=1), progress=False), ValueError, "dataset"),
    "train precision": (lambda: TrainConfig(precision="half").validate(), ValueError, "precision"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_a_clear_error(name):
    fn, exc, needle = CASES[name]
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    # The argument's name is the message's subject: "t must be in 1…T", not a letter found somewhere inside it.
    assert re.match(rf"{re.escape(needle)}(?![\w.])", message), f"message does not start with {needle!r}: {message}"
    assert len(message) < 300
