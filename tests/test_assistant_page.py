"""智能导服 in the app NiceGUI's `user` runs (default seed): the /guide box, and the index following a saved change."""

from __future__ import annotations

import asyncio

import pytest
from nicegui.testing import User
from sqlmodel import select

from app.events import HallConfigChanged
from app.models import ServiceItem
from app.services.principal import Principal
from app.services.uow import unit_of_work
from tests.running import ready
from tests.test_guide_page import seeded_files, seeded_ui, shows  # noqa: F401 - the seeded app's fixtures

pytestmark = pytest.mark.usefixtures('seeded_ui')

PATIENT = 100  # retries of 0.1 s: the first question waits for the index built at start-up


async def test_the_guide_box_shows_the_best_service_with_why_and_what_to_bring(user: User) -> None:
    await user.open('/guide')
    user.find(marker='assistant-question').type('社保卡丢了怎么办')
    user.find(marker='assistant-ask').click()
    await user.should_see(marker='assistant-answer-SI-CARD', retries=PATIENT)
    await shows(user, 'assistant-answer-SI-CARD', '社保卡补换')
    await shows(user, 'assistant-answer-SI-CARD', '「丢失」')  # the kiosk question its words answered
    await shows(user, 'assistant-materials', '本人身份证')
    await shows(user, 'assistant-materials', '损坏的原社保卡', absent=True)


async def test_a_question_nothing_fits_offers_the_phone_and_an_empty_one_is_said(user: User) -> None:
    await user.open('/guide')
    user.find(marker='assistant-question').type('食堂几点开饭')
    user.find(marker='assistant-ask').click()
    await user.should_see(marker='assistant-handoff', retries=PATIENT)
    await shows(user, 'assistant-handoff', '12345')
    user.find(marker='assistant-question').clear()
    user.find(marker='assistant-ask').click()
    await user.should_see(marker='assistant-error')


async def test_a_saved_configuration_change_rebuilds_the_index(user: User) -> None:
    await user.open('/guide')
    rt = await ready()
    assert rt.assistant is not None
    visitor = Principal.anonymous('198.51.100.77')
    assert (await rt.assistant.ask('游艇帆船', caller=visitor)).handoff
    async with unit_of_work(rt.db) as uow:
        service = (await uow.session.execute(select(ServiceItem).where(ServiceItem.code == 'RE-QUERY'))).scalar_one()
        service.description = '游艇、帆船的登记资料也在这里查询。'
    await rt.bus.publish(HallConfigChanged(hall_id=rt.deps.hall_id, kind='service', subject='RE-QUERY', version=2))
    for _ in range(PATIENT):
        reply = await rt.assistant.ask('游艇帆船', caller=visitor)
        if reply.answers:
            break
        await asyncio.sleep(0.1)
    assert reply.answers[0].code == 'RE-QUERY'
