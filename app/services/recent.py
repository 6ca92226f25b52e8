"""A few seconds of memory for expensive reads, so many managers opening /manager share one computation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar('T')


class Recent(Generic[T]):
    """Results by key for `seconds`; callers asking while one is being computed wait for that one."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._done: dict[Hashable, tuple[float, T]] = {}
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]], *, fresh: bool = False) -> T:
        if not fresh and key in self._done and self.clock() - self._done[key][0] < self.seconds:
            return self._done[key][1]
        if key in self._running:
            return await asyncio.shield(self._running[key])
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            value = await compute()
        except BaseException as error:
            if isinstance(error, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(error)
                future.exception()  # retrieved: nobody may be waiting
            raise
        else:
            self._done[key] = (self.clock(), value)
            future.set_result(value)
            return value
        finally:
            del self._running[key]

    def clear(self) -> None:
        self._done.clear()
