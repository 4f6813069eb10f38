"""The CLI (``python -m dlhelpers``, ``dlhelpers.tools.cli``): one registration pattern, ``--help`` by audience, and
``sample`` on the path its weights' spec names — checked against the sampler, or choosing it — before any weights
are loaded."""
import re

import pytest
import torch

from dlhelpers import pretrained, samplers
from dlhelpers.tools.cli import AUDIENCES, build_parser, main, registry
from dlhelpers.unet import ContextUnet

SPECS = {"ddpm": {"path": "ddpm", "prediction": "eps",
                  "schedule": {"timesteps": 50, "beta_start": 1e-4, "beta_end": 0.02}},
         "flow": {"path": "flow", "prediction": "velocity", "schedule": {}}}
TINY = dict(in_channels=3, n_feat=16, n_cfeat=5, height=16)


def _sections(text: str) -> dict:
    """The audience headings of ``--help`` → the command names listed under each (in order)."""
    sections, current = {}, None
    for line in text.splitlines():
        heading = re.match(r"^(\w+) \(.*\):$", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
        elif not line.strip():
            continue
        elif not line.startswith(" "):
            current = None
        elif current is not None and re.match(r"^  \S", line):
            current.append(line.split()[0])
    return sections


# ------------------------------------------------------------------------------------------- (a) by audience
def test_help_lists_every_command_once_under_one_audience_heading(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    sections = _sections(text)
    assert list(sections) == list(AUDIENCES)                      # every audience, in order, each heading once
    listed = [name for names in sections.values() for name in names]
    commands = registry()
    assert sorted(listed) == sorted(c.name for c in commands)     # every command exactly once, nothing else
    for c in commands:
        assert c.name in sections[c.audience], (c.name, c.audience)
    assert "{" not in text.split("students (")[0]                 # not argparse's flat {train,sample,…} list too


def test_audiences_follow_what_the_commands_do():
    by_name = {c.name: c.audience for c in registry()}
    assert {n for n, a in by_name.items() if a == "students"} == {"sample", "student-copies"}
    assert {n for n, a in by_name.items() if a == "instructors"} == {"course", "grade", "points-table",
                                                                       "mistakes-page"}
    assert {n for n, a in by_name.items() if a == "translators"} == {"i18n-update", "i18n-status"}
    assert {"train", "data", "classifier", "bench", "bench-readme", "bench-recipes", "gpu-check",
            "refresh-outputs"} <= {n for n, a in by_name.items() if a == "maintainers"}


def test_one_registration_pattern_and_every_commands_own_help(capsys):
    """Every command comes from a ``commands()`` record, has a unique name (aliases included), and its own
    --help works and says what it does."""
    commands = registry()
    names = [n for c in commands for n in (c.name, *c.aliases)]
    assert len(names) == len(set(names))
    from dlhelpers.tools import cli_course, gpu_check, refresh_outputs
    for module in (cli_course, gpu_check, refresh_outputs):
        assert not hasattr(module, "add_commands") and callable(module.commands)
    parser = build_parser()
    for name in names:
        with pytest.raises(SystemExit) as info:
            parser.parse_args([name, "--help"])
        assert info.value.code == 0
        command = next(c for c in commands if name in (c.name, *c.aliases))
        assert command.help.split()[0] in capsys.readouterr().out
    assert parser.parse_args(["workbook"]).func is parser.parse_args(["student-copies"]).func


def test_help_names_no_report_path_of_its_own():
    """Reports live where ``dlhelpers.tools.bench.REPORT`` says; no help text hard-codes a report under data/."""
    from dlhelpers.tools.bench import REPORT
    texts = [c.help for c in registry()]
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    texts += [sp.format_help() for sp in sub.choices.values()]
    for text in texts:
        assert not re.search(r"data/\w+\.(md|png)", " ".join(text.split())), text
    assert REPORT.name in next(c.help for c in registry() if c.name == "bench")


# ---------------------------------------------------------------------------------- sample: the weights' spec
def _weights(folder, path: str, model: bool = False):
    """A weights folder whose manifest's spec says ``path``; with ``model``, a tiny real ``final.pt`` in it."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    if model:
        torch.manual_seed(0)
        files["final"] = {"file": "final.pt", "step": 1,
                          "sha256": pretrained.export_state(ContextUnet(**TINY).state_dict(), folder / "final.pt")}
    pretrained.write_manifest({"spec": SPECS[path], "model": TINY, "schedule": SPECS[path]["schedule"],
                               "files": files or {"final": {"file": "final.pt", "sha256": "0" * 64, "step": 1}}},
                              folder)
    return folder


def _refused(argv, monkeypatch) -> str:
    monkeypatch.setattr(pretrained, "load_pretrained", lambda *a, **k: pytest.fail("loaded weights"))
    with pytest.raises(SystemExit) as info:
        main(["sample", *argv, "--quiet"])
    code = info.value.code
    assert isinstance(code, str) and code.startswith("error: "), code
    return code


@pytest.mark.parametrize("spec_path, sampler", [("flow", "ddim"), ("flow", "ddpm"), ("ddpm", "flow-heun"),
                                                ("ddpm", "flow-euler")])
def test_sample_refuses_a_sampler_of_another_path_than_the_weights_spec(spec_path, sampler, tmp_path, monkeypatch):
    """The mistake is planted in the manifest's spec (the folder's name says nothing); the message names the
    sampler, the weights and both paths, and lists the weights' samplers."""
    folder = _weights(tmp_path / "mine", spec_path)
    message = _refused(["--weights", str(folder), "--sampler", sampler], monkeypatch)
    own = samplers.get(sampler).path
    assert f"--sampler {sampler} does not walk the path of the {spec_path!r} weights" in message
    assert str(folder / "final.pt") in message and f"{sampler} walks the {own!r} path" in message
    assert message.endswith(f"their samplers: {', '.join(samplers.samplers_for(spec_path))}")


def test_sample_reads_the_shipped_folders_spec_not_its_name(tmp_path, monkeypatch):
    """--preset course names a folder; the path is its spec's: here the course's folder holds a flow model."""
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path)
    _weights(tmp_path, "flow")
    message = _refused(["--preset", "course", "--sampler", "ddim"], monkeypatch)
    assert "the 'flow' weights" in message and "flow-euler, flow-heun" in message


@pytest.mark.parametrize("argv, needle", [
    (["--weights", "nope"], "--weights must be a checkpoint of"),
    (["--weights", "{dir}/step_00001.pt"], "is not in"),
    (["--weights", "{dir}", "--preset", "flow"], "leave out --preset flow"),
    (["--weights", "{dir}/nowhere"], "manifest.json is missing"),
    (["--sampler", "flow-heun"], "none of the shipped weights walks the 'flow' path of --sampler flow-heun"),
])
def test_sample_refuses_weights_it_cannot_read_naming_them(argv, needle, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", _weights(tmp_path / "shipped", "ddpm"))
    folder = _weights(tmp_path / "mine", "ddpm")
    assert needle in _refused([a.format(dir=folder) for a in argv], monkeypatch)


def _sampled(argv, tmp_path, capsys) -> str:
    out = tmp_path / "grid.png"
    assert main(["sample", *argv, "--steps", "2", "--n", "2", "--device", "cpu", "--precision", "fp32",
                 "--out", str(out), "--quiet"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return capsys.readouterr().out


def test_sample_takes_the_path_from_the_weights_spec(tmp_path, monkeypatch, capsys):
    """Without --preset, the sampler's path picks the shipped folder by its spec (here swapped: the course's folder
    holds the flow model); with --weights DIR and no --sampler, the spec picks the sampler."""
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path)
    _weights(tmp_path, "flow", model=True)
    _weights(tmp_path / "flow", "ddpm", model=True)
    assert f"flow-euler on {tmp_path / 'final.pt'}" in _sampled(["--sampler", "flow-euler"], tmp_path, capsys)
    assert f"ddim on {tmp_path / 'flow' / 'final.pt'}" in _sampled(["--sampler", "ddim"], tmp_path, capsys)
    assert "flow-heun on" in _sampled(["--weights", str(tmp_path)], tmp_path, capsys)
    assert "ddim on" in _sampled(["--weights", str(tmp_path / "flow" / "final.pt")], tmp_path, capsys)


def test_every_path_has_a_default_sampler_that_walks_it():
    """The course's two paths have a chosen default; any other path's is the first of its samplers."""
    from dlhelpers.tools.cli import DEFAULT_SAMPLER
    assert set(DEFAULT_SAMPLER) <= {s.path for s in samplers.SAMPLERS.values()}
    assert all(samplers.get(name).path == path for path, name in DEFAULT_SAMPLER.items())
    assert all(samplers.samplers_for(s.path) for s in samplers.SAMPLERS.values())


def test_sample_with_no_sampler_and_no_weights_is_the_courses_ddim(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path)
    _weights(tmp_path, "ddpm", model=True)
    _weights(tmp_path / "flow", "flow", model=True)
    assert f"ddim on {tmp_path / 'final.pt'}" in _sampled([], tmp_path, capsys)
    assert f"flow-heun on {tmp_path / 'flow' / 'final.pt'}" in _sampled(["--preset", "flow"], tmp_path, capsys)
