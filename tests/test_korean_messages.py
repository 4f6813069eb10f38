"""Every Korean runtime message (translations/ko/dlhelpers.po, read as ``dlhelpers.notebook.i18n._table("ko")``
sees it) formats like its English template and draws with every glyph in the Korean plot font.

This replaces the six Korean student copies run top to bottom in a kernel (~150 s), which caught these mistakes
only for the messages a run happened to print or plot; the one Korean browser run (tests/browser) remains, for
what only a real JupyterLab shows. Here every message is checked, in seconds:

* a translated template that no longer formats with the arguments the code passes: a placeholder renamed or
  dropped, a format spec lost or broken (``{1:.3f}`` → ``{1}`` or ``{1:.3ㅁ}``), an unescaped brace, ``{0}`` and
  ``{}`` mixed; a message printed without arguments (``fmt(template)`` returns it braces and all) that gained a
  brace its English does not have;
* a glyph missing from the plot font (DejaVu Sans with NanumGothic as the fallback, ``use_plot_font("ko")``):
  matplotlib's "Glyph … missing from font(s)" warning, or mathtext's "does not have a glyph" log record.

Each check is a helper (``template_problems``, ``glyph_problems``) that the real test runs on the catalogue and the
planted-mistake tests run on a catalogue with known mistakes, which it must report exactly.
"""
from __future__ import annotations

import _string  # the field-name splitter string.Formatter itself uses: {0.shape[1]} → 0, [.shape, [1]]
import logging
import re
import string
import warnings

import polib
import pytest

from dlhelpers.notebook import i18n

_FORMATTER = string.Formatter()
_SPEC = re.compile(r"(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[-+ ])?(?P<z>z)?(?P<alt>#)?(?P<zero>0)?"
                   r"(?P<width>\d+)?(?P<grouping>[,_])?(?:\.(?P<precision>\d+))?(?P<type>[bcdeEfFgGnosxX%])?", re.S)
_GLYPH = re.compile(r"Glyph (\d+) .*missing")                 # matplotlib's warning names the code point in decimal
_MATHTEXT_GLYPH = re.compile(r"does not have a glyph.*\[U\+([0-9a-fA-F]+)\]")


# ------------------------------------------------------------------------------------------- the template check
class _Sample:
    """A sample argument with attributes and items, for fields such as ``{0.shape}``, ``{x[1]}`` or ``{0.a[2]}``:
    each path reads its leaf value from ``leaves`` (``".shape"``, ``"[1]"``, ``".a[2]"``); formatted itself, it
    formats like the leaf at its own path (``""`` for the bare argument)."""

    def __init__(self, leaves: dict, path: str = ""):
        self._leaves, self._path = leaves, path

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _Sample(self._leaves, f"{self._path}.{name}")

    def __getitem__(self, key):
        return _Sample(self._leaves, f"{self._path}[{key}]")

    def _leaf(self):
        return self._leaves[self._path]       # a KeyError names a path the English template does not have

    def __format__(self, spec):
        return format(self._leaf(), spec)

    def __str__(self):
        return str(self._leaf())

    def __repr__(self):
        return repr(self._leaf())


def _fields(template: str) -> list:
    """``(argument, path, spec, conversion)`` for each replacement field, automatic numbering resolved
    (``{}`` → argument 0, 1, …); ValueError where ``template`` does not parse (a lone brace)."""
    out, auto = [], 0
    for _, name, spec, conversion in _FORMATTER.parse(template):
        if name is None:
            continue
        first, rest = _string.formatter_field_name_split(name)
        if first == "":
            first, auto = auto, auto + 1
        path = "".join(f".{key}" if is_attr else f"[{key}]" for is_attr, key in rest)
        out.append((first, path, spec, conversion))
    return out


def _is_literal(fields: list) -> bool:
    """A field whose argument no call can name (``{t−1}`` in a formula: neither a number nor an identifier) marks
    text shown as it is, never formatted: such a message is an argument of another template, not a template."""
    return any(not isinstance(arg, int) and not arg.isidentifier() for arg, *_ in fields)


def _candidates(spec: str, j: int) -> list:
    """Sample values for the j-th leaf of a template, the likeliest kind for ``spec`` first; each one's text is
    distinctive (1111.6666666, 2222…, s0q, s1q), so that the Korean result can be searched for it; the float's
    sixes round up at every precision, so ``{0:.2f}`` (1111.67) is no part of ``{0}`` (1111.6666666)."""
    number, integer, text = (j + 1) * 1111 + 0.6666666, (j + 1) * 1111, f"s{j}q"
    m = _SPEC.fullmatch(spec)
    kind = m and m["type"]
    if kind and kind in "eEfFgGn%":
        order = [number, integer, text]
    elif kind and kind in "bcdoxX":
        order = [integer, number, text]
    elif kind == "s":
        order = [text, number, integer]
    elif m and (m["sign"] or m["z"] or m["alt"] or m["zero"] or m["grouping"] or m["align"] == "="):
        order = [integer, number, text] if m["precision"] is None else [number, integer, text]
    else:                                   # no spec, or width, alignment, precision only: a name, a shape, a hint
        order = [text, number, integer]
    return order


def _samples(fields: list):
    """``(args, kwargs)`` that satisfy every field of an English template: per leaf (argument and path), the first
    candidate value that formats with each spec and conversion the template gives it; ValueError where none does."""
    leaves = {}                                          # (argument, path) → [(spec, conversion), …]
    for arg, path, spec, conversion in fields:
        leaves.setdefault((arg, path), []).append((spec, conversion))
    values = {}
    for j, (leaf, uses) in enumerate(leaves.items()):
        for value in _candidates(uses[0][0], j):
            try:
                for spec, conversion in uses:
                    _FORMATTER.format_field(_FORMATTER.convert_field(value, conversion), spec)
            except (ValueError, TypeError):
                continue
            values[leaf] = value
            break
        else:
            raise ValueError(f"no sample value formats with every spec of field {leaf[0]}{leaf[1]}: {uses}")
    args_of = {}
    for (arg, path), value in values.items():
        args_of.setdefault(arg, {})[path] = value
    built = {arg: (paths[""] if set(paths) == {""} else _Sample(paths)) for arg, paths in args_of.items()}
    positional = [a for a in built if isinstance(a, int)]
    args = [built.get(i, f"unused{i}") for i in range(max(positional) + 1)] if positional else []
    return args, {a: v for a, v in built.items() if not isinstance(a, int)}


def _field_texts(template: str, args, kwargs) -> set:
    """The text each field of ``template`` becomes with these arguments."""
    texts = set()
    for arg, path, spec, conversion in _fields(template):
        value, _ = _FORMATTER.get_field(f"{arg}{path}", args, kwargs)
        texts.add(_FORMATTER.format_field(_FORMATTER.convert_field(value, conversion), spec))
    return texts


def _braces(text: str) -> list:
    return re.findall(r"[{}]", text)


def _problems_of(msgid: str, msgstr: str) -> list:
    try:
        english = _fields(msgid)
    except ValueError as e:
        return [f"the English template itself does not parse ({e}): fix the English or the test"]
    try:
        korean = _fields(msgstr)
    except ValueError as e:
        return [f"the Korean does not parse as a template: {e}"]
    if not english or _is_literal(english):     # shown as it is: every brace must be the English's own
        if not english and korean:
            return [f"the English has no fields but the Korean has {_names(korean)}"]
        if _braces(msgid) != _braces(msgstr) or sorted(re.findall(r"\{[^{}]*\}", msgid)) != sorted(
                re.findall(r"\{[^{}]*\}", msgstr)):
            return [f"braces differ from the English's (shown as is): {''.join(_braces(msgstr))!r} for "
                    f"{''.join(_braces(msgid))!r}"]
        return []
    try:
        args, kwargs = _samples(english)
        shown = msgid.format(*args, **kwargs)
        expected = _field_texts(msgid, args, kwargs)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        return [f"the test builds no arguments the English formats with ({type(e).__name__}: {e})"]
    problems = []
    if _names(english) != _names(korean):
        problems.append(f"fields differ: English {_names(english)}, Korean {_names(korean)}")
    elif _specs(english) != _specs(korean):     # a lost width ({0:02d} → {0}) changes no sample's text
        problems.append(f"format specs differ: English {_specs(english)}, Korean {_specs(korean)}")
    try:
        result = msgstr.format(*args, **kwargs)
    except Exception as e:       # noqa: BLE001 - whatever str.format raises is the finding
        problems.append(f"the Korean does not format with the English's arguments: {type(e).__name__}: {e}")
        return problems
    rest = result
    for text in sorted(expected, key=len, reverse=True):    # longest first: 1111 inside 11111.12 is not a find
        if text in rest:
            rest = rest.replace(text, "\0", 1)
        else:
            problems.append(f"{text!r} (as the English {shown!r} shows it) is missing from the Korean {result!r}")
    return problems


def _names(fields: list) -> list:
    return sorted({f"{arg}{path}" for arg, path, *_ in fields})


def _specs(fields: list) -> list:
    return sorted({f"{{{arg}{path}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
                   for arg, path, spec, conversion in fields})


def template_problems(table: dict) -> dict:
    """msgid → what is wrong with its Korean template (all problems of the message, joined); empty when none."""
    found = {}
    for msgid, msgstr in table.items():
        problems = _problems_of(msgid, msgstr)
        if problems:
            found[msgid] = "; ".join(problems)
    return found


def drawn_text(msgid: str, msgstr: str) -> str:
    """The Korean as a plot shows it: formatted with the English's sample arguments when the English has fields
    (every sample is ASCII, so the glyphs tested are the translation's own), else as it is."""
    try:
        english = _fields(msgid)
        if english and not _is_literal(english):
            args, kwargs = _samples(english)
            return msgstr.format(*args, **kwargs)
    except Exception:            # noqa: BLE001 - a broken template is template_problems' finding; draw it raw
        pass
    return msgstr


def _report(found: dict) -> str:
    return f"{len(found)} message(s):\n" + "\n".join(f"  {msgid!r}\n    → {why}" for msgid, why in found.items())


# --------------------------------------------------------------------------------------------- the glyph check
class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def glyph_problems(texts: dict, per_figure: int = 100, chars_per_text: int = 200) -> dict:
    """msgid → the characters the Korean plot font lacks in ``texts[msgid]``. Texts are drawn as matplotlib draws a
    label (``Figure.text`` with its defaults: a ``$…$`` pair would go through mathtext, which uses DejaVu Sans alone
    and so has no Hangul) on an Agg canvas with ``use_plot_font("ko")``, rcParams restored afterwards. A glyph is
    found or not whatever surrounds it, so the plain texts are drawn as their distinct characters, once each
    (``chars_per_text`` to a line), and each mathtext text whole. Every "Glyph … missing" warning and mathtext "does
    not have a glyph" record of a figure is collected (not raised at the first one, so that all are named at once)
    and traced to the texts that hold the character (for mathtext's, the figure's mathtext texts); one that no text
    holds is reported under "?"."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cbook import is_math_text
    from matplotlib.figure import Figure
    from matplotlib.mathtext import MathTextParser

    found, other = {}, []
    plain = {msgid: text for msgid, text in texts.items() if not is_math_text(text)}
    distinct = "".join(sorted({ch for text in plain.values() for ch in text if not ch.isspace()}))
    drawn = [(None, distinct[i:i + chars_per_text]) for i in range(0, len(distinct), chars_per_text)]
    drawn += [(msgid, text) for msgid, text in texts.items() if msgid not in plain]

    def blame(chunk, codepoints, math):
        for ch in sorted(codepoints):
            where = [(m, t) for m, t in chunk if m is not None and is_math_text(t)] if math else plain.items()
            holders = [msgid for msgid, text in where if ch in text] or ["?"]
            for msgid in holders:
                found.setdefault(msgid, set()).add(ch)

    log = logging.getLogger("matplotlib.mathtext")
    records, level = _Records(), log.level
    cached = getattr(MathTextParser._parse_cached, "cache_clear", None)   # a parse seen before logs nothing again
    if cached:
        cached()
    log.addHandler(records)
    log.setLevel(logging.WARNING)
    try:
        with matplotlib.rc_context():
            assert i18n.use_plot_font("ko") == ["DejaVu Sans", "NanumGothic"]
            for start in range(0, len(drawn), per_figure):
                chunk = drawn[start:start + per_figure]
                fig = Figure(dpi=72)
                FigureCanvasAgg(fig)
                for i, (_, text) in enumerate(chunk):
                    fig.text(0.01, i / len(chunk), text, fontsize=4)    # glyph coverage does not depend on size
                records.messages.clear()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    fig.canvas.draw()
                glyphs = {chr(int(m[1])) for m in (_GLYPH.search(str(w.message)) for w in caught) if m}
                other += [w for w in caught if not _GLYPH.search(str(w.message))]
                blame(chunk, glyphs, math=False)
                blame(chunk, {chr(int(m[1], 16)) for m in map(_MATHTEXT_GLYPH.search, records.messages) if m}, True)
    finally:
        log.removeHandler(records)
        log.setLevel(level)
    for w in other:                         # not ours: hand them on to the filters (pyproject's, pytest's)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return {msgid: "missing from the plot font: " + ", ".join(f"U+{ord(ch):04X} {ch!r}" for ch in sorted(chars))
            for msgid, chars in found.items()}


# ---------------------------------------------------------------------------------------------------- the tests
def _korean_table() -> dict:
    table = i18n._table("ko")
    assert table, "no translated messages in translations/ko/dlhelpers.po"
    return table


def test_every_translated_message_formats_like_its_english():
    table = _korean_table()
    assert any(_fields(m) for m in table), "no message with fields: the check would prove nothing"
    found = template_problems(table)
    assert not found, "Korean templates that do not format like their English: " + _report(found)


def test_every_korean_message_draws_with_every_glyph():
    table = _korean_table()
    found = glyph_problems({msgid: drawn_text(msgid, msgstr) for msgid, msgstr in table.items()})
    assert not found, "Korean messages with glyphs the plot font lacks: " + _report(found)


# --------------------------------------------------------------------- planted mistakes: each check can fail
def _plant(tmp_path, monkeypatch, change) -> dict:
    """The real catalogue with ``change(po)`` applied, saved under tmp_path and read back through
    ``i18n._table("ko")`` (TRANSLATIONS_DIR pointed there): the same path the real tests read."""
    po = polib.pofile(str(i18n.TRANSLATIONS_DIR / "ko" / "dlhelpers.po"), wrapwidth=0)
    change(po)
    (tmp_path / "ko").mkdir()
    po.save(str(tmp_path / "ko" / "dlhelpers.po"))
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    i18n._table.cache_clear()
    try:
        return dict(i18n._table("ko"))
    finally:
        i18n._table.cache_clear()     # the next reader gets the real catalogue again


def _entry(po, test) -> polib.POEntry:
    return next(e for e in po if e.msgstr and not e.obsolete and "fuzzy" not in e.flags and test(e))


def test_planted_template_mistakes_are_reported_exactly(tmp_path, monkeypatch):
    planted = {}

    def change(po):
        renamed = polib.POEntry(msgid="loss {loss:.3f} after {0} steps", msgstr="{0}단계 후 손실 {손실:.3f}")
        po.append(renamed)
        planted[renamed.msgid] = "fields differ"
        broken = _entry(po, lambda e: ":.3f}" in e.msgstr)                  # a real message, its spec broken
        broken.msgstr = broken.msgstr.replace(":.3f}", ":.3ㅁ}", 1)
        planted[broken.msgid] = "does not format"
        lost = _entry(po, lambda e: ":.2f}" in e.msgstr)                    # a real message, its spec lost
        lost.msgstr = re.sub(r"\{(\d*):\.2f\}", r"{\1}", lost.msgstr, count=1)
        planted[lost.msgid] = "is missing from the Korean"
        stray = _entry(po, lambda e: "{" not in e.msgid and "}" not in e.msgid)   # printed as is: a stray brace
        stray.msgstr += " {"
        planted[stray.msgid] = "does not parse"
        mixed = _entry(po, lambda e: re.search(r"\{0\}.*\{1\}", e.msgstr, re.S) and "{2" not in e.msgid)
        mixed.msgstr = mixed.msgstr.replace("{1}", "{}", 1)                 # {0} and {} mixed
        planted[mixed.msgid] = "manual field specification"
        for msgid, msgstr in [("shape {0.shape} at {x[1]}", "{x[1]}에서 모양 {0.shape}"),       # right: no finding
                              ("got {0.shape}, want {0.dtype}", "{0.shape}를 받았고 {0.dtyp}를 원함")]:
            po.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
        planted["got {0.shape}, want {0.dtype}"] = "fields differ"
        po.append(polib.POEntry(msgid="variance ᾱ_{t−1}", msgstr="분산 ᾱ_(t−1)"))    # a formula shown as it is
        planted["variance ᾱ_{t−1}"] = "braces differ"

    table = _plant(tmp_path, monkeypatch, change)
    found = template_problems(table)
    assert set(found) == set(planted), _report(found)
    for msgid, words in planted.items():
        assert words in found[msgid], (msgid, found[msgid])
    assert "'손실'" in found["loss {loss:.3f} after {0} steps"]              # the KeyError names the renamed field


def test_planted_missing_glyphs_are_reported_exactly(tmp_path, monkeypatch):
    def change(po):
        po.append(polib.POEntry(msgid="air {0}", msgstr="공기 🜁 {0}"))                   # no font has U+1F701
        po.append(polib.POEntry(msgid="private", msgstr="사용자 영역 \U0010fffd"))       # a private-use character
        po.append(polib.POEntry(msgid="step $t$", msgstr="$단계$ t"))         # mathtext: DejaVu Sans has no Hangul

    table = _plant(tmp_path, monkeypatch, change)
    texts = {msgid: drawn_text(msgid, msgstr) for msgid, msgstr in list(table.items())[-63:]}   # 60 real + 3
    assert texts["air {0}"] == "공기 🜁 s0q" and sum(any("가" <= c <= "힣" for c in t) for t in texts.values()) > 60
    found = glyph_problems(texts)
    assert set(found) == {"air {0}", "private", "step $t$"}, _report(found)
    assert "U+1F701" in found["air {0}"] and "U+10FFFD" in found["private"]
    assert "U+B2E8" in found["step $t$"] and "U+ACC4" in found["step $t$"]     # 단, 계


@pytest.mark.parametrize("msgid, msgstr", [("{0}", "{0"), ("a {0:.3f}", "가 {0:.3f"), ("b }", "나 }")])
def test_templates_that_do_not_parse_are_reported_not_raised(msgid, msgstr):
    found = template_problems({msgid: msgstr})
    assert list(found) == [msgid]
