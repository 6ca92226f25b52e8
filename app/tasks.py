"""Background tasks: one way to stop them, and one to repeat a check, for every part that owns one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

RECANCEL_SECONDS = 1.0  # how long a cancelled task may take to end before it is cancelled again


async def stop(task: asyncio.Task[object] | None) -> None:
    """Cancel `task` and wait until it has ended, so nothing it does outlives its owner's stop().

    Its cancellation is expected and swallowed; any other error it ends with propagates. A task that
    already ended is only awaited (its result, or its error, is collected). Code the task awaits may swallow
    a cancellation (a library that turns it into its own error, which the task logs and goes on): the task
    is cancelled again until it ends, or a stop could wait for ever.
    """
    if task is None:
        return
    task.cancel()
    while not (await asyncio.wait({task}, timeout=RECANCEL_SECONDS))[0]:
        log.warning('task %s did not end when cancelled; cancelling it again', task.get_name())
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def every(period: float, check: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `check` every `period` seconds for ever; a failure is logged once, and so is the recovery after it."""
    failing = False
    while True:
        await asyncio.sleep(period)
        try:
            await check()
        except Exception:
            if not failing:
                log.exception('%s failed; retrying every %s s', what, period)
            failing = True
        else:
            if failing:
                log.info('%s works again', what)
            failing = False
