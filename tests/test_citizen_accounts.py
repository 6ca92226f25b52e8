"""Citizen sign-in by phone: a texted code, once; limits per phone and address; sessions that end; verified links."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import pytest
from sqlmodel import select

from app.bus import Bus, InProcessBus
from app.db import Database
from app.events import CitizenSignedOut, Event
from app.models import AuditEntry
from app.models.citizen_account import CitizenAccount, CitizenSession
from app.models.people import Citizen, Role
from app.services.channels import RecordingSmsGateway
from app.services.citizen_accounts import (
    CODES_PER_ADDRESS,
    CODES_PER_PHONE,
    GUESSES_PER_ADDRESS,
    GUESSES_PER_PHONE,
    LINKED,
    SESSION_ENDED,
    SIGN_IN,
    SIGN_OUT,
    CitizenAccountService,
    token_hash,
)
from app.services.errors import Forbidden, Invalid, NotFound, Unauthorized
from app.services.limits import TooManyRequests
from app.services.notifications import NotificationService
from app.services.principal import Kind, Principal
from app.settings import Settings
from tests.callers import deps_for
from tests.conftest import FakeClock

PHONE = '13812345678'
HERE = Principal.anonymous('10.8.0.1')
ANDROID_WECHAT = 'Mozilla/5.0 (Linux; Android 14; V2309A) AppleWebKit/537.36 Chrome/116.0 MicroMessenger/8.0.49'


@pytest.fixture
def sms() -> RecordingSmsGateway:
    return RecordingSmsGateway()


def service_for(
    db: Database, settings: Settings, clock: FakeClock, sms: RecordingSmsGateway, bus: Bus | None = None
) -> CitizenAccountService:
    """The service as a process builds it; a second call is a second process on the same database."""
    deps = deps_for(db, bus or InProcessBus(), hall_id=1, settings=settings, clock=clock)
    return CitizenAccountService(deps, NotificationService(deps, {'sms': sms}))


@pytest.fixture
def accounts(
    db: Database, settings: Settings, clock: FakeClock, sms: RecordingSmsGateway, bus: InProcessBus
) -> CitizenAccountService:
    return service_for(db, settings, clock, sms, bus)


def last_code(sms: RecordingSmsGateway) -> str:
    found = re.search(r'登录验证码为(\d{6})', str(sms.sent[-1]['text']))
    assert found is not None, sms.sent[-1]
    return found.group(1)


def other_than(code: str) -> str:
    return f'{(int(code) + 1) % 1_000_000:06d}'


async def signed_in(accounts: CitizenAccountService, sms: RecordingSmsGateway, phone: str = PHONE) -> str:
    await accounts.request_code(phone, HERE)
    return (await accounts.sign_in(phone, last_code(sms), HERE)).token


async def audit_actions(db: Database) -> list[str]:
    async with db.read_session() as s:
        return [entry.action for entry in (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()]


async def test_a_texted_code_signs_in_once_and_makes_the_account_with_the_phone_only_encrypted(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, db: Database
) -> None:
    sent = await accounts.request_code('+86 138-1234-5678', HERE)
    assert sent.expires_in == 300
    assert sms.sent[-1]['to'] == '138****5678' and '登录验证码' in str(sms.sent[-1]['text'])
    code = last_code(sms)
    signed = await accounts.sign_in(PHONE, code, HERE)
    assert signed.token.startswith('c.')
    with pytest.raises(Unauthorized) as replayed:
        await accounts.sign_in(PHONE, code, HERE)
    assert replayed.value.code == 'wrong_sms_code'
    async with db.read_session() as s:
        account = (await s.execute(select(CitizenAccount))).scalar_one()
        session = (await s.execute(select(CitizenSession))).scalar_one()
    assert PHONE not in account.phone_enc and PHONE not in account.phone_hash and account.citizen_id is None
    assert accounts.cipher.decrypt(account.phone_enc, context='citizen_account.phone') == PHONE
    assert session.token_hash == token_hash(signed.token) and signed.token not in session.token_hash
    me = await accounts.authenticate(signed.token)
    assert (me.kind, me.account_id, me.require_account()) == (Kind.CITIZEN, account.id, account.id)
    assert await audit_actions(db) == [SIGN_IN]


async def test_the_same_phone_signs_in_to_the_same_account_and_asking_says_nothing_about_it(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, db: Database
) -> None:
    first = await accounts.authenticate(await signed_in(accounts, sms))
    again = await accounts.request_code(PHONE, HERE)
    fresh = await accounts.request_code('13900001111', HERE)
    assert again == fresh  # a known and an unknown phone get the same answer
    second = await accounts.authenticate((await accounts.sign_in(PHONE, last_code_for(sms, '138****5678'), HERE)).token)
    assert first.account_id == second.account_id
    async with db.read_session() as s:
        assert len(list((await s.execute(select(CitizenAccount))).scalars())) == 1


def last_code_for(sms: RecordingSmsGateway, masked: str) -> str:
    for sent in reversed(sms.sent):
        if sent['to'] == masked:
            found = re.search(r'登录验证码为(\d{6})', str(sent['text']))
            assert found is not None
            return found.group(1)
    raise AssertionError(f'nothing texted to {masked}')


@pytest.mark.parametrize('phone', ['12345678901', '1381234567', '138123456789', 'abc', '', '+1 13812345678'])
async def test_a_phone_that_is_not_a_mainland_mobile_is_refused_and_nothing_is_sent(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, phone: str
) -> None:
    with pytest.raises(Invalid) as caught:
        await accounts.request_code(phone, HERE)
    assert caught.value.code == 'invalid_phone' and not sms.sent


async def test_a_code_expires_after_its_slots(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, clock: FakeClock
) -> None:
    await accounts.request_code(PHONE, HERE)
    clock.advance(11)
    with pytest.raises(Unauthorized):
        await accounts.sign_in(PHONE, last_code(sms), HERE)


async def test_wrong_codes_lock_the_phone_and_then_even_the_right_code_is_refused_in_any_process(
    accounts: CitizenAccountService,
    sms: RecordingSmsGateway,
    db: Database,
    settings: Settings,
    clock: FakeClock,
) -> None:
    await accounts.request_code(PHONE, HERE)
    right = last_code(sms)
    for n in range(GUESSES_PER_PHONE.max):
        with pytest.raises(Unauthorized):
            await accounts.sign_in(PHONE, other_than(right), Principal.anonymous(f'10.8.1.{n}'))
    restarted = service_for(db, settings, clock, sms)
    with pytest.raises(TooManyRequests) as caught:
        await restarted.sign_in(PHONE, right, Principal.anonymous('10.8.2.1'))
    assert (caught.value.status, caught.value.code) == (429, 'sign_in_locked') and caught.value.retry_after > 0
    clock.advance(GUESSES_PER_PHONE.window.total_seconds() / 60)  # the lock is over, and so is the code
    with pytest.raises(Unauthorized):
        await restarted.sign_in(PHONE, right, Principal.anonymous('10.8.2.1'))


async def test_wrong_codes_from_one_address_lock_that_address_for_every_phone(
    accounts: CitizenAccountService, sms: RecordingSmsGateway
) -> None:
    for n in range(GUESSES_PER_ADDRESS.max):
        with pytest.raises(Unauthorized):
            await accounts.sign_in(f'139{n:08d}', '000000', HERE)
    await accounts.request_code(PHONE, Principal.anonymous('10.8.3.1'))
    with pytest.raises(TooManyRequests):
        await accounts.sign_in(PHONE, last_code(sms), HERE)
    assert (await accounts.sign_in(PHONE, last_code(sms), Principal.anonymous('10.8.3.1'))).token


async def test_codes_are_limited_per_phone_and_per_address(
    accounts: CitizenAccountService, sms: RecordingSmsGateway
) -> None:
    for n in range(CODES_PER_PHONE.max):
        await accounts.request_code(PHONE, Principal.anonymous(f'10.8.4.{n}'))
    with pytest.raises(TooManyRequests) as per_phone:
        await accounts.request_code(PHONE, Principal.anonymous('10.8.4.200'))
    assert per_phone.value.code == 'code_texts_limited'
    for n in range(CODES_PER_ADDRESS.max):
        await accounts.request_code(f'137{n:08d}', Principal.anonymous('10.8.5.1'))
    with pytest.raises(TooManyRequests):
        await accounts.request_code('13600000000', Principal.anonymous('10.8.5.1'))
    assert len(sms.sent) == CODES_PER_PHONE.max + CODES_PER_ADDRESS.max


async def test_a_session_ends_when_idle_too_long_or_at_its_absolute_end(
    db: Database, settings: Settings, clock: FakeClock, sms: RecordingSmsGateway
) -> None:
    settings = replace_settings(settings, citizen_idle_days=2, citizen_session_days=5)
    accounts = service_for(db, settings, clock, sms)
    idle = await signed_in(accounts, sms)
    busy = await signed_in(accounts, sms, '13900001111')
    for _ in range(4):
        clock.advance(24 * 60)
        await accounts.authenticate(busy)  # used every day: stays signed in
    with pytest.raises(Unauthorized) as idled:
        await accounts.authenticate(idle)
    assert idled.value.code == 'session_expired'
    clock.advance(24 * 60 + 1)
    with pytest.raises(Unauthorized):
        await accounts.authenticate(busy)


def replace_settings(settings: Settings, **changes: int) -> Settings:
    return settings.model_copy(update=changes)


async def test_signing_out_ends_the_session_and_unknown_or_staff_tokens_are_refused(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, db: Database
) -> None:
    token = await signed_in(accounts, sms)
    await accounts.sign_out(token, HERE)
    await accounts.sign_out(token, HERE)  # twice is once
    for refused in (token, 'c.' + 'x' * 43, 'staff-token-' + 'x' * 30, ''):
        with pytest.raises(Unauthorized):
            await accounts.authenticate(refused)
    assert await audit_actions(db) == [SIGN_IN, SIGN_OUT]


async def test_open_live_pages_learn_which_sessions_ended_in_one_call_and_a_sign_out_is_announced(
    db: Database, settings: Settings, clock: FakeClock, sms: RecordingSmsGateway, bus: InProcessBus
) -> None:
    accounts = service_for(db, replace_settings(settings, citizen_idle_days=2, citizen_session_days=5), clock, sms, bus)
    heard: list[Event] = []
    bus.subscribe(heard.append, CitizenSignedOut)
    out, idle, kept = [await signed_in(accounts, sms, phone) for phone in (PHONE, '13900001111', '13900002222')]
    ids = {token: (await accounts.session(token)).session_id for token in (out, idle, kept)}
    assert await accounts.ended(ids.values()) == set()
    await accounts.sign_out(out, HERE)
    await bus.drain()
    assert [event.session_id for event in heard if isinstance(event, CitizenSignedOut)] == [ids[out]]
    clock.advance(24 * 60 + 1)
    await accounts.authenticate(kept)
    clock.advance(24 * 60)  # idle two days; kept was seen one day ago
    assert await accounts.ended([*ids.values(), 999_999]) == {ids[out], ids[idle], 999_999}  # a deleted one too
    assert await accounts.ended([]) == set()


async def test_last_seen_is_written_at_most_once_a_minute(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, db: Database, clock: FakeClock
) -> None:
    token = await signed_in(accounts, sms)
    signed_at = clock.now
    clock.now += dt.timedelta(seconds=30)
    await accounts.authenticate(token)
    async with db.read_session() as s:
        seen = (await s.execute(select(CitizenSession.last_seen_at))).scalar_one()
    assert seen.replace(tzinfo=dt.UTC) == signed_at
    clock.now += dt.timedelta(seconds=31)
    await accounts.authenticate(token)
    async with db.read_session() as s:
        seen = (await s.execute(select(CitizenSession.last_seen_at))).scalar_one()
    assert seen.replace(tzinfo=dt.UTC) == clock.now


async def test_only_a_paired_kiosk_or_window_staff_links_the_person_never_the_phone_itself(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, db: Database, clock: FakeClock
) -> None:
    me = await accounts.authenticate(await signed_in(accounts, sms))
    assert me.account_id is not None
    async with db.session() as s, s.begin():
        citizen = Citizen(created_at=clock.now)
        s.add(citizen)
        await s.flush()
        citizen_id = citizen.id
    assert citizen_id is not None
    refused = (
        me,
        Principal.anonymous('10.8.6.1'),
        Principal.system('sim'),
        Principal(Kind.STAFF, 'reviewer', Role.REVIEWER),
        replace(Principal.kiosk('K1'), device_code=None),
    )
    for caller in refused:
        with pytest.raises(Forbidden) as caught:
            await accounts.link_citizen(me.account_id, citizen_id, caller)
        assert caught.value.code == 'link_needs_verification'
    with pytest.raises(NotFound):
        await accounts.link_citizen(me.account_id + 99, citizen_id, Principal.kiosk('K1'))
    await accounts.link_citizen(me.account_id, citizen_id, Principal.kiosk('K1', address='10.8.6.2'))
    linked = await accounts.authenticate(await signed_in(accounts, sms))
    assert (linked.account_id, linked.citizen_id) == (me.account_id, citizen_id)
    async with db.read_session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == LINKED))).scalar_one()
    assert (entry.actor, entry.target) == ('kiosk:K1', f'account:{me.account_id}')
    assert PHONE not in str(entry.detail) and PHONE not in entry.target


async def session_rows(db: Database) -> list[tuple[object, ...]]:
    async with db.read_session() as s:
        rows = (await s.execute(select(CitizenSession).order_by(CitizenSession.id))).scalars()
        return [(row.id, row.account_id, row.revoked_at) for row in rows]


async def test_a_citizen_sees_their_live_sign_ins_with_the_place_masked_and_this_one_marked(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, clock: FakeClock
) -> None:
    old = await signed_in(accounts, sms)
    clock.advance(5)
    lost = await accounts.sign_in(
        PHONE, await code_for(accounts, sms, PHONE), Principal.anonymous('10.9.8.7'), user_agent=ANDROID_WECHAT
    )
    clock.advance(5)
    this = await signed_in(accounts, sms)
    await signed_in(accounts, sms, '13900001111')  # another citizen's: never listed
    await accounts.sign_out(old, HERE)  # ended: not listed
    caller = await accounts.authenticate(this)
    devices = await accounts.devices(this, caller)
    assert [(d.this_one, d.device, d.place) for d in devices] == [
        (True, '', '10.8.0.*'),
        (False, 'Android · WeChat', '10.9.8.*'),
    ]
    lost_id = (await accounts.session(lost.token)).session_id
    assert devices[1].session_id == lost_id and devices[1].signed_in_at == clock.now - dt.timedelta(minutes=5)
    with pytest.raises(Unauthorized):  # a token of someone else than the caller
        await accounts.devices(lost.token, await accounts.authenticate(await signed_in(accounts, sms, '13900002222')))


async def code_for(accounts: CitizenAccountService, sms: RecordingSmsGateway, phone: str) -> str:
    await accounts.request_code(phone, HERE)
    return last_code(sms)


async def test_ending_another_sign_in_revokes_it_audits_and_announces_it_like_a_sign_out(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, db: Database, bus: InProcessBus
) -> None:
    heard: list[Event] = []
    bus.subscribe(heard.append, CitizenSignedOut)
    lost, this = await signed_in(accounts, sms), await signed_in(accounts, sms)
    lost_id = (await accounts.session(lost)).session_id
    caller = await accounts.authenticate(this)
    await accounts.end_device(this, lost_id, caller)
    await bus.drain()
    assert [event.session_id for event in heard if isinstance(event, CitizenSignedOut)] == [lost_id]
    with pytest.raises(Unauthorized) as ended:
        await accounts.authenticate(lost)
    assert ended.value.code == 'session_expired'
    assert [d.this_one for d in await accounts.devices(this, caller)] == [True]
    assert await audit_actions(db) == [SIGN_IN, SIGN_IN, SESSION_ENDED]
    with pytest.raises(NotFound) as again:  # already ended: the same answer as an unknown id
        await accounts.end_device(this, lost_id, caller)
    assert again.value.code == 'unknown_session'


async def test_another_citizens_this_or_an_unknown_sign_in_is_refused_alike_and_nothing_changes(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, db: Database
) -> None:
    this, theirs = await signed_in(accounts, sms), await signed_in(accounts, sms, '13900001111')
    caller = await accounts.authenticate(this)
    ids = [(await accounts.session(token)).session_id for token in (theirs, this)]
    before, audited = await session_rows(db), await audit_actions(db)
    for session_id in (*ids, 999_999):
        with pytest.raises(NotFound) as refused:
            await accounts.end_device(this, session_id, caller)
        assert refused.value.code == 'unknown_session'
    with pytest.raises(Unauthorized):  # a page must forward its own caller with its own token
        await accounts.end_other_devices(theirs, caller)
    with pytest.raises(Unauthorized):
        await accounts.end_device(this, ids[0], HERE)
    assert await session_rows(db) == before and await audit_actions(db) == audited
    await accounts.authenticate(theirs)


async def test_ending_all_other_sign_ins_keeps_this_one_and_the_other_citizens(
    accounts: CitizenAccountService, sms: RecordingSmsGateway, bus: InProcessBus
) -> None:
    heard: list[Event] = []
    bus.subscribe(heard.append, CitizenSignedOut)
    others = [await signed_in(accounts, sms) for _ in range(2)]
    this, theirs = await signed_in(accounts, sms), await signed_in(accounts, sms, '13900001111')
    caller = await accounts.authenticate(this)
    assert await accounts.end_other_devices(this, caller) == 2
    assert await accounts.end_other_devices(this, caller) == 0
    await bus.drain()
    assert len({e.session_id for e in heard if isinstance(e, CitizenSignedOut)}) == 2
    for token in others:
        with pytest.raises(Unauthorized):
            await accounts.authenticate(token)
    await accounts.authenticate(this)
    await accounts.authenticate(theirs)
