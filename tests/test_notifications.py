"""The outbox: idempotent writes, delivery over SMS and push, retries with backoff, and jobs that never send twice."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy
from arq import Worker
from arq.connections import RedisSettings
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.events import Event, NotificationSent, TicketEventBase
from app.jobs import FUNCTIONS, ArqJobs, LocalJobs, Periodic, deliver_notifications
from app.models import TicketCreate
from app.models.cases import Notification
from app.services import notifications
from app.services.channels import ChannelError, NotificationChannel, Outgoing
from app.services.journey import Journey
from app.services.messages import Template, message
from app.services.priority import order_key
from app.services.queue import QueueService
from app.services.queue_notices import QueueNotices
from tests import journeyhall
from tests.callers import DESK
from tests.conftest import FakeClock
from tests.journeyhall import JourneyHall

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

PHONE = '13912345678'


class FlakyChannel(NotificationChannel):
    """Fails the first `failures` sends, then delivers (and counts every delivery)."""

    name = 'flaky'

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.delivered: list[str] = []

    async def send(self, message: Outgoing) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ChannelError('gateway timeout')
        self.delivered.append(message.key)


HELLO = message(Template.CASE_ACCEPTED, service='测试事项')


async def write(db: Database, journey_hall: JourneyHall, clock: FakeClock, key: str, **kwargs: object) -> int:
    async with db.session() as s, s.begin():
        return await notifications.add(
            s, hall_id=journey_hall.hall_id, key=key, kind='test', message=HELLO, now=clock(), **kwargs
        )


async def rows(db: Database) -> list[Notification]:
    async with db.read_session() as s:
        return list((await s.execute(select(Notification).order_by(col(Notification.id)))).scalars())


async def citizen_with_phone(hall_queue: QueueService) -> tuple[int, int]:
    view = await hall_queue.take_ticket(
        TicketCreate(service_code='SVC-C', id_number=journeyhall.LOCAL_CITIZEN, phone=PHONE), caller=DESK
    )
    return view.ticket.id or 0, view.ticket.citizen_id or 0


async def test_writing_the_same_notice_twice_writes_it_once_per_channel(
    db: Database, journey: Journey, journey_hall: JourneyHall, clock: FakeClock, hall_queue: QueueService
) -> None:
    ticket_id, citizen_id = await citizen_with_phone(hall_queue)
    assert await write(db, journey_hall, clock, 'k1', ticket_id=ticket_id, citizen_id=citizen_id) == 2
    assert await write(db, journey_hall, clock, 'k1', ticket_id=ticket_id, citizen_id=citizen_id) == 0
    assert await write(db, journey_hall, clock, 'k2', ticket_id=ticket_id) == 1  # no citizen: push only
    assert sorted(r.dedupe_key for r in await rows(db)) == ['k1:push', 'k1:sms', 'k2:push']


async def test_delivery_sends_sms_with_a_masked_record_and_pushes_on_the_bus(
    db: Database,
    journey: Journey,
    journey_hall: JourneyHall,
    clock: FakeClock,
    hall_queue: QueueService,
    bus: InProcessBus,
) -> None:
    pushed: list[Event] = []
    bus.subscribe(pushed.append, NotificationSent)
    ticket_id, citizen_id = await citizen_with_phone(hall_queue)
    await write(db, journey_hall, clock, 'hello', ticket_id=ticket_id, citizen_id=citizen_id)
    report = await journey.notifications.deliver_due()
    assert (report.sent, report.retried, report.failed) == (2, 0, 0)
    assert all(r.status == 'sent' and r.attempts == 1 and r.sent_at == clock() for r in await rows(db))
    [sms] = journey.sms.sent
    assert sms['to'] == '139****5678' and sms['text'] == HELLO.text
    assert journey.sms.path is not None and PHONE not in journey.sms.path.read_text(encoding='utf-8')
    await bus.drain()
    [event] = pushed
    assert isinstance(event, NotificationSent) and event.ticket_id == ticket_id and event.text == HELLO.text
    assert (await journey.notifications.deliver_due()).sent == 0


async def test_texts_to_one_phone_stop_at_the_daily_cap_and_are_not_retried(
    db: Database, journey: Journey, journey_hall: JourneyHall, clock: FakeClock, hall_queue: QueueService
) -> None:
    """SMS pumping: whoever can get tickets or notices made for a number must not turn the hall into a spammer."""
    ticket_id, citizen_id = await citizen_with_phone(hall_queue)
    cap = journey.notifications.per_phone.max
    for n in range(cap + 2):
        await write(
            db, journey_hall, clock, f'notice-{n}', ticket_id=ticket_id, citizen_id=citizen_id, channels=['sms']
        )
    report = await journey.notifications.deliver_due()
    assert (report.sent, report.failed) == (cap, 2)
    assert len(journey.sms.sent) == cap
    capped = [r for r in await rows(db) if r.status == 'failed']
    assert [r.last_error for r in capped] == ['capped: sms_capped'] * 2
    clock.advance(60 * 3)
    assert (await journey.notifications.deliver_due()).sent == 0, 'a capped text is not sent later either'


async def test_a_failed_send_is_retried_with_backoff_and_its_error_stays_visible(
    db: Database, journey: Journey, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    flaky = FlakyChannel(failures=2)
    journey.notifications.channels['flaky'] = flaky
    await write(db, journey_hall, clock, 'retry', channels=('flaky',))

    assert (await journey.notifications.deliver_due()).retried == 1
    [row] = await rows(db)
    assert (row.status, row.attempts, row.last_error) == ('pending', 1, 'ChannelError: gateway timeout')
    assert row.next_attempt_at == clock() + notifications.backoff(1)
    assert [r.id for r in await journey.notifications.problems()] == [row.id]
    assert (await journey.notifications.deliver_due()).retried == 0, 'not before its backoff has passed'

    clock.advance(0.5)
    await journey.notifications.deliver_due()
    [row] = await rows(db)
    assert row.attempts == 2 and row.next_attempt_at == clock() + notifications.backoff(2)
    assert notifications.backoff(2) == 2 * notifications.backoff(1)
    clock.advance(1)
    assert (await journey.notifications.deliver_due()).sent == 1
    [row] = await rows(db)
    assert (row.status, row.attempts, row.last_error) == ('sent', 3, '')
    assert flaky.delivered == ['retry:flaky'] and await journey.notifications.problems() == []


async def test_after_the_last_attempt_a_notice_stays_failed(
    db: Database, journey: Journey, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    journey.notifications.channels['flaky'] = FlakyChannel(failures=100)
    await write(db, journey_hall, clock, 'doomed', channels=('flaky',))
    for _ in range(notifications.MAX_ATTEMPTS):
        await journey.notifications.deliver_due()
        clock.advance(61)
    [row] = await rows(db)
    assert (row.status, row.attempts) == ('failed', notifications.MAX_ATTEMPTS)
    assert (await journey.notifications.deliver_due()).failed == 0, 'a failed notice is not tried again'
    assert [r.status for r in await journey.notifications.problems()] == ['failed']


async def test_a_job_retried_after_crashing_between_send_and_commit_does_not_send_twice(
    db: Database,
    journey: Journey,
    journey_hall: JourneyHall,
    clock: FakeClock,
    hall_queue: QueueService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticket_id, citizen_id = await citizen_with_phone(hall_queue)
    await write(db, journey_hall, clock, 'once', ticket_id=ticket_id, citizen_id=citizen_id, channels=('sms',))
    service = journey.notifications
    finish = service._finish

    async def crash(*_: object, **__: object) -> str:
        raise RuntimeError('worker killed after sending')

    monkeypatch.setattr(service, '_finish', crash)
    with pytest.raises(RuntimeError):
        await deliver_notifications({'journey': journey})
    [row] = await rows(db)
    assert row.status == 'sending' and len(journey.sms.sent) == 1

    monkeypatch.setattr(service, '_finish', finish)
    assert await deliver_notifications({'journey': journey}) == 0, 'the lease holds the row while it may be sending'
    clock.advance(notifications.LEASE.total_seconds() / 60 + 1)
    assert await deliver_notifications({'journey': journey}) == 1
    assert await deliver_notifications({'journey': journey}) == 0
    [row] = await rows(db)
    assert row.status == 'sent'
    assert len(journey.sms.sent) == 1, 'the gateway saw the same key again and did not send it twice'
    assert journey.sms.path is not None and len(journey.sms.path.read_text(encoding='utf-8').splitlines()) == 1


async def test_the_in_process_runner_delivers_when_kicked(
    db: Database, journey: Journey, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    runner = LocalJobs({'journey': journey}, periodic=(Periodic(deliver_notifications, 3600),))
    journey.notifications.waker = lambda: runner.kick('deliver_notifications')
    await runner.start()
    try:
        await write(db, journey_hall, clock, 'kicked')
        journey.notifications.kick()
        for _ in range(100):  # the runner works on its own task: wait for it, generously
            if [r.status for r in await rows(db)] == ['sent']:
                break
            await asyncio.sleep(0.05)
        assert [r.status for r in await rows(db)] == ['sent']
    finally:
        await runner.stop()


async def until_connected(jobs: ArqJobs) -> None:
    """`start()` never waits for Redis, and an enqueue before the pool is up is left to the next cron round."""
    async with asyncio.timeout(10):
        while jobs.pool is None:
            await asyncio.sleep(0.02)


@pytest.mark.parametrize('db', ['sqlite'], indirect=True)
async def test_arq_runs_the_delivery_job_against_redis(
    db: Database, journey: Journey, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    queue_name = f'halltwin:test:{uuid.uuid4().hex[:8]}'
    jobs = ArqJobs(
        {'journey': journey}, 'redis://127.0.0.1:6379/0', hall_code='main', queue_name=queue_name, run_worker=False
    )
    await jobs.start()
    await until_connected(jobs)
    worker = Worker(
        functions=FUNCTIONS,  # type: ignore[arg-type]
        redis_settings=RedisSettings.from_dsn('redis://127.0.0.1:6379/0'),
        queue_name=queue_name,
        ctx={'journey': journey},
        burst=True,
        handle_signals=False,
        keep_result=0,
        poll_delay=0.05,
    )
    try:
        await write(db, journey_hall, clock, 'via-arq')
        await jobs.enqueue('deliver_notifications')
        await jobs.enqueue('deliver_notifications')  # a duplicate job finds nothing left to send
        await worker.main()
        assert worker.jobs_complete == 2 and worker.jobs_failed == 0
        assert [r.status for r in await rows(db)] == ['sent']
    finally:
        await worker.close()
        await jobs.stop()


@contextlib.asynccontextmanager
async def queue_notices(hall_queue: QueueService, journey: Journey) -> AsyncIterator[QueueNotices]:
    """Queue notices following the hall's live queue while the block runs."""
    notices = QueueNotices(hall_queue.deps, await hall_queue.start_live(), journey.notifications)
    notices.attach()
    try:
        yield notices
    finally:
        notices.detach()


async def take_plain(hall_queue: QueueService, clock: FakeClock, count: int) -> None:
    """`count` plain tickets for SVC-C, a second apart."""
    for _ in range(count):
        await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
        clock.advance(1)


async def test_waiting_citizens_hear_when_three_are_ahead_and_where_to_go(
    db: Database,
    journey: Journey,
    journey_hall: JourneyHall,
    hall_queue: QueueService,
    bus: InProcessBus,
    clock: FakeClock,
) -> None:
    async with queue_notices(hall_queue, journey):
        await take_plain(hall_queue, clock, 6)
        await bus.drain()
        near = [r for r in await rows(db) if r.kind == 'queue_near']
        assert sorted(r.text for r in near) == [
            '您的C002号前面还有1人，请留意叫号',
            '您的C003号前面还有2人，请留意叫号',
            '您的C004号前面还有3人，请留意叫号',
        ]
        await hall_queue.call_next(journey_hall.small.window_4, caller=DESK)
        await bus.drain()
        texts = [r.text for r in await rows(db) if r.channel == 'push']
        assert '请C001号到4号窗口办理' in texts
        assert '您的C005号前面还有3人，请留意叫号' in texts
        assert texts.count('您的C004号前面还有3人，请留意叫号') == 1, 'each ticket is told once'
        clock.advance(0.5)  # a recall waits RECALL_INTERVAL_SECONDS after the call
        await hall_queue.recall(journey_hall.small.window_4, caller=DESK)
        await bus.drain()
        assert [r.text for r in await rows(db) if r.channel == 'push'].count('请C001号到4号窗口办理') == 2


async def test_a_queue_notice_is_pushed_by_its_own_commit_and_only_a_text_waits_for_the_delivery_job(
    db: Database, journey: Journey, hall_queue: QueueService, bus: InProcessBus, clock: FakeClock
) -> None:
    pushed: list[Event] = []
    bus.subscribe(pushed.append, NotificationSent)
    kicks: list[None] = []
    journey.notifications.waker = lambda: kicks.append(None)
    async with queue_notices(hall_queue, journey):
        await take_plain(hall_queue, clock, 2)
        await bus.drain()
        [near] = await rows(db)
        assert (near.kind, near.channel, near.status, near.attempts) == ('queue_near', 'push', 'sent', 1)
        assert near.sent_at == near.created_at, 'sent by the commit that wrote it'
        [event] = pushed
        assert isinstance(event, NotificationSent)
        assert (event.notification_id, event.ticket_id, event.text) == (near.id, near.ticket_id, near.text)
        assert kicks == [], 'nothing left for the delivery job: it is not woken'
        assert (await journey.notifications.deliver_due()).sent == 0, 'the job never sends a push copy again'

        await citizen_with_phone(hall_queue)  # third in line: its "near" notice goes by text too
        await bus.drain()
        texted = [r for r in await rows(db) if r.channel == 'sms']
        assert [r.status for r in texted] == ['pending'] and len(kicks) == 1
        assert (await journey.notifications.deliver_due()).sent == 1
        assert len(journey.sms.sent) == 1 and len(pushed) == 2


class Commits:
    """Counts the database's commits while it is entered: each is a durable write (an fsync on SQLite)."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.count = 0

    def _commit(self, *_: object) -> None:
        self.count += 1

    def __enter__(self) -> Commits:
        sqlalchemy.event.listen(self.engine, 'commit', self._commit)
        return self

    def __exit__(self, *_: object) -> None:
        sqlalchemy.event.remove(self.engine, 'commit', self._commit)


async def test_a_burst_of_queue_events_writes_its_notices_in_one_transaction_and_a_replay_writes_none(
    db: Database,
    journey: Journey,
    journey_hall: JourneyHall,
    hall_queue: QueueService,
    bus: InProcessBus,
    clock: FakeClock,
) -> None:
    live = await hall_queue.start_live()
    events: list[Event] = []
    bus.subscribe(events.append, TicketEventBase)
    for service in ('SVC-C', 'SVC-B') * 5:
        await hall_queue.take_ticket(TicketCreate(service_code=service), caller=DESK)
        clock.advance(1)
    for window in (journey_hall.small.window_4, journey_hall.small.window_2):
        await hall_queue.call_next(window, caller=DESK)
        await hall_queue.complete(window, caller=DESK)
        await hall_queue.call_next(window, caller=DESK)
    await bus.drain()
    notices = QueueNotices(hall_queue.deps, live, journey.notifications)
    notices.attach()
    try:
        with Commits(db) as commits:
            for event in events:  # as they queue up while a write is in flight
                bus.deliver(event)
            await bus.drain()
        assert (commits.count, notices.writes) == (1, 1), 'four calls and four near tickets: one transaction'
        assert sorted(r.dedupe_key.split(':')[0] for r in await rows(db)) == ['called'] * 4 + ['near'] * 4
        for event in events:
            bus.deliver(event)
        await bus.drain()
        assert notices.writes == 1, 'a replayed burst has nothing new to write'
    finally:
        notices.detach()
    restarted = QueueNotices(hall_queue.deps, live, journey.notifications)  # forgot whom it told
    restarted.attach()
    try:
        before = len(await rows(db))
        for event in events:
            bus.deliver(event)
        await bus.drain()
        assert len(await rows(db)) == before, 'dedupe keys: a replay after a restart writes nothing twice'
    finally:
        restarted.detach()


async def test_the_front_of_a_queue_is_read_off_its_sorted_runs_in_calling_order(
    journey_hall: JourneyHall, hall_queue: QueueService, clock: FakeClock
) -> None:
    live = await hall_queue.start_live()
    taken = []
    for _ in range(5):
        view = await hall_queue.take_ticket(TicketCreate(service_code='SVC-C'), caller=DESK)
        taken.append(view.ticket.id)
        clock.advance(1)
    service_id = next(sid for sid, waiting in live.waiting.items() if waiting)
    cap = dt.timedelta(minutes=20)
    assert live.front(service_id, 3, now=clock(), cap=cap) == taken[:3]
    assert live.front(service_id, 9, now=clock(), cap=cap) == taken
    now = clock()
    by_order = sorted(live.waiting[service_id].values(), key=lambda c: order_key(c, now=now, cap=cap))
    assert live.front(service_id, 4, now=now, cap=cap) == [c.ticket_id for c in by_order[:4]]


async def test_a_delivered_batch_costs_two_commits_whatever_its_size(
    db: Database, journey: Journey, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    for n in range(8):
        await write(db, journey_hall, clock, f'batch-{n}')
    flaky = FlakyChannel(failures=1)
    journey.notifications.channels['push'] = flaky
    with Commits(db) as commits:
        report = await journey.notifications.deliver_due()
    assert (report.sent, report.retried, commits.count) == (7, 1, 2), 'one claim, one finish for the whole batch'
    statuses = sorted(r.status for r in await rows(db))
    assert statuses == ['pending'] + ['sent'] * 7
    assert (await journey.notifications.deliver_due()).sent == 0, 'sent rows are not sent again'


@pytest.mark.parametrize('db', ['sqlite'], indirect=True)
async def test_with_redis_the_app_runs_an_arq_worker_in_process_and_kicks_reach_it(
    db: Database, journey: Journey, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    jobs = ArqJobs(
        {'journey': journey},
        'redis://127.0.0.1:6379/0',
        hall_code='main',
        queue_name=f'halltwin:test:{uuid.uuid4().hex[:8]}',
    )
    journey.notifications.waker = lambda: jobs.kick('deliver_notifications')
    await jobs.start()
    await until_connected(jobs)
    try:
        await write(db, journey_hall, clock, 'kicked-to-arq')
        journey.notifications.kick()
        journey.notifications.kick()  # coalesced with the first
        for _ in range(200):  # the worker polls Redis on its own task: wait for it, generously
            if [r.status for r in await rows(db)] == ['sent']:
                break
            await asyncio.sleep(0.05)
        assert [r.status for r in await rows(db)] == ['sent']
    finally:
        await jobs.stop()
