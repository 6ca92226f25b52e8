"""Start-up checks that speak plainly: each bad setting stops the app with one line naming it, before "ready".

Run by `app.main.run` before NiceGUI starts serving, in the order an operator would fix things: the
folders and the address the app needs, the database and Redis it talks to, the schema, the hall, the
key the database was written with, and the profile's stand-ins. A failure is a ConfigError (a
SystemExit with its one line: exit code 1, no traceback).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import uuid

from alembic.util.exc import CommandError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from app.clock import utcnow
from app.db import Database, ensure_sqlite_file
from app.migrate import upgrade
from app.security.keys import Purpose
from app.services.halls import HallMissing, hall_to_serve
from app.services.key_check import KeyMismatch, verify_key
from app.services.stand_ins import refusal, stand_ins_in
from app.settings import ConfigError, Settings

CONNECT_SECONDS = 5.0  # how long the database and Redis get to answer at start


def preflight(settings: Settings) -> None:
    """Stop with one line (ConfigError) on the first thing that would fail later; return when all is well."""
    check_var_dir(settings)
    check_listen_address(settings)
    check_sms(settings)
    asyncio.run(check_services(settings))
    try:
        upgrade(settings.db_url)
    except CommandError as error:  # a revision this release does not know: a newer release migrated it
        raise ConfigError(
            f'halltwin: the database was migrated by a newer release ({_reason(error)}); '
            'start that release, or restore the backup taken before the upgrade (docs/operations.md)'
        ) from None
    except (SQLAlchemyError, OSError) as error:
        raise ConfigError(f'halltwin: the database could not be migrated: {_reason(error)}') from None
    asyncio.run(check_database_contents(settings))


def check_var_dir(settings: Settings) -> None:
    """VAR_DIR holds the generated key, the SQLite file, backups, anchors and the SMS outbox: it must be writable."""
    folder = settings.var_dir
    probe = folder / f'.write-check-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b'')
        probe.unlink()
    except OSError as error:
        raise ConfigError(f'halltwin: VAR_DIR {folder} is not writable: {_reason(error)}') from None


def check_sms(settings: Settings) -> None:
    """A real SMS provider without its keys would fail every text later, one retry at a time: say so now."""
    if settings.sms_provider == 'file':
        return
    needed = {
        'SMS_ACCESS_KEY_ID': settings.sms_access_key_id,
        'SMS_ACCESS_KEY_SECRET': settings.sms_access_key_secret.get_secret_value(),
        'SMS_SIGN_NAME': settings.sms_sign_name,
    }
    if settings.sms_provider == 'tencent':
        needed['SMS_SDK_APP_ID'] = settings.sms_sdk_app_id
    missing = [name for name, value in needed.items() if not value]
    if missing:
        raise ConfigError(f'halltwin: SMS_PROVIDER={settings.sms_provider} needs {", ".join(missing)}')


def check_listen_address(settings: Settings) -> None:
    """HOST must be an address of this machine and PORT free: found now, not after "ready"."""
    try:
        infos = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ConfigError(f'halltwin: invalid HOST {settings.host!r}: {_reason(error)}') from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(f'halltwin: PORT {settings.port} is already in use on {settings.host}') from None
            raise ConfigError(
                f'halltwin: invalid HOST {settings.host!r}: this machine cannot listen there ({_reason(error)})'
            ) from None


async def check_services(settings: Settings) -> None:
    """The database and Redis answer within CONNECT_SECONDS (an unreachable Redis used to hang every request)."""
    engine = None
    try:
        ensure_sqlite_file(settings.db_url)  # a new SQLite file's folder is made here: it may be unwritable too
        engine = create_async_engine(settings.db_url)
        async with asyncio.timeout(CONNECT_SECONDS), engine.connect() as connection:
            await connection.execute(text('SELECT 1'))
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise ConfigError(
            f'halltwin: DATABASE_URL cannot be reached ({_where(settings.db_url)}): {_reason(error)}'
        ) from None
    finally:
        if engine is not None:
            await engine.dispose()
    if not settings.redis_url:
        return
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=CONNECT_SECONDS, socket_timeout=CONNECT_SECONDS)
    try:
        async with asyncio.timeout(CONNECT_SECONDS * 2):
            await redis.ping()
    except (RedisError, OSError, TimeoutError) as error:
        raise ConfigError(
            f'halltwin: REDIS_URL cannot be reached ({_where(settings.redis_url)}): {_reason(error)}'
        ) from None
    finally:
        await redis.aclose()


async def check_database_contents(settings: Settings) -> None:
    """The hall HALL_CODE names (or a first one) is loaded, SECRET_KEY is the database's own, and the profile
    accepts the stand-ins found."""
    db = Database(settings.db_url, audit_key=settings.key(Purpose.AUDIT))
    try:
        async with db.read_session() as session:
            try:
                await hall_to_serve(session, settings.hall_code)
            except HallMissing as error:
                raise ConfigError(f'halltwin: {error}') from None
            active = await stand_ins_in(session, settings)
        try:
            await verify_key(db, settings.secret, now=utcnow())
        except KeyMismatch as error:
            raise ConfigError(str(error)) from None
        if line := refusal(settings, active):
            raise ConfigError(line)
    finally:
        await db.dispose()


def _where(url: str) -> str:
    """The URL without its password, for the one line."""
    return make_url(url).render_as_string(hide_password=True)


def _reason(error: BaseException) -> str:
    """The error's own words on one line (the first line of the innermost cause)."""
    while error.__cause__ is not None or error.__context__ is not None:
        inner = error.__cause__ or error.__context__
        assert inner is not None
        error = inner
    words = str(error).strip().splitlines()
    return words[0] if words and words[0] else type(error).__name__
