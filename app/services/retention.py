"""Data lifecycle (数据保存期限): how long each kind of personal data is kept, and what happens to it then.

PIPL art. 19 keeps personal information no longer than its purpose needs, and art. 47 deletes it (or, art. 73,
anonymises it: nobody can be identified from it and it cannot be restored) once that period is over. Each kind
of data is one `RetentionRule` below: its period (a setting, so the hall's legal office can set its own), what
happens at its end (delete, anonymise, or keep) and why that long. `RetentionService.enforce` applies every rule
in one transaction that also appends one audit row with the counts per kind; the daily job `enforce_retention`
(app/jobs.py) runs it; docs/privacy.md's retention table is rendered from the same rules (app/privacy.py).

Idempotent: each rule selects only rows that still hold what it removes, so a second run finds nothing new.
Scope: tickets, bookings and messages belong to a hall, so each hall's job handles its own; citizens, consents
and sessions are shared by the halls of one database, and whichever hall's job runs first handles them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import hall_day
from app.events import FaceGalleryChanged
from app.models.appointment import Appointment
from app.models.cases import Case, Notification
from app.models.citizen_account import CitizenAccount, CitizenSession
from app.models.pairing import KioskPairingCode, KioskScreenCredential
from app.models.people import AuthSession, Citizen
from app.models.proxy import ProxyGrant, ProxyProposal
from app.models.security import Consent, FaceEncoding, RateCounter
from app.models.ticket import Ticket
from app.services import audit
from app.services.errors import Forbidden
from app.services.notifications import FAILED, SENT
from app.services.principal import Principal
from app.services.uow import Service
from app.settings import Settings

RETENTION_RUN = 'retention_run'


class Action(StrEnum):
    DELETE = 'delete'
    ANONYMISE = 'anonymise'
    KEEP = 'keep'


@dataclass(frozen=True)
class Run:
    """One enforcement: the moment it runs, the settings in force and the hall whose rows it handles."""

    now: dt.datetime
    settings: Settings
    hall_id: int

    def cutoff(self, days: int) -> dt.datetime:
        return self.now - dt.timedelta(days=days)

    def cutoff_day(self, days: int) -> dt.date:
        """The first hall day still kept: rows of days before it are past their period."""
        return hall_day(self.now, self.settings.tz) - dt.timedelta(days=days)

    def day_start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=self.settings.tz).astimezone(dt.UTC)


Enforce = Callable[[AsyncSession, Run], Awaitable[int]]


@dataclass(frozen=True)
class RetentionRule:
    """One kind of data: kept for `setting`'s days (or `period` in words), then `action`; `enforce` does it."""

    kind: str
    data: str
    action: Action
    then: str
    why: str
    setting: str | None = None
    period: str = ''
    enforce: Enforce | None = None

    def days(self, settings: Settings) -> int | None:
        return None if self.setting is None else int(getattr(settings, self.setting))

    @property
    def variable(self) -> str | None:
        """The environment variable of its period (README's settings table)."""
        if self.setting is None:
            return None
        alias = Settings.model_fields[self.setting].validation_alias
        return str(alias)


def _count(result: Any) -> int:
    return int(getattr(result, 'rowcount', 0) or 0)


def _linked(model: type[Ticket] | type[Appointment]) -> ColumnElement[bool]:
    return or_(col(model.citizen_id).is_not(None), col(model.account_id).is_not(None))


async def _ticket_links(s: AsyncSession, run: Run) -> int:
    """Tickets and bookings of days past the period forget who they were for; times, service, window stay."""
    first_kept = run.cutoff_day(run.settings.retention_ticket_days)
    tickets = await s.execute(
        update(Ticket)
        .where(col(Ticket.hall_id) == run.hall_id, col(Ticket.day) < first_kept, _linked(Ticket))
        .values(citizen_id=None, account_id=None)
        .execution_options(synchronize_session=False)
    )
    bookings = await s.execute(
        update(Appointment)
        .where(
            col(Appointment.hall_id) == run.hall_id,
            col(Appointment.slot_start) < run.day_start(first_kept),
            _linked(Appointment),
        )
        .values(citizen_id=None, account_id=None)
        .execution_options(synchronize_session=False)
    )
    return _count(tickets) + _count(bookings)


CITIZEN_REFERENCES = (Ticket, Appointment, Case, Consent, FaceEncoding, Notification, ProxyGrant, CitizenAccount)


async def _citizens(s: AsyncSession, run: Run) -> int:
    """A citizen record (name, ID number, phone) that no ticket, booking, case, consent, message, grant or
    account refers to any more, and older than the ticket period, has nothing left to serve."""
    unreferenced = [
        col(Citizen.id).not_in(select(model.citizen_id).where(col(model.citizen_id).is_not(None)))
        for model in CITIZEN_REFERENCES
    ]
    cutoff = run.day_start(run.cutoff_day(run.settings.retention_ticket_days))
    result = await s.execute(delete(Citizen).where(col(Citizen.created_at) < cutoff, *unreferenced))
    return _count(result)


async def _messages(s: AsyncSession, run: Run) -> int:
    """Delivered or given-up messages past the period; a pending one is still owed and stays."""
    result = await s.execute(
        delete(Notification).where(
            col(Notification.hall_id) == run.hall_id,
            col(Notification.status).in_((SENT, FAILED)),
            col(Notification.created_at) < run.cutoff(run.settings.retention_message_days),
        )
    )
    return _count(result)


def _expired_consents(run: Run) -> Any:
    return select(Consent.id).where(col(Consent.granted_at) < run.cutoff(run.settings.retention_consent_days))


async def _face_templates(s: AsyncSession, run: Run) -> int:
    """Templates go with their consent: the expired ones, and any left under a revoked one."""
    revoked = select(Consent.id).where(col(Consent.revoked_at).is_not(None))
    result = await s.execute(
        delete(FaceEncoding).where(
            or_(col(FaceEncoding.consent_id).in_(_expired_consents(run)), col(FaceEncoding.consent_id).in_(revoked))
        )
    )
    return _count(result)


async def _consents(s: AsyncSession, run: Run) -> int:
    """Expired consents, with the proxy grants they backed and those grants' proposals (after their templates)."""
    expired = _expired_consents(run)
    grants = select(ProxyGrant.id).where(col(ProxyGrant.consent_id).in_(expired))
    await s.execute(delete(ProxyProposal).where(col(ProxyProposal.grant_id).in_(grants)))
    await s.execute(delete(ProxyGrant).where(col(ProxyGrant.consent_id).in_(expired)))
    result = await s.execute(delete(Consent).where(col(Consent.id).in_(expired)))
    return _count(result)


async def _sessions(s: AsyncSession, run: Run) -> int:
    """Sign-ins that ended before the period: staff sessions last used then, phone sessions expired, revoked
    or idle out then, kiosk pairing codes expired then and kiosk credentials revoked then."""
    cutoff = run.cutoff(run.settings.retention_session_days)
    idle_out = cutoff - dt.timedelta(days=run.settings.citizen_idle_days)
    results = [
        await s.execute(delete(AuthSession).where(col(AuthSession.last_seen_at) < cutoff)),
        await s.execute(
            delete(CitizenSession).where(
                or_(
                    col(CitizenSession.expires_at) < cutoff,
                    col(CitizenSession.revoked_at) < cutoff,
                    col(CitizenSession.last_seen_at) < idle_out,
                )
            )
        ),
        await s.execute(delete(KioskPairingCode).where(col(KioskPairingCode.expires_at) < cutoff)),
        await s.execute(delete(KioskScreenCredential).where(col(KioskScreenCredential.revoked_at) < cutoff)),
    ]
    return sum(_count(result) for result in results)


async def _login_codes(s: AsyncSession, run: Run) -> int:
    """The counters behind one-time codes and abuse limits, once their window is over (Redis expires its own)."""
    return _count(await s.execute(delete(RateCounter).where(col(RateCounter.expires_at) < run.now)))


RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        kind='ticket_links',
        data='the link of a ticket or booking to its citizen and phone account (`citizen_id`, `account_id`)',
        action=Action.ANONYMISE,
        setting='retention_ticket_days',
        then='set to empty; the ticket keeps its number, service, window and times for statistics and reports',
        why=(
            "half a year covers what needs to know whose visit it was: the citizen's own history on /me, "
            'missed bookings (`NO_SHOW_WINDOW_DAYS`, which it may not be shorter than), ratings and their '
            'rectification and appeal (15 working days at most)'
        ),
        enforce=_ticket_links,
    ),
    RetentionRule(
        kind='citizens',
        data='a citizen record (`citizen`: name, ID number and phone, encrypted)',
        action=Action.DELETE,
        setting='retention_ticket_days',
        then='deleted once nothing refers to it (no ticket, booking, case, consent, message, grant or account)',
        why='it exists only for those records; with the last link gone it serves no purpose (PIPL art. 47)',
        enforce=_citizens,
    ),
    RetentionRule(
        kind='messages',
        data='sent and given-up SMS, email and page messages (`notification`: text, phone link)',
        action=Action.DELETE,
        setting='retention_message_days',
        then='deleted; a message still pending stays until it is sent or given up',
        why=(
            'about five months: delivery questions and the daily delivery report come within days, and five '
            "months is the sending record China's SMS rules (通信短信息服务管理规定) ask of senders"
        ),
        enforce=_messages,
    ),
    RetentionRule(
        kind='face_templates',
        data='face templates (`face_encoding`, encrypted)',
        action=Action.DELETE,
        setting='retention_consent_days',
        then=(
            'deleted with their consent; a 本次 (this visit) template already goes when its visit ends '
            '(job `expire_face_visits`), and any template is deleted at once when its consent is revoked'
        ),
        why=(
            'the face recognition measures (人脸识别技术应用安全管理办法) keep templates no longer than their '
            'purpose needs: a citizen who still wants 刷脸 after a year consents again'
        ),
        enforce=_face_templates,
    ),
    RetentionRule(
        kind='consents',
        data="consents (`consent`, with the guardian's encrypted ID number) and the proxy grants they back",
        action=Action.DELETE,
        setting='retention_consent_days',
        then=(
            'deleted, live or ended, with their face templates and proxy grants; a use after that asks again. '
            'Their grant and withdrawal stay provable in the audit log (`consent_granted`, `consent_revoked`)'
        ),
        why='a year keeps a 同类 (same kind of matter) consent useful between visits without keeping it for ever',
        enforce=_consents,
    ),
    RetentionRule(
        kind='sessions',
        data=(
            'ended sign-ins with their addresses: staff sessions, phone sessions, kiosk pairing codes and '
            'revoked kiosk credentials'
        ),
        action=Action.DELETE,
        setting='retention_session_days',
        then='deleted that long after they ended (a live one is never touched)',
        why=(
            'the Cybersecurity Law (网络安全法 art. 21) asks network logs to be kept at least six months, so 180 '
            'days is also the least it may be set to'
        ),
        enforce=_sessions,
    ),
    RetentionRule(
        kind='login_codes',
        data='one-time login codes (never stored: computed) and the counters behind them and the abuse limits',
        action=Action.DELETE,
        period='until their window ends (minutes to a day)',
        then='deleted once expired; in Redis they expire by themselves',
        why='an expired counter decides nothing',
        enforce=_login_codes,
    ),
    RetentionRule(
        kind='cases',
        data='case records (办件: `case`, its steps, materials and answers)',
        action=Action.KEEP,
        period="by the departments' archive schedules",
        then='not touched by this job',
        why='a case is an administrative record the department must archive; its retention is theirs to set',
    ),
    RetentionRule(
        kind='audit',
        data='the audit log (`audit_entry`)',
        action=Action.KEEP,
        period='for the life of the hall',
        then='never deleted or edited: it is append-only and hash-chained, so deleting rows would break the chain',
        why=(
            'it records who did what, for accountability. Its rows carry no name, and ID and mobile numbers are '
            'masked before a row is hashed (citizens appear as `citizen:<id>`, staff by user name); of the '
            'client address (IP) only its network and a keyed digest are kept (same address, same digest), for '
            'security investigations. Rows written before that masking keep the full address: rewriting them '
            'would break the chain, so they stay as they are for the life of the hall'
        ),
    ),
)


class RetentionService(Service):
    async def enforce(self, caller: Principal) -> dict[str, int]:
        """Apply every rule now, in one transaction with its audit row; the count per kind."""
        if not caller.is_system:
            raise Forbidden('forbidden')
        run = Run(self.clock(), self.settings, self.hall_id)
        async with self._transaction() as uow:
            s = uow.session
            counts = {rule.kind: await rule.enforce(s, run) for rule in RULES if rule.enforce is not None}
            days = {rule.kind: rule.days(self.settings) for rule in RULES if rule.setting is not None}
            detail = {'counts': counts, 'days': days}
            await audit.record_for(s, caller, action=RETENTION_RUN, detail=detail, now=run.now)
            if counts['face_templates'] and uow.bus is not None:
                uow.emit(FaceGalleryChanged(hall_id=self.hall_id, reason=RETENTION_RUN))
        return counts
