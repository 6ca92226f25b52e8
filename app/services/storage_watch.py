"""Tell the hall manager about storage before and while it fails: a free-space watch and a write-failure alert.

Why both: a full disk is seen first by a citizen whose ticket cannot be stored; the free-space watch
(DISK_MIN_FREE_MB, checked every DISK_CHECK_SECONDS) warns while there is still room to act. A failed
write raises a critical alert at once (app/storage.py reports it); the first write that goes through
again clears it, and space above the threshold clears the warning: nothing needs a restart.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from app import tasks
from app.db import Database
from app.services.alerts import AlertService, AlertSpec, Kind
from app.storage import Failure

log = logging.getLogger(__name__)

MB = 1024 * 1024
STORAGE_KEYS = {failure: f'{Kind.STORAGE}:{failure.value}' for failure in Failure}
DISK_LOW_KEY = f'{Kind.DISK_LOW}:database'


def database_folder(db_url: str, var_dir: Path) -> Path:
    """Where a SQLite database's file lives; VAR_DIR for PostgreSQL (its server watches its own disk)."""
    url = make_url(db_url)
    if url.get_backend_name() == 'sqlite' and url.database and url.database != ':memory:':
        return Path(url.database).parent
    return var_dir


def free_bytes(path: Path) -> int:
    """Free space for an ordinary user on the file system holding `path` (its nearest existing parent)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return shutil.disk_usage(path).free


MANAGER_MESSAGES = {
    Failure.FULL: (
        '写入失败：数据库磁盘已满，取号、叫号无法保存，请立即清理磁盘或扩容'
        ' / writes fail: the database disk is full; free space now'
    ),
    Failure.UNREACHABLE: (
        '写入失败：无法连接数据库，取号、叫号无法保存，请检查数据库服务'
        ' / writes fail: the database is unreachable; check the database server'
    ),
}


def storage_alert(failure: Failure) -> AlertSpec:
    return AlertSpec(STORAGE_KEYS[failure], Kind.STORAGE, 'critical', 'database', MANAGER_MESSAGES[failure])


def disk_low_alert(free: int, minimum: int) -> AlertSpec:
    message = (
        f'数据库所在磁盘剩余 {free // MB} MB，低于 {minimum // MB} MB，请尽快清理或扩容'
        f' / {free // MB} MB free where the database lives (threshold {minimum // MB} MB): free space soon'
    )
    return AlertSpec(DISK_LOW_KEY, Kind.DISK_LOW, 'warning', 'database', message)


class StorageWatch:
    """Follows the database's StorageHealth and the free space under `path`; raises and clears the alerts."""

    def __init__(
        self,
        db: Database,
        alerts: AlertService,
        *,
        path: Path,
        min_free_bytes: int,
        period: float,
        free: Callable[[Path], int] = free_bytes,
    ) -> None:
        self.db = db
        self.alerts = alerts
        self.path = path
        self.min_free_bytes = min_free_bytes
        self.period = period
        self.free = free
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.db.health.listen(self._changed)
        await self.check()
        self._task = asyncio.get_running_loop().create_task(self._watch(), name='storage.watch')

    async def stop(self) -> None:
        self.db.health.unlisten(self._changed)
        for task in [*self._pending, *([self._task] if self._task else [])]:
            await tasks.stop(task)
        self._task = None

    def _changed(self, failure: Failure | None) -> None:
        """Called from inside a failing (or recovering) request: the alert is raised beside it, not in it."""
        task = asyncio.get_running_loop().create_task(self.follow(failure), name='storage.alert')
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def follow(self, failure: Failure | None) -> None:
        """Raise the alert of this failure (clearing the other kind), or clear both once writes go through."""
        for other, key in STORAGE_KEYS.items():
            if other != failure:
                await self.alerts.resolve(key)
        if failure is not None:
            await self.alerts.raise_alert(storage_alert(failure))

    async def check(self) -> int | None:
        """Warn when free space is under the threshold, clear the warning when it is back; the free bytes."""
        if self.min_free_bytes <= 0:
            return None
        try:
            free = await asyncio.to_thread(self.free, self.path)
        except OSError as error:
            log.warning('storage watch: cannot read free space of %s (%s)', self.path, error)
            return None
        if free < self.min_free_bytes:
            await self.alerts.raise_alert(disk_low_alert(free, self.min_free_bytes))
        else:
            await self.alerts.resolve(DISK_LOW_KEY)
        return free

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.check()
            except Exception:
                log.exception('storage watch failed')
