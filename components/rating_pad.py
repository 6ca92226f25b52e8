"""The window rating pad's screen (评价器): idle, the service just completed with one button per level, thanks.

It draws and forwards only: what the pad may rate is decided by `EvaluationService.pad_prompt` and
`rate_at_pad`, which get the pad's principal. It changes by push: the page subscribes `on_ticket` to the
journey feed (a completion at this window shows the prompt; a rating from /track or the texted link ends it)
and `on_device` to the device feed (an ended pairing closes the screen). The only timer is the one-shot
return from "thanks" to idle after a tap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.events import EvaluationSubmitted, Event, KioskPairingChanged, TicketCompleted, TicketEventBase
from app.services.errors import DomainError
from app.services.evaluation import EvaluationService, Level, PadPrompt
from app.services.principal import Principal
from components import rating_pad_texts as _texts  # noqa: F401 - registers the texts
from components.elder_mode import elder_toggle
from components.testids import tid
from components.texts import error_text, t

THANKS_SECONDS = 6.0  # how long "thank you" stays before the pad is idle again
STYLE = """
.pad-root { font-size: 1.6rem; }
.pad-level { min-height: 7rem; font-size: 2.2rem !important; border-radius: 1.2rem; }
body.elder .pad-root { font-size: 2rem; line-height: 1.4; }
body.elder .pad-root .text-grey-8 { color: #1a1a1a !important; }
body.elder .pad-level { min-height: 9rem; font-size: 2.8rem !important; }
"""


class RatingPadScreen:
    def __init__(
        self,
        evaluations: EvaluationService,
        pad: Principal,
        *,
        window_number: int,
        still_paired: Callable[[], Awaitable[bool]],
    ) -> None:
        self.evaluations = evaluations
        self.pad = pad
        self.window_id = pad.window_id
        self.still_paired = still_paired
        self.prompt: PadPrompt | None = None
        self.closed = False
        ui.add_css(STYLE)
        with tid(ui.column(), 'pad-root').classes('pad-root w-full min-h-screen items-center gap-6 p-8'):
            with ui.row().classes('w-full items-center justify-between gap-4 text-primary'):
                ui.label(t('pad.title', number=window_number)).classes('text-3xl font-bold')
                elder_toggle()
            self.body = ui.column().classes('w-full max-w-3xl items-center gap-6')

    async def show(self) -> None:
        """Draw what the pad offers now: the last completion at this window if it is still to rate, else idle."""
        if self.closed:
            return
        self.prompt = await self.evaluations.pad_prompt(self.pad)
        self.body.clear()
        with self.body:
            if self.prompt is None:
                self._idle()
            else:
                self._ask(self.prompt)

    def _idle(self) -> None:
        with tid(ui.column(), 'pad-idle').classes('items-center gap-4 mt-24'):
            ui.icon('sentiment_satisfied_alt', size='8rem').classes('text-primary')
            ui.label(t('pad.idle')).classes('text-4xl font-bold text-center')
            ui.label(t('pad.idle.hint')).classes('text-2xl text-grey-8 text-center')

    def _ask(self, prompt: PadPrompt) -> None:
        with tid(ui.card(), 'pad-prompt').classes('w-full items-center gap-2 p-6'):
            ui.label(t('pad.ask')).classes('text-4xl font-bold text-center')
            ui.label(prompt.service_name).classes('text-3xl text-center')
            with ui.row().classes('gap-8 text-2xl text-grey-8'):
                tid(ui.label(t('pad.ticket', number=prompt.number)), 'pad-number')
                if prompt.clerk_name:
                    ui.label(t('pad.clerk', name=prompt.clerk_name))
        with ui.column().classes('w-full gap-4'):
            for level in self.evaluations.scale:
                self._level_button(prompt, level)

    def _level_button(self, prompt: PadPrompt, level: Level) -> None:
        color = 'positive' if level.satisfied else 'accent'
        button = ui.button(t(f'pad.level.{level.code}'), on_click=lambda: self._tap(prompt, level))
        tid(button, f'pad-level-{level.code}').props(f'color={color} unelevated no-caps').classes('pad-level w-full')

    async def _tap(self, prompt: PadPrompt, level: Level) -> None:
        if not await self._paired():
            return
        self.prompt = None  # this screen's own rating: its EvaluationSubmitted must not redraw the screen
        try:
            await self.evaluations.rate_at_pad(self.pad, prompt.ticket_id, level.code)
        except DomainError as error:
            ui.notify(error_text(error), type='warning', position='center', classes='text-2xl')
            await self.show()
            return
        self.body.clear()
        with self.body, tid(ui.column(), 'pad-thanks').classes('items-center gap-4 mt-24'):
            ui.icon('favorite', size='8rem').classes('text-positive')
            ui.label(t('pad.thanks')).classes('text-5xl font-bold text-center')
            ui.label(t('pad.thanks.hint')).classes('text-2xl text-grey-8 text-center')
            ui.timer(THANKS_SECONDS, self.show, once=True)  # goes with the thanks when the body is redrawn

    async def on_ticket(self, event: TicketEventBase) -> None:
        """A completion at this window shows its prompt at once."""
        if isinstance(event, TicketCompleted) and event.payload.window_id == self.window_id:
            await self.show()

    async def on_journey(self, event: Event) -> None:
        """The shown ticket was rated elsewhere (/track, the texted link, another screen): back to idle."""
        if isinstance(event, EvaluationSubmitted) and self.prompt and event.ticket_id == self.prompt.ticket_id:
            await self.show()

    async def on_device(self, event: Event) -> None:
        if isinstance(event, KioskPairingChanged) and event.device.code == self.pad.device_code:
            await self._paired()

    async def _paired(self) -> bool:
        """Is this screen still this window's pad? If not, close it for good (once)."""
        if self.closed:
            return False
        if await self.still_paired():
            return True
        self.closed = True
        self.body.clear()
        with self.body:
            tid(ui.label(t('pad.closed')), 'pad-closed').classes('text-3xl text-center mt-24')
        return False
