"""A stop must end a background task even when the code it awaits swallows the cancellation.

A job that turned its cancellation into an error of its own made the jobs loop log it and wait again, so
stop() never returned: an app's teardown hung a whole test run (tests/test_api.py, on CI).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app import tasks
from app.jobs import LocalJobs, Periodic


class Swallower:
    """A job that, cancelled while it works, raises an ordinary error instead (as some libraries do)."""

    def __init__(self) -> None:
        self.working = asyncio.Event()
        self.rounds = 0

    async def job(self, ctx: dict[str, Any]) -> None:
        self.rounds += 1
        self.working.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError('connection closed while the job ran') from None


async def test_jobs_stop_while_a_job_swallows_its_cancellation() -> None:
    swallower = Swallower()

    async def swallow(ctx: dict[str, Any]) -> None:
        await swallower.job(ctx)

    jobs = LocalJobs({}, periodic=(Periodic(swallow, every_seconds=3600),))
    await jobs.start()
    async with asyncio.timeout(5):
        await swallower.working.wait()
        await jobs.stop()
    assert swallower.rounds == 1


async def test_a_task_that_swallows_cancellation_is_cancelled_again(caplog: pytest.LogCaptureFixture) -> None:
    wake = asyncio.Event()
    swallowed: list[str] = []

    async def stubborn() -> None:
        try:
            await wake.wait()
        except asyncio.CancelledError:
            swallowed.append('first cancel')
        await wake.wait()  # and waits again, as the jobs loop did

    task = asyncio.get_running_loop().create_task(stubborn(), name='stubborn')
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await tasks.stop(task)
    assert task.cancelled() and swallowed == ['first cancel']
    assert 'stubborn did not end when cancelled' in caplog.text


async def test_stop_ends_the_jobs_loop_whenever_a_kick_or_the_timer_wakes_it() -> None:
    async def tick(ctx: dict[str, Any]) -> None:
        ctx['rounds'] += 1

    for round_ in range(200):
        jobs = LocalJobs({'rounds': 0}, periodic=(Periodic(tick, every_seconds=1),))
        await jobs.start()
        for _ in range(round_ % 4):
            await asyncio.sleep(0)
        jobs.kick('tick')
        for _ in range(round_ % 7):
            await asyncio.sleep(0)
        async with asyncio.timeout(5):
            await jobs.stop()
