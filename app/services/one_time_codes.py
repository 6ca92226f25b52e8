"""Six-digit one-time codes that hold across processes and restarts without storing any code.

Why no stored code: a code kept in a table (or in the outbox row of its SMS) could be read by whoever
reads that table, staff included. Here a code is computed: HMAC(key, subject, time slot, n), where n
counts the codes issued for the subject in that slot (the limits' counter store: Redis or the
database). Only the newest code of the current or previous slot is accepted (so a code lives 5 to
10 minutes), and redeeming it counts its use, so it works once. Wrong answers are limited by the caller.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Callable

from app.clock import utcnow
from app.services.limits import CounterStore

SLOT = dt.timedelta(minutes=5)
LIFETIME_MINUTES = 10  # at most: the slot it was issued in and the next one
DIGITS = 6


class OneTimeCodes:
    def __init__(self, store: CounterStore, key: bytes, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.store = store
        self._key = key
        self.clock = clock

    def _slot(self) -> int:
        return math.floor(self.clock().timestamp() / SLOT.total_seconds())

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def _issued_key(self, subject: str, slot: int) -> str:
        return f'otp:n:{self._mac(subject)[:32]}:{slot}'

    def _code(self, subject: str, slot: int, n: int) -> str:
        number = int(self._mac(f'{subject}:{slot}:{n}'), 16) % 10**DIGITS
        return f'{number:0{DIGITS}d}'

    def _expiry(self, slot: int) -> tuple[int, dt.datetime]:
        ends = dt.datetime.fromtimestamp((slot + 2) * SLOT.total_seconds(), tz=dt.UTC)
        return max(1, math.ceil((ends - self.clock()).total_seconds())), ends

    async def issue(self, subject: str) -> str:
        """A new code for `subject`; it replaces the subject's earlier code of this slot."""
        slot = self._slot()
        ttl, ends = self._expiry(slot)
        n = await self.store.incr(self._issued_key(subject, slot), ttl=ttl, expires_at=ends)
        return self._code(subject, slot, n)

    async def redeem(self, subject: str, given: str) -> bool:
        """True once for the subject's live code; False for a wrong, old, expired or already used one."""
        given = given.strip()
        if len(given) != DIGITS or not given.isdigit():
            return False
        now_slot = self._slot()
        for slot in (now_slot, now_slot - 1):
            n = await self.store.get(self._issued_key(subject, slot))
            if n and hmac.compare_digest(self._code(subject, slot, n), given):
                ttl, ends = self._expiry(slot)
                used = await self.store.incr(f'{self._issued_key(subject, slot)}:used:{n}', ttl=ttl, expires_at=ends)
                return used == 1
        return False
