"""One service's guide on a phone: description, the questions that personalise the checklist, the steps
(流程模拟), when it is quiet, and the ways on (book a quiet slot, take a number remotely).

Answers live in this page only; each change asks the guide service again (checklist and 秒批/零材料
flags follow the answers) and redraws those two sections. The best-time table is drawn once, after the rest
of the page (it is the same for every answer, and the first read of a hall hour fits the forecast: seconds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services import guide, materials
from app.services.errors import DomainError
from app.services.hall_hours import CLOSE_HOUR, HOURS, OPEN_HOUR
from app.services.staffing import MAX_WAIT
from components import guide_texts as _texts  # noqa: F401 - registers the texts
from components.hours_texts import hours_text
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import WEEKDAYS, error_text, t

# Wait (minutes, upper bound) -> cell colour: the lighter, the quieter.
SHADES = ((5, 'bg-green-1'), (15, 'bg-green-3'), (30, 'bg-amber-3'), (60, 'bg-orange-4'), (MAX_WAIT, 'bg-red-4'))


def book_path(code: str, start: dt.datetime) -> str:
    """Where the booking page takes a slot: the slot's start as ISO 8601 in UTC."""
    iso = start.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')
    return f'/book/{quote(code, safe="")}?start={quote(iso, safe="")}'


def shade(wait: float) -> str:
    return next((css for limit, css in SHADES if wait < limit), SHADES[-1][1])


def deadline(step: guide.Step) -> str:
    if step.sla_days is not None:
        return t('guide.days', n=step.sla_days) if step.sla_days else t('guide.days.same')
    if step.sla_hours is not None:
        hours = int(step.sla_hours) if float(step.sla_hours).is_integer() else step.sla_hours
        return t('guide.hours', n=hours)
    return ''


class GuideScreen:
    def __init__(
        self, service: guide.GuideService, shown: guide.Guide, *, tz: ZoneInfo, problem: DomainError | None = None
    ) -> None:
        self.service = service
        self.shown = shown
        self.tz = tz
        self.problem = problem  # answers from the link that were refused: said once, then ignored
        self.answers: dict[str, str] = dict(shown.checklist.answers)

    def build(self) -> None:
        entry = self.shown.entry
        with ui.row().classes('w-full items-center justify-between gap-2'):
            tid(ui.link(t('guide.back'), '/guide'), 'guide-back').classes('text-sm')
            tid(ui.link(t('guide.remote'), '/me'), 'guide-remote').classes('text-sm')
            self.print_link = tid(ui.link(t('guide.print'), self._print_path(), new_tab=True), 'guide-print')
            self.print_link.classes('text-sm')
        with ui.column().classes('w-full gap-1'):
            tid(ui.label(pick(entry.name, entry.name_en)), 'guide-name').classes('text-xl font-bold leading-tight')
            ui.label(pick(entry.department.name, entry.department.name_en)).classes('text-sm text-grey-7')
            if entry.description:
                tid(ui.label(entry.description), 'guide-description').classes('text-base')
        self._live()
        self._windows()
        if self.problem is not None:
            tid(ui.label(error_text(self.problem)), 'guide-error').classes('text-negative')
        self._questions()
        self.personal = ui.column().classes('w-full gap-3')
        self._draw_personal()
        with tid(ui.card(), 'guide-best').classes('w-full p-3 gap-2 no-shadow border'):
            ui.label(t('guide.best')).classes('text-lg font-bold')
            self.best = ui.column().classes('w-full gap-2')
            with self.best:
                tid(ui.label(t('guide.best.loading')), 'guide-best-loading').classes('text-grey-7')
        ui.timer(0, self._fill_best_times, once=True)

    def _live(self) -> None:
        wait = self.shown.live_wait_minutes
        if not self.shown.hall_open:
            text = t('guide.live.closed', open=OPEN_HOUR, close=CLOSE_HOUR)
        elif wait is None:
            text = t('guide.live.none')
        elif wait < 1:
            text = t('guide.live.now')
        else:
            text = t('guide.live', n=round(wait))
        with ui.row().classes('w-full items-center gap-2 no-wrap bg-blue-1 rounded p-2'):
            ui.icon('schedule').classes('text-primary text-xl')
            tid(ui.label(text), 'guide-live').classes('text-base')

    def _windows(self) -> None:
        """Where the service is handled, and when each window is open (its own hours, or the hall's)."""
        if not self.shown.windows:
            return
        with tid(ui.card(), 'guide-windows').classes('w-full p-3 gap-1 no-shadow border'):
            ui.label(t('guide.windows')).classes('font-bold')
            for window in self.shown.windows:
                with tid(ui.row(), f'guide-window-{window.number}').classes('w-full gap-x-3 gap-y-0 items-baseline'):
                    ui.label(window.name).classes('text-base')
                    ui.label(hours_text(window.hours)).classes('text-sm text-grey-8')

    def _questions(self) -> None:
        if not self.shown.questions:
            return
        with tid(ui.card(), 'guide-questions').classes('w-full p-3 gap-2 no-shadow border'):
            ui.label(t('guide.questions')).classes('font-bold')
            for question in self.shown.questions:
                ui.label(pick(question.text, question.text_en))
                options = {o.value: pick(o.label, o.label_en) for o in question.options}
                radio = tid(
                    ui.radio(options, value=self.answers.get(question.code)),
                    f'guide-answer-{question.code}',
                ).props('inline')
                radio.on_value_change(lambda e, code=question.code: self._answer(code, e.value))

    async def _answer(self, code: str, value: str | None) -> None:
        if value is None:
            self.answers.pop(code, None)
        else:
            self.answers[code] = str(value)
        self.shown = await self.service.guide(self.shown.entry.code, self.answers)
        self.print_link.props['href'] = self._print_path()
        self.print_link.update()
        self._draw_personal()

    def _print_path(self) -> str:
        """The printable guide (纸质版简化指南) with the answers given so far."""
        query = f'?{urlencode(self.answers)}' if self.answers else ''
        return f'/guide/{quote(self.shown.entry.code, safe="")}/print{query}'

    def _draw_personal(self) -> None:
        self.personal.clear()
        with self.personal:
            self._materials(self.shown.checklist, self.shown.exempt)
            self._steps(self.shown.stages)

    def _materials(self, checklist: materials.Checklist, exempt: frozenset[str]) -> None:
        with tid(ui.card(), 'guide-materials').classes('w-full p-3 gap-2 no-shadow border'):
            ui.label(t('guide.materials')).classes('text-lg font-bold')
            if not checklist.items:
                ui.label(t('guide.materials.none')).classes('text-grey-7')
            for item in checklist.items:
                required = item.need == materials.Need.REQUIRED
                with ui.row().classes('items-start gap-2 no-wrap'):
                    ui.icon('check_circle' if required else 'help_outline').classes(
                        'text-positive text-xl' if required else 'text-warning text-xl'
                    )
                    with ui.column().classes('gap-0'):
                        ui.label(pick(item.name, item.name_en))
                        if not required:
                            labels = '」或「'.join(
                                pick(zh, en) for zh, en in zip(item.because, item.because_en, strict=True)
                            )
                            ui.label(t('guide.materials.depends', labels=labels)).classes('text-xs text-grey-7')
                        if item.name in exempt:
                            ui.label(t('guide.materials.data')).classes('text-xs text-positive')

    def _steps(self, stages: tuple[guide.Stage, ...]) -> None:
        with tid(ui.card(), 'guide-steps').classes('w-full p-3 gap-1 no-shadow border'):
            ui.label(t('guide.steps')).classes('text-lg font-bold')
            for index, stage in enumerate(stages):
                if index:
                    ui.icon('south').classes('self-center text-grey-6 text-xl')
                if stage.parallel:
                    ui.label(t('guide.parallel')).classes('text-xs text-grey-7')
                grid = 'grid grid-cols-2 gap-2 w-full' if stage.parallel else 'grid grid-cols-1 w-full'
                with tid(ui.element('div'), f'guide-stage-{stage.number}').classes(grid):
                    for step in stage.steps:
                        _step(step)

    async def _fill_best_times(self) -> None:
        days = await self.service.expected_waits(self.shown.service_id)
        if self.best.is_deleted:  # the citizen left while it was worked out
            return
        self.best.clear()
        with self.best:
            if not days:
                ui.label(t('guide.best.none')).classes('text-grey-7')
                return
            ui.label(t('guide.best.why')).classes('text-xs text-grey-7')
            _wait_table(days, self.tz)
            ui.label(t('guide.quiet')).classes('font-bold mt-1')
            with tid(ui.column(), 'guide-quiet').classes('w-full gap-1'):
                for day in days:
                    quiet = [(hour, hour.book_at) for hour in day.hours if hour.quiet and hour.book_at]
                    if not quiet:
                        continue
                    with ui.row().classes('w-full items-center gap-2'):
                        ui.label(_day_label(day.day)).classes('text-sm w-20 shrink-0')
                        for hour, book_at in quiet:
                            link = ui.link(
                                t('guide.book', time=book_at.astimezone(self.tz).strftime('%H:%M')),
                                book_path(self.shown.entry.code, book_at),
                            )
                            local = hour.start.astimezone(self.tz)
                            tid(link, f'guide-book-{local.strftime("%m%d-%H")}').classes(
                                'text-sm px-2 py-1 rounded border border-primary no-underline'
                            )


def _step(step: guide.Step) -> None:
    with ui.card().classes('w-full p-2 gap-1 no-shadow border bg-grey-1'):
        ui.label(step.name).classes('font-bold leading-tight')
        ui.label(pick(step.department.name, step.department.name_en)).classes('text-xs text-grey-8 leading-tight')
        with ui.row().classes('gap-1 items-center'):
            due = deadline(step)
            if due:
                ui.label(due).classes('text-xs rounded px-1 bg-blue-1')
            if step.instant:
                tid(ui.label(t('guide.instant')), 'guide-instant').classes(
                    'text-xs rounded px-1 bg-positive text-white'
                )
            if step.zero_materials:
                tid(ui.label(t('guide.zero')), 'guide-zero').classes('text-xs rounded px-1 bg-positive text-white')
        if step.instant_rule:
            ui.label(step.instant_rule).classes('text-xs text-grey-8 leading-tight')


def _day_label(day: dt.date) -> str:
    zh, en = WEEKDAYS[day.weekday()]
    return f'{pick(zh, en)} {day.month}/{day.day}'


def _wait_table(days: tuple[guide.DayWaits, ...], tz: ZoneInfo) -> None:
    """Days down, opening hours across; each cell the expected wait in minutes, the quietest starred."""
    columns = f'grid-template-columns: 3.6rem repeat({len(HOURS)}, minmax(0, 1fr))'
    scroller = ui.element('div').classes('overflow-x-elder w-full')  # 长辈模式: larger cells scroll sideways
    scroller.props('tabindex=0 role=region')  # reachable by keyboard when it scrolls, and named
    scroller.props['aria-label'] = t('guide.best')
    with scroller:
        table = tid(ui.element('div'), 'guide-wait-table').classes('elder-wide grid gap-px w-full text-center')
    with table.style(columns):
        ui.label('')
        for hour in HOURS:
            ui.label(str(hour)).classes('text-[10px] text-grey-7')
        for day in days:
            ui.label(_day_label(day.day)).classes('text-[11px] text-left leading-tight self-center')
            by_hour: Mapping[int, guide.HourWait] = {h.start.astimezone(tz).hour: h for h in day.hours}
            for hour in HOURS:
                point = by_hour.get(hour)
                if point is None:
                    ui.label('·').classes('text-[11px] text-grey-8')
                    continue
                minutes = t('guide.crowded') if point.wait_minutes >= MAX_WAIT else round(point.wait_minutes)
                text = f'★{minutes}' if point.quiet else str(minutes)
                ui.label(text).classes(f'text-[11px] leading-6 rounded-sm {shade(point.wait_minutes)}')
