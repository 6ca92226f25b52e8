"""A relative's light page of a case (亲情代办) in chromium: a follow-only invitation leads to it, a case step taken
in another process of the hall (over the Redis bus) reaches the open page with no reload, what a returned step asks
for shows, and the page says the access ended the moment the citizen ends the grant.

Two shapes: a grant of a ticket (its case appears under the ticket once the window opens it), and a grant of a case
without a ticket (a 上门服务 asked through an earlier grant: the page is the case alone)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from redis import Redis

from e2e.sms import verify_on_phone
from e2e.test_journey import scan
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.relatives import decide, home_visit_case, open_case, serve, take_for_a_citizen

REDIS = 'redis://127.0.0.1:6379/13'  # the app and the other process share the hall's bus here (this module's alone)
PUSH_WAIT_MS = 15_000
PHONE = {'width': 390, 'height': 844}
DESK = {'width': 1366, 'height': 900}


@pytest.fixture
def bus_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with Redis.from_url(REDIS) as redis:  # this module's own database: earlier runs' ticket counts per phone
        redis.flushdb()
    with running_app(tmp_path, extra_env={'REDIS_URL': REDIS}) as (app, prepared):
        yield app, prepared


def invite_to_follow(page: Page, app: AppProcess, track_path: str) -> tuple[str, Page]:
    """The citizen verifies on /track (`page`, their phone) and invites a relative to follow only: the link the QR
    code carries, and the relative's phone."""
    page.set_viewport_size(PHONE)
    page.goto(f'{app.base_url}{track_path}')
    verify_on_phone(page, app)
    page.get_by_test_id('proxy-form').click()
    page.get_by_test_id('proxy-can-fill').click()  # follow only
    page.get_by_test_id('proxy-invite').click()
    link = scan(page, 'proxy-qr')
    assert link.endswith('/status'), 'a follow-only invitation leads to the light page'
    relative = page.context.browser.new_context().new_page() if page.context.browser else page.context.new_page()
    relative.set_viewport_size(PHONE)
    return link, relative


def look(relative: Page, app: AppProcess, name: str) -> None:
    """Screenshots at a phone's width and a desk's, for a person to look at; no sideways scrolling on the phone."""
    for label, size in (('390', PHONE), ('1366', DESK)):
        relative.set_viewport_size(size)
        relative.screenshot(path=str(app.tmp_dir / f'{name}-{label}.png'), full_page=True)
    assert relative.evaluate('document.documentElement.scrollWidth') <= DESK['width']
    relative.set_viewport_size(PHONE)
    assert relative.evaluate('document.documentElement.scrollWidth') <= PHONE['width'], 'no sideways scrolling'


def test_a_case_opened_from_the_ticket_and_its_steps_reach_the_relatives_open_page(
    page: Page, bus_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = bus_hall
    expect.set_options(timeout=PUSH_WAIT_MS)
    ticket = take_for_a_citizen(app, 1)
    link, relative = invite_to_follow(page, app, ticket['track_path'])
    relative.goto(link)
    expect(relative.get_by_test_id('track-number')).to_have_text(ticket['number'])
    expect(relative.get_by_test_id('proxy-cases')).to_be_hidden()  # no case yet: nothing to show
    relative.wait_for_function('window.__halltwinCases.messages > 0')  # listening, told there is no case yet

    serve(app, ticket['number'])
    _, _, step = open_case(prepared.url, app.tmp_dir / 'other-var', ticket['code'], redis_url=REDIS)
    cases = relative.get_by_test_id('proxy-cases')
    expect(cases).to_be_visible()
    expect(cases).to_contain_text('事项甲')
    expect(cases.locator('[data-testid$="-current"]')).to_have_text(re.compile(r'当前：事项甲审批.*办理中'))
    expect(cases.get_by_test_id('proxy-case-steps')).to_contain_text('受理')

    decide(prepared.url, app.tmp_dir / 'other-var', step, note='请补充户口簿首页', redis_url=REDIS)
    expect(cases.locator('[data-testid$="-status"]')).to_have_text('退回补正')
    expect(cases.locator('[data-testid$="-asked"]')).to_have_text('退回补正：请补充户口簿首页')
    expect(cases.locator('[data-testid$="-needs"]')).to_have_text('')  # the return says what it needs
    assert relative.evaluate('window.__halltwinCases.missed') == 0
    look(relative, app, 'proxy-ticket-case')

    page.locator('[data-testid^="proxy-end-"]').click()
    expect(relative.get_by_test_id('track-ended')).to_contain_text('本次代办已结束')
    expect(cases).to_be_hidden()
    expect(relative.get_by_test_id('track-ticket')).to_be_hidden()


def test_a_case_without_a_ticket_has_its_own_light_page_that_ends_with_the_grant(
    page: Page, bus_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = bus_hall
    expect.set_options(timeout=PUSH_WAIT_MS)
    ticket = take_for_a_citizen(app, 2)
    case_code = home_visit_case(prepared.url, app.tmp_dir / 'other-var', ticket['code'], redis_url=REDIS)
    link, relative = invite_to_follow(page, app, f'/track/{case_code}')
    relative.goto(link)
    expect(relative.get_by_test_id('proxy-banner')).to_contain_text('您正在协助家人办事（子女）')
    cases = relative.get_by_test_id('proxy-cases')
    expect(cases.get_by_test_id('proxy-case-steps')).to_contain_text('受理')
    expect(relative.get_by_test_id('track-ticket')).to_have_count(0)  # a case alone: no ticket on its page
    expect(relative.get_by_test_id('track-person-link')).to_have_attribute(
        'href', link.removeprefix(app.base_url).removesuffix('/status')
    )
    look(relative, app, 'proxy-case-only')
    relative.goto(f'{link}?elder=1')
    expect(cases.get_by_test_id('proxy-case-steps')).to_be_visible()
    assert relative.evaluate("document.body.classList.contains('elder')") is True
    look(relative, app, 'proxy-case-only-elder')

    page.locator('[data-testid^="proxy-end-"]').click()
    expect(relative.get_by_test_id('track-ended')).to_contain_text('本次代办已结束')
    expect(cases).to_be_hidden()
    assert relative.evaluate('window.__halltwinCases.ended') is True
    relative.reload()
    expect(relative.get_by_test_id('track-error')).to_contain_text('代办链接已结束或无效')
