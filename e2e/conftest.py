"""Playwright end-to-end tests: the real app as a subprocess, driven through Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apphost import AppProcess, PreparedDatabase, running_app

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == 'e2e':
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope='session')
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Playwright cannot download browsers here: drive Debian's chromium."""
    return {**browser_type_launch_args, 'executable_path': CHROMIUM, 'args': CHROMIUM_ARGS}


@pytest.fixture
def live_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """The app on the small test hall (windows 1-4, services SVC-A/B/C), with staff w01 and manager boss."""
    with running_app(tmp_path) as (app, prepared):
        yield app, prepared
