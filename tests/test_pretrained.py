import json
import shutil

import pytest
import torch

from support import flip_middle_byte
from dlhelpers import pretrained
from dlhelpers.io import CorruptFileError
from dlhelpers.precision import prepare_model
from dlhelpers.unet import ContextUnet


def test_shipped_weights_load_and_match_the_manifest():
    manifest = pretrained.read_manifest()
    assert manifest["model"] == {"in_channels": 3, "n_feat": 64, "n_cfeat": 5, "height": 16}
    assert manifest["schedule"] == {"timesteps": 500, "beta_start": 1e-4, "beta_end": 0.02}
    names = pretrained.available()
    assert names[-1] in ("final", "final_raw") and "final" in names and len(names) >= 4
    model, schedule = pretrained.load_pretrained("final")
    assert not model.training and schedule.timesteps == 500
    out = model(torch.zeros(2, 3, 16, 16), torch.full((2,), 0.5), torch.eye(5)[:2])
    assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()


def test_weights_total_size_within_budget():
    shipped = (pretrained.weights_folder("course"), pretrained.weights_folder("flow"))   # not a student's own run
    files = [p for d in shipped for p in d.iterdir() if p.is_file() and not p.name.endswith(".ckpt")]
    assert any(p.parent.name == "flow" for p in files)   # the flow folder is counted too
    assert sum(p.stat().st_size for p in files) <= 25 * 2 ** 20


def test_shipped_flow_weights_load_with_their_spec_and_fit_their_budget():
    """Issue 23: the flow-matching weights sit beside the DDPM ones, fp16, ≤ 3.5 MB, trained by the flow preset on
    2 CPU cores in under an hour (the manifest's wall time), and load as a velocity model on the straight path."""
    from dlhelpers.flow import FlowPath
    folder = pretrained.weights_folder("flow")
    manifest = pretrained.read_manifest(folder)
    assert manifest["spec"] == {"path": "flow", "prediction": "velocity", "schedule": {}}
    assert manifest["command"].startswith("python -m dlhelpers train --preset flow")
    assert manifest["wall_time_s"] <= 3600 and manifest["machine"]["threads"] <= 2
    shipped = [folder / e["file"] for e in manifest["files"].values()]
    assert sum(p.stat().st_size for p in shipped) <= 3.5 * 2 ** 20
    model, path = pretrained.load_pretrained("final", preset="flow")
    assert isinstance(path, FlowPath) and model.run_spec.prediction == "velocity"
    assert all(v.dtype == torch.float16 for v in torch.load(shipped[0], weights_only=True).values()
               if v.is_floating_point())


@pytest.fixture
def weights_copy(tmp_path):
    d = tmp_path / "weights"
    d.mkdir()
    for p in pretrained.WEIGHTS_DIR.iterdir():
        if p.name in ("manifest.json", "final.pt"):
            shutil.copy(p, d / p.name)
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["files"] = {"final": manifest["files"]["final"]}
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def test_round_trip_through_export(tmp_path, weights_copy):
    model, _ = pretrained.load_pretrained("final", weights_dir=weights_copy)
    sha = pretrained.export_state(model.state_dict(), tmp_path / "again.pt")
    state = torch.load(tmp_path / "again.pt", weights_only=True)
    other = prepare_model(ContextUnet())  # same memory format, same convolution kernels
    other.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    x, t = torch.randn(2, 3, 16, 16), torch.rand(2)
    torch.testing.assert_close(other.eval()(x, t), model(x, t), rtol=0, atol=0)  # fp16 → fp16 is lossless
    assert len(sha) == 64


def test_checksum_mismatch_raises_naming_the_file(weights_copy):
    flip_middle_byte(weights_copy / "final.pt")
    with pytest.raises(CorruptFileError, match=r"final\.pt.*python -m dlhelpers train"):
        pretrained.load_pretrained("final", weights_dir=weights_copy)


def test_missing_file_and_bad_name(weights_copy):
    with pytest.raises(ValueError, match="name must be one of"):
        pretrained.load_pretrained("best", weights_dir=weights_copy)
    with pytest.raises(TypeError, match="name"):
        pretrained.load_pretrained(3, weights_dir=weights_copy)
    (weights_copy / "final.pt").unlink()
    with pytest.raises(CorruptFileError, match="missing"):
        pretrained.load_pretrained("final", weights_dir=weights_copy)


def test_mismatched_architecture_is_reported(tmp_path, weights_copy):
    sha = pretrained.export_state(ContextUnet(3, 16, 5, 16).state_dict(), weights_copy / "final.pt")
    manifest = json.loads((weights_copy / "manifest.json").read_text())
    manifest["files"]["final"]["sha256"] = sha
    (weights_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptFileError, match="does not match ContextUnet"):
        pretrained.load_pretrained("final", weights_dir=weights_copy)
