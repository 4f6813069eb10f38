"""Notebook 07 (one call: reflow): the coupling and the straightness of a path — wrong answers with the hint each
check gives, and genuinely different right ones."""
from dlhelpers.tools.catalogues import Catalogue, right_answers, wrong_answers

SETUP = "import torch\nimport torch.nn.functional as F\n"

# ------------------------------------------------------------------------------------------- (a) the pairs
PAIRS_HEAD = "def my_pairs(sample, labels, generator):\n"
_XT = "x_T = torch.randn((len(labels), 3, 16, 16), generator=generator, device=labels.device)\n"
_C = "context = F.one_hot(labels, 5).float()\n"
_S = "x0 = sample(x_T, context).clamp(-1, 1)\n"
PAIRS_WRONG = {   # name → (body, the phrase the check's message must contain)
    "fresh noise in the pair": (_XT + _C + _S + "return torch.randn(x_T.shape, generator=generator), x0",
                                "not the x_T the sprites came from"),
    "pair swapped": (_XT + _C + _S + "return x0, x_T", "swapped"),
    "no clamp": (_XT + _C + "return x_T, sample(x_T, context)", "clamp them"),
    "x_T from the global RNG": ("x_T = torch.randn((len(labels), 3, 16, 16))\n" + _C + _S + "return x_T, x0",
                                "different x_T"),
    "uniform noise": ("x_T = torch.rand((len(labels), 3, 16, 16), generator=generator)\n" + _C + _S
                      + "return x_T, x0", "torch.randn"),
    "contexts shuffled": (_XT + "context = F.one_hot(labels.flip(0), 5).float()\n" + _S + "return x_T, x0",
                          "do not match labels"),
    "one sprite at a time, fresh noise each": (
        "xs, ns = [], []\nfor k in labels:\n"
        "    n = torch.randn((1, 3, 16, 16), generator=generator)\n"
        "    xs.append(sample(n, F.one_hot(k.view(1), 5).float()).clamp(-1, 1))\n"
        "    ns.append(torch.randn((1, 3, 16, 16), generator=generator))\n"
        "return torch.cat(ns), torch.cat(xs)", "not the x_T the sprites came from"),
}
PAIRS_RIGHT = {
    "clamp with torch.clamp, explicit shape": (
        "N = labels.shape[0]\nnoise = torch.randn(N, 3, 16, 16, generator=generator, device=labels.device)\n"
        "sprites = torch.clamp(sample(noise, F.one_hot(labels, num_classes=5).float()), min=-1.0, max=1.0)\n"
        "return noise, sprites"),
    "one-hot by indexing an identity matrix": (
        _XT + "context = torch.eye(5, device=labels.device)[labels]\n" + _S + "return (x_T, x0)"),
    "a list, not a tuple": (_XT + _C + "return [x_T, sample(x_T, context).clamp(-1, 1)]"),
}

# ------------------------------------------------------------------------------------------- (b) straightness
STRAIGHT_HEAD = "def my_straightness(frames):\n"
_FLAT = "flat = frames.flatten(2)\n"
_SEG = "seg = (flat[1:] - flat[:-1]).norm(dim=2)\n"
_CHORD = "chord = (flat[-1] - flat[0]).norm(dim=1)\n"
STRAIGHT_WRONG = {
    "upside down": (_FLAT + _SEG + _CHORD + "return seg.sum(0) / chord", "upside down"),
    "squared lengths": (_FLAT + "seg = ((flat[1:] - flat[:-1]) ** 2).sum(2)\n"
                        "chord = ((flat[-1] - flat[0]) ** 2).sum(1)\nreturn chord / seg.sum(0)",
                        "squared lengths do not add"),
    "mean of the segments": (_FLAT + _SEG + _CHORD + "return chord / seg.mean(0)", "not their mean"),
    "averaged over the sprites": (_FLAT + _SEG + _CHORD + "return (chord / seg.sum(0)).mean()",
                                  "one value per path"),
    "L1 lengths": (_FLAT + "seg = (flat[1:] - flat[:-1]).abs().sum(2)\nchord = (flat[-1] - flat[0]).abs().sum(1)\n"
                   "return chord / seg.sum(0)", "Euclidean"),
    "chord to the second frame": (_FLAT + _SEG + "return seg[0] / seg.sum(0)", "first frame to the last"),
    "not flattened": ("seg = (frames[1:] - frames[:-1]).norm(dim=-1)\nchord = (frames[-1] - frames[0]).norm(dim=-1)\n"
                      "return chord / seg.sum(0)", "expected shape"),
}
STRAIGHT_RIGHT = {
    "the library's helper": "from dlhelpers.flow import straightness\nreturn straightness(frames)",
    "a loop over the segments, in float64": (
        "x = frames.double().reshape(frames.shape[0], frames.shape[1], -1)\narc = torch.zeros(x.shape[1], "
        "dtype=x.dtype)\nfor k in range(x.shape[0] - 1):\n    arc = arc + torch.linalg.vector_norm(x[k + 1] - x[k], "
        "dim=1)\nreturn (torch.linalg.vector_norm(x[-1] - x[0], dim=1) / arc).float()"),
    "torch.diff and sqrt of sums": (
        "d = torch.diff(frames, dim=0).flatten(2)\nchord = (frames[-1] - frames[0]).flatten(1).pow(2).sum(1).sqrt()\n"
        "return chord / d.pow(2).sum(2).sqrt().sum(0)"),
}


CATALOGUES = [
    Catalogue("07", "nb07_pairs", wrong_answers(PAIRS_HEAD, PAIRS_WRONG), right_answers(PAIRS_HEAD, PAIRS_RIGHT),
              setup=SETUP),
    Catalogue("07", "nb07_straightness", wrong_answers(STRAIGHT_HEAD, STRAIGHT_WRONG),
              right_answers(STRAIGHT_HEAD, STRAIGHT_RIGHT), setup=SETUP),
]
