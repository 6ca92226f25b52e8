"""The desk's 绿色通道 on `/window/{id}`: the clerk marks a waiting ticket, it is called first, the desk shows why and
on whose word, and the audit log names the clerk."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from app.events import TicketCalled
from app.models import TicketCreate
from app.models.security import AuditEntry
from app.services.call_board import Call
from tests.callers import DESK
from tests.factories import SmallHall
from tests.running import ready
from tests.test_bus import issued
from tests.test_window_page import PATIENT, click, desk_ui, login

__all__ = ['desk_ui']


async def test_the_clerk_marks_a_waiting_ticket_green_and_the_desk_shows_why_and_who(
    desk_ui: SmallHall, user: User
) -> None:
    rt = await login(user)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    await user.should_see(marker='desk-green')
    user.find(marker='green-number').type('A002')
    (reason,) = user.find(marker='green-reason').elements
    assert isinstance(reason, ui.radio)
    reason.set_value('pregnancy')
    click(user, 'green-mark')
    await user.should_see('A002 已进入绿色通道', retries=PATIENT)
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-current-number', content='A002', retries=PATIENT)
    await user.should_see(marker='desk-priority', content='绿色通道')
    await user.should_see(marker='desk-priority-why', content='孕期 · 由 w01 标记')
    async with rt.db.read_session() as s:
        actors = (await s.execute(select(AuditEntry.actor).where(AuditEntry.action == 'ticket_prioritised'))).all()
    assert actors == [('w01',)]


@pytest.mark.parametrize(('priority', 'marked'), [('green', True), ('normal', False)])
def test_the_call_board_marks_a_green_ticket_without_saying_why(priority: str, marked: bool) -> None:
    called = {'status': 'called', 'window_id': 3, 'window_number': 4, 'priority_class': priority}
    call = Call.of(TicketCalled(hall_id=1, payload=issued(1).payload.model_copy(update=called)))
    assert call == Call('A001', 4, green=marked)


async def test_the_ticket_page_marks_the_green_channel_without_saying_why(desk_ui: SmallHall, user: User) -> None:
    rt = await ready()
    green = await rt.queue.take_ticket(TicketCreate(service_code='SVC-A', disability=True), caller=DESK)
    plain = await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/track/{green.ticket.code}')
    await user.should_see(marker='track-green', content='绿色通道：优先办理', retries=PATIENT)
    await user.should_not_see('残疾')
    await user.open(f'/track/{plain.ticket.code}')
    await user.should_see(marker='track-number', content=plain.ticket.number, retries=PATIENT)
    await user.should_not_see(marker='track-green')
