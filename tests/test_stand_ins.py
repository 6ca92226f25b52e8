"""Stand-ins: which are on, when the production profile refuses them, and the simulator's tickets after it is off."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.models.cases import DepartmentRecord
from app.models.hall import Window
from app.models.people import Role, StaffUser
from app.models.security import AuditEntry
from app.models.ticket import Ticket, TicketCreate, TicketEvent, TicketStatus
from app.services.errors import Forbidden
from app.services.forecast import SIMULATED_ACTOR
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.stand_ins import CLEARED_ACTION, SimulatedTickets, demo_staff, refusal, stand_ins_in
from app.settings import ConfigError, Settings, StandIn, load_settings
from app.users import add_user
from tests.callers import DESK, as_staff
from tests.factories import SmallHall

SIMULATOR = as_staff(SIMULATED_ACTOR)  # what the hall simulator's rows carry as their actor
EVERYTHING_OFF = {'hall_simulation': 'off', 'device_mode': 'websocket'}


def with_settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


async def stand_ins(db: Database, settings: Settings) -> frozenset[StandIn]:
    async with db.read_session() as s:
        return await stand_ins_in(s, settings)


# ---- which stand-ins are on ----------------------------------------------------------------------


async def test_the_demo_defaults_are_stand_ins_and_a_real_hall_has_only_the_file_sms(
    db: Database, hall: SmallHall, settings: Settings
) -> None:
    demo = with_settings(settings, hall_simulation='on', device_mode='simulated')
    assert await stand_ins(db, demo) == {StandIn.SIMULATION, StandIn.DEVICES, StandIn.SMS}
    assert await stand_ins(db, with_settings(settings, **EVERYTHING_OFF)) == {StandIn.SMS}


@pytest.mark.parametrize('provider', ['aliyun', 'tencent'])
async def test_a_real_sms_provider_is_no_stand_in(
    db: Database, hall: SmallHall, settings: Settings, provider: str
) -> None:
    assert await stand_ins(db, with_settings(settings, **EVERYTHING_OFF, sms_provider=provider)) == frozenset()


async def test_department_records_in_the_database_are_synthetic_department_data(
    db: Database, hall: SmallHall, settings: Settings
) -> None:
    async with db.session() as s, s.begin():
        s.add(DepartmentRecord(source='identity', id_number_hash='h' * 64, data_enc='x', updated_at=utcnow()))
    assert StandIn.DEPARTMENT_DATA in await stand_ins(db, with_settings(settings, **EVERYTHING_OFF))


async def test_a_demo_seed_person_is_a_demo_account_but_the_same_username_with_another_name_is_not(
    db: Database, hall: SmallHall, settings: Settings
) -> None:
    real_hall = with_settings(settings, **EVERYTHING_OFF)
    username, name = sorted(demo_staff())[0]
    await add_user(db, username=username, role=Role.ADMIN, password='Some-long-pass-01', window_number=None)
    assert StandIn.DEMO_ACCOUNTS not in await stand_ins(db, real_hall)  # the hall's own account called like a demo one
    await add_user(
        db, username='demo-like', role=Role.ADMIN, password='Some-long-pass-01', window_number=None, display_name=name
    )
    assert StandIn.DEMO_ACCOUNTS not in await stand_ins(db, real_hall)
    async with db.session() as s, s.begin():
        user = (await s.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one()
        user.display_name = name
    assert StandIn.DEMO_ACCOUNTS in await stand_ins(db, real_hall)


def test_the_demo_staff_list_is_the_default_seeds_people() -> None:
    people = demo_staff()
    assert ('w01', '王晓燕') in people and ('admin', '系统管理员') in people


# ---- the production profile ----------------------------------------------------------------------


def test_the_demo_profile_accepts_every_stand_in(settings: Settings) -> None:
    assert refusal(with_settings(settings, hall_profile='demo'), frozenset(StandIn)) is None


def test_production_refuses_each_stand_in_on_one_line_naming_its_setting(settings: Settings) -> None:
    line = refusal(with_settings(settings, hall_profile='production'), frozenset(StandIn))
    assert line is not None and '\n' not in line
    assert line.startswith('halltwin: HALL_PROFILE=production refuses stand-ins: simulation (HALL_SIMULATION=on)')
    for words in ('DEVICE_MODE=simulated', 'SMS_PROVIDER=file', 'department_data', 'demo_accounts', 'ALLOW_STAND_INS'):
        assert words in line


def test_production_starts_with_the_stand_ins_it_allows_and_names_only_the_others(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('HALL_PROFILE', 'production')
    monkeypatch.setenv('ALLOW_STAND_INS', ' sms, department_data ')
    production = load_settings()
    assert production.allowed_stand_ins == {StandIn.SMS, StandIn.DEPARTMENT_DATA}
    assert refusal(production, frozenset({StandIn.SMS, StandIn.DEPARTMENT_DATA})) is None
    line = refusal(production, frozenset({StandIn.SMS, StandIn.DEVICES}))
    assert line is not None and 'devices (DEVICE_MODE=simulated)' in line and 'sms' not in line.split(':', 2)[2]


@pytest.mark.parametrize(('name', 'value'), [('ALLOW_STAND_INS', 'simulation,robots'), ('HALL_PROFILE', 'live')])
def test_an_unknown_profile_or_stand_in_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(f'halltwin: invalid {name}') and '\n' not in str(error.value)


# ---- the simulator's tickets once it is off ------------------------------------------------------


async def open_tickets(db: Database) -> dict[str, TicketStatus]:
    async with db.read_session() as s:
        rows = (await s.execute(select(Ticket.number, Ticket.status))).all()
    return {number: status for number, status in rows}


async def test_the_simulators_open_tickets_are_cancelled_and_its_windows_freed_while_real_ones_stay(
    db: Database, hall: SmallHall, queue: QueueService
) -> None:
    called = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=SIMULATOR)
    waiting = await queue.take_ticket(TicketCreate(service_code=hall.service_b), caller=SIMULATOR)
    real = await queue.take_ticket(TicketCreate(service_code=hall.service_c), caller=DESK)
    await queue.call_next(hall.window_1, caller=SIMULATOR)

    cleared = await SimulatedTickets(queue.deps).clear(Principal.system('startup'))

    assert cleared == 2
    statuses = await open_tickets(db)
    assert statuses[called.ticket.number] == statuses[waiting.ticket.number] == TicketStatus.CANCELLED
    assert statuses[real.ticket.number] == TicketStatus.WAITING
    async with db.read_session() as s:
        window = await s.get(Window, hall.window_1)
        events = (
            await s.execute(select(TicketEvent.kind, TicketEvent.reason).where(TicketEvent.kind == 'cancelled'))
        ).all()
        audits = (await s.execute(select(AuditEntry).where(AuditEntry.action == CLEARED_ACTION))).scalars().all()
    assert window is not None and window.current_ticket_id is None
    assert events == [('cancelled', 'simulator_off')] * 2
    assert [(row.actor, row.detail) for row in audits] == [('system:startup', {'tickets': 2})]
    live = await queue.load_live()
    overview = {q.service.code: q.waiting for q in (await queue.overview()).queues}
    assert overview == {hall.service_a: 0, hall.service_b: 0, hall.service_c: 1}
    assert live.windows[hall.window_1].current_ticket_id is None


async def test_clearing_again_finds_nothing_and_writes_nothing(
    db: Database, hall: SmallHall, queue: QueueService
) -> None:
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=SIMULATOR)
    service = SimulatedTickets(queue.deps)
    assert await service.clear(Principal.system('startup')) == 1
    assert await service.clear(Principal.system('startup')) == 0
    async with db.read_session() as s:
        audits = (await s.execute(select(AuditEntry.id).where(AuditEntry.action == CLEARED_ACTION))).all()
    assert len(audits) == 1


async def test_a_clerk_cannot_clear_the_simulators_tickets_and_nothing_changes(
    db: Database, hall: SmallHall, queue: QueueService
) -> None:
    ticket = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=SIMULATOR)
    clerk = Principal(Kind.STAFF, 'w01', Role.STAFF, window_id=hall.window_1)
    with pytest.raises(Forbidden):
        await SimulatedTickets(queue.deps).clear(clerk)
    assert (await open_tickets(db))[ticket.ticket.number] == TicketStatus.WAITING
    async with db.read_session() as s:
        assert (await s.execute(select(AuditEntry.id).where(col(AuditEntry.action) == CLEARED_ACTION))).all() == []
