"""Notebook 02 (the UNet): injecting the embeddings and the one-hot contexts — wrong answers with their hints, and
genuinely different right ones."""
from dlhelpers.tools.catalogues import Catalogue, right_answers, wrong_answers

SETUP = "import torch\nimport torch.nn.functional as F\n"

# ------------------------------------------------------------------------------------------------ inject
INJECT_HEAD = "def my_inject(h, cemb, temb):\n"
INJECT_WRONG = {   # name → (body, the phrase the check's message must contain)
    "context added": ("return h + cemb + temb", "the context was added"),
    "swapped": ("return temb * h + cemb", "swapped"),
    "time inside the product": ("return cemb * (h + temb)", "inside the product"),
    "both multiply": ("return cemb * temb * h", "both embeddings multiply"),
    "sum of the embeddings as the gain": ("return (cemb + temb) * h", "both embeddings multiply"),
    "time forgotten": ("return cemb * h", "time embedding was not added"),
    "context forgotten": ("return h + temb", "context embedding is missing"),
    "first image's embeddings for all": ("return cemb[0] * h + temb[0]", "its own embeddings"),
    "in place": ("h.mul_(cemb).add_(temb)\nreturn h", "in place"),
    "forgot return": ("cemb * h + temb", "forget `return`"),
}
INJECT_RIGHT = {
    "reordered": "return h * cemb + temb",
    "addcmul": "return torch.addcmul(temb, cemb, h)",
    "expanded": "return cemb.expand_as(h) * h + temb.expand_as(h)",
    "einsum": "return torch.einsum('bchw,bcij->bchw', h, cemb) + temb",
    "flattened channels": """
        B, C, H, W = h.shape
        flat = h.reshape(B, C, H * W) * cemb.reshape(B, C, 1) + temb.reshape(B, C, 1)
        return flat.reshape(B, C, H, W)""",
}

# ------------------------------------------------------------------------------------------------ one-hot
ONE_HOT_HEAD = "def my_one_hot_context(labels, n_classes):\n"
ONE_HOT_WRONG = {
    "−1 clamped to class 0": ("return F.one_hot(labels.clamp(min=0), n_classes).float()", "class 0's row"),
    "integer dtype": ("return F.one_hot(labels.clamp(min=0), n_classes) * (labels >= 0).long().unsqueeze(1)",
                      "expected a float tensor"),
    "one_hot of −1 crashes": ("return F.one_hot(labels, n_classes).float()", "only on label −1"),
    "eye indexed with −1 (last row)": ("return torch.eye(n_classes)[labels]", "last class's row"),
    "fixed 5 classes": ("""
        out = torch.zeros(len(labels), 5)
        keep = labels >= 0
        out[keep, labels[keep]] = 1.0
        return out""", "not a fixed 5"),
    "extra column for the null class": ("return F.one_hot(labels + 1, n_classes + 1).float()", "no extra column"),
    "uniform null row": ("""
        out = F.one_hot(labels.clamp(min=0), n_classes).float()
        out[labels < 0] = 1.0 / n_classes
        return out""", "must give the null context, a row of zeros"),
    "labels changed in place": ("""
        labels[labels < 0] = 0
        return F.one_hot(labels, n_classes).float()""", "changed labels in place"),
    "whole columns set": ("""
        out = torch.zeros(len(labels), n_classes)
        out[:, labels[labels >= 0]] = 1.0
        return out""", "one 1 per row"),
}
ONE_HOT_RIGHT = {
    "shifted one_hot": "return F.one_hot(labels + 1, n_classes + 1)[:, 1:].float()",
    "eye with a zero row": "return torch.cat([torch.eye(n_classes), torch.zeros(1, n_classes)])[labels]",
    "python loop": """
        out = torch.zeros(len(labels), n_classes)
        for i, y in enumerate(labels.tolist()):
            if y != -1:
                out[i, y] = 1.0
        return out""",
    "mask after one_hot": """
        mask = (labels != -1).float()[:, None]
        return F.one_hot(labels.clamp(min=0), n_classes).float() * mask""",
    "compare with arange": "return (labels[:, None] == torch.arange(n_classes, device=labels.device)).float()",
}


CATALOGUES = [
    Catalogue("02", "nb02_inject", wrong_answers(INJECT_HEAD, INJECT_WRONG), right_answers(INJECT_HEAD, INJECT_RIGHT),
              SETUP),
    Catalogue("02", "nb02_one_hot_context", wrong_answers(ONE_HOT_HEAD, ONE_HOT_WRONG),
              right_answers(ONE_HOT_HEAD, ONE_HOT_RIGHT), SETUP),
]
