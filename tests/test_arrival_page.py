"""/arrive/{code} and /entrance in NiceGUI's simulated browser: a phone checks its remote ticket in with a tap."""

from __future__ import annotations

from pathlib import Path

import pytest
from nicegui.testing import User
from sqlmodel import select

from app.api.web_session import SESSION_COOKIE
from app.models import Ticket, TicketCreate
from app.models.ticket import Channel
from app.services.principal import Principal
from app.services.remote_queue import entrance_code
from app.settings import get_settings
from tests import totp
from tests.citizen_login import citizen_signed_in
from tests.factories import SmallHall
from tests.midday import midday_zone
from tests.running import ready

PATIENT = 40  # retries of 0.1 s


@pytest.fixture
def phone_hall(ui_hall: SmallHall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    """The small hall at about noon hall time (remote tickets are issued in hall hours), texts under tmp_path."""
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    monkeypatch.setenv('HALL_TIMEZONE', midday_zone())
    get_settings.cache_clear()
    return ui_hall


async def awaiting(number: str) -> bool:
    async with (await ready()).db.read_session() as s:
        ticket = (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        return ticket.awaiting_arrival


async def test_a_signed_in_phone_checks_its_remote_ticket_in_with_a_tap_not_by_opening_the_page(
    phone_hall: SmallHall, user: User
) -> None:
    phone = await citizen_signed_in(user, '13812340001')
    rt = await ready()
    taken = await rt.queue.take_ticket(
        TicketCreate(service_code=phone_hall.service_a, channel=Channel.MOBILE), caller=phone
    )
    await user.open(f'/arrive/{entrance_code(rt.settings.secret, phone_hall.hall_id)}')
    await user.should_see(marker='arrive-confirm')
    assert await awaiting(taken.ticket.number)
    user.find(marker='arrive-confirm').click()
    await user.should_see(marker='arrive-done', retries=PATIENT)
    await user.should_see(f'{taken.ticket.number}号 · 事项甲')
    await user.should_see('下一位就是您')
    assert not await awaiting(taken.ticket.number)


async def test_a_phone_not_signed_in_is_offered_the_sign_in_and_a_forged_code_is_refused(
    phone_hall: SmallHall, user: User
) -> None:
    rt = await ready()
    genuine = entrance_code(rt.settings.secret, phone_hall.hall_id)
    await user.open(f'/arrive/{genuine}')
    await user.should_see(marker='arrive-sign-in')
    await user.should_not_see(marker='arrive-confirm')
    await citizen_signed_in(user, '13812340002')
    await user.open(f'/arrive/{entrance_code(rt.settings.secret, phone_hall.hall_id + 1)}')
    await user.should_see(marker='arrive-refused')
    await user.should_see('这不是本大厅的入口签到码')
    await user.should_not_see(marker='arrive-confirm')


async def test_a_manager_prints_the_entrance_code_that_opens_the_arrival_page(
    phone_hall: SmallHall, user: User
) -> None:
    rt = await ready()
    issued = await totp.login(rt.auth, 'boss', 'Manager-01-pass')
    user.http_client.cookies.set(SESSION_COOKIE, issued.token)
    await user.open('/entrance')
    await user.should_see('入口签到码')
    qr = user.find(marker='entrance-qr').elements.pop()
    assert str(qr.props['src']).startswith('data:image/svg+xml;base64,')


async def test_track_shows_a_remote_tickets_kiosk_qr_until_its_citizen_arrives(
    phone_hall: SmallHall, user: User
) -> None:
    phone = await citizen_signed_in(user, '13812340003')
    rt = await ready()
    taken = await rt.queue.take_ticket(
        TicketCreate(service_code=phone_hall.service_a, channel=Channel.MOBILE), caller=phone
    )
    await user.open(f'/track/{taken.ticket.code}')
    await user.should_see(marker='track-arrival-qr', retries=PATIENT)
    qr = user.find(marker='track-arrival-qr').elements.pop()
    assert str(qr.props['src']).startswith('data:image/svg+xml;base64,')
    await rt.queue.arrive_at_kiosk(taken.ticket.code, caller=Principal.kiosk('K01'))
    await user.should_not_see(marker='track-arrival-qr', retries=PATIENT)
    await user.should_see(marker='track-ahead')
