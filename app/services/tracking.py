"""Following a ticket or case by its tracking code, without logging in: code plus a second factor.

The code (on the ticket's QR) is unguessable, but a ticket slip can be lost or photographed, so the
page also asks for the phone's last 4 digits, or the ticket number when no phone was given. A wrong
answer and an unknown code get the same refusal, and failures per code are limited, so neither the
code's existence nor the 10,000 possible digit combinations can be probed. The limiter lives in
the process (one NiceGUI worker per process; sticky sessions keep a browser on one process).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import select

from app.clock import utcnow
from app.db import Database
from app.models.cases import Case
from app.models.people import Citizen
from app.models.ticket import Ticket
from app.security.crypto import FieldCipher
from app.services import eta
from app.services.errors import Forbidden
from app.services.limits import Limit, Limits
from app.services.live_queue import LiveQueue

GUESSES_PER_CODE = Limit(
    'track:code',
    5,
    dt.timedelta(minutes=15),
    'tracking_locked',
    '该查询码尝试次数过多 / too many attempts for this code',
)
GUESSES_PER_ADDRESS = Limit(
    'track:address',
    30,
    dt.timedelta(minutes=15),
    'tracking_locked',
    '查询尝试次数过多 / too many attempts from here',
)


def refused() -> Forbidden:
    return Forbidden('tracking_refused', '查询码或验证信息不正确 / the code or the check does not match')


@dataclass(frozen=True)
class Tracked:
    """What an unlocked tracking code gives access to: one ticket (and its cases) or one case."""

    code: str
    ticket_id: int | None
    case_id: int | None
    citizen_id: int | None
    service_id: int
    number: str


class TrackingService:
    def __init__(
        self, db: Database, cipher: FieldCipher, limits: Limits, *, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.limits = limits
        self.clock = clock

    async def unlock(self, code: str, answer: str, *, address: str = '') -> Tracked:
        """The tracked ticket or case when `answer` is right; the same refusal for a wrong answer or unknown code.

        Wrong answers count per code and per address (app/services/limits.py: across processes and restarts),
        so neither a code's 10,000 possible answers nor many codes from one place can be tried.
        """
        code, answer = code.strip()[:64], answer.strip().upper()[:16]
        await self.limits.check(GUESSES_PER_CODE, code)
        await self.limits.check(GUESSES_PER_ADDRESS, address)
        tracked, expected_hash, expected_number = await self._find(code)
        given_hash = self.cipher.lookup(answer[-4:]) if answer[-4:].isdigit() else ''
        if expected_hash is not None:
            ok = bool(given_hash) and hmac.compare_digest(given_hash, expected_hash)
        else:
            ok = bool(expected_number) and hmac.compare_digest(answer.encode(), expected_number.encode())
        if tracked is None or not ok:
            await self.limits.hit(GUESSES_PER_CODE, code)
            await self.limits.hit(GUESSES_PER_ADDRESS, address)
            raise refused()
        return tracked

    async def _find(self, code: str) -> tuple[Tracked | None, str | None, str]:
        """The tracked thing and what proves it: the phone's last-4 hash, else the ticket number."""
        async with self.db.read_session() as s:
            ticket = (await s.execute(select(Ticket).where(Ticket.code == code))).scalar_one_or_none()
            case = None
            if ticket is None:
                case = (await s.execute(select(Case).where(Case.code == code))).scalar_one_or_none()
                if case is not None and case.ticket_id is not None:
                    ticket = await s.get(Ticket, case.ticket_id)
            if ticket is None and case is None:
                return None, None, ''
            citizen_id = ticket.citizen_id if ticket else case.citizen_id if case else None
            citizen = await s.get(Citizen, citizen_id) if citizen_id else None
        tracked = Tracked(
            code=code,
            ticket_id=ticket.id if ticket else None,
            case_id=case.id if case else None,
            citizen_id=citizen_id,
            service_id=ticket.service_id if ticket else case.service_id if case else 0,
            number=ticket.number if ticket else '',
        )
        phone_hash = citizen.phone_last4_hash if citizen is not None else None
        return tracked, phone_hash, tracked.number


@dataclass(frozen=True)
class Position:
    ahead: int
    estimate: eta.Estimate | None


def live_position(
    live: LiveQueue, ticket_id: int, service_id: int, *, now: dt.datetime, cap: dt.timedelta
) -> Position | None:
    """Where a waiting ticket stands, from the in-memory queues (no query: pages recompute it on every push)."""
    mine = live.waiting.get(service_id, {}).get(ticket_id)
    if mine is None:
        return None
    ahead = live.ahead_of(mine, service_id, now=now, cap=cap)
    return Position(ahead, live.estimate(service_id, ahead))
