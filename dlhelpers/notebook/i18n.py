"""The language the notebooks' own messages speak: check verdicts (✓ lines and hints), fallback lines, reveals and
the notebooks' printed explanations.

``language()`` is ``COURSE_LANG`` when set (``en`` or ``ko``), else the language named in a ``.course-lang`` file
in the kernel's working folder (the folder of the notebook: ``python -m dlhelpers student-copies --lang ko`` writes
one next to the Korean copies), else English. ``tr(message)`` looks the English message up in
``translations/<lang>/dlhelpers.po`` (gettext, read with ``polib``); a message without a reviewed translation stays
English. Messages are templates: ``say("loss at step {0}: {1:.3f}", step, loss)`` translates the template, then
formats it, so numbers never enter a catalogue.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

from dlhelpers.io import REPO_ROOT

LANG_FILE = ".course-lang"
SUPPORTED = ("en", "ko")
TRANSLATIONS_DIR = REPO_ROOT / "translations"


def language() -> str:
    """``en`` or ``ko``: the environment's COURSE_LANG, else the working folder's .course-lang file, else en."""
    lang = os.environ.get("COURSE_LANG", "").strip().lower()
    if not lang:
        marker = Path.cwd() / LANG_FILE
        try:
            lang = marker.read_text(encoding="utf-8").strip().lower() if marker.is_file() else ""
        except OSError:
            lang = ""
    return lang if lang in SUPPORTED else "en"


@functools.lru_cache(maxsize=None)
def _table(lang: str) -> dict:
    path = TRANSLATIONS_DIR / lang / "dlhelpers.po"
    if lang == "en" or not path.exists():
        return {}
    import polib
    return {e.msgid: e.msgstr for e in polib.pofile(str(path), wrapwidth=0)
            if e.msgstr and "fuzzy" not in e.flags and not e.obsolete}


def tr(message: str) -> str:
    """``message`` in the course's language (itself when English or not yet translated)."""
    if not isinstance(message, str):
        raise TypeError(f"message must be a string, got {type(message).__name__}")
    return _table(language()).get(message, message)


def fmt(template: str, *args, **kwargs) -> str:
    """``tr(template)`` formatted with ``args`` (``str.format``); without arguments the template is returned as
    translated, braces and all."""
    text = tr(template)
    return text.format(*args, **kwargs) if (args or kwargs) else text


def say(template: str, *args, **kwargs) -> None:
    """Print ``fmt(template, *args, **kwargs)``: a notebook's printed explanation, in the course's language."""
    print(fmt(template, *args, **kwargs))


def use_plot_font(lang: str | None = None) -> list:
    """Make matplotlib draw the course's language: for Korean, DejaVu Sans with NanumGothic (bundled by
    ``koreanize-matplotlib``, the ``ko`` extra) as the per-glyph fallback for Hangul, so no glyph is drawn as an
    empty box (NanumGothic lacks e.g. ᾱ and the minus sign). Returns the font family now in use."""
    import matplotlib
    lang = language() if lang is None else lang
    if lang == "ko":
        try:
            import warnings
            with warnings.catch_warnings():          # it imports distutils' LooseVersion (DeprecationWarning)
                warnings.simplefilter("ignore")
                import koreanize_matplotlib  # noqa: F401 - registers NanumGothic with matplotlib
        except ImportError:
            raise ImportError("the Korean edition draws Hangul with koreanize-matplotlib: "
                              "pip install -e '.[ko]' (python run.py lab does it for you)") from None
        # DejaVu Sans first, NanumGothic as the per-glyph fallback for Hangul: log-axis labels (10⁻¹) are mathtext,
        # which uses the first family alone, and NanumGothic has no "−" (U+2212)
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", "NanumGothic"]
    return list(matplotlib.rcParams["font.family"])


if language() != "en":     # imported by every notebook's first cell: set the font before the first plot
    use_plot_font()
