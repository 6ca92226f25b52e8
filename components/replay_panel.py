"""Replay: a time slider over today's opening hours that shows the hall as it stood at that minute.

The day's events are read once (and again on "reload"); moving the slider only re-runs the pure
reducer (app/services/replay.py) over memory and redraws this client's panel.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.replay import DayLog, HallAt, ReplayService, Step, WindowStep, moment_at, slider_minutes, state_at
from components.testids import tid
from components.texts import TEXTS, register, t

register(
    {
        'replay.title': ('今日回放', "Today's replay"),
        'replay.reload': ('载入最新', 'Load latest'),
        'replay.now': ('现在', 'Now'),
        'replay.waiting': ('等候 {n} 人', '{n} waiting'),
        'replay.issued': ('已取号 {n}', '{n} issued'),
        'replay.finished': ('已办结 {n}', '{n} finished'),
        'replay.no_shows': ('过号 {n}', '{n} no-shows'),
        'replay.devices': (
            '设备 在线 {online} · 离线 {offline} · 故障 {fault}',
            'Devices online {online} · offline {offline} · fault {fault}',
        ),
        'replay.seats': ('座位占用 {n}/{total}', 'Seats taken {n}/{total}'),
        'replay.windows': ('窗口', 'Windows'),
        'replay.queues': ('排队', 'Queues'),
        'replay.recent': ('此前发生', 'Just before'),
        'replay.nothing': ('此时尚无动态', 'Nothing had happened yet'),
        'replay.activity.serving': ('办理中', 'serving'),
        'replay.activity.idle': ('空闲', 'idle'),
        'replay.activity.paused': ('暂停', 'paused'),
        'replay.activity.closed': ('未开放', 'closed'),
        'replay.window.state.open': ('开放', 'opened'),
        'replay.window.state.paused': ('暂停服务', 'paused'),
        'replay.window.state.closed': ('关闭', 'closed'),
        'replay.window.services': ('改办 {services}', 'now serves {services}'),
        'replay.kind.issued': ('取号', 'took a number'),
        'replay.kind.called': ('叫号', 'called'),
        'replay.kind.called_out_of_order': ('跳号呼叫', 'called out of order'),
        'replay.kind.recalled': ('重呼', 'recalled'),
        'replay.kind.completed': ('办结', 'finished'),
        'replay.kind.no_show': ('过号', 'no-show'),
        'replay.kind.transferred': ('转办', 'transferred'),
        'replay.kind.parked': ('挂起', 'parked'),
        'replay.kind.resumed': ('恢复办理', 'resumed'),
        'replay.at_window': ('{n}号窗口', 'window {n}'),
        'replay.unavailable': ('回放暂不可用', 'Replay is not available'),
    }
)

ACTIVITY_CLASSES = {
    'serving': 'bg-blue-1 text-blue-10 border-blue-4',
    'idle': 'bg-green-1 text-green-10 border-green-4',
    'paused': 'bg-amber-1 text-amber-10 border-amber-5',
    'closed': 'bg-grey-2 text-grey-7 border-grey-4',
}
SHOWN_NUMBERS = 6


def _clock(moment: dt.datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime('%H:%M')


def _window_step_text(step: WindowStep, log: DayLog, tz: ZoneInfo) -> str:
    number = log.windows.get(step.window_id, (step.window_id, ''))[0]
    if step.kind == 'services':
        names = {code: name for code, name, _ in log.services.values()}
        what = t('replay.window.services', services='、'.join(names.get(code, code) for code in step.detail))
    else:
        what = t(f'replay.window.state.{step.to_state}')
    return f'{_clock(step.at, tz)}  {t("replay.at_window", n=number)} {what}'


def _step_text(step: Step, log: DayLog, tz: ZoneInfo) -> str:
    if isinstance(step, WindowStep):
        return _window_step_text(step, log, tz)
    key = f'replay.kind.{step.kind}'
    what = t(key) if key in TEXTS else step.kind
    where = ''
    if step.window_id in log.windows and step.kind != 'issued':
        where = ' ' + t('replay.at_window', n=log.windows[step.window_id][0])
    return f'{_clock(step.at, tz)}  {step.number} {what}{where}'


def hall_view(state: HallAt, log: DayLog, tz: ZoneInfo) -> None:
    """The compact picture of one moment: counts, a window grid, the queues, the last steps."""
    devices = [d for d in state.devices if d.kind != 'seat']
    seats = [d for d in state.devices if d.kind == 'seat']
    counts = {s: sum(1 for d in devices if d.state == s) for s in ('online', 'offline', 'fault')}
    with tid(ui.row(), 'replay-summary').classes('w-full gap-4 items-center text-sm'):
        ui.label(t('replay.waiting', n=state.waiting)).classes('text-lg font-bold text-primary')
        ui.label(t('replay.issued', n=state.issued))
        ui.label(t('replay.finished', n=state.finished))
        ui.label(t('replay.no_shows', n=state.no_shows))
        ui.label(t('replay.devices', **counts)).classes('text-grey-8')
        if seats:
            ui.label(t('replay.seats', n=sum(1 for s in seats if s.occupied), total=len(seats))).classes('text-grey-8')
    with ui.row().classes('w-full gap-4 no-wrap items-start'):
        with ui.column().classes('w-1/2 gap-1'):
            ui.label(t('replay.windows')).classes('text-sm font-bold')
            with tid(ui.element('div'), 'replay-windows').classes('grid grid-cols-5 gap-1 w-full'):
                for window in state.windows:
                    style = ACTIVITY_CLASSES.get(window.activity, '')
                    with ui.element('div').classes(f'border rounded px-1 py-0.5 text-center {style}'):
                        ui.label(f'{window.number}号').classes('text-xs')
                        ui.label(window.ticket_number or t(f'replay.activity.{window.activity}')).classes(
                            'text-sm font-mono font-bold' if window.ticket_number else 'text-xs'
                        )
        with ui.column().classes('w-1/4 gap-0'):
            ui.label(t('replay.queues')).classes('text-sm font-bold')
            with tid(ui.column(), 'replay-queues').classes('gap-0 w-full'):
                for queue in sorted(state.queues, key=lambda q: -q.waiting):
                    if not queue.waiting:
                        continue
                    numbers = ' '.join(queue.numbers[:SHOWN_NUMBERS]) + (' …' if queue.waiting > SHOWN_NUMBERS else '')
                    with ui.row().classes('w-full items-baseline gap-2 no-wrap'):
                        ui.label(f'{queue.prefix} {queue.name}').classes('text-xs ellipsis grow')
                        ui.label(str(queue.waiting)).classes('text-sm font-bold')
                    ui.label(numbers).classes('text-[10px] text-grey-8 font-mono')
        with ui.column().classes('w-1/4 gap-0'):
            ui.label(t('replay.recent')).classes('text-sm font-bold')
            if not state.recent:
                ui.label(t('replay.nothing')).classes('text-xs text-grey-7')
            for step in state.recent:
                ui.label(_step_text(step, log, tz)).classes('text-xs font-mono')


async def replay_panel(service: ReplayService | None, tz: ZoneInfo) -> None:
    """Render the replay into the current container (the manager page puts it in a tab)."""
    if service is None:
        ui.label(t('replay.unavailable')).classes('text-grey-7')
        return
    log = await service.load()
    with ui.row().classes('w-full items-center gap-3 no-wrap'):
        ui.label(t('replay.title')).classes('text-base font-bold whitespace-nowrap')
        moment_label = tid(ui.label(), 'replay-time').classes('text-2xl font-mono font-bold text-primary w-20')
        slider = tid(ui.slider(min=0, max=1, value=1), 'replay-slider').classes('grow')
        back = ui.button(icon='chevron_left').props('flat dense round')
        forward = ui.button(icon='chevron_right').props('flat dense round')
        now = ui.button(t('replay.now')).props('flat dense no-wrap')
        reload = tid(ui.button(t('replay.reload'), icon='refresh'), 'replay-reload').props('flat dense no-wrap')
    edges = ui.row().classes('w-full justify-between text-xs text-grey-8 -mt-2')
    view = ui.column().classes('w-full gap-2')

    def span() -> int:
        return slider_minutes(log)

    def draw() -> None:
        moment = moment_at(log, int(slider.value or 0))
        moment_label.set_text(_clock(moment, tz))
        view.clear()
        with view:
            hall_view(state_at(log, moment), log, tz)

    def reshape() -> None:
        slider.props['max'] = span()
        edges.clear()
        with edges:
            ui.label(_clock(log.start, tz))
            ui.label(_clock(log.end, tz))

    def nudge(minutes: int) -> None:
        slider.set_value(min(max(0, int(slider.value or 0) + minutes), span()))

    async def load_latest() -> None:
        nonlocal log
        log = await service.load(fresh=True)
        reshape()
        slider.set_value(span())
        draw()

    reshape()
    slider.set_value(span())
    slider.on_value_change(lambda _: draw())
    back.on_click(lambda: nudge(-5))
    forward.on_click(lambda: nudge(5))
    now.on_click(lambda: slider.set_value(span()))
    reload.on_click(load_latest)
    draw()
