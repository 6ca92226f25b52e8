"""跨区通办 of a waiting ticket in chromium, by keyboard only: the clerk types part of the number, tabs to the ticket
on the desk's pick-list, presses Enter, chooses 东区 and its service in the dialog, and the ticket leaves the list.
The desk is photographed at 1366 px and at a phone's 390 px for a person to look at.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.apphost import running_app
from tests.easthall import EAST, add_east_hall_at
from tests.totp import finish_login, token_body


def add_east(url: str) -> None:
    """东区 with a window serving SVC-C, in the running app's database (its own event loop, in a thread of its own:
    Playwright's loop holds this one)."""
    worker = threading.Thread(target=lambda: asyncio.run(add_east_hall_at(url, serves=['SVC-C'])))
    worker.start()
    worker.join(timeout=60)


def test_the_clerk_picks_a_waiting_ticket_with_the_keyboard_and_sends_it_to_another_hall(
    page: Page, tmp_path: Path
) -> None:
    with running_app(tmp_path) as (app, prepared):
        assert prepared.small_hall is not None
        add_east(prepared.url)
        with httpx.Client(base_url=app.base_url) as api:
            clerk = token_body(api, 'w01', prepared.passwords['w01']).json()['access_token']
            for _ in range(3):
                taken = api.post(
                    '/api/tickets', json={'service_code': 'SVC-A'}, headers={'Authorization': f'Bearer {clerk}'}
                )
                assert taken.status_code == 201, taken.text

        desk = page
        desk.set_viewport_size({'width': 1366, 'height': 900})
        desk.goto(f'{app.base_url}/window/{prepared.small_hall.window_1}')
        desk.get_by_test_id('login-username').fill('w01')
        desk.get_by_test_id('login-password').fill(prepared.passwords['w01'])
        desk.get_by_test_id('login-submit').click()
        finish_login(desk)
        desk.wait_for_url(re.compile(rf'/window/{prepared.small_hall.window_1}$'))
        picks = desk.get_by_role('list', name='可转其他大厅的排队号')
        expect(picks.get_by_role('button')).to_have_count(3)
        desk.screenshot(path=str(tmp_path / 'waiting-hall-desk-1366.png'), full_page=True)  # for a person to look at

        desk.get_by_role('textbox', name='号码（输入可查找）').focus()
        desk.keyboard.type('3')
        expect(picks.get_by_role('button')).to_have_count(1)
        desk.keyboard.press('Tab')
        a003 = picks.get_by_role('button', name='A003 号，事项甲，已等 0 分钟：转其他大厅')
        expect(a003).to_be_focused()
        desk.keyboard.press('Enter')

        dialog = desk.get_by_role('dialog')
        expect(dialog.get_by_text('A003 号转至其他大厅（跨区通办）')).to_be_visible()
        dialog.get_by_role('radio', name=f'{EAST} (east)').focus()
        desk.keyboard.press('Space')
        desk.keyboard.press('Tab')  # the service
        desk.keyboard.press('Enter')
        desk.get_by_role('option', name='事项丙').press('Enter')
        desk.keyboard.press('Tab')  # the reason
        desk.keyboard.type('户籍在东区')
        desk.keyboard.press('Tab')  # 取消
        desk.keyboard.press('Tab')  # 确定
        desk.keyboard.press('Enter')

        expect(desk.get_by_text(f'A003 号已转至{EAST}；该大厅尚未出号，运行后会自动出号')).to_be_visible(timeout=10_000)
        expect(picks.get_by_role('button')).to_have_count(2)  # the filter is cleared, A003 is gone
        expect(desk.get_by_test_id('waiting-hall-pick-A003')).to_have_count(0)
        with closing(sqlite3.connect(prepared.url.split(':///', 1)[1])) as db:
            rows = db.execute('SELECT number, status FROM ticket ORDER BY number').fetchall()
        assert rows == [('A001', 'WAITING'), ('A002', 'WAITING'), ('A003', 'TRANSFERRED')]

        desk.set_viewport_size({'width': 390, 'height': 844})
        desk.evaluate('window.scrollTo(0, 0)')  # a full-page shot of a scrolled page draws the fixed header mid-page
        desk.screenshot(path=str(tmp_path / 'waiting-hall-desk-390.png'), full_page=True)
        assert desk.evaluate('document.documentElement.scrollWidth') <= 390, 'no sideways scrolling on a phone'
