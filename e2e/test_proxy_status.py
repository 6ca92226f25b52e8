"""/proxy/{token}/status in chromium: a relative's light page follows the shared ticket to the window, and says
the access ended the moment the citizen ends it (the socket closed by the server, no reload), or, when the page was
away then and its reconnect is refused, once its own address answers 404 (track_status.js `stillOpen`)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, WebSocketRoute, expect

from e2e.sms import verify_on_phone
from e2e.test_journey import scan
from e2e.test_track_status import call_next
from tests.apphost import AppProcess, PreparedDatabase
from tests.relatives import take_for_a_citizen

PUSH_WAIT_MS = 15_000


def invited(page: Page, app: AppProcess, citizen: int) -> tuple[dict[str, str], str, Page]:
    """A citizen's ticket, verified on their phone (`page`), the relative's link they invited, the relative's phone."""
    ticket = take_for_a_citizen(app, citizen)
    page.set_viewport_size({'width': 390, 'height': 844})
    page.goto(f'{app.base_url}{ticket["track_path"]}')
    verify_on_phone(page, app)
    page.get_by_test_id('proxy-form').click()
    page.get_by_test_id('proxy-invite').click()
    link = scan(page, 'proxy-qr')
    relative = page.context.browser.new_context().new_page() if page.context.browser else page.context.new_page()
    relative.set_viewport_size({'width': 390, 'height': 844})
    return ticket, link, relative


RELATIVE_NEXT = '下一个就是家人的号，请提醒他留意叫号'  # not /track's "you are next": the relative is not in the queue


def test_a_relatives_light_page_follows_the_ticket_and_ends_when_the_citizen_ends_it(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = live_hall
    expect.set_options(timeout=PUSH_WAIT_MS)
    ticket, link, relative = invited(page, app, 1)
    path = link.removeprefix(app.base_url)
    relative.goto(link)  # the full page, where the relative acts, leads to the light one to keep open
    expect(relative.get_by_test_id('proxy-status-link')).to_have_attribute('href', f'{path}/status')
    expect(relative.get_by_test_id('track-ahead')).to_have_text(RELATIVE_NEXT)  # the family member's number
    relative.goto(f'{link}/status')
    expect(relative.get_by_test_id('proxy-banner')).to_contain_text('您正在协助家人办事（子女）')
    expect(relative.get_by_test_id('track-number')).to_have_text(ticket['number'])
    expect(relative.get_by_test_id('track-status')).to_have_text('排队中')
    expect(relative.get_by_test_id('track-ahead')).to_have_text(RELATIVE_NEXT)
    expect(relative.get_by_test_id('track-person-link')).to_have_attribute('href', path)
    assert relative.evaluate('document.documentElement.scrollWidth') <= 390, 'no sideways scrolling on a phone'

    call_next(app)
    expect(relative.get_by_test_id('track-status')).to_have_text('正在叫号')
    expect(relative.get_by_test_id('track-window')).to_have_text('请到 1 号窗口办理')

    page.locator('[data-testid^="proxy-end-"]').click()
    expect(relative.get_by_test_id('track-ended')).to_contain_text('本次代办已结束')
    expect(relative.get_by_test_id('track-ticket')).to_be_hidden()
    expect(relative.get_by_test_id('proxy-banner')).to_be_hidden()  # its "until" and "can end it" are over
    expect(relative.get_by_test_id('track-person-link')).to_be_hidden()
    assert relative.evaluate('window.__halltwinTrack.ended') is True
    relative.screenshot(path=str(app.tmp_dir / 'proxy-status-ended.png'), full_page=True)
    relative.reload()
    expect(relative.get_by_test_id('track-error')).to_contain_text(re.compile('代办链接已结束或无效'))


def test_a_relatives_page_away_when_the_access_ended_learns_it_from_its_own_404(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = live_hall
    expect.set_options(timeout=PUSH_WAIT_MS)
    ticket, link, relative = invited(page, app, 2)
    sockets: list[WebSocketRoute] = []

    def away(socket: WebSocketRoute) -> None:
        """The real sockets, except that the first one's goodbye from the server never reaches the phone (it is asleep
        then); a reconnect's refusal does."""
        server = socket.connect_to_server()
        if not sockets:
            server.on_close(lambda code, reason: None)
        sockets.append(socket)

    def asleep(socket: WebSocketRoute) -> None:
        """The cases socket under the ticket (components/proxy_cases.py) hears nothing from the server either."""
        socket.connect_to_server().on_close(lambda code, reason: None)

    relative.route_web_socket(re.compile(r'/live/proxy/[^/]+$'), away)
    relative.route_web_socket(re.compile(r'/live/proxy/[^/]+/cases$'), asleep)
    relative.goto(f'{link}/status')
    expect(relative.get_by_test_id('track-number')).to_have_text(ticket['number'])
    expect(relative.get_by_test_id('track-status')).to_have_text('排队中')

    page.locator('[data-testid^="proxy-end-"]').click()
    expect(page.locator('[data-testid^="proxy-end-"]')).to_have_count(0)
    assert relative.evaluate('window.__halltwinTrack.ended') is False  # the server's close never came
    with relative.expect_response(lambda answer: answer.url == f'{link}/status' and answer.status == 404):
        sockets[-1].close(code=1001, reason='the phone wakes up')  # its reconnect is refused: the grant ended
    expect(relative.get_by_test_id('track-ended')).to_contain_text('本次代办已结束')
    expect(relative.get_by_test_id('track-ticket')).to_be_hidden()
    assert relative.evaluate('window.__halltwinTrack.ended') is True
    assert len(sockets) == 2  # one refused reconnect, and no more after the page knew
