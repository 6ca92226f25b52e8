"""Background jobs: notification delivery, the SLA sweep, booking no-shows and reminders, the comfort prompt,
the end of staffing moves, audit anchors and data retention, on arq when REDIS_URL is set, in-process otherwise.

The job functions are the same either way (arq's `ctx` dict carries the services). Without Redis,
one app-level asyncio task runs them periodically and on `kick` (never one task per client). With
Redis, the composition root enqueues to arq and runs an arq worker inside the app process; more
workers can run beside it, each kept running across Redis restarts (`run_worker_process`):

    python -m app.jobs                 (HALL_CODE=district python -m app.jobs: the district hall's worker)

A separate worker publishes its events (SlaAtRisk, NotificationSent) on its own bus: pages in the
app see them only once the bus itself runs over Redis (app/bus.py's RedisBus).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arq import Worker, create_pool, cron
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import RedisError

from app import tasks
from app.backup import scheduled_backup
from app.bus_redis import RETRY_SECONDS, STOP_SECONDS, RedisBus, hall_stream
from app.db import Database
from app.security.keys import Purpose
from app.services.audit_anchors import AuditAnchors
from app.services.booking_reminders import BookingReminders
from app.services.deps import build_deps
from app.services.face_enrolment import FaceEnrolmentService
from app.services.forecast import ForecastService
from app.services.guide import BestTimes
from app.services.hall_rules import HallRulesService
from app.services.halls import hall_to_serve
from app.services.journey import Journey, build_journey
from app.services.monthly_report import MonthlyReportService
from app.services.principal import Principal
from app.services.queue import QueueService
from app.services.queue_notices import QueueNotices
from app.services.remote_queue import RemoteQueue
from app.services.retention import RetentionService
from app.services.staffing import StaffingService
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)

QUEUE = 'halltwin:jobs'
DEFAULT_WORKER_REDIS_URL = 'redis://127.0.0.1:6379'  # python -m app.jobs without REDIS_URL
KICK_DELAY = 0.2
FINISH_SECONDS = 10.0  # at stop, how long running jobs get to finish before arq cancels them


def _journey(ctx: dict[str, Any]) -> Journey:
    journey = ctx['journey']
    assert isinstance(journey, Journey)
    return journey


async def deliver_notifications(ctx: dict[str, Any]) -> int:
    """Send every due outbox row (and retry the failed ones whose backoff has passed)."""
    return (await _journey(ctx).notifications.deliver_due()).sent


async def email_delivery_report(ctx: dict[str, Any]) -> int:
    """Hourly; at 07:00 hall time it emails REPORT_EMAIL the past day's message deliveries."""
    return await _journey(ctx).notifications.email_daily_report()


async def sweep_sla(ctx: dict[str, Any]) -> int:
    """Warn about case nodes close to or past their deadline (SlaAtRisk to the twin)."""
    return len(await _journey(ctx).cases.sla_sweep())


async def mark_no_shows(ctx: dict[str, Any]) -> int:
    """Bookings not checked in after their slot (and grace) are missed; repeated misses block booking a while."""
    return await _journey(ctx).bookings.mark_missed()


async def come_now(ctx: dict[str, Any]) -> int:
    """Text remote tickets whose wait is down to the travel time: "please come now" (once per ticket)."""
    remote = ctx['remote']
    assert isinstance(remote, RemoteQueue)
    return (await remote.sweep_come_now()).sent


async def end_staffing_moves(ctx: dict[str, Any]) -> int:
    """Give windows back their services when a staffing move's end hour has come (one job for all processes)."""
    staffing = ctx['staffing']
    assert isinstance(staffing, StaffingService)
    return await staffing.end_due()


async def comfort_long_waits(ctx: dict[str, Any]) -> int:
    """Push the hall's comfort prompt to the pages of tickets that have waited past 30 minutes (once each)."""
    return await _journey(ctx).comfort.sweep()


async def remind_bookings(ctx: dict[str, Any]) -> int:
    """Remind tomorrow's bookings (once each, in the daytime), offering a quieter slot when theirs is a peak."""
    reminders = ctx['reminders']
    assert isinstance(reminders, BookingReminders)
    return await reminders.sweep()


async def anchor_audit(ctx: dict[str, Any]) -> int:
    """Sign the audit chain's head to the anchor file (and Redis) when it moved: a cut tail then shows."""
    anchors = ctx['anchors']
    assert isinstance(anchors, AuditAnchors)
    return 0 if await anchors.anchor_if_moved() is None else 1


async def expire_face_visits(ctx: dict[str, Any]) -> int:
    """Delete the 刷脸 templates given 本次 (this visit only) on a day that has ended."""
    faces = ctx['faces']
    assert isinstance(faces, FaceEnrolmentService)
    return await faces.expire_visits(Principal.system('face_expiry'))


async def monthly_report(ctx: dict[str, Any]) -> int:
    """From the 1st on, the previous month's monitoring report when it is missing (one per hall and month)."""
    reports = ctx['reports']
    assert isinstance(reports, MonthlyReportService)
    return await reports.generate_due()


async def enforce_retention(ctx: dict[str, Any]) -> int:
    """Daily: delete or anonymise what is past its retention period (app/services/retention.py), audited."""
    retention = ctx['retention']
    assert isinstance(retention, RetentionService)
    return sum((await retention.enforce(Principal.system('retention'))).values())


async def backup_database(ctx: dict[str, Any]) -> int:
    """A scheduled backup with retention and a second location (app/backup.py); a failure is logged, and the
    next round tries again."""
    settings = ctx['settings']
    assert isinstance(settings, Settings)
    target = await asyncio.to_thread(scheduled_backup, settings)
    log.info('backup written: %s', target)
    return 1


Job = Callable[[dict[str, Any]], Awaitable[int]]


@dataclass(frozen=True)
class Periodic:
    job: Job
    every_seconds: int
    first_after: int = 0  # seconds from start-up to the first round (a backup at every start is waste)
    city_wide: bool = False  # True: the job serves the whole shared database, so one round per tick for the city

    @property
    def name(self) -> str:
        return self.job.__name__

    def cron_name(self, hall_code: str) -> str:
        """arq's unique id of a tick is the cron name plus the time, shared by every worker on one Redis: a hall's
        job carries the hall's code (each hall runs its own round once), a city-wide one does not (once for all)."""
        return f'cron:{self.name}' if self.city_wide else f'cron:{hall_code}:{self.name}'


# Retention's first round without Redis: ten minutes after start-up, so a hall restarted every night still
# runs it, and a start-up (or a test's app) is not busy deleting while it comes up; then daily.
RETENTION_FIRST_AFTER = 600
# Several halls on one PostgreSQL and Redis: each hall's processes run its own jobs (the hall's queue, crons named
# with its code); the city-wide ones (delivery claims any hall's due rows, the one audit chain, consents, the
# backup of the one database) run once per tick across the city, in whichever hall's worker enqueues it first.
PERIODIC = (
    Periodic(deliver_notifications, 5, city_wide=True),
    Periodic(come_now, 30),
    Periodic(sweep_sla, 60),
    Periodic(comfort_long_waits, 30),
    Periodic(remind_bookings, 300),
    Periodic(mark_no_shows, 60),
    Periodic(end_staffing_moves, 30),
    Periodic(anchor_audit, 300, city_wide=True),
    Periodic(email_delivery_report, 3600),
    Periodic(expire_face_visits, 600, city_wide=True),
    Periodic(monthly_report, 3600),
    Periodic(enforce_retention, 86400, first_after=RETENTION_FIRST_AFTER),
)
FUNCTIONS = tuple(periodic.job for periodic in PERIODIC)


def app_periodic(settings: Settings) -> tuple[Periodic, ...]:
    """The app's periodic jobs: the fixed ones, and backups every BACKUP_EVERY_MINUTES unless it is 0."""
    if not settings.backup_every_minutes:
        return PERIODIC
    every = settings.backup_every_minutes * 60
    return (*PERIODIC, Periodic(backup_database, every, first_after=every, city_wide=True))


def hall_queue(hall_code: str) -> str:
    """A hall's arq queue: a kick from one hall's process is run by that hall's workers, never another's."""
    return f'{QUEUE}:{hall_code}'


def cron_jobs(hall_code: str, periodic: tuple[Periodic, ...] = PERIODIC) -> list[Any]:
    """The periodic jobs as arq cron jobs (`unique`: with several workers, each tick runs once; see `cron_name`)."""
    return [
        cron(p.job, name=p.cron_name(hall_code), **_schedule(p.every_seconds), unique=True)  # type: ignore[arg-type]
        for p in periodic
    ]


def _schedule(every: int) -> dict[str, Any]:
    """arq's cron fields for "every `every` seconds": seconds dividing a minute, whole minutes dividing an hour,
    or whole hours dividing a day (from midnight in the worker's time zone)."""
    if every < 60:
        return {'second': set(range(0, 60, every))}
    if every <= 3600:
        return {'second': 0, 'minute': set(range(0, 60, every // 60))}
    return {'second': 0, 'minute': 0, 'hour': set(range(0, 24, every // 3600))}


class JobRunner(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    def kick(self, name: str) -> None:
        """Run the named job soon (new outbox rows were committed), instead of at its next period."""


class LocalJobs(JobRunner):
    """No Redis: one asyncio task for the whole app runs each periodic job, and a kicked one KICK_DELAY later.

    The delay gathers a burst of kicks (every take near the front of a queue and every call writes notices) into
    one round: each delivery round claims and records in durable transactions of its own, so a round per kick
    cost more than the takes that caused them."""

    def __init__(self, ctx: dict[str, Any], periodic: tuple[Periodic, ...] = PERIODIC) -> None:
        self.ctx = ctx
        self.periodic = periodic
        self._kicked: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name='halltwin-jobs')

    async def stop(self) -> None:
        await tasks.stop(self._task)
        self._task = None

    def kick(self, name: str) -> None:
        if name in self._kicked:
            return  # already due in this round
        self._kicked.add(name)
        asyncio.get_running_loop().call_later(KICK_DELAY, self._wake.set)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        due = {p.name: loop.time() + p.first_after for p in self.periodic}
        while True:
            self._wake.clear()
            kicked, self._kicked = self._kicked, set()
            for p in self.periodic:
                if loop.time() >= due[p.name] or p.name in kicked:
                    await self._run(p)
                    due[p.name] = loop.time() + p.every_seconds
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(min(due.values())):
                    await self._wake.wait()

    async def _run(self, periodic: Periodic) -> None:
        try:
            await periodic.job(self.ctx)
        except Exception:  # a failing round is logged; the next round tries again
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # the job turned our stop into its own error: stop now
                raise asyncio.CancelledError from None
            log.exception('job %s failed', periodic.name)


def catch_up_once(worker: Worker) -> None:
    """arq's cron would enqueue every round missed during an outage, one per poll, in a burst; run only the last
    missed one (its unique id is the same in every worker, so it runs once across them too)."""
    now = datetime.now(tz=worker.timezone)
    for job in worker.cron_jobs:
        if job.next_run is None or job.next_run >= now:
            continue
        last = job.next_run
        while job.next_run < now:
            last = job.next_run
            job.calculate_next(job.next_run)
        job.next_run = last


async def _unless_cancelled(closing: Awaitable[None]) -> None:
    """Await `closing`; a job it cancelled (arq re-queues it) is not our own cancellation, which still propagates."""
    try:
        await closing
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


class ArqJobs(JobRunner):
    """REDIS_URL set: kicks enqueue arq jobs; an arq worker runs in this process (cron: periodic jobs)."""

    def __init__(
        self,
        ctx: dict[str, Any],
        redis_url: str,
        *,
        hall_code: str,
        queue_name: str | None = None,
        run_worker: bool = True,
        periodic: tuple[Periodic, ...] = PERIODIC,
    ) -> None:
        """`queue_name` defaults to the hall's own queue (`hall_queue`); tests give theirs."""
        self.ctx = ctx
        self.periodic = periodic
        self.settings = RedisSettings.from_dsn(redis_url)
        self.hall_code = hall_code
        self.queue_name = queue_name or hall_queue(hall_code)
        self.run_worker = run_worker
        self.pool: ArqRedis | None = None
        self.worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[str] = set()
        self.available = True

    async def start(self) -> None:
        """Never waits for Redis: connecting, and reconnecting after an outage, happen in the supervised task."""
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name='halltwin-arq')

    async def _supervise(self) -> None:
        """Keep the pool and the in-process worker alive across Redis outages. arq's worker loop ends at the first
        connection error; run it again once Redis answers. Its cron jobs keep their next run, so a round missed
        during the outage runs once when Redis is back (unique job ids: once across workers too)."""
        attempt = 0
        while True:
            try:
                if self.pool is None:
                    self.pool = await create_pool(self.settings, default_queue_name=self.queue_name, retry=0)
                await self.pool.ping()
                self._back()
                attempt = 0
                if not self.run_worker:
                    return
                if self.worker is None:
                    self.worker = self._new_worker()
                else:
                    catch_up_once(self.worker)
                await self.worker.main()
                return
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self._lost(error)
                await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
                attempt += 1

    def _new_worker(self) -> Worker:
        logging.getLogger('arq.worker').setLevel(logging.WARNING)  # not a line per job every 5 s in the app's log
        return Worker(
            functions=tuple(p.job for p in self.periodic),  # type: ignore[arg-type]
            cron_jobs=cron_jobs(self.hall_code, self.periodic),
            redis_settings=self.settings,
            queue_name=self.queue_name,
            ctx=self.ctx,
            handle_signals=False,
            keep_result=0,
            poll_delay=0.2,
            log_results=False,
        )

    def _lost(self, error: Exception) -> None:
        if self.available:
            self.available = False
            log.warning('jobs: Redis unreachable (%s); jobs wait and resume once it is back', error)

    def _back(self) -> None:
        if not self.available:
            self.available = True
            log.info('jobs: Redis reachable again')

    async def stop(self) -> None:
        """Stop taking jobs, let the running ones finish (up to FINISH_SECONDS), then close.

        arq's `close` cancels every job still running: a delivery cancelled between the provider's answer and
        marking its row sent would send that row again once its lease ends, so running jobs get time to end."""
        await tasks.stop(self._task)
        self._task = None
        if self.worker is not None:
            running = [job for job in self.worker.tasks.values() if not job.done()]
            if running:
                await asyncio.wait(running, timeout=FINISH_SECONDS)
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(STOP_SECONDS):
                    await _unless_cancelled(self.worker.close())
            self.worker = None
        if self.pool is not None:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(STOP_SECONDS):
                    await self.pool.aclose()
            self.pool = None

    def kick(self, name: str) -> None:
        """Coalesce a burst of kicks into one job (a case decision may write several notices)."""
        if name in self._pending:
            return
        self._pending.add(name)
        asyncio.get_running_loop().call_later(KICK_DELAY, self._enqueue_soon, name)

    def _enqueue_soon(self, name: str) -> None:
        self._pending.discard(name)
        if self.pool is not None:
            asyncio.get_running_loop().create_task(self.enqueue(name))

    async def enqueue(self, name: str) -> None:
        if self.pool is None:
            return  # Redis away since start-up: the cron round runs it once Redis is back
        try:
            await self.pool.enqueue_job(name, _queue_name=self.queue_name)
        except (RedisError, OSError) as error:  # Redis away: the cron round runs it once it is back
            self._lost(error)


# ---- the app's jobs (composition root) ------------------------------------------------------------


@dataclass
class AppJobs:
    """The app's running jobs: the runner (delivery, sweeps) and the queue notices, stopped together."""

    runner: JobRunner
    notices: QueueNotices | None

    async def stop(self) -> None:
        if self.notices is not None:
            self.notices.detach()
        await self.runner.stop()


async def start(journey: Journey, queue: QueueService, hall_code: str, best_times: BestTimes | None = None) -> AppJobs:
    """Start delivery and sweeps for the app's hall (`hall_code`), and the queue notices ("还有3人", "请到5号窗口").

    `best_times` is the process's shared BestTimes: reminders of bookings in a predicted peak offer a quieter slot."""
    settings = queue.settings
    ctx: dict[str, Any] = {
        'journey': journey,
        'anchors': _anchors(queue.db, settings),
        'settings': settings,
        'remote': RemoteQueue(queue.deps, queue),
        'staffing': StaffingService(queue.deps, queue, None),
        'reminders': BookingReminders(queue.deps, journey.bookings, best_times.of if best_times else None),
        'faces': FaceEnrolmentService(queue.deps),
        'reports': MonthlyReportService(queue.deps),
        'retention': RetentionService(queue.deps),
    }
    periodic = app_periodic(settings)
    runner: JobRunner = (
        ArqJobs(ctx, settings.redis_url, hall_code=hall_code, periodic=periodic)
        if settings.redis_url
        else LocalJobs(ctx, periodic)
    )
    journey.notifications.waker = lambda: runner.kick(deliver_notifications.__name__)
    await runner.start()
    notices = None
    if queue.live is not None:
        notices = QueueNotices(queue.deps, queue.live, journey.notifications)
        notices.attach()
    return AppJobs(runner, notices)


def _anchors(db: Database, settings: Settings) -> AuditAnchors:
    return AuditAnchors(db, path=settings.anchor_file, redis_url=settings.redis_url)


# ---- a separate worker: python -m app.jobs ------------------------------------------------------


async def worker_startup(ctx: dict[str, Any]) -> None:
    """The separate worker's own services for the hall HALL_CODE, in the ctx its jobs read (the app's are built by
    app/runtime.py); `ctx['hall_code']` names the hall whose queue it serves."""
    settings = get_settings()
    db = Database(settings.db_url, audit_key=settings.key(Purpose.AUDIT))
    ctx['db'] = db
    async with db.read_session() as s:
        hall = await hall_to_serve(s, settings.hall_code)
    assert hall.id is not None
    ctx['hall_code'] = hall.code
    # what the jobs publish reaches every app process of the hall (its stream, signed with the bus key, like theirs)
    bus = RedisBus(worker_redis_url(settings), key=settings.key(Purpose.BUS), stream=hall_stream(hall.code))
    await bus.start()
    deps = build_deps(settings, db, bus, hall_id=hall.id)
    ctx['bus'], ctx['limits'], ctx['anchors'] = bus, deps.limits, _anchors(db, settings)
    ctx['rules'] = HallRulesService(deps)
    await ctx['rules'].start()  # booking blocks and no-show sweeps follow the rules an admin saved
    ctx['journey'] = build_journey(deps)
    ctx['remote'] = RemoteQueue(deps, QueueService(deps))
    ctx['staffing'] = StaffingService(deps, QueueService(deps), None)
    best_times = BestTimes(deps, ForecastService(deps, prompts=hall.prompts))
    ctx['reminders'] = BookingReminders(deps, ctx['journey'].bookings, best_times.of)
    ctx['faces'] = FaceEnrolmentService(deps)
    ctx['reports'] = MonthlyReportService(deps)
    ctx['retention'] = RetentionService(deps)


async def worker_shutdown(ctx: dict[str, Any]) -> None:
    if 'rules' in ctx:
        await ctx['rules'].stop()
    if 'limits' in ctx:
        await ctx['limits'].close()
    if 'bus' in ctx:
        await ctx['bus'].stop()
    if 'db' in ctx:
        await ctx['db'].dispose()


def worker_redis_url(settings: Settings) -> str:
    return settings.redis_url or DEFAULT_WORKER_REDIS_URL


async def run_worker_process(stop: asyncio.Event) -> None:
    """`python -m app.jobs` until `stop` is set: the worker's services, and an arq worker kept running across
    Redis restarts by the same supervisor the app uses (`ArqJobs`): arq's own loop ends at the first connection
    error, the supervisor reconnects with backoff and runs it again, and a periodic round missed meanwhile runs
    once. Nothing is lost or doubled meanwhile: the outbox in the database holds every message until a delivery
    marks it sent, and a job is only a wake-up call for it."""
    ctx: dict[str, Any] = {}
    try:
        await worker_startup(ctx)
        runner = ArqJobs(ctx, worker_redis_url(get_settings()), hall_code=ctx['hall_code'])
        await runner.start()
        try:
            await stop.wait()
        finally:
            await runner.stop()
    finally:
        await worker_shutdown(ctx)


async def _serve() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker_process(stop)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    asyncio.run(_serve())


if __name__ == '__main__':
    main()
