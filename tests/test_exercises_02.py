"""Notebook 2's exercises, graded as the student copy and the autograder would (tests/exercise_harness.py).

For each exercise: classic wrong answers fail both the visible check and the autograder, genuinely different
correct answers pass both, the source solution passes and the stub fails. Also: the references that later cells
fall back to pass their own checks and drive the real UNet; the UNet diagram draws and rejects bad input.
"""
from __future__ import annotations

import textwrap

import pytest
import torch

from dlhelpers.notebook.checks.unet import (check_inject, check_one_hot_context, reference_inject,
                                            reference_one_hot_context)
from dlhelpers.notebook.exercises import yours_or_reference
from dlhelpers.unet import ContextUnet
from exercise_harness import exercise, grade

torch.set_num_threads(1)


def _fn(signature: str, body: str) -> str:
    return f"import torch\nimport torch.nn.functional as F\n\ndef {signature}:\n" + textwrap.indent(
        textwrap.dedent(body).strip() + "\n", "    ")


INJECT = "my_inject(h, cemb, temb)"
INJECT_WRONG = {
    "context added": "return h + cemb + temb",
    "swapped": "return temb * h + cemb",
    "time inside the product": "return cemb * (h + temb)",
    "time forgotten": "return cemb * h",
    "first image's embeddings for all": "return cemb[0] * h + temb[0]",
    "in place": "h.mul_(cemb).add_(temb)\nreturn h",
    "forgot return": "cemb * h + temb",
    "context forgotten": "return h + temb",
}
INJECT_RIGHT = {
    "reordered": "return h * cemb + temb",
    "addcmul": "return torch.addcmul(temb, cemb, h)",
    "expanded": "return cemb.expand_as(h) * h + temb.expand_as(h)",
    "einsum": "return torch.einsum('bchw,bcij->bchw', h, cemb) + temb",
}

ONE_HOT = "my_one_hot_context(labels, n_classes)"
ONE_HOT_WRONG = {
    "−1 clamped to class 0": "return F.one_hot(labels.clamp(min=0), n_classes).float()",
    "integer dtype": "return F.one_hot(labels.clamp(min=0), n_classes) * (labels >= 0).long().unsqueeze(1)",
    "one_hot of −1 crashes": "return F.one_hot(labels, n_classes).float()",
    "eye indexed with −1 (last row)": "return torch.eye(n_classes)[labels]",
    "fixed 5 classes": """
        out = torch.zeros(len(labels), 5)
        keep = labels >= 0
        out[keep, labels[keep]] = 1.0
        return out""",
    "extra column for the null class": "return F.one_hot(labels + 1, n_classes + 1).float()",
    "uniform null row": """
        out = F.one_hot(labels.clamp(min=0), n_classes).float()
        out[labels < 0] = 1.0 / n_classes
        return out""",
    "labels changed in place": """
        labels[labels < 0] = 0
        return F.one_hot(labels, n_classes).float()""",
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
}


@pytest.mark.parametrize("body", INJECT_WRONG.values(), ids=INJECT_WRONG.keys())
def test_inject_wrong_answers_fail_visible_and_autograder(body):
    out = grade("02", "nb02_inject", _fn(INJECT, body))
    assert not out.visible and not out.autograder, out


@pytest.mark.parametrize("body", INJECT_RIGHT.values(), ids=INJECT_RIGHT.keys())
def test_inject_right_answers_pass_both(body):
    out = grade("02", "nb02_inject", _fn(INJECT, body))
    assert out.visible and out.autograder, out.message


@pytest.mark.parametrize("body", ONE_HOT_WRONG.values(), ids=ONE_HOT_WRONG.keys())
def test_one_hot_wrong_answers_fail_visible_and_autograder(body):
    out = grade("02", "nb02_one_hot_context", _fn(ONE_HOT, body))
    assert not out.visible and not out.autograder, out


@pytest.mark.parametrize("body", ONE_HOT_RIGHT.values(), ids=ONE_HOT_RIGHT.keys())
def test_one_hot_right_answers_pass_both(body):
    out = grade("02", "nb02_one_hot_context", _fn(ONE_HOT, body))
    assert out.visible and out.autograder, out.message


@pytest.mark.parametrize("grade_id", ["nb02_inject", "nb02_one_hot_context"])
def test_source_solution_passes_and_stub_fails(grade_id):
    ex = exercise("02", grade_id)
    solved = grade("02", grade_id, ex.solution, setup="import torch")
    assert solved.visible and solved.autograder, solved.message
    stub = grade("02", grade_id, ex.stub, setup="import torch")
    assert not stub.visible and not stub.autograder
    assert "not implemented yet" in stub.message


def test_wrong_answers_get_a_specific_hint(capsys):
    hints = {"return cemb * h": "time embedding was not added", "return cemb[0] * h + temb[0]": "its own embeddings",
             "h.mul_(cemb).add_(temb)\nreturn h": "in place"}
    for body, hint in hints.items():
        ns: dict = {}
        exec(_fn(INJECT, body), ns)
        with pytest.raises(AssertionError, match=hint):
            check_inject(ns["my_inject"])
    ns = {}
    exec(_fn(ONE_HOT, ONE_HOT_WRONG["fixed 5 classes"]), ns)
    with pytest.raises(AssertionError, match="not a fixed 5"):
        check_one_hot_context(ns["my_one_hot_context"])


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
