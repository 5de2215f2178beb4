"""The layer map of docs/architecture.md, checked: what can be checked by reading the code.

- ``sdk/`` and ``drift/`` (the leaves) import nothing else of the project;
- ``storage/`` imports no layer above it (collector, alerts, dashboards, the composition roots);
- nothing outside ``storage/`` (and ``migrations/``) constructs SQLAlchemy queries;
- ``collector/`` and ``alerts/`` never read the settings (only ``infersight/`` does);
- no module of the product is over 450 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("sdk", "drift", "storage", "migrations", "collector", "alerts", "dashboards",
          "infersight")
"""The product's folders; each is the package ``infersight.<folder>`` (``infersight`` itself)."""

MAX_LINES = 450

QUERY_BUILDERS = frozenset({
    "select", "insert", "update", "delete", "text", "func", "and_", "or_", "not_", "case",
    "literal", "literal_column", "bindparam", "exists", "union", "union_all", "tuple_",
    "values", "column", "table", "cast", "null", "true", "false",
})
"""Names whose import from ``sqlalchemy`` means building SQL."""

QUERY_METHODS = frozenset({"query", "with_for_update", "scalars", "exec_driver_sql"})
"""Session/connection methods that only make sense on SQL built in place."""

# What the layout change has not moved yet (issue 11). Each list may only shrink: a module
# listed that no longer breaks its rule fails the test until it is taken off the list.
PENDING_SQL: frozenset[str] = frozenset()
"""Modules still building SQL outside ``storage/``."""
PENDING_SETTINGS: frozenset[str] = frozenset()
"""Modules below ``infersight/`` that still read the settings."""
PENDING_LONG: frozenset[str] = frozenset()
"""Modules still over the line limit."""


def _ratchet(found: dict[str, list[str]], pending: frozenset[str], what: str) -> None:
    offending = [line for module, lines in sorted(found.items()) if module not in pending
                 for line in lines]
    stale = sorted(pending - {module for module, lines in found.items() if lines})
    assert not offending, f"{what}:\n" + "\n".join(offending)
    assert not stale, f"these modules no longer break the rule; take them off the list: {stale}"


def _package(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts[0] == "infersight":
        parts = parts[1:]
    return ".".join(["infersight", *parts])


def _modules(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[str, ast.ImportFrom | ast.Import]]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = _package(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield name, node


def _layer(module: str) -> str | None:
    """The project folder a module name belongs to (``infersight.cli`` -> ``infersight``)."""
    parts = module.split(".")
    if parts[0] != "infersight":
        return None
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "infersight"


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("leaf", ["sdk", "drift"])
def test_the_leaves_import_nothing_else_of_the_project(leaf: str) -> None:
    offending = [
        f"{_rel(path)}:{node.lineno} imports {name}"
        for path in _modules(leaf)
        for name, node in _imports(path)
        if _layer(name) not in (None, leaf)
    ]
    assert not offending, "\n".join(offending)


def test_storage_imports_no_upper_layer() -> None:
    allowed = {None, "storage", "sdk", "drift", "migrations"}
    offending = [
        f"{_rel(path)}:{node.lineno} imports {name}"
        for path in _modules("storage")
        for name, node in _imports(path)
        if _layer(name) not in allowed
    ]
    assert not offending, "\n".join(offending)


def _builds_sql(path: Path) -> list[str]:
    found = []
    for name, node in _imports(path):
        if name.split(".")[0] == "sqlalchemy" and isinstance(node, ast.ImportFrom):
            built = sorted(a.name for a in node.names if a.name in QUERY_BUILDERS)
            if built or name.startswith("sqlalchemy.dialects"):
                found.append(f"{_rel(path)}:{node.lineno} imports {', '.join(built) or name}")
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in QUERY_METHODS):
            found.append(f"{_rel(path)}:{node.lineno} calls .{node.func.attr}()")
    return found


def test_no_sql_is_built_outside_storage() -> None:
    found = {_rel(path): _builds_sql(path)
             for path in _modules("collector", "alerts", "dashboards", "infersight", "sdk",
                                  "drift")}
    _ratchet(found, PENDING_SQL, "SQL built outside storage/")


def test_only_the_composition_roots_read_the_settings() -> None:
    found = {
        _rel(path): [f"{_rel(path)}:{node.lineno} imports {name}"
                     for name, node in _imports(path) if name == "infersight.settings"]
        for path in _modules("collector", "alerts", "storage", "dashboards", "sdk", "drift")
    }
    _ratchet(found, PENDING_SETTINGS, "settings read below infersight/")


def test_no_module_is_over_the_line_limit() -> None:
    found = {
        _rel(path): [f"{_rel(path)}: {count} lines"] if count > MAX_LINES else []
        for path in _modules(*LAYERS)
        if (count := len(path.read_text().splitlines()))
    }
    _ratchet(found, PENDING_LONG, f"modules over {MAX_LINES} lines")


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The SQL detector sees both an import of a builder and an in-place query method."""
    sample = ROOT / "collector" / "_architecture_probe.py"
    sample.write_text("from sqlalchemy import select\n\ndef f(session):\n"
                      "    return session.query(1)\n")
    try:
        found = _builds_sql(sample)
    finally:
        sample.unlink()
    assert len(found) == 2 and "select" in found[0] and ".query()" in found[1]
