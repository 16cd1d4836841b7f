"""The shape of the code, checked: no import circle anywhere, and each layer imports only what it may.

Every import counts — inside functions and under ``TYPE_CHECKING`` too — since a circle that only the
type checker walks still ties the modules together for every reader. ``from package import name``
depends on the package's ``__init__`` (which may import the package's modules back), so inside a
package modules import each other by module path.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("connectors", "hub", "tasks", "flows", "deployments")
SYSTEMS = ("moysklad", "retailcrm", "keycrm", "horoshop", "agora")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project's modules that ``name`` imports (packages included where ``from package import``)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_walk_sees_the_project() -> None:
    assert {"hub.config", "tasks.exchange", "flows.full_import", "deployments.cli"} <= set(MODULES)
    assert "hub.config" in GRAPH["tasks.hub_tasks"]


def test_no_import_circle_anywhere() -> None:
    try:
        graphlib.TopologicalSorter(GRAPH).prepare()
    except graphlib.CycleError as circle:
        pytest.fail(f"import circle: {' -> '.join(circle.args[1])}")


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("hub", ("connectors", "tasks", "flows", "deployments")),
        ("connectors", ("tasks", "flows", "deployments")),
        ("tasks", ("flows", "deployments")),
        ("flows", ("connectors", "deployments")),
    ],
)
def test_each_layer_imports_only_what_it_may(layer: str, forbidden: tuple[str, ...]) -> None:
    reaching = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name.split(".")[0] == layer
        for target in targets
        if target.split(".")[0] in forbidden
    )
    assert not reaching


def test_tasks_and_flows_name_no_system() -> None:
    naming = [
        f"{path.relative_to(ROOT)}: {system}"
        for name, path in MODULES.items()
        if name.split(".")[0] in ("tasks", "flows")
        for system in SYSTEMS
        if system in path.read_text(encoding="utf-8").lower()
    ]
    assert not naming


def test_no_flow_module_is_over_a_hundred_lines() -> None:
    long = {
        path.name: n
        for name, path in MODULES.items()
        if name.startswith("flows.")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 100
    }
    assert not long


#: the connector shape (docs/architecture.md, "The connector shape"): every bundled connector's top
#: level is made of these and nothing else, so a new system copies one layout, not two
CONNECTOR_SHAPE = frozenset(
    {"__init__.py", "README.md", "settings.py", "wire", "client.py", "convert", "capabilities", "sandbox"}
)


def test_every_bundled_connector_has_the_one_shape() -> None:
    from hub.systems import BUILTIN

    def top_level(package: str) -> frozenset[str]:
        folder = ROOT.joinpath(*package.split("."))
        return frozenset(p.name for p in folder.iterdir() if p.name != "__pycache__")

    shapes = {name: top_level(package) for name, package in BUILTIN.items()}
    assert {name: sorted(names - CONNECTOR_SHAPE) for name, names in shapes.items()} == {n: [] for n in shapes}
    # systems with an API of their own have every part (a feed-only channel may lack client and wire)
    assert shapes["moysklad"] == shapes["retailcrm"] == CONNECTOR_SHAPE


def test_no_connector_class_is_a_chain_of_mixins() -> None:
    """A client is one class over ``BaseClient``; mixins split by length hid what needed what."""
    mixins = sorted(
        f"{name}: {node.name}"
        for name, path in MODULES.items()
        if name.startswith("connectors.") and ".sandbox" not in name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and ("Mixin" in node.name or node.name.endswith("API"))
    )
    assert not mixins
