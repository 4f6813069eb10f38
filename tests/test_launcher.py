"""run.py, the course's launcher: its decisions (paths, language, the commands it runs) with Windows simulated on any
machine, and two cheap real runs -- the usage line, and ``run.py lab`` / ``run.py test`` against a fake .venv whose
python records what it is asked to do instead of installing anything."""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("course_launcher", ROOT / "run.py")
launcher = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(launcher)

WIN_ROOT, NIX_ROOT = "C:\\Users\\ji\\course", "/home/ji/course"
WIN_PY, NIX_PY = WIN_ROOT + "\\.venv\\Scripts\\python.exe", NIX_ROOT + "/.venv/bin/python"
SYS_PY_WIN = "C:\\Python311\\python.exe"
# What `bash run.sh test -k foo` ran before run.py (git show HEAD~:run.sh, checked against that script with a fake
# .venv/bin/python that printed its arguments).
RUN_SH_PYTEST = ["-m", "pytest", "tests", "notebooks", "-n", "2", "--dist", "loadfile", "--no-loadscope-reorder",
                 "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "notebooks/sanitize.cfg",
                 "--nbval-cell-timeout=170", "-p", "no:cacheprovider", "-o", "console_output_style=classic",
                 "--durations=25", "-k", "foo"]


def argvs(plan):
    return [step.argv for step in plan.steps]


# ------------------------------------------------------------------------------------------------ paths

def test_venv_paths_per_platform():
    assert launcher.venv_python(WIN_ROOT, windows=True) == WIN_PY
    assert launcher.venv_scripts(WIN_ROOT, windows=True) == WIN_ROOT + "\\.venv\\Scripts"
    assert launcher.venv_python(NIX_ROOT, windows=False) == NIX_PY
    assert launcher.venv_scripts(NIX_ROOT, windows=False) == NIX_ROOT + "/.venv/bin"


# ------------------------------------------------------------------------------------------------ language

@pytest.mark.parametrize("env, windows, names, expected", [
    ({}, False, [], "en"),
    ({"LANG": "ko_KR.UTF-8"}, False, [], "ko"),                                  # Linux / macOS, Korean locale
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "ko_KR.UTF-8"}, False, [], "ko"),
    ({"LANG": "ko_KR.UTF-8", "LC_ALL": "C.UTF-8"}, False, [], "en"),             # LC_ALL overrides, as in POSIX
    ({"LANG": "ko_KR.UTF-8", "COURSE_LANG": "en"}, False, [], "en"),             # explicit wins over the locale
    ({"LANG": "en_US.UTF-8", "COURSE_LANG": "ko"}, False, [], "ko"),
    ({"COURSE_LANG": " KO "}, False, [], "ko"),
    ({"COURSE_LANG": "", "LANG": "ko_KR.UTF-8"}, False, [], "ko"),               # empty = unset, like ${X:-}
    ({"LANG": "kok_IN"}, False, [], "en"),                                       # Konkani is not Korean
    ({}, False, ["ko_KR"], "en"),                                                # POSIX: only the environment
    ({}, True, ["Korean_Korea.949"], "ko"),                                      # Windows system locale
    ({}, True, ["English_United States", "ko_KR"], "ko"),                        # getdefaultlocale's name
    ({}, True, "Korean_Korea", "ko"),
    ({}, True, ["English_United States", "en_US"], "en"),
    ({"COURSE_LANG": "en"}, True, ["Korean_Korea"], "en"),
    ({"LANG": "ko_KR.UTF-8"}, True, ["English_United States"], "ko"),            # Git Bash's LANG on Windows
])
def test_course_language(env, windows, names, expected):
    assert launcher.course_language(env, windows, lambda: names) == expected


@pytest.mark.parametrize("bad", ["fr", "korean", "ko_KR"])
def test_a_bad_course_lang_is_an_error_naming_it(bad):
    with pytest.raises(launcher.LauncherError, match="COURSE_LANG.*'en' or 'ko'.*" + bad):
        launcher.course_language({"COURSE_LANG": bad, "LANG": "ko_KR.UTF-8"}, False)


def test_windows_locale_names_are_plain_strings():
    names = launcher.windows_locale_names()      # runs anywhere; on Windows it reads the system locale
    assert all(isinstance(n, str) and n for n in names)


# ------------------------------------------------------------------------------------------------ lab

def test_lab_on_windows_english():
    plan = launcher.plan("lab", [], {"PATH": "C:\\Windows", "LANG": ""}, True, WIN_ROOT, SYS_PY_WIN,
                         lambda: ["English_United States"])
    assert argvs(plan) == [
        [SYS_PY_WIN, "-m", "venv", WIN_ROOT + "\\.venv"],
        [WIN_PY, "-m", "pip", "install", "-q", launcher.DEFAULT_TORCH],
        [WIN_PY, "-m", "pip", "install", "-q", "-e", "."],
        [WIN_PY, "-m", "dlhelpers", "student-copies", "--out", "my-work"],
        [WIN_PY, "-m", "jupyter", "lab", "my-work\\01_sampling.ipynb"]]
    assert [s.skip_if for s in plan.steps[:2]] == [("exists", WIN_PY), ("succeeds", [WIN_PY, "-c", "import torch"])]
    assert not any("bash" in a or a == "exec" or a.endswith(".sh") for argv in argvs(plan) for a in argv)
    assert plan.steps[-1].env["COURSE_LANG"] == "en" and "JUPYTERLAB_SETTINGS_DIR" not in plan.steps[-1].env
    stamp = plan.steps[2].skip_if[1]        # the package install is skipped once its stamp is written
    assert plan.steps[2].skip_if[0] == "exists" and stamp.startswith(WIN_ROOT + "\\.venv\\.dlhelpers-base-")
    assert plan.writes == {stamp: ""}


def test_lab_on_windows_korean_from_the_system_locale():
    plan = launcher.plan("lab", ["--no-browser"], {"TORCH_SPEC": "torch==2.12.0"}, True, WIN_ROOT, SYS_PY_WIN,
                         lambda: ["Korean_Korea", "ko_KR"])
    settings = WIN_ROOT + "\\.jupyter\\lab-ko\\user-settings"
    assert argvs(plan)[1:] == [
        [WIN_PY, "-m", "pip", "install", "-q", "torch==2.12.0"],
        [WIN_PY, "-m", "pip", "install", "-q", "-e", ".[ko]"],
        [WIN_PY, "-m", "dlhelpers", "student-copies", "--out", "my-work\\ko", "--lang", "ko"],
        [WIN_PY, "-m", "jupyter", "lab", "my-work\\ko\\01_sampling.ipynb", "--no-browser"]]
    child = plan.steps[-1].env
    assert child["COURSE_LANG"] == "ko" and child["JUPYTERLAB_SETTINGS_DIR"] == settings
    path = settings + "\\@jupyterlab\\translation-extension\\plugin.jupyterlab-settings"
    assert list(plan.writes) == [plan.steps[2].skip_if[1], path]
    assert json.loads(plan.writes[path]) == {"locale": "ko_KR"}


def test_lab_on_macos_and_linux_korean():
    env = {"LANG": "ko_KR.UTF-8", "PATH": "/usr/bin"}
    plan = launcher.plan("lab", [], env, False, NIX_ROOT, "/usr/bin/python3")
    assert argvs(plan)[0] == ["/usr/bin/python3", "-m", "venv", NIX_ROOT + "/.venv"]
    assert argvs(plan)[2:] == [
        [NIX_PY, "-m", "pip", "install", "-q", "-e", ".[ko]"],
        [NIX_PY, "-m", "dlhelpers", "student-copies", "--out", "my-work/ko", "--lang", "ko"],
        [NIX_PY, "-m", "jupyter", "lab", "my-work/ko/01_sampling.ipynb"]]
    settings = NIX_ROOT + "/.jupyter/lab-ko/user-settings"
    assert plan.steps[-1].env == dict(env, COURSE_LANG="ko", JUPYTERLAB_SETTINGS_DIR=settings)
    assert list(plan.writes)[1:] == [settings + "/@jupyterlab/translation-extension/plugin.jupyterlab-settings"]
    assert list(plan.writes)[0].startswith(NIX_ROOT + "/.venv/.dlhelpers-ko-")
    assert env == {"LANG": "ko_KR.UTF-8", "PATH": "/usr/bin"}          # the caller's environment is not changed


# ------------------------------------------------------------------------------------------------ test

def test_test_runs_what_run_sh_ran():
    plan = launcher.plan("test", ["-k", "foo"], {"PATH": "/usr/bin:/bin"}, False, NIX_ROOT, "/usr/bin/python3")
    assert argvs(plan)[2] == [NIX_PY, "-m", "pip", "install", "-q", "-e", ".[test,instructor,ko]"]
    assert argvs(plan)[-1] == [NIX_PY] + RUN_SH_PYTEST
    child = plan.steps[-1].env
    assert child["PATH"] == NIX_ROOT + "/.venv/bin:/usr/bin:/bin" and child["OMP_NUM_THREADS"] == "1"
    assert child["CI"] == "true"            # the notebooks' shortened runs, without the tester setting CI


def check_a_fresh_venv_gets_an_exact_torch_release():
    """Without TORCH_SPEC the venv gets one exact PyTorch release: an open range (or a bare ``torch``) can pull a
    multi-GB CUDA build onto a CPU-only machine; a release pyproject.toml's own torch requirement admits."""
    import tomllib
    torch_step = argvs(launcher.plan("lab", [], {}, False, NIX_ROOT))[1]
    spec = torch_step[-1]
    assert torch_step[:-1] == [NIX_PY, "-m", "pip", "install", "-q"] and re.fullmatch(r"torch==\d+(\.\d+)+", spec), spec
    wanted = next(d for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
                  if d.startswith("torch"))
    low = re.fullmatch(r"torch>=(\d+)\.(\d+)", wanted)
    assert low and tuple(int(n) for n in spec.split("==")[1].split(".")[:2]) >= tuple(int(n) for n in low.groups())


def test_a_fresh_venv_gets_an_exact_torch_release():
    check_a_fresh_venv_gets_an_exact_torch_release()


@pytest.mark.parametrize("planted", ["torch", "torch>=2.2", "torch==1.13.1"])
def test_an_open_or_too_old_default_torch_is_caught(monkeypatch, planted):
    monkeypatch.setattr(launcher, "DEFAULT_TORCH", planted)
    with pytest.raises(AssertionError):
        check_a_fresh_venv_gets_an_exact_torch_release()


def test_quick_selects_the_quick_tier_by_marker_and_keeps_other_arguments():
    full = argvs(launcher.plan("test", ["-x"], {}, False, NIX_ROOT))[-1]
    quick = argvs(launcher.plan("test", ["--quick", "-x"], {}, False, NIX_ROOT))[-1]
    assert "--quick" not in quick and quick[:-2] == full and quick[-2:] == ["-m", launcher.QUICK_MARKERS]
    assert "-m" not in full[3:]                                          # python -m pytest: no marker
    for marker in ("browser", "hub", "grading", "slow"):                # each a marker pyproject registers
        assert f"not {marker}" in launcher.QUICK_MARKERS


def test_test_on_windows():
    env = {"PATH": "C:\\Windows;C:\\Windows\\System32", "TEST_WORKERS": "3", "OMP_NUM_THREADS": "4"}
    plan = launcher.plan("test", [], env, True, WIN_ROOT, SYS_PY_WIN)
    pytest_argv = argvs(plan)[-1]
    assert pytest_argv[:8] == [WIN_PY, "-m", "pytest", "tests", "notebooks", "-n", "3", "--dist"]
    assert "notebooks\\sanitize.cfg" in pytest_argv
    child = plan.steps[-1].env
    assert child["PATH"] == WIN_ROOT + "\\.venv\\Scripts;C:\\Windows;C:\\Windows\\System32"
    assert child["OMP_NUM_THREADS"] == "4"                               # the tester's setting is kept
    assert not any("bash" in a or a == "exec" for argv in argvs(plan) for a in argv)


def test_one_worker_means_no_xdist_and_no_thread_default():
    plan = launcher.plan("test", ["-x"], {"TEST_WORKERS": "1"}, False, NIX_ROOT)
    pytest_argv = argvs(plan)[-1]
    assert "-n" not in pytest_argv and "--dist" not in pytest_argv and pytest_argv[-1] == "-x"
    assert "OMP_NUM_THREADS" not in plan.steps[-1].env
    assert plan.steps[-1].env["PATH"] == NIX_ROOT + "/.venv/bin"       # no PATH before: only the venv's


def test_bad_test_workers_is_an_error_naming_it():
    with pytest.raises(launcher.LauncherError, match="TEST_WORKERS.*two"):
        launcher.plan("test", [], {"TEST_WORKERS": "two"}, False, NIX_ROOT)


@pytest.mark.parametrize("command, rc, expected", [
    ("test", 5, (1, "pytest collected no tests")), ("test", 0, (0, None)), ("test", 1, (1, None)),
    ("lab", 5, (5, None)), ("lab", -2, (130, None)),
])
def test_exit_status(command, rc, expected):
    assert launcher.exit_status(command, rc) == expected


# ------------------------------------------------------------------------------------------------ running

def test_waiting_survives_ctrl_c():
    class Child:
        calls = 0

        def wait(self):
            Child.calls += 1
            if Child.calls == 1:
                raise KeyboardInterrupt
            return 3
    try:
        rc = launcher.wait(Child())
    except KeyboardInterrupt:                          # uncaught, it would stop pytest itself
        pytest.fail("wait() let Ctrl-C through and left the child running")
    assert rc == 3 and Child.calls == 2


def test_execute_skips_writes_and_stops(tmp_path):
    py = sys.executable
    marker, written = tmp_path / "ran.txt", tmp_path / "cfg" / "sub" / "settings.json"
    kept = tmp_path / "kept.json"
    kept.write_text("mine")
    S = launcher.Step
    plan = launcher.Plan([S([py, "-c", "raise SystemExit(9)"], None, ("exists", str(tmp_path))),
                          S([py, "-c", "raise SystemExit(9)"], None, ("succeeds", [py, "-c", "pass"])),
                          S([py, "-c", "open('ran.txt', 'w').write('x')"], None, ("succeeds", [py, "-c", "1/0"])),
                          S([py, "-c", "import os, sys; sys.exit(5 if os.path.exists(sys.argv[1]) and "
                                       "os.environ['X'] == 'y' else 7)", str(written)], dict(os.environ, X="y"), None)],
                         {str(written): "{}\n", str(kept): "theirs"})
    assert launcher.execute(plan, str(tmp_path)) == (5, True)
    assert marker.exists() and written.read_text() == "{}\n" and kept.read_text() == "mine"

    failing = launcher.Plan([S([py, "-c", "raise SystemExit(4)"], None, None),
                             S([py, "-c", "open('late.txt', 'w')"], None, None)], {})
    assert launcher.execute(failing, str(tmp_path)) == (4, False) and not (tmp_path / "late.txt").exists()


def test_run_py_uses_only_the_standard_library_and_run_sh_only_wraps_it():
    import ast
    tree = ast.parse((ROOT / "run.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(tree)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names
    run_sh = (ROOT / "run.sh").read_text()
    assert 'exec "${PYTHON:-python3}" run.py "$@"' in run_sh
    assert "pip install" not in run_sh and "-m venv" not in run_sh and "pytest" not in run_sh


def _run(args, cwd, **env):
    return subprocess.run([sys.executable, "run.py"] + args, cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=60)


@pytest.mark.parametrize("args", [[], ["bogus"]])
def test_without_a_known_command_it_prints_the_usage_and_exits_2(args):
    done = _run(args, ROOT)
    assert done.returncode == 2 and done.stderr.strip() == launcher.USAGE and done.stdout == ""


FAKE_PYTHON = """#!{python}
import json, os, sys
with open(os.path.join(os.path.dirname(__file__), "calls.jsonl"), "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(),
                        "env": {{k: os.environ.get(k) for k in ("PATH", "OMP_NUM_THREADS", "COURSE_LANG",
                                                                "JUPYTERLAB_SETTINGS_DIR")}}}}) + "\\n")
sys.exit(5 if sys.argv[1:3] == ["-m", "pytest"] else 0)
"""


@pytest.fixture
def fake_course(tmp_path):
    """A copy of run.py beside a .venv whose python only records its calls (imports torch, installs nothing)."""
    if os.name == "nt":
        pytest.skip("the fake .venv is a POSIX script")
    (tmp_path / "run.py").write_bytes((ROOT / "run.py").read_bytes())
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(0o755)

    def calls():
        log = fake.parent / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return tmp_path, calls


def test_run_py_test_for_real_against_a_fake_venv(fake_course):
    root, calls = fake_course
    done = _run(["test", "-k", "foo"], root, TEST_WORKERS="", OMP_NUM_THREADS="")
    assert done.returncode == 1 and "pytest collected no tests" in done.stderr
    made = calls()
    assert [c["argv"] for c in made] == [["-c", "import torch"],
                                         ["-m", "pip", "install", "-q", "-e", ".[test,instructor,ko]"],
                                         RUN_SH_PYTEST]
    assert all(c["cwd"] == str(root) for c in made)
    assert made[-1]["env"]["PATH"].split(os.pathsep)[0] == str(root / ".venv" / "bin")
    assert made[-1]["env"]["OMP_NUM_THREADS"] == "1"


def test_the_package_install_runs_again_only_when_pyproject_changes(fake_course):
    root, calls = fake_course
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    pip = ["-m", "pip", "install", "-q", "-e", ".[test,instructor,ko]"]

    def pip_runs():
        _run(["test", "--quick"], root, TEST_WORKERS="")
        return [c["argv"] for c in calls()].count(pip)
    assert pip_runs() == 1 and len(list((root / ".venv").glob(".dlhelpers-*.installed"))) == 1
    assert pip_runs() == 1                                 # installed from this pyproject.toml: skipped
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\ndependencies = ['numpy']\n")
    assert pip_runs() == 2                                 # a dependency added: installed again
    assert pip_runs() == 2


def test_run_py_lab_korean_for_real_against_a_fake_venv(fake_course):
    root, calls = fake_course
    done = _run(["lab"], root, COURSE_LANG="", LC_ALL="", LC_MESSAGES="", LANG="ko_KR.UTF-8")
    assert done.returncode == 0, done.stderr
    settings = root / ".jupyter" / "lab-ko" / "user-settings"
    made = calls()
    assert [c["argv"] for c in made][1:] == [
        ["-m", "pip", "install", "-q", "-e", ".[ko]"],
        ["-m", "dlhelpers", "student-copies", "--out", "my-work/ko", "--lang", "ko"],
        ["-m", "jupyter", "lab", "my-work/ko/01_sampling.ipynb"]]
    assert made[-1]["env"]["COURSE_LANG"] == "ko" and made[-1]["env"]["JUPYTERLAB_SETTINGS_DIR"] == str(settings)
    locale_file = settings / "@jupyterlab" / "translation-extension" / "plugin.jupyterlab-settings"
    assert json.loads(locale_file.read_text()) == {"locale": "ko_KR"}


def test_a_bad_course_lang_stops_before_anything_runs(fake_course):
    root, calls = fake_course
    done = _run(["lab"], root, COURSE_LANG="xx")
    assert done.returncode == 2 and "COURSE_LANG" in done.stderr and "'xx'" in done.stderr
    assert calls() == []
