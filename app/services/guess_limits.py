"""Guessing limits: a short code (a kiosk pairing code) stays safe only if nobody may try many of them.

A service that checks such a code takes a limiter: any object with `async hit(limit, subject)` that
counts one attempt by `subject` (a client address) and raises `TooManyRequests` (HTTP 429, with the
seconds until the next attempt is allowed) once the subject has used up `limit.attempts` within
`limit.window`. `MemoryLimits` counts in this process's memory, in a sliding window; with several
processes each keeps its own count, so a limiter counted in Redis or the database, with the same
`hit`, takes its place there.
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


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window: dt.timedelta


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, code: str, message: str, *, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class Limiter(Protocol):
    async def hit(self, limit: Limit, subject: str) -> None: ...


class MemoryLimits:
    """Attempts per (limit, subject) in a sliding window; at most `max_subjects` subjects are remembered."""

    def __init__(self, *, clock: Callable[[], dt.datetime] = utcnow, max_subjects: int = 10_000) -> None:
        self.clock = clock
        self.max_subjects = max_subjects
        self._hits: dict[tuple[str, str], deque[dt.datetime]] = {}

    async def hit(self, limit: Limit, subject: str) -> None:
        now = self.clock()
        key = (limit.name, subject)
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - limit.window:
            hits.popleft()
        self._hits[key] = hits  # re-inserted: the dict's order is least recently hit first
        if len(hits) >= limit.attempts:
            wait = math.ceil((hits[0] + limit.window - now).total_seconds())
            raise TooManyRequests(
                'too_many_attempts',
                f'尝试次数过多，请 {wait} 秒后再试 / too many attempts: try again in {wait} s',
                retry_after=max(wait, 1),
            )
        hits.append(now)
        self._forget_oldest()

    def _forget_oldest(self) -> None:
        """Many addresses at once must not grow memory without bound: the least recently seen go first."""
        while len(self._hits) > self.max_subjects:
            del self._hits[next(iter(self._hits))]
