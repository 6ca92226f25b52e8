"""上门服务 and the desk's 绿色通道 attacked over real HTTP: another phone's visit, staff of another department, a bad
address, a slot in the past, double booking, and a self-declared green channel; each refusal changes nothing.

One running app behind a pretend proxy (each phone signs in from its own address). rv01 reviews for another
department, rv02 for the small hall's own (DEPT), which handles every service there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

import httpx
import pytest

from app.models.people import Role
from tests.apphost import AppProcess, NewUser, running_app
from tests.citizen_login import citizen_token
from tests.midday import midday_zone
from tests.security.routes import assert_error, bearer, db_state, settled_state, token

ADDRESS = '北京市朝阳区望京街道阜通东大街6号院3号楼502'
OTHER_DEPARTMENT = ('rv01', 'Reviewer-01-pass')
OWN_DEPARTMENT = ('rv02', 'Reviewer-02-pass')
CLERK = ('w01', 'Window-01-pass')
BOSS = ('boss', 'Manager-01-pass')


@dataclass
class VisitHall:
    app: AppProcess
    url: str
    phone_a: dict[str, str]
    phone_b: dict[str, str]
    other_department: dict[str, str]
    own_department: dict[str, str]
    clerk: dict[str, str]
    boss: dict[str, str]
    clerk_id: int
    boss_id: int
    window_1: int


def _sqlite_path(url: str) -> str:
    return url.split(':///', 1)[1]


def _departments(url: str) -> tuple[int, int]:
    """A second department for rv01; rv02 joins the small hall's own. Returns the ids of w01 and boss."""
    with closing(sqlite3.connect(_sqlite_path(url))) as db, db:
        db.execute("INSERT INTO department (code, name, name_en) VALUES ('OTHER', '其他局', 'Other bureau')")
        other = db.execute("SELECT id FROM department WHERE code = 'OTHER'").fetchone()[0]
        own = db.execute("SELECT id FROM department WHERE code = 'DEPT'").fetchone()[0]
        db.execute("UPDATE staff_user SET department_id = ? WHERE username = 'rv01'", (other,))
        db.execute("UPDATE staff_user SET department_id = ? WHERE username = 'rv02'", (own,))
        ids = dict(db.execute("SELECT username, id FROM staff_user WHERE username IN ('w01', 'boss')").fetchall())
    return ids['w01'], ids['boss']


def _phone(app: AppProcess, phone: str, address: str) -> dict[str, str]:
    outbox = app.tmp_dir / 'var' / 'sms-outbox.jsonl'
    with httpx.Client(base_url=app.base_url, headers={'x-forwarded-for': address}) as client:
        return {**bearer(asyncio.run(citizen_token(client, phone, outbox))), 'x-forwarded-for': address}


@pytest.fixture(scope='module')
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VisitHall]:
    users = [NewUser(*OTHER_DEPARTMENT, role=Role.REVIEWER), NewUser(*OWN_DEPARTMENT, role=Role.REVIEWER)]
    env = {'TRUSTED_PROXIES': '127.0.0.1', 'HALL_TIMEZONE': midday_zone()}
    with running_app(tmp_path_factory.mktemp('visits-edge'), users=users, extra_env=env) as (app, prepared):
        assert prepared.small_hall is not None
        clerk_id, boss_id = _departments(prepared.url)
        with app.client() as client:
            staff = {who: bearer(token(client, who)) for who in (OTHER_DEPARTMENT, OWN_DEPARTMENT, CLERK, BOSS)}
        yield VisitHall(
            app=app,
            url=prepared.url,
            phone_a=_phone(app, '13700000011', '10.62.0.1'),
            phone_b=_phone(app, '13700000012', '10.62.0.2'),
            other_department=staff[OTHER_DEPARTMENT],
            own_department=staff[OWN_DEPARTMENT],
            clerk=staff[CLERK],
            boss=staff[BOSS],
            clerk_id=clerk_id,
            boss_id=boss_id,
            window_1=prepared.small_hall.window_1,
        )


def _slot(days: int, hour: int = 1) -> dict[str, str]:
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=days, hours=hour)
    return {'start': start.isoformat(), 'end': (start + dt.timedelta(hours=2)).isoformat()}


def _ask(client: httpx.Client, phone: dict[str, str], service: str = 'SVC-A') -> int:
    response = client.post('/api/me/visits', json={'service_code': service, 'address': ADDRESS}, headers=phone)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body['address'] == '北京市朝阳区****' and '望京' not in response.text
    return int(body['id'])


def test_a_visit_needs_a_phone_and_another_phone_never_sees_or_moves_it(hall: VisitHall) -> None:
    with httpx.Client(base_url=hall.app.base_url) as client:
        before = settled_state(hall.url)
        body = {'service_code': 'SVC-A', 'address': ADDRESS}
        assert_error(client.post('/api/me/visits', json=body), 401, 'citizen_sign_in_required')
        assert_error(client.post('/api/me/visits', json=body, headers=hall.boss), 401, 'citizen_sign_in_required')
        assert_error(client.get('/api/me/visits', headers=hall.clerk), 401, 'citizen_sign_in_required')
        assert db_state(hall.url) == before

        visit = _ask(client, hall.phone_a, 'SVC-C')
        assert client.get('/api/me/visits', headers=hall.phone_b).json() == []
        assert [v['id'] for v in client.get('/api/me/visits', headers=hall.phone_a).json()] == [visit]
        before = settled_state(hall.url)
        for action, payload in (('schedule', _slot(2)), ('assign', {'staff_ids': [hall.clerk_id]}), ('done', {})):
            response = client.post(f'/api/visits/{visit}/{action}', json=payload, headers=hall.phone_b)
            assert_error(response, 401, 'not_authenticated')
        assert_error(client.get('/api/visits', headers=hall.phone_b), 401, 'not_authenticated')
        assert db_state(hall.url) == before


def test_staff_of_another_department_neither_see_nor_schedule_nor_send(hall: VisitHall) -> None:
    with httpx.Client(base_url=hall.app.base_url) as client:
        visit = _ask(client, hall.phone_b, 'SVC-B')
        assert visit not in [v['id'] for v in client.get('/api/visits', headers=hall.other_department).json()]
        assert visit in [v['id'] for v in client.get('/api/visits', headers=hall.own_department).json()]
        before = settled_state(hall.url)
        response = client.post(f'/api/visits/{visit}/schedule', json=_slot(3), headers=hall.other_department)
        assert_error(response, 403, 'not_your_department')
        response = client.post(f'/api/visits/{visit}/schedule', json=_slot(3), headers=hall.clerk)
        assert_error(response, 403, 'not_your_department')  # a window clerk of no department
        assert_error(client.post('/api/visits/999999/schedule', json=_slot(3), headers=hall.boss), 404, 'unknown_visit')
        assert db_state(hall.url) == before


def test_a_bad_address_or_a_slot_in_the_past_is_refused_and_changes_nothing(hall: VisitHall) -> None:
    with httpx.Client(base_url=hall.app.base_url) as client:
        before = settled_state(hall.url)
        for address in ('北京', ' ' * 10, 'x' * 220):
            response = client.post(
                '/api/me/visits', json={'service_code': 'SVC-B', 'address': address}, headers=hall.phone_a
            )
            assert_error(response, 422, 'visit_address_invalid')
        response = client.post(
            '/api/me/visits', json={'service_code': 'NOPE', 'address': ADDRESS}, headers=hall.phone_a
        )
        assert_error(response, 404, 'unknown_service')
        assert db_state(hall.url) == before

        visit = _ask(client, hall.phone_a, 'SVC-B')
        before = settled_state(hall.url)
        for slot, code in ((_slot(-1), 'visit_slot_in_past'), (_slot(0, hour=-1), 'visit_slot_in_past')):
            response = client.post(f'/api/visits/{visit}/schedule', json=slot, headers=hall.own_department)
            assert_error(response, 422, code)
        backwards = {'start': _slot(2)['end'], 'end': _slot(2)['start']}
        response = client.post(f'/api/visits/{visit}/schedule', json=backwards, headers=hall.own_department)
        assert_error(response, 422, 'visit_slot_invalid')
        assert db_state(hall.url) == before


def test_one_person_is_never_booked_for_two_doors_at_once(hall: VisitHall) -> None:
    with httpx.Client(base_url=hall.app.base_url) as client:
        first, second = _ask(client, hall.phone_b, 'SVC-C'), _ask(client, hall.phone_a, 'SVC-A')
        head = hall.own_department
        assert client.post(f'/api/visits/{first}/schedule', json=_slot(4), headers=head).status_code == 200
        assert client.post(f'/api/visits/{second}/schedule', json=_slot(4, 2), headers=head).status_code == 200
        sent = client.post(f'/api/visits/{first}/assign', json={'staff_ids': [hall.clerk_id]}, headers=head)
        assert sent.status_code == 200 and sent.json()['status'] == 'assigned', sent.text
        before = settled_state(hall.url)
        response = client.post(f'/api/visits/{second}/assign', json={'staff_ids': [hall.clerk_id]}, headers=head)
        assert_error(response, 409, 'visit_double_booked')
        assert db_state(hall.url) == before
        done = client.post(f'/api/visits/{first}/done', json={'note': '已上门'}, headers=hall.clerk)
        assert done.status_code == 200 and done.json()['status'] == 'done', done.text
        mine = {v['id']: v for v in client.get('/api/me/visits', headers=hall.phone_b).json()}
        assert [s['status'] for s in mine[first]['steps']] == ['done'] * 5


def test_a_self_declared_green_channel_is_refused_and_the_desk_marks_one(hall: VisitHall) -> None:
    with httpx.Client(base_url=hall.app.base_url) as client:
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A'})
        assert taken.status_code == 201, taken.text
        number = taken.json()['number']
        before = settled_state(hall.url)
        for flag in ('disability', 'pregnancy'):
            response = client.post('/api/tickets', json={'service_code': 'SVC-A', flag: True})
            assert_error(response, 403, 'priority_needs_staff')
            mobile = {'service_code': 'SVC-A', 'channel': 'mobile', flag: True}
            assert_error(client.post('/api/tickets', json=mobile, headers=hall.phone_a), 403, 'priority_needs_staff')
        green = f'/api/windows/{hall.window_1}/green'
        body = {'number': number, 'reason': 'disability'}
        assert_error(client.post(green, json=body), 401, 'not_authenticated')
        assert_error(client.post(green, json=body, headers=hall.phone_a), 401, 'not_authenticated')
        assert_error(client.post(green, json=body, headers=hall.own_department), 403, 'forbidden')
        response = client.post(green, json={'number': number, 'reason': 'elderly'}, headers=hall.clerk)
        assert response.status_code == 422, response.text  # age comes from the card, never from a clerk's say-so
        assert db_state(hall.url) == before
        marked = client.post(green, json=body, headers=hall.clerk)
        assert marked.status_code == 200 and marked.json()['priority_class'] == 'green', marked.text
        with closing(sqlite3.connect(_sqlite_path(hall.url))) as db:
            row = db.execute('SELECT priority_reason, priority_set_by FROM ticket WHERE number = ?', (number,))
            assert row.fetchone() == ('disability', 'w01')
            audit = db.execute("SELECT actor FROM audit_entry WHERE action = 'ticket_prioritised'").fetchall()
        assert audit == [('w01',)]
