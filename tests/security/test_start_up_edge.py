"""Attacker tests on a running app: GET /api/health, the one new public route of the go-live work.

It tells anyone the release and whether the hall is a demo, nothing else: no setting, path, key, database
address or stand-in detail; it takes no body, answers no other method and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.version import version
from tests.apphost import TEST_SECRET, AppProcess, PreparedDatabase, running_app
from tests.security.routes import db_state

SECRET_WORDS = ('sqlite', 'postgres', 'var', 'secret', 'redis', TEST_SECRET, 'sms', 'simulat', 'HALL_')


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase, Path]]:
    tmp = tmp_path_factory.mktemp('health')
    with running_app(tmp) as (app, prepared):
        yield app, prepared, tmp


def test_anyone_learns_the_release_and_the_demo_flag_and_nothing_more(
    live: tuple[AppProcess, PreparedDatabase, Path],
) -> None:
    app, _, tmp = live
    with app.client() as client:
        answer = client.get('/api/health', headers={'Authorization': 'Bearer forged', 'X-Forwarded-For': '10.0.0.1'})
    assert answer.status_code == 200
    assert answer.json() == {'status': 'ok', 'version': version(), 'demo': True}
    for word in (*SECRET_WORDS, str(tmp)):
        assert word.lower() not in answer.text.lower()


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE', 'PATCH'])
def test_other_methods_are_refused_and_change_nothing(
    live: tuple[AppProcess, PreparedDatabase, Path], method: str
) -> None:
    app, prepared, _ = live
    before = db_state(prepared.url)
    with app.client() as client:
        answer = client.request(method, '/api/health', json={'status': 'down', 'version': '9.9.9'})
        assert answer.status_code == 405
        assert client.get('/api/health').json()['version'] == version()
    assert db_state(prepared.url) == before


def test_odd_query_strings_and_paths_get_the_same_short_answer(live: tuple[AppProcess, PreparedDatabase, Path]) -> None:
    app, _, _ = live
    with app.client() as client:
        assert client.get('/api/health', params={'verbose': '1', 'x': 'A' * 4000}).json()['status'] == 'ok'
        assert client.get('/api/health/details').status_code == 404
    with httpx.Client(base_url=app.base_url, timeout=10) as raw:
        assert raw.get('/api/health%00').status_code == 404
