"""The hall's configuration over HTTP, attacked against the running app (default seed).

Only admins export or import; an export carries no account, password or device credential; an upload that is
too big, names paths outside the seed's files, unpacks into a bomb or holds bad YAML is refused and changes
nothing; a good import shows at once on the public guide, with no restart.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from app.models.people import Role
from app.services.hall_config import MAX_ZIP_BYTES
from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.security.routes import assert_error, audit_rows, bearer, db_state, sqlite_path, token

EXPORT, IMPORT = '/api/admin/config/export', '/api/admin/config/import'
ADMIN = ('cfgadmin', 'Config-Admin-0001')
MANAGER = ('cfgboss', 'Config-Boss-0001')
ZIP = {'content-type': 'application/zip'}


@pytest.fixture(scope='module')
def config_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    users = [NewUser(*ADMIN, role=Role.ADMIN), NewUser(*MANAGER, role=Role.MANAGER)]
    with running_app(tmp_path_factory.mktemp('hall-config'), seed='default', users=users) as running:
        yield running


@pytest.fixture(scope='module')
def client(config_app: tuple[AppProcess, PreparedDatabase]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=config_app[0].base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope='module')
def admin(client: httpx.Client) -> dict[str, str]:
    return bearer(token(client, ADMIN))


@pytest.fixture(scope='module')
def exported(client: httpx.Client, admin: dict[str, str]) -> dict[str, str]:
    response = client.get(EXPORT, headers=admin)
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name).decode('utf-8') for name in archive.namelist()}


def zipped(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def configuration(url: str) -> dict[str, Any]:
    """Everything an import writes, read straight from the app's SQLite file."""
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        return {
            **db_state(url),
            'services': db.execute('SELECT * FROM service_item ORDER BY id').fetchall(),
            'zones': db.execute('SELECT * FROM zone ORDER BY id').fetchall(),
            'links': db.execute('SELECT * FROM window_service ORDER BY window_id, service_id').fetchall(),
            'devices': db.execute('SELECT * FROM device ORDER BY id').fetchall(),
            'hall': db.execute('SELECT * FROM hall').fetchall(),
        }


def test_without_a_token_export_and_import_are_401(
    client: httpx.Client, config_app: tuple[AppProcess, PreparedDatabase]
) -> None:
    before = configuration(config_app[1].url)
    assert_error(client.get(EXPORT), 401, 'not_authenticated')
    assert_error(client.post(IMPORT, content=zipped({'hall.yaml': 'x'}), headers=ZIP), 401, 'not_authenticated')
    assert configuration(config_app[1].url) == before


def test_a_manager_may_neither_export_nor_import(
    client: httpx.Client, config_app: tuple[AppProcess, PreparedDatabase], exported: dict[str, str]
) -> None:
    manager = bearer(token(client, MANAGER))
    before = configuration(config_app[1].url)
    assert_error(client.get(EXPORT, headers=manager), 403, 'forbidden')
    assert 'name: 户籍迁入\n' in exported['services.yaml']
    renamed = {**exported, 'services.yaml': exported['services.yaml'].replace('name: 户籍迁入\n', 'name: 被篡改\n')}
    assert_error(client.post(IMPORT, content=zipped(renamed), headers={**manager, **ZIP}), 403, 'forbidden')
    assert configuration(config_app[1].url) == before


def test_the_export_carries_no_account_password_or_device_credential(
    client: httpx.Client, admin: dict[str, str], config_app: tuple[AppProcess, PreparedDatabase]
) -> None:
    response = client.get(EXPORT, headers=admin)
    assert response.headers['content-type'] == 'application/zip'
    assert response.headers['cache-control'] == 'no-store'
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = sorted(archive.namelist())
        text = '\n'.join(archive.read(name).decode('utf-8') for name in names)
    assert names == ['departments.yaml', 'devices.yaml', 'hall.yaml', 'services.yaml', 'windows.yaml']
    with closing(sqlite3.connect(sqlite_path(config_app[1].url), timeout=30)) as db:
        secrets = [row[0] for row in db.execute('SELECT credential_hash FROM device')]
        secrets += [row[0] for row in db.execute('SELECT password_hash FROM staff_user')]
        usernames = [row[0] for row in db.execute('SELECT username FROM staff_user')]
    assert secrets and not any(secret in text for secret in secrets)
    assert not any(f'username: {name}' in text for name in usernames)
    assert not any(password in text for password in config_app[1].passwords.values())


def bomb(files: dict[str, str]) -> bytes:
    """A few KiB that unpack to over 2 MiB."""
    return zipped({**files, 'hall.yaml': ' ' * (3 * 1024 * 1024)})


@pytest.mark.parametrize(
    ('make', 'status', 'code'),
    [
        (lambda files: b'PK' + b'\0' * (MAX_ZIP_BYTES + 10), 413, 'body_too_large'),
        (lambda files: b'not a zip at all', 422, 'config_zip_unreadable'),
        (lambda files: zipped({**files, '../../../tmp/evil.yaml': 'x: 1'}), 422, 'config_zip_entry'),
        (lambda files: zipped({**files, '/etc/cron.d/evil': '* * * * * root true'}), 422, 'config_zip_entry'),
        (lambda files: zipped({'hall.yaml': files['hall.yaml']}), 422, 'config_zip_missing'),
        (bomb, 422, 'config_zip_too_big'),
        (lambda files: zipped({**files, 'services.yaml': '- code: [oops'}), 422, 'config_invalid'),
        (
            lambda files: zipped({**files, 'services.yaml': '- !!python/object/apply:os.system ["true"]'}),
            422,
            'config_invalid',
        ),
        (lambda files: zipped({**files, 'windows.yaml': '[]'}), 422, 'config_invalid'),
    ],
)
def test_a_malicious_or_broken_zip_is_refused_and_changes_nothing(
    client: httpx.Client,
    admin: dict[str, str],
    exported: dict[str, str],
    config_app: tuple[AppProcess, PreparedDatabase],
    make: Any,
    status: int,
    code: str,
) -> None:
    before = configuration(config_app[1].url)
    body = assert_error(client.post(IMPORT, content=make(exported), headers={**admin, **ZIP}), status, code)
    assert configuration(config_app[1].url) == before
    if code == 'config_invalid':
        assert '.yaml' in body['message']  # the file at fault is named


def test_an_admin_import_applies_at_once_on_the_public_guide_and_is_audited(
    client: httpx.Client,
    admin: dict[str, str],
    exported: dict[str, str],
    config_app: tuple[AppProcess, PreparedDatabase],
) -> None:
    assert 'name: 户籍迁入\n' in exported['services.yaml']
    renamed = {
        **exported,
        'services.yaml': exported['services.yaml'].replace('name: 户籍迁入\n', 'name: 户口迁入登记\n'),
    }
    response = client.post(IMPORT, content=zipped(renamed), headers={**admin, **ZIP})
    assert response.status_code == 200, response.text
    assert response.json()['services'] == len(client.get('/api/services').json())
    names = {entry['code']: entry['name'] for entry in client.get('/api/services').json()}
    assert names['HUKOU-IN'] == '户口迁入登记'
    assert [row['actor'] for row in audit_rows(config_app[1].url, 'config.import')] == [ADMIN[0]]
