"""/track/{code}/status in chromium: the light page draws its ticket's place, moves it when the queue moves,
shows the window once called (also after a reload: the snapshot on connect), and keeps elder mode; a ticket sent
to another hall says where to go."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.apphost import AppProcess, PreparedDatabase, run_coroutine
from tests.easthall import EAST, EAST_CODE, add_east_hall_at
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


def test_the_status_page_says_where_a_ticket_sent_to_another_hall_goes(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = live_hall
    run_coroutine(lambda: add_east_hall_at(prepared.url, serves=['SVC-C']))  # 东区, with no process of its own yet
    mine = take(app)
    page.goto(f'{app.base_url}/track/{mine["code"]}/status')
    expect(page.get_by_test_id('track-status')).to_have_text('排队中')
    expect(page.get_by_test_id('track-handoff')).to_have_text('')
    with app.client() as client:
        sent = client.post(
            f'/api/tickets/{mine["number"]}/hall-transfer',
            json={'to_hall': EAST_CODE, 'to_service': 'SVC-C', 'reason': '户籍在东区'},
            headers=bearer(token(client, W01)),
            timeout=15,
        )
    assert sent.status_code == 202, sent.text  # pending until 东区's process issues its number
    expect(page.get_by_test_id('track-status')).to_have_text('已转至其他大厅', timeout=15_000)
    expect(page.get_by_test_id('track-handoff')).to_contain_text(f'请前往{EAST}办理')
    expect(page.get_by_test_id('track-handoff-pending')).to_have_text('该大厅正在为您取号，请稍后刷新本页')
    expect(page.get_by_test_id('track-handoff-number')).to_have_text('')
    expect(page.get_by_test_id('track-ahead')).to_have_text('')
