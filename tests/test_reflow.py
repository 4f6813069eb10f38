"""Reflow (``dlhelpers.reflow``, issue 34): the pairs are the teacher sampler's own output, reproducible chunk by chunk
and resumable; the trainer uses each pair's own noise; a reflow preset starts from its teacher and records it."""
import json
from dataclasses import replace

import pytest
import torch

from dlhelpers import pretrained, reflow, samplers
from dlhelpers.flow import FlowPath
from dlhelpers.io import safe_torch_load
from dlhelpers.reflow import PairDataset, PairRecipe, make_pairs
from dlhelpers.training import TrainConfig, diffusion_loss, train
from dlhelpers.unet import ContextUnet

RECIPE = PairRecipe(sampler="flow-euler", steps=2, per_class=3, seed=4, chunk=4)   # 15 pairs in 4 chunks


def teacher():
    torch.manual_seed(0)
    return ContextUnet(3, 16, 5, 16).eval()


def test_every_pair_is_the_teacher_samplers_own_output():
    model, path = teacher(), FlowPath()
    pairs = make_pairs(model, path, RECIPE, progress=False)
    assert pairs["noise"].shape == pairs["x0"].shape == (15, 3, 16, 16)
    assert pairs["labels"].tolist() == [k % 5 for k in range(15)]            # every chunk holds every class
    for k, start in enumerate(range(0, 15, 4)):                              # redraw each chunk by hand
        n = min(4, 15 - start)
        x_T = torch.randn((n, 3, 16, 16), generator=torch.Generator().manual_seed(4 * 1_000_003 + k))
        ctx = torch.nn.functional.one_hot(pairs["labels"][start:start + n], 5).float()
        want = samplers.sample("flow-euler", model, n, path, steps=2, context=ctx, x_T=x_T, progress=False,
                               save_every=None).samples.clamp(-1, 1)
        torch.testing.assert_close(pairs["noise"][start:start + n], x_T, rtol=0, atol=0)
        torch.testing.assert_close(pairs["x0"][start:start + n], want, rtol=0, atol=0)


def test_a_run_killed_between_chunks_resumes_to_the_same_pairs(tmp_path, monkeypatch):
    model, path = teacher(), FlowPath()
    whole = make_pairs(model, path, RECIPE, progress=False)
    real, calls = samplers.sample, []

    def dies_on_the_third_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(samplers, "sample", dies_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        make_pairs(model, path, RECIPE, out=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunk_0000.pt", "chunk_0001.pt"]
    calls.clear()
    monkeypatch.setattr(samplers, "sample", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = make_pairs(model, path, RECIPE, out=tmp_path, progress=False)
    assert len(calls) == 2                                                    # only the two missing chunks drawn
    assert resumed["sha256"] == whole["sha256"]
    torch.testing.assert_close(resumed["x0"], whole["x0"], rtol=0, atol=0)
    kept = [safe_torch_load(p)["seconds"] for p in sorted(tmp_path.iterdir())]     # each chunk's own drawing time
    assert len(kept) == 4 and all(s > 0 for s in kept)
    assert resumed["seconds"] == pytest.approx(sum(kept), abs=0.06)           # the killed run's chunks count too
    with pytest.raises(ValueError, match="another recipe"):
        make_pairs(model, path, replace(RECIPE, seed=5), out=tmp_path, progress=False)


def test_bad_recipes_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match="^per_class"):
        make_pairs(teacher(), FlowPath(), replace(RECIPE, per_class=0), progress=False)
    with pytest.raises(ValueError, match="^recipe's sampler 'ddim'"):
        make_pairs(teacher(), FlowPath(), replace(RECIPE, sampler="ddim"), progress=False)


def test_the_loss_on_a_pair_uses_its_own_noise():
    """A model that answers 0: the flow loss on coupled pairs is mean ‖ε_pair − x₀‖², t still drawn (first)."""
    zero = lambda x, t, c=None: torch.zeros_like(x)
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.rand(4, 3, 8, 8) * 2 - 1, torch.randn(4, 3, 8, 8, generator=g)
    loss = diffusion_loss(zero, x0, None, FlowPath(), torch.Generator().manual_seed(2), noise=eps)
    torch.testing.assert_close(loss, (eps - x0).pow(2).mean())
    fresh = diffusion_loss(zero, x0, None, FlowPath(), torch.Generator().manual_seed(2))
    assert not torch.isclose(fresh, loss)


def test_train_hands_each_batch_its_pairs_noise(monkeypatch):
    """A seam: diffusion_loss records the noise train() hands it; each batch's noise must be its images' pairs."""
    import dlhelpers.training as tr
    pairs = make_pairs(teacher(), FlowPath(), RECIPE, progress=False)
    data = PairDataset(pairs)
    seen, real = [], tr.diffusion_loss

    def spy(model, x0, *args, noise=None, **kwargs):
        seen.append((x0.clone(), noise))
        return real(model, x0, *args, noise=noise, **kwargs)

    monkeypatch.setattr(tr, "diffusion_loss", spy)
    train(teacher().train(), data, FlowPath(), TrainConfig(steps=3, batch_size=5, warmup_steps=0, ema_decay=None,
                                                            min_snr_gamma=None, precision="fp32"), progress=False)
    by_image = {tuple(x.flatten()[:8].tolist()): n for x, n in zip(pairs["x0"], pairs["noise"])}
    assert len(seen) == 3
    for x0, noise in seen:
        assert noise is not None
        for x, n in zip(x0, noise):
            torch.testing.assert_close(n, by_image[tuple(x.flatten()[:8].tolist())], rtol=0, atol=0)


def test_a_reflow_preset_starts_from_its_teacher_and_records_the_pairs(tmp_path, monkeypatch):
    """train_preset on a shrunken "reflow" preset: the shipped flow weights draw the pairs and start the run; the
    manifest names the teacher's file and checksum and the pairs' recipe and checksum, and loads as a flow model."""
    from dlhelpers import recipes
    small = replace(recipes.PRESETS["reflow"], pairs=replace(RECIPE, per_class=2, chunk=5),
                    config=replace(recipes.PRESETS["reflow"].config, steps=2, batch_size=5, warmup_steps=0,
                                   precision="fp32", checkpoint_every=1))
    monkeypatch.setitem(recipes.PRESETS, "reflow", small)
    import dlhelpers.training as tr
    real_train, started = tr.train, []
    monkeypatch.setattr(tr, "train", lambda model, data, *a, **k: started.append(
        ({n: v.clone() for n, v in model.state_dict().items()}, data)) or real_train(model, data, *a, **k))
    manifest = pretrained.train_preset("reflow", None, {"device": "cpu"}, out=tmp_path, progress=False,
                                       precision="fp32", log=lambda *a: None)
    teacher_entry = pretrained.read_manifest(pretrained.weights_folder("flow"))["files"]["final"]
    assert manifest["reflow"]["teacher"] == {"preset": "flow", "file": teacher_entry["file"],
                                             "sha256": teacher_entry["sha256"]}
    assert manifest["reflow"]["n_pairs"] == 10 and manifest["reflow"]["pairs"]["per_class"] == 2
    assert json.loads((tmp_path / "manifest.json").read_text())["reflow"] == manifest["reflow"]
    model, path = pretrained.load_pretrained("final", weights_dir=tmp_path)
    assert isinstance(path, FlowPath) and model.run_spec.path == "flow"
    first, _ = pretrained.load_pretrained("final", preset="flow")
    (state, data), = started
    assert all(torch.equal(state[n], v) for n, v in first.state_dict().items())     # the run began at the teacher
    assert isinstance(data, PairDataset) and len(data) == 10                          # and trained on its pairs
    assert manifest["reflow"]["pairs_seconds"] > 0
    again = pretrained.train_preset("reflow", None, {"device": "cpu"}, out=tmp_path / "again", progress=False,
                                    precision="fp32", log=lambda *a: None)
    assert again["files"]["final"]["sha256"] == manifest["files"]["final"]["sha256"]   # bit for bit, one command
    assert again["reflow"]["pairs_sha256"] == manifest["reflow"]["pairs_sha256"]


def test_pairs_checksum_changes_with_any_value():
    pairs = make_pairs(teacher(), FlowPath(), RECIPE, progress=False)
    nudged = pairs["x0"].clone()
    nudged[3, 0, 0, 0] += 1e-6
    assert reflow.pairs_sha256(pairs["noise"], nudged) != pairs["sha256"]
