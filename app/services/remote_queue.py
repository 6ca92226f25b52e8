"""Remote tickets (远程取号): the rules of a ticket taken on the phone, and the "please come now" sweep.

A citizen signed in on the phone takes a number for today (app/services/ticket_access.py says who may);
it waits like any other ticket (it counts in positions and estimates), but its citizen is not in the hall
yet (`awaiting_arrival`). When the estimate says it is time to leave (travel minutes plus a margin), one
text goes out ("please come now"). Arrival is confirmed by the hall's signed entrance code or at a paired
kiosk; a ticket whose turn comes before that is parked, not lost, and waits in its old place once its
citizen arrives (app/services/queue.py holds those transitions, under the queue's locks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models.citizen_account import CitizenAccount
from app.models.hall import ServiceItem
from app.models.ticket import OPEN_STATUSES, Ticket, TicketStatus
from app.security import codes
from app.services import notifications
from app.services.deps import Deps
from app.services.errors import Conflict, Invalid, Unauthorized
from app.services.hall_hours import CLOSE_HOUR, OPEN_HOUR
from app.services.messages import Template, message
from app.services.uow import Service
from app.settings import Settings

if TYPE_CHECKING:
    from app.services.queue import QueueService  # the queue imports these rules; the sweep uses its estimates

TICKET_QR_KIND = 'track'  # a ticket's own QR (HT1.track.<tracking code>.<signature>): the kiosk scanner reads it
ENTRANCE_KIND = 'entr'  # the signed payload of a hall's entrance code: HT1.entr.<hall id>.<signature>
COME_NOW_KIND = 'come_now'
NOT_ARRIVED_KIND = 'not_arrived'
NOT_ARRIVED_REASON = 'not_arrived'


def entrance_code(secret: bytes, hall_id: int) -> str:
    """The hall's entrance code (printed at the door): the phone that scans it confirms its citizen arrived."""
    return codes.sign(secret, ENTRANCE_KIND, str(hall_id))


def ticket_qr(secret: bytes, tracking_code: str) -> str:
    """What the phone shows for its ticket: the kiosk's scanner confirms arrival with it."""
    return codes.sign(secret, TICKET_QR_KIND, tracking_code)


def entrance_hall(secret: bytes, payload: str, hall_id: int) -> None:
    """Refuse anything but this hall's own entrance code: a forged one, or another hall's."""
    if codes.verify(secret, ENTRANCE_KIND, payload) != str(hall_id):
        raise Invalid('forged_code', text='forged_code.other_hall')


def require_hall_hours(now: dt.datetime, tz: ZoneInfo) -> None:
    """A remote ticket is for today, while the hall issues numbers (08:00-18:00 hall time)."""
    local = now.astimezone(tz)
    if not OPEN_HOUR <= local.hour < CLOSE_HOUR:
        raise Conflict('remote_hall_closed', opens=OPEN_HOUR, closes=CLOSE_HOUR)


async def check_remote_take(
    s: AsyncSession, *, account_id: int, service: ServiceItem, day: dt.date, settings: Settings
) -> None:
    """One live remote ticket per account and service, and at most `remote_per_day` a day.

    The account's row is locked first, so two phones of one account taking at once are serialised on both
    engines (SQLite's transactions are serial already)."""
    locked = await s.execute(select(CitizenAccount.id).where(CitizenAccount.id == account_id).with_for_update())
    if locked.scalar_one_or_none() is None:
        raise Unauthorized('citizen_sign_in_required')
    live = (
        await s.execute(
            select(Ticket.number).where(
                Ticket.account_id == account_id,
                Ticket.service_id == service.id,
                col(Ticket.status).in_(OPEN_STATUSES),
            )
        )
    ).first()
    if live is not None:
        raise Conflict('remote_ticket_live', number=live[0], name=service.name)
    taken = (
        await s.execute(
            select(func.count()).select_from(Ticket).where(Ticket.account_id == account_id, Ticket.day == day)
        )
    ).scalar_one()
    if taken >= settings.remote_per_day:
        raise Conflict('remote_daily_cap', limit=settings.remote_per_day)


async def notify_not_arrived(s: AsyncSession, ticket: Ticket, *, now: dt.datetime) -> None:
    """Tell the citizen their turn came while they were away, and that the number is kept."""
    await notifications.add(
        s,
        hall_id=ticket.hall_id,
        key=f'{NOT_ARRIVED_KIND}:{ticket.id}',
        kind=NOT_ARRIVED_KIND,
        message=message(Template.NOT_ARRIVED, number=ticket.number),
        now=now,
        ticket_id=ticket.id,
        account_id=ticket.account_id,
    )


@dataclass(frozen=True)
class ComeNowReport:
    checked: int
    sent: int


class RemoteQueue(Service):
    """The "please come now" sweep: a periodic job (app/jobs.py), in-process or on arq, the same function."""

    def __init__(self, deps: Deps, queue: QueueService) -> None:
        super().__init__(deps)
        self.queue = queue

    @property
    def lead_minutes(self) -> int:
        return self.settings.remote_travel_minutes + self.settings.remote_margin_minutes

    async def sweep_come_now(self) -> ComeNowReport:
        """Text each waiting remote ticket whose estimate (the one /track shows) is within the travel time.

        Once per ticket, across processes: `come_now_at` is set by a conditional update, and only the
        process whose update took it writes the notice (its dedupe key would stop a second one anyway)."""
        now = self.clock()
        async with self.db.read_session() as s:
            pending = list(
                (
                    await s.execute(
                        select(Ticket.id).where(
                            Ticket.hall_id == self.queue.hall_id,
                            Ticket.status == TicketStatus.WAITING,
                            col(Ticket.awaiting_arrival).is_(True),
                            col(Ticket.come_now_at).is_(None),
                        )
                    )
                ).scalars()
            )
        sent = 0
        for ticket_id in pending:
            view = await self.queue.ticket_view_by_id(ticket_id)
            if view.estimate is None or view.estimate.minutes > self.lead_minutes:
                continue
            sent += await self._come_now(ticket_id, view.service.name, round(view.estimate.minutes), now)
        return ComeNowReport(len(pending), sent)

    async def _come_now(self, ticket_id: int, service_name: str, minutes: int, now: dt.datetime) -> int:
        async with self._transaction() as uow:
            s = uow.session
            taken = await s.execute(
                update(Ticket)
                .where(
                    col(Ticket.id) == ticket_id,
                    col(Ticket.come_now_at).is_(None),
                    col(Ticket.awaiting_arrival).is_(True),
                    Ticket.status == TicketStatus.WAITING,
                )
                .values(come_now_at=now)
                .returning(Ticket.number, Ticket.hall_id, Ticket.account_id)
            )
            row = taken.first()
            if row is None:
                return 0
            number, hall_id, account_id = row
            await notifications.add(
                s,
                hall_id=hall_id,
                key=f'{COME_NOW_KIND}:{ticket_id}',
                kind=COME_NOW_KIND,
                message=message(Template.COME_NOW, service=service_name, number=number, minutes=max(minutes, 1)),
                now=now,
                ticket_id=ticket_id,
                account_id=account_id,
            )
        return 1
