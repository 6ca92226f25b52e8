"""app.tasks.stop: a stopped task has ended when stop() returns, and only its cancellation is swallowed."""

from __future__ import annotations

import asyncio

import pytest

from app import tasks


async def test_a_running_task_is_cancelled_and_has_ended_when_stop_returns() -> None:
    cleaned: list[str] = []

    async def work() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits must finish before stop() returns
            cleaned.append('done')

    task = asyncio.get_running_loop().create_task(work())
    await asyncio.sleep(0)
    await tasks.stop(task)
    assert task.cancelled()
    assert cleaned == ['done']


async def test_no_task_is_nothing_to_stop() -> None:
    await tasks.stop(None)


async def test_a_task_that_already_finished_is_left_as_it_ended() -> None:
    async def work() -> int:
        return 7

    task = asyncio.get_running_loop().create_task(work())
    await task
    await tasks.stop(task)
    assert not task.cancelled()
    assert task.result() == 7


async def test_an_error_the_task_ends_with_is_not_swallowed() -> None:
    async def work() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError('broke while stopping') from None

    task = asyncio.get_running_loop().create_task(work())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match='broke while stopping'):
        await tasks.stop(task)
