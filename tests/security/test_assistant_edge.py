"""Attacker tests on a running app with the default seed: GET /api/assistant (no login).

Huge, garbage, unicode and injection questions get a clear 4xx or an honest answer (never a 500, never an
invented service, the question never echoed back as markup), and the app keeps answering; the per-address
limit holds. The app trusts 127.0.0.1 as its proxy here, so each test speaks from its own client address.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.services.assistant import QUESTIONS_PER_ADDRESS
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.security.routes import assert_error

SEED_CODES = {
    'BIZ-OPEN', 'BIZ-INDIV', 'BIZ-CHANGE', 'RE-TRANSFER', 'RE-MORTGAGE', 'RE-QUERY', 'SI-ENROLL', 'SI-CARD',
    'PENSION-CERT', 'MI-REMOTE', 'MI-REIMBURSE', 'HPF-WITHDRAW', 'HPF-LOAN', 'TAX-INVOICE', 'TAX-REG', 'TAX-CLEAR',
    'HUKOU-IN', 'RESIDENCE-PERMIT', 'MARRIAGE', 'ELDER-SUBSIDY',
}  # fmt: skip
ODD = [
    '<script>alert(1)</script>社保卡',
    "' OR 1=1 --",
    '社保卡"; DROP TABLE service_item; --',
    '{{7*7}}${7*7}',
    '\u202e社保卡丢了\u202c',  # right-to-left override
    '社\u200b保\u200b卡',  # zero-width spaces
    '🧋🧋 奶茶店 🧋',
    'ｓｈｅｂａｏ　社保卡',  # full-width letters and space
    '\x00\x01\x1b[31m',
    '%00%ff',
    '../../etc/passwd',
    'ꙮ' * 100,
    '\ud7ff' * 10,
]


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    env = {'TRUSTED_PROXIES': '127.0.0.1'}
    with running_app(tmp_path_factory.mktemp('assistant'), seed='default', extra_env=env) as (app, prepared):
        yield app, prepared


def _client(live: tuple[AppProcess, PreparedDatabase], address: str) -> httpx.Client:
    return live[0].client(headers={'x-forwarded-for': address})


def test_a_question_needs_no_login_and_answers_only_catalogue_services(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    with _client(live, '198.51.100.1') as client:
        body = client.get('/api/assistant', params={'q': '社保卡丢了怎么办'}).json()
        assert body['handoff'] is False and body['answers'][0]['service_code'] == 'SI-CARD'
        assert {'service_code', 'score', 'why'} <= set(body['answers'][0])
        away = client.get('/api/assistant', params={'q': '护照过期了怎么办'}).json()
        assert away['handoff'] is True and away['answers'] == [] and away['phone'] == '12345'


def test_empty_and_oversized_questions_get_a_clear_refusal(live: tuple[AppProcess, PreparedDatabase]) -> None:
    with _client(live, '198.51.100.2') as client:
        assert_error(client.get('/api/assistant'), 422, 'assistant_question_empty')
        assert_error(client.get('/api/assistant', params={'q': '   '}), 422, 'assistant_question_empty')
        assert_error(client.get('/api/assistant', params={'q': '房' * 101}), 422, 'assistant_question_too_long')
        assert_error(client.get('/api/assistant', params={'q': 'x' * 5000}), 422, 'assistant_question_too_long')
        huge = client.get('/api/assistant?q=' + 'a' * 60_000)  # httpx sends at most 64 KiB of URL
        assert 400 <= huge.status_code < 500, huge.status_code
        assert client.get('/api/assistant', params={'q': '社保卡'}).status_code == 200  # still serving


@pytest.mark.parametrize('question', ODD)
def test_garbage_unicode_and_injection_get_an_honest_answer_and_are_never_echoed(
    live: tuple[AppProcess, PreparedDatabase], question: str
) -> None:
    with _client(live, f'198.51.100.{10 + ODD.index(question)}') as client:
        response = client.get('/api/assistant', params={'q': question})
        assert response.status_code in (200, 422), response.text[:300]
        assert response.headers['content-type'].startswith('application/json')
        if response.status_code == 200:
            body = response.json()
            assert {a['service_code'] for a in body['answers']} <= SEED_CODES
            assert body['handoff'] == (body['answers'] == [])
            assert '<script>' not in response.text and 'DROP TABLE' not in response.text


def test_more_questions_than_the_limit_are_refused_from_that_address_only(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    with _client(live, '203.0.113.50') as client:
        for _ in range(QUESTIONS_PER_ADDRESS.max):
            assert client.get('/api/assistant', params={'q': '退休认证'}).status_code == 200
        limited = client.get('/api/assistant', params={'q': '退休认证'})
        assert_error(limited, 429, 'assistant_limited')
        assert 0 < int(limited.headers['retry-after']) <= QUESTIONS_PER_ADDRESS.window.total_seconds()
        assert_error(client.get('/api/assistant', params={'q': ''}), 422, 'assistant_question_empty')
    with _client(live, '203.0.113.51') as other:
        assert other.get('/api/assistant', params={'q': '退休认证'}).status_code == 200
