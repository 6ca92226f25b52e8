"""Guessing limits: a short code (a kiosk pairing code) stays safe only if nobody may try many of them.

A service that checks such a code takes a limiter: `async check(limit, subject)` refuses at once
when `subject` (a client address) has used up `limit.max` attempts within `limit.window`, without
counting; `async hit(limit, subject)` counts one and returns the count. A refusal is
`TooManyRequests`: HTTP 429 with the seconds until the next attempt is allowed.

`MemoryLimits` counts in this process's memory, in a sliding window. With several processes each
keeps its own count, so a limiter counted in Redis or the database, with the same `Limit`, `check`,
`hit` and refusal, takes its place there.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from app.clock import utcnow
from app.services.errors import DomainError


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, code: str, message: str, *, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True)
class Limit:
    """At most `max` attempts per subject within `window`."""

    name: str
    max: int
    window: dt.timedelta
    code: str
    message: str

    def refusal(self, retry_after: int) -> TooManyRequests:
        minutes = max(1, math.ceil(retry_after / 60))
        return TooManyRequests(
            self.code, f'{self.message}（请{minutes}分钟后再试 / try again in {minutes} min）', retry_after=retry_after
        )


class Limiter(Protocol):
    async def check(self, limit: Limit, subject: str) -> None: ...

    async def hit(self, limit: Limit, subject: str) -> int: ...


class MemoryLimits:
    """Attempts per (limit, subject) in a sliding window; at most `max_subjects` subjects are remembered."""

    def __init__(self, *, clock: Callable[[], dt.datetime] = utcnow, max_subjects: int = 10_000) -> None:
        self.clock = clock
        self.max_subjects = max_subjects
        self._hits: dict[tuple[str, str], deque[dt.datetime]] = {}

    async def check(self, limit: Limit, subject: str) -> None:
        """Refuse at once when the subject has used up its attempts, without counting this one."""
        now = self.clock()
        hits = self._recent(limit, subject, now)
        if len(hits) >= limit.max:
            raise limit.refusal(math.ceil((hits[0] + limit.window - now).total_seconds()))

    async def hit(self, limit: Limit, subject: str) -> int:
        """Count one attempt and return the count; refuse it (TooManyRequests) when it is over the limit."""
        await self.check(limit, subject)
        hits = self._recent(limit, subject, self.clock())
        hits.append(self.clock())
        self._forget_oldest()
        return len(hits)

    def _recent(self, limit: Limit, subject: str, now: dt.datetime) -> deque[dt.datetime]:
        """The subject's attempts still inside the window (re-inserted: the dict's order is least recent first)."""
        key = (limit.name, subject)
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - limit.window:
            hits.popleft()
        self._hits[key] = hits
        return hits

    def _forget_oldest(self) -> None:
        """Many addresses at once must not grow memory without bound: the least recently seen go first."""
        while len(self._hits) > self.max_subjects:
            del self._hits[next(iter(self._hits))]
