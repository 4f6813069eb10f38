"""Notebook 1 beyond its catalogues (dlhelpers/tools/catalogues/nb01.py, graded by tests/test_catalogues.py): the
references used by the notebook's fallbacks, and its pictures/measurements module
(dlhelpers.notebook.diagrams_sampling).
"""
from __future__ import annotations

import textwrap

import matplotlib
import pytest
import torch


matplotlib.use("Agg")

NB = "01"


def _src(body: str) -> str:
    return textwrap.dedent(body).strip("\n") + "\n"


# ------------------------------------------------------------------------------------------------ references
def test_references_pass_their_checks(capsys):
    from dlhelpers.notebook.checks.sampling import (check_ddpm_step, check_predict_x0, check_sample,
                                                    reference_ddpm_step, reference_predict_x0, reference_sample)
    check_ddpm_step(reference_ddpm_step)
    check_predict_x0(reference_predict_x0)
    check_sample(reference_sample)
    assert capsys.readouterr().out.count("✓") == 3


def test_reference_loop_matches_the_library_sampler():
    """Same seed, same x_T: the reference loop around the reference step gives sample_ddpm's samples."""
    from dlhelpers.ddpm import sample_ddpm
    from dlhelpers.notebook.checks.sampling import reference_ddpm_step, reference_sample
    from dlhelpers.schedules import NoiseSchedule
    from dlhelpers.unet import ContextUnet
    torch.manual_seed(0)
    model, s = ContextUnet(n_feat=16, height=16).eval(), NoiseSchedule.linear(6, 0.01, 0.2)
    x_T = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    for extra in (True, False):
        lib = sample_ddpm(model, 2, s, extra_noise=extra, generator=torch.Generator().manual_seed(3), x_T=x_T,
                          progress=False, precision="fp32").samples
        ours = reference_sample(model, x_T, s, reference_ddpm_step, extra, torch.Generator().manual_seed(3))
        assert torch.allclose(lib, ours, atol=1e-5), extra


def test_reference_loop_rejects_bad_arguments():
    from dlhelpers.notebook.checks.sampling import reference_ddpm_step, reference_sample, StandInModel
    from dlhelpers.schedules import NoiseSchedule
    s, m = NoiseSchedule.linear(3), StandInModel((3, 8, 8))
    with pytest.raises(TypeError, match="extra_noise"):
        reference_sample(m, torch.zeros(1, 3, 8, 8), s, reference_ddpm_step, extra_noise="yes")
    with pytest.raises(ValueError, match="x_T"):
        reference_sample(m, torch.zeros(3, 8, 8), s, reference_ddpm_step)


def test_fallback_picks_the_reference_for_a_stub(capsys):
    from dlhelpers.notebook.checks.sampling import check_sample, reference_sample
    from dlhelpers.notebook.exercises import yours_or_reference

    def my_sample(model, x_T, schedule, step_fn, extra_noise=True, generator=None):
        raise NotImplementedError()

    assert yours_or_reference(lambda: my_sample, reference_sample, check_sample) is reference_sample
    assert capsys.readouterr().out.startswith("→ using the reference")


# ------------------------------------------------------------------------------------------------ pictures
def test_forward_strip_and_one_step_diagram_draw():
    import matplotlib.pyplot as plt
    from dlhelpers.notebook.diagrams_sampling import forward_strip, one_step_diagram
    from dlhelpers.schedules import NoiseSchedule
    s = NoiseSchedule.linear(500)
    g = torch.Generator().manual_seed(0)
    ax = forward_strip(s, torch.zeros(3, 16, 16), timesteps=(0, 100, 500), generator=g)
    assert len(ax.texts) == 3 and "t = 500" in ax.texts[-1].get_text()
    img = torch.randn(1, 3, 16, 16, generator=g)
    fig = one_step_diagram(img, 100, img, s, img)
    assert len(fig.axes) == 5
    plt.close("all")


def test_diagrams_reject_bad_input():
    from dlhelpers.notebook.diagrams_sampling import forward_strip, one_step_diagram, sample_stats
    from dlhelpers.schedules import NoiseSchedule
    s, img = NoiseSchedule.linear(500), torch.zeros(1, 3, 16, 16)
    with pytest.raises(ValueError, match="timesteps"):
        forward_strip(s, img, timesteps=(0, 501))
    with pytest.raises(ValueError, match="x0"):
        forward_strip(s, torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="t must be"):
        one_step_diagram(img, 1, img, s, img)
    with pytest.raises(ValueError, match="at least 2"):
        sample_stats(img)


def test_sample_stats_measures_what_it_says():
    from dlhelpers.notebook.diagrams_sampling import sample_stats
    same = torch.linspace(-1, 1, 3 * 16 * 16).reshape(1, 3, 16, 16).repeat(4, 1, 1, 1)
    s = sample_stats(same)
    assert s["differ"] == pytest.approx(0.0, abs=1e-6)          # copies do not differ
    flat = torch.zeros(2, 3, 16, 16)
    flat[1] += 1.0                                              # two flat images one unit apart, no edges
    s = sample_stats(flat)
    assert s["differ"] == pytest.approx(1.0) and s["edges"] == pytest.approx(0.0)
    assert s["spread"] == pytest.approx(float(flat.std()))


def test_jackknife_se_matches_the_textbook_mean():
    """For the mean of N numbers the jackknife s.e. is exactly std/√N; sample_stats' spread is not a mean, so
    check the formula on a batch whose statistics are known: identical images have s.e. 0."""
    from dlhelpers.notebook.diagrams_sampling import jackknife_se, stats_table
    same = torch.linspace(-1, 1, 3 * 16 * 16).reshape(1, 3, 16, 16).repeat(5, 1, 1, 1)
    se = jackknife_se(same)
    assert se["spread"] == pytest.approx(0, abs=1e-6) and se["differ"] == pytest.approx(0, abs=1e-6)
    # `edges` is a mean over images of each image's own edge score, so its jackknife s.e. is exactly std/√N
    x = torch.randn(7, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    per_image = torch.tensor([jackknife_se.__globals__["sample_stats"](torch.stack([im, im]))["edges"] for im in x])
    assert jackknife_se(x)["edges"] == pytest.approx(float(per_image.std() / 7 ** 0.5), rel=1e-4)
    flat = x[:2]
    with pytest.raises(ValueError, match="at least 3"):
        jackknife_se(flat[:2])
    assert "± 0.00" in stats_table({"same": same})
