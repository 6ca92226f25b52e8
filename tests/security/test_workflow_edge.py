"""The workflow editor (/admin's workflow tab) as an attacker meets it, against the running app.

Only admins reach it; what its page sends is only UI events, and a workflow crafted through them (a blank
step name, a negative deadline) is refused by the service and changes nothing, while the admin's own
valid save goes through (the positive control). An admin whose session ended saves nothing.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.models.people import Role
from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.security.browser import UiSocket, open_page
from tests.security.routes import ACCOUNTS, bearer, sqlite_path, token

ADMIN = ACCOUNTS[Role.ADMIN]


@pytest.fixture(scope='module')
def admin_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    tmp: Path = tmp_path_factory.mktemp('workflow-edge')
    with running_app(tmp, users=[NewUser(*ADMIN, role=Role.ADMIN)]) as (app, prepared):
        yield app, prepared


def workflow_state(url: str) -> dict[str, Any]:
    """What a refused edit must leave alone: every service's workflow, the versions and their audit rows."""
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        return {
            'workflows': db.execute('SELECT code, workflow FROM service_item ORDER BY code').fetchall(),
            'versions': db.execute('SELECT kind, subject, version FROM config_version ORDER BY id').fetchall(),
            'audit': db.execute("SELECT count(*) FROM audit_entry WHERE action = 'config.workflow'").fetchone(),
        }


def saved_workflow(url: str, code: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        (raw,) = db.execute('SELECT workflow FROM service_item WHERE code = ?', (code,)).fetchone()
    return list(json.loads(raw))


def test_only_an_admin_opens_the_workflow_editor(admin_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = admin_app
    with app.client() as client:
        anonymous = client.get('/admin')
        assert anonymous.status_code == 303 and anonymous.headers['location'] == '/login?next=/admin'
        for who in (ACCOUNTS[Role.MANAGER], ACCOUNTS[Role.STAFF]):
            with app.client(cookies={'ht_session': token(client, who)}) as other:
                refused = other.get('/admin')
                assert refused.status_code == 403 and 'workflow-save' not in refused.text
        with app.client(cookies={'ht_session': token(client, ADMIN)}) as admin:
            allowed = admin.get('/admin')
            assert allowed.status_code == 200 and 'workflow-save' in allowed.text  # the positive control


async def _send(page_cookies: dict[str, str], base: str, *events: tuple[str, str, Any]) -> list[str]:
    """Open /admin as that browser, send the events (test id, event type, value) and return what it was told."""
    page = await open_page(base, '/admin', page_cookies)
    async with UiSocket(page) as socket:
        for testid, kind, *value in events:
            await socket.emit('event', page.event(testid, kind, *value))
        await socket.until('notify')
        return [str(data.get('message', '')) for event, data in socket.received if event == 'notify']


def test_a_workflow_crafted_through_the_editors_events_is_refused_and_changes_nothing(
    admin_app: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = admin_app
    with app.client() as client:
        cookies = {'ht_session': token(client, ADMIN)}
    before = workflow_state(prepared.url)
    blank = asyncio.run(
        _send(
            cookies,
            app.base_url,
            ('workflow-node-1-0-name', 'update:value', '   '),
            ('workflow-save', 'click'),
        )
    )
    assert any('未填写名称' in message for message in blank), blank
    negative = asyncio.run(
        _send(
            cookies,
            app.base_url,
            ('workflow-node-1-0-deadline', 'update:modelValue', -5),
            ('workflow-save', 'click'),
        )
    )
    assert any('时限必须大于 0' in message for message in negative), negative
    assert workflow_state(prepared.url) == before

    saved = asyncio.run(
        _send(cookies, app.base_url, ('workflow-node-1-0-deadline', 'update:modelValue', 3), ('workflow-save', 'click'))
    )
    assert any('已保存为第 1 版' in message for message in saved), saved  # the positive control
    approval = saved_workflow(prepared.url, 'SVC-A')[1]
    assert approval['kind'] == 'approve' and approval['sla_days'] == 3


def test_an_admin_whose_session_ended_saves_nothing(admin_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = admin_app
    with app.client() as client:
        issued = token(client, ADMIN)
    page = asyncio.run(open_page(app.base_url, '/admin', {'ht_session': issued}))
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        assert client.post('/api/auth/logout', headers=bearer(issued)).status_code == 204
    before = workflow_state(prepared.url)

    async def save() -> None:
        async with UiSocket(page) as socket:
            await socket.emit('event', page.event('workflow-node-1-0-deadline', 'update:modelValue', 2))
            await socket.emit('event', page.event('workflow-save', 'click'))
            with pytest.raises(AssertionError):
                await socket.until('notify', timeout=3)

    asyncio.run(save())
    assert workflow_state(prepared.url) == before
