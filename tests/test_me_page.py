"""/me ("我的") in NiceGUI's simulated browser: sign-in first, then the citizen's own file, pushed live."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from nicegui.testing import User
from sqlalchemy import update
from sqlmodel import col

from app.clock import utcnow
from app.models import Hall, TicketCreate
from app.models.citizen_account import CitizenAccount
from app.models.ticket import Ticket
from app.services.errors import Unauthorized
from app.services.principal import Principal
from app.settings import get_settings
from tests import journeyhall
from tests.callers import DESK
from tests.citizen_login import citizen_signed_in, texted_sign_in_code
from tests.journeyhall import LOCAL_CITIZEN, JourneyHall
from tests.running import ready
from tests.test_device_names import IPHONE_WECHAT

ui_journey_hall = journeyhall.ui_journey_hall_fixture

PHONE = '13812345678'
PATIENT = 40  # retries of 0.1 s


@pytest.fixture
def phone_hall(ui_journey_hall: JourneyHall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JourneyHall:
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    get_settings.cache_clear()
    return ui_journey_hall


async def give_ticket_to(account_id: int, ticket_id: int) -> None:
    rt = await ready()
    async with rt.db.session() as s, s.begin():
        await s.execute(update(Ticket).where(col(Ticket.id) == ticket_id).values(account_id=account_id))


async def test_an_anonymous_visitor_is_sent_to_sign_in_and_sees_nothing(phone_hall: JourneyHall, user: User) -> None:
    await user.open('/me')
    await user.should_see(marker='citizen-login')
    await user.should_not_see(marker='me-tickets')


async def test_a_signed_in_phone_sees_its_ticket_move_live_and_the_unlinked_hint(
    phone_hall: JourneyHall, user: User
) -> None:
    me = await citizen_signed_in(user, PHONE)
    rt = await ready()
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)  # someone ahead
    mine = await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    await give_ticket_to(me.account_id or 0, mine.ticket.id or 0)

    await user.open('/me')
    await user.should_see(marker='me-unlinked')
    await user.should_see(marker='track-number', content='C002')
    await user.should_see(marker='track-ahead', content='前面还有 1 人')

    await rt.queue.call_next(phone_hall.small.window_4, caller=DESK)  # the one ahead is called: pushed, no reload
    await user.should_see(marker='track-ahead', content='下一个就是您', retries=PATIENT)
    await rt.queue.complete(phone_hall.small.window_4, caller=DESK)
    await rt.queue.call_next(phone_hall.small.window_4, caller=DESK)
    await user.should_see(marker='track-window', content='请到 4 号窗口', retries=PATIENT)


async def test_another_phone_does_not_see_the_ticket(phone_hall: JourneyHall, user: User) -> None:
    rt = await ready()
    mine = await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    owner = await citizen_signed_in(user, '13900001111')
    await give_ticket_to(owner.account_id or 0, mine.ticket.id or 0)
    user.http_client.cookies.clear()
    await citizen_signed_in(user, PHONE)
    await user.open('/me')
    await user.should_see('近 30 天没有排队记录')
    await user.should_not_see(marker='track-number')


async def test_a_linked_phone_withdraws_a_consent_on_the_page(phone_hall: JourneyHall, user: User) -> None:
    rt = await ready()
    view = await rt.queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=LOCAL_CITIZEN, phone=PHONE), caller=DESK
    )
    citizen_id = view.ticket.citizen_id
    assert citizen_id is not None
    await journeyhall.grant_department_data(rt.journey, citizen_id, 'SVC-C')
    me = await citizen_signed_in(user, PHONE)
    async with rt.db.session() as s, s.begin():
        await s.execute(
            update(CitizenAccount).where(col(CitizenAccount.id) == me.account_id).values(citizen_id=citizen_id)
        )

    await user.open('/me')
    await user.should_not_see(marker='me-unlinked')
    await user.should_see('调取部门数据', retries=PATIENT)
    user.find('撤回').click()
    await user.should_see('已撤回授权', retries=PATIENT)
    await user.should_see('已撤回', retries=PATIENT)
    consents = await rt.journey.consent.list_for(citizen_id)
    assert [c.revoked_at is not None for c in consents] == [True]


async def test_a_booking_shows_its_check_in_code_and_is_cancelled_from_me(phone_hall: JourneyHall, user: User) -> None:
    me = await citizen_signed_in(user, PHONE)
    bookings = (await ready()).journey.bookings
    # The first slot still open: by the hall's evening (the app runs on the real clock) today has none left.
    open_slots = [slot for day in bookings.days()[:2] for slot in await bookings.slots('SVC-C', day) if slot.available]
    slot = open_slots[0]
    booked = await bookings.book(me, 'SVC-C', slot.start)

    await user.open('/me')
    await user.should_see(marker=f'me-booking-qr-{booked.reference}')
    user.find(marker=f'me-booking-cancel-{booked.reference}').click()
    await user.should_see('预约已取消', retries=PATIENT)
    await user.should_not_see(marker=f'me-booking-qr-{booked.reference}')
    assert [(b.reference, b.status) for b in await bookings.bookings_of(me)] == [(booked.reference, 'cancelled')]


async def test_a_ticket_waiting_thirty_minutes_shows_the_halls_comfort_prompt_pushed_to_me(
    phone_hall: JourneyHall, user: User
) -> None:
    me = await citizen_signed_in(user, PHONE)
    rt = await ready()
    prompt = {'zh': '您已等候超过30分钟，辛苦了！', 'en': 'You have waited over 30 minutes.'}
    async with rt.db.session() as s, s.begin():
        await s.execute(update(Hall).values(prompts={'long_wait_comfort': prompt}))
    mine = await rt.queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
    await give_ticket_to(me.account_id or 0, mine.ticket.id or 0)
    await user.open('/me')
    await user.should_see(marker='track-number', content='C001')
    await user.should_not_see(marker='me-comfort-C001')

    async with rt.db.session() as s, s.begin():
        waited = utcnow() - dt.timedelta(minutes=31)
        await s.execute(update(Ticket).where(col(Ticket.id) == mine.ticket.id).values(taken_at=waited))
    assert await rt.journey.comfort.sweep() == 1  # what the periodic job runs
    await user.should_see(marker='me-comfort-C001', content=prompt['zh'], retries=PATIENT)


async def test_a_phone_sees_its_other_sign_ins_and_ends_the_lost_one_on_the_page(
    phone_hall: JourneyHall, user: User
) -> None:
    rt = await ready()
    away = Principal.anonymous('10.66.5.4')
    await rt.accounts.request_code(PHONE, away)
    lost = await rt.accounts.sign_in(PHONE, await texted_sign_in_code(), away, user_agent=IPHONE_WECHAT)
    lost_id = (await rt.accounts.session(lost.token)).session_id
    await citizen_signed_in(user, PHONE)

    await user.open('/me')
    await user.should_see(marker='me-devices')
    await user.should_see(marker=f'me-device-{lost_id}')
    await user.should_see('其他设备 · iPhone · WeChat · 10.66.5.*')
    await user.should_see('本机 · 10.77.0.*')
    await user.should_not_see('10.66.5.4')
    user.find(marker=f'me-device-end-{lost_id}').click()
    await user.should_see('已退出，该设备需重新登录', retries=PATIENT)
    await user.should_not_see(marker=f'me-device-{lost_id}')
    await user.should_see('只有本机登录。')
    with pytest.raises(Unauthorized):
        await rt.accounts.authenticate(lost.token)
