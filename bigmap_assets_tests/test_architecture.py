"""The pure core never imports Dagster: only ``defs/`` (and the entry points) may."""

from __future__ import annotations

import ast
from pathlib import Path

import bigmap_assets

PACKAGE = Path(bigmap_assets.__file__).parent
PURE_CORE = ("readers", "ingest", "science", "schemas", "warehouse", "plots", "archive", "alerts", "report", "exports")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module:  # relative: resolve against the package
            parent = path.relative_to(PACKAGE.parent).parent.parts[: len(path.relative_to(PACKAGE.parent).parts) - node.level]
            names.add(".".join((*parent, node.module)))
    return names


def test_the_pure_core_imports_neither_dagster_nor_the_dagster_layer():
    offenders = []
    for folder in PURE_CORE:
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            for name in imported_modules(path):
                if name.split(".")[0].startswith("dagster") or name.startswith("bigmap_assets.defs"):
                    offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert len(list((PACKAGE / "ingest").glob("*.py"))) > 5  # the walk sees the modules
    assert offenders == []


def test_the_package_root_holds_only_its_entry_points():
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "definitions.py"]
