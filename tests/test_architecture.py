"""The layers of docs/architecture.md hold: every import inside skpool points down.

Every module is named below with its layer, the package root included; a
module may import its own layer and the layers below, never above. Lazy
imports inside functions count too. Besides:

- ``skpool.math`` is formulas on arrays: it imports NumPy, SciPy, the
  standard library and ``skpool.math`` only;
- no module imports another module's ``_private`` name (shared helpers live in
  named private modules, e.g. ``_measure``, ``_pooler``, ``_warnings``);
- there are no import circles.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skpool"

#: the layers, lowest first
LAYER_NAMES = ["foundation", "data", "engine", "metrics", "encoder", "estimators",
               "measuring", "reports", "presentation", "root"]
(FOUNDATION, DATA, ENGINE, METRICS, ENCODER, ESTIMATORS, MEASURING, REPORTS, PRESENTATION,
 ROOT) = range(len(LAYER_NAMES))
#: every module (dotted, below skpool) or package -> its layer; a package's
#: submodules share its layer unless named themselves
LAYERS = {
    # what everything may use: formulas on arrays, checks, the version, warnings
    "math": FOUNDATION,
    "_validation": FOUNDATION,
    "_version": FOUNDATION,
    "_warnings": FOUNDATION,
    "_sklearn_compat": FOUNDATION,
    "_params": FOUNDATION,
    # token clouds, corpora and the token store
    "_store": DATA,
    "tokensets": DATA,
    "datasets": DATA,
    "_reader": DATA,
    # how things run: blocks, workers, devices, progress, the dask cluster
    "_engine": ENGINE,
    "_device": ENGINE,
    "_progress": ENGINE,
    "_cluster": ENGINE,
    # the checked metrics of token clouds
    "metrics": METRICS,
    "ot": METRICS,
    "interventions": METRICS,
    # texts -> token clouds
    "encoder": ENCODER,
    # scikit-learn estimators
    "_pooler": ESTIMATORS,
    "pooling": ESTIMATORS,
    "scoring": ESTIMATORS,
    # the one module every measured corpus goes through, and the HTML page of a record
    "_measure": MEASURING,
    "_html": MEASURING,
    "_html_documents": MEASURING,
    # what the commands report
    "analysis": REPORTS,
    "pairs": REPORTS,
    "neighbours": REPORTS,
    "evaluation": REPORTS,
    # what a person sees
    "cli": PRESENTATION,
    "plotting": PRESENTATION,
    "__main__": PRESENTATION,
    # the package root re-exports the public names
    "": ROOT,
}


def layer_of(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    if module == "":
        return LAYERS[""]
    raise KeyError(f"skpool.{module} has no layer in tests/test_architecture.py: name it")


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


def test_every_module_is_named_with_its_layer():
    for module, _ in ALL:
        top = module.split(".")[0]
        assert top in LAYERS, f"skpool.{module}: name {top!r} in LAYERS"


@pytest.mark.parametrize("module, path", ALL, ids=[m or "skpool" for m, _ in ALL])
def test_imports_point_down(module, path):
    mine = layer_of(module)
    upward = [f"line {line}: {target} ({LAYER_NAMES[layer_of(target)]})"
              for target, line in skpool_imports(module, path)
              if target and layer_of(target) > mine]
    assert not upward, (f"skpool.{module} ({LAYER_NAMES[mine]}) imports a higher layer: "
                        + "; ".join(upward))


def test_validation_imports_nothing_of_skpool():
    path = PACKAGE / "_validation.py"
    assert list(skpool_imports("_validation", path)) == []


#: what a file under skpool/math/ may import besides skpool.math itself
MATH_MAY_IMPORT = {"numpy", "scipy", "__future__"}


def math_imports(path: Path):
    """The top-level packages a math file imports (lazy imports included), skpool.math excluded."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield (node.module or "").split(".")[0], node.lineno
            elif node.level > 1:
                yield "skpool." + (node.module or ""), node.lineno  # out of skpool.math


@pytest.mark.parametrize("path", sorted((PACKAGE / "math").rglob("*.py")), ids=lambda p: p.name)
def test_math_imports_numpy_scipy_and_itself_only(path):
    foreign = [f"line {line}: {name}" for name, line in math_imports(path)
               if name not in MATH_MAY_IMPORT and name not in sys.stdlib_module_names]
    assert not foreign, f"skpool/math/{path.name} imports " + "; ".join(foreign)


def test_the_math_checker_sees_a_foreign_import(tmp_path):
    fake = tmp_path / "socm.py"
    fake.write_text("import numpy\nfrom .. import tokensets\ndef f():\n    import joblib\n")
    names = [name for name, _ in math_imports(fake)]
    assert names == ["numpy", "skpool.", "joblib"]


def private_imports(module: str, path: Path):
    """``(line, target, name)`` for each ``_private`` name imported from another skpool module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
            target = [*base, *(node.module.split(".") if node.module else [])]
        elif node.module and node.module.split(".")[0] == "skpool":
            target = node.module.split(".")[1:]
        else:
            continue
        folder = PACKAGE.joinpath(*target)
        for alias in node.names:
            name = alias.name
            is_module = (folder / f"{name}.py").exists() or (folder / name).is_dir()
            if name.startswith("_") and not name.startswith("__") and not is_module:
                yield node.lineno, ".".join(target), name


@pytest.mark.parametrize("module, path", ALL, ids=[m or "skpool" for m, _ in ALL])
def test_no_module_imports_a_private_name_of_another(module, path):
    found = [f"line {line}: {name} of skpool.{target}"
             for line, target, name in private_imports(module, path)]
    assert not found, f"skpool.{module} imports private names: " + "; ".join(found)


def test_the_private_name_checker_sees_one(tmp_path):
    fake = tmp_path / "pairs.py"
    fake.write_text("from .analysis import _encode, collapse_report\nfrom .math import _ragged\n")
    assert [(t, n) for _, t, n in private_imports("pairs", fake)] == [("analysis", "_encode")]


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
