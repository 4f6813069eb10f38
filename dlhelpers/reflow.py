"""Reflow, rectified flow's second round: noise–sprite pairs drawn with a trained flow model's ODE, then the same flow
loss on those fixed pairs, so that the new model's paths are straighter and fewer network calls reach a sprite.

References
- Liu, Gong & Liu, "Flow Straight and Fast: Learning to Generate and Transfer Data with Rectified Flow", 2023,
  arXiv:2209.03003 — Algorithm 1: from the current flow draw pairs (noise, the ODE's end point), train a new flow
  on the fixed pairs with the same loss (the "coupling" is the only new part); repeat for straighter paths.
- Lee, Lin & Fanti, "Improving the Training of Rectified Flows", 2024, arXiv:2405.20320 — one reflow round is
  enough, initialise the new flow from the first, and train the ends of the path (small and large t) more often.

What is new here is only the coupling: ``make_pairs`` draws the pairs with any flow sampler of the registry
(``dlhelpers.samplers``), and ``PairDataset`` hands them to ``train`` as (x₀, context, ε) — the trainer then uses
each image's own ε instead of a fresh draw (``dlhelpers.training.coupled_noise``). The loss, the trainer, the
checkpoints and the samplers are the flow model's own.

Every pair is reproducible on its own: chunk k of the pairs starts from x_T drawn on the CPU from a generator seeded
with (seed, k), so a run killed between chunks resumes to the same pairs, on any device.

Key: noise = ε = x_T (the noise end of a pair), x0 = x̂₀ (the teacher's sprite), labels = each pair's class.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .devices import model_device
from .io import CorruptFileError, atomic_torch_save, safe_torch_load
from .validation import check_positive_int, check_real


@dataclass(frozen=True)
class PairRecipe:
    """How the pairs are drawn: which sampler of the teacher, how many, from which seed."""

    sampler: str = "flow-heun"     # a flow sampler of the registry; Heun: second order, so fewer calls per pair
    steps: int = 5                 # its steps: more steps, pairs closer to the teacher's exact ODE, slower to make
    per_class: int = 2000          # pairs per class: the pair set is the reflowed model's whole training set
    seed: int = 0                  # chunk k's noise comes from a generator seeded with (seed, k)
    guidance_scale: float = 1.0    # the teacher's guidance while drawing: 1 = plain conditional sampling
    chunk: int = 500               # pairs per chunk: a kill loses at most one chunk's work

    def validate(self) -> "PairRecipe":
        check_positive_int(self.steps, "steps")
        check_positive_int(self.per_class, "per_class")
        check_positive_int(self.chunk, "chunk")
        check_positive_int(self.seed, "seed", low=0)
        check_real(self.guidance_scale, "guidance_scale", low=0.0)
        return self


def pair_labels(recipe: PairRecipe, n_classes: int) -> torch.Tensor:
    """The class of every pair, cycling 0, 1, …, K−1 so that each chunk holds every class: (N,)."""
    return torch.arange(recipe.per_class * n_classes) % n_classes


def chunk_noise(recipe: PairRecipe, k: int, n: int, shape: tuple) -> torch.Tensor:
    """Chunk k's x_T (n, C, H, W), drawn on the CPU (the same on every device)."""
    g = torch.Generator().manual_seed(recipe.seed * 1_000_003 + k)
    return torch.randn((n, *shape), generator=g)


def make_pairs(model, path, recipe: PairRecipe = PairRecipe(), out: str | Path | None = None,
               progress: bool = True) -> dict:
    """Draw ``recipe``'s pairs with ``model`` (a trained flow model) on ``path``: {"noise" (N, C, H, W), "x0" (N, C,
    H, W) clamped to [−1, 1], "labels" (N,), "recipe", "sha256", "seconds" (the wall time of drawing them, summed
    over the chunks, resumed runs included)}. With ``out`` (a folder), every chunk is written
    there atomically as it is finished and a finished chunk is never drawn again (resumable)."""
    from tqdm.auto import tqdm

    from . import samplers

    recipe = recipe.validate()
    sampler = samplers.get(recipe.sampler)
    if sampler.path != path.PATH:
        raise ValueError(f"recipe's sampler {recipe.sampler!r} walks the {sampler.path!r} path, but path is "
                         f"{path!r}: the teacher's pairs come from its own ODE")
    device = model_device(model)
    shape = (model.in_channels, model.h, model.h)
    labels = pair_labels(recipe, model.n_cfeat)
    folder = Path(out) if out is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    noises, x0s, seconds = [], [], []
    starts = range(0, len(labels), recipe.chunk)
    for k, start in enumerate(tqdm(starts, desc="reflow pairs", disable=not progress)):
        part = labels[start:start + recipe.chunk]
        saved = _read_chunk(folder, k, recipe, len(part)) if folder is not None else None
        if saved is None:
            start_time = time.perf_counter()
            x_T = chunk_noise(recipe, k, len(part), shape)
            context = torch.nn.functional.one_hot(part, model.n_cfeat).float()
            x0 = samplers.sample(recipe.sampler, model, len(part), path, steps=recipe.steps, context=context.to(device),
                                 x_T=x_T.to(device), guidance_scale=recipe.guidance_scale, progress=False,
                                 save_every=None).samples.clamp(-1, 1).cpu()
            saved = {"recipe": asdict(recipe), "chunk": k, "noise": x_T, "x0": x0,
                     "seconds": time.perf_counter() - start_time}
            if folder is not None:
                atomic_torch_save(saved, folder / f"chunk_{k:04d}.pt")
        noises.append(saved["noise"])
        x0s.append(saved["x0"])
        seconds.append(saved.get("seconds"))
    noise, x0 = torch.cat(noises), torch.cat(x0s)
    drawn = None if None in seconds else round(sum(seconds), 1)   # chunks written before timings were kept: None
    return {"noise": noise, "x0": x0, "labels": labels, "recipe": recipe, "sha256": pairs_sha256(noise, x0),
            "seconds": drawn}


def _read_chunk(folder: Path, k: int, recipe: PairRecipe, n: int) -> dict | None:
    path = folder / f"chunk_{k:04d}.pt"
    if not path.exists():
        return None
    saved = safe_torch_load(path)
    if not isinstance(saved, dict) or saved.get("recipe") != asdict(recipe) or saved.get("chunk") != k:
        theirs = saved.get("recipe") if isinstance(saved, dict) else "?"
        raise ValueError(f"{path} was drawn with another recipe ({theirs}); delete {folder} to draw the pairs of "
                         f"{asdict(recipe)}")
    if saved["noise"].shape[0] != n or saved["x0"].shape != saved["noise"].shape:
        raise CorruptFileError(f"{path} holds {saved['noise'].shape[0]} pairs, expected {n}; delete it to redraw it")
    return saved


def pairs_sha256(noise: torch.Tensor, x0: torch.Tensor) -> str:
    """A checksum of the pairs' values (fp32, in order): the manifest records which pairs a model was trained on."""
    h = hashlib.sha256()
    for t in (noise, x0):
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


class PairDataset(torch.utils.data.TensorDataset):
    """The pairs as ``train`` reads them: tensors (x₀ (N, C, H, W), one-hot contexts (N, K), ε (N, C, H, W))."""

    def __init__(self, pairs: dict, n_classes: int = 5):
        labels = pairs["labels"]
        super().__init__(pairs["x0"].float(), torch.nn.functional.one_hot(labels, n_classes).float(),
                         pairs["noise"].float())
