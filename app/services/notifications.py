"""The notification outbox: rows written in the transaction that causes them, delivered later by a job.

Why an outbox: a message is promised exactly when its cause commits, and a crashed or retried
delivery never loses or doubles it. `dedupe_key` is unique, so writing the same notice twice is a
no-op; delivery claims a row with a lease, sends it under its key (channels deliver a key once), and
only then marks it sent. A failed send is retried with exponential backoff; after MAX_ATTEMPTS the
row stays `failed`, with its attempts and last error visible to staff. A push copy written by a unit of work
that announces it (`add(..., emit=)`) is delivered by that commit: the page shows the stored row.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Update, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.events import Event, NotificationSent
from app.models.cases import Case, Notification
from app.models.citizen_account import ACCOUNT_PHONE, CitizenAccount
from app.models.hall import Hall
from app.models.people import Citizen, Role
from app.security.masking import mask_email, mask_phone
from app.services.case_email import CONTACT_EMAIL_CONTEXT, SUBJECT, email_per_address, email_text
from app.services.channels import EMAIL, PUSH, SMS, ChannelError, NotificationChannel, Outgoing, outgoing_params
from app.services.deps import Deps
from app.services.limits import Limit, TooManyRequests
from app.services.messages import Message, page_text
from app.services.principal import Principal
from app.services.uow import Service

log = logging.getLogger(__name__)

PENDING = 'pending'
SENDING = 'sending'
SENT = 'sent'
FAILED = 'failed'

MAX_ATTEMPTS = 6
BACKOFF_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 3600.0
LEASE = dt.timedelta(minutes=2)
BATCH = 50

# SMS cost money and reach a person: a flood of tickets with someone's number must not become a flood of texts.
# The per-number cap is SMS_DAILY_CAP_PER_NUMBER (`sms_per_phone`); both count in the database or Redis.
SMS_PER_HALL = Limit('sms:hall', 3000, dt.timedelta(days=1), 'sms_capped')


def _outbox_insert(dialect: Any) -> Any:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, built once per dialect and bound per row (a queue
    notice is written at every call: a statement built anew cost its construction and cache key each time)."""
    table = Notification.__table__  # type: ignore[attr-defined]
    return dialect.insert(table).on_conflict_do_nothing(index_elements=['dedupe_key']).returning(table.c.id)


OUTBOX_INSERT = {'postgresql': _outbox_insert(postgresql), 'sqlite': _outbox_insert(sqlite)}


def sms_per_phone(cap: int) -> Limit:
    """At most `cap` texts a day to one number, whichever process sends them."""
    return Limit('sms:phone', cap, dt.timedelta(days=1), 'sms_capped')


def sms_params(msg: Message) -> str:
    """What a provider needs to send the message again later: its template and parameters (JSON)."""
    return json.dumps({'template': str(msg.template), 'params': dict(msg.params)}, ensure_ascii=False)[:500]


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 60 s, 2 min, 4 min, ... capped at an hour: a gateway outage is not hammered."""
    return dt.timedelta(seconds=min(BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


async def channels_for(session: AsyncSession, citizen_id: int | None, account_id: int | None = None) -> tuple[str, ...]:
    """Push always (the /track page); SMS too when the citizen left a phone number or signed in with one."""
    if account_id is not None:
        return (PUSH, SMS)
    if citizen_id is None:
        return (PUSH,)
    citizen = await session.get(Citizen, citizen_id)
    return (PUSH, SMS) if citizen is not None and citizen.phone_enc else (PUSH,)


async def add(
    session: AsyncSession,
    *,
    hall_id: int,
    key: str,
    kind: str,
    message: Message,
    now: dt.datetime,
    note: str = '',
    ticket_id: int | None = None,
    case_id: int | None = None,
    citizen_id: int | None = None,
    account_id: int | None = None,
    channels: Sequence[str] | None = None,
    emit: Callable[[Event], None] | None = None,
) -> int:
    """Write one outbox row per channel inside the caller's transaction; returns how many were new.

    The row's dedupe key is `key:channel`: writing the same notice again (a retried job, a replayed
    event) inserts nothing. An SMS carries only the template's text; staff's free `note` goes only into
    the push copy that /track shows (app/services/messages.py says why); an email carries the template's text too,
    with a line on where to read more.

    With `emit` (the writing unit of work's), the push copy is delivered by the commit itself: what /track shows
    is the stored row, so it is written sent, and its NotificationSent goes out after the commit for the pages
    open now. The delivery job then never claims it: two write transactions a round saved on the busiest path.
    """
    channels = channels if channels is not None else await channels_for(session, citizen_id, account_id)
    statement = OUTBOX_INSERT['postgresql' if session.get_bind().dialect.name == 'postgresql' else 'sqlite']
    created = 0
    for channel in channels:
        delivered = emit is not None and channel == PUSH
        row = {
            'hall_id': hall_id,
            'dedupe_key': f'{key}:{channel}'[:128],
            'channel': channel,
            'kind': kind[:32],
            'ticket_id': ticket_id,
            'case_id': case_id,
            'citizen_id': citizen_id,
            'account_id': account_id,
            'text': _text_for(channel, message, note)[:500],
            'sms_params': sms_params(message) if channel == SMS else '',
            'status': SENT if delivered else PENDING,
            'attempts': 1 if delivered else 0,
            'next_attempt_at': now,
            'sent_at': now if delivered else None,
            'last_error': '',
            'created_at': now,
        }
        new_id = (await session.execute(statement, row)).scalar_one_or_none()
        if new_id is None:
            continue
        created += 1
        if delivered and emit is not None:
            emit(_pushed(row, new_id, now))
    return created


def _pushed(row: dict[str, Any], notification_id: int, now: dt.datetime) -> NotificationSent:
    """What the push channel announces for a row (app/services/channels.py PushChannel), for a row sent by its write."""
    return NotificationSent(
        hall_id=row['hall_id'],
        time=now,
        notification_id=notification_id,
        channel=PUSH,
        kind=row['kind'],
        ticket_id=row['ticket_id'],
        case_id=row['case_id'],
        text=row['text'],
    )


def _text_for(channel: str, message: Message, note: str) -> str:
    if channel == SMS:
        return message.text
    if channel == EMAIL:
        return email_text(message)
    return page_text(message, note)


@dataclass(frozen=True)
class KindCounts:
    """One message kind on one channel since the start of the period: how many went, wait, or failed."""

    channel: str
    kind: str
    sent: int
    pending: int
    failed: int


@dataclass(frozen=True)
class DeliveryProblem:
    """A message that failed or waits for a retry, as staff may see it: the number masked, the cause in words."""

    id: int
    at: dt.datetime
    channel: str
    kind: str
    to: str  # masked ('139****5678', 'a***@example.com'); '' for push
    status: str
    attempts: int
    reason: str  # capped | email_capped | no_template | no_phone | no_email | provider | other
    detail: str  # the provider's own words for `provider`, else ''


@dataclass(frozen=True)
class DeliveryStatus:
    since: dt.datetime
    kinds: list[KindCounts]
    problems: list[DeliveryProblem]


REPORT_HOUR = 7  # the daily delivery report goes out in this hour, hall time
CHANNEL_NAMES = {SMS: '短信 SMS', PUSH: '页面推送 page push', EMAIL: '邮件 email'}


def report_text(status: DeliveryStatus, until: dt.datetime) -> str:
    """The daily delivery report, Chinese then English: totals per channel over the 24 hours before `until`
    (hall time), and how many were given up."""
    at = until.strftime('%Y-%m-%d %H:%M')
    lines = [f'截至 {at} 的 24 小时消息发送情况 / messages in the 24 hours to {at}', '']
    totals: dict[str, list[int]] = {}
    for counts in status.kinds:
        total = totals.setdefault(counts.channel, [0, 0, 0])
        total[0] += counts.sent
        total[1] += counts.pending
        total[2] += counts.failed
    for channel, (sent, pending, failed) in sorted(totals.items()):
        name = CHANNEL_NAMES.get(channel, channel)
        lines.append(f'{name}: 已发送 {sent} sent, 待发送 {pending} waiting, 失败 {failed} given up')
    if not totals:
        lines.append('没有消息 / no messages')
    given_up = sum(1 for problem in status.problems if problem.status == FAILED)
    if given_up:
        lines += ['', f'{given_up} 条消息已放弃，原因见 /admin「消息发送」/ {given_up} given up: see /admin, Messages']
    return '\n'.join(lines)


def failure_reason(last_error: str) -> tuple[str, str]:
    """A row's last error as (reason, the provider's words): staff read causes, not exception names."""
    if last_error == 'capped: email_capped':
        return 'email_capped', ''
    if last_error.startswith('capped:'):
        return 'capped', ''
    if 'no template code' in last_error:
        return 'no_template', ''
    if 'no phone' in last_error:
        return 'no_phone', ''
    if 'no email address' in last_error:
        return 'no_email', ''
    head, _, words = last_error.partition(': ')
    if head.startswith(('aliyun ', 'tencent ', 'smtp')):
        return 'provider', words.strip()
    return 'other', ''


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


class NotificationService(Service):
    """Delivers due outbox rows through the channels; `kick()` asks the job runner to deliver soon."""

    def __init__(self, deps: Deps, channels: Mapping[str, NotificationChannel]) -> None:
        super().__init__(deps)
        self.channels = dict(channels)
        self.per_phone = sms_per_phone(deps.settings.sms_daily_cap_per_number)
        self.per_email = email_per_address(deps.settings.email_daily_cap_per_address)
        self.waker: Callable[[], None] | None = None

    def kick(self) -> None:
        """New rows were committed: wake the delivery job instead of waiting for its next round."""
        if self.waker is not None:
            self.waker()

    async def deliver_due(self, *, limit: int = BATCH) -> DeliveryReport:
        """Claim the due rows (a lease, so a crashed worker's rows come back), send each, then record every outcome
        in one transaction: a batch costs two commits, not one per row (a row sent but not yet recorded when the
        process dies is sent again after its lease, under the same key, which channels deliver once)."""
        claimed = await self._claim(limit)
        outcomes: list[tuple[Notification, str, str]] = []
        try:
            for row in claimed:
                outcomes.append((row, *await self._deliver(row)))
        finally:  # a cancelled job still records what it sent
            await self._finish(outcomes)
        statuses = [status for _, status, _ in outcomes]
        return DeliveryReport(statuses.count(SENT), statuses.count(PENDING), statuses.count(FAILED))

    async def _claim(self, limit: int) -> list[Notification]:
        now = self.clock()
        statement = (
            select(Notification)
            .where(
                or_(Notification.status == PENDING, Notification.status == SENDING),
                col(Notification.next_attempt_at) <= now,
            )
            .order_by(col(Notification.next_attempt_at), col(Notification.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._transaction() as uow:
            s = uow.session
            rows = list((await s.execute(statement)).scalars())
            for row in rows:
                row.status = SENDING
                row.next_attempt_at = now + LEASE
        return rows

    async def _deliver(self, row: Notification) -> tuple[str, str]:
        """Send one claimed row: its outcome (status, error) for `_finish`."""
        assert row.id is not None
        channel = self.channels.get(row.channel)
        try:
            if channel is None:
                raise ChannelError(f'no channel {row.channel!r} configured')
            phone = await self._phone(row.citizen_id, row.account_id) if channel.needs_phone else None
            if phone is not None:
                await self.limits.hit(self.per_phone, phone)
                await self.limits.hit(SMS_PER_HALL, str(row.hall_id))
            email = await self._case_email(row.case_id) if row.channel == EMAIL else None
            if email:
                await self.limits.hit(self.per_email, email.lower())
            stored = json.loads(row.sms_params) if row.sms_params else {}
            template = str(stored.get('template', ''))
            await channel.send(
                Outgoing(
                    key=row.dedupe_key,
                    notification_id=row.id,
                    hall_id=row.hall_id,
                    kind=row.kind,
                    text=row.text,
                    ticket_id=row.ticket_id,
                    case_id=row.case_id,
                    phone=phone,
                    template=template,
                    params=outgoing_params(stored.get('params', {})),
                    template_code=await self._template_code(channel, row.hall_id, template),
                    email=email,
                    subject=SUBJECT if email else '',
                )
            )
        except TooManyRequests as capped:  # over a cap: not sent, and not retried (a retry would be capped too)
            log.warning('notification %s not sent on %s: %s', row.id, row.channel, capped.code)
            return FAILED, f'capped: {capped.code}'
        except ChannelError as error:
            if error.permanent:  # a bad number or an unapproved template: retrying cannot help
                log.warning('notification %s on %s given up: %s', row.id, row.channel, error)
                return FAILED, str(error)[:300]
            return self._failed(row, error)
        except Exception as error:  # any other failure of a channel is retried, never lost
            return self._failed(row, error)
        return SENT, ''

    async def text_now(self, msg: Message, *, key: str, hall_id: int, citizen_id: int, ticket_id: int | None) -> None:
        """Send one SMS at once, with no outbox row: a one-time code must not rest where staff can read it."""
        phone = await self._phone(citizen_id)
        if phone is None:
            raise ChannelError('no phone for this citizen')
        await self.text_phone(msg, key=key, hall_id=hall_id, phone=phone, ticket_id=ticket_id)

    async def text_phone(
        self, msg: Message, *, key: str, hall_id: int, phone: str, ticket_id: int | None = None
    ) -> None:
        """Send one SMS at once to a given phone (a sign-in code): no outbox row, the same per-phone and hall caps."""
        channel = self.channels.get(SMS)
        if channel is None:
            raise ChannelError('no SMS channel')
        await self.limits.hit(self.per_phone, phone)
        await self.limits.hit(SMS_PER_HALL, str(hall_id))
        await channel.send(
            Outgoing(
                key=key,
                notification_id=0,
                hall_id=hall_id,
                kind=msg.template,
                text=msg.text,
                ticket_id=ticket_id,
                phone=phone,
                template=str(msg.template),
                params=outgoing_params(msg.params),
                template_code=await self._template_code(channel, hall_id, str(msg.template)),
            )
        )

    async def email(self, *, key: str, hall_id: int, to: str, subject: str, text: str) -> None:
        """Send one email at once (a report for staff, a notice to a business); ChannelError when it cannot go."""
        channel = self.channels.get(EMAIL)
        if channel is None:
            raise ChannelError('no email channel (SMTP_URL is not set)', permanent=True)
        await channel.send(
            Outgoing(key=key, notification_id=0, hall_id=hall_id, kind='email', text=text, email=to, subject=subject)
        )

    async def _template_code(self, channel: NotificationChannel, hall_id: int, template: str) -> str:
        """The provider's template code for a message kind, as the hall's description names it (read per send:
        an edited description counts at once, in every process)."""
        if not channel.needs_template or not template:
            return ''
        async with self.db.read_session() as s:
            hall = await s.get(Hall, hall_id)
        return str((hall.sms_templates if hall is not None else {}).get(template, ''))

    async def _phone(self, citizen_id: int | None, account_id: int | None = None) -> str | None:
        """The number to text: an online account's own phone when the row names one, else the citizen's."""
        if account_id is not None:
            async with self.db.read_session() as s:
                account = await s.get(CitizenAccount, account_id)
            if account is None or not account.phone_enc:
                return None
            return self.cipher.decrypt(account.phone_enc, context=ACCOUNT_PHONE)
        if citizen_id is None:
            return None
        async with self.db.read_session() as s:
            citizen = await s.get(Citizen, citizen_id)
        if citizen is None or not citizen.phone_enc:
            return None
        return self.cipher.decrypt(citizen.phone_enc, context='citizen.phone')

    async def _case_email(self, case_id: int | None) -> str | None:
        """The business's address for its case notices, decrypted just before sending (None: it left none)."""
        if case_id is None:
            return None
        async with self.db.read_session() as s:
            case = await s.get(Case, case_id)
        if case is None or not case.contact_email_enc:
            return None
        return self.cipher.decrypt(case.contact_email_enc, context=CONTACT_EMAIL_CONTEXT)

    def _failed(self, row: Notification, error: Exception) -> tuple[str, str]:
        message = f'{type(error).__name__}: {error}'[:300]
        status = FAILED if row.attempts + 1 >= MAX_ATTEMPTS else PENDING
        log.warning('notification %s on %s failed (attempt %d): %s', row.id, row.channel, row.attempts + 1, message)
        return status, message

    async def _finish(self, outcomes: Sequence[tuple[Notification, str, str]]) -> None:
        """Record the outcomes in one transaction, each only on a row still in our hands (a lease that ran out was
        claimed again). The sent rows, most of a batch, share one statement."""
        if not outcomes:
            return
        now = self.clock()
        sent = [row.id for row, status, _ in outcomes if status == SENT]
        statements = [] if not sent else [_finished(col(Notification.id).in_(sent), status=SENT, error='', now=now)]
        for row, status, error in outcomes:
            if status != SENT:
                retry_at = now + backoff(row.attempts + 1) if status == PENDING else None
                statements.append(_finished(col(Notification.id) == row.id, status=status, error=error, now=retry_at))
        async with self._transaction() as uow:
            for statement in statements:
                await uow.session.execute(statement)

    async def for_ticket(self, ticket_id: int | None, case_ids: Sequence[int] = ()) -> list[Notification]:
        """What a citizen has been sent about a ticket and its cases (one row per notice, the push copy)."""
        clauses = []
        if ticket_id is not None:
            clauses.append(col(Notification.ticket_id) == ticket_id)
        if case_ids:
            clauses.append(col(Notification.case_id).in_(list(case_ids)))
        if not clauses:
            return []
        statement = (
            select(Notification)
            .where(or_(*clauses), Notification.channel == PUSH, Notification.kind != 'sla_at_risk')
            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
            .limit(100)
        )
        async with self.db.read_session() as s:
            return list((await s.execute(statement)).scalars())

    async def problems(self, *, limit: int = 50) -> list[Notification]:
        """Rows that failed or are being retried, newest first: what operators should look at."""
        statement = (
            select(Notification)
            .where(or_(Notification.status == FAILED, col(Notification.attempts) > 0), Notification.status != SENT)
            .order_by(col(Notification.id).desc())
            .limit(limit)
        )
        async with self.db.read_session() as s:
            return list((await s.execute(statement)).scalars())

    async def delivery_status(self, caller: Principal, *, days: int = 1, limit: int = 50) -> DeliveryStatus:
        """Admins and managers: what went out, waits and failed per kind over the last `days`, and the newest
        problems with masked numbers, so a wrong template code or an empty balance is seen the same day."""
        caller.require(Role.ADMIN, Role.MANAGER)
        since = self.clock() - dt.timedelta(days=max(1, days))
        counted = (
            select(Notification.channel, Notification.kind, Notification.status, func.count())
            .where(Notification.hall_id == self.hall_id, col(Notification.created_at) >= since)
            .group_by(col(Notification.channel), col(Notification.kind), col(Notification.status))
        )
        async with self.db.read_session() as s:
            tallies = (await s.execute(counted)).all()
        counts: dict[tuple[str, str], dict[str, int]] = {}
        for channel, kind, status, n in tallies:
            bucket = counts.setdefault((channel, kind), {SENT: 0, PENDING: 0, FAILED: 0})
            bucket[SENT if status == SENT else FAILED if status == FAILED else PENDING] += n
        kinds = [
            KindCounts(channel, kind, c[SENT], c[PENDING], c[FAILED]) for (channel, kind), c in sorted(counts.items())
        ]
        problems = []
        for row in await self.problems(limit=limit):
            if row.hall_id != self.hall_id or row.created_at < since or row.id is None:
                continue
            reason, detail = failure_reason(row.last_error)
            problems.append(
                DeliveryProblem(
                    row.id,
                    row.created_at,
                    row.channel,
                    row.kind,
                    await self._masked_to(row),
                    row.status,
                    row.attempts,
                    reason,
                    detail,
                )
            )
        return DeliveryStatus(since, kinds, problems)

    async def _masked_to(self, row: Notification) -> str:
        """Where a problem row was going, masked: the number of a text, the address of an email, '' for push."""
        if row.channel == SMS:
            return mask_phone(await self._phone(row.citizen_id, row.account_id))
        if row.channel == EMAIL:
            return mask_email(await self._case_email(row.case_id))
        return ''

    async def email_daily_report(self) -> int:
        """At 07:00 hall time, email REPORT_EMAIL the last 24 hours' deliveries (1 when sent). A report that cannot go
        is logged and not retried: the same figures stay on /admin, and tomorrow's report comes anyway."""
        recipients = [part.strip() for part in self.settings.report_email.split(',') if part.strip()]
        now = self.clock()
        local = now.astimezone(self.settings.tz)
        if not recipients or EMAIL not in self.channels or local.hour != REPORT_HOUR:
            return 0
        day = local.date()
        status = await self.delivery_status(Principal.system('delivery_report'), days=1)
        text = report_text(status, local)
        sent = 0
        for to in recipients:
            try:
                await self.email(
                    key=f'delivery-report:{day.isoformat()}',
                    hall_id=self.hall_id,
                    to=to,
                    subject=text.splitlines()[0],
                    text=text,
                )
                sent = 1
            except ChannelError as error:
                log.warning('the delivery report of %s was not emailed: %s', day, error)
        return sent


def _finished(which: ColumnElement[bool], *, status: str, error: str, now: dt.datetime | None) -> Update:
    """The update recording one outcome: `now` is when it was sent (SENT) or its next attempt (PENDING)."""
    values: dict[str, object] = {'status': status, 'attempts': Notification.attempts + 1, 'last_error': error}
    if status == SENT:
        values['sent_at'] = now
    if status == PENDING:
        values['next_attempt_at'] = now
    return update(Notification).where(which, Notification.status == SENDING).values(**values)
