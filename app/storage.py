"""What a failed database call means for the people in the hall, and who needs to know.

Why here and not in every service: a full disk or a restarting PostgreSQL can break any write, and
each one must answer the same way: 503 with a stable code and words a citizen can act on, nothing
half-written (the transaction is rolled back by the database), and an alert for the manager. The
Database (app/db.py) turns such an error into `StorageUnavailable` as it leaves a session and tells
its `StorageHealth`; the storage watch (app/services/storage_watch.py) raises and clears the alert.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import time
from collections.abc import Callable
from enum import StrEnum

from app.services.errors import StorageUnavailable

log = logging.getLogger(__name__)


class Failure(StrEnum):
    """The two faults a hall can do something about: free space, or wait for the database to come back."""

    FULL = 'storage_full'
    UNREACHABLE = 'database_unavailable'


SQLITE_FULL_TEXT = ('database or disk is full', 'disk i/o error')
PG_DISK_FULL = '53100'  # disk_full; 53xxx is "insufficient resources"
PG_UNREACHABLE_PREFIXES = ('08', '57P')  # connection exceptions; admin/crash shutdown, cannot connect now
UNREACHABLE_TEXT = ('connection is closed', 'connection was closed', 'cannot connect now', 'the database system is')


def _chain(error: BaseException) -> list[BaseException]:
    """The error, what SQLAlchemy wrapped (`orig`) and what caused it, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo.extend((getattr(current, 'orig', None), current.__cause__, current.__context__))
    return seen


def classify(error: BaseException) -> Failure | None:
    """Failure.FULL or Failure.UNREACHABLE for a storage fault, None for anything else (a bug stays a 500)."""
    chain = _chain(error)
    for item in chain:
        text = str(item).lower()
        code = str(getattr(item, 'sqlstate', None) or getattr(item, 'pgcode', None) or '')
        if isinstance(item, OSError) and item.errno in (errno.ENOSPC, errno.EDQUOT):
            return Failure.FULL
        if isinstance(item, sqlite3.OperationalError) and any(t in text for t in SQLITE_FULL_TEXT):
            return Failure.FULL
        if code == PG_DISK_FULL or 'could not extend file' in text or 'no space left on device' in text:
            return Failure.FULL
    for item in chain:
        text = str(item).lower()
        code = str(getattr(item, 'sqlstate', None) or getattr(item, 'pgcode', None) or '')
        if isinstance(item, ConnectionError | TimeoutError) or code.startswith(PG_UNREACHABLE_PREFIXES):
            return Failure.UNREACHABLE
        if getattr(item, 'connection_invalidated', False) or any(t in text for t in UNREACHABLE_TEXT):
            return Failure.UNREACHABLE
        if isinstance(item, OSError) and item.errno in (errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE):
            return Failure.UNREACHABLE
    return None


def refusal(failure: Failure) -> StorageUnavailable:
    return StorageUnavailable(failure.value)


Listener = Callable[[Failure | None], None]
QUIET_SECONDS = 30.0


class StorageHealth:
    """The last storage fault this process met (None: writes go through); listeners hear each change.

    A nearly full disk still takes some small writes (the alert's own row, say) while tickets fail, so a full
    disk counts as over only at a write that goes through `quiet` seconds after the last failure; an
    unreachable database is over at the first write that goes through.
    """

    def __init__(self, *, quiet: float = QUIET_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.failure: Failure | None = None
        self.quiet = quiet
        self.clock = clock
        self._last_failure = -float('inf')
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unlisten(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def failed(self, failure: Failure) -> None:
        self._last_failure = self.clock()
        if self.failure != failure:
            log.error('storage: %s', StorageUnavailable(failure.value).message)
            self._set(failure)

    def stored(self) -> None:
        if self.failure is Failure.FULL and self.clock() - self._last_failure < self.quiet:
            return
        if self.failure is not None:
            log.info('storage: writes go through again')
            self._set(None)

    def _set(self, failure: Failure | None) -> None:
        self.failure = failure
        for listener in list(self._listeners):
            listener(failure)
