"""`/window/{id}` as window staff use it: call, complete, transfer with a reason, no-show after recalls, refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
from functools import partial

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlalchemy import event, update
from sqlmodel import col, select

from app.api.web_session import SESSION_COOKIE
from app.models import Ticket, TicketCreate, TicketEvent, TicketStatus
from app.models.cases import Case
from app.models.citizen_account import CitizenAccount
from app.models.security import AuditEntry, Consent
from app.runtime import Runtime
from app.services import audit
from app.services.citizen_accounts import LINKED
from app.services.errors import DomainError
from app.services.kiosk_tickets import record_answers
from app.services.principal import Principal
from app.settings import get_settings
from tests import totp
from tests.callers import DESK, as_staff
from tests.citizen_login import texted_sign_in_code
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.kiosk_hall import prepare_ui
from tests.queueclock import pass_recall_interval
from tests.running import ready

PATIENT = 50


@pytest.fixture
async def desk_ui(ui_hall: SmallHall, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    await prepare_ui(os.environ['DATABASE_URL'])
    monkeypatch.setenv('DEVICE_MODE', 'websocket')
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    return ui_hall


async def login(user: User, username: str = 'w01', password: str = 'Window-01-pass') -> Runtime:
    rt = await ready()
    issued = await totp.login(rt.auth, username, password)
    user.http_client.cookies.set(SESSION_COOKIE, issued.token)
    return rt


def click(user: User, marker: str) -> None:
    user.find(marker=marker).click()


def choose(user: User, marker: str, value: str) -> None:
    """Pick an option of a select, as a click on it would."""
    (select,) = user.find(marker=marker).elements
    assert isinstance(select, ui.select) and value in select.options, value
    select.set_value(value)


async def open_dialog(user: User, marker: str) -> None:
    """Click a button that asks a question, and wait until its dialog is open (its fields are reset by then)."""
    click(user, marker)
    for _ in range(PATIENT):
        if any(dialog.value for dialog in user.find(kind=ui.dialog).elements):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f'{marker} opened no dialog')


async def status_of(rt: Runtime, number: str) -> tuple[str, str]:
    async with rt.db.read_session() as s:
        code = (await s.execute(select(Ticket.code).where(Ticket.number == number))).scalar_one()
    view = await rt.queue.ticket_view(code)
    return view.ticket.status, view.service.code


async def test_staff_call_the_next_ticket_see_it_timed_and_complete_it(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    await user.should_see(marker='desk-idle')
    await user.should_see(marker='desk-queue-SVC-A', content='2 人等候')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)
    await user.should_see('已呼叫 A001')
    timer = user.find(marker='desk-timer').elements.pop()
    assert isinstance(timer, ui.element) and isinstance(timer.props['since'], int)
    await user.should_see('未登记身份（未刷证取号）')
    await user.should_see(marker='desk-queue-SVC-A', content='1 人等候', retries=PATIENT)
    click(user, 'desk-complete')
    await user.should_see(marker='desk-idle', retries=PATIENT)
    assert await status_of(rt, 'A001') == (TicketStatus.COMPLETED, 'SVC-A')


async def test_opening_a_case_hands_over_the_kiosk_answers(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    answers = partial(record_answers, answers={'property_type': 'new'}, actor='kiosk:K01')
    view = await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK, also=answers)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see('购房合同备案', retries=PATIENT)  # the checklist follows the kiosk answer
    await user.should_not_see('原不动产权证书')
    click(user, 'desk-open-case')
    await user.should_see('已创建办件', retries=PATIENT)
    async with rt.db.read_session() as s:
        case = (await s.execute(select(Case).where(Case.ticket_id == view.ticket.id))).scalar_one()
    assert case.answers == {'property_type': 'new'} and case.created_by == 'w01'


@pytest.fixture
def mailing_desk_ui(desk_ui: SmallHall, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    """The desk in a hall that sends email (a server that is not there: the notices wait in the outbox)."""
    monkeypatch.setenv('SMTP_URL', 'smtp://127.0.0.1:1')
    get_settings.cache_clear()
    return desk_ui


async def test_the_window_records_a_business_email_for_the_case_and_refuses_a_bad_one(
    mailing_desk_ui: SmallHall, user: User
) -> None:
    desk_ui = mailing_desk_ui
    rt = await login(user)
    view = await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)
    await open_dialog(user, 'desk-case-email')
    user.find(marker='case-email-input').type('boss@corp.cn')
    click(user, 'case-email-ok')
    await user.should_see('请先开始办件', retries=PATIENT)
    click(user, 'desk-open-case')
    await user.should_see('已创建办件', retries=PATIENT)
    await open_dialog(user, 'desk-case-email')
    await user.should_see('A001 的企业联系邮箱')
    user.find(marker='case-email-input').type('boss@corp')
    click(user, 'case-email-ok')
    await user.should_see('请输入一个有效的邮箱地址', retries=PATIENT)
    await open_dialog(user, 'desk-case-email')
    user.find(marker='case-email-input').type('boss@corp.cn')
    click(user, 'case-email-ok')
    await user.should_see('已保存企业联系邮箱 b***@corp.cn', retries=PATIENT)
    async with rt.db.read_session() as s:
        case = (await s.execute(select(Case).where(Case.ticket_id == view.ticket.id))).scalar_one()
    assert case.contact_email_enc and 'boss' not in case.contact_email_enc


async def test_a_transfer_needs_a_reason_and_records_it(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)
    await open_dialog(user, 'desk-transfer')
    await user.should_see('转移 A001')
    user.find(marker='transfer-service').elements.pop().set_value('SVC-C')
    click(user, 'transfer-ok')
    await user.should_see('转移必须填写原因', retries=PATIENT)
    await user.should_see(marker='desk-current-number', content='A001')
    await open_dialog(user, 'desk-transfer')
    await user.should_see('转移 A001')
    user.find(marker='transfer-service').elements.pop().set_value('SVC-C')
    user.find(marker='transfer-reason').type('应办丙事项')
    click(user, 'transfer-ok')
    await user.should_see('A001 已转移', retries=PATIENT)
    await user.should_see(marker='desk-idle', retries=PATIENT)
    assert await status_of(rt, 'A001') == (TicketStatus.WAITING, 'SVC-C')
    async with rt.db.read_session() as s:
        event = (await s.execute(select(TicketEvent).where(TicketEvent.kind == 'transferred'))).scalar_one()
    assert (event.reason, event.actor) == ('应办丙事项', 'w01')


async def test_a_transfer_to_a_closed_window_is_refused_with_a_notice(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)
    await open_dialog(user, 'desk-transfer')
    user.find(marker='transfer-window').elements.pop().set_value(desk_ui.window_3)  # closed, serves A
    user.find(marker='transfer-reason').type('请3号窗口办理')
    click(user, 'transfer-ok')
    await user.should_see('3号窗口未开放，不能转入', retries=PATIENT)
    await user.should_see(marker='desk-current-number', content='A001')
    assert await status_of(rt, 'A001') == (TicketStatus.CALLED, 'SVC-A')


async def test_a_reason_longer_than_the_api_allows_is_refused_by_the_service(desk_ui: SmallHall, user: User) -> None:
    """The input's maxlength is the browser's; a crafted message can set any value, so the service refuses it."""
    rt = await login(user)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    user.find(marker='ooo-number').type('A001')
    user.find(marker='ooo-reason').type('长' * 5000)
    click(user, 'ooo-call')
    await user.should_see('原因最多 200 个字', retries=PATIENT)
    await user.should_see(marker='desk-idle')
    assert await status_of(rt, 'A001') == (TicketStatus.WAITING, 'SVC-A')
    async with rt.db.read_session() as s:
        kinds = (await s.execute(select(TicketEvent.kind))).scalars().all()
        audited = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.OUT_OF_ORDER_CALL))).all()
    assert kinds == ['issued'] and audited == []


async def test_no_show_only_after_the_recalls(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)
    click(user, 'desk-no-show')
    await user.should_see('请先重呼 2 次再标记过号', retries=PATIENT)
    click(user, 'desk-recall')
    await user.should_see('秒再操作', retries=PATIENT)  # recalls count time, not clicks
    for count in (1, 2):
        pass_recall_interval(rt.queue)
        click(user, 'desk-recall')
        await user.should_see(marker='desk-recalls', content=f'已重呼 {count} 次', retries=PATIENT)
    pass_recall_interval(rt.queue)
    click(user, 'desk-no-show')
    await user.should_see('A001 已过号', retries=PATIENT)
    await user.should_see(marker='desk-idle')
    assert await status_of(rt, 'A001') == (TicketStatus.NO_SHOW, 'SVC-A')


async def test_park_resume_pause_and_out_of_order_call(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    for _ in range(2):
        await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)
    await open_dialog(user, 'desk-park')
    await user.should_see('挂起 A001')
    user.find(marker='park-reason').type('回家取户口簿')
    click(user, 'park-ok')
    await user.should_see(marker='desk-resume-A001', retries=PATIENT)
    user.find(marker='ooo-number').type('A002')
    click(user, 'ooo-call')
    await user.should_see('跳号呼叫必须填写原因', retries=PATIENT)
    user.find(marker='ooo-reason').type('老人需要协助')
    click(user, 'ooo-call')
    await user.should_see(marker='desk-current-number', content='A002', retries=PATIENT)
    click(user, 'desk-complete')
    await user.should_see(marker='desk-idle', retries=PATIENT)
    click(user, 'desk-resume-A001')
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)
    click(user, 'desk-state-paused')
    await user.should_see('请先办结、转移或挂起当前号', retries=PATIENT)
    click(user, 'desk-complete')
    await user.should_see(marker='desk-idle', retries=PATIENT)
    click(user, 'desk-state-paused')
    await user.should_see(marker='desk-state', content='暂停', retries=PATIENT)
    async with rt.db.read_session() as s:
        audited = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.OUT_OF_ORDER_CALL))).all()
    assert len(audited) == 1


async def test_staff_of_another_window_are_refused_and_audited(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    response = await user.http_client.get(f'/window/{desk_ui.window_2}')
    assert response.status_code == 403 and '无权访问' in response.text
    async with rt.db.read_session() as s:
        denied = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.ROLE_DENIED))).scalars().all()
    assert [(d.actor, d.target, d.detail) for d in denied] == [
        ('w01', f'/window/{desk_ui.window_2}', {'reason': 'not_your_window'})
    ]
    user.http_client.cookies.clear()
    anonymous = await user.http_client.get(f'/window/{desk_ui.window_1}')
    assert anonymous.status_code == 303 and anonymous.headers['location'].startswith('/login?next=')
    await login(user, 'boss', 'Manager-01-pass')
    await user.open(f'/window/{desk_ui.window_2}')  # managers may open any window
    await user.should_see(marker='desk-idle')


async def test_a_call_made_elsewhere_is_pushed_to_the_desk(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    await user.should_see(marker='desk-idle')
    await rt.queue.call_next(desk_ui.window_1, caller=as_staff('boss'))  # e.g. through the API
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)


async def test_full_details_need_a_reason_and_are_audited(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    id_number = make_id(dt.date(1980, 3, 4))
    await rt.queue.take_ticket(TicketCreate(service_code=desk_ui.service_a, id_number=id_number), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-unmask', retries=PATIENT)  # the call and the redraw take a while when busy
    await user.should_not_see(id_number)
    await open_dialog(user, 'desk-unmask')
    click(user, 'desk-unmask-show')
    await user.should_see('须填写原因')
    user.find(marker='desk-unmask-reason').type('核对身份')
    click(user, 'desk-unmask-show')
    await user.should_see(id_number)
    async with rt.db.read_session() as s:
        rows = list((await s.execute(select(AuditEntry).where(AuditEntry.action == audit.UNMASK))).scalars())
    assert [(row.actor, row.outcome, row.detail['reason']) for row in rows] == [('w01', 'ok', '核对身份')]


async def test_a_call_the_database_cannot_store_is_refused_in_words_and_the_next_try_works(
    desk_ui: SmallHall, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    rt = await login(user)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    await user.should_see(marker='desk-queue-SVC-A', content='1 人等候')

    def disk_full(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith('UPDATE TICKET '):
            raise sqlite3.OperationalError('database or disk is full')

    event.listen(rt.db.engine.sync_engine, 'before_cursor_execute', disk_full)
    try:
        click(user, 'desk-call-next')
        await user.should_see('暂时无法办理（存储空间已满），请联系工作人员', retries=PATIENT)
        await user.should_see(marker='desk-idle')
        assert await status_of(rt, 'A001') == (TicketStatus.WAITING, 'SVC-A')  # nothing changed
    finally:
        event.remove(rt.db.engine.sync_engine, 'before_cursor_execute', disk_full)
    assert {r.name for r in caplog.records if r.levelname == 'ERROR'} == {'app.storage'}
    caplog.clear()
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-current-number', content='A001', retries=PATIENT)


async def test_a_minors_guardian_consents_and_withdraws_at_the_desk(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    minor = make_id(dt.date(dt.date.today().year - 9, 1, 1), sequence='771')
    guardian = make_id(dt.date(1984, 7, 1), sequence='772')
    await rt.queue.take_ticket(TicketCreate(service_code=desk_ui.service_a, id_number=minor), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-guardian', retries=PATIENT)
    click(user, 'desk-grant-data')  # the minor alone: refused in words
    await user.should_see('须由监护人', retries=PATIENT)
    await open_dialog(user, 'desk-guardian')
    choose(user, 'guardian-purpose', 'department_data')
    user.find(marker='guardian-id-number').type(guardian)
    choose(user, 'guardian-relation', 'parent')
    click(user, 'guardian-ok')
    await user.should_see('已记录监护人同意', retries=PATIENT)
    async with rt.db.read_session() as s:
        consent = (await s.execute(select(Consent))).scalar_one()
    assert (consent.guardian_relation, consent.channel, consent.revoked_at) == ('parent', 'window_staff', None)
    await open_dialog(user, 'desk-guardian')
    await user.should_see(marker=f'guardian-revoke-{consent.id}')
    click(user, f'guardian-revoke-{consent.id}')
    await user.should_see('已撤回该同意', retries=PATIENT)
    async with rt.db.read_session() as s:
        actions = [
            (row.action, row.actor)
            for row in (
                await s.execute(select(AuditEntry).where(AuditEntry.target == f'consent:{consent.id}'))
            ).scalars()
        ]
    assert actions == [(audit.CONSENT_GRANTED, 'w01'), (audit.CONSENT_REVOKED, 'w01')]


async def test_the_desk_offers_staff_their_optional_second_factor(desk_ui: SmallHall, user: User) -> None:
    await login(user)
    await user.open(f'/window/{desk_ui.window_1}')
    await user.should_see(marker='desk-enrol', retries=PATIENT)
    (link,) = user.find(marker='desk-enrol').elements
    assert link.props['href'] == f'/enrol?next=/window/{desk_ui.window_1}'


async def phone_ticket(rt: Runtime, service_code: str, *, id_number: str | None = None) -> tuple[int, str]:
    """A phone signed in by its texted code, and a ticket it took (the account and the ticket's number)."""
    here = Principal.anonymous('10.77.0.9')
    await rt.accounts.request_code('13812345678', here)
    signed = await rt.accounts.sign_in('13812345678', await texted_sign_in_code(), here)
    view = await rt.queue.take_ticket(TicketCreate(service_code=service_code, id_number=id_number), caller=DESK)
    async with rt.db.session() as s, s.begin():
        await s.execute(update(Ticket).where(col(Ticket.id) == view.ticket.id).values(account_id=signed.account_id))
    return signed.account_id, view.ticket.number


async def test_the_desk_links_a_phone_tickets_account_by_the_number_read_from_the_card(
    desk_ui: SmallHall, user: User
) -> None:
    rt = await login(user)
    account_id, number = await phone_ticket(rt, desk_ui.service_a)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-account', content='138****5678 · 未实名关联', retries=PATIENT)
    await open_dialog(user, 'desk-link')
    await user.should_see(marker='link-hint', content='138****5678')
    user.find(marker='link-id-number').type('110105194912310021')  # a wrong check digit
    click(user, 'link-ok')
    await user.should_see('身份证号校验位错误', retries=PATIENT)
    citizen = make_id(dt.date(1979, 3, 4), sequence='813')
    await open_dialog(user, 'desk-link')
    user.find(marker='link-id-number').type(citizen)
    click(user, 'link-ok')
    await user.should_see('已关联手机账号 138****5678', retries=PATIENT)
    await user.should_see(marker='desk-account', content='已关联本人', retries=PATIENT)
    await user.should_not_see(marker='desk-link')
    async with rt.db.read_session() as s:
        ticket = (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        account = await s.get(CitizenAccount, account_id)
    assert account is not None and ticket.citizen_id is not None and account.citizen_id == ticket.citizen_id


async def test_a_ticket_with_a_read_card_links_with_one_confirmation(desk_ui: SmallHall, user: User) -> None:
    rt = await login(user)
    citizen = make_id(dt.date(1966, 8, 9), sequence='814')
    account_id, _ = await phone_ticket(rt, desk_ui.service_a, id_number=citizen)
    await user.open(f'/window/{desk_ui.window_1}')
    click(user, 'desk-call-next')
    await user.should_see(marker='desk-link', retries=PATIENT)
    await open_dialog(user, 'desk-link')
    await user.should_see(marker='link-citizen', content=citizen[-4:])
    await user.should_not_see(marker='link-id-number')  # nothing to type: the card was read at the kiosk
    click(user, 'link-ok')
    await user.should_see(marker='desk-account', content='已关联本人', retries=PATIENT)
    async with rt.db.read_session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == LINKED))).scalar_one()
    assert (entry.actor, entry.target) == ('w01', f'account:{account_id}')


async def test_a_window_outside_its_own_hours_shows_it_and_cannot_call(desk_ui: SmallHall, user: User) -> None:
    tomorrow = (dt.datetime.now(get_settings().tz) + dt.timedelta(days=1)).isoweekday()
    hours = f'[{{"start": "08:00", "end": "18:00", "days": [{tomorrow}]}}]'
    with sqlite3.connect(os.environ['DATABASE_URL'].split(':///', 1)[1]) as connection:
        connection.execute('UPDATE window SET hours = ? WHERE id = ?', (hours, desk_ui.window_1))
    rt = await login(user)
    await rt.queue.take_ticket(TicketCreate(service_code='SVC-A'), caller=DESK)
    await user.open(f'/window/{desk_ui.window_1}')
    await user.should_see(marker='desk-hours', content='08:00-18:00')
    await user.should_see(marker='desk-off-hours', content='不在本窗口的办公时段内')
    (call,) = user.find(marker='desk-call-next').elements
    assert not call.enabled
    with pytest.raises(DomainError) as refused:
        await rt.queue.call_next(desk_ui.window_1, caller=DESK)
    assert refused.value.code == 'window_outside_hours'
    assert await status_of(rt, 'A001') == (TicketStatus.WAITING, 'SVC-A')
