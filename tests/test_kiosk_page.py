"""`/kiosk/{device}` as a citizen uses it, on a paired screen: by hand, by ID card (the reader's event), 刷脸 after
consent, help; a typed ID only while a clerk assists; an unpaired or unpaired-since screen gets no kiosk."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
from collections.abc import Callable

import pytest
from nicegui import Client, ui
from nicegui.testing import User
from sqlalchemy import event
from sqlmodel import col, select

from app.api.kiosk_pairing import KIOSK_COOKIE
from app.bus import Subscription
from app.clock import hall_day, utcnow
from app.events import DevicePayload, Event, FaceMatched, HallConfigChanged, HelpRequested
from app.models import AuthSession, ServiceItem, StaffUser, Ticket, TicketEvent
from app.models.device import DeviceKind
from app.models.ticket import PriorityClass
from app.runtime import Runtime
from app.services.kiosk import answers_for
from app.services.principal import Principal
from app.settings import get_settings
from components import kiosk_screen
from components.kiosk_ticket import qr_data_uri
from devices import protocol
from devices.drivers.id_reader import IdReaderDriver
from tests import running
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.kiosk_hall import BARE_KIOSK, CAMERA, KIOSK, READER, prepare_ui
from tests.running import parts, ready

PATIENT = 50  # should_see retries (0.1 s each): a shared 2-core machine may be slow, never flaky
TODAY = hall_day(utcnow(), get_settings().tz)
ELDER_ID = make_id(dt.date(TODAY.year - 70, 1, 1))  # 70 all year round
ADMIN = Principal.system('kiosk-page-test')


@pytest.fixture
async def kiosk_ui(ui_hall: SmallHall, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    """The small hall with kiosk K01 and its peripherals; devices wait for real connections (none come)."""
    await prepare_ui(os.environ['DATABASE_URL'])
    monkeypatch.setenv('DEVICE_MODE', 'websocket')
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    return ui_hall


def click(user: User, marker: str) -> None:
    user.find(marker=marker).click()


async def pair(user: User, device: str = KIOSK) -> Runtime:
    """Pair this user's browser as `device`'s screen, as an admin and the kiosk would (code, form post, cookie)."""
    rt = await ready()
    issued = await rt.pairing.issue_code(ADMIN, device)
    response = await user.http_client.post('/kiosk/pair', data={'device': device, 'code': issued.shown})
    assert response.status_code == 303 and response.headers['location'] == f'/kiosk/{device}', response.text
    assert user.http_client.cookies.get(KIOSK_COOKIE)
    return rt


async def open_kiosk(user: User, device: str = KIOSK) -> Runtime:
    rt = await pair(user, device)
    await user.open(f'/kiosk/{device}')
    return rt


async def sign_in_to_assist(user: User, username: str = 'w01', password: str = 'Window-01-pass') -> None:
    click(user, 'kiosk-assist')
    user.find(marker='kiosk-assist-username').clear().type(username)
    user.find(marker='kiosk-assist-password').type(password)
    click(user, 'kiosk-assist-submit')


async def tickets(rt: Runtime) -> list[Ticket]:
    async with rt.db.read_session() as s:
        return list((await s.execute(select(Ticket).order_by(Ticket.id))).scalars())


async def test_an_unpaired_screen_gets_the_pairing_form_and_no_kiosk(kiosk_ui: SmallHall, user: User) -> None:
    await ready()
    clients = set(Client.instances)
    response = await user.http_client.get(f'/kiosk/{KIOSK}')
    assert response.status_code == 403 and response.headers['cache-control'] == 'no-store'
    page = response.text
    assert '本屏幕不是已登记的自助取号机' in page and 'not a registered kiosk' in page
    assert page.index('配对码') < page.index('Pairing code')  # zh-CN first
    assert 'action="/kiosk/pair"' in page and f'name="device" value="{KIOSK}"' in page
    assert 'client_id' not in page and 'socket.io' not in page and '/_nicegui/' not in page
    assert set(Client.instances) == clients  # no NiceGUI client: nothing to send device events to


async def test_a_wrong_code_is_refused_and_sets_no_cookie(kiosk_ui: SmallHall, user: User) -> None:
    await ready()
    response = await user.http_client.post('/kiosk/pair', data={'device': KIOSK, 'code': 'ABCD-EFGH'})
    assert response.status_code == 401 and KIOSK_COOKIE not in response.headers.get('set-cookie', '')
    assert '配对码无效、已过期或已使用' in response.text and 'data-testid="kiosk-pair-code"' in response.text
    assert user.http_client.cookies.get(KIOSK_COOKIE) is None
    assert (await user.http_client.get(f'/kiosk/{KIOSK}')).status_code == 403


async def test_a_screen_paired_to_one_kiosk_is_not_another(kiosk_ui: SmallHall, user: User) -> None:
    await pair(user, BARE_KIOSK)
    assert (await user.http_client.get(f'/kiosk/{KIOSK}')).status_code == 403
    await user.open(f'/kiosk/{BARE_KIOSK}')
    await user.should_see('请选择取号方式')


async def test_an_unknown_device_gets_a_clear_404_page(kiosk_ui: SmallHall, user: User) -> None:
    await ready()
    clients = set(Client.instances)
    for code in ('NOPE', READER):
        response = await user.http_client.get(f'/kiosk/{code}')
        assert response.status_code == 404
        assert '未找到该自助取号机' in response.text and code in response.text
    assert set(Client.instances) == clients


async def test_by_hand_a_citizen_takes_a_ticket_and_sees_number_wait_and_qr(kiosk_ui: SmallHall, user: User) -> None:
    await open_kiosk(user)
    await user.should_see('请选择取号方式')
    click(user, 'kiosk-start-manual')
    await user.should_see('甲类事项的通俗说明。', retries=PATIENT)
    click(user, 'kiosk-service-SVC-A')
    await user.should_see('您办理的是新房还是二手房？', retries=PATIENT)
    await user.should_see('如选择「新房」需要')
    click(user, 'kiosk-answer-property_type-second_hand')
    await user.should_see('原不动产权证书', retries=PATIENT)
    await user.should_not_see('购房合同备案')
    click(user, 'kiosk-take')
    await user.should_see(marker='kiosk-ticket-number', content='A001', retries=PATIENT)
    await user.should_see(marker='kiosk-ticket-ahead', content='下一位就是您')
    await user.should_see('办理窗口：1、3号窗口')
    rt = await ready()
    (ticket,) = await tickets(rt)
    qr = user.find(marker='kiosk-ticket-qr').elements.pop()
    assert isinstance(qr, ui.image) and qr.source == qr_data_uri(f'http://test/track/{ticket.code}/status')
    # K01-PRN is seeded but not connected: the citizen is told to photograph the screen, nothing breaks
    await user.should_see('打印机暂不可用，请拍照保存本页', retries=PATIENT)
    assert await answers_for(rt.db, ticket.id or 0) == {'property_type': 'second_hand'}
    click(user, 'kiosk-ticket-done')
    await user.should_see('请选择取号方式', retries=PATIENT)


async def test_another_service_goes_back_to_the_list_and_forgets_the_answers(kiosk_ui: SmallHall, user: User) -> None:
    await open_kiosk(user)
    click(user, 'kiosk-start-manual')
    await user.should_see('甲类事项的通俗说明。', retries=PATIENT)
    click(user, 'kiosk-service-SVC-A')
    await user.should_see('如选择「二手房」需要', retries=PATIENT)
    click(user, 'kiosk-answer-property_type-second_hand')
    await user.should_not_see('如选择「二手房」需要', retries=PATIENT)
    click(user, 'kiosk-other-service')
    await user.should_see('甲类事项的通俗说明。', retries=PATIENT)
    await user.should_not_see(marker='kiosk-materials', retries=PATIENT)
    click(user, 'kiosk-service-SVC-A')
    await user.should_see('如选择「二手房」需要', retries=PATIENT)  # the answer was dropped with the choice


async def test_an_id_card_read_shows_the_elder_layout_for_a_70_year_old(kiosk_ui: SmallHall, user: User) -> None:
    await open_kiosk(user)
    await user.should_see('请选择取号方式')
    service = running.root().devices.service
    assert service is not None
    reader = service.driver(READER, IdReaderDriver)
    card = protocol.CardReadData(id_number=ELDER_ID, name='王老伯')
    await reader.on_card_read(protocol.Frame('frame-1', 'card_read', card))  # publishes CardRead on the bus
    await user.should_see(marker='elder-mode', retries=PATIENT)
    await user.should_see('绿色通道：优先办理')
    await user.should_see(f'已识别 {ELDER_ID[:6]}********{ELDER_ID[-4:]}（70 岁）')
    await user.should_not_see(ELDER_ID)
    await user.should_see(marker='kiosk-service-SVC-C')  # the senior window's service first: fewer choices
    await user.should_not_see(marker='kiosk-service-SVC-A')
    click(user, 'kiosk-services-all')
    await user.should_see(marker='kiosk-service-SVC-A', retries=PATIENT)
    click(user, 'kiosk-service-SVC-C')
    await user.should_see(marker='kiosk-take', retries=PATIENT)
    click(user, 'kiosk-take')
    await user.should_see(marker='kiosk-ticket-green', retries=PATIENT)
    (ticket,) = await tickets(await ready())
    assert ticket.priority_class == PriorityClass.GREEN and ticket.citizen_id is not None


async def test_face_asks_for_consent_first_and_no_match_falls_back(kiosk_ui: SmallHall, user: User) -> None:
    await open_kiosk(user)
    click(user, 'kiosk-start-face')
    await user.should_see('刷脸取号单独同意', retries=PATIENT)
    await user.should_see(marker='kiosk-consent-decline')
    click(user, 'kiosk-consent-agree')  # not ticked yet: nothing happens
    await user.should_not_see(marker='kiosk-face-wait')
    click(user, 'kiosk-consent-check')
    click(user, 'kiosk-consent-agree')
    await user.should_see(marker='kiosk-face-wait', retries=PATIENT)
    await user.should_see(marker='kiosk-face-fallback')
    rt = await ready()
    camera = DevicePayload(device_id=0, code=CAMERA, kind=DeviceKind.CAMERA)
    await rt.bus.publish(FaceMatched(hall_id=rt.hall.id or 0, device=camera, outcome='no_match'))
    await user.should_see('请使用身份证取号或到人工窗口', retries=PATIENT)
    await user.should_see('请选择取号方式')


async def test_agreeing_to_face_asks_the_kiosks_camera_for_one_picture(
    kiosk_ui: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    devices = (await parts()).kiosk_devices
    asked: list[tuple[str, str]] = []

    async def capture_face(camera_code: str, session_id: str) -> bool:
        asked.append((camera_code, session_id))
        return True

    monkeypatch.setattr(devices, 'capture_face', capture_face)
    await open_kiosk(user)
    click(user, 'kiosk-start-face')
    await user.should_see(marker='kiosk-consent-decline', retries=PATIENT)
    assert asked == []  # the camera is not used before agreement
    click(user, 'kiosk-consent-check')
    click(user, 'kiosk-consent-agree')
    await user.should_see(marker='kiosk-face-wait', retries=PATIENT)
    for _ in range(PATIENT):
        if asked:
            break
        await asyncio.sleep(0.05)
    assert asked == [(CAMERA, KIOSK)]


async def test_the_help_button_tells_the_floor_staff(kiosk_ui: SmallHall, user: User) -> None:
    rt = await open_kiosk(user)
    seen: list[Event] = []
    subscription: Subscription = rt.bus.subscribe(seen.append, HelpRequested)
    try:
        click(user, 'kiosk-help')
        await user.should_see('已通知工作人员', retries=PATIENT)
    finally:
        rt.bus.unsubscribe(subscription)
    assert [e.device.code for e in seen if isinstance(e, HelpRequested)] == [KIOSK]


async def test_a_typed_id_is_offered_only_while_a_clerk_assists(kiosk_ui: SmallHall, user: User) -> None:
    rt = await open_kiosk(user)
    await user.should_see(marker='kiosk-start-card')
    await user.should_not_see(marker='kiosk-id-input')  # a citizen alone cannot type anyone's number
    await sign_in_to_assist(user, password='wrong-password-1')
    await user.should_see('用户名或密码错误', retries=PATIENT)
    await user.should_not_see(marker='kiosk-id-input')
    await sign_in_to_assist(user)
    await user.should_see(marker='kiosk-assist-by', content='工作人员 张三 协助中', retries=PATIENT)
    user.find(marker='kiosk-id-input').type('110105')
    click(user, 'kiosk-id-submit')
    await user.should_see('身份证号应为18位', retries=PATIENT)
    user.find(marker='kiosk-id-input').type(ELDER_ID)
    click(user, 'kiosk-id-submit')
    await user.should_see(marker='kiosk-service-SVC-C', retries=PATIENT)
    click(user, 'kiosk-assist-pregnancy')
    click(user, 'kiosk-service-SVC-C')
    await user.should_see(marker='kiosk-take', retries=PATIENT)
    click(user, 'kiosk-take')
    await user.should_see(marker='kiosk-ticket-green', retries=PATIENT)
    (ticket,) = await tickets(rt)
    async with rt.db.read_session() as s:
        issued = (await s.execute(select(TicketEvent).where(TicketEvent.kind == 'issued'))).scalar_one()
    assert (ticket.channel, issued.actor) == ('kiosk', f'kiosk:{KIOSK}')
    assert (issued.detail['identity'], issued.detail['assisted_by']) == ('typed', 'w01')  # recorded as typed
    assert await live_sessions(rt, 'w01') == 1
    click(user, 'kiosk-assist-end')
    await user.should_not_see(marker='kiosk-assist-by', retries=PATIENT)
    await user.should_see(marker='kiosk-assist')
    assert await live_sessions(rt, 'w01') == 0  # the clerk's session is revoked, not merely forgotten


async def live_sessions(rt: Runtime, username: str) -> int:
    async with rt.db.read_session() as s:
        rows = await s.execute(
            select(AuthSession)
            .join(StaffUser)
            .where(StaffUser.username == username, col(AuthSession.revoked_at).is_(None))
        )
        return len(rows.all())


async def test_an_idle_kiosk_returns_to_its_start_screen(
    kiosk_ui: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kiosk_screen, 'IDLE_SECONDS', 0.3)
    monkeypatch.setattr(kiosk_screen, 'IDLE_CHECK_SECONDS', 0.2)
    await open_kiosk(user)
    click(user, 'kiosk-start-manual')
    await user.should_see(marker='kiosk-service-SVC-A', retries=PATIENT)
    await user.should_see('请选择取号方式', retries=PATIENT)
    await user.should_not_see(marker='kiosk-service-SVC-A')


async def test_an_idle_kiosk_warns_and_says_so_before_starting_over_and_continue_keeps_the_place(
    kiosk_ui: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kiosk_screen, 'IDLE_SECONDS', 4.0)
    monkeypatch.setattr(kiosk_screen, 'WARN_SECONDS', 3)
    monkeypatch.setattr(kiosk_screen, 'IDLE_CHECK_SECONDS', 0.2)
    await open_kiosk(user)
    click(user, 'kiosk-start-manual')
    await user.should_see(marker='kiosk-service-SVC-A', retries=PATIENT)
    (warning,) = user.find(marker='kiosk-idle-warning').elements
    (voice,) = user.find(marker='kiosk-repeat').elements
    assert not warning.value
    await until(lambda: warning.value)  # a second of quiet: the warning, said aloud too
    assert voice.said[-1][0] == '您还在吗？' and '3 秒后回到首页' in voice.said[-1][1]
    click(user, 'kiosk-idle-continue')
    await until(lambda: not warning.value)
    await user.should_see(marker='kiosk-service-SVC-A')  # the citizen's place is kept
    await until(lambda: warning.value)  # quiet again: warned again, then started over
    await user.should_see('请选择取号方式', retries=PATIENT * 3)
    assert not warning.value


async def until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError('the condition never held')


async def test_idling_ends_a_clerks_assist_and_signs_them_out(
    kiosk_ui: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kiosk_screen, 'IDLE_SECONDS', 0.5)
    monkeypatch.setattr(kiosk_screen, 'IDLE_CHECK_SECONDS', 0.2)
    rt = await open_kiosk(user)
    await sign_in_to_assist(user)
    await user.should_see(marker='kiosk-assist-by', retries=PATIENT)
    await user.should_not_see(marker='kiosk-assist-by', retries=PATIENT)
    await user.should_not_see(marker='kiosk-id-input')
    assert await live_sessions(rt, 'w01') == 0


async def test_an_unpaired_kiosk_screen_closes_and_ignores_its_devices(kiosk_ui: SmallHall, user: User) -> None:
    rt = await open_kiosk(user)
    await sign_in_to_assist(user)
    await user.should_see(marker='kiosk-assist-by', retries=PATIENT)
    await rt.pairing.revoke(ADMIN, KIOSK)  # pushed to the open page through the device feed
    await user.should_see(marker='kiosk-unpaired', retries=PATIENT)
    await user.should_not_see(marker='kiosk-start-card')
    assert await live_sessions(rt, 'w01') == 0  # the clerk assisting there is signed out too
    camera = DevicePayload(device_id=0, code=CAMERA, kind=DeviceKind.CAMERA)
    await rt.bus.publish(FaceMatched(hall_id=rt.hall.id or 0, device=camera, outcome='no_match'))
    await user.should_not_see('请使用身份证取号或到人工窗口')
    assert (await user.http_client.get(f'/kiosk/{KIOSK}')).status_code == 403


async def test_a_ticket_the_database_cannot_store_is_refused_in_words_and_the_next_try_works(
    kiosk_ui: SmallHall, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    rt = await open_kiosk(user)
    click(user, 'kiosk-start-manual')
    await user.should_see('甲类事项的通俗说明。', retries=PATIENT)
    click(user, 'kiosk-service-SVC-A')
    await user.should_see('您办理的是新房还是二手房？', retries=PATIENT)
    click(user, 'kiosk-answer-property_type-second_hand')
    await user.should_see('原不动产权证书', retries=PATIENT)

    def disk_full(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith('INSERT INTO TICKET '):
            raise sqlite3.OperationalError('database or disk is full')

    event.listen(rt.db.engine.sync_engine, 'before_cursor_execute', disk_full)
    try:
        click(user, 'kiosk-take')
        await user.should_see('暂时无法取号，请联系工作人员', retries=PATIENT)
        await user.should_not_see(marker='kiosk-ticket-number')
        assert await tickets(rt) == []
    finally:
        event.remove(rt.db.engine.sync_engine, 'before_cursor_execute', disk_full)
    assert [r.name for r in caplog.records if r.levelname == 'ERROR'] == ['app.storage']  # the one expected
    caplog.clear()
    click(user, 'kiosk-take')  # space freed: the same screen takes the ticket, no restart
    await user.should_see(marker='kiosk-ticket-number', content='A001', retries=PATIENT)


async def test_a_service_changed_in_the_hall_setup_shows_on_an_open_kiosk_at_once(
    kiosk_ui: SmallHall, user: User
) -> None:
    """What HallConfigService saves (written here straight to the small hall) and announces, from any process."""
    rt = await open_kiosk(user)
    click(user, 'kiosk-start-manual')
    await user.should_see('甲类事项的通俗说明。', retries=PATIENT)
    async with rt.db.session() as s, s.begin():
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-A'))).scalar_one()
        service.description = '甲类事项改过的说明。'
    await rt.bus.publish(HallConfigChanged(hall_id=rt.deps.hall_id, kind='service', subject='SVC-A', version=1))
    await user.should_see('甲类事项改过的说明。', retries=PATIENT)
    await user.should_not_see('甲类事项的通俗说明。')
