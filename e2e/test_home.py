"""`/` in chromium: a ticket taken through the API appears, and a call is pushed without a reload."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.apphost import AppProcess, PreparedDatabase
from tests.totp import token_body


def login(app: AppProcess, username: str, password: str) -> dict[str, str]:
    with httpx.Client(base_url=app.base_url) as api:
        response = token_body(api, username, password)
    response.raise_for_status()
    return {'authorization': f'Bearer {response.json()["access_token"]}'}


def test_ticket_taken_through_the_api_shows_live_on_home(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = live_hall
    taken = httpx.post(f'{app.base_url}/api/tickets', json={'service_code': 'SVC-A'})
    assert taken.status_code == 201
    page.goto(app.base_url + '/')
    expect(page.get_by_text('实时大厅')).to_be_visible()
    expect(page.get_by_test_id('queue-SVC-A-waiting')).to_have_text('1')

    httpx.post(f'{app.base_url}/api/tickets', json={'service_code': 'SVC-A'})
    expect(page.get_by_test_id('queue-SVC-A-waiting')).to_have_text('2')
    headers = login(app, 'w01', prepared.passwords['w01'])
    called = httpx.post(f'{app.base_url}/api/windows/1/call-next', headers=headers)
    assert called.json()['number'] == 'A001'
    expect(page.get_by_test_id('window-1-current')).to_have_text('A001')
    expect(page.get_by_test_id('queue-SVC-A-waiting')).to_have_text('1')
    assert re.search(r'A001', page.content())
