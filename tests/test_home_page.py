"""`/` shows the hall live: a ticket taken through the service appears without a reload."""

from __future__ import annotations

from nicegui.testing import User

from app.models import TicketCreate
from tests.callers import DESK
from tests.factories import SmallHall
from tests.running import ready


async def test_home_shows_windows_and_queues(ui_hall: SmallHall, user: User) -> None:
    await user.open('/')
    await user.should_see('实时大厅')
    await user.should_see('1号')
    await user.should_see('事项甲')


async def test_home_updates_by_push_when_tickets_move(ui_hall: SmallHall, user: User) -> None:
    await user.open('/')
    queue = (await ready()).queue
    await queue.take_ticket(TicketCreate(service_code=ui_hall.service_a), caller=DESK)
    await user.should_see(marker='queue-SVC-A-waiting', content='1')
    await queue.call_next(ui_hall.window_1, caller=DESK)
    await user.should_see(marker='window-1-current', content='A001')
    await user.should_see(marker='queue-SVC-A-waiting', content='0')
