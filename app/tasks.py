"""Stopping a background task: one shape for every part that owns one."""

from __future__ import annotations

import asyncio
import contextlib


async def stop(task: asyncio.Task[object] | None) -> None:
    """Cancel `task` and wait until it has ended, so nothing it does outlives its owner's stop().

    Its cancellation is expected and swallowed; any other error it ends with propagates. A task that
    already ended is only awaited (its result, or its error, is collected).
    """
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
