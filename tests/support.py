"""Helpers shared by the unit tests (imported as ``from support import …``; fixtures live in conftest.py)."""
import shutil

import torch
from torch.utils.data import TensorDataset


def corner_squares(n: int = 64, size: int = 16) -> TensorDataset:
    """Tiny training images: a bright square in one of two corners; the class is the corner (one-hot of 5)."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (n,), generator=g)
    x = -torch.ones(n, 3, size, size)
    q = size // 8
    for i, k in enumerate(labels.tolist()):
        x[i, :, q * (1 + 4 * k):q * (3 + 4 * k), q:3 * q] = 1
    return TensorDataset(x, torch.nn.functional.one_hot(labels, 5).float())


class OracleModel(torch.nn.Module):
    """A closed-form 'network' that knows x0: it returns the exact noise ε = (x_t − √ᾱ_t x0) / √(1 − ᾱ_t)."""

    def __init__(self, x0, schedule):
        super().__init__()
        self.x0, self.schedule = x0, schedule
        self.in_channels, self.h, self.n_cfeat = x0.shape[1], x0.shape[2], 5
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, t_norm, c=None):
        t = (t_norm.reshape(-1) * self.schedule.timesteps).round().long()
        ab = self.schedule.alpha_bar[t].view(-1, 1, 1, 1)
        return (x - ab.sqrt() * self.x0) / (1 - ab).sqrt()


class GaussianDataModel(torch.nn.Module):
    """The exact ε-predictor for data x₀ ~ N(0, s² I), which is linear, ε̂ = √(1 − ᾱ) / (ᾱ s² + 1 − ᾱ) · x_t,
    plus a constant error of 0.01 — a stand-in for a well-trained network that is slightly wrong everywhere."""

    def __init__(self, schedule, s=0.5, error=0.01):
        super().__init__()
        self.schedule, self.s, self.error = schedule, s, error
        self.in_channels, self.h, self.n_cfeat = 3, 16, 5
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, t_norm, c=None):
        t = (t_norm.reshape(-1) * self.schedule.timesteps).round().long()
        ab = self.schedule.alpha_bar[t].view(-1, 1, 1, 1)
        return (1 - ab).sqrt() / (ab * self.s ** 2 + 1 - ab) * x + self.error


def record_widths(monkeypatch) -> list:
    """A seam: every ContextUnet built after this call records its ``n_feat`` keyword in the returned list."""
    import dlhelpers.unet
    built, real = [], dlhelpers.unet.ContextUnet

    def spy(*args, **kwargs):
        built.append(kwargs.get("n_feat"))
        return real(*args, **kwargs)
    monkeypatch.setattr(dlhelpers.unet, "ContextUnet", spy)
    return built


def flip_middle_byte(path):
    """Damage a file in place the way a bad disk or a cut download would: one byte in the middle."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def corrupt_copy(src, dst):
    """Copy a data file and its JSON sidecar (which holds the expected sha256) to dst, then damage the copy."""
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    flip_middle_byte(dst)
    return dst


def exercise_notebook(nb):
    """A real course notebook cut down to its exercises: the setup cell (the first code cell), every nbgrader cell
    (solution stubs, graded checks with their hidden tests, written answers) with the prose cell just before each
    solution, and the self-study model answer after a written one. It grades exactly as the whole notebook grades
    (same cells, same metadata, same checks) but runs in seconds, without the demos: the grading end-to-end tests
    and the hub test autograde it, so a course notebook itself runs only under nbval and in the browser."""
    import nbformat

    from dlhelpers.tools.student_copies import SELF_STUDY_TAG

    cells, keep = nb.cells, set()
    keep.add(next(i for i, c in enumerate(cells) if c.cell_type == "code"))
    for i, c in enumerate(cells):
        md = c.metadata.get("nbgrader", {})
        if md.get("solution") or md.get("grade"):
            keep.add(i)
            if md.get("solution") and i > 0 and cells[i - 1].cell_type == "markdown":
                keep.add(i - 1)
            if i + 1 < len(cells) and SELF_STUDY_TAG in cells[i + 1].metadata.get("tags", []):
                keep.add(i + 1)
    title = nbformat.v4.new_markdown_cell("# Exercises only (a test's cut of a course notebook)")
    return nbformat.v4.new_notebook(cells=[title] + [cells[i] for i in sorted(keep)], metadata=nb.metadata)


def prose_numbers_not_printed(cells, marker: str) -> list:
    """The decimal numbers in the markdown right after the code cell containing ``marker`` that its stored output
    does not print (sorted): the prose must say what the notebook measured. Fails the test when the cell is missing
    or has no stored output."""
    import re
    i = next((i for i, c in enumerate(cells) if c.cell_type == "code" and marker in c.source), None)
    assert i is not None, f"no code cell contains {marker!r}"
    out = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                  for o in cells[i].get("outputs", []))
    assert out, f"{marker}: the cell has no stored output; run `python -m dlhelpers refresh-outputs`"
    prose = next(c.source for c in cells[i + 1:] if c.cell_type == "markdown")
    prose = re.sub(r"<details>.*?</details>|\$\$.*?\$\$", " ", prose, flags=re.S)
    return sorted(n for n in set(re.findall(r"(?<![\w.])\d+\.\d+", prose)) if n not in out)
