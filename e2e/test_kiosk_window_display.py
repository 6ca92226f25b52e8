"""The journey in chromium: a kiosk ticket taken by hand is called at window 1, then shown and spoken on /display."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.kioskpairing import pair_page

SPEECH_WAIT_MS = 15_000  # generous: the machine is shared


@pytest.fixture
def seeded_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """The real seed (kiosk K01 with its peripherals, window 1 with staff w01); devices do not connect."""
    with running_app(tmp_path, seed='default') as (app, prepared):
        yield app, prepared


def test_a_kiosk_ticket_is_called_at_the_window_and_announced_on_the_board(
    page: Page, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded_hall
    window = next(w for w in httpx.get(f'{app.base_url}/api/hall').json()['windows'] if w['number'] == 1)

    # a citizen at kiosk K01 (portrait screen) chooses a service by hand and answers its question
    page.set_viewport_size({'width': 1080, 'height': 1920})
    pair_page(page, app.base_url, prepared.url, 'K01')  # an admin paired this screen to kiosk K01
    page.get_by_test_id('kiosk-start-manual').click()
    page.get_by_test_id('kiosk-service-HUKOU-IN').click()
    page.get_by_test_id('kiosk-answer-hukou_local-no').click()
    expect(page.get_by_text('户口迁移证')).to_be_visible()
    page.get_by_test_id('kiosk-take').click()
    number = page.get_by_test_id('kiosk-ticket-number')
    expect(number).to_have_text('H001')
    expect(page.get_by_test_id('kiosk-ticket-qr')).to_be_visible()
    expect(page.get_by_test_id('kiosk-print-status')).to_have_text('打印机暂不可用，请拍照保存本页')

    # the call board, voice switched on once
    board = page.context.new_page()
    board.set_viewport_size({'width': 1920, 'height': 1080})
    board.goto(f'{app.base_url}/display')
    board.get_by_test_id('voice-overlay').click()
    expect(board.get_by_test_id('voice-overlay')).to_have_count(0)

    # window 1's staff log in and call the next ticket
    desk = page.context.new_page()
    desk.set_viewport_size({'width': 1366, 'height': 768})
    desk.goto(f'{app.base_url}/window/{window["id"]}')
    desk.get_by_test_id('login-username').fill('w01')
    desk.get_by_test_id('login-password').fill(prepared.passwords['w01'])
    desk.get_by_test_id('login-submit').click()
    desk.get_by_test_id('desk-call-next').click()
    expect(desk.get_by_test_id('desk-current-number')).to_have_text('H001')
    expect(desk.get_by_text('户口迁移证')).to_be_visible()  # the kiosk answer reached the window's checklist

    expect(board.get_by_test_id('board-now-number')).to_have_text('H001')
    expect(board.get_by_test_id('board-now-window')).to_have_text('1 号窗口')
    board.wait_for_function(
        "() => (window.__halltwinAnnouncements || []).includes('请 H001 号到 1 号窗口办理')", timeout=SPEECH_WAIT_MS
    )
