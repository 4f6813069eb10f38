"""The Korean edition uses its glossary (docs/GLOSSARY.md): wherever a glossary term occurs in the English of a
translated catalogue entry, its Korean term occurs in the translation."""
from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest

from dlhelpers.io import REPO_ROOT

GLOSSARY = REPO_ROOT / "docs" / "GLOSSARY.md"
CATALOGUES = sorted((REPO_ROOT / "translations" / "ko").glob("*.po"))


def glossary() -> list:
    """[(korean, english)], longest English first (so "null context" is matched before "context")."""
    block = GLOSSARY.read_text(encoding="utf-8").split("<!-- glossary:start -->")[1].split("<!-- glossary:end -->")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.strip().splitlines()[2:]]
    return sorted(((ko, en) for ko, en, _ in rows), key=lambda r: -len(r[1]))


def _plain(text: str) -> str:
    """Prose only: code spans, formulas and HTML tags removed."""
    return re.sub(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|<[^>]+>|\([^)]*\.(py|md|ipynb)\)", " ", text, flags=re.S)


def violations(msgid: str, msgstr: str, terms: list) -> list:
    english, korean, missing = _plain(msgid), _plain(msgstr), []
    for ko, en in terms:
        pattern = re.compile(rf"(?<![\w-]){re.escape(en)}(?:s|es)?(?![\w-])", re.I)
        if pattern.search(english):
            if ko not in korean:
                missing.append(f"{en} → {ko}")
            english = pattern.sub(" ", english)          # a longer term counts once, not as its parts too
    return missing


def test_the_glossary_parses_and_has_the_course_terms():
    terms = dict((en.lower(), ko) for ko, en in glossary())
    assert terms["diffusion model"] == "확산 모델" and terms["noise"] == "노이즈" and len(terms) >= 30


def test_violations_find_a_missing_term_and_respect_longer_terms():
    terms = glossary()
    assert violations("The null context is zeros.", "널 컨텍스트는 0입니다.", terms) == []
    assert violations("Add noise to the sprites.", "스프라이트에 잡음을 더합니다.", terms) == ["noise → 노이즈"]
    assert violations("Use `noise` here.", "여기서 `noise`를 씁니다.", terms) == []     # code is not prose


@pytest.mark.parametrize("path", CATALOGUES, ids=[p.stem for p in CATALOGUES])
def test_translations_use_the_glossary(path: Path):
    terms, bad = glossary(), []
    for e in polib.pofile(str(path)):
        if e.msgstr and "fuzzy" not in e.flags and not e.obsolete:
            missing = violations(e.msgid, e.msgstr, terms)
            if missing:
                bad.append(f"{e.msgid[:60]!r}: {', '.join(missing)}")
    assert not bad, f"{path.name}: {len(bad)} entries miss glossary terms:\n" + "\n".join(bad[:20])
