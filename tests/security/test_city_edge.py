"""Attacker tests on a running app serving one hall of a city of two: the city view `/city` and `/city/{code}`,
and the boundary between halls.

The app serves the first hall (`main`, the small test hall); the district centre (seed/district) shares its
database. A hall's manager and admin, with valid sessions and second factors, get 403 on the city view and
never another hall's figures; the district's manager cannot sign in at this hall's process, and a district
session's cookie carried to it opens nothing; a forged hall code is answered in words and reads nothing.
The city manager sees both halls and drills down to either floor map, but opens no hall's own pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from app.api.web_session import SESSION_COOKIE
from app.bus import InProcessBus
from app.db import Database
from app.models.people import Role
from app.security.keys import Purpose
from app.services import audit
from app.services.auth import AuthService
from app.services.halls import hall_to_serve
from app.settings import load_settings
from seed.loader import load_seed
from tests.apphost import (
    TEST_SECRET,
    AppProcess,
    NewUser,
    PreparedDatabase,
    prepare_database,
    run_coroutine,
    sqlite_url,
    start_app,
)
from tests.callers import deps_for
from tests.security.routes import ACCOUNTS, assert_error, audit_rows, bearer, db_state, settled_state, token
from tests.totp import enrol, login

CITY = ACCOUNTS[Role.CITY]


@dataclass
class CityApp:
    app: AppProcess
    prepared: PreparedDatabase
    district: dict[str, str]  # the district seed's new accounts: username -> password
    tokens: dict[str, str]  # who -> bearer token at this hall's process


async def _add_district(url: str) -> dict[str, str]:
    db = Database(url)
    try:
        report = await load_seed(db, seed_name='district', secret=TEST_SECRET.encode())
        await enrol(db, secret_key=TEST_SECRET.encode())
        return report.new_passwords
    finally:
        await db.dispose()


@pytest.fixture(scope='module')
def city_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CityApp]:
    tmp: Path = tmp_path_factory.mktemp('city')
    users = [NewUser(*ACCOUNTS[Role.ADMIN], role=Role.ADMIN), NewUser(*CITY, role=Role.CITY)]
    prepared = prepare_database(sqlite_url(tmp / 'hall.db'), users=users)
    district = run_coroutine(lambda: _add_district(prepared.url))
    app = start_app(prepared.url, tmp)
    try:
        with app.client() as client:
            tokens = {role.value: token(client, ACCOUNTS[role]) for role in (Role.MANAGER, Role.ADMIN, Role.CITY)}
        settled_state(prepared.url)
        yield CityApp(app, prepared, district, tokens)
    finally:
        app.stop()


@pytest.mark.parametrize('who', ['manager', 'admin'])
@pytest.mark.parametrize('path', ['/city', '/city/main', '/city/district'])
def test_a_halls_manager_and_admin_get_403_on_the_city_view_audited_and_nothing_changes(
    city_app: CityApp, who: str, path: str
) -> None:
    url = city_app.prepared.url
    before = settled_state(url, ignore=('audit_entry',))
    denials = len(audit_rows(url, audit.ROLE_DENIED))
    with city_app.app.client(cookies=_session(city_app.tokens[who])) as client:
        response = client.get(path)
    assert response.status_code == 403
    assert '某区政务服务中心' not in response.text and 'district' not in response.text.replace(path, '')
    rows = audit_rows(url, audit.ROLE_DENIED)
    assert len(rows) == denials + 1 and rows[-1]['target'] == path
    assert db_state(url, ignore=('audit_entry',)) == before


def test_the_city_manager_sees_every_hall_and_drills_down_but_opens_no_halls_own_pages(city_app: CityApp) -> None:
    with city_app.app.client(cookies=_session(city_app.tokens['city_manager'])) as client:
        board = client.get('/city')
        assert board.status_code == 200
        assert '测试大厅' in board.text and '某区政务服务中心' in board.text
        assert 'city-hall-main' in board.text and 'city-hall-district' in board.text
        plan = client.get('/city/district')
        assert plan.status_code == 200 and 'floor-map' in plan.text and '社保医保' in plan.text
        for own in ('/manager', '/admin', '/review', '/report/2026-10'):
            assert client.get(own).status_code == 403, own
    with city_app.app.client() as client:
        assert_error(client.get('/api/ops/counters', headers=bearer(city_app.tokens['city_manager'])), 403, 'forbidden')


@pytest.mark.parametrize(
    'code',
    ['nowhere', "main' OR '1'='1", '<script>alert(1)</script>', '..%2F..%2Fetc%2Fpasswd', 'x' * 500, '%00'],
)
def test_a_forged_hall_code_is_answered_in_words_and_reads_no_hall(city_app: CityApp, code: str) -> None:
    url = city_app.prepared.url
    before = settled_state(url, ignore=('audit_entry', 'auth_session'))
    with city_app.app.client(cookies=_session(city_app.tokens['city_manager'])) as client:
        response = client.get(f'/city/{quote(code, safe="%")}')
    assert response.status_code in (200, 404), response.status_code
    if response.status_code == 200:
        assert '没有代码为' in response.text and 'floor-map' not in response.text
        assert '<script>alert(1)</script>' not in response.text
    assert db_state(url, ignore=('audit_entry', 'auth_session')) == before


def test_another_halls_manager_cannot_sign_in_here_and_is_told_nothing_more(city_app: CityApp) -> None:
    password = city_app.district['dmanager']
    with city_app.app.client() as client:
        response = client.post('/api/auth/token', json={'username': 'dmanager', 'password': password})
        assert_error(response, 401, 'bad_credentials')
        unknown = client.post('/api/auth/token', json={'username': 'nobody-here', 'password': password})
        assert_error(unknown, 401, 'bad_credentials')
        assert response.json()['message'] == unknown.json()['message'], 'same answer as an unknown name'


def test_a_session_of_another_halls_process_opens_nothing_here(city_app: CityApp) -> None:
    """The district's process (same database, same host: cookies do not tell ports apart) issued this session."""

    async def district_session() -> str:
        db = Database(city_app.prepared.url, audit_key=load_settings().key(Purpose.AUDIT))
        try:
            async with db.read_session() as s:
                district = await hall_to_serve(s, 'district')
            assert district.id is not None
            auth = AuthService(deps_for(db, InProcessBus(), hall_id=district.id))
            return (await login(auth, 'dmanager', city_app.district['dmanager'])).token
        finally:
            await db.dispose()

    stolen = asyncio.run(district_session())
    url = city_app.prepared.url
    before = settled_state(url, ignore=('audit_entry', 'auth_session'))
    with city_app.app.client(cookies=_session(stolen)) as client:
        for page in ('/manager', '/city', '/city/district'):
            response = client.get(page)
            assert response.status_code == 303 and response.headers['location'].startswith('/login'), page
        assert_error(client.get('/api/ops/counters', headers=bearer(stolen)), 401, 'not_authenticated')
    assert db_state(url, ignore=('audit_entry', 'auth_session')) == before


def _session(value: str) -> dict[str, str]:
    return {SESSION_COOKIE: value}
