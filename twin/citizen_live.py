"""The live part of a signed-in citizen's /me/live: their tickets on the shared per-ticket channels, on one socket.

Why this shape: a citizen keeps the page open while they wait, so it must cost what /track's light page costs.
A page holds each open ticket of the day on that ticket's channel of the ticket feed (twin/ticket_feed.py), the
same serialised text every page of the ticket gets, tagged with the ticket on its way into the page's one outbox;
a citizen with two tickets listens to two shared channels and nothing is recomputed per page. What is personal
(which tickets, the open cases) is read once when the socket opens, and again only when an event concerns this
citizen: a ticket their account takes or books, one issued for the citizen the account is linked to (at a kiosk
or a desk: the event names the citizen, so other citizens' tickets cost no read), a step of one of their cases.
Frames, each one JSON text:

    {"type": "home", "tickets": [{"id": 7, "number": "A003", "service": "...", ...}], "cases": [...]}
    {"type": "ticket", "id": 7, "live": {"seq": 3, "status": "waiting", "window": null, "ahead": 4, "eta": 12}}

The page ends with its session: a sign-out (`CitizenSignedOut` from any process) at once, an expiry, an idle
timeout or a revocation at the next check (one query for every open page of the process each period); the
socket is then closed with `SESSION_ENDED` and the page says so. One check task per process, none per page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from zoneinfo import ZoneInfo

from app import tasks
from app.bus import Bus, Subscription
from app.events import CaseStepChanged, CitizenSignedOut, Event, TicketEventBase
from app.fanout import CLOSE_TIMEOUT, LISTEN_ONLY, QUEUE_LIMIT, TOO_SLOW, Socket, Subscriber
from app.models.ticket import OPEN_STATUSES
from app.services.citizen_home import MyCase, MyTicket, Today
from app.services.principal import Principal
from app.services.tracking import Tracked
from twin.ticket_feed import FollowedTicket, TicketFeed

log = logging.getLogger(__name__)

SESSION_ENDED = 4401  # the page's citizen session ended: the page says so and does not reconnect
OUTBOX_LIMIT = 2 * QUEUE_LIMIT  # texts a page may lag behind (all its tickets together) before it is dropped


class CitizenPage:
    """One open /me/live socket: whose it is, the tickets it holds, its outbox, and why it must close."""

    def __init__(self, session_id: int, caller: Principal) -> None:
        self.session_id = session_id
        self.caller = caller
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=OUTBOX_LIMIT)
        self.held: dict[int, tuple[FollowedTicket, TaggedSubscriber]] = {}
        self.case_ids: set[int] = set()
        self.lost = asyncio.Event()
        self.close_code = TOO_SLOW
        self.lock = asyncio.Lock()  # one re-read at a time: the home frame and the joins keep their order

    @property
    def account_id(self) -> int:
        return self.caller.require_account()

    def offer(self, text: str) -> None:
        if self.lost.is_set():
            return
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self.end(TOO_SLOW)

    def end(self, code: int) -> None:
        if not self.lost.is_set():
            self.close_code = code
            self.lost.set()


class TaggedSubscriber(Subscriber):
    """A ticket channel's subscriber that is one page among the channel's others: each shared text goes into the
    page's outbox inside a frame naming the ticket (the text itself is not serialised again)."""

    def __init__(self, page: CitizenPage, ticket_id: int) -> None:
        super().__init__(1)
        self.page = page
        self.lost = page.lost  # the channel closing (the feed stops) drops the page: it reconnects
        self.prefix = f'{{"type":"ticket","id":{ticket_id},"live":'

    def offer(self, text: str) -> None:
        self.page.offer(f'{self.prefix}{text}}}')


class CitizenLive:
    """Every open /me/live page of this process: fed by the ticket feed, re-read on this citizen's events, ended
    with its session."""

    def __init__(
        self,
        today: Callable[[Principal], Awaitable[Today]],
        ended: Callable[[Collection[int]], Awaitable[set[int]]],
        tickets: TicketFeed,
        *,
        tz: ZoneInfo,
        english: bool,
        period: float,
    ) -> None:
        self.today = today
        self.ended = ended
        self.tickets = tickets
        self.tz = tz
        self.english = english
        self.period = period
        self.pages: set[CitizenPage] = set()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    async def start(self, bus: Bus) -> None:
        self._subscription = bus.subscribe(
            self.on_event, TicketEventBase, CaseStepChanged, CitizenSignedOut, name='citizen-live'
        )
        self._task = asyncio.get_running_loop().create_task(
            tasks.every(self.period, self.check, 'checking the sessions of /me/live pages'), name='citizen-live'
        )

    async def stop(self, bus: Bus) -> None:
        if self._subscription is not None:
            bus.unsubscribe(self._subscription)
            self._subscription = None
        await tasks.stop(self._task)
        self._task = None
        for page in list(self.pages):
            page.end(TOO_SLOW)

    @contextlib.asynccontextmanager
    async def opened(self, page: CitizenPage) -> AsyncIterator[None]:
        """The page with its day read and its tickets held, before its socket is accepted (a socket that opens has
        its whole state waiting, and a thousand opening pages are not a backlog of reads behind open sockets);
        everything it holds is let go when it leaves."""
        self.pages.add(page)
        try:
            await self.refresh(page)
            yield
        finally:
            self.pages.discard(page)
            page.end(TOO_SLOW)  # a re-read under way holds nothing more
            async with page.lock:
                for followed, subscriber in page.held.values():
                    followed.channel.leave(subscriber)
                    self.tickets.release(followed)
                page.held.clear()

    @staticmethod
    async def serve(page: CitizenPage, socket: Socket) -> None:
        """Feed an accepted socket until it leaves, talks (1008), falls behind (1013) or its session ends (4401)."""
        await _pump_until_lost(page, socket)

    async def refresh(self, page: CitizenPage) -> None:
        """Read the citizen's day again: send it, hold the tickets now open, let go of those no longer listed."""
        async with page.lock:
            today = await self.today(page.caller)
            if page.lost.is_set():
                return
            page.case_ids = {case.id for case in today.cases}
            page.offer(self._home(today))
            listed = {ticket.id: ticket for ticket in today.tickets}
            for ticket_id in [held for held in page.held if held not in listed]:
                followed, subscriber = page.held.pop(ticket_id)
                followed.channel.leave(subscriber)
                self.tickets.release(followed)
            for ticket in today.tickets:
                if ticket.id not in page.held and ticket.status in OPEN_STATUSES and not page.lost.is_set():
                    tracked = Tracked(
                        ticket.code, ticket.id, None, page.caller.citizen_id, ticket.service_id, ticket.number
                    )
                    followed = await self.tickets.hold(tracked)
                    subscriber = TaggedSubscriber(page, ticket.id)
                    page.held[ticket.id] = (followed, subscriber)
                    followed.channel.join(subscriber)

    async def on_event(self, event: Event) -> None:
        """A ticket this citizen's account took, a step of their case: their pages read again; a sign-out ends them."""
        if isinstance(event, CitizenSignedOut):
            for page in [p for p in self.pages if p.session_id == event.session_id]:
                page.end(SESSION_ENDED)
            return
        for page in [p for p in self.pages if _concerns(p, event)]:
            try:
                await self.refresh(page)
            except Exception:
                log.exception('re-reading a /me/live page failed; it reconnects')
                page.end(TOO_SLOW)

    async def check(self) -> None:
        """End every open page whose session ended, with one query for them all."""
        if not self.pages:
            return
        ended = await self.ended({page.session_id for page in self.pages})
        for page in [p for p in self.pages if p.session_id in ended]:
            page.end(SESSION_ENDED)

    def _home(self, today: Today) -> str:
        body = {
            'type': 'home',
            'tickets': [self._ticket(ticket) for ticket in today.tickets],
            'cases': [self._case(case) for case in today.cases],
        }
        return json.dumps(body, ensure_ascii=False, separators=(',', ':'))

    def _ticket(self, ticket: MyTicket) -> dict[str, object]:
        return {
            'id': ticket.id,
            'number': ticket.number,
            'code': ticket.code,
            'service': ticket.service_name_en if self.english else ticket.service_name,
            'status': ticket.status,
            'window': ticket.window_number,
            'taken': ticket.taken_at.astimezone(self.tz).strftime('%H:%M'),
            'arrival': ticket.awaiting_arrival,
        }

    def _case(self, case: MyCase) -> dict[str, object]:
        due = case.due_at.astimezone(self.tz).strftime('%Y-%m-%d') if case.due_at is not None else None
        service = case.service_name_en if self.english else case.service_name
        return {'id': case.id, 'code': case.code, 'service': service, 'status': case.status, 'due': due}


def _concerns(page: CitizenPage, event: Event) -> bool:
    if isinstance(event, TicketEventBase):  # a new ticket of the account or its linked citizen; held ones move alone
        ticket = event.payload
        citizen = page.caller.citizen_id
        mine = ticket.account_id == page.account_id or (citizen is not None and ticket.citizen_id == citizen)
        return mine and ticket.id not in page.held
    if isinstance(event, CaseStepChanged):
        return event.case_id in page.case_ids or event.ticket_id in page.held
    return False


async def _pump_until_lost(page: CitizenPage, socket: Socket) -> None:
    """Send the outbox until the client leaves or talks, or the page is lost; then close with the reason."""

    async def pump() -> None:
        while True:
            await socket.send_text(await page.outbox.get())

    loop = asyncio.get_running_loop()
    sending, listen, lost = (
        loop.create_task(pump()),
        loop.create_task(socket.receive()),
        loop.create_task(page.lost.wait()),
    )
    code: int | None = None
    try:
        done, _ = await asyncio.wait({sending, listen, lost}, return_when=asyncio.FIRST_COMPLETED)
        if listen in done and not listen.exception() and listen.result().get('type') == 'websocket.receive':
            code = LISTEN_ONLY
        elif lost in done:
            code = page.close_code
    finally:
        for task in (sending, listen, lost):
            task.cancel()
    if code is not None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await socket.close(code)
