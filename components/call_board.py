"""The call board: the last calls (number -> window, readable from 10 m) and each queue's waiting count.

Calls arrive by push (the device feed's `calls`, which also carries recalls); waiting counts are bound
to the twin. Announcements go to a queue in the browser (call_board.js) so they never overlap.
Only ticket and window numbers are shown: no names, nothing personal. In 长辈模式 (`?elder=1` on the
board's URL, or its toggle) the current call grows and the recent calls give way to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from nicegui import ui

from app.events import TicketEventBase
from app.services.call_board import BoardScope, Call, push_call
from app.settings import StandIn
from components.demo_banner import demo_banner
from components.elder_mode import elder_toggle
from components.testids import tid
from components.texts import register, t
from twin.hall import HallTwin, QueueTwin

register(
    {
        'board.title': ('叫号屏', 'Call board'),
        'board.now': ('正在呼叫', 'Now calling'),
        'board.recent': ('最近呼叫', 'Recent calls'),
        'board.none': ('暂无呼叫', 'No calls yet'),
        'board.window': ('{n} 号窗口', 'Window {n}'),
        'board.please': ('请到', 'please go to'),
        'board.waiting': ('等候人数', 'Waiting'),
        'board.recall': ('重呼', 'Recall'),
        'board.green': ('绿色通道', 'Green channel'),
    }
)
GREEN_MARK = 'bg-[#1b7f3b] text-white rounded px-4 text-[32px] font-bold'

BOARD_CSS = """
body { background: #08172b; }
.board { color: #fff; font-size: 28px; }
.board .board-panel { background: #0f2744; border-radius: 18px; }
.board .board-muted { color: #9fb6d3; }
.board .board-now { font-size: 180px; line-height: 1; font-weight: 800; color: #ffd600; }
.board .board-now-window { font-size: 96px; line-height: 1.1; font-weight: 700; }
.board .board-flash { animation: board-flash 1s ease-in-out 3; }
@keyframes board-flash { 50% { background: #1f5fa8; } }
body.elder .board { font-size: 36px; }
body.elder .board .board-muted { color: #fff; }
body.elder .board .board-now { font-size: 240px; }
body.elder .board .board-now-window { font-size: 128px; }
body.elder .board .board-recent { display: none; }
"""


class Announcer(ui.element, component='call_board.js'):
    """Speaks in the browser, one call after another; `said` keeps what was sent (tests, debugging)."""

    def __init__(self) -> None:
        super().__init__()
        self._props['lang'] = 'zh-CN'
        self._props['rate'] = 0.9
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)
        self.run_method('say', text)


def initial_calls(twin: HallTwin, scope: BoardScope) -> list[Call]:
    """What windows are serving now, newest first: the board's list until the next call is pushed."""
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    serving = [w for w in twin.windows.values() if w.current_number and scope.shows_window(w.id)]
    serving.sort(key=lambda w: _aware(w.current_since) or epoch, reverse=True)
    calls: list[Call] = []
    for window in reversed(serving):
        calls = push_call(calls, Call(window.current_number, window.number))
    return calls


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment is not None and moment.tzinfo is None else moment


class CallBoard:
    def __init__(self, twin: HallTwin, scope: BoardScope, *, hall_name: str, stand_ins: Collection[StandIn]) -> None:
        ui.add_css(BOARD_CSS)
        self.scope = scope
        self.calls = initial_calls(twin, scope)
        self.announcer = Announcer()
        said = ui.label().classes('sr-only').props('role=status aria-live=polite aria-atomic=true')
        self.said = tid(said, 'board-said')  # screen readers hear each new call, as the hall hears it
        with tid(ui.column(), 'board').classes('board w-full h-screen p-6 gap-5 no-wrap'):
            with ui.row().classes('w-full items-baseline justify-between'):
                ui.label(hall_name).classes('text-[40px] font-bold')
                with ui.row().classes('items-baseline gap-4'):
                    ui.label(' · '.join(x for x in (t('board.title'), scope.title) if x)).classes('board-muted')
                    demo_banner(stand_ins, classes='opacity-60 self-center')
                    elder_toggle()
            with ui.row().classes('w-full flex-grow gap-6 no-wrap items-stretch min-h-0'):
                self.calls_box = (
                    tid(ui.column(), 'board-calls').classes('board-panel p-8 gap-6 min-w-0').style('flex: 3 1 0')
                )
                with ui.column().classes('board-panel p-8 gap-3 min-w-0 overflow-hidden').style('flex: 2 1 0'):
                    ui.label(t('board.waiting')).classes('board-muted')
                    self._queues(sorted(twin.queues.values(), key=lambda q: q.prefix))
        self.render_calls()

    def _queues(self, queues: list[QueueTwin]) -> None:
        shown = [q for q in queues if self.scope.shows_service(q.service_id)]
        columns = 2 if len(shown) > 12 else 1
        size = 'text-[28px]' if columns == 2 else 'text-[36px]'
        with ui.grid(columns=columns).classes(f'w-full gap-x-8 gap-y-3 {size}'):
            for queue in shown:
                with ui.row().classes('items-center gap-3 no-wrap min-w-0'):
                    ui.label(queue.prefix).classes('bg-[#1f5fa8] rounded text-center font-bold shrink-0').style(
                        'width: 1.6em; line-height: 1.6em'
                    )
                    ui.label(queue.name).classes('ellipsis flex-grow min-w-0')
                    count = tid(ui.label(), f'board-queue-{queue.code}').classes('font-bold text-[1.3em] shrink-0')
                    count.bind_text_from(queue, 'waiting', backward=str)

    def render_calls(self, *, flash: bool = False) -> None:
        self.calls_box.clear()
        with self.calls_box:
            if not self.calls:
                ui.label(t('board.none')).classes('board-muted text-[48px] self-center my-auto')
                return
            now, *recent = self.calls
            ui.label(t('board.now')).classes('board-muted')
            with tid(ui.column(), 'board-now').classes('w-full items-center gap-2 py-4 rounded-2xl') as box:
                if flash:
                    box.classes('board-flash')
                tid(ui.label(now.number), 'board-now-number').classes('board-now font-mono')
                with ui.row().classes('items-baseline gap-6'):
                    ui.label(t('board.please')).classes('board-muted text-[40px]')
                    tid(ui.label(t('board.window', n=now.window_number)), 'board-now-window').classes(
                        'board-now-window'
                    )
                if now.recall:
                    ui.label(t('board.recall')).classes('bg-[#c0392b] rounded px-4 text-[32px]')
                if now.green:
                    tid(ui.label(t('board.green')), 'board-now-green').classes(GREEN_MARK)
            if recent:
                ui.label(t('board.recent')).classes('board-muted board-recent')
                with ui.grid(columns=2).classes('board-recent w-full gap-x-10 gap-y-3'):
                    for call in recent:
                        with tid(ui.row(), f'board-call-{call.number}').classes('items-baseline gap-5 no-wrap'):
                            ui.label(call.number).classes('font-mono font-bold text-[56px] text-[#ffd600]')
                            ui.label(t('board.window', n=call.window_number)).classes('text-[40px]')
                            if call.green:
                                ui.label(t('board.green')).classes(GREEN_MARK)

    def on_call(self, event: TicketEventBase) -> None:
        call = Call.of(event)
        if call is None or not self.scope.shows_window(event.payload.window_id):
            return
        self.calls = push_call(self.calls, call)
        self.render_calls(flash=True)
        self.said.set_text(call.announcement)
        self.announcer.say(call.announcement)
