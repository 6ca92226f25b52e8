"""Run the real app (`python main.py`) as a subprocess against a prepared database.

Used by the restart tests and by end-to-end (Playwright) tests:

    prepared = prepare_database(f'sqlite+aiosqlite:///{tmp / "hall.db"}')   # migrate + small hall
    with start_app(prepared.url, tmp) as app:
        httpx.get(f'{app.base_url}/api/hall')
        app.kill_hard()          # SIGKILL, like a power cut
        app.start()              # again, same database (and same port)

`prepare_database(url, seed='default')` loads the real seed instead of the small test hall; the
passwords of the accounts it creates are returned in `PreparedDatabase.passwords`.

A new SQLite file is a copy of a template prepared once per run for its seed and secret: migrating takes
seconds, and the real seed hashes its 35 accounts' passwords with argon2 (about 10 s on an idle core).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from app.db import Database, ensure_sqlite_file
from app.migrate import upgrade
from app.models.people import Role
from app.settings import ROOT
from app.users import add_user
from tests.factories import SmallHall, build_small_hall
from tests.totp import enrol

TEST_SECRET = 'test-secret-key-that-is-long-enough-0123456789'
SMALL_HALL_PASSWORDS = {'w01': 'Window-01-pass', 'boss': 'Manager-01-pass'}
START_TIMEOUT = 60.0  # a cold start (imports, migrations, 125 simulated devices) on a loaded 2-core machine took > 30 s
# Variables that make NiceGUI believe it runs inside one of its own pytest fixtures.
_TEST_HARNESS_VARIABLES = ('PYTEST_CURRENT_TEST', 'NICEGUI_SCREEN_TEST_PORT', 'NICEGUI_USER_SIMULATION')

_T = TypeVar('_T')


@dataclass(frozen=True)
class NewUser:
    """An extra staff account for `prepare_database` (window is the window *number*)."""

    username: str
    password: str
    role: Role = Role.STAFF
    window: int | None = None


@dataclass
class PreparedDatabase:
    url: str
    small_hall: SmallHall | None = None
    passwords: dict[str, str] = field(default_factory=dict)  # username -> password


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from sync code, even if an event loop is already running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


class _Templates:
    """Prepared SQLite databases of this run, one per seed and secrets, each built the first time it is needed."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._prepared: dict[tuple[str | None, bytes, str | None], PreparedDatabase] = {}

    async def template(self, seed: str | None, secret: bytes) -> PreparedDatabase:
        key = (seed, secret, os.environ.get('SECRET_KEY'))  # the small hall's second factors use SECRET_KEY
        if key not in self._prepared:
            if self._directory is None:
                self._directory = Path(tempfile.mkdtemp(prefix='halltwin-templates-'))
                atexit.register(shutil.rmtree, self._directory, True)
            url = sqlite_url(self._directory / f'template-{len(self._prepared)}.db')
            await asyncio.to_thread(upgrade, url)
            self._prepared[key] = await _fill(PreparedDatabase(url), seed=seed, secret=secret)
        return self._prepared[key]

    async def copy_to(self, url: str, *, seed: str | None, secret: bytes) -> PreparedDatabase:
        """`url` (a new SQLite file) as a copy of the template: the same hall, accounts and passwords."""
        template = await self.template(seed, secret)
        ensure_sqlite_file(url)  # created 0600, as the app creates its own
        await asyncio.to_thread(_copy_sqlite, template.url, url)
        return PreparedDatabase(url, template.small_hall, dict(template.passwords))


def _sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite `url` (None for another database or an in-memory one)."""
    prefix = 'sqlite+aiosqlite:///'
    if not url.startswith(prefix) or url.endswith(':memory:') or '?' in url:
        return None
    return Path(url.removeprefix(prefix))


def _is_new_sqlite_file(url: str) -> bool:
    """True for a SQLite `url` whose file does not exist yet or is empty (nothing to keep in it)."""
    path = _sqlite_file(url)
    return path is not None and (not path.exists() or path.stat().st_size == 0)


def _copy_sqlite(source: str, target: str) -> None:
    """Copy one SQLite database into another through SQLite's backup (what sits in the WAL comes along)."""
    with (
        closing(sqlite3.connect(_sqlite_file(source))) as origin,
        closing(sqlite3.connect(_sqlite_file(target))) as copy,
    ):
        origin.backup(copy)


_TEMPLATES = _Templates()


async def _fill(prepared: PreparedDatabase, *, seed: str | None, secret: bytes) -> PreparedDatabase:
    """Build the small test hall (seed=None) or load a real seed into a migrated database, with second factors."""
    db = Database(prepared.url)
    try:
        if seed is None:
            prepared.small_hall = await build_small_hall(db)
            prepared.passwords.update(SMALL_HALL_PASSWORDS)
        else:
            from seed import load_seed  # the seed package is heavier; only import it when asked for

            report = await load_seed(db, seed_name=seed, secret=secret)
            prepared.passwords.update(report.new_passwords)
        await enrol(db, secret_key=secret)
        return prepared
    finally:
        await db.dispose()


async def prepare_database_async(
    url: str,
    *,
    seed: str | None = None,
    secret: bytes = TEST_SECRET.encode(),
    users: Sequence[NewUser] = (),
    migrate: bool = True,
) -> PreparedDatabase:
    """Migrate `url`, then build the small test hall (seed=None) or load a real seed, then add `users`.

    A new SQLite file is copied from this run's template instead (the same rows, already migrated).
    """
    if migrate and _is_new_sqlite_file(url):
        prepared = await _TEMPLATES.copy_to(url, seed=seed, secret=secret)
    else:
        if migrate:
            await asyncio.to_thread(upgrade, url)
        prepared = await _fill(PreparedDatabase(url), seed=seed, secret=secret)
    if not users:
        return prepared
    db = Database(url)
    try:
        for user in users:
            await add_user(
                db, username=user.username, role=user.role, password=user.password, window_number=user.window
            )
            prepared.passwords[user.username] = user.password
        await enrol(db, secret_key=secret)
        return prepared
    finally:
        await db.dispose()


def prepare_database(
    url: str,
    *,
    seed: str | None = None,
    secret: bytes = TEST_SECRET.encode(),
    users: Sequence[NewUser] = (),
    migrate: bool = True,
) -> PreparedDatabase:
    """Sync wrapper of `prepare_database_async` (usable from sync and async tests alike)."""
    return run_coroutine(lambda: prepare_database_async(url, seed=seed, secret=secret, users=users, migrate=migrate))


def sqlite_url(path: Path) -> str:
    return f'sqlite+aiosqlite:///{path}'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


class AppStartError(RuntimeError):
    pass


class AppProcess:
    """One `python main.py` subprocess; start, stop, kill and start again on the same database."""

    def __init__(
        self,
        db_url: str,
        tmp_dir: Path | str,
        *,
        extra_env: Mapping[str, str] | None = None,
        port: int | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.db_url = db_url
        self.tmp_dir = Path(tmp_dir)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra_env = dict(extra_env or {})
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _TEST_HARNESS_VARIABLES}
        env.pop('REDIS_URL', None)
        env.pop('AUDIT_ANCHOR_FILE', None)  # anchors go to this app's own VAR_DIR
        env.update(
            DATABASE_URL=self.db_url,
            PORT=str(self.port),
            HOST='127.0.0.1',
            VAR_DIR=str(self.tmp_dir / 'var'),
            SECRET_KEY=os.environ.get('SECRET_KEY') or TEST_SECRET,
            HALL_SIMULATION='off',
            DEVICE_MODE='websocket',
            NICEGUI_STORAGE_PATH=str(self.tmp_dir / 'nicegui-storage'),
            PYTHONUNBUFFERED='1',
        )
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        """The command line of the app (a benchmark may wrap it, e.g. in cProfile)."""
        return [sys.executable, str(ROOT / 'main.py')]

    def start(self) -> AppProcess:
        """Start the subprocess and wait until GET /api/hall answers 200 (or raise with its output)."""
        if self.running:
            raise AppStartError(f'the app is already running (pid {self.pid})')
        self.starts += 1
        self._log_path = self.tmp_dir / f'app-{self.port}-{self.starts}.log'
        with self._log_path.open('wb') as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the test runner does not reach it; we stop it ourselves
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.kill_hard()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last_problem = 'no answer yet'
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AppStartError(
                        f'the app exited with code {self.process.returncode} during start-up\n{self.output()}'
                    )
                try:
                    response = client.get('/api/hall')
                    if response.status_code == 200:
                        return
                    last_problem = f'GET /api/hall -> {response.status_code}: {response.text[:500]}'
                except httpx.HTTPError as error:
                    last_problem = repr(error)
                time.sleep(0.1)
        raise AppStartError(
            f'the app did not answer GET /api/hall within {self.start_timeout:.0f} s ({last_problem})\n{self.output()}'
        )

    def output(self, limit: int = 20_000) -> str:
        """What the current (or last) subprocess printed, stdout and stderr together (the tail)."""
        if self._log_path is None or not self._log_path.exists():
            return ''
        text = self._log_path.read_text(errors='replace')
        return text[-limit:]

    def kill_hard(self) -> None:
        """SIGKILL: no shutdown handlers run, like a power cut or an OOM kill."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait for a graceful exit (SIGKILL after `timeout`); returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_hard()
        return self.process.returncode

    def restart(self, *, hard: bool = False) -> AppProcess:
        """Stop (SIGTERM, or SIGKILL with hard=True) and start again on the same database and port."""
        if hard:
            self.kill_hard()
        else:
            self.stop()
        return self.start()

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault('timeout', 10.0)
        return httpx.Client(base_url=self.base_url, **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        kwargs.setdefault('timeout', 10.0)
        return httpx.AsyncClient(base_url=self.base_url, **kwargs)

    def __enter__(self) -> AppProcess:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_app(
    db_url: str, tmp_dir: Path | str, extra_env: Mapping[str, str] | None = None, *, port: int | None = None
) -> AppProcess:
    """Start the app on a prepared database and return once it answers; stop it with `.stop()` or `with`."""
    return AppProcess(db_url, tmp_dir, extra_env=extra_env, port=port).start()


@contextmanager
def running_app(
    tmp_dir: Path | str,
    *,
    seed: str | None = None,
    users: Sequence[NewUser] = (),
    db_url: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """Prepare a database (SQLite in tmp_dir unless db_url is given), start the app, stop it afterwards."""
    tmp = Path(tmp_dir)
    prepared = prepare_database(db_url or sqlite_url(tmp / 'hall.db'), seed=seed, users=users)
    app = start_app(prepared.url, tmp, extra_env)
    try:
        yield app, prepared
    finally:
        app.stop()
