"""The package's shape: folders by audience, imports that flow one way, modules a reader can hold in their head.

Layers, lowest first: the diffusion core (top-level modules) → sprites/ (the data set) → evaluation/ → notebook/ →
tools/ (the CLI and instructor/maintainer tools). A module may import its own layer and the layers below it, never
above; and no two modules import each other, directly or through others (function-level imports included).
"""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "dlhelpers"
LAYERS = ["core", "sprites", "evaluation", "notebook", "tools"]
# A module a reader can hold in their head. The cap is a signal, not a target: a module that outgrows it has
# probably taken on a second job, and splitting it there is the fix, never squeezing lines to fit.
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _layer(module: str) -> str:
    if module == "dlhelpers.__main__":
        return "tools"   # `python -m dlhelpers` is the CLI's entry point
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "core"


def _imports(module: str) -> set:
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [prefix] + [f"{prefix}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in MODULES and n != module}
    return found


GRAPH = {m: _imports(m) for m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_down_the_layers(module):
    mine = LAYERS.index(_layer(module))
    for dep in GRAPH[module]:
        assert LAYERS.index(_layer(dep)) <= mine, f"{module} ({_layer(module)}) imports {dep} ({_layer(dep)})"


def test_no_import_cycle():
    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for dep in GRAPH[node]:
                if dep == start:
                    return path + [dep]
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, path + [dep]))
        return None

    for m in MODULES:
        if m.endswith("__init__") or m in ("dlhelpers",):
            continue
        cyc = cycle_from(m)
        # a package's __init__ re-exporting its own modules is not a cycle between modules
        if cyc and not any(MODULES[c].name == "__init__.py" for c in cyc):
            pytest.fail(" → ".join(cyc))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, (f"{module} has {lines} lines (more than {MAX_LINES}): split it where it has two jobs, "
                                "rather than squeezing statements together to fit")


def test_every_folder_says_whom_it_serves():
    for sub in sorted(p for p in PKG.iterdir() if p.is_dir() and not p.name.startswith("__")):
        doc = ast.get_docstring(ast.parse((sub / "__init__.py").read_text()))
        assert doc and len(doc) > 40, f"dlhelpers/{sub.name}/__init__.py needs a docstring saying whom it serves"


def _reaches(start: str) -> set:
    """Every module ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for dep in GRAPH[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    return seen


def test_the_trainer_does_not_import_the_recipes():
    """The trainer trains any TrainConfig; naming runs (presets, trials, the live run) is dlhelpers.recipes' job, one
    step above it, so the recipes never lift the trainer in the import order."""
    assert "dlhelpers.training" in _reaches("dlhelpers.recipes")         # the walk sees an edge that is there
    assert "dlhelpers.recipes" not in _reaches("dlhelpers.training")
