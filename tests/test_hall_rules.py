"""Hall rules changed in the console apply on the next call, in this process and in every other one, on SQLite
and PostgreSQL; a bad value or a caller who is not an admin changes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import select

from app.bus import InProcessBus
from app.bus_redis import RedisBus
from app.db import Database
from app.events import Event, HallConfigChanged
from app.models import AuditEntry, PriorityClass, TicketCreate, TicketStatus
from app.models.config_version import ConfigVersion
from app.models.people import Role
from app.security.crypto import FieldCipher
from app.security.keys import Purpose, derive_key
from app.services import audit
from app.services.booking import BookingService
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.hall_rules import BOUNDS, HallRules, HallRulesService
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.settings import Settings
from tests.bookinghall import MONDAY, account, at
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock, audited
from tests.factories import SmallHall
from tests.idnumbers import make_id

ADMIN = Principal(Kind.STAFF, 'adm01', Role.ADMIN, address='10.0.7.1')
REDIS = 'redis://127.0.0.1:6379/0'


@pytest.fixture
def rules(queue: QueueService) -> HallRulesService:
    """The rules service of the queue's own process (the same Deps)."""
    return HallRulesService(queue.deps)


def take(service: str, **kwargs: object) -> TicketCreate:
    return TicketCreate(service_code=service, **kwargs)


async def counts(db: Database) -> tuple[int, int]:
    """(saved rule versions, audit rows)."""
    async with db.read_session() as s:
        versions = (await s.execute(select(func.count()).select_from(ConfigVersion))).scalar_one()
        rows = (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    return versions, rows


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, 'the change did not arrive'
        await asyncio.sleep(0.02)


# ---- each rule changes behaviour on the next call ----------------------------------------------------------


async def test_a_lower_fairness_cap_puts_the_waiting_normal_ticket_first_on_the_next_call(
    queue: QueueService, rules: HallRulesService, hall: SmallHall, clock: FakeClock
) -> None:
    normal = await queue.take_ticket(take(hall.service_a), caller=DESK)
    clock.advance(6)
    green = await queue.take_ticket(take(hall.service_a, disability=True), caller=DESK)
    assert (await queue.ticket_view_by_id(green.ticket.id or 0)).position == 1  # under the default 20 minutes
    await rules.change(ADMIN, {'fairness_cap_minutes': 5})
    assert (await queue.ticket_view_by_id(normal.ticket.id or 0)).position == 1
    assert (await queue.call_next(hall.window_1, caller=DESK)).ticket.id == normal.ticket.id


async def test_fewer_recalls_before_no_show_allow_the_no_show_sooner(
    queue: QueueService, rules: HallRulesService, hall: SmallHall, clock: FakeClock
) -> None:
    await queue.take_ticket(take(hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    clock.advance(queue.rules.recall_interval_seconds / 60)
    with pytest.raises(Conflict) as first:
        await queue.no_show(hall.window_1, caller=DESK)
    assert first.value.code == 'recall_first' and first.value.params == {'limit': 2}
    await rules.change(ADMIN, {'recalls_before_no_show': 0, 'recall_interval_seconds': 10})
    assert (await queue.no_show(hall.window_1, caller=DESK)).ticket.status == TicketStatus.NO_SHOW


async def test_a_lower_elder_age_gives_a_sixty_year_old_the_green_channel(
    queue: QueueService, rules: HallRulesService, hall: SmallHall, clock: FakeClock
) -> None:
    today = clock.now.astimezone(queue.settings.tz).date()
    sixty = today.replace(year=today.year - 60)
    before = await queue.take_ticket(take(hall.service_a, id_number=make_id(sixty)), caller=DESK)
    assert before.ticket.priority_class == PriorityClass.NORMAL
    await rules.change(ADMIN, {'elderly_age': 60})
    after = await queue.take_ticket(take(hall.service_a, id_number=make_id(sixty, sequence='456')), caller=DESK)
    assert (after.ticket.priority_class, after.ticket.priority_reason) == (PriorityClass.GREEN, 'elderly')


async def test_a_lower_booking_limit_refuses_the_next_booking(
    queue: QueueService, rules: HallRulesService, hall: SmallHall, db: Database, cipher: FieldCipher
) -> None:
    bookings = BookingService(queue.deps)
    me = await account(db, cipher, '13800000021')
    await bookings.book(me, hall.service_a, at(MONDAY, 9))
    await rules.change(ADMIN, {'booking_max_live': 1})
    with pytest.raises(Conflict) as refused:
        await bookings.book(me, hall.service_b, at(MONDAY, 9))
    assert (refused.value.code, refused.value.params) == ('booking_limit', {'limit': 1})
    await rules.change(ADMIN, {'booking_max_live': 2})
    await bookings.book(me, hall.service_b, at(MONDAY, 9))


# ---- saved, audited, announced; followed by every process ----------------------------------------------


async def test_a_change_is_saved_as_a_version_audited_announced_and_listed_with_what_changed(
    queue: QueueService, rules: HallRulesService, db: Database, bus: InProcessBus
) -> None:
    heard: list[Event] = []
    bus.subscribe(heard.append, HallConfigChanged)
    view = await rules.change(ADMIN, {'fairness_cap_minutes': '30', 'evaluation_scale': 'five'})
    assert (view.version, view.rules.fairness_cap_minutes, view.rules.evaluation_scale) == (1, 30.0, 'five')
    assert (await rules.change(ADMIN, {'fairness_cap_minutes': 30})).version == 1  # nothing changed: no version
    await rules.change(ADMIN, {'elderly_age': 70})
    await bus.drain()
    assert [(e.kind, e.version, e.actor) for e in heard if isinstance(e, HallConfigChanged)] == [
        ('rules', 1, 'adm01'),
        ('rules', 2, 'adm01'),
    ]
    async with db.read_session() as s:
        rows = (await s.execute(select(AuditEntry).where(AuditEntry.action == 'config.rules'))).scalars().all()
    assert [(row.actor, row.role, row.detail, row.client_address) for row in rows] == [
        ('adm01', 'admin', {'version': 1}, audited('10.0.7.1')),
        ('adm01', 'admin', {'version': 2}, audited('10.0.7.1')),
    ]
    assert (await audit.verify(db)).ok
    history = await rules.history(ADMIN)
    assert [(h.version, h.actor, h.changes) for h in history] == [
        (2, 'adm01', {'elderly_age': (65, 70)}),
        (1, 'adm01', {'fairness_cap_minutes': (20.0, 30.0), 'evaluation_scale': ('four', 'five')}),
    ]


async def test_another_process_on_the_same_bus_follows_and_a_new_one_starts_with_the_saved_rules(
    queue: QueueService, rules: HallRulesService, db: Database, bus: InProcessBus, hall: SmallHall, clock: FakeClock
) -> None:
    other = deps_for(db, bus, hall_id=hall.hall_id, clock=clock)
    follower = HallRulesService(other)
    await follower.start()
    other_queue = QueueService(other)
    await rules.change(ADMIN, {'fairness_cap_minutes': 7.5, 'recalls_before_no_show': 4})
    await bus.drain()
    assert (other.rules.current.fairness_cap_minutes, other.rules.version) == (7.5, 1)
    assert other_queue.fairness_cap == dt.timedelta(minutes=7.5)
    assert other_queue.rules.recalls_before_no_show == 4
    await follower.stop()
    late = deps_for(db, None, hall_id=hall.hall_id, clock=clock)
    await HallRulesService(late).start()
    assert (late.rules.current.recalls_before_no_show, late.rules.version) == (4, 1)


@pytest.fixture
async def redis_pair() -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two processes' buses on one Redis stream."""
    stream = f'halltwin:test:rules:{uuid.uuid4().hex[:8]}'
    key = derive_key(b'rules-test-secret-0123456789abcdef0123', Purpose.BUS)
    first, second = RedisBus(REDIS, key=key, stream=stream), RedisBus(REDIS, key=key, stream=stream)
    await first.start()
    await second.start()
    yield first, second
    await first.stop()
    await second.stop()
    redis = Redis.from_url(REDIS)
    await redis.delete(stream)
    await redis.aclose()


async def test_a_process_on_another_redis_bus_follows_the_change(
    redis_pair: tuple[RedisBus, RedisBus], db: Database, hall: SmallHall, settings: Settings
) -> None:
    here_bus, there_bus = redis_pair
    here = HallRulesService(deps_for(db, here_bus, hall_id=hall.hall_id, settings=settings))
    there_deps = deps_for(db, there_bus, hall_id=hall.hall_id, settings=settings)
    there = HallRulesService(there_deps)
    await there.start()
    await here.change(ADMIN, {'elderly_age': 60})
    await eventually(lambda: there_deps.rules.current.elderly_age == 60)
    await there.stop()


# ---- refused: nothing changes ----------------------------------------------------------------------------

BAD: list[tuple[dict[str, Any], str]] = [
    ({'fairness_cap_minutes': 0}, 'rule_above'),
    ({'fairness_cap_minutes': 241}, 'rule_above'),
    ({'fairness_cap_minutes': float('nan')}, 'rule_number'),
    ({'recalls_before_no_show': 11}, 'rule_range'),
    ({'recalls_before_no_show': 1.5}, 'rule_whole'),
    ({'recalls_before_no_show': True}, 'rule_number'),
    ({'elderly_age': 'sixty'}, 'rule_number'),
    ({'elderly_age': 49}, 'rule_range'),
    ({'booking_max_live': None}, 'rule_number'),
    ({'booking_share': 0}, 'rule_above'),
    ({'evaluation_scale': 'three'}, 'rule_choice'),
    ({'rectification_working_days': 6}, 'rule_choice'),
    ({'elderly_age': 60, 'booking_days_ahead': 61}, 'rule_range'),  # one bad value: the good one is not saved
    ({'secret_key': 'x' * 40}, 'rule_unknown'),
]


@pytest.mark.parametrize(('changes', 'code'), BAD, ids=[code + ':' + ','.join(c) for c, code in BAD])
async def test_a_bad_value_is_refused_with_its_reason_and_changes_nothing(
    rules: HallRulesService, queue: QueueService, db: Database, changes: dict[str, Any], code: str
) -> None:
    before, stored = queue.rules, await counts(db)
    with pytest.raises(Invalid) as refused:
        await rules.change(ADMIN, changes)
    assert refused.value.code == code
    assert refused.value.message  # words for the console
    assert queue.rules == before and await counts(db) == stored


@pytest.mark.parametrize('role', [Role.STAFF, Role.REVIEWER, Role.MANAGER, Role.CITIZEN, Role.DEVICE])
async def test_only_an_admin_may_read_or_change_the_rules(
    rules: HallRulesService, queue: QueueService, db: Database, role: Role
) -> None:
    caller = Principal(Kind.STAFF, 'someone', role)
    before, stored = queue.rules, await counts(db)
    for attempt in (rules.change(caller, {'fairness_cap_minutes': 5}), rules.view(caller), rules.history(caller)):
        with pytest.raises(Forbidden):
            await attempt
    assert queue.rules == before and await counts(db) == stored


async def test_a_save_over_a_newer_version_is_refused_and_keeps_the_newer(
    rules: HallRulesService, queue: QueueService, db: Database
) -> None:
    seen = await rules.view(ADMIN)
    await rules.change(ADMIN, {'elderly_age': 70}, base_version=seen.version)
    with pytest.raises(Conflict) as stale:
        await rules.change(ADMIN, {'elderly_age': 55}, base_version=seen.version)
    assert stale.value.code == 'rules_changed'
    assert queue.rules.elderly_age == 70 and await counts(db) == (1, 1)


def test_the_bounds_are_the_environments_and_a_stored_value_outside_them_keeps_the_default(
    settings: Settings,
) -> None:
    assert (BOUNDS['elderly_age'].low, BOUNDS['elderly_age'].high) == (50, 100)
    assert BOUNDS['rectification_working_days'].choices == (5, 7, 15)
    defaults = HallRules.from_settings(settings)
    assert defaults.over({'elderly_age': 200, 'recalls_before_no_show': 3, 'unknown': 1}) == HallRules(
        **{**defaults.as_data(), 'recalls_before_no_show': 3}
    )


async def test_the_console_reads_the_stored_rules_even_when_its_process_missed_the_event(
    rules: HallRulesService, db: Database, hall: SmallHall, clock: FakeClock
) -> None:
    deaf = deps_for(db, None, hall_id=hall.hall_id, clock=clock)  # never heard the bus
    await rules.change(ADMIN, {'booking_days_ahead': 10})
    assert deaf.rules.current.booking_days_ahead == 7
    seen = await HallRulesService(deaf).view(ADMIN)
    assert (seen.version, seen.rules.booking_days_ahead, deaf.rules.current.booking_days_ahead) == (1, 10, 10)
