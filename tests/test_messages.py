"""SMS text comes only from fixed templates with typed parameters; staff's free text stays on /track."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from app.db import Database
from app.models.cases import Notification
from app.services import notifications
from app.services.channels import PUSH, SMS
from app.services.errors import Invalid
from app.services.journey import Journey
from app.services.messages import TEMPLATES, HallLink, Template, hall_link, message
from app.services.queue import QueueService
from tests import journeyhall
from tests.conftest import FakeClock
from tests.journeyhall import LOCAL_CITIZEN, JourneyHall, served_ticket

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

LINKS = (
    'http://pay-gov.example/x',
    'https://a.cn',
    '请访问 pay-gov.example 缴费',
    'www.example.com',
    'pay-gov。example。com',
    'mailto:a@b.cn',
    'ftp://10.0.0.1/x',
    'x@evil.com',
)


@pytest.mark.parametrize('value', LINKS)
def test_a_parameter_with_a_link_or_host_is_refused_with_a_clear_error(value: str) -> None:
    with pytest.raises(Invalid) as refused:
        message(Template.CASE_ACCEPTED, service=value)
    assert refused.value.code == 'link_in_message' and 'service' in refused.value.message


def test_parameters_are_typed_named_and_short() -> None:
    assert message(Template.CALLED, number='A001', window=3).text == '请A001号到3号窗口办理'
    for bad in ({'number': 'A001', 'window': '3'}, {'number': 'A001'}, {'number': 'A001', 'window': 3, 'note': 'x'}):
        with pytest.raises(Invalid):
            message(Template.CALLED, **bad)
    with pytest.raises(Invalid):
        message(Template.CASE_ACCEPTED, service='长' * 41)
    assert message(Template.STEP_APPROVED, step='户籍审核\n').text == '「户籍审核」审批通过'


def test_no_template_has_a_free_text_slot() -> None:
    """Every parameter is a short typed value: no template is a vehicle for a note, a reason or a comment."""
    for template, spec in TEMPLATES.items():
        assert set(spec.params) <= {
            'code',
            'minutes',
            'number',
            'window',
            'ahead',
            'service',
            'step',
            'due',
            'certificate',
            'state',
            'department',
            'deadline',
            'time',  # a booking's slot, '11月30日09:30'
            'reference',  # a booking's reference, 12 hex digits
            'quiet',  # a quieter slot's time, '14:30'
            'hall',  # a hall's configured name (跨区通办: where a case went), like a service's
            'link',  # only a HallLink: PUBLIC_URL and a path our code builds
        }, template
        assert 'link' not in spec.params or spec.params['link'] is HallLink, template


def test_the_one_link_a_text_carries_is_the_halls_own_page_and_never_a_string() -> None:
    link = hall_link('https://hall.example.gov.cn/', '/track/Ab_9-x')
    assert link is not None
    invite = message(Template.RATE_INVITE, service='事项甲', link=link)
    assert invite.text.endswith('：https://hall.example.gov.cn/track/Ab_9-x')
    with pytest.raises(Invalid) as refused:
        message(Template.RATE_INVITE, service='事项甲', link='https://hall.example.gov.cn/track/Ab_9-x')
    assert refused.value.code == 'link_in_message'
    assert hall_link('', '/track/Ab_9-x') is None  # no public address: the text names the page instead
    for path in ('//evil.example.com/x', '/track/a b', 'track/x', '/book/A?start=1 2'):
        with pytest.raises(ValueError):
            hall_link('https://hall.example.gov.cn', path)


async def test_a_note_goes_to_the_push_copy_only(db: Database, journey_hall: JourneyHall, clock: FakeClock) -> None:
    async with db.session() as s, s.begin():
        await notifications.add(
            s,
            hall_id=journey_hall.hall_id,
            key='k',
            kind='case_step',
            message=message(Template.CASE_RETURNED, service='社保', step='审核'),
            note='请先访问 http://pay-gov.example/x 缴纳补正费用',
            now=clock(),
            channels=(PUSH, SMS),
        )
    async with db.read_session() as s:
        stored = {n.channel: n.text for n in (await s.execute(select(Notification))).scalars()}
    assert 'http' not in stored[SMS] and '办件进度页' in stored[SMS]
    assert stored[PUSH].endswith('说明：请先访问 http://pay-gov.example/x 缴纳补正费用')


async def test_a_return_note_with_a_link_reaches_track_but_not_the_sms_gateway(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    ticket = await served_ticket(
        hall_queue, journey_hall.small.window_4, 'SVC-C', id_number=LOCAL_CITIZEN, phone='13812345678'
    )
    node = (await journey.cases.open_case(ticket.ticket.id or 0, actor='w04')).nodes[1]
    await journey.cases.decide(
        node.id or 0, approve=False, actor='rv', department_id=None, note='请先访问 http://pay-gov.example/x 缴费'
    )
    await journey.notifications.deliver_due()
    texts = [str(sent['text']) for sent in journey.sms.sent]
    assert any('退回补正' in text for text in texts) and not any('http' in text for text in texts)
    async with db.read_session() as s:
        pushed = [n.text for n in (await s.execute(select(Notification).order_by(col(Notification.id)))).scalars()]
    assert any('http://pay-gov.example/x' in text for text in pushed)
