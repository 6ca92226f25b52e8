"""What staff see of message delivery: counts per channel and kind, and each problem with its cause in words."""

from __future__ import annotations

import pytest

from app.db import Database
from app.models.people import Role
from app.services import notifications
from app.services.channels import ChannelError, NotificationChannel, Outgoing
from app.services.errors import Forbidden
from app.services.journey import Journey
from app.services.messages import Template, message
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from tests import journeyhall
from tests.conftest import FakeClock
from tests.journeyhall import JourneyHall
from tests.test_notifications import PHONE, citizen_with_phone

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

ADMIN = Principal(Kind.STAFF, 'adm01', Role.ADMIN)
MANAGER = Principal(Kind.STAFF, 'mgr01', Role.MANAGER)
CLERK = Principal(Kind.STAFF, 'w01', Role.STAFF)


class BadNumberProvider(NotificationChannel):
    """A provider that refuses every number, as Aliyun answers isv.MOBILE_NUMBER_ILLEGAL."""

    name = 'sms'
    needs_phone = True

    async def send(self, message: Outgoing) -> None:
        raise ChannelError('aliyun isv.MOBILE_NUMBER_ILLEGAL: 非法手机号', permanent=True)


async def test_staff_see_deliveries_per_kind_and_a_failure_with_the_masked_number_and_the_providers_words(
    db: Database, journey: Journey, journey_hall: JourneyHall, clock: FakeClock, hall_queue: QueueService
) -> None:
    ticket_id, citizen_id = await citizen_with_phone(hall_queue)
    journey.notifications.channels['sms'] = BadNumberProvider()
    async with db.session() as s, s.begin():
        await notifications.add(
            s,
            hall_id=journey_hall.hall_id,
            key='accepted',
            kind='case_step',
            message=message(Template.CASE_ACCEPTED, service='居住证办理'),
            now=clock(),
            ticket_id=ticket_id,
            citizen_id=citizen_id,
        )
    await journey.notifications.deliver_due()

    status = await journey.notifications.delivery_status(MANAGER)
    assert {(k.channel, k.kind, k.sent, k.pending, k.failed) for k in status.kinds} >= {
        ('push', 'case_step', 1, 0, 0),
        ('sms', 'case_step', 0, 0, 1),
    }
    [problem] = [p for p in status.problems if p.kind == 'case_step']
    assert (problem.channel, problem.status, problem.attempts) == ('sms', 'failed', 1)
    assert problem.to == '139****5678' and PHONE not in repr(status)
    assert (problem.reason, problem.detail) == ('provider', '非法手机号')
    assert (await journey.notifications.delivery_status(ADMIN)).problems == status.problems


async def test_a_clerk_may_not_read_the_delivery_status(journey: Journey) -> None:
    with pytest.raises(Forbidden):
        await journey.notifications.delivery_status(CLERK)


@pytest.mark.parametrize(
    ('error', 'reason'),
    [
        ('capped: sms_capped', ('capped', '')),
        ("ChannelError: no template code for 'called'", ('no_template', '')),
        (
            'tencent LimitExceeded.PhoneNumberOneHourLimit: 单个手机号1小时内下发短信条数超过设定的上限',
            ('provider', '单个手机号1小时内下发短信条数超过设定的上限'),
        ),
        ('smtp SMTPServerDisconnected: Connection lost', ('provider', 'Connection lost')),
        ('RuntimeError: boom', ('other', '')),
    ],
)
def test_a_rows_last_error_becomes_a_cause_in_words(error: str, reason: tuple[str, str]) -> None:
    assert notifications.failure_reason(error) == reason
