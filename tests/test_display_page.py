"""`/display` as the waiting hall sees it: calls pushed big, queued announcements that name the window, no names."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pytest
from nicegui.awaitable_response import AwaitableResponse
from nicegui.client import Client
from nicegui.testing import User

from app.models import TicketCreate
from app.settings import get_settings
from components.call_board import Announcer
from tests.callers import DESK
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.kiosk_hall import KioskHall, prepare_ui
from tests.queueclock import pass_recall_interval
from tests.running import ready

PATIENT = 50
SAY = re.compile(r'.*runMethod\(\d+, "say", (\[.*\])\)')


@pytest.fixture
async def board_ui(ui_hall: SmallHall, monkeypatch: pytest.MonkeyPatch) -> tuple[SmallHall, KioskHall]:
    extra = await prepare_ui(os.environ['DATABASE_URL'])
    monkeypatch.setenv('DEVICE_MODE', 'websocket')
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    return ui_hall, extra


def spoken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Capture what the page asks the browser to say: the announcer's `say`, sent as JavaScript."""
    said: list[str] = []
    original = Client.run_javascript

    def run_javascript(self: Client, code: str, *, timeout: float = 1.0) -> AwaitableResponse:
        match = SAY.match(code)
        if match:
            said.extend(json.loads(match.group(1)))
        return original(self, code, timeout=timeout)

    monkeypatch.setattr(Client, 'run_javascript', run_javascript)
    return said


async def test_a_call_appears_big_and_its_announcement_is_queued(
    board_ui: tuple[SmallHall, KioskHall], user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    hall, _ = board_ui
    said = spoken(monkeypatch)
    await user.open('/display')
    await user.should_see('暂无呼叫')
    rt = await ready()
    await rt.queue.take_ticket(
        TicketCreate(service_code='SVC-A', id_number=make_id(dt.date(1980, 5, 1)), name='王小明'), caller=DESK
    )
    await user.should_see(marker='board-queue-SVC-A', content='1', retries=PATIENT)
    await rt.queue.call_next(hall.window_1, caller=DESK)
    await user.should_see(marker='board-now-number', content='A001', retries=PATIENT)
    await user.should_see(marker='board-now-window', content='1 号窗口')
    await user.should_see(marker='board-queue-SVC-A', content='0', retries=PATIENT)
    await user.should_not_see('王小明')
    await user.should_not_see('王*')
    announcer = user.find(kind=Announcer).elements.pop()
    assert announcer.props['lang'] == 'zh-CN' and announcer.props['rate'] == 0.9
    assert said == ['请 A001 号到 1 号窗口办理'] == announcer.said

    pass_recall_interval(rt.queue)
    await rt.queue.recall(hall.window_1, caller=DESK)  # a recall repeats the call
    await user.should_see('重呼', retries=PATIENT)
    assert said == ['请 A001 号到 1 号窗口办理'] * 2 == announcer.said


async def test_the_list_keeps_earlier_calls_and_a_zone_board_shows_only_its_windows(
    board_ui: tuple[SmallHall, KioskHall], user: User
) -> None:
    hall, extra = board_ui
    await user.open('/display/senior')
    await user.should_see('银发服务窗口')
    rt = await ready()
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    await rt.queue.call_next(hall.window_1, caller=DESK)  # not a senior window: not on this board
    await rt.queue.call_next(extra.senior_window_id, caller=DESK)
    await user.should_see(marker='board-now-number', content='C001', retries=PATIENT)
    await user.should_see(marker='board-now-window', content='5 号窗口')
    await user.should_not_see(marker='board-queue-SVC-A')  # window 5 serves only SVC-C
    await rt.queue.complete(extra.senior_window_id, caller=DESK)
    await rt.queue.call_next(extra.senior_window_id, caller=DESK)
    await user.should_see(marker='board-now-number', content='C002', retries=PATIENT)
    await user.should_see(marker='board-call-C001')
    await user.should_not_see('A001')


async def test_an_unknown_zone_is_a_404_and_the_board_needs_no_login(
    board_ui: tuple[SmallHall, KioskHall], user: User
) -> None:
    await ready()
    assert (await user.http_client.get('/display/nowhere')).status_code == 404
    assert (await user.http_client.get('/display')).status_code == 200
