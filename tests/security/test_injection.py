"""SQL-injection strings in every API text field: a clear 4xx, and the database exactly as before.

Structured fields (codes, numbers, ID and phone numbers, credentials) must refuse such strings; free-text
fields (a citizen's name, reasons) must store them as plain data, so their test checks the value comes
back verbatim and every table is still there. XSS payloads in the browser: e2e/test_security.py.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.security.crypto import FieldCipher
from app.services import audit
from tests.apphost import TEST_SECRET, AppProcess, NewUser, PreparedDatabase, running_app
from tests.idnumbers import make_id
from tests.security.routes import assert_error, audit_rows, bearer, db_state, settled_state, sqlite_path, token

PAYLOADS = ["' OR 1=1 --", "'; DROP TABLE ticket; --", '" OR ""="', '1; SELECT pg_sleep(1)']
SHORT_PAYLOADS = ["A0' --", "1'OR'1", 'A001;--']  # fit the 8 characters of a ticket number
VALID_ID = make_id(dt.date(1980, 5, 17))
VICTIM = ('inj01', 'Injection-01-pass')


@dataclass
class InjectionHall:
    app: AppProcess
    prepared: PreparedDatabase
    manager: dict[str, str]  # bearer headers of boss
    window_1: int  # free, A001 and A002 waiting
    window_2: int  # B001 at the window

    @property
    def url(self) -> str:
        return self.prepared.url


@pytest.fixture(scope='module')
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InjectionHall]:
    with running_app(
        tmp_path_factory.mktemp('injection'), users=[NewUser(*VICTIM)], extra_env={'TRUSTED_PROXIES': '127.0.0.1'}
    ) as (app, prepared):
        assert prepared.small_hall is not None
        w1, w2 = prepared.small_hall.window_1, prepared.small_hall.window_2
        with app.client() as client:
            manager = bearer(token(client, ('boss', 'Manager-01-pass'), address='10.60.0.1'))
            for service in ('SVC-A', 'SVC-A', 'SVC-B'):
                assert client.post('/api/tickets', json={'service_code': service}).status_code == 201
            called = client.post(f'/api/windows/{w2}/call-next', headers=manager)
            assert called.status_code == 200 and called.json()['number'] == 'B001', called.text
        settled_state(prepared.url)
        yield InjectionHall(app, prepared, manager, w1, w2)


@dataclass(frozen=True)
class Field:
    name: str
    method: str
    path: Callable[[InjectionHall], str]
    body: Callable[[str], dict[str, Any] | None]
    refusal: Callable[[str], tuple[int, str]]  # (status, code) expected for a payload
    staff: bool = False  # sent with the manager's token
    login: bool = False  # a failed login: audited and counted, so those tables may grow
    payloads: tuple[str, ...] = tuple(PAYLOADS)


def _number_refusal(payload: str) -> tuple[int, str]:
    return (422, 'invalid_request') if len(payload) > 8 else (404, 'unknown_ticket')


FIELDS = [
    Field(
        'ticket service_code',
        'POST',
        lambda h: '/api/tickets',
        lambda p: {'service_code': p},
        lambda p: (404, 'unknown_service'),
    ),
    Field(
        'ticket id_number',
        'POST',
        lambda h: '/api/tickets',
        lambda p: {'service_code': 'SVC-A', 'channel': 'staff', 'id_number': p},
        lambda p: (422, 'invalid_id_number'),
        staff=True,
    ),
    Field(
        'ticket phone',
        'POST',
        lambda h: '/api/tickets',
        lambda p: {'service_code': 'SVC-A', 'id_number': VALID_ID, 'phone': p},
        lambda p: (422, 'invalid_request'),
        staff=True,
    ),
    Field(
        'ticket appointment_code',
        'POST',
        lambda h: '/api/tickets',
        lambda p: {'service_code': 'SVC-A', 'channel': 'staff', 'appointment_code': p},
        lambda p: (422, 'forged_code'),
        staff=True,
    ),
    Field(
        'ticket code in the path',
        'GET',
        lambda h: '/api/tickets/{payload}',
        lambda p: None,
        lambda p: (403, 'tracking_refused'),
    ),
    Field(
        'login username',
        'POST',
        lambda h: '/api/auth/token',
        lambda p: {'username': p, 'password': VICTIM[1]},
        lambda p: (401, 'bad_credentials'),
        login=True,
    ),
    Field(
        'login password',
        'POST',
        lambda h: '/api/auth/token',
        lambda p: {'username': VICTIM[0], 'password': p},
        lambda p: (401, 'bad_credentials'),
        login=True,
    ),
    Field(
        'call number',
        'POST',
        lambda h: f'/api/windows/{h.window_1}/call',
        lambda p: {'number': p, 'reason': '老人需要协助'},
        _number_refusal,
        staff=True,
        payloads=(*PAYLOADS, *SHORT_PAYLOADS),
    ),
    Field(
        'resume number',
        'POST',
        lambda h: f'/api/windows/{h.window_1}/resume',
        lambda p: {'number': p},
        _number_refusal,
        staff=True,
        payloads=(*PAYLOADS, *SHORT_PAYLOADS),
    ),
    Field(
        'transfer service_code',
        'POST',
        lambda h: f'/api/windows/{h.window_2}/transfer',
        lambda p: {'service_code': p, 'reason': '转办'},
        lambda p: (404, 'unknown_service'),
        staff=True,
    ),
]


def _cases() -> Iterator[Any]:
    for field in FIELDS:
        for n, payload in enumerate(field.payloads):
            yield pytest.param(field, n, payload, id=f'{field.name}: {payload}')


@pytest.mark.parametrize(('field', 'n', 'payload'), list(_cases()))
def test_injection_string_is_refused_and_changes_nothing(
    hall: InjectionHall, field: Field, n: int, payload: str
) -> None:
    ignore = ('audit_entry', 'rate_counter')  # a refusal may count against its limit, and a failed login is audited
    before = db_state(hall.url, ignore=ignore)
    failed_logins = len(audit_rows(hall.url, audit.LOGIN_FAILED))
    headers = dict(hall.manager) if field.staff else {}
    headers['x-forwarded-for'] = f'10.61.{FIELDS.index(field)}.{n}'  # one terminal per case: no address lockout
    path = field.path(hall).replace('{payload}', payload)
    with hall.app.client() as client:
        response = client.request(field.method, path, json=field.body(payload), headers=headers)
        status, code = field.refusal(payload)
        assert_error(response, status, code)
        assert db_state(hall.url, ignore=ignore) == before
        if field.login:
            assert len(audit_rows(hall.url, audit.LOGIN_FAILED)) == failed_logins + 1
        assert client.get('/api/hall').status_code == 200  # still serving


def test_the_database_is_intact_after_all_of_it(hall: InjectionHall) -> None:
    with closing(sqlite3.connect(sqlite_path(hall.url))) as db:
        assert db.execute('PRAGMA integrity_check').fetchone() == ('ok',)
        first = db.execute('SELECT number, status FROM ticket ORDER BY id LIMIT 3').fetchall()
    assert first == [('A001', 'WAITING'), ('A002', 'WAITING'), ('B001', 'CALLED')]  # the set-up, untouched
    with hall.app.client() as client:
        token(client, VICTIM, address='10.62.0.1')  # four wrong passwords: not locked, the password still works


# ---- free text is data ----------------------------------------------------------------------------


def test_free_text_fields_store_injection_strings_verbatim(tmp_path: Path) -> None:
    """A name or a reason may contain anything; it must come back exactly as sent, and run as nothing."""
    numbers = [f'A{n:03d}' for n in range(1, len(PAYLOADS) + 1)]
    with running_app(tmp_path) as (app, prepared), app.client() as client:
        assert prepared.small_hall is not None
        window = f'/api/windows/{prepared.small_hall.window_1}'
        manager = bearer(token(client, ('boss', 'Manager-01-pass')))

        def act(step: str, body: dict[str, str]) -> None:
            response = client.post(f'{window}/{step}', json=body, headers=manager)
            assert response.status_code == 200, (step, body, response.text)

        for n, payload in enumerate(PAYLOADS):
            born = dt.date(1970, 1, 1 + n)
            taken = client.post(
                '/api/tickets',
                json={'service_code': 'SVC-A', 'id_number': make_id(born), 'name': payload},
                headers=manager,  # a name is taken by a clerk (or a kiosk), never from an anonymous caller
            )
            assert taken.status_code == 201, taken.text
        for number, payload in zip(numbers, PAYLOADS, strict=True):
            act('call', {'number': number, 'reason': payload})
            act('park', {'reason': payload})
        for number, payload in zip(numbers, PAYLOADS, strict=True):
            act('resume', {'number': number})
            act('transfer', {'service_code': 'SVC-B', 'reason': payload})
        snapshot = db_state(prepared.url)

    cipher = FieldCipher({'k1': TEST_SECRET.encode()}, 'k1')
    with closing(sqlite3.connect(sqlite_path(prepared.url))) as db:
        names = [cipher.decrypt(row[0], context='citizen.name') for row in db.execute('SELECT name_enc FROM citizen')]
        reasons = {
            kind: [row[0] for row in db.execute('SELECT reason FROM ticket_event WHERE kind = ? ORDER BY id', (kind,))]
            for kind in ('called_out_of_order', 'parked', 'transferred')
        }
        assert db.execute('PRAGMA integrity_check').fetchone() == ('ok',)
    assert sorted(names) == sorted(PAYLOADS)
    assert reasons == {'called_out_of_order': PAYLOADS, 'parked': PAYLOADS, 'transferred': PAYLOADS}
    assert {'ticket', 'ticket_event', 'staff_user', 'audit_entry', 'citizen'} <= set(snapshot['tables'])
    assert snapshot['counts']['ticket'] == len(PAYLOADS) and snapshot['counts']['citizen'] == len(PAYLOADS)
    assert [row[2] for row in snapshot['tickets']] == ['WAITING'] * len(PAYLOADS)  # all sent on to SVC-B
