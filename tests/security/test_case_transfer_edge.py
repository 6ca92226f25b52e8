"""跨区通办 attacked over real HTTP: nobody, a reviewer, a clerk of the other hall, a bad hall, the same hall, a closed
case, a malformed body; each refusal changes nothing. Then the case's own clerk moves it, and the old hall has
lost it (a second move from there is `unknown_case`).

One running app serves the small hall ('main'); the database also holds 东区 ('east', window 9, clerk e01, an account
of 东区 that this hall's process does not sign in).
The cases are opened by the services on the same database before the app starts: a window opens a case only on
its desk page, so no API opens one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.models import Hall, TicketCreate, Window
from app.models.people import Role
from app.security.keys import Purpose
from app.services.journey import build_journey
from app.services.queue import QueueService
from app.settings import load_settings
from tests.apphost import TEST_SECRET, AppProcess, NewUser, prepare_database, run_coroutine, sqlite_url, start_app
from tests.callers import DESK, deps_for
from tests.easthall import add_east_hall
from tests.security.routes import assert_error, bearer, db_state, settled_state, token
from tests.totp import token_body

CLERK = ('w01', 'Window-01-pass')  # window 1 of the small hall
BOSS = ('boss', 'Manager-01-pass')
REVIEWER = ('rv01', 'Reviewer-01-pass')
EAST_CLERK = ('e01', 'East-Clerk-01-pass')  # window 9 of 东区


@dataclass
class TwoHalls:
    app: AppProcess
    url: str
    east_id: int
    open_case: int  # SVC-B at window 1: accepted, 审批 running
    closed_case: int  # SVC-A at window 1, concluded by hand below
    headers: dict[str, dict[str, str]]


async def _build(url: str, var_dir: Path) -> tuple[int, int, int]:
    """东区 with a window and a clerk; two cases of the small hall (one open, one concluded)."""
    settings = load_settings().model_copy(update={'secret_key': TEST_SECRET, 'var_dir': var_dir})
    db = Database(url, audit_key=settings.key(Purpose.AUDIT))  # the app's own key: one audit chain
    try:
        async with db.session() as s, s.begin():
            east = await add_east_hall(s, window_number=9, serves=['SVC-C'], clerk=EAST_CLERK)
            main = (await s.execute(select(Hall).where(Hall.code == 'main'))).scalar_one()
            statement = select(Window).where(Window.hall_id == main.id, Window.number == 1)
            window_1 = (await s.execute(statement)).scalar_one().id or 0
            assert main.id is not None
            east_id, main_id = east.hall_id, main.id
        bus = InProcessBus()
        journey = build_journey(deps_for(db, bus, hall_id=main_id, settings=settings))
        queue = QueueService(journey.cases.deps)
        cases = []
        for code in ('SVC-B', 'SVC-A'):
            await queue.take_ticket(TicketCreate(service_code=code), caller=DESK)
            called = await queue.call_next(window_1, caller=DESK)
            cases.append((await journey.cases.open_case(called.ticket.id or 0, actor='w01')).id)
            await queue.complete(window_1, caller=DESK)
        await bus.stop()
    finally:
        await db.dispose()
    with closing(sqlite3.connect(url.split(':///', 1)[1])) as raw, raw:
        raw.execute('UPDATE "case" SET status = \'completed\', completed_at = created_at WHERE id = ?', (cases[1],))
    return east_id, cases[0], cases[1]


@pytest.fixture(scope='module')
def halls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHalls]:
    tmp = tmp_path_factory.mktemp('case-transfer-edge')
    prepared = prepare_database(sqlite_url(tmp / 'hall.db'), users=[NewUser(*REVIEWER, role=Role.REVIEWER)])
    east_id, open_case, closed_case = run_coroutine(lambda: _build(prepared.url, tmp / 'setup-var'))
    app = start_app(prepared.url, tmp)
    try:
        with app.client() as client:
            headers = {who[0]: bearer(token(client, who)) for who in (CLERK, BOSS, REVIEWER)}
        yield TwoHalls(app, prepared.url, east_id, open_case, closed_case, headers)
    finally:
        app.stop()


def _hall_of(url: str, case_id: int) -> int:
    with closing(sqlite3.connect(url.split(':///', 1)[1])) as db:
        return int(db.execute('SELECT hall_id FROM "case" WHERE id = ?', (case_id,)).fetchone()[0])


def _move(client: httpx.Client, case_id: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post(f'/api/cases/{case_id}/transfer', json=body, headers=headers or {})


def test_strangers_and_the_other_halls_clerk_cannot_move_a_case(halls: TwoHalls) -> None:
    good = {'to_hall_id': halls.east_id, 'reason': '跨区通办'}
    with httpx.Client(base_url=halls.app.base_url) as client:
        before = settled_state(halls.url)
        assert_error(_move(client, halls.open_case, good), 401, 'not_authenticated')
        assert_error(_move(client, halls.open_case, good, bearer('forged-token-' + 'x' * 30)), 401, 'not_authenticated')
        assert_error(_move(client, halls.open_case, good, halls.headers['rv01']), 403, 'forbidden')
        assert db_state(halls.url) == before
        assert _hall_of(halls.url, halls.open_case) != halls.east_id
        # 东区's clerk is no account of this hall's process: signing in gets an unknown account's answer
        assert_error(token_body(client, EAST_CLERK[0], EAST_CLERK[1], {}), 401, 'bad_credentials')


def test_bad_halls_bad_bodies_and_closed_cases_are_refused_and_change_nothing(halls: TwoHalls) -> None:
    clerk = halls.headers['w01']
    main_id = _hall_of(halls.url, halls.open_case)
    with httpx.Client(base_url=halls.app.base_url) as client:
        before = settled_state(halls.url)
        assert_error(_move(client, halls.open_case, {'to_hall_id': 99_999, 'reason': 'x'}, clerk), 422, 'unknown_hall')
        assert_error(_move(client, halls.open_case, {'to_hall_id': main_id, 'reason': 'x'}, clerk), 409, 'same_hall')
        closed = {'to_hall_id': halls.east_id, 'reason': 'x'}
        assert_error(_move(client, halls.closed_case, closed, clerk), 409, 'case_closed')
        assert_error(_move(client, 99_999, closed, clerk), 404, 'unknown_case')
        blank = {'to_hall_id': halls.east_id, 'reason': '   '}
        assert_error(_move(client, halls.open_case, blank, clerk), 422, 'transfer_reason_required')
        for body in ({'to_hall_id': 'east', 'reason': 'x'}, {'reason': 'x'}, {'to_hall_id': -1, 'reason': 'x'}, []):
            assert _move(client, halls.open_case, body, clerk).status_code == 422, body
        huge = {'to_hall_id': 2**40, 'reason': 'x'}
        assert _move(client, halls.open_case, huge, clerk).status_code == 422
        assert client.post('/api/cases/not-a-case/transfer', json=closed, headers=clerk).status_code == 422
        assert db_state(halls.url) == before


def test_the_cases_own_clerk_moves_it_once_and_the_old_hall_has_lost_it(halls: TwoHalls) -> None:
    body = {'to_hall_id': halls.east_id, 'reason': '户籍在东区'}
    with httpx.Client(base_url=halls.app.base_url) as client:
        response = _move(client, halls.open_case, body, halls.headers['w01'])
        assert response.status_code == 200, response.text
        moved = response.json()
        assert moved['id'] == halls.open_case and moved['hall_id'] == halls.east_id
        assert moved['transfer']['name'] == '转至东区政务服务中心' and moved['transfer']['actor'] == 'w01'
        assert moved['transfer']['note'].endswith('原因：户籍在东区')
        assert _hall_of(halls.url, halls.open_case) == halls.east_id
        before = settled_state(halls.url)
        assert_error(_move(client, halls.open_case, body, halls.headers['boss']), 404, 'unknown_case')
        assert db_state(halls.url) == before
