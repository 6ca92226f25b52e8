"""Imports point one way: pages -> components -> twin -> app, and devices -> app (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    'app': {'nicegui', 'pages', 'components', 'twin', 'devices', 'seed'},
    'twin': {'pages', 'components', 'devices'},
    'components': {'pages', 'devices'},
    'devices': {'pages', 'components', 'twin', 'nicegui'},
    'pages': {'devices'},
}
COMPOSITION_ROOT = ROOT / 'app' / 'main.py'


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split('.')[0])
    return names


@pytest.mark.parametrize('layer', sorted(FORBIDDEN))
def test_imports_point_one_way(layer: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[layer])
        for path in (ROOT / layer).rglob('*.py')
        if path != COMPOSITION_ROOT and imported_packages(path) & FORBIDDEN[layer]
    }
    assert offenders == {}, f'{layer}/ imports what it must not: {offenders}'
