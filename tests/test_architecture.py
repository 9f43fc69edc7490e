"""Architecture contract: the import graph of brainfit/ is one-way (docs/design.md, "Layout and layers").

The graph is built statically from every ``import`` in every module, lazy imports inside
functions included. A module may import only modules of a strictly lower layer, or modules of
its own top-level component (a package's own modules; cycles inside it are still refused). What
crosses a component boundary is public: no module takes another component's private name
(``_name``) or imports its private module (``brainfit.data._shapes``); the shared top-level
``brainfit._io``/``_config``/``_registry`` may be imported, but only their public names. Nothing
but the CLI prints, and no module is over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import brainfit

PACKAGE = Path(brainfit.__file__).resolve().parent

# Lowest first. A component is a module or subpackage directly under brainfit/.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("brainfit", "_io", "_config", "_registry", "paths", "device"),
    ("assembly",),
    ("stimuli",),
    ("data", "models"),
    ("training",),
    ("activations", "temporal"),
    ("mapping",),
    ("scoring",),
    ("compare", "neural"),
    ("plots",),
    ("report",),
    ("zoo",),
    ("cli",),
)
MAX_LINES = 500


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``root`` (a package folder)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in the file), resolved to existing modules.

    ``from a.b import c`` counts as importing ``a.b.c`` when that is a module, else ``a.b``. A
    package's ``__init__`` importing its own submodules is the package's face, not a dependency,
    and is left out.
    """
    files = module_files(root)
    top = root.name

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        package = mod if is_pkg else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names]
            for name in names:
                if name == top or name.startswith(top + "."):
                    target = resolve(name)
                    if target and target != mod and not (is_pkg and target.startswith(mod + ".")):
                        graph[mod].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def component(module: str) -> str:
    parts = module.split(".")
    return parts[0] if len(parts) == 1 else parts[1]


def layer_violations(graph: dict[str, set[str]], layers=LAYERS) -> list[str]:
    """``"a imports b (layer i >= layer j)"`` for every import that is not strictly downwards."""
    rank = {c: i for i, group in enumerate(layers) for c in group}
    problems = []
    for mod, targets in sorted(graph.items()):
        src = component(mod)
        if src not in rank:
            problems.append(f"{mod}: component {src!r} has no layer in the contract")
            continue
        for t in sorted(targets):
            dst = component(t)
            if dst == src:
                continue  # a package's own modules (cycles are checked separately)
            if dst not in rank or rank[dst] >= rank[src]:
                problems.append(f"{mod} imports {t} (layer {rank[src]} may import only layers below it; "
                                f"{dst!r} is layer {rank.get(dst)})")
    return problems


# Top-level private modules every package may import; the names taken from them must be public.
SHARED_PRIVATE_MODULES = ("_io", "_config", "_registry")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_private_module(module: str) -> bool:
    """A module under a private name below its component (``brainfit.data._shapes``); the top-level
    ``brainfit._io``/``_config``/``_registry`` are shared and importable."""
    parts = module.split(".")[1:]
    if parts and parts[0] in SHARED_PRIVATE_MODULES:
        parts = parts[1:]
    return any(_is_private(p) for p in parts)


def private_imports(root: Path) -> list[str]:
    """``"a imports private name b._x"`` / ``"a imports private module b._m"`` for every use of another
    package's private name or private module.

    "Another package" is another component (:func:`component`): a package's own modules may share
    private names. Counted are ``import``/``from ... import`` (lazy ones included, relative ones
    resolved) and attribute access on an imported module (``_io._name``, ``brainfit.data._shapes.X``).
    Dunder names (``__version__``) are public.
    """
    files = module_files(root)
    top = root.name
    problems: set[tuple[str, int, str]] = set()

    def check_module(mod: str, target: str, lineno: int) -> None:
        if component(target) != component(mod) and is_private_module(target):
            problems.add((mod, lineno, f"imports private module {target}"))

    def check_name(mod: str, owner: str, name: str, lineno: int) -> bool:
        """``name`` taken from module ``owner``; True when ``owner.name`` is itself a module."""
        if f"{owner}.{name}" in files:
            check_module(mod, f"{owner}.{name}", lineno)
            return True
        if _is_private(name) and component(owner) != component(mod):
            problems.add((mod, lineno, f"imports private name {owner}.{name}"))
        return False

    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text(), filename=str(path))
        bound: dict[str, str] = {}  # local name -> the package module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name != top and not alias.name.startswith(top + "."):
                        continue
                    parts = alias.name.split(".")
                    for i in range(2, len(parts) + 1):
                        check_module(mod, ".".join(parts[:i]), node.lineno)
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        bound[top] = top
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                if base != top and not base.startswith(top + "."):
                    continue
                parts = base.split(".")
                for i in range(2, len(parts) + 1):
                    check_module(mod, ".".join(parts[:i]), node.lineno)
                for alias in node.names:
                    if check_name(mod, base, alias.name, node.lineno):
                        bound[alias.asname or alias.name] = f"{base}.{alias.name}"
        for node in ast.walk(tree):
            # an attribute chain on a name bound to a package module: a.b.c is Attribute(Attribute(Name a, b), c)
            if not isinstance(node, ast.Attribute):
                continue
            chain = []
            inner: ast.expr = node
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if not isinstance(inner, ast.Name) or inner.id not in bound:
                continue
            owner = bound[inner.id]
            for attr in reversed(chain):
                if not check_name(mod, owner, attr, node.lineno):
                    break
                owner = f"{owner}.{attr}"
    return [f"{mod}:{lineno} {what}" for mod, lineno, what in sorted(problems)]


def test_no_import_cycles():
    assert find_cycles(import_graph(PACKAGE)) == []


def test_every_import_goes_down_the_layers():
    assert layer_violations(import_graph(PACKAGE)) == []


def test_no_module_takes_another_packages_private_names():
    assert private_imports(PACKAGE) == []


def test_no_module_over_500_lines():
    long = {m: n for m, p in module_files(PACKAGE).items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_only_the_cli_prints():
    printing = []
    for mod, path in module_files(PACKAGE).items():
        if component(mod) == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                printing.append(f"{mod}:{node.lineno}")
    assert printing == []


# ----------------------------------------------------------------------------- the checker itself


@pytest.fixture
def toy_package(tmp_path):
    """A package with a cycle, an upward lazy import and a relative import, to prove the checks can fail."""
    pkg = tmp_path / "toy"
    (pkg / "mapping").mkdir(parents=True)
    files = {
        "__init__.py": "from toy import assembly\n",
        "assembly.py": "import numpy\n",
        "stimuli.py": "from toy.assembly import x\n",
        "scoring.py": "from toy import mapping\n",
        "mapping/__init__.py": "from toy.mapping.solve import f\n",  # the package's face: not an edge
        "mapping/solve.py": "from . import cv\n",
        "mapping/cv.py": "def g():\n    from .solve import f\n",  # cycle solve <-> cv (relative, lazy)
        "temporal.py": "def h():\n    import toy.scoring\n",  # upward, lazy
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    return pkg


def test_checker_sees_relative_lazy_cycles_and_upward_imports(toy_package):
    graph = import_graph(toy_package)
    assert graph["toy.stimuli"] == {"toy.assembly"}
    assert graph["toy.mapping"] == set()
    assert find_cycles(graph) == [["toy.mapping.cv", "toy.mapping.solve"]]
    problems = layer_violations(graph)
    assert any(p.startswith("toy.temporal imports toy.scoring") for p in problems)
    assert not any(p.startswith("toy.stimuli") or p.startswith("toy.scoring") for p in problems)


@pytest.fixture
def toy_private(tmp_path):
    """A package whose modules take private names across and inside components, every way they can."""
    pkg = tmp_path / "toy"
    (pkg / "data").mkdir(parents=True)
    (pkg / "plots").mkdir()
    files = {
        "__init__.py": "__version__ = '1'\n",
        "_io.py": "def write(): ...\ndef _encode(): ...\n",
        "data/__init__.py": "from toy.data._shapes import CATEGORIES\n",  # own private module: allowed
        "data/_shapes.py": "CATEGORIES = ()\n_SECRET = 1\n",
        "data/load.py": "from ._shapes import _SECRET\nfrom toy._io import write\nfrom toy import __version__\n",
        "plots/__init__.py": "",
        "plots/_base.py": "def _axes(): ...\n",
        "plots/lines.py": "from toy.plots._base import _axes\n",  # same component: allowed
        "training.py": (
            "import toy.data\n"
            "from toy import _io\n"
            "from toy._io import _encode\n"
            "def f():\n"
            "    from toy.data._shapes import CATEGORIES\n"
            "    from toy.data import _shapes\n"
            "    return _io._encode(), toy.data._shapes.CATEGORIES, _io.write()\n"
        ),
        "report.py": "import toy.plots._base as base\nfrom toy.plots import lines\nx = base._axes, lines._axes\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    return pkg


def test_checker_sees_private_names_and_modules_across_components(toy_private):
    assert private_imports(toy_private) == [
        "toy.report:1 imports private module toy.plots._base",
        "toy.report:3 imports private name toy.plots._base._axes",
        "toy.report:3 imports private name toy.plots.lines._axes",
        "toy.training:3 imports private name toy._io._encode",
        "toy.training:5 imports private module toy.data._shapes",
        "toy.training:6 imports private module toy.data._shapes",
        "toy.training:7 imports private module toy.data._shapes",
        "toy.training:7 imports private name toy._io._encode",
    ]
