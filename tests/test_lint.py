"""The linter: ``ruff check .`` is clean with the rules chosen in pyproject.toml ([tool.ruff.lint]), the check can
fail, and every ``# noqa`` left in the code says why on its own line."""
import importlib.util
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                                reason="ruff is not installed (it is in the test extra: pip install -e '.[test]')")


def _ruff(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_ruff_check_is_clean():
    out = _ruff("check", "--no-cache", ".")
    assert out.returncode == 0, f"ruff check . found problems:\n{out.stdout}{out.stderr}"


def test_ruff_check_fails_on_real_mistakes(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n"                      # F401: imported but unused
                   "\n"
                   "\n"
                   "def f(items=[]):\n"               # B006: a mutable default, shared between calls
                   "    return undefined_name\n")     # F821: undefined name
    out = _ruff("check", "--no-cache", "--config", str(CONFIG), "--output-format", "concise", str(bad),
                cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    for code in ("F401", "F821", "B006"):
        assert code in out.stdout, f"ruff did not report {code}:\n{out.stdout}{out.stderr}"


# a noqa comment: "noqa", optionally ": CODE, CODE", then the reason, the words after the codes
_NOQA = re.compile(r"#\s*noqa\b(?::\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?(?P<rest>.*)", re.IGNORECASE)


def test_every_noqa_says_why():
    listed = _ruff("check", "--no-cache", "--show-files", ".").stdout.split()   # what ruff checks, with its excludes
    files = [name for name in listed if name.endswith(".py")]
    assert files, "ruff listed no Python files"
    silent = []
    for name in files:
        with tokenize.open(name) as f:
            for tok in tokenize.generate_tokens(f.readline):
                m = _NOQA.search(tok.string) if tok.type == tokenize.COMMENT else None
                if m and len(re.sub(r"[\W_]", "", m.group("rest"))) < 3:
                    silent.append(f"{name}:{tok.start[0]}: {tok.string}")
    assert not silent, ("a `# noqa` must give its reason on the same line, e.g. `# noqa: F401 - re-exported`:\n"
                        + "\n".join(silent))
