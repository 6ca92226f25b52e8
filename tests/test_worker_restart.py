"""The arq worker as its own process (`python -m app.jobs`) across a Redis restart: texts queued before, during
and after the restart are all sent, none twice (counted in the file SMS outbox the worker writes).

The Redis here keeps its data on disk (append-only file), as a production Redis does: the restart keeps the
queued jobs. The shared Redis on 6379 keeps nothing on disk, so this test runs its own (tests/redisserver.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.jobs import ArqJobs, Periodic, hall_queue
from app.models import Citizen, Notification
from app.security.crypto import FieldCipher
from app.services import notifications
from app.services.channels import SMS
from app.services.messages import Template, message
from app.settings import ROOT
from tests.apphost import TEST_SECRET, prepare_database, run_coroutine, sqlite_url
from tests.redisserver import RedisServer

ROWS_PER_BATCH = 20


class WorkerProcess:
    """`python -m app.jobs` against a prepared database and a Redis; its output goes to a log file."""

    def __init__(self, db_url: str, redis_url: str, var_dir: Path) -> None:
        self.log = var_dir / 'worker.log'
        self.var_dir = var_dir
        env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
        env.update(
            DATABASE_URL=db_url,
            REDIS_URL=redis_url,
            VAR_DIR=str(var_dir),
            SECRET_KEY=os.environ.get('SECRET_KEY') or TEST_SECRET,
            SMS_PROVIDER='file',
            SMS_DAILY_CAP_PER_NUMBER='1000',
            PYTHONUNBUFFERED='1',
        )
        var_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open('wb') as out:
            self.process = subprocess.Popen(
                [sys.executable, '-m', 'app.jobs'],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors='replace')

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def outbox_keys(var_dir: Path) -> list[str]:
    path = var_dir / 'sms-outbox.jsonl'
    if not path.exists():
        return []
    return [json.loads(line)['key'] for line in path.read_text(encoding='utf-8').splitlines() if line.strip()]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.alive(), f'the worker died while waiting for {what}:\n{worker.output()[-5000:]}'
        assert time.monotonic() < deadline, f'not in time: {what}\n{worker.output()[-5000:]}'
        time.sleep(0.02)


async def _queue_texts(db_url: str, hall_id: int, batch: str, count: int) -> list[str]:
    """`count` SMS outbox rows, each to its own citizen's phone; their dedupe keys."""
    cipher = FieldCipher({'k1': (os.environ.get('SECRET_KEY') or TEST_SECRET).encode()}, 'k1')
    db = Database(db_url)
    keys = []
    try:
        async with db.session() as s, s.begin():
            for n in range(count):
                phone = f'138{n:08d}'
                citizen = Citizen(phone_enc=cipher.encrypt(phone, context='citizen.phone'), created_at=utcnow())
                s.add(citizen)
                await s.flush()
                key = f'restart-{batch}-{n}'
                await notifications.add(
                    s,
                    hall_id=hall_id,
                    key=key,
                    kind='called',
                    message=message(Template.CALLED, number=f'A{n:03d}', window=1),
                    now=utcnow(),
                    citizen_id=citizen.id,
                    channels=(SMS,),
                )
                keys.append(f'{key}:{SMS}')
    finally:
        await db.dispose()
    return keys


def queue_texts(db_url: str, hall_id: int, batch: str, count: int = ROWS_PER_BATCH) -> list[str]:
    return run_coroutine(lambda: _queue_texts(db_url, hall_id, batch, count))


async def _kick(redis_url: str) -> None:
    """What the app does when it writes outbox rows: enqueue a delivery job (the worker's cron runs it anyway)."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=hall_queue('main'))
    try:
        await pool.enqueue_job('deliver_notifications')
    finally:
        await pool.aclose()


def kick(redis_url: str) -> None:
    run_coroutine(lambda: _kick(redis_url))


async def _unsent(db_url: str) -> list[tuple[str, str]]:
    db = Database(db_url)
    try:
        async with db.read_session() as s:
            rows = await s.execute(
                select(Notification.dedupe_key, Notification.status).where(col(Notification.status) != 'sent')
            )
            return [(key, status) for key, status in rows.all()]
    finally:
        await db.dispose()


def unsent(db_url: str) -> list[tuple[str, str]]:
    return run_coroutine(lambda: _unsent(db_url))


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(data_dir=tmp_path / 'redis').start()
    yield server
    server.stop()


def test_the_worker_process_sends_every_text_once_across_a_redis_restart_in_the_middle_of_delivery(
    tmp_path: Path, persistent_redis: RedisServer
) -> None:
    prepared = prepare_database(sqlite_url(tmp_path / 'hall.db'))
    assert prepared.small_hall is not None
    hall = prepared.small_hall.hall_id
    var_dir = tmp_path / 'var'
    worker = WorkerProcess(prepared.url, persistent_redis.url, var_dir)
    try:
        expected = queue_texts(prepared.url, hall, 'before')
        kick(persistent_redis.url)
        wait_for(lambda: len(outbox_keys(var_dir)) >= ROWS_PER_BATCH, 60, 'the first texts', worker)

        expected += queue_texts(prepared.url, hall, 'during', 200)
        kick(persistent_redis.url)
        wait_for(lambda: len(outbox_keys(var_dir)) > ROWS_PER_BATCH, 30, 'delivery to begin', worker)
        persistent_redis.stop()
        sent_at_stop = len(outbox_keys(var_dir))
        assert sent_at_stop < ROWS_PER_BATCH + 200, 'in the middle of delivering the 200 (50 a round)'
        expected += queue_texts(prepared.url, hall, 'outage')  # written while Redis is away
        time.sleep(3)
        persistent_redis.start()
        expected += queue_texts(prepared.url, hall, 'after')
        kick(persistent_redis.url)

        wait_for(lambda: not unsent(prepared.url), 150, 'every row sent', worker)
        keys = outbox_keys(var_dir)
        assert sorted(keys) == sorted(expected), 'every text sent, none twice'
        assert 'already sent, not sent again' not in worker.output(), 'the outbox never even tried twice'
        assert 'jobs: Redis unreachable' in worker.output() and 'jobs: Redis reachable again' in worker.output()
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-5000:]


def test_the_worker_process_started_while_redis_is_down_waits_and_delivers_once_it_is_up(
    tmp_path: Path, persistent_redis: RedisServer
) -> None:
    prepared = prepare_database(sqlite_url(tmp_path / 'hall.db'))
    assert prepared.small_hall is not None
    var_dir = tmp_path / 'var'
    persistent_redis.stop()
    expected = queue_texts(prepared.url, prepared.small_hall.hall_id, 'waiting')
    worker = WorkerProcess(prepared.url, persistent_redis.url, var_dir)
    try:
        wait_for(lambda: 'jobs: Redis unreachable' in worker.output(), 30, 'the worker to notice', worker)
        time.sleep(2)
        assert outbox_keys(var_dir) == [], 'no round runs without Redis'
        persistent_redis.start()
        wait_for(lambda: not unsent(prepared.url), 60, 'every row sent', worker)
        assert sorted(outbox_keys(var_dir)) == sorted(expected)
    finally:
        code = worker.stop()
    assert code == 0, worker.output()[-5000:]


async def test_stopping_the_worker_lets_a_running_job_finish_instead_of_cancelling_it(
    persistent_redis: RedisServer,
) -> None:
    """arq's close cancels running jobs: a delivery cut between the provider's answer and marking its row sent
    would send that row again. A stop waits for the running job and then ends without an error."""
    started, finished = asyncio.Event(), []

    async def slow_round(ctx: dict[str, object]) -> int:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(1)
        return 1

    runner = ArqJobs(
        {}, persistent_redis.url, hall_code='main', queue_name='test:stop', periodic=(Periodic(slow_round, 1),)
    )
    await runner.start()
    await asyncio.wait_for(started.wait(), 20)
    await runner.stop()
    assert finished == [1]
