"""The course in other languages, from the one English source: gettext PO catalogues, one per notebook.

The English notebooks in ``notebooks/`` stay the source. Their markdown is cut into blocks (paragraphs, list
items kept together, headings, ``<details>`` lines, formulas: the pieces between blank lines, with fenced code and
``$$`` formulas never cut), and each block is one entry (``msgid``) of ``translations/<lang>/<notebook>.po``, the
format Poedit, Weblate and every gettext tool read (through ``polib``). Code cells are never translated: a
translated copy runs exactly the same code, so graders, fallbacks and tests behave the same.

- ``update_catalogue``: re-extract after the English changed. An entry whose English is gone is matched to the
  most similar new block (``difflib``, ratio ≥ 0.6): its translation moves there marked *fuzzy* (with the
  previous English kept as ``#| msgid``), so a translator sees what changed; unmatched old entries are dropped.
- ``translate_notebook``: a translated copy; a block without a reviewed translation (missing or fuzzy) keeps its
  English text behind a visible "번역 대기" ("translation pending") marker, never a stale translation.
- ``status``: translated / fuzzy / missing per notebook (``python -m dlhelpers i18n-status``).
"""
from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from dlhelpers.io import REPO_ROOT, PathLike, atomic_write_bytes
from dlhelpers.notebook.i18n import TRANSLATIONS_DIR

LANGUAGES = {"ko": "한국어"}
PENDING = {"ko": "**[번역 대기]**"}      # shown before an English block that has no reviewed translation yet
FUZZY_RATIO = 0.6
_SPLIT = re.compile(r"(\n[ \t]*\n)")


def check_language(lang: str) -> str:
    if not isinstance(lang, str):
        raise TypeError(f"lang must be a language code such as 'ko', got {type(lang).__name__}")
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {sorted(LANGUAGES)}, got {lang!r}")
    return lang


# ---------------------------------------------------------------------------------------------------- blocks
def split_blocks(text: str) -> list:
    """``text`` as alternating [block, separator, block, …]: cut at blank lines, except inside fenced code or a
    ``$$`` formula. ``"".join(split_blocks(text)) == text``."""
    pieces = _SPLIT.split(text)                  # [block, sep, block, sep, …, block]
    out = [pieces[0]]
    for k in range(1, len(pieces), 2):
        sep, block = pieces[k], pieces[k + 1]
        if _open(out[-1]):
            out[-1] += sep + block               # a blank line inside an open fence or formula
        else:
            out += [sep, block]
    return out


def _open(block: str) -> bool:
    """True while a block has an unclosed ``` fence or ``$$`` formula."""
    return block.count("```") % 2 == 1 or block.count("$$") % 2 == 1


def needs_words(block: str) -> bool:
    """False for a block with nothing to translate: only formulas, HTML tags, code spans and punctuation."""
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|```.*?```|`[^`]*`|<[^>]+>", " ", block, flags=re.S)
    return bool(re.search(r"[A-Za-z]{2}", text))


def markdown_blocks(source: str) -> list:
    """The translatable blocks of one markdown cell (non-blank, stripped of nothing: exact text)."""
    return [b for b in split_blocks(source)[::2] if b.strip()]


def _markdown_cells(nb):
    return [c for c in nb.cells if c.cell_type == "markdown"]


def extract(nb) -> list:
    """Every markdown block of a notebook, in order, each once: [(msgid, [cell indices])]."""
    found: dict = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for block in markdown_blocks(cell.source):
                found.setdefault(block, []).append(i)
    return list(found.items())


# ------------------------------------------------------------------------------------------------ catalogues
def catalogue_path(notebook: PathLike, lang: str, folder: Optional[PathLike] = None) -> Path:
    base = Path(folder) if folder is not None else TRANSLATIONS_DIR
    return base / check_language(lang) / (Path(notebook).stem + ".po")


def _new_po(lang: str, title: str):
    import polib
    po = polib.POFile(wrapwidth=0)
    po.metadata = {"Project-Id-Version": "how-diffusion-models-work", "Language": lang,
                   "MIME-Version": "1.0", "Content-Type": "text/plain; charset=UTF-8",
                   "Content-Transfer-Encoding": "8bit", "X-Source": title}
    return po


def load_catalogue(path: PathLike):
    import polib
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no catalogue {path}; create it with `python -m dlhelpers i18n-update`")
    return polib.pofile(str(path), wrapwidth=0)


def update_catalogue(notebook: PathLike, lang: str, folder: Optional[PathLike] = None) -> dict:
    """Bring ``translations/<lang>/<notebook>.po`` in step with the English notebook; returns counts of
    entries kept, made fuzzy, new and dropped."""
    import nbformat
    notebook = Path(notebook)
    blocks = extract(nbformat.read(str(notebook), as_version=4))
    items = [(msgid, (f"{notebook.name}:cell", str(cells[0]))) for msgid, cells in blocks]
    return merge_catalogue(catalogue_path(notebook, lang, folder), lang, items, notebook.name)


def merge_catalogue(path: Path, lang: str, items: list, title: str) -> dict:
    """Write the catalogue at ``path`` with one entry per ``(msgid, occurrence)`` in ``items``, keeping the
    translations of entries whose English is unchanged and moving those of changed ones, marked fuzzy."""
    import polib
    old = load_catalogue(path) if path.exists() else _new_po(lang, title)
    by_id = {e.msgid: e for e in old if not e.obsolete}
    po = _new_po(lang, title)
    current = {msgid for msgid, _ in items}
    orphans = [e for e in by_id.values() if e.msgid not in current and e.msgstr]
    counts = {"kept": 0, "fuzzy": 0, "new": 0, "dropped": 0}
    for msgid, occurrence in items:
        entry = polib.POEntry(msgid=msgid, msgstr="", occurrences=[occurrence])
        if not needs_words(msgid):
            entry.msgstr = msgid                     # formulas and tags: the same in every language
            counts["kept"] += 1
        elif msgid in by_id:
            was = by_id[msgid]
            entry.msgstr = was.msgstr
            entry.flags = list(was.flags)
            entry.previous_msgid = was.previous_msgid
            counts["kept"] += 1
        else:
            match = max(orphans, key=lambda e: difflib.SequenceMatcher(None, e.msgid, msgid).ratio(), default=None)
            if match is not None and difflib.SequenceMatcher(None, match.msgid, msgid).ratio() >= FUZZY_RATIO:
                entry.msgstr = match.msgstr
                entry.flags = ["fuzzy"]
                entry.previous_msgid = match.msgid
                orphans.remove(match)
                counts["fuzzy"] += 1
            else:
                counts["new"] += 1
        po.append(entry)
    counts["dropped"] = len(orphans)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, str(po).encode("utf-8"))
    return counts


# ---------------------------------------------------------------------------------- the library's own messages
MESSAGE_SOURCES = ("dlhelpers/notebook",)
_MESSAGE_CALLS = {"tr": 0, "fmt": 0, "_t": 0, "say": 0, "_fail": 1, "_ok": 1}    # function → index of its template


def extract_messages(root: Path = REPO_ROOT) -> list:
    """The English templates the notebooks' helpers print, in source order: string constants passed as the
    template of ``tr``/``fmt``/``say`` (first argument) or ``_fail``/``_ok`` (second). [(msgid, occurrence)]."""
    import ast
    found: dict = {}
    for folder in MESSAGE_SOURCES:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                k = _MESSAGE_CALLS.get(name)
                if k is None or len(node.args) <= k:
                    continue
                arg = node.args[k]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and needs_words(arg.value):
                    found.setdefault(arg.value, (path.relative_to(root).as_posix(), str(node.lineno)))
            if "checks" in path.parts:       # hint tables: (wrong answer, "hint") pairs handed to _fail later
                docstrings = set()
                for n in ast.walk(tree):
                    can_have_docstring = isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
                    if can_have_docstring and n.body and isinstance(n.body[0], ast.Expr):
                        docstrings.add(id(n.body[0].value))
                for node in ast.walk(tree):
                    if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                            and node.value.count(" ") >= 3 and needs_words(node.value)):
                        found.setdefault(node.value, (path.relative_to(root).as_posix(), str(node.lineno)))
    import nbformat
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):    # the notebooks' say/tr/fmt calls
        for i, cell in enumerate(nbformat.read(str(path), as_version=4).cells):
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                texts = []
                if getattr(node.func, "id", None) in ("say", "tr", "fmt") and node.args:
                    texts.append(node.args[0])
                texts += [k.value for k in node.keywords if k.arg == "what"]        # reveal(…, what="…")
                for t in texts:
                    if isinstance(t, ast.Constant) and isinstance(t.value, str) and needs_words(t.value):
                        found.setdefault(t.value, (f"notebooks/{path.name}", str(i)))
    return sorted(found.items(), key=lambda kv: (kv[1][0], int(kv[1][1])))


def message_catalogue_path(lang: str, folder: Optional[PathLike] = None) -> Path:
    base = Path(folder) if folder is not None else TRANSLATIONS_DIR
    return base / check_language(lang) / "dlhelpers.po"


def update_message_catalogue(lang: str, folder: Optional[PathLike] = None) -> str:
    path = message_catalogue_path(lang, folder)
    counts = merge_catalogue(path, lang, extract_messages(), "dlhelpers messages")
    return f"{path}: " + ", ".join(f"{v} {k}" for k, v in counts.items())


def message_status(lang: str, folder: Optional[PathLike] = None) -> str:
    """The ``i18n-status`` row of ``dlhelpers.po``."""
    msgids = (msgid for msgid, _ in extract_messages())
    return status_row(count(message_catalogue_path(lang, folder), msgids, "messages (dlhelpers.po)"))


@dataclass
class Status:
    notebook: str
    translated: int
    fuzzy: int
    missing: int

    @property
    def total(self) -> int:
        return self.translated + self.fuzzy + self.missing


def count(path: Path, msgids, name: str) -> Status:
    """How many of ``msgids`` (the English now) have a reviewed translation in the catalogue at ``path``; an
    English text without an entry counts as missing."""
    entries = {e.msgid: e for e in load_catalogue(path) if not e.obsolete} if path.exists() else {}
    counts = {"translated": 0, "fuzzy": 0, "missing": 0}
    for msgid in msgids:
        e = entries.get(msgid)
        if e is None or not e.msgstr:
            counts["missing"] += 1
        elif "fuzzy" in e.flags:
            counts["fuzzy"] += 1
        else:
            counts["translated"] += 1
    return Status(name, **counts)


def status(notebook: PathLike, lang: str, folder: Optional[PathLike] = None) -> Status:
    """How much of a notebook's current English has a reviewed translation."""
    import nbformat
    notebook = Path(notebook)
    blocks = extract(nbformat.read(str(notebook), as_version=4))
    return count(catalogue_path(notebook, lang, folder), (msgid for msgid, _ in blocks), notebook.name)


def status_row(s: Status) -> str:
    done = 100 * s.translated / max(s.total, 1)                     # percent
    return f"{s.notebook:<28}{s.translated:>11}{s.fuzzy:>7}{s.missing:>9}{done:>6.0f}%"


def status_table(notebooks: list, lang: str, folder: Optional[PathLike] = None) -> str:
    """The ``i18n-status`` table of ``notebooks`` (paths), one row each and a total."""
    rows = [status(p, lang, folder) for p in notebooks]
    total = Status("all", translated=sum(r.translated for r in rows), fuzzy=sum(r.fuzzy for r in rows),
                   missing=sum(r.missing for r in rows))
    return "\n".join([f"{'notebook':<28}{'translated':>11}{'fuzzy':>7}{'missing':>9}{'done':>7}"]
                     + [status_row(r) for r in rows + [total]])


# ------------------------------------------------------------------------------------------- translated copies
def translate_notebook(nb, catalogue, lang: str):
    """A copy of ``nb`` with every markdown block translated by ``catalogue`` (a polib POFile); a block without a
    reviewed translation keeps its English behind the "pending" marker. Code cells and metadata are unchanged;
    the notebook's metadata records the language."""
    check_language(lang)
    table = {e.msgid: e.msgstr for e in catalogue if e.msgstr and "fuzzy" not in e.flags and not e.obsolete}
    nb = copy.deepcopy(nb)
    for cell in _markdown_cells(nb):
        pieces = split_blocks(cell.source)
        for k in range(0, len(pieces), 2):
            block = pieces[k]
            if block.strip():
                pieces[k] = table.get(block, _pending(block, lang))
        cell.source = "".join(pieces)
    nb.metadata["language"] = lang
    return nb


def _pending(block: str, lang: str) -> str:
    if not needs_words(block):
        return block
    if block.lstrip().startswith("#"):
        first, _, rest = block.partition("\n")
        return f"{first} {PENDING[lang]}" + (f"\n{rest}" if rest else "")
    if block.lstrip().startswith(("<", "|", "- ", "* ", "1. ")):
        return f"{PENDING[lang]}\n\n{block}"      # before HTML, tables and lists, on its own line
    return f"{PENDING[lang]} {block}"


def read_notebook(path: PathLike, lang: str = "en"):
    """A course notebook as the given language's edition: the English source itself, or its translation."""
    import nbformat
    nb = nbformat.read(str(path), as_version=4)
    if lang == "en":
        return nb
    return translate_notebook(nb, load_catalogue(catalogue_path(path, lang)), lang)
