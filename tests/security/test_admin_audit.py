"""GET /api/admin/audit.csv attacked against a running app: only an admin's token exports; filters are data,
never SQL; the file holds no full phone number, ID number or client address; each export is an audit row."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api.web_session import SESSION_COOKIE
from app.models.people import STAFF_ROLES, Role
from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.idnumbers import make_id
from tests.security.routes import ACCOUNTS, assert_error, audit_rows, bearer, db_state, token

CSV = '/api/admin/audit.csv'
AdminApp = tuple[AppProcess, PreparedDatabase, dict[Role, str]]  # the app, its database, a token per role
PHONE = '13912345678'
ID_NUMBER = make_id(dt.date(1958, 3, 9))


@pytest.fixture(scope='module')
def admin_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminApp]:
    """A running hall with one account per staff role, and audit rows that hold a phone, an ID and addresses."""
    tmp: Path = tmp_path_factory.mktemp('admin-audit')
    users = [NewUser(*ACCOUNTS[role], role=role) for role in (Role.REVIEWER, Role.ADMIN)]
    with running_app(tmp, users=users) as (app, prepared), app.client() as client:
        tokens = {role: token(client, ACCOUNTS[role]) for role in STAFF_ROLES}  # the hall's own accounts
        for name in (PHONE, ID_NUMBER, f'=HYPERLINK("http://x/{PHONE}")'):  # failed logins under these names
            client.post('/api/auth/token', json={'username': name, 'password': 'not-the-password'})
        yield app, prepared, tokens


def exports(prepared: PreparedDatabase) -> list[dict[str, object]]:
    return audit_rows(prepared.url, 'export')


@pytest.mark.parametrize('who', [Role.STAFF, Role.REVIEWER, Role.MANAGER])
def test_staff_managers_and_reviewers_cannot_export_and_nothing_is_written(admin_app: AdminApp, who: Role) -> None:
    app, prepared, tokens = admin_app
    before = db_state(prepared.url)
    with app.client() as client:
        assert_error(client.get(CSV, headers=bearer(tokens[who])), 403, 'forbidden')
        assert_error(client.get(CSV, params={'actor': 'adm01'}, headers=bearer(tokens[who])), 403, 'forbidden')
    assert db_state(prepared.url) == before


@pytest.mark.parametrize(
    'headers',
    [{}, bearer('forged-token-0123456789abcdef'), bearer('c.citizen-looking-token'), {'Authorization': 'Basic YTpi'}],
    ids=['anonymous', 'forged', 'citizen', 'basic'],
)
def test_no_token_a_forged_one_or_a_citizens_is_refused(admin_app: AdminApp, headers: dict[str, str]) -> None:
    app, prepared, _ = admin_app
    count = len(exports(prepared))
    with app.client() as client:
        response = client.get(CSV, headers=headers)
    assert response.status_code == 401 and 'text/csv' not in response.headers['content-type']
    assert len(exports(prepared)) == count


def test_the_export_is_audited_and_masked(admin_app: AdminApp) -> None:
    app, prepared, tokens = admin_app
    with app.client() as client:
        response = client.get(CSV, params={'action': 'login_failed'}, headers=bearer(tokens[Role.ADMIN]))
    assert response.status_code == 200, response.text
    assert response.headers['content-type'].startswith('text/csv')
    assert response.headers['content-disposition'].startswith('attachment; filename="audit-')
    assert response.headers['cache-control'] == 'no-store'
    content = response.content.decode('utf-8-sig')
    rows = list(csv.reader(io.StringIO(content)))[1:]
    assert len(rows) == 3 and {row[4] for row in rows} == {'login_failed'}
    for personal in (PHONE, ID_NUMBER, PHONE[:3] + '****' + PHONE[-4:], ID_NUMBER[:6] + '********', '127.0.0.1'):
        assert personal not in content
    (address,) = {row[8] for row in rows}  # one client, stored as its network and a keyed digest
    assert address.startswith('127.0.0.0/24#')
    assert all(not cell.startswith(('=', '+', '-', '@')) for row in rows for cell in row)
    (audited,) = exports(prepared)[-1:]
    assert (audited['actor'], audited['role'], audited['target'], audited['outcome']) == (
        ACCOUNTS[Role.ADMIN][0],
        'admin',
        'audit_log',
        'ok',
    )
    assert '"rows": 3' in str(audited['detail']) and '"action": "login_failed"' in str(audited['detail'])


@pytest.mark.parametrize(
    'params',
    [
        {'actor': "' OR 1=1 --"},
        {'actor': "x'); DROP TABLE audit_entry; --"},
        {'action': "login' OR '1'='1"},
        {'actor': '%'},
        {'actor': '_'},
        {'action': '%'},
    ],
)
def test_filter_values_are_data_not_sql_nor_wildcards(admin_app: AdminApp, params: dict[str, str]) -> None:
    app, _, tokens = admin_app
    with app.client() as client:
        response = client.get(CSV, params=params, headers=bearer(tokens[Role.ADMIN]))
        assert response.status_code == 200, response.text
        assert len(list(csv.reader(io.StringIO(response.content.decode('utf-8-sig'))))) == 1  # the header only
        assert client.get(CSV, params={'action': 'login'}, headers=bearer(tokens[Role.ADMIN])).status_code == 200


@pytest.mark.parametrize(
    ('params', 'status', 'code'),
    [
        ({'since': '2026-13-45'}, 422, 'invalid_request'),
        ({'since': "2026-01-01' OR 1=1"}, 422, 'invalid_request'),
        ({'actor': 'x' * 65}, 422, 'invalid_request'),
        ({'since': '2026-12-02', 'until': '2026-12-01'}, 422, 'audit_range'),
        ({'actor': 'adm\x0001'}, 422, 'audit_filter_unprintable'),
    ],
)
def test_bad_filters_are_refused_and_not_exported(
    admin_app: AdminApp, params: dict[str, str], status: int, code: str
) -> None:
    app, prepared, tokens = admin_app
    count = len(exports(prepared))
    with app.client() as client:
        response = client.get(CSV, params=params, headers=bearer(tokens[Role.ADMIN]))
    assert_error(response, status, code)
    assert len(exports(prepared)) == count


def test_an_admin_page_session_cookie_is_no_bearer_token(
    admin_app: AdminApp,
) -> None:
    """The CSV route takes a bearer token only: a session cookie sent cross-site cannot pull the file."""
    app, prepared, tokens = admin_app
    count = len(exports(prepared))
    with httpx.Client(base_url=app.base_url, cookies={SESSION_COOKIE: tokens[Role.ADMIN]}) as client:
        assert client.get(CSV).status_code == 401
    assert len(exports(prepared)) == count
