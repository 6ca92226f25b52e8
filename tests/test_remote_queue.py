"""Remote tickets (远程取号), on SQLite and PostgreSQL: taking one, "please come now", arrival, parked when absent."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest
from sqlmodel import col, select

from app.db import Database
from app.events import TicketArrived, TicketIssued, TicketParked, TicketSnapshot
from app.models import Appointment, ServiceItem, Ticket, TicketCreate, TicketEvent, TicketStatus, WindowState
from app.models.cases import Notification
from app.models.citizen_account import ACCOUNT_PHONE, CitizenAccount
from app.models.ticket import Channel
from app.security import codes
from app.security.crypto import FieldCipher
from app.services import hall_hours, kpi
from app.services.channels import PUSH, SMS, NotificationChannel, Outgoing
from app.services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.services.kpi import TicketTimes, online_share
from app.services.live_queue import LiveQueue
from app.services.notifications import NotificationService
from app.services.principal import Principal
from app.services.queue import QueueService
from app.services.remote_queue import RemoteQueue, entrance_code
from app.services.replay import ReplayService, state_at
from app.settings import Settings
from components.floor_plan import svg, visuals, zone_visuals
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.twinkit import seed_twin

KIOSK = Principal.kiosk('K01')
TWIN_NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


class Phones(NotificationChannel):
    """An SMS gateway that keeps what it was given."""

    name = SMS
    needs_phone = True

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)


async def make_account(db: Database, cipher: FieldCipher, phone: str, clock: FakeClock) -> Principal:
    """A signed-in phone, as the sign-in service leaves it: the account row and its principal."""
    async with db.session() as s, s.begin():
        account = CitizenAccount(
            phone_hash=hashlib.sha256(phone.encode()).hexdigest(),
            phone_enc=cipher.encrypt(phone, context=ACCOUNT_PHONE),
            created_at=clock.now,
        )
        s.add(account)
        await s.flush()
        assert account.id is not None
        return Principal.account(account.id, address='198.51.100.7')


def remote(service: str) -> TicketCreate:
    return TicketCreate(service_code=service, channel=Channel.MOBILE)


async def ticket_row(db: Database, ticket_id: int | None) -> Ticket:
    async with db.session() as s:
        ticket = await s.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def kinds(db: Database, ticket_id: int | None) -> list[tuple[str, str]]:
    async with db.session() as s:
        rows = await s.execute(
            select(TicketEvent.kind, TicketEvent.reason)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.id)
        )
        return [(kind, reason) for kind, reason in rows]


async def notices(db: Database, kind: str) -> list[Notification]:
    async with db.session() as s:
        rows = await s.execute(select(Notification).where(Notification.kind == kind).order_by(col(Notification.id)))
        return list(rows.scalars())


# ---- taking a remote ticket ---------------------------------------------------------------------


async def test_a_signed_in_citizen_takes_a_remote_ticket_that_counts_in_the_queue_like_any_other(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    phone = await make_account(db, cipher, '13800000001', clock)
    taken = await queue.take_ticket(remote(hall.service_a), caller=phone)
    after = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    row = await ticket_row(db, taken.ticket.id)
    assert (row.status, row.channel, row.awaiting_arrival, row.account_id) == (
        TicketStatus.WAITING,
        Channel.MOBILE,
        True,
        phone.account_id,
    )
    assert (taken.position, after.position) == (1, 2)
    assert after.estimate is not None and taken.estimate is not None
    assert after.estimate.minutes > taken.estimate.minutes
    overview = {q.service.code: q.waiting for q in (await queue.overview()).queues}
    assert overview[hall.service_a] == 2


async def test_one_live_remote_ticket_per_account_and_service(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    phone = await make_account(db, cipher, '13800000002', clock)
    first = await queue.take_ticket(remote(hall.service_a), caller=phone)
    with pytest.raises(Conflict) as refused:
        await queue.take_ticket(remote(hall.service_a), caller=phone)
    assert refused.value.code == 'remote_ticket_live'
    assert (await queue.take_ticket(remote(hall.service_b), caller=phone)).ticket.number == 'B001'
    async with db.session() as s:
        assert len(list((await s.execute(select(Ticket))).scalars())) == 2
    await queue.arrive_by_entrance(entrance_code(queue.settings.secret, hall.hall_id), caller=phone)
    await queue.call_next(hall.window_1, caller=DESK)
    await queue.complete(hall.window_1, caller=DESK)
    assert (await ticket_row(db, first.ticket.id)).status == TicketStatus.COMPLETED
    assert (await queue.take_ticket(remote(hall.service_a), caller=phone)).ticket.number == 'A002'


async def test_two_phones_of_one_account_taking_at_once_get_one_ticket(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    phone = await make_account(db, cipher, '13800000003', clock)
    results = await asyncio.gather(
        *(queue.take_ticket(remote(hall.service_a), caller=phone) for _ in range(4)), return_exceptions=True
    )
    taken = [r for r in results if not isinstance(r, BaseException)]
    assert len(taken) == 1
    assert all(isinstance(r, Conflict) and r.code == 'remote_ticket_live' for r in results if r not in taken)


async def test_an_account_takes_at_most_the_daily_cap_of_remote_tickets(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    queue.settings = queue.settings.model_copy(update={'remote_per_day': 2})
    phone = await make_account(db, cipher, '13800000004', clock)
    await queue.take_ticket(remote(hall.service_a), caller=phone)
    await queue.take_ticket(remote(hall.service_b), caller=phone)
    with pytest.raises(Conflict) as refused:
        await queue.take_ticket(remote(hall.service_c), caller=phone)
    assert (refused.value.code, refused.value.params['limit']) == ('remote_daily_cap', 2)


async def test_only_the_signed_in_citizen_takes_a_remote_ticket(
    db: Database, queue: QueueService, hall: SmallHall
) -> None:
    with pytest.raises(Unauthorized) as anonymous:
        await queue.take_ticket(remote(hall.service_a), caller=Principal.anonymous('203.0.113.9'))
    assert anonymous.value.code == 'citizen_sign_in_required'
    with pytest.raises(Forbidden) as clerk:
        await queue.take_ticket(remote(hall.service_a), caller=DESK)
    assert clerk.value.code == 'remote_ticket_own_account'
    with pytest.raises(Forbidden) as kiosk:
        await queue.take_ticket(remote(hall.service_a), caller=KIOSK)
    assert kiosk.value.code == 'channel_not_for_kiosk'
    async with db.session() as s:
        assert (await s.execute(select(Ticket))).first() is None


async def test_remote_tickets_are_taken_only_in_hall_hours_for_a_service_an_open_window_serves(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock, settings: Settings
) -> None:
    phone = await make_account(db, cipher, '13800000005', clock)
    await queue.set_window_state(hall.window_4, WindowState.CLOSED, caller=DESK)
    with pytest.raises(Conflict) as closed_window:
        await queue.take_ticket(remote(hall.service_c), caller=phone)  # only window 4 serves C: closed
    assert closed_window.value.code == 'service_unavailable'
    clock.now = hall_hours.local_moment(clock.now.astimezone(settings.tz).date(), 19, settings.tz)
    with pytest.raises(Conflict) as evening:
        await queue.take_ticket(remote(hall.service_a), caller=phone)
    assert evening.value.code == 'remote_hall_closed'


# ---- "please come now" --------------------------------------------------------------------------


async def test_come_now_is_texted_once_when_the_wait_falls_to_the_travel_time_and_not_before(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    queue.settings = queue.settings.model_copy(update={'remote_travel_minutes': 20, 'remote_margin_minutes': 5})
    for _ in range(5):
        await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)  # 10 minutes each
    phone = await make_account(db, cipher, '13800000006', clock)
    taken = await queue.take_ticket(remote(hall.service_a), caller=phone)
    sweeper = RemoteQueue(queue.deps, queue)

    assert (await sweeper.sweep_come_now()).sent == 0
    assert await notices(db, 'come_now') == []
    for _ in range(3):
        await queue.call_next(hall.window_1, caller=DESK)
        clock.advance(10)
        await queue.complete(hall.window_1, caller=DESK)
    view = await queue.ticket_view_by_id(taken.ticket.id or 0)
    assert view.estimate is not None and view.estimate.minutes <= 25

    reports = await asyncio.gather(sweeper.sweep_come_now(), RemoteQueue(queue.deps, queue).sweep_come_now())
    assert sum(r.sent for r in reports) == 1
    assert (await sweeper.sweep_come_now()).sent == 0
    sent = await notices(db, 'come_now')
    assert sorted(n.channel for n in sent) == [PUSH, SMS]
    assert all(n.account_id == phone.account_id and n.ticket_id == taken.ticket.id for n in sent)
    assert 'A006' in sent[0].text and '事项甲' in sent[0].text
    assert (await ticket_row(db, taken.ticket.id)).come_now_at is not None


async def test_come_now_goes_to_the_accounts_phone(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    phone = await make_account(db, cipher, '13800000007', clock)
    await queue.take_ticket(remote(hall.service_a), caller=phone)
    assert (await RemoteQueue(queue.deps, queue).sweep_come_now()).sent == 1  # first in line: due at once
    texts = Phones()
    delivery = NotificationService(deps_for(db, clock=clock, cipher=cipher), {SMS: texts})
    await delivery.deliver_due()
    assert [o.phone for o in texts.sent] == ['13800000007']


# ---- parked when absent, back on arrival --------------------------------------------------------


async def test_an_absent_remote_ticket_is_parked_when_its_turn_comes_and_waits_in_its_place_on_arrival(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    phone = await make_account(db, cipher, '13800000008', clock)
    taken = await queue.take_ticket(remote(hall.service_a), caller=phone)
    clock.advance(1)
    walk_in = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    clock.advance(1)
    later = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)

    called = await queue.call_next(hall.window_1, caller=DESK)
    assert called.ticket.number == walk_in.ticket.number
    parked = await ticket_row(db, taken.ticket.id)
    assert (parked.status, parked.awaiting_arrival) == (TicketStatus.PARKED, True)
    assert await kinds(db, taken.ticket.id) == [('issued', ''), ('parked', 'not_arrived')]
    told = await notices(db, 'not_arrived')
    assert sorted(n.channel for n in told) == [PUSH, SMS] and 'A001' in told[0].text

    arrived = await queue.arrive_by_entrance(entrance_code(queue.settings.secret, hall.hall_id), caller=phone)
    assert [v.ticket.number for v in arrived] == [taken.ticket.number]
    back = await ticket_row(db, taken.ticket.id)
    assert (back.status, back.awaiting_arrival, back.queued_at) == (TicketStatus.WAITING, False, parked.queued_at)
    assert arrived[0].position == 1
    await queue.complete(hall.window_1, caller=DESK)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == taken.ticket.number
    await queue.complete(hall.window_1, caller=DESK)
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == later.ticket.number


async def test_a_queue_of_only_absent_remote_tickets_parks_them_and_is_empty(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    phone = await make_account(db, cipher, '13800000009', clock)
    taken = await queue.take_ticket(remote(hall.service_a), caller=phone)
    with pytest.raises(NotFound) as empty:
        await queue.call_next(hall.window_1, caller=DESK)
    assert empty.value.code == 'queue_empty'
    assert (await ticket_row(db, taken.ticket.id)).status == TicketStatus.PARKED
    with pytest.raises(NotFound):
        await queue.call_next(hall.window_1, caller=DESK)
    assert await kinds(db, taken.ticket.id) == [('issued', ''), ('parked', 'not_arrived')]


async def test_two_windows_calling_at_once_park_each_absent_ticket_once_and_call_each_walk_in_once(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    phones = [await make_account(db, cipher, f'1380000001{n}', clock) for n in range(4)]
    absent = [await queue.take_ticket(remote(hall.service_b), caller=p) for p in phones]
    walk_ins = [await queue.take_ticket(TicketCreate(service_code=hall.service_b), caller=DESK) for _ in range(2)]
    called = await asyncio.gather(
        queue.call_next(hall.window_1, caller=DESK), queue.call_next(hall.window_2, caller=DESK)
    )
    assert sorted(v.ticket.number for v in called) == sorted(v.ticket.number for v in walk_ins)
    for view in absent:
        assert await kinds(db, view.ticket.id) == [('issued', ''), ('parked', 'not_arrived')]
    assert len(await notices(db, 'not_arrived')) == 2 * len(absent)


# ---- arrival: the entrance code and the kiosk ---------------------------------------------------


async def test_a_forged_or_other_halls_entrance_code_is_refused_and_changes_nothing(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    phone = await make_account(db, cipher, '13800000020', clock)
    taken = await queue.take_ticket(remote(hall.service_a), caller=phone)
    genuine = entrance_code(queue.settings.secret, hall.hall_id)
    forged = [
        entrance_code(queue.settings.secret, hall.hall_id + 1),  # another hall's door
        genuine[:-2] + ('AA' if not genuine.endswith('AA') else 'BB'),  # altered signature
        entrance_code(b'another-secret-key-of-32-bytes!!', hall.hall_id),  # not signed by us
        codes.sign(queue.settings.secret, 'appt', str(hall.hall_id)),  # another kind of code
        'https://example.com/arrive',
    ]
    for payload in forged:
        with pytest.raises(Invalid) as refused:
            await queue.arrive_by_entrance(payload, caller=phone)
        assert refused.value.code == 'forged_code', payload
    assert (await ticket_row(db, taken.ticket.id)).awaiting_arrival
    assert await kinds(db, taken.ticket.id) == [('issued', '')]


async def test_the_entrance_code_confirms_only_the_scanning_accounts_own_tickets(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    mine = await make_account(db, cipher, '13800000021', clock)
    other = await make_account(db, cipher, '13800000022', clock)
    taken = await queue.take_ticket(remote(hall.service_a), caller=mine)
    code = entrance_code(queue.settings.secret, hall.hall_id)
    assert await queue.arrive_by_entrance(code, caller=other) == []
    assert (await ticket_row(db, taken.ticket.id)).awaiting_arrival
    with pytest.raises(Unauthorized):
        await queue.arrive_by_entrance(code, caller=Principal.anonymous('203.0.113.9'))
    assert [v.ticket.id for v in await queue.arrive_by_entrance(code, caller=mine)] == [taken.ticket.id]
    assert await queue.arrive_by_entrance(code, caller=mine) == []  # arrived once


async def test_a_paired_kiosk_confirms_arrival_by_the_tickets_qr(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    phone = await make_account(db, cipher, '13800000023', clock)
    taken = await queue.take_ticket(remote(hall.service_a), caller=phone)
    walk_in = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    with pytest.raises(Forbidden):
        await queue.arrive_at_kiosk(taken.ticket.code, caller=phone)  # the phone cannot confirm itself
    with pytest.raises(NotFound):
        await queue.arrive_at_kiosk('not-a-tracking-code', caller=KIOSK)
    with pytest.raises(Conflict) as plain:
        await queue.arrive_at_kiosk(walk_in.ticket.code, caller=KIOSK)
    assert plain.value.code == 'not_awaiting_arrival'
    view = await queue.arrive_at_kiosk(taken.ticket.code, caller=KIOSK)
    assert (view.ticket.status, view.ticket.awaiting_arrival) == (TicketStatus.WAITING, False)
    assert await kinds(db, taken.ticket.id) == [('issued', ''), ('arrived', '')]
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.number == taken.ticket.number


# ---- the live state, replay and the twin --------------------------------------------------------


async def test_the_live_state_counts_remote_tickets_and_a_fresh_build_agrees(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock
) -> None:
    live = await queue.start_live()
    applied: list[type] = []
    live.follow(lambda event: applied.append(type(event)))
    phones = [await make_account(db, cipher, f'1380000003{n}', clock) for n in range(2)]
    first = await queue.take_ticket(remote(hall.service_a), caller=phones[0])
    await queue.take_ticket(remote(hall.service_a), caller=phones[1])
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)

    def counts(state: LiveQueue) -> tuple[int, int]:
        sid = next(s for s, svc in state.services.items() if svc.code == hall.service_a)
        return state.waiting_count(sid), state.remote_count(sid)

    assert counts(live) == counts(await queue.load_live()) == (3, 2)
    await queue.call_next(hall.window_1, caller=DESK)  # parks both absent tickets, calls the walk-in
    assert counts(live) == counts(await queue.load_live()) == (0, 0)
    await queue.arrive_at_kiosk(first.ticket.code, caller=KIOSK)
    assert counts(live) == counts(await queue.load_live()) == (1, 0)
    assert applied.count(TicketParked) == 2 and applied.count(TicketArrived) == 1
    assert applied.count(TicketIssued) == 3


async def test_replay_sees_absent_tickets_leave_the_queue_and_come_back_on_arrival(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock, settings: Settings
) -> None:
    phone = await make_account(db, cipher, '13800000040', clock)
    taken = await queue.take_ticket(remote(hall.service_a), caller=phone)
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    issued_at = clock.now
    clock.advance(2)
    await queue.call_next(hall.window_1, caller=DESK)
    clock.advance(1)
    parked_at = clock.now
    clock.advance(1)
    await queue.arrive_at_kiosk(taken.ticket.code, caller=KIOSK)
    clock.advance(2)

    log = await ReplayService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock)).load(
        clock.now.astimezone(settings.tz).date()
    )

    def waiting(moment: dt.datetime) -> list[str]:
        return next(q.numbers for q in state_at(log, moment).queues if q.code == hall.service_a)

    assert waiting(issued_at) == ['A001', 'A002']
    assert waiting(parked_at) == []
    assert waiting(clock.now) == ['A001']


# ---- 线上办理率 ----------------------------------------------------------------------------------


def test_the_online_share_counts_booked_and_remote_tickets_and_is_a_dash_before_the_first() -> None:
    start = dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC)
    tickets = [TicketTimes('waiting', start, None, None, None, online=online) for online in (True, True, False, False)]
    assert online_share(tickets) == 0.5
    assert online_share([]) is None


async def test_todays_online_share_reads_remote_and_booked_tickets_from_the_database(
    db: Database, queue: QueueService, hall: SmallHall, cipher: FieldCipher, clock: FakeClock, settings: Settings
) -> None:
    phone = await make_account(db, cipher, '13800000050', clock)
    await queue.take_ticket(remote(hall.service_a), caller=phone)
    async with db.session() as s, s.begin():
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == hall.service_a))).scalar_one()
        s.add(
            Appointment(
                hall_id=hall.hall_id,
                service_id=service.id,
                reference='REF050',
                slot_start=clock.now,
                slot_end=clock.now + dt.timedelta(minutes=30),
                created_at=clock.now,
            )
        )
    booked = codes.sign(queue.settings.secret, 'appt', 'REF050')
    await queue.take_ticket(TicketCreate(service_code=hall.service_a, appointment_code=booked), caller=DESK)
    for _ in range(2):
        await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    figures = await kpi.today(db, hall.hall_id, now=clock(), tz=settings.tz)
    assert figures.online_share == 0.5


# ---- the twin and the floor map -----------------------------------------------------------------


def test_the_floor_map_shows_how_many_of_a_queue_are_remote_until_they_arrive() -> None:
    twin = seed_twin()
    queue_twin = next(q for q in twin.queues.values() if q.zone_id is not None)
    zid = queue_twin.zone_id
    assert zid is not None

    def ticket(ticket_id: int, *, awaiting: bool) -> TicketSnapshot:
        return TicketSnapshot(
            id=ticket_id,
            number=f'{queue_twin.prefix}{ticket_id:03d}',
            service_id=queue_twin.service_id,
            service_code=queue_twin.code,
            status='waiting',
            priority_class='normal',
            queued_at=TWIN_NOW,
            taken_at=TWIN_NOW,
            awaiting_arrival=awaiting,
        )

    twin.apply(TicketIssued(hall_id=1, payload=ticket(1, awaiting=True)))
    twin.apply(TicketIssued(hall_id=1, payload=ticket(2, awaiting=False)))
    assert (queue_twin.waiting, queue_twin.remote, twin.zones[zid].remote) == (2, 1, 1)
    assert zone_visuals(twin, zid)[f'fm-z{zid}-r'] == (None, '远程1')
    assert f'id="fm-z{zid}-r"' in svg(twin, visuals(twin, TWIN_NOW))

    twin.apply(TicketArrived(hall_id=1, payload=ticket(1, awaiting=False)))
    assert (queue_twin.waiting, queue_twin.remote, twin.zones[zid].remote) == (2, 0, 0)
    assert zone_visuals(twin, zid)[f'fm-z{zid}-r'] == (None, '')
