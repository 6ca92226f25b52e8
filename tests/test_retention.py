"""Data lifecycle: one run of the retention rules deletes or anonymises exactly the rows past their period, on
both sides of each boundary, a second run changes nothing more, and the audit chain verifies after both."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import SQLModel, col, select

from app import jobs
from app.bus import InProcessBus
from app.clock import hall_day
from app.db import Database
from app.events import Event, FaceGalleryChanged
from app.models import (
    Appointment,
    AuditEntry,
    AuthSession,
    Case,
    CaseMaterial,
    Citizen,
    CitizenAccount,
    CitizenSession,
    Consent,
    ConsentPurpose,
    ConsentScope,
    Device,
    FaceEncoding,
    KioskPairingCode,
    KioskScreenCredential,
    Notification,
    ProxyGrant,
    ProxyProposal,
    RateCounter,
    ServiceItem,
    StaffUser,
    Ticket,
)
from app.models.device import DeviceKind
from app.services.audit import verify
from app.services.errors import Forbidden
from app.services.principal import Principal
from app.services.retention import RETENTION_RUN, RetentionService
from app.settings import Settings
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall

DAY = dt.timedelta(days=1)
SYSTEM = Principal.system('retention')
NOTHING = {
    'ticket_links': 0,
    'citizens': 0,
    'messages': 0,
    'face_templates': 0,
    'consents': 0,
    'sessions': 0,
    'login_codes': 0,
}


class Seeder:
    """Adds rows and remembers their ids by name: `old_*` are past their period, `kept_*` just inside it."""

    def __init__(self, db: Database, hall: SmallHall, now: dt.datetime, service_id: int) -> None:
        self.db, self.hall, self.now, self.service_id = db, hall, now, service_id
        self.ids: dict[str, int] = {}

    async def add(self, name: str, row: SQLModel) -> int:
        async with self.db.session() as s, s.begin():
            s.add(row)
            await s.flush()
            row_id = row.id  # type: ignore[attr-defined]
        self.ids[name] = row_id
        return int(row_id)

    def ago(self, days: float) -> dt.datetime:
        return self.now - dt.timedelta(days=days)

    async def ticket(self, name: str, day: dt.date, *, citizen: int | None, account: int | None = None) -> int:
        taken = dt.datetime.combine(day, dt.time(2), tzinfo=dt.UTC)
        return await self.add(
            name,
            Ticket(
                number=f'A{len(self.ids):03d}',
                channel='kiosk',
                taken_at=taken,
                queued_at=taken,
                completed_at=taken + dt.timedelta(minutes=20),
                status='completed',
                hall_id=self.hall.hall_id,
                service_id=self.service_id,
                day=day,
                code=f'code-{name}',
                citizen_id=citizen,
                account_id=account,
            ),
        )

    async def booking(self, name: str, day: dt.date, *, account: int) -> int:
        start = dt.datetime.combine(day, dt.time(1), tzinfo=dt.UTC)  # 09:00 in the hall
        return await self.add(
            name,
            Appointment(
                slot_start=start,
                slot_end=start + dt.timedelta(minutes=30),
                hall_id=self.hall.hall_id,
                service_id=self.service_id,
                account_id=account,
                reference=f'ref-{name}',
                status='missed',
                created_at=start - 3 * DAY,
            ),
        )

    async def message(self, name: str, written: dt.datetime, status: str, *, citizen: int) -> int:
        return await self.add(
            name,
            Notification(
                hall_id=self.hall.hall_id,
                dedupe_key=f'key-{name}',
                channel='sms',
                kind='called',
                citizen_id=citizen,
                text='请到1号窗口',
                status=status,
                next_attempt_at=written,
                created_at=written,
            ),
        )

    async def consent(
        self, name: str, citizen: int, granted: dt.datetime, *, purpose: ConsentPurpose = ConsentPurpose.FACE_TICKET
    ) -> int:
        return await self.add(
            name,
            Consent(
                purpose=purpose,
                scope=ConsentScope.SAME_KIND,
                text_version='2025.1',
                citizen_id=citizen,
                granted_at=granted,
                channel='kiosk',
            ),
        )

    async def face(self, name: str, citizen: int, consent: int) -> int:
        return await self.add(
            name, FaceEncoding(citizen_id=citizen, consent_id=consent, encoding_enc='enc', created_at=self.now)
        )


async def seed(db: Database, hall: SmallHall, now: dt.datetime, settings: Settings) -> dict[str, int]:
    """Every kind of data, one day past its period and one day inside it (defaults: 180, 150, 365, 180 days)."""
    today = hall_day(now, settings.tz)
    async with db.read_session() as s:
        service_id = (await s.execute(select(ServiceItem.id).where(ServiceItem.code == 'SVC-A'))).scalar_one()
    add = Seeder(db, hall, now, service_id)
    long_ago = add.ago(400)
    gone = await add.add('citizen_gone', Citizen(name_enc='n', phone_enc='p', created_at=long_ago))
    visiting = await add.add('citizen_visiting', Citizen(name_enc='n', created_at=long_ago))
    with_case = await add.add('citizen_with_case', Citizen(name_enc='n', created_at=long_ago))
    new = await add.add('citizen_new', Citizen(name_enc='n', created_at=add.ago(1)))
    account = await add.add('account', CitizenAccount(phone_hash='h', phone_enc='p', created_at=long_ago))

    await add.ticket('old_ticket', today - 181 * DAY, citizen=gone, account=account)
    await add.ticket('old_ticket_of_case', today - 181 * DAY, citizen=with_case)
    await add.ticket('kept_ticket', today - 180 * DAY, citizen=visiting, account=account)
    await add.booking('old_booking', today - 181 * DAY, account=account)
    await add.booking('kept_booking', today - 180 * DAY, account=account)
    case = await add.add(
        'case',
        Case(
            hall_id=hall.hall_id,
            code='case-1',
            service_id=service_id,
            citizen_id=with_case,
            created_at=long_ago,
        ),
    )

    await add.message('old_sent', add.ago(151), 'sent', citizen=visiting)
    await add.message('old_failed', add.ago(151), 'failed', citizen=visiting)
    await add.message('kept_old_pending', add.ago(151), 'pending', citizen=visiting)
    await add.message('kept_sent', add.ago(149), 'sent', citizen=visiting)

    old_face = await add.consent('old_face_consent', visiting, add.ago(366))
    await add.face('old_face', visiting, old_face)
    kept_face = await add.consent('kept_face_consent', visiting, add.ago(364))
    await add.face('kept_face', visiting, kept_face)
    revoked = await add.consent('kept_revoked_consent', visiting, add.ago(10))
    async with db.session() as s, s.begin():
        (await s.get(Consent, revoked)).revoked_at = add.ago(9)  # type: ignore[union-attr]
    await add.face('stray_face', visiting, revoked)  # a template left under a revoked consent
    proxy = await add.consent('old_proxy_consent', visiting, add.ago(366), purpose=ConsentPurpose.PROXY)
    grant = await add.add(
        'old_grant',
        ProxyGrant(
            relation='子女',
            created_at=add.ago(366),
            expires_at=add.ago(359),
            citizen_id=visiting,
            consent_id=proxy,
            case_id=case,
            token_hash='t',
        ),
    )
    material = await add.add('material', CaseMaterial(case_id=case, name='身份证'))
    await add.add(
        'old_proposal', ProxyProposal(grant_id=grant, case_id=case, material_id=material, created_at=add.ago(366))
    )

    async with db.session() as s:
        staff = (await s.execute(select(StaffUser.id).where(StaffUser.username == 'w01'))).scalar_one()
    for name, seen in (('old_staff_session', 181), ('kept_staff_session', 179)):
        await add.add(
            name,
            AuthSession(token_hash=name, user_id=staff, created_at=add.ago(seen), last_seen_at=add.ago(seen)),
        )
    phone_sessions = (  # expires, revoked, last seen (days ago; negative: ahead)
        ('old_phone_session', 181, None, 190),
        ('old_revoked_phone_session', -20, 181, 182),
        ('old_idle_phone_session', -20, None, 188),  # signed out 7 days after it was last used: 181 days ago
        ('kept_phone_session', 179, None, 179),
        ('kept_idle_phone_session', -20, None, 186),  # idle out 179 days ago
    )
    for name, expires, revoked_at, seen in phone_sessions:
        await add.add(
            name,
            CitizenSession(
                account_id=account,
                token_hash=name,
                created_at=add.ago(200),
                last_seen_at=add.ago(seen),
                expires_at=add.ago(expires),
                revoked_at=None if revoked_at is None else add.ago(revoked_at),
            ),
        )
    device = await add.add(
        'device', Device(code='K01', kind=DeviceKind.KIOSK, hall_id=hall.hall_id, credential_hash='c')
    )
    for name, expires in (('old_pairing_code', 181), ('kept_pairing_code', 179)):
        await add.add(
            name,
            KioskPairingCode(
                hall_id=hall.hall_id,
                device_id=device,
                code_hash=name,
                issued_by='admin',
                issued_at=add.ago(expires),
                expires_at=add.ago(expires),
            ),
        )
    for name, revoked_at in (('old_screen', 181), ('kept_screen', 179), ('kept_live_screen', None)):
        await add.add(
            name,
            KioskScreenCredential(
                hall_id=hall.hall_id,
                device_id=device,
                token_hash=name,
                created_at=add.ago(400),
                created_by='admin',
                last_seen_at=add.ago(400),
                revoked_at=None if revoked_at is None else add.ago(revoked_at),
            ),
        )
    async with db.session() as s, s.begin():
        s.add(RateCounter(key='otp:expired', count=1, expires_at=add.ago(0.01)))
        s.add(RateCounter(key='otp:live', count=1, expires_at=now + dt.timedelta(minutes=5)))
    assert new in add.ids.values()
    return add.ids


async def ids_of(db: Database, model: Any) -> set[int]:
    async with db.read_session() as s:
        return set((await s.execute(select(model.id))).scalars())


async def snapshot(db: Database) -> dict[str, Any]:
    """What the rules may change: which rows exist and the links of tickets and bookings."""
    models = (
        Citizen,
        Notification,
        FaceEncoding,
        Consent,
        ProxyGrant,
        ProxyProposal,
        AuthSession,
        CitizenSession,
        KioskPairingCode,
        KioskScreenCredential,
    )
    state: dict[str, Any] = {model.__name__: await ids_of(db, model) for model in models}
    async with db.read_session() as s:
        state['tickets'] = set((await s.execute(select(Ticket.id, Ticket.citizen_id, Ticket.account_id))).all())
        state['bookings'] = set(
            (await s.execute(select(Appointment.id, Appointment.citizen_id, Appointment.account_id))).all()
        )
        state['counters'] = set((await s.execute(select(RateCounter.key))).scalars())
    return state


@pytest.fixture
def retention(
    db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall, clock: FakeClock
) -> RetentionService:
    return RetentionService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock))


async def test_one_run_removes_exactly_what_is_past_its_period_and_a_second_run_nothing_more(
    db: Database, bus: InProcessBus, settings: Settings, hall: SmallHall, clock: FakeClock, retention: RetentionService
) -> None:
    seeded = await seed(db, hall, clock.now, settings)
    before = await snapshot(db)
    heard: list[Event] = []
    bus.subscribe(heard.append, FaceGalleryChanged)

    counts = await retention.enforce(SYSTEM)

    assert counts == {
        'ticket_links': 3,  # two tickets and one booking of day -181; day -180 keeps its links
        'citizens': 1,  # only the citizen whose one ticket was anonymised (a case still names the other)
        'messages': 2,  # sent and failed of 151 days ago; the pending one is still owed
        'face_templates': 2,  # the expired consent's, and the one left under a revoked consent
        'consents': 2,  # the 366-day-old face and proxy consents
        'sessions': 6,  # staff 1, phone 3 (expired, revoked, idle out), pairing code 1, kiosk screen 1
        'login_codes': 1,
    }
    after = await snapshot(db)
    gone = {name: before[name] - after[name] for name in before}
    assert gone['Citizen'] == {seeded['citizen_gone']}
    assert gone['Notification'] == {seeded['old_sent'], seeded['old_failed']}
    assert gone['FaceEncoding'] == {seeded['old_face'], seeded['stray_face']}
    assert gone['Consent'] == {seeded['old_face_consent'], seeded['old_proxy_consent']}
    assert gone['ProxyGrant'] == {seeded['old_grant']} and gone['ProxyProposal'] == {seeded['old_proposal']}
    assert gone['AuthSession'] == {seeded['old_staff_session']}
    assert gone['CitizenSession'] == {
        seeded['old_phone_session'],
        seeded['old_revoked_phone_session'],
        seeded['old_idle_phone_session'],
    }
    assert gone['KioskPairingCode'] == {seeded['old_pairing_code']}
    assert gone['KioskScreenCredential'] == {seeded['old_screen']}
    assert after['counters'] == {'otp:live'}
    account = seeded['account']
    assert after['tickets'] == {
        (seeded['old_ticket'], None, None),
        (seeded['old_ticket_of_case'], None, None),
        (seeded['kept_ticket'], seeded['citizen_visiting'], account),
    }
    assert after['bookings'] == {(seeded['old_booking'], None, None), (seeded['kept_booking'], None, account)}
    async with db.read_session() as s:
        old = await s.get(Ticket, seeded['old_ticket'])
    assert old is not None and old.completed_at is not None and old.service_id  # statistics keep their facts
    for _ in range(100):
        if heard:
            break
        await asyncio.sleep(0.01)
    assert len(heard) == 1, 'the cameras drop the deleted templates'

    assert await retention.enforce(SYSTEM) == NOTHING
    assert await snapshot(db) == after
    result = await verify(db)
    assert result.ok, result.reason
    async with db.read_session() as s:
        runs = list(
            (await s.execute(select(AuditEntry).where(AuditEntry.action == RETENTION_RUN).order_by(col(AuditEntry.id))))
            .scalars()
            .all()
        )
    assert [run.detail['counts'] for run in runs] == [counts, NOTHING]
    assert runs[0].actor == 'system:retention'
    assert runs[0].detail['days'] == {
        'ticket_links': 180,
        'citizens': 180,
        'messages': 150,
        'face_templates': 365,
        'consents': 365,
        'sessions': 180,
    }


async def test_only_the_system_runs_retention_and_a_refused_run_changes_nothing(
    db: Database, settings: Settings, hall: SmallHall, clock: FakeClock, retention: RetentionService
) -> None:
    await seed(db, hall, clock.now, settings)
    before = await snapshot(db)
    with pytest.raises(Forbidden):
        await retention.enforce(DESK)
    assert await snapshot(db) == before
    async with db.read_session() as s:
        assert (await s.execute(select(AuditEntry).where(AuditEntry.action == RETENTION_RUN))).first() is None


async def test_the_daily_job_enforces_the_rules_and_reports_how_many_rows_it_changed(
    db: Database, settings: Settings, hall: SmallHall, clock: FakeClock, retention: RetentionService
) -> None:
    await seed(db, hall, clock.now, settings)
    assert await jobs.enforce_retention({'retention': retention}) == 17
    assert await jobs.enforce_retention({'retention': retention}) == 0


def test_retention_runs_once_a_day_at_midnight_under_arq() -> None:
    schedule = {job.name: (job.second, job.minute, job.hour) for job in jobs.cron_jobs('main')}
    assert schedule['cron:main:enforce_retention'] == (0, 0, {0})
    assert schedule['cron:main:email_delivery_report'] == (0, {0}, None), 'hourly jobs keep their schedule'


def test_ticket_links_may_not_be_forgotten_before_missed_bookings_stop_counting() -> None:
    with pytest.raises(ValidationError, match='NO_SHOW_WINDOW_DAYS'):
        Settings(NO_SHOW_WINDOW_DAYS=90, RETENTION_TICKET_DAYS=60)
    assert Settings(NO_SHOW_WINDOW_DAYS=90, RETENTION_TICKET_DAYS=90).retention_ticket_days == 90


def test_sessions_are_kept_at_least_the_six_months_the_cybersecurity_law_asks() -> None:
    with pytest.raises(ValidationError):
        Settings(RETENTION_SESSION_DAYS=179)
