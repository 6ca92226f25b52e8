"""The call board in chromium: what the shared texts draw, a recall, the recent list, elder mode, and a board
that comes back with the right state after the server restarted (its socket reconnects and takes a snapshot, which
says nothing aloud; the next call is said again)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.security.routes import bearer, token

W01 = ('w01', 'Window-01-pass')
BACK_WITHIN_MS = 30_000  # the page's retry pause after a restart: at most 10 s, give or take half


@pytest.fixture
def small_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path, extra_env={'RECALL_INTERVAL_SECONDS': '0'}) as hall:
        yield hall


def at_window_1(app: AppProcess, action: str) -> httpx.Response:
    with app.client() as client:
        done = client.post(f'/api/windows/1/{action}', headers=bearer(token(client, W01)))
    return done


def take(app: AppProcess, service: str = 'SVC-A') -> str:
    taken = httpx.post(f'{app.base_url}/api/tickets', json={'service_code': service}, timeout=10)
    assert taken.status_code == 201, taken.text
    return str(taken.json()['number'])


def test_calls_recalls_and_the_recent_list_are_drawn_and_a_restart_changes_nothing_seen(
    page: Page, small_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = small_hall
    page.set_viewport_size({'width': 1366, 'height': 900})
    page.goto(f'{app.base_url}/display')
    expect(page.get_by_text('暂无呼叫')).to_be_visible()
    page.get_by_test_id('voice-overlay').click()  # voice on, once for this browser
    expect(page.get_by_test_id('voice-overlay')).to_have_count(0)
    first, second = take(app), take(app)
    expect(page.get_by_test_id('board-queue-SVC-A')).to_have_text('2')
    assert at_window_1(app, 'call-next').status_code == 200
    expect(page.get_by_test_id('board-now-number')).to_have_text(first)
    expect(page.get_by_test_id('board-now-window')).to_have_text('1 号窗口')
    expect(page.get_by_test_id('board-queue-SVC-A')).to_have_text('1')
    expect(page.get_by_test_id('board-said')).to_have_text(f'请 {first} 号到 1 号窗口办理')
    assert at_window_1(app, 'recall').status_code == 200
    expect(page.get_by_text('重呼')).to_be_visible()
    at_window_1(app, 'complete')
    assert at_window_1(app, 'call-next').status_code == 200
    expect(page.get_by_test_id('board-now-number')).to_have_text(second)
    expect(page.get_by_text('重呼')).to_have_count(0)
    expect(page.get_by_test_id(f'board-call-{first}')).to_contain_text('1 号窗口')
    said = page.evaluate('window.__halltwinAnnouncements')
    assert said == [f'请 {first} 号到 1 号窗口办理'] * 2 + [f'请 {second} 号到 1 号窗口办理']

    page.get_by_test_id('elder-toggle').click()  # 长辈模式: the current call alone, bigger
    expect(page.get_by_test_id('elder-toggle')).to_have_attribute('aria-pressed', 'true')
    expect(page.get_by_test_id(f'board-call-{first}')).to_be_hidden()
    page.get_by_test_id('elder-toggle').click()

    texts = page.evaluate('window.__halltwinBoard.messages')
    app.restart()  # every board's socket drops; the page reconnects by itself
    page.wait_for_function(
        f'window.__halltwinBoard.connected && window.__halltwinBoard.messages > {texts}', timeout=BACK_WITHIN_MS
    )
    expect(page.get_by_test_id('board-now-number')).to_have_text(second)
    assert page.evaluate('window.__halltwinAnnouncements') == said  # the snapshot says nothing aloud again
    third = take(app)
    at_window_1(app, 'complete')
    assert at_window_1(app, 'call-next').status_code == 200
    expect(page.get_by_test_id('board-now-number')).to_have_text(third)
    expect(page.get_by_test_id('board-said')).to_have_text(f'请 {third} 号到 1 号窗口办理')
    expect(page.get_by_test_id('board-queue-SVC-A')).to_have_text('0')
    assert page.evaluate('window.__halltwinAnnouncements') == [*said, f'请 {third} 号到 1 号窗口办理']
    assert page.evaluate('window.__halltwinBoard.connected') is True


def test_a_zone_board_at_phone_width_shows_its_own_queues_and_no_name(
    page: Page, small_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = small_hall
    page.set_viewport_size({'width': 360, 'height': 740})
    page.goto(f'{app.base_url}/display/general?elder=1')
    expect(page.get_by_test_id('elder-toggle')).to_have_attribute('aria-pressed', 'true')
    number = take(app)
    assert at_window_1(app, 'call-next').status_code == 200
    expect(page.get_by_test_id('board-now-number')).to_have_text(number)
    width = page.evaluate('document.documentElement.scrollWidth')
    assert width <= 360, f'the board scrolls sideways at 360 px ({width} px)'
