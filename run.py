"""The course's two entry points, one command each on a fresh machine with Python >= 3.10 (Windows, macOS, Linux):

    python run.py lab    set up .venv, write your own copies of the notebooks into my-work/ (only the missing ones:
                         never your work) and open the first one in JupyterLab (extra arguments go to JupyterLab)
    python run.py test   set up .venv with the test tools and run every test (extra arguments go to pytest);
                         ``test --quick``: the quick tier (unit tests, catalogues, the source notebooks at CI size;
                         no browser, hub, end-to-end grading or other tests marked slow), a few minutes

Standard library only. ``bash run.sh lab|test`` is the same thing. Environment:

    CI             ``test`` sets CI=true unless it is set: the notebooks run their shortened versions (as CI, the
                   browser test and ``python -m dlhelpers grade`` run them); ``refresh-outputs`` runs them full size
    COURSE_LANG    en or ko; unset: Korean when the locale is Korean (LC_ALL, LC_MESSAGES, LANG; on Windows also the
                   system locale), else English. Korean copies go to my-work/ko/ and JupyterLab's menus are Korean
                   (a project-local settings folder, .jupyter/lab-ko/user-settings, whose locale file is written
                   only when missing: a language the student then picks in JupyterLab's menu is kept).
    TORCH_SPEC     the PyTorch build installed when the venv has none (default torch==2.13.0)
    TEST_WORKERS   pytest-xdist worker processes for ``test`` (default 2; 1 = no xdist)

The decisions are pure functions of (platform, environment) -- ``plan`` returns the commands to run -- so that
tests/test_launcher.py checks the Windows commands on any machine; ``main`` only carries them out.
"""
import collections
import hashlib
import json
import ntpath
import os
import posixpath
import subprocess
import sys

USAGE = "usage: python run.py lab [jupyter lab args] | test [--quick] [pytest args]"
QUICK = "--quick"
# The quick tier deselects by marker (pyproject.toml's [tool.pytest.ini_options] markers): what needs a browser, the
# hub, nbgrader end to end, or minutes (the student copies run top to bottom, the gpu-check machinery, ...).
QUICK_MARKERS = "not slow and not browser and not hub and not grading"
DEFAULT_TORCH = "torch==2.13.0"      # pinned: an open range could pull a multi-GB CUDA build on a CPU-only machine
LANGUAGES = ("en", "ko")
FIRST_NOTEBOOK = "01_sampling.ipynb"
KO_SETTINGS_DIR = (".jupyter", "lab-ko", "user-settings")   # git-ignored; JupyterLab's own settings for ko
KO_LOCALE_FILE = ("@jupyterlab", "translation-extension", "plugin.jupyterlab-settings")
KO_LOCALE_SETTINGS = json.dumps({"locale": "ko_KR"}) + "\n"   # needs jupyterlab-language-pack-ko-KR (extra "ko")
NO_TESTS = 5                          # pytest's "no tests collected"

# argv: the command; env: its whole environment (None: this process's); skip_if: None, ("exists", path) or
# ("succeeds", argv) -- the step is skipped when that path exists or that probe command exits 0.
Step = collections.namedtuple("Step", "argv env skip_if")
# steps run in order, each but the last must succeed; writes ({path: text}) are made, when missing, before the last.
Plan = collections.namedtuple("Plan", "steps writes")


class LauncherError(Exception):
    """A setting run.py cannot act on; main prints it and exits 2."""


def _path(windows):
    return ntpath if windows else posixpath


def venv_python(root, windows):
    """The venv's interpreter: .venv/bin/python on POSIX, .venv\\Scripts\\python.exe on Windows."""
    return _path(windows).join(root, ".venv", *(("Scripts", "python.exe") if windows else ("bin", "python")))


def venv_scripts(root, windows):
    """The venv's scripts folder (put first on PATH for ``test``: nbgrader runs alembic as a subprocess)."""
    return _path(windows).join(root, ".venv", "Scripts" if windows else "bin")


def is_korean(name):
    """Whether a locale name is Korean: ko, ko_KR.UTF-8, ko-KR, Korean_Korea.949 (not kok_IN, Konkani)."""
    name = (name or "").strip().lower()
    return name == "ko" or name.startswith(("ko_", "ko-", "ko.", "ko@", "korean"))


def course_language(env, windows, getlocale=lambda: []):
    """'en' or 'ko'. COURSE_LANG wins; else the first set of LC_ALL, LC_MESSAGES, LANG (POSIX precedence); else, on
    Windows only, the system locale names from ``getlocale()``; else English. A bad COURSE_LANG is an error."""
    explicit = (env.get("COURSE_LANG") or "").strip().lower()
    if explicit:
        if explicit not in LANGUAGES:
            raise LauncherError("COURSE_LANG must be 'en' or 'ko', not %r" % env["COURSE_LANG"])
        return explicit
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if env.get(var):
            return "ko" if is_korean(env[var]) else "en"
    if windows:
        names = getlocale()
        return "ko" if any(is_korean(n) for n in ([names] if isinstance(names, str) else names)) else "en"
    return "en"


def windows_locale_names():
    """The names Windows gives the user's locale: locale.getlocale() (e.g. 'Korean_Korea' or 'ko_KR') and the
    deprecated locale.getdefaultlocale() (e.g. 'ko_KR'), where this Python still has it."""
    import locale
    import warnings
    names = []
    for get in (locale.getlocale, getattr(locale, "getdefaultlocale", None)):
        if get is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                names.append(get()[0])
        except (ValueError, TypeError, OSError):
            pass
    return [n for n in names if n]


def worker_count(env):
    """TEST_WORKERS as a number (default 2, like run.sh's ${TEST_WORKERS:-2})."""
    raw = env.get("TEST_WORKERS") or "2"
    try:
        return int(raw)
    except ValueError:
        raise LauncherError("TEST_WORKERS must be a whole number, not %r" % raw) from None


def install_stamp(root, windows, extras, project):
    """The file that says this package is installed in .venv with these extras from this pyproject.toml (its text
    ``project``): .venv/.dlhelpers-<extras>-<hash>.installed. Written once the setup succeeded; while it exists the
    package install is skipped (pip's editable reinstall costs ~15 s each run), and an edit of pyproject.toml
    changes the name, so new dependencies get installed."""
    digest = hashlib.sha256((project + "\n" + ",".join(extras)).encode("utf-8")).hexdigest()[:12]
    return _path(windows).join(root, ".venv", ".dlhelpers-%s-%s.installed" % ("-".join(extras) or "base", digest))


def setup_steps(root, windows, env, python, extras, project=""):
    """Create .venv if missing, install PyTorch (TORCH_SPEC) unless the venv imports it, then this package unless
    its install stamp exists (the stamp goes in the plan's writes)."""
    py = venv_python(root, windows)
    pip = [py, "-m", "pip", "install", "-q"]
    stamp = install_stamp(root, windows, extras, project)
    return [Step([python, "-m", "venv", _path(windows).join(root, ".venv")], None, ("exists", py)),
            Step(pip + [env.get("TORCH_SPEC") or DEFAULT_TORCH], None, ("succeeds", [py, "-c", "import torch"])),
            Step(pip + ["-e", ".[%s]" % ",".join(extras) if extras else "."], None, ("exists", stamp))]


def pytest_args(env, args, windows=False):
    """Tests and notebooks, xdist when TEST_WORKERS > 1, nbval, the 25 slowest tests; ``--quick`` anywhere in args
    selects the quick tier (``-m QUICK_MARKERS``)."""
    if QUICK in args:
        args = [a for a in args if a != QUICK] + ["-m", QUICK_MARKERS]
    workers = worker_count(env)
    parallel = ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"] if workers > 1 else []
    return (["tests", "notebooks"] + parallel
            + ["--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with",
               _path(windows).join("notebooks", "sanitize.cfg"), "--nbval-cell-timeout=170",
               "-p", "no:cacheprovider", "-o", "console_output_style=classic", "--durations=25"] + list(args))


def plan(command, args, env, windows, root, python=sys.executable, getlocale=lambda: [], project=""):
    """The steps of ``run.py <command> <args>`` on that platform, with that environment, as a Plan; ``project`` is
    the text of pyproject.toml (it names the install stamp)."""
    p, py = _path(windows), venv_python(root, windows)
    if command == "lab":
        lang = course_language(env, windows, getlocale)
        child = dict(env, COURSE_LANG=lang)
        extras = ["ko"] if lang == "ko" else []
        out = "my-work" if lang == "en" else p.join("my-work", lang)
        writes = {install_stamp(root, windows, extras, project): ""}
        copies = [py, "-m", "dlhelpers", "student-copies", "--out", out] + (["--lang", lang] if lang != "en" else [])
        if lang == "ko":
            settings = p.join(root, *KO_SETTINGS_DIR)
            child["JUPYTERLAB_SETTINGS_DIR"] = settings
            writes[p.join(settings, *KO_LOCALE_FILE)] = KO_LOCALE_SETTINGS
        return Plan(setup_steps(root, windows, env, python, extras, project)
                    + [Step(copies, None, None),
                       Step([py, "-m", "jupyter", "lab", p.join(out, FIRST_NOTEBOOK)] + list(args), child, None)],
                    writes)
    if command == "test":
        child = dict(env)
        child["PATH"] = (";" if windows else ":").join(
            [venv_scripts(root, windows)] + ([env["PATH"]] if env.get("PATH") else []))
        if worker_count(env) > 1 and not env.get("OMP_NUM_THREADS"):
            child["OMP_NUM_THREADS"] = "1"       # one torch thread per worker
        if not env.get("CI"):
            child["CI"] = "true"                 # the notebooks' shortened runs (notebook 3: seconds, not 5 minutes)
        # ko always: the suite checks the Korean edition too, whatever the tester's locale
        extras = ["test", "instructor", "ko"]
        return Plan(setup_steps(root, windows, env, python, extras, project)
                    + [Step([py, "-m", "pytest"] + pytest_args(env, args, windows), child, None)],
                    {install_stamp(root, windows, extras, project): ""})
    raise LauncherError(USAGE)


def exit_status(command, rc):
    """(exit code, message or None) for the last step's return code: pytest's 5 (nothing collected) is a failure,
    a child killed by signal N exits 128 + N as in a shell."""
    if command == "test" and rc == NO_TESTS:
        return 1, "pytest collected no tests"
    return (128 - rc if rc < 0 else rc), None


def read_text(path):
    """A file's text, or "" when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def wait(proc):
    """Wait for a child through Ctrl-C: the child gets the interrupt too (JupyterLab asks, then shuts down), and
    this process keeps waiting for it to end instead of leaving it behind."""
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def skipped(step, cwd):
    if step.skip_if is None:
        return False
    kind, what = step.skip_if
    if kind == "exists":
        return os.path.exists(what)
    return subprocess.run(what, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def execute(the_plan, root):
    """Run the plan's steps in root. Returns (return code, whether it is the last step's): the first failing
    setup step's code ends the run."""
    for i, step in enumerate(the_plan.steps):
        last = i == len(the_plan.steps) - 1
        if last:
            for path, text in the_plan.writes.items():
                if not os.path.exists(path):
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(text)
        if skipped(step, root):
            continue
        rc = wait(subprocess.Popen(step.argv, cwd=root, env=step.env))
        if last or rc != 0:
            return rc, last
    return 0, True


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("lab", "test"):
        asked = argv[:1] in (["-h"], ["--help"])
        print(USAGE, file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    if sys.version_info < (3, 10):
        print("run.py: the course needs Python 3.10 or newer; this is %d.%d" % sys.version_info[:2], file=sys.stderr)
        return 1
    windows = os.name == "nt"
    root = os.path.dirname(os.path.abspath(__file__))
    try:
        project = read_text(os.path.join(root, "pyproject.toml"))
        the_plan = plan(argv[0], argv[1:], dict(os.environ), windows, root, sys.executable, windows_locale_names,
                        project)
    except LauncherError as e:
        print("run.py: %s" % e, file=sys.stderr)
        return 2
    try:
        rc, finished = execute(the_plan, root)
    except KeyboardInterrupt:
        return 130
    if not finished:
        print("run.py: setup failed (exit %d); see the messages above" % rc, file=sys.stderr)
        return rc if rc > 0 else 1
    code, message = exit_status(argv[0], rc)
    if message:
        print(message, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
