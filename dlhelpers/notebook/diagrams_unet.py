"""Pictures for notebook 2 (the UNet), drawn at run time with matplotlib boxes and arrows.

References
- Ronneberger, Fischer & Brox, "U-Net", 2015, arXiv:1505.04597 — encoder, bottleneck, decoder, skip connections.
- Perez et al., "FiLM", AAAI 2018, arXiv:1709.07871 — eq. (1)–(2), FiLM(h) = γ ⊙ h + β; the ContextUnet's
  ``inject`` uses γ = cemb (from the context) and β = temb (from the time): h ← cemb ⊙ h + temb, marked on the
  diagram where it enters, before ``up1`` and before ``up2``.

``draw_unet(shapes)`` draws the course's ContextUnet (``dlhelpers.unet``) as a U: the encoder down the left
(init_conv 16×16 → down1 8×8 → down2 4×4), the bottleneck vector at the bottom, the decoder up the right
(up0 4×4 → up1 8×8 → up2 16×16 → out), the three skip connections, and the two injection points. ``shapes``
maps block names to the (C, H, W) shapes a forward pass produced (e.g. recorded by forward hooks), so the boxes
show the real shapes, not typed-in ones.
"""
from __future__ import annotations

from typing import Mapping

# block name → (x, y) centre; y is the resolution level (3 = 16×16, 2 = 8×8, 1 = 4×4, 0 = the vector)
_LAYOUT = {
    "input": (-0.4, 3.0), "init_conv": (1.6, 3.0), "down1": (1.6, 2.0), "down2": (1.6, 1.0), "to_vec": (4.5, 0.0),
    "up0": (7.4, 1.0), "up1": (7.4, 2.0), "up2": (7.4, 3.0), "out": (9.4, 3.0),
}
_ROLE = {
    "input": "input x_t", "init_conv": "init_conv", "down1": "down1", "down2": "down2",
    "to_vec": "to_vec (vector)", "up0": "up0", "up1": "up1", "up2": "up2", "out": "out = ε̂ (noise)",
}
_FALLBACK = {  # symbolic (C, H, W) for F = n_feat channels, used when no shapes are given
    "input": "(3, 16, 16)", "init_conv": "(F, 16, 16)", "down1": "(F, 8, 8)", "down2": "(2F, 4, 4)",
    "to_vec": "(2F, 1, 1)", "up0": "(2F, 4, 4)", "up1": "(F, 8, 8)", "up2": "(F, 16, 16)", "out": "(3, 16, 16)",
}
_ENCODER, _DECODER, _VECTOR, _INJECT = "#cfe3f7", "#d8f0d2", "#f3e3c3", "#c0392b"
# (from, to, where the skip's features join): init_conv → out, down1 → up2, down2 → up1
_SKIPS = (("init_conv", "out"), ("down1", "up2"), ("down2", "up1"))
BLOCKS = tuple(_LAYOUT)


def _check_shapes(shapes) -> dict:
    if shapes is None:
        return dict(_FALLBACK)
    if not isinstance(shapes, Mapping):
        raise TypeError(f"shapes must be a dict of block name → (C, H, W), got {type(shapes).__name__}")
    unknown = sorted(set(shapes) - set(_LAYOUT))
    if unknown:
        raise ValueError(f"shapes has unknown block names {unknown}; known: {list(_LAYOUT)}")
    text = dict(_FALLBACK)
    for name, shape in shapes.items():
        if not isinstance(shape, (tuple, list)) or not all(isinstance(d, int) and d > 0 for d in shape):
            raise ValueError(f"shapes[{name!r}] must be a tuple of positive ints such as (64, 16, 16), got {shape!r}")
        text[name] = str(tuple(shape))
    return text


def _box(ax, name, text, color, w=1.75, h=0.56):
    from matplotlib.patches import FancyBboxPatch

    x, y = _LAYOUT[name]
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03", fc=color, ec="0.3", lw=1))
    ax.text(x, y + 0.1, _ROLE[name], ha="center", va="center", fontsize=8.5, weight="bold")
    ax.text(x, y - 0.13, text, ha="center", va="center", fontsize=8, family="monospace")


def _arrow(ax, a, b, **kw):
    style = dict(arrowstyle="-|>", color="0.25", lw=1.2, shrinkA=0, shrinkB=0)
    style.update(kw)
    ax.annotate("", xy=b, xytext=a, arrowprops=style)


def draw_unet(shapes: Mapping | None = None, ax=None):
    """Draw the ContextUnet as a U with its real shapes; returns the matplotlib axes.

    ``shapes``: block name (``BLOCKS``: "input", "init_conv", "down1", "down2", "to_vec", "up0", "up1", "up2",
    "out") → (C, H, W) of that block's output (of the input image for "input"); missing names show the symbolic
    shape in terms of F = n_feat. Red circles mark h ← inject(h, cemb, temb), before up1 and before up2.
    """
    import matplotlib.pyplot as plt

    text = _check_shapes(shapes)
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 4.6))
    hw, hh = 0.875, 0.28   # half the box width and height
    for name in BLOCKS:
        color = _ENCODER if name in ("input", "init_conv", "down1", "down2") else (
            _VECTOR if name == "to_vec" else _DECODER)
        _box(ax, name, text[name], color)

    # main path: input → encoder → vector → decoder → out
    P = _LAYOUT
    _arrow(ax, (P["input"][0] + hw, 3.0), (P["init_conv"][0] - hw, 3.0))
    for a, b in (("init_conv", "down1"), ("down1", "down2")):
        _arrow(ax, (P[a][0], P[a][1] - hh), (P[b][0], P[b][1] + hh))
    _arrow(ax, (P["down2"][0], 1.0 - hh), (P["to_vec"][0] - hw, 0.0), connectionstyle="angle,angleA=-90,angleB=0")
    _arrow(ax, (P["to_vec"][0] + hw, 0.0), (P["up0"][0], 1.0 - hh), connectionstyle="angle,angleA=0,angleB=-90")
    _arrow(ax, (P["up2"][0] + hw, 3.0), (P["out"][0] - hw, 3.0))

    # the two injection points, between up0 → up1 and up1 → up2
    for lower, upper, k in (("up0", "up1", 1), ("up1", "up2", 2)):
        x, y0, y1 = P[lower][0], P[lower][1] + hh, P[upper][1] - hh
        ym = (y0 + y1) / 2
        _arrow(ax, (x, y0), (x, ym - 0.1), arrowstyle="-")
        _arrow(ax, (x, ym + 0.1), (x, y1))
        ax.add_patch(plt.Circle((x, ym), 0.1, fc="white", ec=_INJECT, lw=1.8))
        ax.text(x, ym, "⊙", ha="center", va="center", fontsize=9, color=_INJECT)
        ax.text(x + 0.2, ym, f"h ← inject(h, cemb{k}, temb{k})", ha="left", va="center", fontsize=8.5, color=_INJECT)
        ax.text(x + 0.2, ym - 0.17, f"(embeddings from contextembed{k}, timeembed{k})", ha="left", va="center",
                fontsize=7, color=_INJECT)

    # skip connections: the encoder's features, concatenated with the decoder's along channels
    for (a, b), bend in zip(_SKIPS, (0.0, 0.1, 0.15)):
        (xa, ya), (xb, yb) = P[a], P[b]
        end = (xb - hw, yb + 0.12) if a == "init_conv" else (xb - hw, yb - 0.12)
        start = (xa + hw, ya + (0.12 if a == "init_conv" else 0.0))
        if a == "init_conv":  # over the top of up2, into out
            ax.annotate("", xy=(xb, yb + hh), xytext=(xa, ya + hh), arrowprops=dict(
                arrowstyle="-|>", color="0.5", lw=1, ls="--", connectionstyle="arc3,rad=-0.12"))
            ax.text((xa + xb) / 2, 3.62, "skip (concatenated)", ha="center", fontsize=7.5, color="0.4")
            continue
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="0.5", lw=1, ls="--",
                                                              connectionstyle=f"arc3,rad={bend}"))
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.1, "skip (concatenated)", ha="center",
                fontsize=7.5, color="0.4")

    for y, label in ((3, "16×16"), (2, "8×8"), (1, "4×4"), (0, "1×1")):
        ax.text(-2.5, y, label, ha="left", va="center", fontsize=8, color="0.45")
    same = text["input"] == text["out"]
    ax.set_title(f"ContextUnet: input {text['input']} → output {text['out']}"
                 + (" — the same size" if same else ""), fontsize=10)
    ax.set_xlim(-2.6, 10.6)
    ax.set_ylim(-0.5, 3.8)
    ax.set_aspect("auto")
    ax.set_axis_off()
    return ax
