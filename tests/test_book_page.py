"""/book in NiceGUI's simulated browser: sign-in first, a day and one tap book; then the QR, move and cancel."""

from __future__ import annotations

import asyncio
import datetime as dt

from nicegui.testing import User

from app.models.appointment import AppointmentStatus
from tests import journeyhall
from tests.citizen_login import citizen_signed_in
from tests.journeyhall import JourneyHall
from tests.running import ready

ui_journey_hall = journeyhall.ui_journey_hall_fixture
PATIENT = 40  # retries of 0.1 s: a tap writes its booking before the page redraws, longer than 0.3 s under load


async def drawn_for(user: User, day: dt.date) -> None:
    """Wait until the page is redrawn for the day tapped (its chip drawn as chosen): the tap reads its slots first."""
    for _ in range(PATIENT):
        with user:
            chips = user.find(marker=f'book-day-{day.isoformat()}').elements
        if any('unelevated' in chip.props for chip in chips):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f'the page was not redrawn for {day}')


async def days() -> list[dt.date]:
    return (await ready()).journey.bookings.days()


async def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(ui_journey_hall: JourneyHall, user: User) -> None:
    await user.open('/book/SVC-C?start=2026-12-01T09:00')
    await user.should_see(marker='citizen-login', retries=PATIENT)
    await user.should_not_see(marker='book-days')


async def test_one_tap_books_a_slot_shows_its_qr_and_cancel_frees_it(ui_journey_hall: JourneyHall, user: User) -> None:
    me = await citizen_signed_in(user, '13600000001')
    await user.open('/book/SVC-C')
    await user.should_see(marker='book-service', content='事项丙', retries=PATIENT)
    day = (await days())[1]
    user.find(marker=f'book-day-{day.isoformat()}').click()
    await drawn_for(user, day)
    user.find(marker='book-slot-0900').click()
    await user.should_see(marker='book-done', retries=PATIENT)
    await user.should_see(marker='book-qr', retries=PATIENT)
    bookings = await (await ready()).journey.bookings.bookings_of(me)
    assert [(b.status, b.start.astimezone(dt.UTC)) for b in bookings] == [
        (AppointmentStatus.BOOKED, dt.datetime.combine(day, dt.time(1), dt.UTC))  # 09:00 hall time, that day
    ]
    await user.should_see(marker='book-reference', content=bookings[0].reference, retries=PATIENT)
    user.find(marker='book-cancel').click()
    await user.should_see(marker='book-days', retries=PATIENT)
    assert (await (await ready()).journey.bookings.bookings_of(me))[0].status == AppointmentStatus.CANCELLED
    slots = await (await ready()).journey.bookings.slots('SVC-C', day)
    assert slots[2].available == slots[2].capacity  # 09:00 is free again


async def test_the_guides_link_preselects_the_day_and_moving_keeps_the_reference(
    ui_journey_hall: JourneyHall, user: User
) -> None:
    me = await citizen_signed_in(user, '13600000002')
    day = (await days())[2]
    await user.open(f'/book/SVC-A?start={day.isoformat()}T10:30')
    await user.should_see(marker='book-slot-1030', retries=PATIENT)
    user.find(marker='book-slot-1030').click()
    await user.should_see(marker='book-when', content='10:30-11:00', retries=PATIENT)
    reference = (await (await ready()).journey.bookings.bookings_of(me))[0].reference
    user.find(marker='book-move').click()
    await user.should_see(marker='book-moving', retries=PATIENT)
    user.find(marker='book-slot-1400').click()
    await user.should_see(marker='book-when', content='14:00-14:30', retries=PATIENT)
    await user.should_see(marker='book-reference', content=reference, retries=PATIENT)


async def test_a_refusal_is_shown_in_words_and_the_slots_stay(ui_journey_hall: JourneyHall, user: User) -> None:
    me = await citizen_signed_in(user, '13600000003')
    bookings = (await ready()).journey.bookings
    first, second = (await days())[1:3]
    for service in ('SVC-A', 'SVC-B'):
        await bookings.book(me, service, (await bookings.slots(service, first))[0].start)
    await bookings.book(me, 'SVC-A', (await bookings.slots('SVC-A', second))[0].start)
    await user.open('/book/SVC-C')
    user.find(marker=f'book-day-{second.isoformat()}').click()
    await drawn_for(user, second)  # else, before 09:00 hall time, today's own 09:00 is there to tap
    user.find(marker='book-slot-0900').click()
    await user.should_see(marker='book-error', content='最多同时保留3个预约', retries=PATIENT)
    await user.should_see(marker='book-slots', retries=PATIENT)


async def test_an_unknown_service_says_so(ui_journey_hall: JourneyHall, user: User) -> None:
    await citizen_signed_in(user, '13600000004')
    await user.open('/book/NOPE')
    await user.should_see(marker='book-unknown', content='没有事项编码', retries=PATIENT)
