"""The workflow editor in chromium: an admin adds a parallel approval stage, drags it into place and saves;
the next case the window opens for that service runs the new stages."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from app.models.people import Role
from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.security.routes import sqlite_path
from tests.totp import finish_login

ADMIN = NewUser('adm01', 'Admin-0001-pass', Role.ADMIN)
CLERK = NewUser('w04', 'Window-04-pass', Role.STAFF, window=4)  # window 4 serves SVC-C
WAIT_MS = 20_000


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path, users=(ADMIN, CLERK)) as (app, prepared):
        yield app, prepared


@pytest.fixture(autouse=True)
def patient_expect() -> None:
    expect.set_options(timeout=WAIT_MS)


def logged_in(context: BrowserContext, base: str, path: str, user: NewUser) -> Page:
    page = context.new_page()
    page.set_viewport_size({'width': 1280, 'height': 1600})  # every stage in view: a drag does not scroll
    page.goto(f'{base}/login?next={path}')
    page.get_by_test_id('login-username').fill(user.username)
    page.get_by_test_id('login-password').fill(user.password)
    page.get_by_test_id('login-submit').click()
    finish_login(page)
    page.wait_for_url(re.compile(re.escape(path) + '$'))
    return page


def case_nodes(url: str) -> list[tuple[int, str, str]]:
    with closing(sqlite3.connect(sqlite_path(url))) as db:
        return list(db.execute('SELECT stage, name, status FROM case_node ORDER BY stage, id'))


def deadlines(url: str, service_code: str) -> dict[str, dict[str, float]]:
    """The saved workflow's deadlines by step name."""
    with closing(sqlite3.connect(sqlite_path(url))) as db:
        (raw,) = db.execute('SELECT workflow FROM service_item WHERE code = ?', (service_code,)).fetchone()
    return {node['name']: {k: v for k, v in node.items() if k.startswith('sla_')} for node in json.loads(raw)}


def test_an_admin_adds_a_parallel_stage_drags_it_into_place_and_the_next_case_runs_it(
    page: Page, browser: Browser, hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = hall
    base = app.base_url
    admin = logged_in(page.context, base, '/admin', ADMIN)
    admin.get_by_test_id('admin-tab-workflow').click()
    admin.get_by_test_id('workflow-service').click()
    admin.get_by_role('option', name='事项丙（SVC-C）').click()
    expect(admin.get_by_test_id('workflow-node-1-0-name')).to_have_value('事项丙审批')

    admin.get_by_test_id('workflow-add-parallel').click()  # a new last stage: two approvals side by side
    expect(admin.get_by_test_id('workflow-node-3-1-name')).to_have_value('部门审批2')
    admin.get_by_test_id('workflow-stage-3-handle').drag_to(admin.get_by_test_id('workflow-stage-1'))
    expect(admin.get_by_test_id('workflow-node-1-0-name')).to_have_value('部门审批1')
    expect(admin.get_by_test_id('workflow-node-1-1-name')).to_have_value('部门审批2')
    expect(admin.get_by_test_id('workflow-node-2-0-name')).to_have_value('事项丙审批')
    admin.get_by_test_id('workflow-node-1-1-deadline').fill('2')
    expect(admin.get_by_test_id('workflow-problem')).to_have_text('流程检查通过，可以保存')
    admin.get_by_test_id('workflow-save').click()
    expect(admin.get_by_text('已保存为第 1 版，从下一个办件起生效')).to_be_visible()
    expect(admin.get_by_test_id('workflow-version-1')).to_contain_text('adm01')
    saved = deadlines(prepared.url, 'SVC-C')
    assert saved['部门审批1'] == {'sla_hours': 4} and saved['部门审批2'] == {'sla_hours': 2}

    window = next(w for w in httpx.get(f'{base}/api/hall', timeout=10).json()['windows'] if w['number'] == 4)
    taken = httpx.post(f'{base}/api/tickets', json={'service_code': 'SVC-C', 'channel': 'kiosk'}, timeout=10)
    assert taken.status_code == 201, taken.text
    desk = logged_in(browser.new_context(), base, f'/window/{window["id"]}', CLERK)
    desk.get_by_test_id('desk-call-next').click()
    expect(desk.get_by_test_id('desk-current-number')).to_have_text(taken.json()['number'])
    desk.get_by_test_id('desk-open-case').click()
    expect(desk.get_by_text('已创建办件')).to_be_visible()
    assert case_nodes(prepared.url) == [
        (0, '受理', 'done'),
        (1, '部门审批1', 'active'),
        (1, '部门审批2', 'active'),
        (2, '事项丙审批', 'pending'),
        (3, '办结', 'pending'),
    ]
