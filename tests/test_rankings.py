"""评价结果公开 and MTTR: the month's rankings (public without staff, cached until a rating comes) and device
repair times per kind against the 30-minute target."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app.db import Database
from app.models import StaffUser
from app.models.device import Device, DeviceKind
from app.models.operations import DeviceEvent
from app.models.people import Role
from app.services.errors import Forbidden, Invalid
from app.services.journey import Journey
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.rankings import RankingService
from app.services.repair_times import MTTR_TARGET, RepairTimes
from tests import journeyhall
from tests.callers import DESK, as_staff
from tests.journeyhall import JourneyHall, sms_act

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

CLERK = Principal(Kind.STAFF, 'w04', Role.STAFF)
NOVEMBER = dt.date(2026, 11, 1)


async def _rated(hall_queue: QueueService, hall: JourneyHall, journey: Journey, window: int, level: str) -> None:
    """A ticket served at `window` by the clerk w01 (张三), then rated."""
    service = 'SVC-C' if window == hall.small.window_4 else 'SVC-B'
    await hall_queue.take_ticket(journeyhall.TicketCreate(service_code=service), caller=DESK)
    await hall_queue.call_next(window, caller=DESK)
    view = await hall_queue.complete(window, caller=as_staff('w01'))
    await journey.evaluations.rate(sms_act(view.ticket.id or 0), level)


async def test_the_public_ranking_names_windows_and_departments_best_first_and_no_person(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    small = journey_hall.small
    for window, level in [(small.window_4, 'very_good'), (small.window_4, 'bad'), (small.window_2, 'good')]:
        await _rated(hall_queue, journey_hall, journey, window, level)
    rankings = RankingService(hall_queue.deps)
    public = await rankings.public(rankings.month(None))
    assert public.month == NOVEMBER and (public.ratings, public.satisfied) == (3, 2)
    assert [(row.name, row.ratings, row.satisfied) for row in public.windows] == [('2号窗口', 1, 1), ('4号窗口', 2, 1)]
    assert [row.name for row in public.departments] == ['人力资源和社会保障局', '测试局']
    assert public.staff == []
    managers = await rankings.for_manager(as_staff('boss'), NOVEMBER)
    async with db.read_session() as s:
        w01 = (await s.execute(select(StaffUser).where(StaffUser.username == 'w01'))).scalar_one()
    assert [(row.name, row.ratings) for row in managers.staff] == [(w01.display_name, 3)]
    with pytest.raises(Forbidden):
        await rankings.for_manager(CLERK, NOVEMBER)


async def test_a_month_is_computed_once_and_again_after_a_rating(
    db: Database, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    rankings = RankingService(hall_queue.deps)
    rankings.attach()
    try:
        assert (await rankings.public(NOVEMBER)).ratings == 0
        cached = await rankings.public(NOVEMBER)
        assert cached.ratings == 0 and list(rankings.recent._done) == [NOVEMBER]
        await _rated(hall_queue, journey_hall, journey, journey_hall.small.window_4, 'good')
        await hall_queue.bus.drain()
        assert (await rankings.public(NOVEMBER)).ratings == 1
    finally:
        await rankings.detach()


@pytest.mark.parametrize(
    ('text', 'code'),
    [
        ("2026-11' OR 1=1 --", 'month_invalid'),
        ('2026-13', 'month_invalid'),
        ('2026-1', 'month_invalid'),
        ('２０２６-１１', 'month_invalid'),
        ('9' * 4000, 'month_invalid'),
        ('9999-12', 'month_out_of_range'),
        ('2025-11', 'month_out_of_range'),
        ('0000-01', 'month_out_of_range'),
    ],
)
async def test_a_month_the_hall_does_not_publish_is_refused(
    hall_queue: QueueService, journey_hall: JourneyHall, text: str, code: str
) -> None:
    rankings = RankingService(hall_queue.deps)
    with pytest.raises(Invalid) as refused:
        rankings.month(text)
    assert refused.value.code == code
    assert rankings.month('2025-12') == dt.date(2025, 12, 1)  # the twelfth month back is still published


async def test_mttr_per_kind_counts_fault_to_online_and_marks_the_30_minute_target(
    db: Database, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    start = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)
    history = {
        ('P1', DeviceKind.PRINTER): [(0, 'online'), (10, 'fault'), (30, 'online'), (60, 'fault'), (100, 'online')],
        ('P2', DeviceKind.PRINTER): [(5, 'fault'), (6, 'fault')],  # still faulty
        ('K1', DeviceKind.KIOSK): [(0, 'offline'), (5, 'online'), (20, 'fault'), (35, 'online')],
        ('S1', DeviceKind.SEAT): [(0, 'online'), (1, 'offline'), (2, 'online')],  # a disconnection is no fault
    }
    async with db.session() as s, s.begin():
        for (code, kind), changes in history.items():
            device = Device(hall_id=journey_hall.hall_id, code=code, kind=kind, credential_hash='x')
            s.add(device)
            await s.flush()
            for minutes, state in changes:
                at = start + dt.timedelta(minutes=minutes)
                s.add(
                    DeviceEvent(
                        hall_id=journey_hall.hall_id,
                        device_id=device.id or 0,
                        at=at,
                        kind='health',
                        detail={'state': state},
                    )
                )
    times = RepairTimes(hall_queue.deps)
    until = start + dt.timedelta(hours=3)
    rows = {row.kind: row for row in await times.by_kind(as_staff('boss'), since=start, until=until)}
    printer, kiosk, seat = rows['printer'], rows['kiosk'], rows['seat']
    assert (printer.repairs, printer.mean, printer.longest, printer.open_faults) == (
        2,
        dt.timedelta(minutes=30),
        dt.timedelta(minutes=40),
        1,
    )
    assert printer.within_target and printer.mean == MTTR_TARGET  # 30 minutes is on target
    assert (kiosk.repairs, kiosk.mean, kiosk.within_target) == (1, dt.timedelta(minutes=15), True)
    assert (seat.repairs, seat.mean, seat.within_target) == (0, None, None)
    later = await times.by_kind(as_staff('boss'), since=start + dt.timedelta(minutes=50), until=until)
    assert {row.kind: row.mean for row in later}['printer'] == dt.timedelta(minutes=40)
    with pytest.raises(Forbidden):
        await times.by_kind(CLERK, since=start, until=until)
