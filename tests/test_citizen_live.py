"""/me/live's pages in one process (twin/citizen_live.py), without a server: which events re-read which citizen's
page, and which end it. The sockets are stand-ins that record what they were sent and how they were closed; one
test takes real tickets to show the events name the citizen a page's linked account is."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Collection
from typing import cast
from zoneinfo import ZoneInfo

from app.bus import InProcessBus
from app.db import Database
from app.events import CaseStepChanged, CitizenSignedOut, TicketIssued, TicketSnapshot
from app.fanout import LISTEN_ONLY
from app.models import TicketCreate
from app.services.channels import RecordingSmsGateway
from app.services.citizen_home import MyCase, MyTicket, Today
from app.services.principal import Principal
from app.services.queue import QueueService
from app.settings import Settings
from tests.callers import DESK
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.test_citizen_accounts import service_for as accounts_for
from tests.test_citizen_accounts import signed_in
from twin.citizen_live import SESSION_ENDED, CitizenLive, CitizenPage
from twin.ticket_feed import TicketFeed

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


class Phone:
    """An accepted socket: what it was sent, how it was closed; it says something only when told to."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []
        self.closed: int | None = None
        self.says: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def send_text(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def receive(self) -> dict[str, object]:
        return await self.says.get()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = code

    def homes(self) -> list[dict[str, object]]:
        return [frame for frame in self.sent if frame['type'] == 'home']


def done_ticket(ticket_id: int) -> MyTicket:
    """A ticket of the day that is no longer open (its page holds no channel for it)."""
    return MyTicket(
        id=ticket_id,
        number=f'A{ticket_id:03d}',
        code=f'code-{ticket_id}',
        status='completed',
        service_id=1,
        service_name='事项甲',
        service_name_en='Service A',
        window_number=None,
        taken_at=NOW,
        awaiting_arrival=False,
        online=True,
    )


class Files:
    """Each account's day as the service would read it, and the sessions that ended."""

    def __init__(self) -> None:
        self.tickets: dict[int, list[MyTicket]] = {}
        self.cases: dict[int, list[MyCase]] = {}
        self.ended_sessions: set[int] = set()
        self.reads = 0

    async def today(self, caller: Principal) -> Today:
        self.reads += 1
        account = caller.require_account()
        return Today(account, self.tickets.get(account, []), self.cases.get(account, []))

    async def ended(self, session_ids: Collection[int]) -> set[int]:
        return set(session_ids) & self.ended_sessions


def issued(ticket_id: int, account_id: int | None, citizen_id: int | None = None) -> TicketIssued:
    snapshot = TicketSnapshot(
        id=ticket_id,
        number=f'A{ticket_id:03d}',
        service_id=1,
        service_code='SVC-A',
        status='waiting',
        priority_class='normal',
        queued_at=NOW,
        taken_at=NOW,
        account_id=account_id,
        citizen_id=citizen_id,
    )
    return TicketIssued(hall_id=1, payload=snapshot)


def step(case_id: int) -> CaseStepChanged:
    return CaseStepChanged(hall_id=1, case_id=case_id, service_code='SVC-A', status='active', case_status='open')


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def open_page(
    live: CitizenLive, session_id: int, account_id: int, citizen_id: int | None = None
) -> tuple[Phone, asyncio.Task[None]]:
    phone = Phone()
    page = CitizenPage(session_id, Principal.account(account_id, citizen_id=citizen_id))

    async def serve() -> None:
        async with live.opened(page):
            await live.serve(page, phone)

    task = asyncio.get_running_loop().create_task(serve())
    await settle()
    return phone, task


def live_for(files: Files) -> CitizenLive:
    tickets = TicketFeed(cast(QueueService, None))  # no open ticket here: the feed is never asked for one
    return CitizenLive(files.today, files.ended, tickets, tz=ZoneInfo('Asia/Shanghai'), english=False, period=60)


async def test_a_ticket_of_the_account_or_a_step_of_its_case_re_reads_only_that_citizens_page() -> None:
    files = Files()
    files.cases[2] = [
        MyCase(id=70, code='case-70', status='open', service_name='事项甲', service_name_en='A', due_at=None)
    ]
    live = live_for(files)
    mine, mine_task = await open_page(live, session_id=1, account_id=1)
    theirs, theirs_task = await open_page(live, session_id=2, account_id=2)
    assert [len(mine.homes()), len(theirs.homes())] == [1, 1]
    await live.on_event(issued(5, account_id=None))  # somebody's ticket at the kiosk
    await live.on_event(step(71))  # another person's case
    assert [len(mine.homes()), len(theirs.homes())] == [1, 1] and files.reads == 2
    files.tickets[1] = [done_ticket(6)]
    await live.on_event(issued(6, account_id=1))
    await settle()
    assert [len(mine.homes()), len(theirs.homes())] == [2, 1]
    assert mine.homes()[-1]['tickets'] == [
        {
            'id': 6,
            'number': 'A006',
            'code': 'code-6',
            'service': '事项甲',
            'status': 'completed',
            'window': None,
            'taken': '10:00',
            'arrival': False,
        }
    ]
    await live.on_event(step(70))
    await settle()
    assert [len(mine.homes()), len(theirs.homes())] == [2, 2]
    assert theirs.homes()[-1]['cases'] == [
        {'id': 70, 'code': 'case-70', 'service': '事项甲', 'status': 'open', 'due': None}
    ]
    for task in (mine_task, theirs_task):
        task.cancel()
    await asyncio.gather(mine_task, theirs_task, return_exceptions=True)
    assert live.pages == set()


async def test_a_ticket_issued_for_the_linked_citizen_reaches_their_page_at_once_and_no_other() -> None:
    files = Files()
    live = live_for(files)
    linked, linked_task = await open_page(live, session_id=1, account_id=1, citizen_id=30)
    unlinked, unlinked_task = await open_page(live, session_id=2, account_id=2)
    await live.on_event(issued(8, account_id=None, citizen_id=31))  # another citizen's ticket at the kiosk
    assert [len(linked.homes()), len(unlinked.homes())] == [1, 1] and files.reads == 2
    files.tickets[1] = [done_ticket(9)]
    await live.on_event(issued(9, account_id=None, citizen_id=30))  # theirs, taken at the kiosk with the ID card
    await settle()
    assert [len(linked.homes()), len(unlinked.homes())] == [2, 1] and files.reads == 3
    assert [ticket['id'] for ticket in linked.homes()[-1]['tickets']] == [9]  # type: ignore[union-attr]
    for task in (linked_task, unlinked_task):
        task.cancel()
    await asyncio.gather(linked_task, unlinked_task, return_exceptions=True)


async def test_a_ticket_issued_for_a_citizen_names_them_in_its_event(
    queue: QueueService, hall: SmallHall, bus: InProcessBus
) -> None:
    """What the test above relies on: a desk's ticket for an ID card carries its citizen, a plain one none."""
    heard: list[TicketIssued] = []
    bus.subscribe(heard.append, TicketIssued)
    elder = make_id(dt.date(1950, 3, 8), sequence='421')
    view = await queue.take_ticket(TicketCreate(service_code=hall.service_a, id_number=elder), caller=DESK)
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await bus.drain()
    assert view.ticket.citizen_id is not None
    assert [event.payload.citizen_id for event in heard] == [view.ticket.citizen_id, None]


async def test_a_sign_out_ends_its_sessions_pages_at_once_and_the_check_ends_revoked_ones() -> None:
    files = Files()
    live = live_for(files)
    bus = InProcessBus()
    await live.start(bus)
    try:
        out, out_task = await open_page(live, session_id=1, account_id=1)
        out_too, out_too_task = await open_page(live, session_id=1, account_id=1)  # the same phone, a second tab
        revoked, revoked_task = await open_page(live, session_id=2, account_id=2)
        kept, kept_task = await open_page(live, session_id=3, account_id=3)
        await bus.publish(CitizenSignedOut(hall_id=1, session_id=1))
        await bus.drain()
        await asyncio.gather(out_task, out_too_task)
        assert (out.closed, out_too.closed, revoked.closed, kept.closed) == (SESSION_ENDED, SESSION_ENDED, None, None)
        files.ended_sessions.add(2)
        await live.check()
        await revoked_task
        assert (revoked.closed, kept.closed) == (SESSION_ENDED, None)
        await kept.says.put({'type': 'websocket.receive', 'text': '{"type":"home"}'})  # a page that talks
        await kept_task
        assert kept.closed == LISTEN_ONLY and live.pages == set()
    finally:
        await live.stop(bus)
        await bus.stop()


async def test_ending_a_lost_phones_sign_in_from_another_closes_its_open_page_at_once(
    db: Database, settings: Settings, clock: FakeClock, bus: InProcessBus
) -> None:
    sms = RecordingSmsGateway()
    accounts = accounts_for(db, settings, clock, sms, bus)
    lost, this = await signed_in(accounts, sms), await signed_in(accounts, sms)
    lost_session, this_session = await accounts.session(lost), await accounts.session(this)
    account_id = this_session.principal.require_account()
    live = live_for(Files())
    await live.start(bus)
    try:
        lost_phone, lost_task = await open_page(live, lost_session.session_id, account_id)
        this_phone, this_task = await open_page(live, this_session.session_id, account_id)
        await accounts.end_device(this, lost_session.session_id, this_session.principal)
        await bus.drain()
        await lost_task
        assert (lost_phone.closed, this_phone.closed) == (SESSION_ENDED, None)
        await this_phone.says.put({'type': 'websocket.receive', 'text': 'bye'})
        await this_task
    finally:
        await live.stop(bus)
