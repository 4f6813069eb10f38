import pytest
import torch

from dlhelpers.io import CorruptFileError
from dlhelpers.schedules import NoiseSchedule
from dlhelpers.training import EMA, TrainConfig, lr_at, train
from dlhelpers.unet import ContextUnet
from support import corner_squares


def synthetic_set(n=64):
    """Tiny images: a bright square in one of two corners; the class is the corner."""
    return corner_squares(n)


def fresh_model():
    torch.manual_seed(0)
    return ContextUnet(3, 16, 5, 16)


CFG = dict(batch_size=16, lr=2e-3, warmup_steps=0, checkpoint_every=3, seed=0, precision="fp32", log_every=1,
           ema_decay=0.99)


def test_a_few_steps_lower_the_loss():
    sch = NoiseSchedule.linear(50)
    res = train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=40, **CFG), progress=False)
    first, last = sum(res.losses[:5]) / 5, sum(res.losses[-5:]) / 5
    assert res.steps_done == 40 and last < 0.7 * first, (first, last)


def test_kill_and_resume_gives_the_same_weights(tmp_path):
    sch = NoiseSchedule.linear(50)
    cfg = TrainConfig(steps=8, **CFG)
    straight = fresh_model()
    straight_res = train(straight, synthetic_set(), sch, cfg, checkpoint_path=tmp_path / "a.ckpt", progress=False)

    class Killed(Exception):
        pass

    def kill_at_5(step, loss, model):
        if step == 5:
            raise Killed  # after the checkpoint at step 3, before the one at 6

    interrupted = fresh_model()
    with pytest.raises(Killed):
        train(interrupted, synthetic_set(), sch, cfg, checkpoint_path=tmp_path / "b.ckpt", callback=kill_at_5,
              progress=False)
    resumed = fresh_model()  # a new process: fresh weights, everything else from the checkpoint
    res = train(resumed, synthetic_set(), sch, cfg, checkpoint_path=tmp_path / "b.ckpt", progress=False)
    assert res.steps_done == 8 and len(res.losses) == 8
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    # the EMA (what ships as "final") resumes too, not only the raw weights
    for k, a in straight_res.ema_state.items():
        assert torch.equal(a, res.ema_state[k]), f"EMA {k} differs after resume"


def test_a_partial_checkpoint_never_replaces_a_good_one(tmp_path, monkeypatch):
    sch = NoiseSchedule.linear(50)
    ckpt = tmp_path / "run.ckpt"
    train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=3, **CFG), checkpoint_path=ckpt, progress=False)
    good = ckpt.read_bytes()

    import dlhelpers.io as dio
    real_save = torch.save

    def torn_save(obj, f, *a, **k):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(dio.torch, "save", torn_save)
    with pytest.raises(OSError):
        train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=6, **{**CFG, "checkpoint_every": 3}),
              checkpoint_path=tmp_path / "other.ckpt", progress=False)
    monkeypatch.setattr(dio.torch, "save", real_save)
    assert ckpt.read_bytes() == good
    assert not list(tmp_path.glob("*.tmp")) and not (tmp_path / "other.ckpt").exists()


def test_corrupt_checkpoint_is_reported(tmp_path):
    ckpt = tmp_path / "bad.ckpt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CorruptFileError, match="bad.ckpt"):
        train(fresh_model(), synthetic_set(), NoiseSchedule.linear(50), TrainConfig(steps=2, **CFG),
              checkpoint_path=ckpt, progress=False)


def test_resume_with_a_different_config_is_refused(tmp_path):
    sch, ckpt = NoiseSchedule.linear(50), tmp_path / "c.ckpt"
    train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=3, **CFG), checkpoint_path=ckpt, progress=False)
    with pytest.raises(ValueError, match="seed"):
        train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=3, **{**CFG, "seed": 1}), checkpoint_path=ckpt,
              progress=False)


def test_lr_decays_linearly_like_the_course():
    cfg = TrainConfig(steps=100, lr=1e-3, warmup_steps=0)
    assert lr_at(0, cfg) == pytest.approx(1e-3) and lr_at(50, cfg) == pytest.approx(5e-4)
    assert lr_at(99, cfg) == pytest.approx(1e-5)
    warm = TrainConfig(steps=110, lr=1e-3, warmup_steps=10)
    assert lr_at(0, warm) == pytest.approx(1e-4) and lr_at(10, warm) == pytest.approx(1e-3)


def test_ema_is_the_warmed_up_exponential_average():
    """θ_ema,n = d_n θ_ema,n−1 + (1 − d_n) θ_n with d_n = min(d, (1 + n)/(10 + n)), checked against the recursion
    over weights that change every step — a plain copy of the last weights fails it."""
    m = torch.nn.Linear(2, 1)
    ema = EMA(m, decay=0.9)
    expected = m.weight.detach().clone()
    for n in range(1, 41):
        with torch.no_grad():
            m.weight.copy_(torch.full_like(m.weight, float(n)))
        ema.update(m)
        d = min(0.9, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * m.weight.detach()
    torch.testing.assert_close(ema.state_dict()["weight"], expected)
    assert (ema.state_dict()["weight"] - m.weight).abs().max() > 3  # it lags the live weights


def test_context_dropout_uses_null_context(monkeypatch):
    """With p_uncond = 1 every context the model sees is the zero vector."""
    seen = []
    model = fresh_model()
    real_forward = model.forward

    def spy(x, t, c=None):
        seen.append(c.detach().clone())
        return real_forward(x, t, c)

    model.forward = spy
    train(model, synthetic_set(), NoiseSchedule.linear(50), TrainConfig(steps=2, **{**CFG, "p_uncond": 1.0}),
          progress=False)
    assert seen and all(c.abs().sum() == 0 for c in seen)


def test_min_snr_weights_by_hand():
    """Hang et al. eq. (7) for ε-prediction, w_t = min(SNR_t, γ)/SNR_t, on ᾱ = 1, 0.9, 0.5, 0.1:
    SNR = 9, 1, 1/9, so γ = 5 gives 5/9, 1, 1 (w_0 is never drawn and stays 1)."""
    from dlhelpers.training import min_snr_weights
    sch = NoiseSchedule.from_betas(torch.tensor([0.1, 0.1, 1 - 0.5 / 0.9, 1 - 0.1 / 0.5], dtype=torch.float64))
    torch.testing.assert_close(min_snr_weights(sch, 5.0), torch.tensor([1.0, 5 / 9, 1.0, 1.0]))
    torch.testing.assert_close(min_snr_weights(sch, 100.0), torch.ones(4))


def test_min_snr_weights_stay_on_the_schedules_device():
    """Found on an H200 by gpu-check: the weights were built from a CPU tensor and a CUDA one. The meta device
    raises on the same mix, so this runs without a GPU."""
    from dlhelpers.training import min_snr_weights
    w = min_snr_weights(NoiseSchedule.linear(500, 1e-4, 0.02).to("meta"), 5.0)
    assert w.device.type == "meta" and w.shape == (501,)


def test_weighted_loss_weights_each_image_by_its_timestep():
    """A model that always answers 0: the loss is mean_b w[t_b] · mean(ε_b²), w the min-SNR-γ table of the path's
    prediction, with t and ε drawn in the documented order (t, then ε) from the same generator."""
    from dlhelpers.training import diffusion_loss, min_snr_weights
    sch = NoiseSchedule.linear(50)
    weight = min_snr_weights(sch, 1.0)
    assert weight.min() < 0.1 and weight.max() == 1.0           # the weighting matters at these draws
    zero = lambda x, t, c=None: torch.zeros_like(x)
    x0 = torch.zeros(6, 3, 16, 16)
    loss = diffusion_loss(zero, x0, None, sch, torch.Generator().manual_seed(3), min_snr_gamma=1.0)
    g = torch.Generator().manual_seed(3)
    t = torch.randint(1, 51, (6,), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    expected = (weight[t] * noise.pow(2).mean(dim=(1, 2, 3))).mean()
    torch.testing.assert_close(loss, expected)
    unweighted = diffusion_loss(zero, x0, None, sch, torch.Generator().manual_seed(3))
    torch.testing.assert_close(unweighted, noise.pow(2).mean())


def test_min_snr_training_runs_and_resume_checks_gamma(tmp_path):
    sch, ckpt = NoiseSchedule.linear(50), tmp_path / "c.ckpt"
    res = train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=3, min_snr_gamma=5.0, **CFG),
                checkpoint_path=ckpt, progress=False)
    assert res.steps_done == 3 and all(loss == loss for loss in res.losses)
    with pytest.raises(ValueError, match="min_snr_gamma"):
        train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=3, min_snr_gamma=1.0, **CFG),
              checkpoint_path=ckpt, progress=False)
    with pytest.raises(ValueError, match="^min_snr_gamma"):
        TrainConfig(min_snr_gamma=-1.0).validate()
    with pytest.raises(ValueError, match="^min_snr_gamma"):
        TrainConfig(min_snr_gamma=0.0).validate()


def test_loss_history_is_the_plain_mse_whatever_the_weighting():
    """The history (and the manifest's loss curve, which notebook 3 plots next to the student's plain MSE) records
    eq. (14) even when min-SNR weighting drives the gradient: with lr = 0 the two runs see the same draws and must
    record the same numbers."""
    sch = NoiseSchedule.linear(50)
    cfg = {**CFG, "lr": 0.0, "ema_decay": None}
    unweighted = train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=3, min_snr_gamma=None, **cfg),
                       progress=False)
    weighted = train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=3, min_snr_gamma=1e-3, **cfg),
                     progress=False)
    assert unweighted.losses == weighted.losses and unweighted.losses[0] > 0.5


def test_train_backpropagates_exactly_the_tested_loss(monkeypatch):
    """train() computes its loss with diffusion_loss (tested above by hand), handing it the config's min-SNR γ,
    and backpropagates that very tensor: a hook on it must see the gradient 1. Dropping the weighting, passing
    other weights, or reweighting/rescaling the returned loss inside train() each fails here."""
    import dlhelpers.training as tr
    calls, grads = [], []
    real = tr.diffusion_loss

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        loss = out[0] if isinstance(out, tuple) else out
        loss.register_hook(lambda g: grads.append(float(g)))
        calls.append(kwargs.get("min_snr_gamma"))
        return out

    monkeypatch.setattr(tr, "diffusion_loss", spy)
    sch = NoiseSchedule.linear(50)
    train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=3, min_snr_gamma=2.0, **CFG), progress=False)
    assert calls == [2.0, 2.0, 2.0]
    assert grads == [1.0, 1.0, 1.0]
    calls.clear()
    grads.clear()
    train(fresh_model(), synthetic_set(), sch, TrainConfig(steps=2, min_snr_gamma=None, **CFG), progress=False)
    assert calls == [None, None] and grads == [1.0, 1.0]


def test_the_loss_and_its_plain_mse_come_from_the_same_draws():
    from dlhelpers.training import diffusion_loss
    sch = NoiseSchedule.linear(50)
    zero = lambda x, t, c=None: torch.zeros_like(x)
    x0 = torch.zeros(6, 3, 16, 16)
    loss, mse = diffusion_loss(zero, x0, None, sch, torch.Generator().manual_seed(3), min_snr_gamma=0.5,
                               return_mse=True)
    plain = diffusion_loss(zero, x0, None, sch, torch.Generator().manual_seed(3))
    torch.testing.assert_close(mse, plain)
    assert not mse.requires_grad and not torch.isclose(loss, mse)


def test_student_preset_trains_resumes_and_loads_back_on_its_path(tmp_path):
    """A model of your own in minutes (the student preset; its recipe and measurements are in
    reports/student_trials.md): like every preset it trains through train_preset, resumes from its checkpoint and
    writes its wall time, and its manifest's spec carries its path and t sampling back to load_pretrained."""
    from dlhelpers import pretrained
    from dlhelpers.sprites import SpriteDataset
    from dlhelpers.recipes import PRESETS
    student = PRESETS["student"]
    small = SpriteDataset(indices=range(0, 50_000, 500))   # 100 sprites
    first = pretrained.train_preset("student", small, {"device": "cpu"}, out=tmp_path, steps=4, stop_after=2,
                                    progress=False, log=lambda *a: None)
    assert first is None and (tmp_path / "train_checkpoint.ckpt").exists()     # paused: resumes below
    manifest = pretrained.train_preset("student", small, {"device": "cpu"}, out=tmp_path, steps=4, progress=False,
                                       log=lambda *a: None)
    assert manifest["steps"] == 4 and manifest["wall_time_s"] >= 0 and manifest["spec"]["path"] == "flow"
    assert set(manifest["files"]) == {"final"}            # ship_raw=False
    model, path = pretrained.load_pretrained("final", weights_dir=tmp_path)
    built = student.spec.build()
    assert (path.PATH, path.t_sampling, model.n_feat) == (built.PATH, built.t_sampling, student.model["n_feat"])
