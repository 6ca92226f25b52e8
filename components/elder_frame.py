"""The kiosk's full-screen frame, with an elder-friendly mode switched on for citizens aged 65 and over
(or by the kiosk's 长辈模式 toggle, components/elder_mode.py).

Elder mode is a class on the root: bigger text, high contrast (white on black, yellow actions) and
larger touch targets, so the same widgets serve both and the switch needs no rebuild.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from nicegui import ui

from app.settings import StandIn
from components.demo_banner import demo_banner
from components.testids import tid

KIOSK_CSS = """
.kiosk-root { font-size: 22px; background: #f4f7fb; color: #10243e; }
.kiosk-root .q-btn { min-height: 64px; min-width: 64px; font-size: 1em; }
.kiosk-root .kiosk-tile { min-height: 160px; border-radius: 14px; }
.kiosk-root .kiosk-muted { color: #4a5a70; }
.kiosk-root .kiosk-header { background: #1f5fa8; color: #fff; }
.kiosk-root .kiosk-service { background: #fff; color: #10243e; border: 1px solid #c9d6e6; }
.kiosk-root .q-field__native, .kiosk-root .q-field__label { font-size: 22px; }
.kiosk-root .q-field__control { min-height: 64px; }
.kiosk-root :is(.elder-toggle, .voice-button) { font-size: 18px; min-height: 64px; }
.kiosk-root.elder { font-size: 30px; background: #000; color: #fff; }
.kiosk-root.elder :is(.elder-toggle, .voice-button) { font-size: 24px; min-height: 72px; }
.kiosk-root.elder .kiosk-muted { color: #e8e8e8; }
.kiosk-root.elder .q-card { background: #111; color: #fff; border: 3px solid #fff; }
.kiosk-root.elder .q-btn { min-height: 88px; font-size: 1em; }
.kiosk-root.elder .kiosk-tile { min-height: 200px; }
.kiosk-root.elder .kiosk-header { background: #000; border-bottom: 3px solid #fff; }
.kiosk-root.elder .kiosk-service { background: #111; color: #fff; border: 3px solid #fff; }
.kiosk-root.elder .q-field__native, .kiosk-root.elder .q-field__label { font-size: 30px; color: #fff; }
.kiosk-root.elder .q-field--outlined .q-field__control:before { border: 2px solid #fff; }
/* Quasar's colour classes are !important inside a cascade layer; only an earlier layer's !important beats them */
@layer overrides {
  .kiosk-root.elder .bg-primary { background: #ffd600 !important; }
  .kiosk-root.elder .bg-primary, .kiosk-root.elder .bg-primary .q-icon { color: #000 !important; }
  .kiosk-root.elder .text-primary { color: #ffd600 !important; }
  .kiosk-root.elder .q-btn--outline { color: #ffd600 !important; border-color: #ffd600; }
  .kiosk-root.elder .bg-accent { background: #ff5252 !important; }
}
"""


class ElderFrame:
    """The root column of a kiosk page; `set_elder` switches the layout for the current citizen."""

    def __init__(self) -> None:
        ui.add_css(KIOSK_CSS)
        self.root = tid(ui.column(), 'kiosk-root').classes('kiosk-root w-full min-h-screen gap-0 p-0')
        self.elder = False

    def set_elder(self, elder: bool) -> None:
        if elder == self.elder:
            return
        self.elder = elder
        if elder:
            self.root.classes(add='elder')
            self.root.mark('kiosk-root elder-mode')
        else:
            self.root.classes(remove='elder')
            self.root.mark('kiosk-root')


@contextmanager
def kiosk_frame(title: str, *, stand_ins: Collection[StandIn]) -> Iterator[ElderFrame]:
    """No site navigation on a kiosk: one full-screen column, nothing to wander off to; 演示模式 in a corner
    while any stand-in is on."""
    ui.page_title(title)
    ui.query('.nicegui-content').classes('p-0')
    ui.colors(primary='#1f5fa8', secondary='#3b7dd8', accent='#c0392b', positive='#2e7d32')
    frame = ElderFrame()
    with frame.root:
        demo_banner(stand_ins, classes='fixed bottom-2 left-2 z-10 opacity-80')
        yield frame
