"""The original course's ContextUnet, rebuilt as it was, as the benchmark's fp32 reference.

Source: the DeepLearning.AI short course "How Diffusion Models Work" (2023), ``diffusion_utilities.py`` and the
lab notebooks. Kept faithful on purpose, bugs included, so the benchmark measures against what students ran:
``ResidualConvBlock.forward`` builds a fresh, randomly initialised 1×1 Conv2d on every call when the channel count
changes (the first block, 3 → n_feat), and everything runs in fp32 with the default memory format.
Do not use it for anything but comparisons; ``dlhelpers.unet.ContextUnet`` is the fixed version.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class CourseResidualConvBlock(nn.Module):
    def __init__(self, in_channels, out_channels, is_res=False):
        super().__init__()
        self.same_channels = in_channels == out_channels
        self.is_res = is_res
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels), nn.GELU())
        self.conv2 = nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels), nn.GELU())

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
