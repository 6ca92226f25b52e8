"""跨区通办 in chromium: window 1 opens a case for the citizen at it, hands it to 东区 with a reason, and the citizen's
360-px phone (/track, after the texted code) shows the move in plain Chinese on the case's timeline.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from e2e.sms import verify_on_phone
from tests.apphost import running_app
from tests.idnumbers import make_id
from tests.totp import finish_login, token_body

CITIZEN = make_id(dt.date(1986, 4, 9), sequence='413')
EAST = '东区政务服务中心'


def add_east(url: str) -> int:
    """A second hall in the same database: the desk's dialog lists it."""
    with closing(sqlite3.connect(url.split(':///', 1)[1], timeout=30)) as db, db:
        cursor = db.execute(
            'INSERT INTO hall (code, name, name_en, width, height, prompts, sms_templates)'
            " VALUES ('east', ?, 'East District Service Centre', 1200, 800, '{}', '{}')",
            (EAST,),
        )
        return int(cursor.lastrowid or 0)


def test_the_desk_hands_the_case_to_another_hall_and_the_phone_shows_the_move(page: Page, tmp_path: Path) -> None:
    with running_app(tmp_path) as (app, prepared):
        assert prepared.small_hall is not None
        east_id, base = add_east(prepared.url), app.base_url
        with httpx.Client(base_url=base) as api:
            clerk = token_body(api, 'w01', prepared.passwords['w01']).json()['access_token']
            taken = api.post(
                '/api/tickets',
                json={'service_code': 'SVC-A', 'id_number': CITIZEN, 'phone': '13900004321'},
                headers={'Authorization': f'Bearer {clerk}'},
            )
        assert taken.status_code == 201, taken.text

        phone = page.context.new_page()
        phone.set_viewport_size({'width': 360, 'height': 740})
        phone.goto(f'{base}{taken.json()["track_path"]}')
        verify_on_phone(phone, app)

        desk = page
        desk.set_viewport_size({'width': 1366, 'height': 768})
        desk.goto(f'{base}/window/{prepared.small_hall.window_1}')
        desk.get_by_test_id('login-username').fill('w01')
        desk.get_by_test_id('login-password').fill(prepared.passwords['w01'])
        desk.get_by_test_id('login-submit').click()
        finish_login(desk)
        desk.wait_for_url(re.compile(rf'/window/{prepared.small_hall.window_1}$'))
        desk.get_by_test_id('desk-call-next').click()
        expect(desk.get_by_test_id('desk-current-number')).to_have_text('A001')
        desk.get_by_test_id('desk-open-case').click()
        expect(phone.get_by_text('受理', exact=True)).to_be_visible()

        expect(desk.get_by_text(re.compile('已创建办件'))).to_be_visible()
        desk.get_by_test_id('desk-case-hall').click()
        hall = desk.get_by_test_id('case-hall-select').get_by_text(f'{EAST} (east)', exact=True)
        hall.click()
        expect(desk.get_by_test_id('case-hall-select').locator('[aria-checked=true]')).to_have_count(1)
        desk.get_by_test_id('case-hall-reason').fill('户籍在东区，由东区审批')
        desk.screenshot(path=str(tmp_path / 'case-transfer-desk-1366.png'))  # for a person to look at
        desk.get_by_test_id('case-hall-ok').click()
        expect(desk.get_by_text(re.compile(rf'已转至{EAST}'))).to_be_visible()

        step = phone.get_by_text(f'转至{EAST}', exact=True)
        expect(step).to_be_visible()
        expect(phone.get_by_text('已转办', exact=True)).to_be_visible()
        note = f'由测试大厅转至{EAST}办理，办件编号和办理进度不变。原因：户籍在东区，由东区审批'
        expect(phone.get_by_text(note, exact=True)).to_be_visible()  # the step on the timeline
        expect(phone.get_by_test_id('track-notice').filter(has_text=f'您的「事项甲」已转至{EAST}办理')).to_be_visible()
        assert phone.evaluate('document.documentElement.scrollWidth') <= 360, 'no sideways scrolling on a phone'
        step.scroll_into_view_if_needed()
        phone.screenshot(path=str(tmp_path / 'case-transfer-track-360.png'), full_page=True)
        with closing(sqlite3.connect(prepared.url.split(':///', 1)[1])) as db:
            assert db.execute('SELECT hall_id FROM "case"').fetchall() == [(east_id,)]
