"""Start-up checks against the real app (`python main.py` as a subprocess): each bad setting stops it before
"ready" with exit code 1 and ONE line on stderr that names the setting, never a traceback; a production hall
refuses its stand-ins unless allowed; a good start reports its version."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.settings import ROOT
from app.version import version
from tests.apphost import TEST_SECRET, AppProcess, PreparedDatabase, free_port, prepare_database, sqlite_url

OTHER_SECRET = 'another-secret-key-that-is-long-enough-9876543210'


@pytest.fixture
def prepared(tmp_path: Path) -> PreparedDatabase:
    return prepare_database(sqlite_url(tmp_path / 'hall.db'))


def run_app(prepared_url: str, tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    """Start main.py with the test app's environment plus `overrides`; it must exit by itself (the checks)."""
    env = AppProcess(prepared_url, tmp_path).environment()
    env.update(overrides)
    return subprocess.run(
        [sys.executable, str(ROOT / 'main.py')],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The exit code is 1 and stderr is exactly one line; nothing said "ready", nothing printed a traceback."""
    everything = result.stdout + result.stderr
    assert result.returncode == 1, everything
    assert 'Traceback' not in everything and 'NiceGUI ready' not in everything, everything
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, everything
    assert lines[0].startswith('halltwin: '), everything
    return lines[0]


@pytest.fixture
def listening() -> Iterator[int]:
    """A port something else already listens on."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_redis_url_that_is_not_redis_names_redis_url(prepared: PreparedDatabase, tmp_path: Path) -> None:
    line = one_line(run_app(prepared.url, tmp_path, REDIS_URL='http://x'))
    assert line.startswith('halltwin: invalid REDIS_URL')


def test_an_unreachable_redis_stops_the_start_instead_of_hanging_requests(
    prepared: PreparedDatabase, tmp_path: Path
) -> None:
    line = one_line(run_app(prepared.url, tmp_path, REDIS_URL=f'redis://127.0.0.1:{free_port()}/0'))
    assert line.startswith('halltwin: REDIS_URL cannot be reached (redis://127.0.0.1:')


def test_an_unwritable_var_dir_names_var_dir(prepared: PreparedDatabase, tmp_path: Path) -> None:
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a folder')
    line = one_line(run_app(prepared.url, tmp_path, VAR_DIR=str(blocker / 'var')))
    assert line.startswith(f'halltwin: VAR_DIR {blocker / "var"} is not writable')


@pytest.mark.parametrize('host', ['no-such-host.invalid', '192.0.2.1'])
def test_a_host_this_machine_cannot_listen_on_names_host(prepared: PreparedDatabase, tmp_path: Path, host: str) -> None:
    assert one_line(run_app(prepared.url, tmp_path, HOST=host)).startswith(f"halltwin: invalid HOST '{host}'")


def test_a_port_in_use_names_port(prepared: PreparedDatabase, tmp_path: Path, listening: int) -> None:
    line = one_line(run_app(prepared.url, tmp_path, PORT=str(listening)))
    assert line == f'halltwin: PORT {listening} is already in use on 127.0.0.1'


def test_an_unreachable_database_names_database_url_without_its_password(tmp_path: Path) -> None:
    url = f'postgresql+asyncpg://hall:do-not-print@127.0.0.1:{free_port()}/hall'
    line = one_line(run_app(url, tmp_path))
    assert line.startswith('halltwin: DATABASE_URL cannot be reached (postgresql+asyncpg://hall:***@127.0.0.1:')
    assert 'do-not-print' not in line


def test_no_hall_exits_non_zero_with_the_way_to_load_one(tmp_path: Path) -> None:
    line = one_line(run_app(sqlite_url(tmp_path / 'empty.db'), tmp_path))
    assert (
        line == 'halltwin: 数据库中没有大厅数据，请先运行 python -m seed / no hall in the database: run python -m seed'
    )


def test_a_hall_code_that_names_no_hall_stops_with_the_codes_there_are(
    prepared: PreparedDatabase, tmp_path: Path
) -> None:
    line = one_line(run_app(prepared.url, tmp_path, HALL_CODE='nowhere'))
    assert line.startswith("halltwin: HALL_CODE='nowhere' 不是数据库中的大厅（现有：main）")
    assert '(there are: main); load it with HALL_SEED=<its folder> python -m seed' in line


def test_a_hall_code_that_is_no_code_names_the_variable(prepared: PreparedDatabase, tmp_path: Path) -> None:
    assert one_line(run_app(prepared.url, tmp_path, HALL_CODE='../main')).startswith('halltwin: invalid HALL_CODE')


def test_a_database_migrated_by_a_newer_release_stops_with_the_way_back(
    prepared: PreparedDatabase, tmp_path: Path
) -> None:
    """A rollback that skipped the restore: the previous release must not start on the newer schema."""
    with sqlite3.connect(tmp_path / 'hall.db') as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    line = one_line(run_app(prepared.url, tmp_path))
    assert line.startswith('halltwin: the database was migrated by a newer release (')
    assert "'9999'" in line and 'restore the backup' in line


def test_a_secret_key_that_did_not_write_the_database_stops_with_one_line(
    prepared: PreparedDatabase, tmp_path: Path
) -> None:
    with AppProcess(prepared.url, tmp_path / 'first', extra_env={'SECRET_KEY': TEST_SECRET}):
        pass  # the first start stores the key check value
    line = one_line(run_app(prepared.url, tmp_path, SECRET_KEY=OTHER_SECRET))
    assert line.startswith('halltwin: SECRET_KEY does not match the database')


def test_production_refuses_the_demo_stand_ins_by_name(prepared: PreparedDatabase, tmp_path: Path) -> None:
    line = one_line(
        run_app(prepared.url, tmp_path, HALL_PROFILE='production', HALL_SIMULATION='on', DEVICE_MODE='simulated')
    )
    assert line.startswith(
        'halltwin: HALL_PROFILE=production refuses stand-ins: simulation (HALL_SIMULATION=on); '
        'devices (DEVICE_MODE=simulated); sms (SMS_PROVIDER=file)'
    )


def test_production_starts_with_what_it_allows_and_reports_its_version(
    prepared: PreparedDatabase, tmp_path: Path
) -> None:
    env = {'HALL_PROFILE': 'production', 'ALLOW_STAND_INS': 'sms'}
    with AppProcess(prepared.url, tmp_path, extra_env=env) as app:
        health = httpx.get(f'{app.base_url}/api/health', timeout=10).json()
        assert health == {'status': 'ok', 'version': version(), 'demo': True}  # texts still go to a file
        home = httpx.get(f'{app.base_url}/', timeout=10).text
        output = app.output()
    assert '演示模式' in home and f'HallTwin {version()} 版' in home
    assert f'HallTwin {version()} checked its settings (HALL_PROFILE=production)' in output
    assert f'HallTwin {version()} started for' in output
    assert 'demo stand-ins on (pages show 演示模式): sms' in output
