"""ContextUnet: the course's small UNet, x_t and its time t and context vector in, one image of the same size out —
the noise ε on DDPM's path, the velocity ε − x₀ on the flow path (what it learns is the run spec's prediction,
``dlhelpers.spec``; the network is the same).

References
- Ronneberger, Fischer & Brox, "U-Net", 2015, arXiv:1505.04597 — encoder, bottleneck, decoder with skips.
- Ho et al., DDPM, 2020, arXiv:2006.11239 — ε_θ(x_t, t), the network the loss (eq. 14) trains; flow matching
  (Lipman et al. 2023, arXiv:2210.02747) trains the same network as u_θ(x_t, t).
- The DeepLearning.AI short course "How Diffusion Models Work" (2023) — this exact layout, with the time
  embedding **added** and the context embedding **multiplied** into both decoder levels:
      h ← cemb ⊙ h + temb.

Shapes for the course's sprites (B, 3, 16, 16), n_feat = F:
    init_conv   (B, F, 16, 16)        residual block, 1×1 shortcut conv because 3 ≠ F
    down1       (B, F, 8, 8)
    down2       (B, 2F, 4, 4)
    to_vec      (B, 2F, 1, 1)         average-pooled bottleneck vector
    up0         (B, 2F, 4, 4)
    up1         (B, F, 8, 8)          input cemb1 ⊙ up0 + temb1, skip down2
    up2         (B, F, 16, 16)        input cemb2 ⊙ up1 + temb2, skip down1
    out         (B, 3, 16, 16)        same size as the input

Differences from the course's code, all bug fixes with the same cost or less: the 1×1 shortcut of a residual
block whose channel count changes is created in ``__init__`` (the course built a fresh, randomly initialised
Conv2d inside ``forward`` on every call, so the model was not deterministic and the layer never trained or saved);
``t`` is validated and reshaped once.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .devices import same_device
from .validation import check_context, check_image_batch, check_positive_int, check_tensor

# A residual block divides (shortcut + body) by about √2, so that the sum of two unit-variance signals keeps unit
# variance. The course wrote 1.414, and the shipped weights were trained with it: kept, not math.sqrt(2).
RESIDUAL_SCALE = 1.414


class ResidualConvBlock(nn.Module):
    """Two 3×3 conv → BatchNorm → GELU layers; with ``is_res``, (x + f(x)) / √2 keeps the variance near 1."""

    def __init__(self, in_channels: int, out_channels: int, is_res: bool = False):
        super().__init__()
        self.is_res = is_res
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels),
                                   nn.GELU())
        self.conv2 = nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels),
                                   nn.GELU())
        # Created here, not in forward(): a layer built per call would be random each time and never trained.
        self.shortcut = (nn.Conv2d(in_channels, out_channels, 1) if is_res and in_channels != out_channels
                         else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.conv1(x))
        if self.is_res:
            return (self.shortcut(x) + h) / RESIDUAL_SCALE
        return h


class UnetDown(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.model = nn.Sequential(ResidualConvBlock(in_channels, out_channels),
                                   ResidualConvBlock(out_channels, out_channels), nn.MaxPool2d(2))

    def forward(self, x):
        return self.model(x)  # (B, C, H, W) → (B, C', H/2, W/2)


class UnetUp(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.model = nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 2, 2),
                                   ResidualConvBlock(out_channels, out_channels),
                                   ResidualConvBlock(out_channels, out_channels))

    def forward(self, x, skip):
        return self.model(torch.cat((x, skip), 1))  # (B, C+C_skip, H, W) → (B, C', 2H, 2W)


class EmbedFC(nn.Module):
    """The 2-layer MLP that embeds a time or context vector: Linear → GELU → Linear."""

    def __init__(self, input_dim: int, emb_dim: int):
        super().__init__()
        self.input_dim = input_dim
        self.model = nn.Sequential(nn.Linear(input_dim, emb_dim), nn.GELU(), nn.Linear(emb_dim, emb_dim))

    def forward(self, x):
        return self.model(x.reshape(-1, self.input_dim))


class ContextUnet(nn.Module):
    """ε_θ(x_t, t/T, c). ``t`` is the *normalised* timestep t/T in [0, 1], shaped (B,), (B, 1) or (B, 1, 1, 1)
    (a float or 0-d tensor is broadcast); ``c`` is (B, n_cfeat) or None for the all-zero null context."""

    def __init__(self, in_channels: int = 3, n_feat: int = 64, n_cfeat: int = 5, height: int = 16):
        super().__init__()
        check_positive_int(in_channels, "in_channels")
        check_positive_int(n_feat, "n_feat")
        check_positive_int(n_cfeat, "n_cfeat")
        check_positive_int(height, "height", low=4)
        if height % 4:
            raise ValueError(f"height must be divisible by 4 (two 2× downsamplings), got {height}")
        if n_feat % 8:
            raise ValueError(f"n_feat must be divisible by 8 (GroupNorm with 8 groups), got {n_feat}")
        self.in_channels, self.n_feat, self.n_cfeat, self.h = in_channels, n_feat, n_cfeat, height

        self.init_conv = ResidualConvBlock(in_channels, n_feat, is_res=True)
        self.down1 = UnetDown(n_feat, n_feat)
        self.down2 = UnetDown(n_feat, 2 * n_feat)
        self.to_vec = nn.Sequential(nn.AvgPool2d(height // 4), nn.GELU())

        self.timeembed1 = EmbedFC(1, 2 * n_feat)
        self.timeembed2 = EmbedFC(1, n_feat)
        self.contextembed1 = EmbedFC(n_cfeat, 2 * n_feat)
        self.contextembed2 = EmbedFC(n_cfeat, n_feat)

        self.up0 = nn.Sequential(nn.ConvTranspose2d(2 * n_feat, 2 * n_feat, height // 4, height // 4),
                                 nn.GroupNorm(8, 2 * n_feat), nn.ReLU())
        self.up1 = UnetUp(4 * n_feat, n_feat)
        self.up2 = UnetUp(2 * n_feat, n_feat)
        self.out = nn.Sequential(nn.Conv2d(2 * n_feat, n_feat, 3, 1, 1), nn.GroupNorm(8, n_feat), nn.ReLU(),
                                 nn.Conv2d(n_feat, in_channels, 3, 1, 1))

    def embed(self, t: torch.Tensor, c: torch.Tensor):
        """The four embeddings, each (B, C, 1, 1) so they broadcast over the decoder's feature maps."""
        cemb1 = self.contextembed1(c).view(-1, 2 * self.n_feat, 1, 1)
        temb1 = self.timeembed1(t).view(-1, 2 * self.n_feat, 1, 1)
        cemb2 = self.contextembed2(c).view(-1, self.n_feat, 1, 1)
        temb2 = self.timeembed2(t).view(-1, self.n_feat, 1, 1)
        return cemb1, temb1, cemb2, temb2

    @staticmethod
    def inject(h: torch.Tensor, cemb: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """FiLM-style conditioning of a decoder level: the context scales the features, the time shifts them,
        h ← cemb ⊙ h + temb. A notebook may replace it on one instance (``model.inject = my_inject``)."""
        return cemb * h + temb

    def forward(self, x: torch.Tensor, t, c: torch.Tensor | None = None) -> torch.Tensor:
        t, c = self._check_inputs(x, t, c)
        x = self.init_conv(x)                    # (B, F, H, W)
        down1 = self.down1(x)                    # (B, F, H/2, W/2)
        down2 = self.down2(down1)                # (B, 2F, H/4, W/4)
        hiddenvec = self.to_vec(down2)           # (B, 2F, 1, 1)
        cemb1, temb1, cemb2, temb2 = self.embed(t, c)
        h0 = self.up0(hiddenvec)                 # (B, 2F, H/4, W/4)
        h1 = self.up1(self.inject(h0, cemb1, temb1), down2)     # (B, F, H/2, W/2)
        h2 = self.up2(self.inject(h1, cemb2, temb2), down1)     # (B, F, H, W)
        return self.out(torch.cat((h2, x), 1))   # (B, in_channels, H, W)

    def _check_inputs(self, x, t, c):
        # Shapes, dtypes and devices only: reading values (NaN checks) would force a GPU sync on every call.
        check_image_batch(x, "x", channels=self.in_channels, finite=False)
        if x.shape[-2:] != (self.h, self.h):
            raise ValueError(f"x must be {self.h}×{self.h} images (height={self.h}), got {tuple(x.shape[-2:])}")
        B = x.shape[0]
        if isinstance(t, (float, int)) and not isinstance(t, bool):
            t = torch.full((B,), float(t), device=x.device, dtype=x.dtype)
        check_tensor(t, "t")
        if not t.is_floating_point():
            raise TypeError(f"t must be the normalised timestep t/T as a float tensor, got dtype {t.dtype} "
                            f"(did you pass the integer t? divide by T)")
        if t.ndim == 0:
            t = t.reshape(1).expand(B)
        if t.ndim not in (1, 2, 4) or t.shape[0] != B or t.numel() != B:
            raise ValueError(f"t must have shape ({B},), ({B}, 1) or ({B}, 1, 1, 1), got {tuple(t.shape)}")
        if not same_device(t.device, x.device):
            raise ValueError(f"t is on {t.device} but x is on {x.device}")
        t = t.reshape(B, 1).to(x.dtype)
        c = check_context(c, B, self.n_cfeat, "c", device=x.device, finite=False)
        if c is None:
            c = x.new_zeros(B, self.n_cfeat)
        return t, c.to(x.dtype)
