"""Email for businesses: a case's contact address, checked and encrypted, and the notices a business must hear of.

Through the outbox as every notice goes (one row per case and event, retried, capped per address a day), to a
real SMTP server (aiosmtpd), with the delivery status staff read on /admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlmodel import select

from app.db import Database
from app.models.cases import Case, Notification
from app.models.people import Role
from app.models.security import AuditEntry
from app.security.crypto import FieldCipher
from app.services.case_email import CONTACT_EMAIL_CONTEXT, FOOTER, SUBJECT, clean_email, emailed
from app.services.cases import CONTACT_EMAIL_SET, CaseService
from app.services.email import SmtpChannel
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.journey import Journey
from app.services.messages import Template, message
from app.services.notifications import FAILED, SENT, NotificationService
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.settings import Settings
from tests import journeyhall
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.journeyhall import JourneyHall, served_ticket
from tests.test_sms_channels import Inbox

journey_hall = journeyhall.journey_hall_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

ADDRESS = 'Zhang.San@Example-Corp.CN'
STORED = 'Zhang.San@example-corp.cn'
MASKED = 'Z***@example-corp.cn'


@pytest.fixture(name='journey_settings')
def journey_settings_fixture(settings: Settings, tmp_path: Path) -> Settings:
    """The journey's settings in a hall that sends email (the tests that deliver name their own server)."""
    return settings.model_copy(update={'var_dir': tmp_path / 'var', 'smtp_url': SecretStr('smtp://127.0.0.1:1')})


def clerk_at(window_id: int) -> Principal:
    return Principal(Kind.STAFF, f'w{window_id:02d}', Role.STAFF, window_id=window_id)


@pytest.fixture(name='inbox')
def inbox_fixture(unused_tcp_port: int) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname='127.0.0.1', port=unused_tcp_port)
    controller.start()
    try:
        yield inbox, unused_tcp_port
    finally:
        controller.stop()


async def opened_case(
    journey: Journey, hall_queue: QueueService, hall: JourneyHall, *, complete: bool = False
) -> tuple[str, int]:
    """A ticket for SVC-C (受理 -> 审批 -> 办结) served at window 4 and its case opened: (ticket code, case id)."""
    ticket = await served_ticket(hall_queue, hall.small.window_4, 'SVC-C', complete=complete)
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w04')
    assert view.case.id is not None
    return ticket.ticket.code, view.case.id


async def email_rows(db: Database, case_id: int) -> list[Notification]:
    async with db.read_session() as s:
        statement = select(Notification).where(Notification.case_id == case_id, Notification.channel == 'email')
        return list((await s.execute(statement.order_by(Notification.id))).scalars())


@pytest.mark.parametrize(
    'raw',
    [
        'no-at-sign.example.cn',
        'two@addresses.cn,other@x.cn',
        'name@localhost',
        'a b@example.cn',
        'ok@example.cn\r\nBcc: victim@example.cn',
        '.dot@example.cn',
        'dot..dot@example.cn',
        'x' * 65 + '@example.cn',
        'name@' + 'a' * 250 + '.cn',
    ],
)
def test_an_address_that_is_not_one_plain_email_is_refused_with_a_clear_error(raw: str) -> None:
    with pytest.raises(Invalid) as refused:
        clean_email(raw)
    assert refused.value.code == 'invalid_email' and '邮箱' in refused.value.message


def test_an_address_is_trimmed_its_domain_lower_cased_and_empty_means_none() -> None:
    assert clean_email(f'  {ADDRESS} ') == STORED
    assert clean_email('   ') == ''


def test_a_business_hears_of_acceptance_returns_the_end_and_its_certificate_but_not_each_approval() -> None:
    assert emailed(message(Template.CASE_ACCEPTED, service='设立登记'))
    assert emailed(message(Template.CASE_RETURNED, service='设立登记', step='材料审核'))
    assert emailed(message(Template.CASE_CONCLUDED, service='设立登记'))
    assert emailed(message(Template.CERTIFIED, certificate='证照编号 1'))
    assert emailed(message(Template.PICKUP_READY, service='设立登记', step='领取'))
    assert not emailed(message(Template.STEP_APPROVED, step='税务登记'))
    assert not emailed(message(Template.CASE_STEP_STARTED, service='设立登记', step='税务登记'))


async def test_the_window_records_the_address_encrypted_audited_masked_and_the_acceptance_is_emailed_once(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database, cipher: FieldCipher
) -> None:
    code, case_id = await opened_case(journey, hall_queue, journey_hall)
    clerk = clerk_at(journey_hall.small.window_4)
    assert await journey.cases.set_contact_email(code, ADDRESS, caller=clerk) == MASKED
    async with db.read_session() as s:
        case = await s.get(Case, case_id)
        audited = list((await s.execute(select(AuditEntry).where(AuditEntry.action == CONTACT_EMAIL_SET))).scalars())
    assert case is not None and STORED not in case.contact_email_enc
    assert cipher.decrypt(case.contact_email_enc, context=CONTACT_EMAIL_CONTEXT) == STORED
    [entry] = audited
    assert (entry.actor, entry.target) == ('w04', f'case:{case_id}') and STORED not in str(entry.detail)
    [accepted] = await email_rows(db, case_id)
    assert accepted.kind == 'case_step' and '已受理' in accepted.text and FOOTER in accepted.text
    assert accepted.dedupe_key.startswith(f'case:{case_id}:node:') and accepted.dedupe_key.endswith(':email')

    await journey.cases.set_contact_email(code, 'finance@example-corp.cn', caller=clerk)
    assert len(await email_rows(db, case_id)) == 1, 'one acceptance email per case, whatever the address'


async def test_a_bad_address_is_refused_and_changes_nothing(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    code, case_id = await opened_case(journey, hall_queue, journey_hall)
    with pytest.raises(Invalid) as refused:
        await journey.cases.set_contact_email(
            code, 'boss@example.cn\nBcc: all@x.cn', caller=clerk_at(journey_hall.small.window_4)
        )
    assert refused.value.code == 'invalid_email'
    async with db.read_session() as s:
        case = await s.get(Case, case_id)
        audited = list((await s.execute(select(AuditEntry).where(AuditEntry.action == CONTACT_EMAIL_SET))).scalars())
    assert case is not None and case.contact_email_enc == '' and audited == []
    assert await email_rows(db, case_id) == []


async def test_a_hall_that_sends_no_email_refuses_an_address_and_changes_nothing(
    journey: Journey,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    db: Database,
    journey_settings: Settings,
    cipher: FieldCipher,
) -> None:
    code, case_id = await opened_case(journey, hall_queue, journey_hall)
    no_email = journey_settings.model_copy(update={'smtp_url': SecretStr('')})
    deps = deps_for(db, settings=no_email, hall_id=journey_hall.hall_id, cipher=cipher)
    cases = CaseService(deps, department_data=journey.cases.department_data)
    with pytest.raises(Conflict) as refused:
        await cases.set_contact_email(code, ADDRESS, caller=clerk_at(journey_hall.small.window_4))
    assert refused.value.code == 'email_not_configured' and 'SMTP_URL' in refused.value.message
    async with db.read_session() as s:
        case = await s.get(Case, case_id)
    assert case is not None and case.contact_email_enc == '' and await email_rows(db, case_id) == []


async def test_only_window_staff_serving_the_ticket_record_an_address_and_only_on_an_opened_case(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    small = journey_hall.small
    waiting = await served_ticket(hall_queue, small.window_1, 'SVC-A')
    with pytest.raises(Conflict) as not_opened:
        await journey.cases.set_contact_email(waiting.ticket.code, ADDRESS, caller=clerk_at(small.window_1))
    assert not_opened.value.code == 'case_not_opened'
    code, case_id = await opened_case(journey, hall_queue, journey_hall)
    for stranger in (
        clerk_at(small.window_1),  # another window's clerk
        Principal(Kind.STAFF, 'rv', Role.REVIEWER),
        Principal.kiosk('K01'),
        Principal.anonymous(),
    ):
        with pytest.raises(Forbidden):
            await journey.cases.set_contact_email(code, ADDRESS, caller=stranger)
    async with db.read_session() as s:
        case = await s.get(Case, case_id)
    assert case is not None and case.contact_email_enc == ''


async def test_a_return_and_the_end_of_the_case_are_emailed_and_an_approval_is_not(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    code, case_id = await opened_case(journey, hall_queue, journey_hall)
    await journey.cases.set_contact_email(code, ADDRESS, caller=clerk_at(journey_hall.small.window_4))
    view = await journey.cases.view(case_id)
    approval = next(node for node in view.nodes if node.kind == 'approve')
    await journey.cases.decide(
        approval.id or 0, approve=False, actor='rv', department_id=None, note='请补交 http://evil.example 缴费'
    )
    view = await journey.cases.resubmit(case_id, actor='w04')
    again = next(node for node in view.nodes if node.kind == 'approve' and node.status == 'active')
    await journey.cases.decide(again.id or 0, approve=True, actor='rv', department_id=None)
    texts = [row.text for row in await email_rows(db, case_id)]
    assert len(texts) == 3 and '已受理' in texts[0] and '被退回补正' in texts[1] and '已办结' in texts[2]
    assert not any('evil' in text for text in texts), "staff's words never travel in a message from the hall"


async def test_without_an_address_no_email_is_written_and_removing_it_stops_the_emails(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    code, case_id = await opened_case(journey, hall_queue, journey_hall)
    clerk = clerk_at(journey_hall.small.window_4)
    await journey.cases.set_contact_email(code, ADDRESS, caller=clerk)
    assert await journey.cases.set_contact_email(code, '', caller=clerk) == ''
    view = await journey.cases.view(case_id)
    approval = next(node for node in view.nodes if node.kind == 'approve')
    await journey.cases.decide(approval.id or 0, approve=True, actor='rv', department_id=None)
    assert len(await email_rows(db, case_id)) == 1  # only the acceptance, written while the address was there


async def test_the_outbox_emails_a_business_through_a_real_smtp_server_once_per_event(
    journey: Journey,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    db: Database,
    journey_settings: Settings,
    clock: FakeClock,
    cipher: FieldCipher,
    inbox: tuple[Inbox, int],
) -> None:
    received, port = inbox
    code, case_id = await opened_case(journey, hall_queue, journey_hall)
    await journey.cases.set_contact_email(code, ADDRESS, caller=clerk_at(journey_hall.small.window_4))
    deps = deps_for(db, settings=journey_settings, clock=clock, hall_id=journey_hall.hall_id, cipher=cipher)
    outbox = NotificationService(deps, {'email': SmtpChannel(f'smtp://127.0.0.1:{port}', 'hall@example.gov.cn')})
    assert (await outbox.deliver_due()).sent == 1
    assert (await outbox.deliver_due()).sent == 0, 'a delivered row is not sent again'
    [(sender, recipients, content)] = received.messages
    mail = message_from_bytes(content, policy=policy.default)
    body = mail.get_content()
    assert (sender, recipients) == ('hall@example.gov.cn', [STORED])
    assert str(mail['Subject']) == SUBJECT and f'case.{case_id}.node.' in mail['Message-ID']
    assert '已受理' in body and '请勿回复' in body
    [row] = await email_rows(db, case_id)
    assert row.status == SENT and row.sent_at is not None


async def test_an_address_gets_at_most_its_daily_cap_and_staff_see_why_the_rest_did_not_go(
    journey: Journey,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    db: Database,
    journey_settings: Settings,
    clock: FakeClock,
    cipher: FieldCipher,
    inbox: tuple[Inbox, int],
) -> None:
    received, port = inbox
    clerk = clerk_at(journey_hall.small.window_4)
    for _ in range(2):  # two cases of one business, both with its one address
        code, _case_id = await opened_case(journey, hall_queue, journey_hall, complete=True)
        await journey.cases.set_contact_email(code, ADDRESS, caller=clerk)
    capped = journey_settings.model_copy(update={'email_daily_cap_per_address': 1})
    deps = deps_for(db, settings=capped, clock=clock, hall_id=journey_hall.hall_id, cipher=cipher)
    outbox = NotificationService(deps, {'email': SmtpChannel(f'smtp://127.0.0.1:{port}', 'hall@example.gov.cn')})
    report = await outbox.deliver_due()
    assert (report.sent, report.failed) == (1, 1) and len(received.messages) == 1
    status = await outbox.delivery_status(Principal(Kind.STAFF, 'boss', Role.MANAGER))
    [problem] = [p for p in status.problems if p.channel == 'email']
    assert (problem.status, problem.reason, problem.to) == (FAILED, 'email_capped', MASKED)
    [counts] = [k for k in status.kinds if k.channel == 'email']
    assert (counts.sent, counts.failed) == (1, 1)
