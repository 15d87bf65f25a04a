"""The layers of docs/architecture.md hold: every import inside skpool points down.

data (tokens, corpora, input checks) -> measurement (math, OT, encoder,
estimators, analysis) -> presentation (command line, figures). A module may
import its own layer and the layers below, never above; ``_validation``
imports nothing of skpool, and ``math`` imports neither torch nor
transformers at module level. Lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skpool"

DATA, MEASUREMENT, PRESENTATION = 0, 1, 2
LAYER_NAMES = {DATA: "data", MEASUREMENT: "measurement", PRESENTATION: "presentation"}
#: module (dotted, below skpool) or package prefix -> layer; the longest prefix wins
LAYERS = {
    "_validation": DATA,
    "tokensets": DATA,
    "_store": DATA,
    "datasets": DATA,
    "_reader": DATA,
    "": MEASUREMENT,  # everything not named here
    "cli": PRESENTATION,
    "plotting": PRESENTATION,
    "__main__": PRESENTATION,
}


def layer_of(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    return LAYERS[""]


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = [p for p in relative.parts if p != "__init__"]
        yield ".".join(parts), path


def skpool_imports(module: str, path: Path, *, top_level_only: bool = False):
    """The skpool modules ``module`` imports (absolute names below skpool)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [".".join(target)] if node.module else [
                    _submodule_or_package(base, alias.name) for alias in node.names]
            elif node.module and node.module.split(".")[0] == "skpool":
                names = [".".join(node.module.split(".")[1:])]
            else:
                names = []
            for name in names:
                yield name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "skpool":
                    yield ".".join(alias.name.split(".")[1:]), node.lineno


def _submodule_or_package(base: list, name: str) -> str:
    """``from . import name``: the submodule ``name`` if there is one, else the package."""
    folder = PACKAGE.joinpath(*base)
    if (folder / f"{name}.py").exists() or (folder / name).is_dir():
        return ".".join([*base, name])
    return ".".join(base)


ALL = list(modules())


@pytest.mark.parametrize("module, path", ALL, ids=[m or "skpool" for m, _ in ALL])
def test_imports_point_down(module, path):
    if module == "":  # skpool/__init__.py re-exports lazily by name
        return
    mine = layer_of(module)
    # the package root (``from . import __version__``) only re-exports, lazily, by name
    upward = [f"line {line}: {target} ({LAYER_NAMES[layer_of(target)]})"
              for target, line in skpool_imports(module, path)
              if target and layer_of(target) > mine]
    assert not upward, (f"skpool.{module} ({LAYER_NAMES[mine]}) imports a higher layer: "
                        + "; ".join(upward))


def test_validation_imports_nothing_of_skpool():
    path = PACKAGE / "_validation.py"
    assert list(skpool_imports("_validation", path)) == []


def test_math_does_not_import_torch_at_module_level():
    for module, path in ALL:
        if module.startswith("math"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                             else [node.module or ""])
                    assert not any(n.split(".")[0] in ("torch", "transformers")
                                   for n in names), f"skpool.{module}: {names}"


def test_the_checker_sees_an_upward_import(tmp_path):
    # the test must be able to fail: a data module importing the CLI is caught
    fake = tmp_path / "datasets.py"
    fake.write_text("from .cli import main\nimport skpool.plotting\n")
    targets = [t for t, _ in skpool_imports("datasets", fake)]
    assert targets == ["cli", "plotting"]
    assert all(layer_of(t) > layer_of("datasets") for t in targets)


def test_no_import_circles():
    # lazy imports count: a circle through a function-level import is still a circle
    graph = {module: {target for target, _ in skpool_imports(module, path)
                      if target and target != module}
             for module, path in ALL if module}
    known = set(graph)

    def resolve(target):  # "encoder" the package, or a name inside a module
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target

    graph = {m: {resolve(t) for t in targets} - {"", m} for m, targets in graph.items()}
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            # a package importing its own submodules is how packages are built
            if target.startswith(module + "."):
                continue
            if state.get(target) == "open":
                circle = stack[stack.index(target):] + [target]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
