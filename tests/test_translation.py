"""The translated editions (dlhelpers/tools/translation.py, dlhelpers/notebook/i18n.py): PO catalogues from the
English notebooks, fuzzy entries when the English changes, the pending marker, identical code, the runtime
language of the checks' messages."""
from __future__ import annotations

import re

import nbformat
import polib
import pytest

from dlhelpers.tools import translation as T
from dlhelpers.tools.student_copies import numbered_notebooks, student_copy


def _nb(*markdown, code="x = 1  # a comment\nprint('hello')"):
    cells = [nbformat.v4.new_markdown_cell(m) for m in markdown] + [nbformat.v4.new_code_cell(code)]
    kernel = {"language": "python", "name": "python3", "display_name": "Python 3"}
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernel})


def _write(tmp_path, nb, name="01_demo.ipynb"):
    (tmp_path / "nb").mkdir(exist_ok=True)
    path = tmp_path / "nb" / name
    nbformat.write(nb, str(path))
    return path


def test_blocks_are_cut_at_blank_lines_but_never_inside_code_or_formulas():
    text = "# Title\n\nOne\ntwo.\n\n$$\na\n\nb\n$$\n\n```\nx\n\ny\n```\n\n<details><summary>Hint 1</summary>\n\nText."
    pieces = T.split_blocks(text)
    assert "".join(pieces) == text
    assert pieces[::2] == ["# Title", "One\ntwo.", "$$\na\n\nb\n$$", "```\nx\n\ny\n```",
                           "<details><summary>Hint 1</summary>", "Text."]
    assert [T.needs_words(b) for b in pieces[::2]] == [True, True, False, False, True, True]


def test_update_marks_changed_english_fuzzy_and_the_copy_shows_it_pending(tmp_path):
    path = _write(tmp_path, _nb("# Sampling\n\nThe model removes noise.\n\n$$x_t$$", "An unrelated paragraph."))
    counts = T.update_catalogue(path, "ko", tmp_path / "tr")
    assert counts == {"kept": 1, "fuzzy": 0, "new": 3, "dropped": 0}      # the formula needs no translator
    po_path = T.catalogue_path(path, "ko", tmp_path / "tr")
    po = polib.pofile(str(po_path))
    for e in po:
        e.msgstr = {"# Sampling": "# 샘플링", "The model removes noise.": "모델이 노이즈를 제거합니다.",
                    "An unrelated paragraph.": "관련 없는 문단."}.get(e.msgid, e.msgstr)
    po.save(str(po_path))
    assert T.status(path, "ko", tmp_path / "tr") == T.Status(path.name, 4, 0, 0)
    # the English changes a little, and a new block appears
    _write(tmp_path, _nb("# Sampling\n\nThe model removes the noise.\n\n$$x_t$$", "An unrelated paragraph.",
                         "A brand-new paragraph about something else entirely."))
    counts = T.update_catalogue(path, "ko", tmp_path / "tr")
    assert counts == {"kept": 3, "fuzzy": 1, "new": 1, "dropped": 0}
    po = T.load_catalogue(po_path)
    fuzzy = [e for e in po if "fuzzy" in e.flags]
    assert [(e.msgid, e.previous_msgid, e.msgstr) for e in fuzzy] == [
        ("The model removes the noise.", "The model removes noise.", "모델이 노이즈를 제거합니다.")]
    assert T.status(path, "ko", tmp_path / "tr") == T.Status(path.name, 3, 1, 1)
    ko = T.translate_notebook(nbformat.read(str(path), as_version=4), po, "ko")
    text = ko.cells[0].source
    assert text.startswith("# 샘플링\n\n**[번역 대기]** The model removes the noise.") and "모델이" not in text
    assert "**[번역 대기]** A brand-new paragraph" in ko.cells[2].source
    assert ko.cells[1].source == "관련 없는 문단." and ko.metadata["language"] == "ko"


def test_code_cells_and_metadata_are_never_translated(tmp_path):
    nb = _nb("Hello world.")
    nb.cells[0].metadata["tags"] = ["self-study-answer"]
    po = polib.POFile()
    po.append(polib.POEntry(msgid="Hello world.", msgstr="안녕하세요."))
    ko = T.translate_notebook(nb, po, "ko")
    assert ko.cells[1] == nb.cells[1] and ko.cells[0].metadata == nb.cells[0].metadata
    assert ko.cells[0].source == "안녕하세요." and nb.cells[0].source == "Hello world."    # input kept


def test_bad_language_names_itself(tmp_path):
    with pytest.raises(ValueError, match="^lang"):
        T.check_language("fr")
    with pytest.raises(TypeError, match="^lang"):
        T.check_language(None)
    with pytest.raises(FileNotFoundError, match="i18n-update"):
        T.load_catalogue(tmp_path / "none.po")


@pytest.mark.parametrize("path", numbered_notebooks(), ids=[p.stem for p in numbered_notebooks()])
def test_the_korean_copy_runs_the_same_code_as_the_english_one(path):
    """Byte for byte: graders, fallbacks and tests behave the same in both editions."""
    english = student_copy(nbformat.read(str(path), as_version=4), path.name)
    korean = student_copy(T.read_notebook(path, "ko"), path.name)
    assert len(korean.cells) == len(english.cells)
    for e, k in zip(english.cells, korean.cells):
        assert (e.cell_type, e.metadata) == (k.cell_type, k.metadata)
        if e.cell_type == "code":
            assert e.source == k.source


def test_the_library_messages_are_extracted_as_templates():
    found = dict(T.extract_messages())
    assert any("not implemented yet" in m for m in found)
    assert all(path.startswith(("dlhelpers/notebook/", "notebooks/")) for path, _ in found.values())
    assert "device: {0}, seed: {1}" in found            # a notebook's say(...) template


def test_runtime_language_and_lookup(tmp_path, monkeypatch):
    from dlhelpers.notebook import i18n
    monkeypatch.delenv("COURSE_LANG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert i18n.language() == "en"
    (tmp_path / i18n.LANG_FILE).write_text("ko\n")
    assert i18n.language() == "ko"
    monkeypatch.setenv("COURSE_LANG", "en")                    # the environment wins
    assert i18n.language() == "en"
    monkeypatch.setenv("COURSE_LANG", "xx")
    assert i18n.language() == "en"
    po = polib.POFile()
    po.append(polib.POEntry(msgid="loss at step {0}: {1:.3f}", msgstr="{0}단계의 손실: {1:.3f}"))
    po.append(polib.POEntry(msgid="pending {0}", msgstr="대기 {0}", flags=["fuzzy"]))
    (tmp_path / "ko").mkdir()
    po.save(str(tmp_path / "ko" / "dlhelpers.po"))
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    i18n._table.cache_clear()
    monkeypatch.setenv("COURSE_LANG", "ko")
    try:
        assert i18n.fmt("loss at step {0}: {1:.3f}", 5, 0.12345) == "5단계의 손실: 0.123"
        assert i18n.fmt("pending {0}", 1) == "pending 1"        # fuzzy: English until reviewed
        assert i18n.fmt("no {braces} needed") == "no {braces} needed"
        with pytest.raises(TypeError, match="^message"):
            i18n.tr(3)
    finally:
        i18n._table.cache_clear()


def _kept(text: str) -> list:
    """What a translation must carry over unchanged: code spans, formulas, HTML tags and link targets."""
    return sorted(re.findall(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|<[^>]+>|\]\([^)]*\)", text, flags=re.S))


@pytest.mark.parametrize("path", sorted((T.TRANSLATIONS_DIR / "ko").glob("*.po")),
                         ids=[p.stem for p in sorted((T.TRANSLATIONS_DIR / "ko").glob("*.po"))])
def test_translations_keep_code_formulas_tags_and_placeholders(path):
    bad = []
    for e in polib.pofile(str(path)):
        if not e.msgstr or e.obsolete:
            continue
        if _kept(e.msgid) != _kept(e.msgstr):
            bad.append(f"{e.msgid[:50]!r}: {set(_kept(e.msgid)) ^ set(_kept(e.msgstr))}")
        fields = [sorted(re.findall(r"\{[^{}]*\}", _strip_math(text))) for text in (e.msgid, e.msgstr)]
        if fields[0] != fields[1]:
            bad.append(f"{e.msgid[:50]!r}: format placeholders differ")
        if e.msgid.startswith("#") != e.msgstr.startswith("#"):
            bad.append(f"{e.msgid[:50]!r}: heading level lost")
    assert not bad, f"{path.name}:\n" + "\n".join(bad[:20])


def _strip_math(text: str) -> str:
    return re.sub(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", " ", text, flags=re.S)


def test_korean_plots_have_every_glyph(caplog):
    """Hangul through the NanumGothic fallback, Greek letters and log-axis minus signs from DejaVu Sans:
    matplotlib's "Glyph … missing" warning is an error here (pyproject's filterwarnings), and mathtext's "does
    not have a glyph" log message fails the test too, so one missing glyph fails it."""
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt
    from dlhelpers.notebook.i18n import use_plot_font
    matplotlib.use("Agg")
    before = matplotlib.rcParams["font.family"]
    try:
        assert use_plot_font("ko") == ["DejaVu Sans", "NanumGothic"]
        fig, ax = plt.subplots()
        ax.set_title("확산 모델: 노이즈에서 스프라이트로 — ᾱ_t, ε, √β_t")
        ax.set_xlabel("타임스텝 t")
        ax.plot([0.01, 1, 100], [0.01, 1, 10]), ax.set_xscale("log"), ax.set_yscale("log")   # 10⁻² in mathtext
        with warnings.catch_warnings(), caplog.at_level("WARNING", logger="matplotlib.mathtext"):
            warnings.filterwarnings("error", message=".*Glyph.*missing")
            fig.canvas.draw()
        assert not [r for r in caplog.records if "glyph" in r.getMessage()], caplog.text
        plt.close(fig)
        matplotlib.rcParams["font.family"] = ["DejaVu Sans"]                  # the planted mistake: no Hangul font
        fig, ax = plt.subplots()
        ax.set_title("확산 모델")
        with pytest.warns(UserWarning, match="Glyph.*missing"):
            fig.canvas.draw()
        plt.close(fig)
    finally:
        matplotlib.rcParams["font.family"] = before


@pytest.mark.parametrize("path", numbered_notebooks(), ids=[p.stem for p in numbered_notebooks()])
def test_the_korean_edition_is_complete_and_reviewed(path):
    """Every English block has a reviewed Korean translation: after an English edit, run `python -m dlhelpers
    i18n-update` and translate what it marks new or fuzzy (`i18n-status` lists them)."""
    s = T.status(path, "ko")
    assert (s.fuzzy, s.missing) == (0, 0), f"{path.name}: {s.fuzzy} fuzzy, {s.missing} missing Korean entries"


def test_the_library_messages_are_translated_and_reviewed():
    line = T.message_status("ko")
    translated, fuzzy, missing = (int(x) for x in line.split()[-4:-1])
    assert (fuzzy, missing) == (0, 0), f"dlhelpers.po: {line}"
