"""The version this checkout runs, as pyproject.toml states it (CHANGELOG.md says what each one brought)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import metadata

from app.settings import ROOT

PYPROJECT = ROOT / 'pyproject.toml'


@lru_cache(maxsize=1)
def version() -> str:
    """pyproject.toml's version when the app runs from its checkout, the installed package's otherwise.

    Why pyproject first: an editable install keeps the version it was installed with until it is
    reinstalled, so after an upgrade (git pull) importlib.metadata would report the previous release.
    """
    if PYPROJECT.exists():
        return str(tomllib.loads(PYPROJECT.read_text(encoding='utf-8'))['project']['version'])
    return metadata.version('halltwin')
