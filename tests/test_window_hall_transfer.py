"""`/window/{id}`: the desk hands the case of the ticket it serves, or the ticket itself, to another hall of the city
(跨区通办)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from app.api.web_session import SESSION_COOKIE
from app.bus import InProcessBus
from app.db import Database
from app.models import Ticket, TicketCreate, TicketStatus
from app.models.cases import Case, CaseNode
from app.models.people import Role
from app.runtime import Runtime
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.ticket_handoff import TicketHandoffService
from app.settings import get_settings
from tests import totp
from tests.callers import DESK
from tests.easthall import EAST, EAST_CODE, add_east_hall
from tests.factories import SmallHall
from tests.kiosk_hall import prepare_ui
from tests.running import ready

PATIENT = 50


@pytest.fixture
async def desk_ui(ui_hall: SmallHall, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    await prepare_ui(os.environ['DATABASE_URL'])
    monkeypatch.setenv('DEVICE_MODE', 'websocket')
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    return ui_hall


async def signed_in_clerk(user: User) -> Runtime:
    rt = await ready()
    issued = await totp.login(rt.auth, 'w01', 'Window-01-pass')
    user.http_client.cookies.set(SESSION_COOKIE, issued.token)
    return rt


async def add_east(db: Database) -> int:
    async with db.session() as s, s.begin():
        return (await add_east_hall(s, serves=['SVC-C'])).hall_id


async def open_dialog(user: User, marker: str) -> None:
    user.find(marker=marker).click()
    for _ in range(PATIENT):
        if any(dialog.value for dialog in user.find(kind=ui.dialog).elements):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f'{marker} opened no dialog')


async def serve_a001(rt: Runtime, user: User, window_id: int) -> None:
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{window_id}')
    user.find(marker='desk-call-next').click()
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)


async def test_the_desk_hands_the_open_case_to_the_hall_chosen_with_its_reason(desk_ui: SmallHall, user: User) -> None:
    rt = await signed_in_clerk(user)
    east_id = await add_east(rt.db)
    await serve_a001(rt, user, desk_ui.window_1)
    user.find(marker='desk-open-case').click()
    await user.should_see('已创建办件', retries=PATIENT)

    await open_dialog(user, 'desk-case-hall')
    (choice,) = user.find(marker='case-hall-select').elements
    assert isinstance(choice, ui.radio) and choice.options == {east_id: f'{EAST} (east)'}
    choice.set_value(east_id)
    user.find(marker='case-hall-reason').type('户籍在东区')
    user.find(marker='case-hall-ok').click()
    await user.should_see(f'已转至{EAST}', retries=PATIENT)

    async with rt.db.read_session() as s:
        case = (await s.execute(select(Case))).scalar_one()
        step = (await s.execute(select(CaseNode).where(CaseNode.kind == 'transfer'))).scalar_one()
    assert case.hall_id == east_id
    assert step.actor == 'w01' and step.note.endswith('原因：户籍在东区')


async def test_the_desk_says_to_open_the_case_first_and_moves_nothing(desk_ui: SmallHall, user: User) -> None:
    rt = await signed_in_clerk(user)
    east_id = await add_east(rt.db)
    await serve_a001(rt, user, desk_ui.window_1)
    await open_dialog(user, 'desk-case-hall')
    user.find(marker='case-hall-select').elements.pop().set_value(east_id)
    user.find(marker='case-hall-reason').type('户籍在东区')
    user.find(marker='case-hall-ok').click()
    await user.should_see('请先开始办件，再转至其他大厅', retries=PATIENT)
    async with rt.db.read_session() as s:
        assert (await s.execute(select(CaseNode))).first() is None


async def test_a_hall_alone_in_its_database_offers_no_hall_to_hand_to(desk_ui: SmallHall, user: User) -> None:
    rt = await signed_in_clerk(user)
    await serve_a001(rt, user, desk_ui.window_1)
    user.find(marker='desk-case-hall').click()
    await user.should_see('没有其他大厅可转', retries=PATIENT)


async def east_process(rt: Runtime, east_id: int) -> int:
    """东区's process, on its own bus: applies what was sent to it, within a few seconds."""
    bus = InProcessBus()
    deps = replace(rt.deps, hall_id=east_id, bus=bus)
    handoffs = TicketHandoffService(deps, queue=QueueService(deps))
    try:
        for _ in range(PATIENT):
            applied, _ = await handoffs.inbox_round()
            if applied:
                return applied
            await asyncio.sleep(0.1)
        return 0
    finally:
        await bus.stop()


async def test_the_desk_sends_the_ticket_it_serves_to_a_service_of_another_hall(desk_ui: SmallHall, user: User) -> None:
    rt = await signed_in_clerk(user)
    east_id = await add_east(rt.db)
    await serve_a001(rt, user, desk_ui.window_1)

    await open_dialog(user, 'desk-ticket-hall')
    (hall,) = user.find(marker='ticket-hall-select').elements
    assert isinstance(hall, ui.radio) and hall.options == {EAST_CODE: f'{EAST} (east)'}
    hall.set_value(EAST_CODE)
    (service,) = user.find(marker='ticket-hall-service').elements
    assert isinstance(service, ui.select) and list(service.options) == ['SVC-C']
    service.set_value('SVC-C')
    user.find(marker='ticket-hall-reason').type('户籍在东区')
    east = asyncio.create_task(east_process(rt, east_id))
    user.find(marker='ticket-hall-ok').click()
    await user.should_see(f'A001 号已转至{EAST}，新号 C001', retries=PATIENT)
    assert await east == 1
    await user.should_see(marker='desk-idle', retries=PATIENT)

    async with rt.db.read_session() as s:
        tickets = {t.number: t for t in (await s.execute(select(Ticket))).scalars()}
    assert tickets['A001'].status == TicketStatus.TRANSFERRED
    assert tickets['C001'].hall_id == east_id and tickets['C001'].queued_at == tickets['A001'].taken_at


async def test_a_hall_that_offers_no_service_is_no_destination(desk_ui: SmallHall, user: User) -> None:
    rt = await signed_in_clerk(user)
    async with rt.db.session() as s, s.begin():
        await add_east_hall(s)  # a hall with a window that serves nothing yet
    await serve_a001(rt, user, desk_ui.window_1)
    user.find(marker='desk-ticket-hall').click()
    await user.should_see('没有其他大厅可转', retries=PATIENT)


async def choose_east(user: User, reason: str = '户籍在东区') -> None:
    user.find(marker='ticket-hall-select').elements.pop().set_value(EAST_CODE)
    user.find(marker='ticket-hall-service').elements.pop().set_value('SVC-C')
    user.find(marker='ticket-hall-reason').type(reason)


async def statuses(rt: Runtime) -> dict[str, TicketStatus]:
    async with rt.db.read_session() as s:
        return {t.number: t.status for t in (await s.execute(select(Ticket))).scalars()}


async def test_the_desk_sends_a_waiting_ticket_picked_by_its_number(desk_ui: SmallHall, user: User) -> None:
    rt = await signed_in_clerk(user)
    east_id = await add_east(rt.db)
    for _ in range(2):
        await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    user.find(marker='waiting-hall-send').click()
    await user.should_see('请输入要转的号码', retries=PATIENT)  # nothing typed: no dialog

    user.find(marker='waiting-hall-number').type('a002')
    await open_dialog(user, 'waiting-hall-send')
    await user.should_see('A002 号转至其他大厅（跨区通办）')
    await choose_east(user)
    east = asyncio.create_task(east_process(rt, east_id))
    user.find(marker='ticket-hall-ok').click()
    await user.should_see(f'A002 号已转至{EAST}，新号 C001', retries=PATIENT)
    assert await east == 1

    assert await statuses(rt) == {
        'A001': TicketStatus.WAITING,
        'A002': TicketStatus.TRANSFERRED,
        'C001': TicketStatus.WAITING,
    }
    await user.should_see(marker='desk-idle')  # the desk serves nothing and stays as it was


async def test_a_clerk_cannot_send_the_ticket_another_window_serves(desk_ui: SmallHall, user: User) -> None:
    rt = await signed_in_clerk(user)
    await add_east(rt.db)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-B'), caller=DESK)
    await rt.queue.call_next(desk_ui.window_2, caller=DESK)
    before = await statuses(rt)
    await user.open(f'/window/{desk_ui.window_1}')

    user.find(marker='waiting-hall-number').type('B001')
    await open_dialog(user, 'waiting-hall-send')
    await choose_east(user)
    user.find(marker='ticket-hall-ok').click()
    await user.should_see('只能操作本人所在窗口', retries=PATIENT)
    assert await statuses(rt) == before == {'B001': TicketStatus.CALLED}


async def test_the_sender_is_told_when_the_other_hall_issues_the_number_after_the_answer_said_pending(
    desk_ui: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr('components.window_screen.SENDER_WAIT', 0.2)  # the desk's answer comes fast, as "pending"
    monkeypatch.setattr('app.services.ticket_handoff.SENDER_WAIT', 0.2)  # and the number after it counts as late
    rt = await signed_in_clerk(user)
    east_id = await add_east(rt.db)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    user.find(marker='waiting-hall-number').type('A001')
    await open_dialog(user, 'waiting-hall-send')
    await choose_east(user)
    user.find(marker='ticket-hall-ok').click()
    await user.should_see(f'A001 号已转至{EAST}；该大厅尚未出号', retries=PATIENT)

    assert await east_process(rt, east_id) == 1  # 东区's process runs now
    await rt.handoffs.inbox_round()  # this hall's inbox round (it may have run first: each is announced once)
    await user.should_see(f'{EAST}已为 A001 号出号：新号 C001', retries=PATIENT)


async def test_a_manager_hears_on_the_dashboard_of_their_own_pending_sends_only(
    desk_ui: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr('app.services.ticket_handoff.SENDER_WAIT', 0.0)  # an API answer that said "pending"
    rt = await ready()
    issued = await totp.login(rt.auth, 'boss', 'Manager-01-pass')
    user.http_client.cookies.set(SESSION_COOKIE, issued.token)
    east_id = await add_east(rt.db)
    mine, theirs = [await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK) for _ in range(2)]
    await user.open('/manager')
    await user.should_see(marker='floor-map', retries=PATIENT)

    for view, sender in ((mine, Principal(Kind.STAFF, 'boss', Role.MANAGER)), (theirs, DESK)):
        await rt.handoffs.send(
            view.ticket.number, to_hall_code=EAST_CODE, to_service_code='SVC-C', reason='户籍在东区', caller=sender
        )
    assert await east_process(rt, east_id) == 2
    await rt.handoffs.inbox_round()  # this hall's inbox round (it may have run first: each is announced once)
    await user.should_see(f'{EAST}已为 A001 号出号：新号 C001', retries=PATIENT)
    await rt.bus.drain()  # both announcements have reached every open page
    await user.should_not_see('A002 号出号')  # another sender's ticket: not this manager's notice


async def test_the_desk_lists_the_waiting_tickets_it_may_send_as_they_come_and_go_and_sends_the_one_picked(
    desk_ui: SmallHall, user: User
) -> None:
    rt = await signed_in_clerk(user)
    east_id = await add_east(rt.db)
    for service_code in ('SVC-A', 'SVC-A', 'SVC-B'):
        await rt.queue.take_ticket(TicketCreate(service_code=service_code), caller=DESK)
    await rt.queue.call_next(desk_ui.window_2, caller=DESK)  # B001, served at window 2: not this desk's to send
    await user.open(f'/window/{desk_ui.window_1}')
    await user.should_see(marker='waiting-hall-pick-A001', retries=PATIENT)
    await user.should_see(marker='waiting-hall-pick-A002')
    await user.should_not_see(marker='waiting-hall-pick-B001')
    (row,) = user.find(marker='waiting-hall-pick-A001').elements
    assert row.props['aria-label'] == 'A001 号，事项甲，已等 0 分钟：转其他大厅'

    await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)  # taken anywhere: listed at once
    await user.should_see(marker='waiting-hall-pick-C001', retries=PATIENT)
    await rt.queue.call_next(desk_ui.window_4, caller=DESK)  # called by another window: gone at once
    await user.should_not_see(marker='waiting-hall-pick-C001', retries=PATIENT)

    user.find(marker='waiting-hall-number').type('2')  # typing narrows the list
    await user.should_not_see(marker='waiting-hall-pick-A001', retries=PATIENT)
    await open_dialog(user, 'waiting-hall-pick-A002')
    await user.should_see('A002 号转至其他大厅（跨区通办）')
    await choose_east(user)
    east = asyncio.create_task(east_process(rt, east_id))
    user.find(marker='ticket-hall-ok').click()
    await user.should_see(f'A002 号已转至{EAST}，新号 C001', retries=PATIENT)
    assert await east == 1
    await user.should_not_see(marker='waiting-hall-pick-A002', retries=PATIENT)  # sent: off the list
    await user.should_see(marker='waiting-hall-pick-A001', retries=PATIENT)  # and the filter typed for it cleared
    assert (await statuses(rt))['A002'] == TicketStatus.TRANSFERRED
