"""Real message channels against local stand-ins: Aliyun's and Tencent Cloud's SendSms over HTTP, SMTP by aiosmtpd.

The stand-ins answer with the providers' documented JSON bodies, so the official SDKs parse real answers;
each test asserts what the provider would have received (action, number, template, parameters, signature).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlmodel import col, select

from app import jobs
from app.db import Database
from app.models.cases import Notification
from app.models.hall import Hall
from app.preflight import check_sms
from app.services import notifications
from app.services.channels import ChannelError, Outgoing
from app.services.email import SmtpChannel
from app.services.journey import Journey
from app.services.messages import Template, message
from app.services.notifications import NotificationService
from app.services.queue import QueueService
from app.services.sms_providers import AliyunSms, TencentSms
from app.settings import ConfigError, Settings
from tests import journeyhall
from tests.apphost import prepare_database, run_coroutine, sqlite_url, start_app
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.journeyhall import JourneyHall
from tests.test_notifications import citizen_with_phone

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

PHONE = '13912345678'
ALIYUN_OK = {
    'Message': 'OK',
    'RequestId': 'F655A8D5-B967-440B-8683-DAD6FF8DE990',
    'Code': 'OK',
    'BizId': '9006197469364984400',
}
TENCENT_OK_STATUS = {
    'SerialNo': '5000:1045710669157053657849499619',
    'PhoneNumber': '+8613912345678',
    'Fee': 1,
    'SessionContext': 'test',
    'Code': 'Ok',
    'Message': 'send success',
    'IsoCode': 'CN',
}


@dataclass
class Seen:
    """One request as the provider's endpoint received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class StandIn:
    """A provider's endpoint on a free local port: records each request, answers with `status` and `reply`."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    status: int = 200
    reply: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f'http://127.0.0.1:{self.port}'


@pytest.fixture(name='provider')
def provider_fixture() -> Iterator[StandIn]:
    stand_in = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get('Content-Length') or 0)
            raw = self.rfile.read(length) if length else b''
            query = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
            stand_in.seen.append(Seen(self.path, query, dict(self.headers), json.loads(raw) if raw else {}))
            data = json.dumps(stand_in.reply).encode()
            self.send_response(stand_in.status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    stand_in.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    server.shutdown()
    server.server_close()


def provider_settings(settings: Settings, provider: StandIn, name: str) -> Settings:
    return settings.model_copy(
        update={
            'sms_provider': name,
            'sms_endpoint': provider.endpoint,
            'sms_access_key_id': 'LTAI-test-key',
            'sms_access_key_secret': SecretStr('test-secret'),
            'sms_sign_name': '某某政务大厅',
            'sms_sdk_app_id': '1400000001',
            'sms_timeout_seconds': 5.0,
        }
    )


def sign_in_code(key: str = 'code:1') -> Outgoing:
    msg = message(Template.SIGN_IN_CODE, code='493027', minutes=5)
    return Outgoing(
        key=key,
        notification_id=0,
        hall_id=1,
        kind='sign_in_code',
        text=msg.text,
        phone=PHONE,
        template='sign_in_code',
        params=(('code', '493027'), ('minutes', '5')),
        template_code='SMS_465350001',
    )


async def test_aliyun_sends_the_template_its_parameters_and_a_signed_request(
    settings: Settings, provider: StandIn
) -> None:
    provider.reply = ALIYUN_OK
    await AliyunSms(provider_settings(settings, provider, 'aliyun')).send(sign_in_code())
    [seen] = provider.seen
    assert seen.headers['x-acs-action'] == 'SendSms' and seen.headers['x-acs-version'] == '2017-05-25'
    assert seen.query['PhoneNumbers'] == PHONE and seen.query['SignName'] == '某某政务大厅'
    assert seen.query['TemplateCode'] == 'SMS_465350001' and seen.query['OutId'] == 'code:1'
    assert json.loads(seen.query['TemplateParam']) == {'code': '493027', 'minutes': '5'}
    assert seen.headers['Authorization'].startswith('ACS3-HMAC-SHA256 Credential=LTAI-test-key,')
    assert 'Signature=' in seen.headers['Authorization'] and 'test-secret' not in str(seen)


async def test_tencent_sends_the_template_its_parameters_in_order_and_a_signed_request(
    settings: Settings, provider: StandIn
) -> None:
    provider.reply = {'Response': {'SendStatusSet': [TENCENT_OK_STATUS], 'RequestId': 'a0aabda6-cf91-4f3e-a81f'}}
    await TencentSms(provider_settings(settings, provider, 'tencent')).send(sign_in_code())
    [seen] = provider.seen
    assert seen.headers['X-TC-Action'] == 'SendSms' and seen.headers['X-TC-Version'] == '2021-01-11'
    assert seen.body['PhoneNumberSet'] == ['+8613912345678'] and seen.body['SmsSdkAppId'] == '1400000001'
    assert seen.body['TemplateId'] == 'SMS_465350001' and seen.body['TemplateParamSet'] == ['493027', '5']
    assert seen.body['SignName'] == '某某政务大厅' and seen.body['SessionContext'] == 'code:1'
    assert seen.headers['Authorization'].startswith('TC3-HMAC-SHA256 Credential=LTAI-test-key/')
    assert 'Signature=' in seen.headers['Authorization']


@pytest.mark.parametrize(
    ('status', 'reply', 'permanent'),
    [
        (200, {'Code': 'isv.MOBILE_NUMBER_ILLEGAL', 'Message': '非法手机号', 'RequestId': 'r'}, True),
        (200, {'Code': 'isv.SMS_TEMPLATE_ILLEGAL', 'Message': '该账号下找不到对应模板', 'RequestId': 'r'}, True),
        (200, {'Code': 'isv.SMS_SIGNATURE_ILLEGAL', 'Message': '该账号下找不到对应签名', 'RequestId': 'r'}, True),
        (200, {'Code': 'isv.AMOUNT_NOT_ENOUGH', 'Message': '账户余额不足', 'RequestId': 'r'}, True),
        (200, {'Code': 'isv.BUSINESS_LIMIT_CONTROL', 'Message': '触发分钟级流控Permits:1', 'RequestId': 'r'}, False),
        (500, {'Code': 'isp.SYSTEM_ERROR', 'Message': 'The request processing has failed.', 'RequestId': 'r'}, False),
    ],
)
async def test_aliyun_answers_are_given_up_or_retried_as_retrying_could_help(
    settings: Settings, provider: StandIn, status: int, reply: dict[str, str], permanent: bool
) -> None:
    provider.status, provider.reply = status, reply
    with pytest.raises(ChannelError) as raised:
        await AliyunSms(provider_settings(settings, provider, 'aliyun')).send(sign_in_code())
    assert raised.value.permanent is permanent and reply['Code'] in str(raised.value)


@pytest.mark.parametrize(
    ('reply', 'permanent'),
    [
        ({'SendStatusSet': [{**TENCENT_OK_STATUS, 'Code': 'InvalidParameterValue.IncorrectPhoneNumber'}]}, True),
        ({'SendStatusSet': [{**TENCENT_OK_STATUS, 'Code': 'FailedOperation.TemplateIncorrectOrUnapproved'}]}, True),
        ({'SendStatusSet': [{**TENCENT_OK_STATUS, 'Code': 'FailedOperation.InsufficientBalanceInSmsPackage'}]}, True),
        ({'SendStatusSet': [{**TENCENT_OK_STATUS, 'Code': 'LimitExceeded.PhoneNumberOneHourLimit'}]}, False),
        (
            {
                'Error': {
                    'Code': 'AuthFailure.SignatureFailure',
                    'Message': 'The provided credentials could not be validated.',
                }
            },
            True,
        ),
        ({'Error': {'Code': 'InternalError.Timeout', 'Message': '请求下发短信超时'}}, False),
    ],
)
async def test_tencent_answers_are_given_up_or_retried_as_retrying_could_help(
    settings: Settings, provider: StandIn, reply: dict[str, Any], permanent: bool
) -> None:
    provider.reply = {'Response': {**reply, 'RequestId': 'a0aabda6'}}
    with pytest.raises(ChannelError) as raised:
        await TencentSms(provider_settings(settings, provider, 'tencent')).send(sign_in_code())
    assert raised.value.permanent is permanent


async def test_an_unreachable_provider_is_retried_later(settings: Settings, provider: StandIn) -> None:
    gone = provider_settings(settings, provider, 'aliyun').model_copy(update={'sms_endpoint': 'http://127.0.0.1:9'})
    with pytest.raises(ChannelError) as raised:
        await AliyunSms(gone).send(sign_in_code())
    assert raised.value.permanent is False


async def set_templates(db: Database, hall_id: int, templates: dict[str, str]) -> None:
    async with db.session() as s, s.begin():
        hall = await s.get(Hall, hall_id)
        assert hall is not None
        hall.sms_templates = templates


async def test_the_outbox_texts_through_aliyun_with_the_halls_template_code_and_gives_up_on_a_bad_number(
    db: Database,
    journey: Journey,
    journey_hall: JourneyHall,
    journey_settings: Settings,
    clock: FakeClock,
    hall_queue: QueueService,
    provider: StandIn,
) -> None:
    await set_templates(db, journey_hall.hall_id, {'case_accepted': 'SMS_465350007'})
    journey.notifications.channels['sms'] = AliyunSms(provider_settings(journey_settings, provider, 'aliyun'))
    ticket_id, citizen_id = await citizen_with_phone(hall_queue)
    accepted = message(Template.CASE_ACCEPTED, service='居住证办理')
    async with db.session() as s, s.begin():
        for key in ('ok', 'bad'):
            await notifications.add(
                s,
                hall_id=journey_hall.hall_id,
                key=key,
                kind='case_accepted',
                message=accepted,
                now=clock(),
                ticket_id=ticket_id,
                citizen_id=citizen_id,
                channels=['sms'],
            )
    provider.reply = ALIYUN_OK
    await journey.notifications.deliver_due(limit=1)
    provider.reply = {'Code': 'isv.MOBILE_NUMBER_ILLEGAL', 'Message': '非法手机号', 'RequestId': 'r'}
    report = await journey.notifications.deliver_due()
    assert report.failed == 1 and report.retried == 0, 'a bad number is not tried five more times'
    assert [seen.query['TemplateCode'] for seen in provider.seen] == ['SMS_465350007'] * 2
    assert json.loads(provider.seen[0].query['TemplateParam']) == {'service': '居住证办理'}
    async with db.read_session() as s:
        rows = list((await s.execute(select(Notification).order_by(col(Notification.id)))).scalars())
    assert [(row.status, row.attempts) for row in rows] == [('sent', 1), ('failed', 1)]
    assert rows[1].last_error == 'aliyun isv.MOBILE_NUMBER_ILLEGAL: 非法手机号'


async def test_a_kind_without_a_template_code_is_not_texted_by_a_provider(
    db: Database,
    journey: Journey,
    journey_hall: JourneyHall,
    journey_settings: Settings,
    clock: FakeClock,
    hall_queue: QueueService,
    provider: StandIn,
) -> None:
    journey.notifications.channels['sms'] = AliyunSms(provider_settings(journey_settings, provider, 'aliyun'))
    ticket_id, citizen_id = await citizen_with_phone(hall_queue)
    async with db.session() as s, s.begin():
        await notifications.add(
            s,
            hall_id=journey_hall.hall_id,
            key='no-code',
            kind='case_accepted',
            message=message(Template.CASE_ACCEPTED, service='居住证办理'),
            now=clock(),
            citizen_id=citizen_id,
            ticket_id=ticket_id,
            channels=['sms'],
        )
    assert (await journey.notifications.deliver_due()).failed == 1
    assert provider.seen == []


async def test_the_daily_cap_per_number_is_the_setting(db: Database, settings: Settings) -> None:
    capped = settings.model_copy(update={'sms_daily_cap_per_number': 3})
    service = NotificationService(deps_for(db, settings=capped), {})
    assert service.per_phone.max == 3
    for _ in range(3):
        await service.limits.hit(service.per_phone, PHONE)
    with pytest.raises(notifications.TooManyRequests):
        await service.limits.hit(service.per_phone, PHONE)


@pytest.mark.parametrize('provider_name', ['aliyun', 'tencent'])
def test_preflight_refuses_a_provider_without_its_keys_in_one_line(settings: Settings, provider_name: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_sms(settings.model_copy(update={'sms_provider': provider_name}))
    assert str(refused.value).count('\n') == 0 and 'SMS_ACCESS_KEY_ID' in str(refused.value)


class Inbox:
    """aiosmtpd handler: keeps every message the server accepted."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return '250 OK'


async def test_an_email_reaches_a_real_smtp_server(unused_tcp_port: int) -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname='127.0.0.1', port=unused_tcp_port)
    controller.start()
    try:
        channel = SmtpChannel(f'smtp://127.0.0.1:{unused_tcp_port}', 'hall@example.gov.cn')
        await channel.send(
            Outgoing(
                key='summary:2026-12-04',
                notification_id=0,
                hall_id=1,
                kind='email',
                text='今日取号 120，办结 98。',
                email='manager@example.gov.cn',
                subject='大厅日报 2026-12-04',
            )
        )
    finally:
        controller.stop()
    [(sender, recipients, content)] = inbox.messages
    mail = message_from_bytes(content)
    assert (sender, recipients) == ('hall@example.gov.cn', ['manager@example.gov.cn'])
    assert str(mail['Subject']) != '' and 'summary.2026-12-04' in mail['Message-ID']
    assert '今日取号 120' in mail.get_payload(decode=True).decode('utf-8')


async def test_an_unreachable_smtp_server_is_retried_later(unused_tcp_port: int) -> None:
    channel = SmtpChannel(f'smtp://127.0.0.1:{unused_tcp_port}', 'hall@example.gov.cn', timeout=2)
    with pytest.raises(ChannelError) as raised:
        await channel.send(Outgoing(key='k', notification_id=0, hall_id=1, kind='email', text='x', email='a@b.cn'))
    assert raised.value.permanent is False


async def _hall_templates(url: str, templates: dict[str, str]) -> None:
    db = Database(url)
    try:
        async with db.session() as s, s.begin():
            hall = (await s.execute(select(Hall))).scalars().one()
            hall.sms_templates = templates
    finally:
        await db.dispose()


def test_a_running_app_with_sms_provider_aliyun_texts_a_sign_in_code_through_the_provider(
    tmp_path: Path, provider: StandIn
) -> None:
    provider.reply = ALIYUN_OK
    prepared = prepare_database(sqlite_url(tmp_path / 'hall.db'))
    run_coroutine(lambda: _hall_templates(prepared.url, {'sign_in_code': 'SMS_465350001'}))
    env = {
        'SMS_PROVIDER': 'aliyun',
        'SMS_ENDPOINT': provider.endpoint,
        'SMS_ACCESS_KEY_ID': 'LTAI-test-key',
        'SMS_ACCESS_KEY_SECRET': 'test-secret',
        'SMS_SIGN_NAME': '某某政务大厅',
    }
    with start_app(prepared.url, tmp_path, env) as app, app.client() as client:
        asked = client.post('/api/citizen/code', json={'phone': PHONE})
        assert asked.status_code == 202, asked.text
        for _ in range(200):
            if provider.seen:
                break
            time.sleep(0.05)
        assert 'test-secret' not in app.output(), 'the secret is never logged'
    [seen] = provider.seen
    assert seen.headers['x-acs-action'] == 'SendSms' and seen.query['PhoneNumbers'] == PHONE
    assert seen.query['TemplateCode'] == 'SMS_465350001'
    assert re.fullmatch(r'\d{6}', json.loads(seen.query['TemplateParam'])['code'])
    assert not (tmp_path / 'var' / 'sms-outbox.jsonl').exists(), 'nothing goes to the file stand-in'


async def test_the_daily_delivery_report_is_emailed_at_seven_to_the_report_addresses(
    db: Database, journey_hall: JourneyHall, journey_settings: Settings, clock: FakeClock, unused_tcp_port: int
) -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname='127.0.0.1', port=unused_tcp_port)
    controller.start()
    try:
        reporting = journey_settings.model_copy(update={'report_email': 'ops@example.gov.cn, boss@example.gov.cn'})
        deps = deps_for(db, settings=reporting, clock=clock, hall_id=journey_hall.hall_id)
        smtp = SmtpChannel(f'smtp://127.0.0.1:{unused_tcp_port}', 'hall@example.gov.cn')
        service = NotificationService(deps, {'email': smtp})
        clock.now = dt.datetime(2026, 11, 28, 22, 30, tzinfo=dt.UTC)  # 06:30 in the hall: not yet
        assert await service.email_daily_report() == 0 and inbox.messages == []
        async with db.session() as s, s.begin():
            await notifications.add(
                s,
                hall_id=journey_hall.hall_id,
                key='report-me',
                kind='called',
                message=message(Template.CALLED, number='A001', window=1),
                now=clock(),
                channels=['push'],
            )
        clock.advance(40)  # 07:10
        assert await service.email_daily_report() == 1
    finally:
        controller.stop()
    assert sorted(recipients[0] for _, recipients, _ in inbox.messages) == ['boss@example.gov.cn', 'ops@example.gov.cn']
    mail = message_from_bytes(inbox.messages[0][2])
    body = mail.get_payload(decode=True).decode('utf-8')
    assert (
        '截至 2026-11-29 07:10 的 24 小时消息发送情况' in body
        and '页面推送 page push: 已发送 0 sent, 待发送 1 waiting' in body
    )


def test_the_delivery_report_job_runs_at_the_top_of_every_hour() -> None:
    schedule = {job.name: (job.second, job.minute) for job in jobs.cron_jobs('main')}
    assert schedule['cron:main:email_delivery_report'] == (0, {0})
