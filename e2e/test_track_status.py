"""/track/{code}/status in chromium: the light page draws its ticket's place, moves it when the queue moves,
shows the window once called (also after a reload: the snapshot on connect), and keeps elder mode."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.apphost import AppProcess, PreparedDatabase
from tests.security.routes import bearer, token

W01 = ('w01', 'Window-01-pass')


def take(app: AppProcess) -> dict[str, str]:
    taken = httpx.post(f'{app.base_url}/api/tickets', json={'service_code': 'SVC-A'}, timeout=10)
    assert taken.status_code == 201, taken.text
    return dict(taken.json())


def call_next(app: AppProcess) -> None:
    with app.client() as client:
        desk = bearer(token(client, W01))
        client.post('/api/windows/1/complete', headers=desk)
        assert client.post('/api/windows/1/call-next', headers=desk).status_code == 200


def test_the_status_page_follows_its_ticket_to_the_window(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = live_hall
    take(app)
    mine = take(app)
    page.set_viewport_size({'width': 390, 'height': 844})
    page.goto(f'{app.base_url}/track/{mine["code"]}/status')
    expect(page.get_by_test_id('track-number')).to_have_text(mine['number'])
    expect(page.get_by_test_id('track-status')).to_have_text('排队中')
    expect(page.get_by_test_id('track-ahead')).to_have_text('前面还有 1 人')
    call_next(app)
    expect(page.get_by_test_id('track-ahead')).to_have_text('下一个就是您，请留意叫号')
    call_next(app)
    expect(page.get_by_test_id('track-status')).to_have_text('正在叫号')
    expect(page.get_by_test_id('track-window')).to_have_text('请到 1 号窗口办理')
    expect(page.get_by_test_id('track-ahead')).to_have_text('')
    page.get_by_test_id('elder-toggle').click()
    expect(page.locator('body.elder')).to_have_count(1)
    page.reload()
    expect(page.locator('body.elder')).to_have_count(1)  # remembered by the browser, as on every page
    expect(page.get_by_test_id('track-window')).to_have_text('请到 1 号窗口办理')  # the snapshot on connect
