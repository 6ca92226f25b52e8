"""A full disk seen in chromium (a 6 MB tmpfs under the running app; skipped where none can be mounted): the
kiosk says 「暂时无法取号，请联系工作人员」, the manager's alert list beside the floor map shows the storage
alert, and once space is freed the same kiosk takes a ticket again."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.apphost import SMALL_HALL_PASSWORDS, prepare_database, run_coroutine, sqlite_url, start_app
from tests.kiosk_hall import prepare_ui
from tests.kioskpairing import pair_page
from tests.tmpfs import small_tmpfs
from tests.totp import finish_login, token_body

WAIT_MS = 20_000  # generous: the machine is shared


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path) as mount:
        yield mount


def fill_until_refused(folder: Path, base_url: str, token: str) -> Path:
    """Fill the file system, then take tickets until the app refuses one (free pages inside the file go first)."""
    filler = folder / 'filler'
    with contextlib.suppress(OSError), filler.open('wb') as out:
        while True:
            out.write(b'\0' * 65536)
            out.flush()
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for _ in range(400):
            answer = client.post(
                '/api/tickets', json={'service_code': 'SVC-C'}, headers={'Authorization': f'Bearer {token}'}
            )
            if answer.status_code == 503:
                return filler
            assert answer.status_code == 201, answer.text
    raise AssertionError('the full file system never refused a write')


def top_up(filler: Path) -> None:
    """Take whatever space the app's own writes or rollbacks gave back since the filler was written."""
    with contextlib.suppress(OSError), filler.open('ab') as out:
        while True:
            out.write(b'\0' * 4096)
            out.flush()


def take_at_kiosk_until_refused(page: Page, filler: Path) -> int:
    """取号 at the kiosk until it refuses; how many it issued first. A full file system can still leave room
    inside SQLite's own files (the WAL starts again from its beginning after a checkpoint), so a small take
    may still fit after the API's first refusal: each such ticket is finished and the next take tried."""
    for issued in range(10):
        top_up(filler)
        page.get_by_test_id('kiosk-take').click()
        refused = page.get_by_text('暂时无法取号，请联系工作人员')
        expect(refused.or_(page.get_by_test_id('kiosk-ticket-number'))).to_be_visible(timeout=WAIT_MS)
        if refused.is_visible():
            return issued
        page.get_by_test_id('kiosk-ticket-done').click()
        page.get_by_test_id('kiosk-start-manual').click()
        page.get_by_test_id('kiosk-service-SVC-B').click()
        expect(page.get_by_test_id('kiosk-take')).to_be_visible(timeout=WAIT_MS)
    raise AssertionError('the kiosk kept issuing numbers on a full file system')


def test_a_full_disk_is_told_at_the_kiosk_and_on_the_managers_map_and_passes_when_space_is_freed(
    page: Page, tmp_path: Path, small_fs: Path
) -> None:
    prepared = prepare_database(sqlite_url(small_fs / 'hall.db'))
    run_coroutine(lambda: prepare_ui(prepared.url))
    with start_app(prepared.url, tmp_path / 'app', {'DISK_MIN_FREE_MB': '3', 'DISK_CHECK_SECONDS': '1'}) as app:
        with httpx.Client(base_url=app.base_url) as api:
            token = token_body(api, 'boss', SMALL_HALL_PASSWORDS['boss']).json()['access_token']
        manager = page.context.new_page()
        manager.set_viewport_size({'width': 1366, 'height': 768})
        manager.goto(f'{app.base_url}/login?next=/manager')
        manager.get_by_test_id('login-username').fill('boss')
        manager.get_by_test_id('login-password').fill(SMALL_HALL_PASSWORDS['boss'])
        manager.get_by_test_id('login-submit').click()
        finish_login(manager)
        expect(manager.get_by_test_id('alert-list')).to_be_visible(timeout=WAIT_MS)

        page.set_viewport_size({'width': 390, 'height': 844})
        pair_page(page, app.base_url, prepared.url, 'K01')
        page.get_by_test_id('kiosk-start-manual').click()
        page.get_by_test_id('kiosk-service-SVC-B').click()  # no questions: one transaction, the ticket
        expect(page.get_by_test_id('kiosk-take')).to_be_visible(timeout=WAIT_MS)

        filler = fill_until_refused(small_fs, app.base_url, token)
        issued = take_at_kiosk_until_refused(page, filler)
        expect(page.get_by_text('暂时无法取号，请联系工作人员')).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_test_id('kiosk-ticket-number')).to_have_count(0)
        page.screenshot(path=str(tmp_path / 'kiosk-disk-full-390.png'))
        expect(manager.get_by_text('写入失败').first).to_be_visible(timeout=WAIT_MS)
        expect(manager.get_by_text('数据库所在磁盘剩余').first).to_be_visible(timeout=WAIT_MS)
        manager.screenshot(path=str(tmp_path / 'manager-disk-full-1366.png'))
        manager.set_viewport_size({'width': 390, 'height': 844})
        manager.screenshot(path=str(tmp_path / 'manager-disk-full-390.png'), full_page=True)

        filler.unlink()  # the operator frees space: the same kiosk, no restart
        page.get_by_test_id('kiosk-take').click()
        expect(page.get_by_test_id('kiosk-ticket-number')).to_have_text(f'B{issued + 1:03d}', timeout=WAIT_MS)
