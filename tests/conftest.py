import pytest
import torch

from dlhelpers.schedules import NoiseSchedule
from dlhelpers.unet import ContextUnet


@pytest.fixture
def schedule():
    return NoiseSchedule.linear(500, 1e-4, 0.02)


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return ContextUnet(in_channels=3, n_feat=16, n_cfeat=5, height=16).eval()
