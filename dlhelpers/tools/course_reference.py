"""The original course's ContextUnet, rebuilt as it was, as the benchmark's fp32 reference.

Source: the DeepLearning.AI short course "How Diffusion Models Work" (2023), ``diffusion_utilities.py`` and the
lab notebooks. Kept faithful on purpose, bugs included, so the benchmark measures against what students ran:
``ResidualConvBlock.forward`` builds a fresh, randomly initialised 1×1 Conv2d on every call when the channel count
changes (the first block, 3 → n_feat), and everything runs in fp32 with the default memory format.
Do not use it for anything but comparisons; ``dlhelpers.unet.ContextUnet`` is the fixed version.

The course's training step is here too (``course_schedule``, ``course_perturb_input``, ``course_training_step``),
as its lab wrote it, so the benchmark's "course" column times the course's own loop, not ours. It trains on Ho,
Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020 (arXiv:2006.11239), Algorithm 1 /
Eq. (14), except that the course's ``perturb_input`` scales the noise by (1 − ᾱ_t) where Eq. (4) has √(1 − ᾱ_t)
— another bug kept. The only change: its random draws take a ``torch.Generator`` (the course used the global RNG),
which costs the same time.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class CourseResidualConvBlock(nn.Module):
    def __init__(self, in_channels, out_channels, is_res=False):
        super().__init__()
        self.same_channels = in_channels == out_channels
        self.is_res = is_res
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels),
                                   nn.GELU())
        self.conv2 = nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels),
                                   nn.GELU())

    def forward(self, x):
        if self.is_res:
            x1 = self.conv1(x)
            x2 = self.conv2(x1)
            if self.same_channels:
                out = x + x2
            else:
                # the course's bug, kept: a new random layer on every call
                shortcut = nn.Conv2d(x.shape[1], x2.shape[1], kernel_size=1, stride=1, padding=0).to(x.device)
                out = shortcut(x) + x2
            return out / 1.414
        return self.conv2(self.conv1(x))


class CourseUnetUp(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.model = nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 2, 2),
                                   CourseResidualConvBlock(out_channels, out_channels),
                                   CourseResidualConvBlock(out_channels, out_channels))

    def forward(self, x, skip):
        return self.model(torch.cat((x, skip), 1))


class CourseUnetDown(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.model = nn.Sequential(CourseResidualConvBlock(in_channels, out_channels),
                                   CourseResidualConvBlock(out_channels, out_channels), nn.MaxPool2d(2))

    def forward(self, x):
        return self.model(x)


class CourseEmbedFC(nn.Module):
    def __init__(self, input_dim, emb_dim):
        super().__init__()
        self.input_dim = input_dim
        self.model = nn.Sequential(nn.Linear(input_dim, emb_dim), nn.GELU(), nn.Linear(emb_dim, emb_dim))

    def forward(self, x):
        return self.model(x.view(-1, self.input_dim))


class CourseContextUnet(nn.Module):
    def __init__(self, in_channels=3, n_feat=64, n_cfeat=5, height=16):
        super().__init__()
        self.in_channels, self.n_feat, self.n_cfeat, self.h = in_channels, n_feat, n_cfeat, height
        self.init_conv = CourseResidualConvBlock(in_channels, n_feat, is_res=True)
        self.down1 = CourseUnetDown(n_feat, n_feat)
        self.down2 = CourseUnetDown(n_feat, 2 * n_feat)
        self.to_vec = nn.Sequential(nn.AvgPool2d(4), nn.GELU())
        self.timeembed1 = CourseEmbedFC(1, 2 * n_feat)
        self.timeembed2 = CourseEmbedFC(1, 1 * n_feat)
        self.contextembed1 = CourseEmbedFC(n_cfeat, 2 * n_feat)
        self.contextembed2 = CourseEmbedFC(n_cfeat, 1 * n_feat)
        self.up0 = nn.Sequential(nn.ConvTranspose2d(2 * n_feat, 2 * n_feat, self.h // 4, self.h // 4),
                                 nn.GroupNorm(8, 2 * n_feat), nn.ReLU())
        self.up1 = CourseUnetUp(4 * n_feat, n_feat)
        self.up2 = CourseUnetUp(2 * n_feat, n_feat)
        self.out = nn.Sequential(nn.Conv2d(2 * n_feat, n_feat, 3, 1, 1), nn.GroupNorm(8, n_feat), nn.ReLU(),
                                 nn.Conv2d(n_feat, self.in_channels, 3, 1, 1))

    def forward(self, x, t, c=None):
        x = self.init_conv(x)
        down1 = self.down1(x)
        down2 = self.down2(down1)
        hiddenvec = self.to_vec(down2)
        if c is None:
            c = torch.zeros(x.shape[0], self.n_cfeat).to(x)
        cemb1 = self.contextembed1(c).view(-1, self.n_feat * 2, 1, 1)
        temb1 = self.timeembed1(t).view(-1, self.n_feat * 2, 1, 1)
        cemb2 = self.contextembed2(c).view(-1, self.n_feat, 1, 1)
        temb2 = self.timeembed2(t).view(-1, self.n_feat, 1, 1)
        up1 = self.up0(hiddenvec)
        up2 = self.up1(cemb1 * up1 + temb1, down2)
        up3 = self.up2(cemb2 * up2 + temb2, down1)
        return self.out(torch.cat((up3, x), 1))


# --------------------------------------------------------------------------------------------- the course's loop
def course_schedule(timesteps: int = 500, beta1: float = 1e-4, beta2: float = 0.02, device=None):
    """The course's schedule, (T + 1,) tensors ``(b_t, a_t, ab_t)``: β linear in [β1, β2] over t = 0…T, ᾱ by a
    cumulative sum of logs, ᾱ_0 = 1."""
    b_t = (beta2 - beta1) * torch.linspace(0, 1, timesteps + 1, device=device) + beta1   # (T+1,)
    a_t = 1 - b_t
    ab_t = torch.cumsum(a_t.log(), dim=0).exp()
    ab_t[0] = 1
    return b_t, a_t, ab_t


def course_perturb_input(x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, ab_t: torch.Tensor) -> torch.Tensor:
    """The course's forward process: √ᾱ_t x + (1 − ᾱ_t) ε (sic: Eq. (4) has √(1 − ᾱ_t)). x, noise (B, C, H, W)."""
    return ab_t.sqrt()[t, None, None, None] * x + (1 - ab_t[t, None, None, None]) * noise


def course_training_step(model: nn.Module, optim: torch.optim.Optimizer, x: torch.Tensor, c: torch.Tensor,
                         ab_t: torch.Tensor, timesteps: int, generator: torch.Generator) -> torch.Tensor:
    """One iteration of the course's context-training loop: drop the context with probability 0.1, perturb, predict
    the noise, MSE, Adam step. ``x`` (B, 3, H, W) images, ``c`` (B, n_cfeat) one-hot contexts, ``generator`` on
    ``x``'s device. Returns the loss."""
    optim.zero_grad()
    context_mask = torch.bernoulli(torch.full((c.shape[0],), 0.9, device=x.device), generator=generator)  # (B,)
    c = c * context_mask.unsqueeze(-1)
    noise = torch.randn(x.shape, generator=generator, device=x.device)                 # (B, C, H, W)
    t = torch.randint(1, timesteps + 1, (x.shape[0],), generator=generator, device=x.device)  # (B,)
    x_pert = course_perturb_input(x, t, noise, ab_t)
    pred_noise = model(x_pert, t / timesteps, c=c)
    loss = F.mse_loss(pred_noise, noise)
    loss.backward()
    optim.step()
    return loss
