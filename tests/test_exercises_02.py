"""Notebook 2's library side: the references that later cells fall back to pass their own checks and drive the real
UNet; the one-hot check tells a crash on −1 from any other crash; the UNet diagram draws real shapes, does not print
the answer of exercise (a), and rejects bad input. The exercises' wrong and right answers are catalogued in
dlhelpers/tools/catalogues/nb02.py and graded by tests/test_catalogues.py.
"""
from __future__ import annotations

import pytest
import torch

from dlhelpers.notebook.checks.common import ExerciseError
from dlhelpers.notebook.checks.unet import (check_inject, check_one_hot_context, reference_inject,
                                            reference_one_hot_context)
from dlhelpers.notebook.exercises import yours_or_reference
from dlhelpers.unet import ContextUnet

torch.set_num_threads(1)


def test_references_pass_their_checks_and_drive_the_real_unet(capsys):
    check_inject(reference_inject)
    check_one_hot_context(reference_one_hot_context)
    assert capsys.readouterr().out.count("✓") == 2
    g = torch.Generator().manual_seed(0)
    net = ContextUnet(n_feat=16).eval()
    x, t = torch.randn(4, 3, 16, 16, generator=g), torch.rand(4, generator=g)
    c = reference_one_hot_context(torch.tensor([0, 4, -1, 2]), 5)                   # (4, 5), one null row
    with torch.no_grad():
        want = net(x, t, c)
        net.inject = reference_inject
        got = net(x, t, c)
        net.inject = lambda h, cemb, temb: reference_inject(h, torch.zeros_like(cemb), temb)   # the swap is used
        ablated = net(x, t, c)
    del net.inject
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.equal(ablated, want)
    assert torch.equal(net(x, t, None), net(x, t, reference_one_hot_context(torch.full((4,), -1), 5)))


def test_fallback_uses_the_reference_for_a_stub(capsys):
    def stub(h, cemb, temb):
        raise NotImplementedError()
    assert yours_or_reference(lambda: stub, reference_inject, check_inject) is reference_inject
    assert "using the reference" in capsys.readouterr().out


def test_one_hot_check_names_a_crash_on_minus_one_and_only_then():
    def crashes_on_minus_one(labels, n_classes):
        return torch.nn.functional.one_hot(labels, n_classes).float()

    def always_crashes(labels, n_classes):
        raise IndexError("boom")

    with pytest.raises(ExerciseError, match="only on label −1"):
        check_one_hot_context(crashes_on_minus_one)
    with pytest.raises(ExerciseError, match="raised IndexError: boom") as caught:
        check_one_hot_context(always_crashes)
    assert "only on label −1" not in str(caught.value)


def test_reference_one_hot_matches_its_definition_on_random_labels():
    g = torch.Generator().manual_seed(3)
    for _ in range(30):
        n = int(torch.randint(1, 9, (1,), generator=g))
        labels = torch.randint(-1, n, (int(torch.randint(1, 12, (1,), generator=g)),), generator=g)
        out = reference_one_hot_context(labels, n)
        assert out.dtype == torch.float32 and out.shape == (len(labels), n)
        assert torch.equal(out.sum(1), (labels >= 0).float())                       # one 1, or a null row
        for i, y in enumerate(labels.tolist()):
            if y >= 0:
                assert out[i, y] == 1
    with pytest.raises(ValueError, match="labels"):
        reference_one_hot_context(torch.tensor([0, 5]), 5)
    with pytest.raises(TypeError, match="labels"):
        reference_one_hot_context(torch.tensor([0.0, 1.0]), 5)
    with pytest.raises(ValueError, match="n_classes"):
        reference_one_hot_context(torch.tensor([0]), 0)


def test_unet_diagram_draws_real_shapes_and_rejects_bad_input():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlhelpers.notebook.diagrams_unet import BLOCKS, draw_unet

    shapes = {"input": (3, 16, 16), "init_conv": (64, 16, 16), "to_vec": (128, 1, 1), "out": (3, 16, 16)}
    ax = draw_unet(shapes)
    texts = [t.get_text() for t in ax.texts]
    assert "(64, 16, 16)" in texts and "(128, 1, 1)" in texts and "(2F, 4, 4)" in texts   # real, then symbolic
    assert sum("cemb" in t and "temb" in t for t in texts) == 2                            # both decoder levels
    assert not any("⊙ h +" in t or "* h +" in t for t in texts)        # exercise (a)'s answer is not drawn
    assert "the same size" in ax.get_title()
    assert set(BLOCKS) >= set(shapes)
    plt.close("all")
    with pytest.raises(TypeError, match="shapes"):
        draw_unet([(3, 16, 16)])
    with pytest.raises(ValueError, match="shapes"):
        draw_unet({"up3": (3, 16, 16)})
    with pytest.raises(ValueError, match="shapes"):
        draw_unet({"out": (3, -16, 16)})
    plt.close("all")
