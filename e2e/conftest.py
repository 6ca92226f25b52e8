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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the e2e tests and run them last, after pytest's own reordering.

    Playwright's sync API keeps its event loop running in the main thread until the session ends, so an
    async test after the first e2e test cannot start its own loop. pytest regroups tests that share a
    session-scoped parametrised fixture (pytest-playwright's browser_name), which once pulled the e2e tests
    into the middle of the run when another test used a parameter called `page`.
    """
    for item in items:
        if _is_e2e(item):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=_is_e2e)  # stable: each group keeps its order


def _is_e2e(item: pytest.Item) -> bool:
    return Path(str(item.fspath)).parent.name == 'e2e'


@pytest.fixture(scope='session')
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Playwright cannot download browsers here: drive Debian's chromium."""
    return {**browser_type_launch_args, 'executable_path': CHROMIUM, 'args': CHROMIUM_ARGS}


@pytest.fixture
def live_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """The app on the small test hall (windows 1-4, services SVC-A/B/C), with staff w01 and manager boss."""
    with running_app(tmp_path) as (app, prepared):
        yield app, prepared
