"""`/manager` with NiceGUI's user fixture: two managers see the same change pushed, and one acknowledges for both."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from nicegui import core, ui
from nicegui.testing import User
from sqlmodel import select

from app.api.web_session import SESSION_COOKIE
from app.db import Database
from app.events import HelpRequested
from app.models import AuditEntry, Role, TicketCreate, WindowState
from app.services.alerts import ALERT_ACKNOWLEDGED
from app.services.staffing import Move
from app.settings import get_settings
from app.users import add_user
from tests import totp
from tests.bookinghall import MONDAY, account, at
from tests.callers import DESK, as_staff
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.journeyhall import sms_act
from tests.running import parts, ready
from tests.twinkit import Devices, add_devices

SECOND_MANAGER = ('boss2', 'Manager-02-pass')
RETRIES = 200  # x 50 ms: generous on a shared machine, and it returns as soon as the page shows it


@pytest.fixture
async def manager_hall(ui_hall: SmallHall) -> Devices:
    """The small hall with a few devices and a second manager, before the app starts."""
    db = Database(get_settings().db_url)
    try:
        devices = await add_devices(db, ui_hall.hall_id, ui_hall.window_1)
        await add_user(
            db, username=SECOND_MANAGER[0], role=Role.MANAGER, password=SECOND_MANAGER[1], window_number=None
        )
        await totp.enrol(db)
    finally:
        await db.dispose()
    return devices


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until the condition holds (generous timeout: the machine is shared; it returns as soon as it holds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, 'condition not met in time'
        await asyncio.sleep(0.05)


async def log_in(user: User, username: str, password: str) -> None:
    rt = await ready()
    issued = await totp.login(rt.auth, username, password)
    user.http_client.cookies.set(SESSION_COOKIE, issued.token)


def texts_in(user: User, marker: str) -> set[str]:
    """The label texts inside the element with this marker."""
    (element,) = user.find(marker=marker).elements
    return {label.text for label in element.descendants() if isinstance(label, ui.label)}


def capture_scripts(user: User) -> list[str]:
    """The JavaScript this user's page is sent (the floor map's patches travel that way)."""
    sent: list[str] = []
    outbox = user.client.outbox  # type: ignore[union-attr]
    original: Callable[[Any], Any] = outbox._emit

    async def emit(message: Any) -> None:
        _, kind, data = message
        if kind == 'run_javascript':
            sent.append(data['code'])
        await original(message)

    outbox._emit = emit  # type: ignore[method-assign]
    return sent


async def test_two_managers_see_one_change_and_one_acknowledgement(
    manager_hall: Devices, ui_hall: SmallHall, user: User
) -> None:
    other = User(httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test'))
    await log_in(user, 'boss', 'Manager-01-pass')
    await log_in(other, *SECOND_MANAGER)
    for manager in (user, other):
        await manager.open('/manager')
        await manager.should_see('管理驾驶舱')
        await manager.should_see(marker='kpi-waiting-value', content='0 人')
        await manager.should_see('当前没有预警')
    scripts = [capture_scripts(user), capture_scripts(other)]

    rt = await ready()
    await rt.queue.take_ticket(TicketCreate(service_code=ui_hall.service_a), caller=DESK)
    for manager in (user, other):
        await manager.should_see(marker='kpi-waiting-value', content='1 人', retries=RETRIES)
    zone = next(iter((await parts()).twin.zones))
    patched = re.compile(rf'htFloor\(.*\["fm-z{zone}-q",null,"1"\]')
    for sent in scripts:  # the floor map's zone badge was patched on both pages
        await eventually(lambda sent=sent: any(patched.search(code) for code in sent))

    await rt.bus.publish(HelpRequested(hall_id=ui_hall.hall_id, device=manager_hall.kiosk, note='老人需要帮助'))
    for manager in (user, other):
        await manager.should_see('有群众呼叫人工', retries=RETRIES)
    alert_id = next(iter((await parts()).alerts.open.values())).id
    user.find(marker=f'alert-{alert_id}-ack').click()
    for manager in (user, other):
        await manager.should_not_see('有群众呼叫人工', retries=RETRIES)
        await manager.should_see('当前没有预警', retries=RETRIES)
    async with rt.db.read_session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == ALERT_ACKNOWLEDGED))).scalar_one()
    assert entry.actor == 'boss' and entry.role == 'manager'


async def test_the_floor_panel_shows_a_window(manager_hall: Devices, ui_hall: SmallHall, user: User) -> None:
    await log_in(user, 'boss', 'Manager-01-pass')
    await user.open('/manager')
    rt = await ready()
    await rt.queue.take_ticket(TicketCreate(service_code=ui_hall.service_a), caller=DESK)
    await rt.queue.call_next(ui_hall.window_1, caller=DESK)
    user.find(marker='floor-map').trigger('click', f'window:{ui_hall.window_1}')  # what the SVG's click handler emits
    await user.should_see(marker='detail-title', content='1号窗口', retries=RETRIES)
    await user.should_see(marker='detail-serving', content='A001')
    await user.should_see('张三')
    await user.should_see(marker='detail-history')
    await user.should_see('叫号')  # the window's last ticket transition, from TicketEvent


async def test_the_arrivals_chart_gains_the_forecast_line_after_the_page_is_drawn(
    manager_hall: Devices, user: User
) -> None:
    await log_in(user, 'boss', 'Manager-01-pass')
    await user.open('/manager')
    (chart,) = user.find(marker='chart-arrivals').elements
    assert isinstance(chart, ui.plotly)

    def names() -> list[str]:
        figure = chart.figure
        assert isinstance(figure, dict)
        return [trace.get('name') for trace in figure['data']]

    await eventually(lambda: '预测' in names())


async def test_the_map_shows_who_is_booked_for_the_hour_ahead(
    manager_hall: Devices, ui_hall: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, twin = await ready(), (await parts()).twin
    assert rt.queue.live is not None
    clock = FakeClock()
    clock.now = at(MONDAY, 8, 40).astimezone(dt.UTC)
    monkeypatch.setattr(rt.queue.live, 'clock', clock)
    monkeypatch.setattr(rt.journey.bookings, 'clock', clock)
    await log_in(user, 'boss', 'Manager-01-pass')
    await user.open('/manager')
    await user.should_see('管理驾驶舱')
    scripts = capture_scripts(user)

    me = await account(rt.db, rt.cipher, '13800000042')
    await rt.journey.bookings.book(me, ui_hall.service_a, at(MONDAY, 9))
    zone = next(q.zone_id for q in twin.queues.values() if q.code == ui_hall.service_a)
    patched = re.compile(rf'htFloor\(.*\["fm-z{zone}-b",null,"约1"\]')
    await eventually(lambda: any(patched.search(code) for code in scripts))
    user.find(marker='floor-map').trigger('click', f'zone:{zone}')
    await user.should_see('1小时内预约 1 人', retries=RETRIES)


@pytest.mark.parametrize('time_of_day', [dt.time(16, 4, 39), dt.time(18, 30, 20), dt.time(0, 0, 20)], ids=str)
async def test_the_replay_tab_shows_window_states_over_the_day(
    manager_hall: Devices, ui_hall: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch, time_of_day: dt.time
) -> None:
    """At any hall time of day (the clock is injected, never the wall clock's): mid-minute in opening hours,
    after closing, just after midnight."""
    rt = await ready()
    assert rt.replay is not None
    clock = FakeClock()
    clock.now = dt.datetime.combine(dt.date(2026, 12, 2), time_of_day, tzinfo=rt.settings.tz).astimezone(dt.UTC)
    monkeypatch.setattr(rt.queue, 'clock', clock)
    monkeypatch.setattr(rt.replay, 'clock', clock)
    await rt.queue.set_window_state(ui_hall.window_3, WindowState.OPEN, caller=as_staff('w03'))
    await rt.queue.set_window_state(ui_hall.window_2, WindowState.PAUSED, caller=as_staff('w02'))
    await log_in(user, 'boss', 'Manager-01-pass')
    await user.open('/manager')
    user.find(ui.tabs).elements.pop().set_value('manager.replay')
    await user.should_see(marker='replay-windows', retries=RETRIES)
    await user.should_see(marker='replay-time', content=f'{time_of_day:%H:%M}')  # the slider stands at "now"
    await user.should_see('3号窗口 开放')  # the day's window changes, newest first, in "just before"
    await user.should_see('2号窗口 暂停服务')
    (grid,) = user.find(marker='replay-windows').elements
    tiles = {label.text for label in grid.descendants() if isinstance(label, ui.label)}
    assert {'暂停', '空闲'} <= tiles  # window 2 paused, window 3 open with no one at the desk


async def test_the_ratings_tab_ranks_windows_departments_and_staff_and_marks_mttr_against_the_target(
    manager_hall: Devices, ui_hall: SmallHall, user: User
) -> None:
    rt = await ready()
    await rt.queue.take_ticket(TicketCreate(service_code=ui_hall.service_c), caller=DESK)
    await rt.queue.call_next(ui_hall.window_4, caller=DESK)
    view = await rt.queue.complete(ui_hall.window_4, caller=as_staff('w01'))
    await rt.journey.evaluations.rate(sms_act(view.ticket.id or 0), 'bad')
    await log_in(user, 'boss', 'Manager-01-pass')
    await user.open('/manager')
    user.find(ui.tabs).elements.pop().set_value('manager.results')
    await user.should_see(marker='ranking-overall', retries=RETRIES)
    assert '4号窗口' in texts_in(user, 'ranking-windows')
    assert '张三' in texts_in(user, 'ranking-staff')  # managers see the staff by display name
    await user.should_see(marker='mttr-today')
    await user.should_see('设备平均修复时间（目标 ≤ 30 分钟）')


async def test_a_stored_staffing_move_is_listed_with_who_why_and_its_end(
    manager_hall: Devices, ui_hall: SmallHall, user: User
) -> None:
    rt = await ready()
    assert rt.staffing is not None
    move = Move(
        window_id=ui_hall.window_4,
        window_number=4,
        window_name='4号窗口',
        before={ui_hall.service_c: 1},
        after={ui_hall.service_b: 1},
        target_code=ui_hall.service_b,
        target_name='事项乙',
        source_code=ui_hall.service_c,
        source_name='事项丙',
        waits_before={},
        waits_after={},
        names={},
        gain=0.0,
        knows_target=False,
    )
    applied = await rt.staffing.apply(move, caller=as_staff('boss'), reason='乙类排队长')
    await log_in(user, 'boss', 'Manager-01-pass')
    await user.open('/manager')
    user.find(ui.tabs).elements.pop().set_value('manager.staffing')
    until = applied.until.astimezone(rt.settings.tz).strftime('%H:%M')
    await user.should_see(marker='staffing-active-0', retries=RETRIES)
    await user.should_see(f'4号窗口 → 事项乙 专窗 · 至 {until}（到时自动恢复）')
    assert any('原因：乙类排队长' in text for text in texts_in(user, 'staffing-active-0'))
