"""The service guide (办事指南) a citizen reads before coming: catalogue, checklist, 流程模拟 and the best time.

Every part reuses the rule that already decides it elsewhere, so the phone tells what the hall does:
the checklist is `materials.checklist` (the kiosk's), the steps are the service's workflow as cases run
it (`workflow.parse_workflow` / `default_workflow`, deadlines as `workflow.node_due` reads them), the
expected wait per hour is the staffing model's Erlang C outlook (`staffing.outlook`) fed with the
forecast's arrivals, and today's live wait is the live queue's estimate for a number taken now (the
kiosk's and /track's). No login: nothing here is personal, and answers are never stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlmodel import select
from sqlmodel.sql.expression import Select

from app.db import Database
from app.models.hall import Department, ServiceItem, Window, WindowService
from app.services import materials, workflow
from app.services.booking_slots import day_slots
from app.services.deps import Deps
from app.services.errors import Invalid, NotFound
from app.services.forecast import ForecastModel, ForecastService
from app.services.hall_hours import HOURS, is_open, is_working_day, local_moment
from app.services.live_queue import LiveQueue
from app.services.staffing import QueueDemand, WindowPlan, outlook
from app.services.uow import Service
from app.services.window_hours import OpeningPeriod, periods_of

MAX_QUERY_CHARS = 64  # longer than any service name; a longer search is a mistake or an attack
GUIDE_DAYS = 7  # "best time to come" covers today and the next six days (closed days left out)
QUIET_PER_DAY = 2  # the quietest hours of each open day are offered for booking


# ---- catalogue --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentName:
    code: str
    name: str
    name_en: str


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    name: str
    name_en: str
    description: str
    department: DepartmentName
    terms: str = ''  # what its questions ask and offer ("二手房"): found by search, never listed


@dataclass(frozen=True)
class DepartmentGroup:
    department: DepartmentName
    services: tuple[CatalogueEntry, ...]


def _with_department() -> Select[tuple[ServiceItem, Department]]:
    return select(ServiceItem, Department).join(Department, Department.id == ServiceItem.department_id)


async def read_catalogue(db: Database) -> list[tuple[ServiceItem, Department]]:
    """Every service with its department, by department then code, read afresh on each call.

    The one catalogue read: /guide lists and searches it, the assistant indexes it, so both name the same
    services in the same order.
    """
    async with db.read_session() as s:
        return [
            (service, department)
            for service, department in await s.execute(_with_department().order_by(Department.id, ServiceItem.code))
        ]


def search(entries: Sequence[CatalogueEntry], query: str) -> list[CatalogueEntry]:
    """Entries containing every word of the query in their name (zh/en), code, description or questions.

    Substring matching works for Chinese without a word splitter ("过户" finds "把房子过户到…", "二手房"
    the transfer service whose question offers it); entries whose names carry more of the words come
    first, the catalogue's order breaks ties. An empty query lists everything.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise Invalid('guide_query_too_long', limit=MAX_QUERY_CHARS)
    words = query.casefold().split()
    ranked: list[tuple[int, int, CatalogueEntry]] = []
    for order, entry in enumerate(entries):
        names = ' '.join((entry.name, entry.name_en, entry.code)).casefold()
        text = f'{entry.description} {entry.terms}'.casefold()
        if all(word in names or word in text for word in words):
            ranked.append((sum(1 for word in words if word not in names), order, entry))
    ranked.sort(key=lambda item: item[:2])
    return [entry for _, _, entry in ranked]


def by_department(entries: Iterable[CatalogueEntry]) -> list[DepartmentGroup]:
    """The catalogue as departments, each with its services, in catalogue order."""
    groups: dict[str, list[CatalogueEntry]] = {}
    names: dict[str, DepartmentName] = {}
    for entry in entries:
        groups.setdefault(entry.department.code, []).append(entry)
        names[entry.department.code] = entry.department
    return [DepartmentGroup(names[code], tuple(items)) for code, items in groups.items()]


# ---- 流程模拟: the workflow as steps ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str  # workflow.NodeKind
    name: str
    department: DepartmentName
    sla_days: int | None  # working days (N个工作日), or
    sla_hours: float | None  # working hours; both None: no deadline of its own (受理, 办结, 制证)
    instant: bool  # 秒批: a rule can approve it at once
    instant_rule: str  # what the rule checks, in the seed's words
    zero_materials: bool  # 零材料 (on 受理): everything to bring can come from department data instead
    certificate: str | None


@dataclass(frozen=True)
class Stage:
    number: int
    steps: tuple[Step, ...]

    @property
    def parallel(self) -> bool:
        """Several departments work on this stage at the same time (并联审批)."""
        return len(self.steps) > 1


def exempt_materials(service: materials.HasMaterials) -> set[str]:
    """Names of materials a department's data can stand in for, with the citizen's consent (零材料)."""
    return {str(m.get('name', '')) for m in service.materials or [] if m.get('source')}


def steps(
    service: ServiceItem,
    departments: Mapping[str, DepartmentName],
    own: DepartmentName,
    checklist: materials.Checklist,
) -> list[Stage]:
    """The service's workflow in stage order, as a case runs it, with deadlines and 秒批/零材料 flags.

    A 秒批 rule counts as long as the answers given do not rule it out; 零材料 holds when every item of
    this checklist can be replaced by department data.
    """
    nodes = (
        workflow.parse_workflow(service.workflow)
        if service.workflow
        else workflow.default_workflow(service.name, service.sla_days)
    )
    exempt = exempt_materials(service)
    zero = bool(checklist.items) and all(item.name in exempt for item in checklist.items)
    stages: dict[int, list[Step]] = {}
    for node in nodes:
        timed = node.kind not in workflow.SYSTEM_KINDS and node.kind != 'accept'
        auto = node.auto
        instant = auto is not None and all(
            checklist.answers.get(code, value) == value for code, value in auto.answers.items()
        )
        stages.setdefault(node.stage, []).append(
            Step(
                kind=node.kind,
                name=node.name,
                department=departments.get(node.department or '', own),
                sla_days=node.sla_days if timed else None,
                sla_hours=(node.sla_hours or workflow.DEFAULT_SLA_HOURS) if timed and node.sla_days is None else None,
                instant=instant,
                instant_rule=auto.description if auto is not None and instant else '',
                zero_materials=zero and node.kind == 'accept',
                certificate=node.certificate,
            )
        )
    return [Stage(number, tuple(items)) for number, items in sorted(stages.items())]


# ---- best time to come -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HourWait:
    start: dt.datetime  # the hour's start, UTC
    arrivals: float  # the forecast's expected arrivals of this service in the hour
    wait_minutes: float  # expected wait before a window calls (capped at staffing.MAX_WAIT)
    quiet: bool  # one of the day's quietest hours
    book_at: dt.datetime | None = None  # its first booking slot not yet begun, as read (None: none left to book)


@dataclass(frozen=True)
class DayWaits:
    day: dt.date
    hours: tuple[HourWait, ...]


@dataclass(frozen=True)
class Handling:
    """What the wait model needs of a service."""

    service_id: int
    code: str
    name: str
    minutes: float


def hour_waits(
    model: ForecastModel, windows: Sequence[WindowPlan], services: Sequence[Handling], day: dt.date, hour: int
) -> dict[int, tuple[float, float]]:
    """(expected arrivals, expected wait) per service in one hour, all windows open as configured.

    Windows are shared between services, so every service's forecast load goes into one outlook.
    """
    demand = {
        s.service_id: QueueDemand(s.service_id, s.code, s.name, model.predict(s.service_id, day, hour), s.minutes)
        for s in services
    }
    return {sid: (demand[sid].arrivals_per_hour, view.wait_minutes) for sid, view in outlook(windows, demand).items()}


def week_waits(
    model: ForecastModel,
    windows: Sequence[WindowPlan],
    services: Sequence[Handling],
    now: dt.datetime,
    tz: ZoneInfo,
    *,
    days: int = GUIDE_DAYS,
) -> dict[int, list[DayWaits]]:
    """For each service, the expected wait per opening hour over the coming days: closed days and hours
    already over are left out; each day's quietest hours are marked."""
    local = now.astimezone(tz)
    table: dict[int, list[DayWaits]] = {s.service_id: [] for s in services}
    for offset in range(days):
        day = local.date() + dt.timedelta(days=offset)
        if not is_working_day(day):
            continue
        hours = [h for h in HOURS if (day, h) >= (local.date(), local.hour)]
        per_hour = {h: hour_waits(model, windows, services, day, h) for h in hours}
        for s in services:
            points = [(h, *per_hour[h][s.service_id]) for h in hours if s.service_id in per_hour[h]]
            quiet = {h for h, _, _ in sorted(points, key=lambda p: (p[2], p[1], p[0]))[:QUIET_PER_DAY]}
            if points:
                table[s.service_id].append(
                    DayWaits(
                        day,
                        tuple(
                            HourWait(local_moment(day, h, tz), round(n, 1), round(wait, 1), h in quiet)
                            for h, n, wait in points
                        ),
                    )
                )
    return table


def bookable(days: Iterable[DayWaits], now: dt.datetime, tz: ZoneInfo, slot_minutes: int) -> tuple[DayWaits, ...]:
    """Each hour with the first booking slot of it that has not begun: the table is kept for the hour while the
    clock moves on, and booking takes only a slot still ahead (an hour under way books from its next slot)."""
    hour = dt.timedelta(hours=1)
    shown = []
    for day in days:
        starts = [start for start, _ in day_slots(day.day, tz, slot_minutes) if start > now]
        hours = tuple(
            replace(waits, book_at=next((s for s in starts if waits.start <= s < waits.start + hour), None))
            for waits in day.hours
        )
        shown.append(DayWaits(day.day, hours))
    return tuple(shown)


class BestTimes:
    """The week's expected waits of every service, computed once per hall hour and shared by every reader.

    A forecast fit and 70 hourly outlooks are too costly per page; the composition root builds the one
    instance of a process (no module global), so tests get a fresh one with their own clock.
    """

    def __init__(self, deps: Deps, forecast: ForecastService) -> None:
        self.db = deps.db
        self.forecast = forecast
        self.hall_id = deps.hall_id
        self.tz = deps.settings.tz
        self.clock = deps.clock
        self._key: tuple[dt.date, int] | None = None
        self._table: dict[int, list[DayWaits]] = {}
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        """The hall's configuration changed (windows, services, handling times): recompute at the next read."""
        self._key = None

    async def of(self, service_id: int) -> list[DayWaits]:
        """The coming days' waits of one service (recomputed when the hall's hour has moved on)."""
        now = self.clock()
        local = now.astimezone(self.tz)
        key = (local.date(), local.hour)
        async with self._lock:
            if self._key != key:
                model = await self.forecast.model()
                windows, services = await self._hall()
                self._table = await asyncio.to_thread(week_waits, model, windows, services, now, self.tz)
                self._key = key
        return self._table.get(service_id, [])

    async def _hall(self) -> tuple[list[WindowPlan], list[Handling]]:
        """Every window of the hall with what it serves (a future day may open any of them), and the services."""
        async with self.db.read_session() as s:
            rows = (
                await s.execute(
                    select(Window, WindowService)
                    .join(WindowService, WindowService.window_id == Window.id)
                    .where(Window.hall_id == self.hall_id)
                )
            ).all()
            services = list((await s.execute(select(ServiceItem).order_by(ServiceItem.code))).scalars())
        served: dict[int, dict[int, int]] = {}
        named: dict[int, Window] = {}
        for window, link in rows:
            served.setdefault(link.window_id, {})[link.service_id] = link.priority
            named[link.window_id] = window
        plans = [WindowPlan(wid, named[wid].number, named[wid].name, tiers) for wid, tiers in served.items()]
        handling = [Handling(sv.id, sv.code, sv.name, sv.avg_handling_minutes) for sv in services if sv.id is not None]
        return plans, handling


# ---- the service -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServingWindow:
    """A window that serves the service, with its own opening periods (none: the hall's hours)."""

    number: int
    name: str
    hours: tuple[OpeningPeriod, ...]


@dataclass(frozen=True)
class Guide:
    service_id: int
    entry: CatalogueEntry
    questions: tuple[materials.Question, ...]
    checklist: materials.Checklist
    exempt: frozenset[str]  # checklist names that department data can replace (零材料, with consent)
    stages: tuple[Stage, ...]
    hall_open: bool  # the hall issues numbers now (a working day, opening hours)
    live_wait_minutes: float | None  # a number taken now (None: closed, or no window serves it now)
    windows: tuple[ServingWindow, ...]  # where it is handled, by window number


class GuideService(Service):
    """Reads for /guide and the guide API: anyone may call them, nothing is written."""

    def __init__(
        self, deps: Deps, *, live: Callable[[], LiveQueue | None], best_times: BestTimes | None = None
    ) -> None:
        super().__init__(deps)
        self.live = live
        self.tz = deps.settings.tz
        self.best_times = best_times

    async def catalogue(self) -> list[CatalogueEntry]:
        """Every service, by department then code."""
        return [_entry(service, department) for service, department in await read_catalogue(self.db)]

    async def search(self, query: str) -> list[CatalogueEntry]:
        return search(await self.catalogue(), query.strip())

    async def departments(self) -> list[DepartmentGroup]:
        return by_department(await self.catalogue())

    async def guide(self, code: str, answers: Mapping[str, str] | None = None) -> Guide:
        """Everything about one service; `answers` personalise the checklist and the 秒批/零材料 flags."""
        given = dict(answers or {})
        if any(len(key) > MAX_QUERY_CHARS or len(value) > MAX_QUERY_CHARS for key, value in given.items()):
            raise Invalid('guide_answer_too_long', limit=MAX_QUERY_CHARS)
        async with self.db.read_session() as s:
            row = (await s.execute(_with_department().where(ServiceItem.code == code))).one_or_none()
            if row is None:
                raise NotFound('unknown_service', text='unknown_service.code', code_value=code[:40])
            departments = {d.code: _department(d) for d in (await s.execute(select(Department))).scalars()}
            serving = (
                await s.execute(
                    select(Window)
                    .join(WindowService, WindowService.window_id == Window.id)
                    .where(WindowService.service_id == row[0].id, Window.hall_id == self.hall_id)
                    .order_by(Window.number)
                )
            ).scalars()
            windows = tuple(ServingWindow(w.number, w.name, tuple(periods_of(w.hours))) for w in serving)
        service, department = row
        checklist = materials.checklist(service, given)
        entry = _entry(service, department)
        return Guide(
            service_id=service.id or 0,
            entry=entry,
            questions=tuple(materials.questions(service)),
            checklist=checklist,
            exempt=frozenset(exempt_materials(service)),
            stages=tuple(steps(service, departments, entry.department, checklist)),
            hall_open=is_open(self.clock(), self.tz),
            live_wait_minutes=self._live_wait(service.id or 0),
            windows=windows,
        )

    async def expected_waits(self, service_id: int) -> tuple[DayWaits, ...]:
        """The coming days' expected waits per opening hour, quietest marked. Apart from `guide` because the
        first read of a hall hour fits the forecast (seconds on a year of history): a page draws without it."""
        days = await self.best_times.of(service_id) if self.best_times else []
        return bookable(days, self.clock(), self.tz, self.settings.booking_slot_minutes)

    def _live_wait(self, service_id: int) -> float | None:
        """The wait of a number taken now, as the kiosk and /track estimate it (none while the hall is closed)."""
        live = self.live()
        if live is None or not is_open(self.clock(), self.tz):
            return None
        estimate = live.estimate(service_id, live.waiting_count(service_id))
        return None if estimate is None else round(estimate.minutes, 1)


def _department(department: Department) -> DepartmentName:
    return DepartmentName(department.code, department.name, department.name_en)


def _entry(service: ServiceItem, department: Department) -> CatalogueEntry:
    words = [
        word
        for q in materials.questions(service)
        for word in (q.text, q.text_en, *(label for o in q.options for label in (o.label, o.label_en)))
    ]
    return CatalogueEntry(
        service.code, service.name, service.name_en, service.description, _department(department), ' '.join(words)
    )
