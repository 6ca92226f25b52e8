"""What the window desk reads and the rules it adds: masked citizen, kiosk answers, reasons, window scope."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.models import TicketCreate
from app.models.people import Role
from app.models.security import AuditEntry
from app.security.crypto import FieldCipher
from app.services import audit, window_desk
from app.services.auth import AuthService
from app.services.errors import Forbidden, Invalid
from app.services.kiosk import KioskService, KioskSession
from app.services.materials import Need
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.settings import Settings
from tests.callers import DESK, as_staff, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.kiosk_hall import KIOSK, add_kiosk_hall

STAFF = Principal(Kind.STAFF, 'w01', Role.STAFF, display_name='张三', user_id=1, session_id=1)


def staff_at(window_id: int) -> Principal:
    return Principal(Kind.STAFF, 'w01', Role.STAFF, display_name='张三', user_id=1, window_id=window_id, session_id=1)


@pytest.fixture
async def kiosk_hall(db: Database, hall: SmallHall) -> SmallHall:
    await add_kiosk_hall(db, hall.hall_id)
    return hall


async def test_the_desk_shows_the_masked_citizen_kiosk_answers_and_the_checklist(
    db: Database,
    bus: InProcessBus,
    settings: Settings,
    cipher: FieldCipher,
    queue: QueueService,
    kiosk_hall: SmallHall,
    clock: FakeClock,
) -> None:
    auth = AuthService(deps_for(db, hall_id=kiosk_hall.hall_id, settings=settings, clock=clock))
    kiosks = KioskService(
        deps_for(db, bus, hall_id=kiosk_hall.hall_id, settings=settings, clock=clock, cipher=cipher), queue, auth=auth
    )
    session = KioskSession(await kiosks.kiosk(KIOSK))
    catalogue = await kiosks.catalogue()
    id_number = make_id(dt.date(1950, 1, 2))
    await kiosks.start_assist(session, 'w01', 'Window-01-pass')  # a typed number needs a clerk at the kiosk
    kiosks.enter_id_number(session, id_number)
    kiosks.choose_service(session, catalogue, 'SVC-A')
    kiosks.answer(session, catalogue, 'property_type', 'new')
    await kiosks.take_ticket(session)
    await queue.call_next(kiosk_hall.window_1, caller=DESK)

    desk = await window_desk.load_desk(db, cipher, queue, kiosk_hall.window_1)
    assert desk.window.number == 1 and desk.zone_name == '综合受理'
    assert [(s.code, s.tier) for s in desk.services] == [('SVC-A', 1), ('SVC-B', 2)]
    current = desk.current
    assert current is not None and current.view.ticket.number == 'A001'
    assert current.citizen is not None and current.citizen.age == 76
    assert current.citizen.id_number_masked == id_number[:6] + '********' + id_number[-4:]
    assert id_number not in repr(desk)
    assert current.answers == {'property_type': 'new'}
    assert [(q.code, o.label) for q, o in current.answered] == [('property_type', '新房')]
    assert [(i.name, i.need) for i in current.checklist.items] == [
        ('买卖双方身份证', Need.REQUIRED),
        ('购房合同备案', Need.REQUIRED),
    ]


async def test_without_kiosk_answers_the_checklist_keeps_what_depends_on_them(
    db: Database, cipher: FieldCipher, queue: QueueService, kiosk_hall: SmallHall
) -> None:
    await queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await queue.call_next(kiosk_hall.window_1, caller=DESK)
    current = (await window_desk.load_desk(db, cipher, queue, kiosk_hall.window_1)).current
    assert current is not None and current.citizen is None and current.answers == {}
    assert [i.need for i in current.checklist.items] == [Need.REQUIRED, Need.DEPENDS, Need.DEPENDS]


async def test_parked_tickets_are_listed_with_their_reason(
    db: Database, cipher: FieldCipher, queue: QueueService, hall: SmallHall
) -> None:
    await queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    await queue.park(hall.window_1, reason='回家取户口簿', caller=DESK)
    desk = await window_desk.load_desk(db, cipher, queue, hall.window_1)
    assert desk.current is None
    assert [(p.number, p.service_name, p.reason) for p in desk.parked] == [('A001', '事项甲', '回家取户口簿')]


async def test_transfers_and_out_of_order_calls_need_a_reason(queue: QueueService, hall: SmallHall) -> None:
    await queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    with pytest.raises(Invalid) as error:
        await window_desk.call_out_of_order(queue, hall.window_1, 'A002', reason='  ', principal=staff_at(1))
    assert error.value.code == 'reason_required'
    await queue.call_next(hall.window_1, caller=DESK)
    with pytest.raises(Invalid):
        await window_desk.transfer(
            queue, hall.window_1, to_service_code='SVC-B', to_window_id=None, reason='', caller=as_staff('w01')
        )
    view = await window_desk.transfer(
        queue, hall.window_1, to_service_code='SVC-B', to_window_id=None, reason='应办乙事项', caller=as_staff('w01')
    )
    assert view.service.code == 'SVC-B' and view.ticket.transfer_count == 1


async def test_an_out_of_order_call_is_recorded_in_the_audit_chain(
    db: Database, queue: QueueService, hall: SmallHall
) -> None:
    await queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    view = await window_desk.call_out_of_order(
        queue, hall.window_1, 'a002', reason='老人需要协助', principal=staff_at(hall.window_1)
    )
    assert view.ticket.number == 'A002'
    async with db.session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.OUT_OF_ORDER_CALL))).scalar_one()
    assert (entry.actor, entry.target, entry.detail['reason']) == ('w01', 'ticket:A002', '老人需要协助')


def test_staff_work_at_their_own_window_managers_anywhere() -> None:
    window_desk.check_window(staff_at(1), 1)
    with pytest.raises(Forbidden) as error:
        window_desk.check_window(staff_at(2), 1)
    assert error.value.code == 'not_your_window'
    with pytest.raises(Forbidden):
        window_desk.check_window(STAFF, 1)
    manager = Principal(Kind.STAFF, 'boss', Role.MANAGER, display_name='李四', user_id=2, session_id=2)
    window_desk.check_window(manager, 1)


async def test_transfer_targets_list_every_window_and_served_service(db: Database, hall: SmallHall) -> None:
    targets = await window_desk.transfer_targets(db, hall.hall_id)
    assert [w.number for w in targets.windows] == [1, 2, 3, 4]
    assert [s.code for s in targets.services] == ['SVC-A', 'SVC-B', 'SVC-C']


def test_called_at_becomes_browser_milliseconds() -> None:
    moment = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
    assert window_desk.since_epoch_ms(moment) == int(moment.timestamp() * 1000)
    assert window_desk.since_epoch_ms(moment.replace(tzinfo=None)) == int(moment.timestamp() * 1000)
    assert window_desk.since_epoch_ms(None) is None
