"""One kiosk screen: renders the session's step and turns taps and device events into KioskService calls.

Every rule lives in app/services (the steps in `kiosk_steps.KioskSession`, the rest in
`kiosk.KioskService`); this class draws the session's step, forwards taps, shows domain errors as
notifications, and resets to the start after `IDLE_SECONDS` without a touch (one timer per page: a
kiosk UI timeout, not polling), after warning `WARN_SECONDS` before with a 继续 button.

Each new step is said aloud (components/kiosk_voice.py, spoken by voice.js, 再听一遍 repeats it), and
长辈模式 is on for a citizen aged 65+ or when this kiosk's screen has it switched on (components/elder_mode.py).

The screen is a paired device: before every action and every device event it asks `still_paired`
(the screen credential is still live for this kiosk). A `KioskPairingChanged` for this kiosk (pushed
when an admin unpairs it or another screen pairs) asks at once; the idle timer asks at least every
`RECHECK_SECONDS` in case a push was lost. A screen that is no longer paired closes: its session
(and any clerk's assist) ends and the browser is sent to the pairing page.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from nicegui import background_tasks, ui

from app.events import CardRead, Event, FaceMatched, KioskPairingChanged, QrScanned
from app.models.device import DeviceKind
from app.models.security import ConsentScope
from app.services.assistant import Answer, AssistantService, Reply
from app.services.errors import DomainError, StorageUnavailable
from app.services.face_enrolment import FaceEnrolmentService
from app.services.kiosk import Catalogue, KioskDevices, KioskService, KioskSession, Method, Step
from app.services.remote_queue import TICKET_QR_KIND
from components import kiosk_texts as _texts  # noqa: F401 - registers the kiosk's texts
from components.elder_frame import ElderFrame
from components.elder_mode import Voice, elder_toggle
from components.kiosk_ask import ask_dialog
from components.kiosk_assist import assist_bar, assist_dialog
from components.kiosk_checklist import checklist_view
from components.kiosk_consent import consent_view, face_wait_view
from components.kiosk_enrol import enrol_capture_view, enrol_consent_view, enrol_offer
from components.kiosk_idle_warning import idle_warning
from components.kiosk_keys import KioskKeys, goes_home
from components.kiosk_services import services_view
from components.kiosk_start import start_view
from components.kiosk_texts import pick
from components.kiosk_ticket import ticket_view
from components.kiosk_voice import checklist_words, step_words, ticket_words, voice_lang
from components.testids import tid
from components.texts import error_text, t
from components.track_status import status_path
from twin.hall import HallTwin

IDLE_SECONDS = 60.0
WARN_SECONDS = 20  # the warning shows this long before the reset (give or take one idle check)
IDLE_CHECK_SECONDS = 5.0
RECHECK_SECONDS = 30.0  # a revoked screen stops within this even if the push never arrives
STEP_WORDS = {  # what the live region says when a step is drawn (checklist and ticket: see _step_words)
    Step.START: 'kiosk.choose_start',
    Step.CONSENT: 'kiosk.consent.title',
    Step.FACE: 'kiosk.face.look',
    Step.ENROL_CONSENT: 'kiosk.enrol.title',
    Step.ENROL: 'kiosk.enrol.look',
    Step.SERVICE: 'kiosk.services.title',
}


class KioskActivity(ui.element, component='kiosk_idle.js'):
    """Emits 'activity' when the screen is touched (throttled), so reading a long list is not 'idle'."""


class KioskScreen:
    def __init__(
        self,
        service: KioskService,
        session: KioskSession,
        catalogue: Catalogue,
        twin: HallTwin,
        devices: KioskDevices | None,
        *,
        frame: ElderFrame,
        hall_name: str,
        track_base: str,
        still_paired: Callable[[], Awaitable[bool]],
        enrolment: FaceEnrolmentService,
        assistant: AssistantService | None = None,
    ) -> None:
        self.service = service
        self.assistant = assistant
        self.enrolment = enrolment
        self.session = session
        self.catalogue = catalogue
        self.devices = devices
        self.frame = frame
        self.hall_name = hall_name
        self.track_base = track_base.rstrip('/')
        self.twin = twin
        self.queues = {q.code: q for q in twin.queues.values()}
        self.show_all = False
        self.busy = False
        self.last_activity = time.monotonic()
        self.face_version = ''
        self.still_paired = still_paired
        self.closed = False
        self.checked_at = time.monotonic()
        self.browser_elder = False  # this screen's 长辈模式 switch, as elder_mode.js reports it
        self.forced_elder: bool | None = None  # 长辈模式 forced for this citizen (65+), None: the screen's choice
        self.spoken: tuple[object, ...] = ()  # what the voice last said (a step is said once)
        KioskActivity().on('activity', self.touch)
        KioskKeys()
        ui.timer(IDLE_CHECK_SECONDS, self._check_idle)
        ui.context.client.on_delete(self._gone)
        self.assist_dialog = assist_dialog(self._sign_in)
        self.ask_dialog = ask_dialog(self._ask, self._take_from_answer, self.call_help)
        self.idle_warning = idle_warning(WARN_SECONDS, self.touch)
        self.step_said = tid(ui.label(), 'kiosk-step-said').classes('sr-only')
        self.step_said.props('role=status aria-live=polite aria-atomic=true')  # each new step, for screen readers
        self.header = ui.row().classes('kiosk-header w-full items-center justify-between px-6 py-3 gap-y-2')
        with self.header:
            self.header_info = ui.column().classes('gap-0')
            with ui.row().classes('items-center justify-end gap-3'):
                self.elder_toggle = elder_toggle(self._elder_switched)
                self.voice = tid(Voice(label=t('elder.repeat')), 'kiosk-repeat')
                self.voice.props(f'lang={voice_lang()}')
                self.header_actions = ui.row().classes('items-center justify-end gap-3')
        self.assist_row = ui.row().classes('w-full gap-0')
        self.body = ui.column().classes('w-full max-w-[1040px] self-center gap-5 p-6')
        self.render()

    # ---- rendering ---------------------------------------------------------------------------

    def render(self) -> None:
        if self.closed:
            return
        self.frame.set_elder(self.session.elder or self.browser_elder)
        forced = True if self.session.elder else None
        if forced != self.forced_elder:
            self.forced_elder = forced
            self.elder_toggle.force(forced)
        self.step_said.set_text(self._step_words())
        self._render_header()
        self._render_assist()
        self.body.clear()
        with self.body:
            self._render_step()
        self._speak()

    def _speak(self) -> None:
        """Say the step once when it changes (再听一遍 says it again); the ticket with its number and window."""
        session = self.session
        ticket = session.ticket.ticket.number if session.step == Step.TICKET and session.ticket else ''
        key = (session.step, session.service_code, tuple(sorted(session.answers.items())), ticket)
        if key == self.spoken:
            return
        self.spoken = key
        if session.step == Step.CHECKLIST and session.service_code is not None:
            item = self.catalogue.service(session.service_code)
            checklist = self.service.checklist(session, self.catalogue)
            words = checklist_words(pick(item.name, item.name_en), checklist)
        elif session.step == Step.TICKET and session.ticket is not None:
            view = session.ticket
            ahead = view.position - 1 if view.position else None
            words = ticket_words(view.ticket.number, ahead, self.catalogue.card(view.service.code).window_hint)
        else:
            words = step_words(session.step)
        if words:
            self.voice.say(words)

    def _elder_switched(self, elder: bool) -> None:
        self.browser_elder = elder
        self.frame.set_elder(self.session.elder or elder)

    def _render_header(self) -> None:
        self.header_info.clear()
        with self.header_info:
            ui.label(self.hall_name).classes('text-[1.1em] font-bold')
            ui.label(f'{t("kiosk.title")} · {self.session.kiosk.name or self.session.kiosk.code}').classes(
                'text-[0.8em] opacity-90'
            )
        self.header_actions.clear()
        with self.header_actions:
            if self.session.step != Step.START:
                home = tid(ui.button(t('kiosk.home'), on_click=self.restart), 'kiosk-home')
                goes_home(home).props('flat icon=home').classes('text-white')
            if self.assistant is not None and self.session.step != Step.TICKET:
                ask = tid(ui.button(t('assistant.title'), on_click=self.ask_dialog.open), 'kiosk-ask')
                ask.props('flat icon=chat').classes('text-white')
            if self.session.assist is None:
                assist = tid(ui.button(t('kiosk.assist'), on_click=self.assist_dialog.open), 'kiosk-assist')
                assist.props('flat icon=badge').classes('text-white')
            help_button = tid(ui.button(t('kiosk.help'), on_click=self.call_help), 'kiosk-help')
            help_button.props('unelevated icon=support_agent color=accent')

    def _render_assist(self) -> None:
        self.assist_row.clear()
        assist = self.session.assist
        if assist is None:
            return
        with self.assist_row:
            assist_bar(
                assist,
                disability=self.session.disability,
                pregnancy=self.session.pregnancy,
                on_priority=lambda disability, pregnancy: self.act(
                    lambda: self.service.set_priority(self.session, disability=disability, pregnancy=pregnancy),
                    redraw=False,
                ),
                on_end=self.end_assist,
            )

    def _step_words(self) -> str:
        """The step in a few words, for screen readers: its title, the chosen service, or the ticket's number."""
        session = self.session
        if session.step == Step.TICKET and session.ticket is not None:
            return f'{t("kiosk.ticket.your_number")} {session.ticket.ticket.number}'
        if session.step == Step.CHECKLIST and session.service_code is not None:
            service = self.catalogue.service(session.service_code)
            return f'{pick(service.name, service.name_en)}：{t("kiosk.materials")}'
        return t(STEP_WORDS.get(session.step, 'kiosk.title'))

    def _render_step(self) -> None:
        session = self.session
        identity = session.identity
        if identity is not None and session.shows_identity:
            with tid(ui.row(), 'kiosk-identity').classes('items-center gap-3'):
                ui.icon('verified_user').classes('text-positive').style('font-size: 1.4em')
                ui.label(t('kiosk.identified', masked=identity.masked, age=identity.age))
                if identity.elderly:
                    ui.label(t('kiosk.green')).classes('bg-positive text-white rounded px-3 font-bold')
        step = session.step
        if step == Step.START:
            start_view(
                session.kiosk,
                assisted=session.assist is not None,
                on_id_number=lambda raw: self.act(lambda: self.service.enter_id_number(session, raw)),
                on_face=lambda: self.act(self._begin_face),
                on_appointment=lambda code: self.act(lambda: self.service.appointment(session, code)),
                on_manual=lambda: self.act(session.start_by_hand),
            )
        elif step == Step.CONSENT:
            consent_view(
                self.face_version,
                on_agree=lambda scope: self.act(lambda: self._agree_face(scope)),
                on_decline=lambda: self.act(session.reset),
            )
        elif step == Step.FACE:
            face_wait_view(on_fallback=lambda: self.act(session.reset))
        elif step == Step.ENROL_CONSENT:
            enrol_consent_view(
                self.face_version,
                on_agree=lambda scope: self.act(lambda: self._agree_enrolment(scope)),
                on_decline=lambda: self.act(lambda: self.enrolment.skip(session.caller, session)),
            )
        elif step == Step.ENROL:
            enrol_capture_view(
                on_capture=self.capture_enrolment,
                on_fallback=lambda: self.act(lambda: self.enrolment.skip(session.caller, session)),
            )
        elif step == Step.SERVICE:
            if self._may_enrol():
                enrol_offer(on_offer=lambda: self.act(self._offer_enrolment))
            services_view(
                self.catalogue,
                self.queues,
                elder=session.elder,
                show_all=self.show_all,
                on_choose=lambda code: self.act(lambda: self.service.choose_service(session, self.catalogue, code)),
                on_show_all=lambda: self.act(self._show_all),
            )
        elif step == Step.CHECKLIST:
            assert session.service_code is not None
            checklist_view(
                self.catalogue.service(session.service_code),
                self.service.checklist(session, self.catalogue),
                on_answer=lambda q, v: self.act(lambda: self.service.answer(session, self.catalogue, q, v)),
                on_take=self.take_ticket,
                on_back=lambda: self.act(session.back_to_services),
            )
        elif step == Step.TICKET and session.ticket is not None:
            view = session.ticket
            self.print_status = ticket_view(
                view,
                track_url=self._track_url(),
                window_hint=self.catalogue.card(view.service.code).window_hint,
                on_done=self.restart,
            )

    # ---- actions -----------------------------------------------------------------------------

    async def act(self, action: Callable[[], Any], *, redraw: bool = True) -> None:
        """Run one step of the flow; a domain error is shown, and the screen follows the session.

        `redraw=False` for a change the screen already shows (the clerk's priority ticks): redrawing would replace
        the buttons under a quick next tap, whose click would then reach a removed button and be lost."""
        self.touch()
        if not await self._paired():
            return
        try:
            result = action()
            if inspect.isawaitable(result):
                await result
        except DomainError as error:
            message = t('kiosk.unavailable') if isinstance(error, StorageUnavailable) else error_text(error)
            ui.notify(message, type='warning', position='center', timeout=6000, classes='text-[1.2em]')
            redraw = True
        if redraw:
            self.render()

    def _begin_face(self) -> None:
        self.face_version = self.service.begin_face(self.session)

    def _agree_face(self, scope: ConsentScope) -> None:
        """Agreed, with its scope: the camera view now; the capture's answer arrives later as a FaceMatched event."""
        self.service.agree_face(self.session, self.face_version, scope)
        background_tasks.create(self.service.capture_face(self.session, self.devices), name='kiosk-face-capture')

    def _may_enrol(self) -> bool:
        """Offer 开通刷脸 only after a card read at a kiosk with a camera (the service checks it again)."""
        session = self.session
        return session.method == Method.ID_CARD and session.kiosk.attached(DeviceKind.CAMERA) is not None

    def _offer_enrolment(self) -> None:
        self.face_version = self.enrolment.offer(self.session.caller, self.session)

    async def _agree_enrolment(self, scope: ConsentScope) -> None:
        await self.enrolment.agree(self.session.caller, self.session, scope, text_version=self.face_version)

    async def capture_enrolment(self) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            await self.act(self._capture)
        finally:
            self.busy = False

    async def _capture(self) -> None:
        await self.enrolment.capture(self.session.caller, self.session, self.devices)
        ui.notify(t('kiosk.enrol.done'), type='positive', position='center', classes='text-[1.2em]')

    def _show_all(self) -> None:
        self.show_all = True

    async def restart(self) -> None:
        """返回首页 or 完成: the next citizen starts afresh, and an assisting clerk is signed out."""
        self.session.reset()
        self.show_all = False
        self.touch()
        await self.service.end_assist(self.session)
        self.render()

    async def take_ticket(self) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            await self.act(lambda: self.service.take_ticket(self.session))
        finally:
            self.busy = False
        view = self.session.ticket
        if self.session.step != Step.TICKET or view is None:
            return
        slip = self.service.slip(
            view,
            track_url=self._track_url(),
            window_hint=self.catalogue.card(view.service.code).window_hint,
            answers=self.session.answers,
        )
        result = await self.service.print_slip(self.session.kiosk, self.devices, slip)
        if self.session.ticket is view:  # still the same citizen's screen
            self.print_status.set_text(t('kiosk.ticket.printed' if result.printed else 'kiosk.ticket.photo'))

    async def call_help(self) -> None:
        self.touch()
        if not await self._paired():
            return
        await self.service.request_help(self.session.kiosk, note='呼叫人工')
        ui.notify(t('kiosk.help_sent'), type='info', position='center', timeout=8000, classes='text-[1.2em]')

    # ---- 问一问 ----------------------------------------------------------------------------------

    async def _ask(self, question: str) -> Reply | None:
        """The assistant's reply for this kiosk (its limit counts per kiosk screen), or None when refused."""
        self.touch()
        if self.assistant is None or not await self._paired():
            return None
        try:
            return await self.assistant.ask(question, caller=self.session.caller)
        except DomainError as error:
            ui.notify(error_text(error), type='warning', position='center', timeout=6000, classes='text-[1.2em]')
            return None

    async def _take_from_answer(self, answer: Answer) -> None:
        """为这个事项取号: the service is chosen with what the words answered; the checklist is next."""
        await self.act(lambda: self._choose_answer(answer))

    def _choose_answer(self, answer: Answer) -> None:
        self.service.choose_service(self.session, self.catalogue, answer.code)
        for question, value in answer.answers.items():
            self.service.answer(self.session, self.catalogue, question, value)

    def _track_url(self) -> str:
        """The slip's and the ticket screen's QR: the light status page a waiting citizen keeps open (no NiceGUI
        client per phone); it links on to the verified /track view."""
        assert self.session.ticket is not None
        return f'{self.track_base}{status_path(self.session.ticket.ticket.code)}'

    # ---- staff assist --------------------------------------------------------------------------

    async def _sign_in(self, username: str, password: str) -> str | None:
        """The assist dialog's sign-in: None when the clerk is in, else what to tell them."""
        self.touch()
        if not await self._paired():
            return None
        try:
            await self.service.start_assist(self.session, username, password)
        except DomainError as error:
            return error_text(error)
        ui.notify(t('kiosk.assist.started'), type='positive', position='center', classes='text-[1.2em]')
        self.render()
        return None

    async def end_assist(self) -> None:
        self.touch()
        await self.service.end_assist(self.session)
        ui.notify(t('kiosk.assist.ended'), type='info', position='center', classes='text-[1.2em]')
        self.render()

    # ---- pairing -------------------------------------------------------------------------------

    async def _paired(self) -> bool:
        """Is this screen still paired to its kiosk? If not, close it (once)."""
        if self.closed:
            return False
        self.checked_at = time.monotonic()
        if await self.still_paired():
            return True
        await self._close()
        return False

    async def _close(self) -> None:
        self.closed = True
        self.session.reset()
        await self.service.end_assist(self.session)
        self.assist_row.clear()
        self.header.clear()
        self.body.clear()
        with self.body:
            tid(ui.label(t('kiosk.unpaired')), 'kiosk-unpaired').classes('text-[1.6em] font-bold')
        target = json.dumps(f'/kiosk/{quote(self.session.kiosk.code)}')
        ui.run_javascript(f'window.location.replace({target})')  # the pairing page; no way back to this one

    async def _gone(self) -> None:
        """The page was closed or reloaded: a clerk still signed in here is signed out."""
        await self.service.end_assist(self.session)

    async def on_config(self, _event: Event) -> None:
        """The hall's configuration changed: offer the catalogue as it now is (a renamed service, a new window);
        a citizen in the middle of a step keeps the step, the next screen shows the new names."""
        self.catalogue = await self.service.catalogue()
        self.queues = {q.code: q for q in self.twin.queues.values()}
        if self.session.step in (Step.START, Step.SERVICE):
            self.render()

    # ---- devices and idle --------------------------------------------------------------------

    async def on_device_event(self, event: Event) -> None:
        """This kiosk's reader, scanner and camera (the feed carries every kiosk's; others are ignored)."""
        if isinstance(event, KioskPairingChanged):
            if event.device.code == self.session.kiosk.code:
                await self._paired()
            return
        mine = set(self.session.kiosk.peripherals.values())
        device = getattr(event, 'device', None)
        if device is None or device.code not in mine:
            return
        if isinstance(event, CardRead):
            await self.act(lambda: self.service.card_read(self.session, event, self.devices))
        elif isinstance(event, QrScanned) and event.valid and event.kind == TICKET_QR_KIND:
            await self.act(lambda: self._arrived(event))
        elif isinstance(event, QrScanned):
            await self.act(lambda: self.service.scanned(self.session, event))
        elif isinstance(event, FaceMatched) and self.session.awaiting_face:
            await self.act(lambda: self.service.face_matched(self.session, event))

    async def _arrived(self, event: QrScanned) -> None:
        """A remote ticket's QR from the citizen's phone: arrival confirmed, said on the screen."""
        view = await self.service.arrived(self.session, event)
        if view is not None:
            ui.notify(
                t('kiosk.arrived', number=view.ticket.number),
                type='positive',
                position='center',
                timeout=6000,
                classes='text-[1.2em]',
            )

    def touch(self) -> None:
        self.last_activity = time.monotonic()
        if self.idle_warning.value:
            self.idle_warning.close()

    async def _check_idle(self) -> None:
        if self.closed:
            return
        if time.monotonic() - self.checked_at >= RECHECK_SECONDS and not await self._paired():
            return
        if self.session.at_rest and not self.show_all:
            return
        idle = time.monotonic() - self.last_activity
        if idle >= IDLE_SECONDS:
            self.idle_warning.close()
            self.session.reset()
            self.show_all = False
            await self.service.end_assist(self.session)
            self.spoken = (Step.START, None, (), '')  # nobody is there to hear the welcome
            self.render()
        elif idle >= IDLE_SECONDS - WARN_SECONDS and not self.idle_warning.value:
            self.idle_warning.open()
            self.voice.say([t('kiosk.idle.title'), t('kiosk.idle.body', n=WARN_SECONDS)])
