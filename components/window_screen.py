"""The window desk: every action re-checks the staff session first, then calls the queue engine.

Domain errors are shown as notifications with the engine's own message. The desk is re-read after
each action here and after each twin change that concerns this window (another desk, the API, a
manager), never on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from nicegui import ui

from app.clock import utcnow
from app.db import Database
from app.events import Event, TicketEventBase, TicketTransferred, WindowChanged
from app.models.hall import WindowState
from app.models.security import ConsentPublic
from app.security.crypto import FieldCipher
from app.services import window_desk
from app.services.citizen_accounts import CitizenAccountService, Linked
from app.services.consent import MINOR_AGE
from app.services.errors import DomainError, StorageUnavailable
from app.services.journey import Journey
from app.services.principal import Principal
from app.services.queue import QueueService
from app.services.ticket_handoff import SENDER_WAIT, HandoffView, TicketHandoffService
from app.services.unmask import unmask_citizen
from app.services.window_desk import Desk, TransferTargets
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.testids import tid
from components.texts import error_text, t
from components.window_current import current_ticket
from components.window_dialogs import (
    CaseEmailDialog,
    GuardianDialog,
    GuardianGrant,
    LinkDialog,
    ParkDialog,
    TransferDialog,
)
from components.window_green import GreenCard
from components.window_hall_transfer import HallTransferDialog
from components.window_side import OutOfOrderCard, parked_card, queue_card, state_card
from components.window_ticket_hall import TicketHallDialog
from components.window_waiting_hall import WaitingToHallCard
from twin.hall import HallTwin

Operation = Callable[[Principal], Awaitable[Any]]


class Rechecked(Protocol):
    """The page's staff session (pages.guard.StaffSession): who is acting, asked again before each action."""

    principal: Principal  # as of the last check: enough to ask what to show, never to act

    async def recheck(self) -> Principal | None: ...


class WindowScreen:
    def __init__(
        self,
        staff: Rechecked,
        desk: Desk,
        targets: TransferTargets,
        twin: HallTwin,
        *,
        queue: QueueService,
        journey: Journey,
        handoffs: TicketHandoffService,
        accounts: CitizenAccountService,
        db: Database,
        cipher: FieldCipher,
        client_address: str,
    ) -> None:
        self.queue = queue
        self.journey = journey
        self.handoffs = handoffs
        self.accounts = accounts
        self.db = db
        self.cipher = cipher
        self.staff = staff
        self.desk = desk
        self.window_id = desk.window.id or 0
        self.twin = twin
        self.client_address = client_address
        self._reloading = asyncio.Lock()
        self._wanted = self._drawn = 0
        self.transfer_dialog = TransferDialog(targets, own_window_id=self.window_id)
        self.park_dialog = ParkDialog()
        self.guardian_dialog = GuardianDialog()
        self.link_dialog = LinkDialog()
        self.case_email_dialog = CaseEmailDialog()
        self.hall_dialog = HallTransferDialog()
        self.ticket_hall_dialog = TicketHallDialog()
        with ui.row().classes('w-full gap-4 items-start'):  # side by side on a desk; stacked on a phone
            self.main = tid(ui.card(), 'desk-current').classes('flex-grow basis-[30rem] p-5 gap-4 min-w-0')
            with ui.column().classes('w-full sm:w-[22rem] shrink-0 gap-3'):
                self.state_box = ui.column().classes('w-full')
                queue_card(desk.services, twin.queues)
                self.parked_box = ui.column().classes('w-full')
                self.out_of_order = OutOfOrderCard(self.call_out_of_order)
                GreenCard(self.mark_green)
                self.waiting_hall = WaitingToHallCard(
                    self.send_to_hall, lambda: handoffs.waiting_to_send(self.staff.principal)
                )
        self.render()

    # ---- rendering ---------------------------------------------------------------------------

    def render(self) -> None:
        self.main.clear()
        with self.main:
            self._render_main()
        busy = self.desk.current is not None
        self.state_box.clear()
        with self.state_box:
            state_card(self.twin.windows.get(self.window_id), self.desk.window.state, self.set_state)
        self.parked_box.clear()
        with self.parked_box:
            parked_card(self.desk.parked, self.resume, can_resume=not busy)
        self.out_of_order.set_enabled(not busy)

    def _render_main(self) -> None:
        current = self.desk.current
        if current is None:
            with ui.column().classes('w-full items-center gap-3 py-10'):
                tid(ui.label(t('desk.idle')), 'desk-idle').classes('text-2xl text-grey-7')
                ui.label(t('desk.idle_hint')).classes('text-grey-7')
                call = tid(ui.button(t('desk.call_next'), on_click=self.call_next), 'desk-call-next')
                call.props('unelevated size=xl icon=campaign')
                window = self.twin.windows.get(self.window_id)
                if window is not None:  # outside its own hours the service refuses; the button says so first
                    call.bind_enabled_from(window, 'off_hours', backward=lambda off: not off)
            return
        current_ticket(current, self.unmask if current.citizen is not None else None)
        with ui.row().classes('w-full gap-2 pt-2'):
            tid(ui.button(t('desk.recall'), on_click=self.recall), 'desk-recall').props('outline icon=replay')
            tid(ui.button(t('desk.no_show'), on_click=self.no_show), 'desk-no-show').props('outline icon=person_off')
            tid(ui.button(t('desk.transfer'), on_click=self.transfer), 'desk-transfer').props('outline icon=swap_horiz')
            tid(ui.button(t('desk.park'), on_click=self.park), 'desk-park').props('outline icon=pause_circle')
            case = tid(ui.button(t('desk.open_case'), on_click=self.create_case), 'desk-open-case')
            case.props('outline icon=folder_open')
            email = tid(ui.button(t('desk.case_email'), on_click=self.case_email), 'desk-case-email')
            email.props('outline icon=mail')
            moved = tid(ui.button(t('desk.case_hall'), on_click=self.case_to_hall), 'desk-case-hall')
            moved.props('outline icon=domain')
            sent = tid(ui.button(t('desk.ticket_hall'), on_click=self.ticket_to_hall), 'desk-ticket-hall')
            sent.props('outline icon=alt_route')
            if current.citizen is not None:
                grant = tid(ui.button(t('desk.grant_data'), on_click=self.grant_in_person), 'desk-grant-data')
                grant.props('outline icon=how_to_reg')
            if current.citizen is not None and current.citizen.age is not None and current.citizen.age < MINOR_AGE:
                guardian = tid(ui.button(t('desk.guardian'), on_click=self.guardian), 'desk-guardian')
                guardian.props('outline icon=family_restroom color=deep-orange')
            if current.account is not None and not current.account.linked:
                link = tid(ui.button(t('desk.link'), on_click=self.link_account), 'desk-link')
                link.props('outline icon=phonelink_lock')
            ui.space()
            tid(ui.button(t('desk.complete'), on_click=self.complete), 'desk-complete').props(
                'unelevated color=positive icon=task_alt'
            )

    async def reload(self) -> None:
        """Re-read and redraw; reloads run one at a time, so a slow earlier read never overwrites a newer one."""
        self._wanted += 1
        async with self._reloading:
            if self._drawn >= self._wanted:
                return  # a reload that started after this request has already drawn the newer state
            wanted = self._wanted
            desk = await window_desk.load_desk(self.db, self.cipher, self.queue, self.window_id)
            if self.main.is_deleted:  # the page ended (logout, timeout) during the read: it shows nothing more
                return
            self.desk = desk
            self._drawn = wanted
            self.render()

    # ---- actions -----------------------------------------------------------------------------

    async def act(self, operation: Operation, done: Callable[[Any], str] | None = None) -> bool:
        """Recheck the session (logout, timeout, moved to another window), then run; errors become notices."""
        try:
            principal = await self.staff.recheck()
        except StorageUnavailable as error:  # the database is away: say so, keep the screen as it is
            ui.notify(error_text(error), type='negative', multi_line=True)
            return False
        if principal is None:
            return False
        try:
            window_desk.check_window(principal, self.window_id)
            result = await operation(principal)
        except DomainError as error:
            ui.notify(error_text(error), type='negative', multi_line=True)
            with contextlib.suppress(StorageUnavailable):  # a database that is away cannot be re-read either
                await self.reload()
            return False
        if done is not None:
            ui.notify(done(result), type='positive')
        await self.reload()
        return True

    def _ticket(self, key: str) -> Callable[[Any], str]:
        return lambda view: t(key, number=view.ticket.number)

    async def call_next(self) -> None:
        queue = self.queue
        await self.act(lambda p: queue.call_next(self.window_id, caller=p), self._ticket('desk.done.called'))

    async def recall(self) -> None:
        queue = self.queue
        await self.act(lambda p: queue.recall(self.window_id, caller=p), self._ticket('desk.done.recalled'))

    async def no_show(self) -> None:
        queue = self.queue
        await self.act(lambda p: queue.no_show(self.window_id, caller=p), self._ticket('desk.done.no_show'))

    async def complete(self) -> None:
        queue = self.queue
        await self.act(lambda p: queue.complete(self.window_id, caller=p), self._ticket('desk.done.completed'))

    async def transfer(self) -> None:
        if self.desk.current is None:
            return
        choice = await self.transfer_dialog.ask(self.desk.current.view.ticket.number)
        if choice is None:
            return
        await self.act(
            lambda p: window_desk.transfer(
                self.queue,
                self.window_id,
                to_service_code=choice.service_code,
                to_window_id=choice.window_id,
                reason=choice.reason,
                caller=p,
            ),
            self._ticket('desk.done.transferred'),
        )

    async def park(self) -> None:
        if self.desk.current is None:
            return
        reason = await self.park_dialog.ask(self.desk.current.view.ticket.number)
        if reason is None:
            return
        queue = self.queue
        await self.act(lambda p: queue.park(self.window_id, reason=reason, caller=p), self._ticket('desk.done.parked'))

    async def resume(self, number: str) -> None:
        queue = self.queue
        await self.act(lambda p: queue.resume(self.window_id, number, caller=p), self._ticket('desk.done.called'))

    async def call_out_of_order(self, number: str, reason: str) -> bool:
        return await self.act(
            lambda p: window_desk.call_out_of_order(self.queue, self.window_id, number, reason=reason, principal=p),
            self._ticket('desk.done.called'),
        )

    async def mark_green(self, number: str, reason: str) -> bool:
        queue = self.queue
        return await self.act(
            lambda p: queue.mark_green(self.window_id, number, reason=reason, caller=p), self._ticket('desk.green.done')
        )

    async def set_state(self, state: WindowState) -> None:
        queue = self.queue
        await self.act(
            lambda p: queue.set_window_state(self.window_id, state, caller=p), lambda _: t('desk.done.state')
        )

    async def create_case(self) -> None:
        current, cases = self.desk.current, self.journey.cases
        if current is None:
            return
        code = current.view.ticket.code
        await self.act(
            lambda p: cases.open_case(ticket_code=code, answers=dict(current.answers), actor=p.name),
            lambda case: t('desk.case_opened', code=case.id),  # its number: the code is the citizen's secret
        )

    async def case_email(self) -> None:
        """The business's email for the case of this ticket; the case service checks it and stores it encrypted."""
        current, cases = self.desk.current, self.journey.cases
        if current is None:
            return
        typed = await self.case_email_dialog.ask(current.view.ticket.number)
        if typed is None:
            return
        code = current.view.ticket.code
        await self.act(
            lambda p: cases.set_contact_email(code, typed, caller=p),
            lambda masked: t('desk.case_email.saved', email=masked) if masked else t('desk.case_email.removed'),
        )

    async def case_to_hall(self) -> None:
        """跨区通办: the case of this ticket goes to another hall of the city; the transfer service decides."""
        current, transfers = self.desk.current, self.journey.transfers
        if current is None:
            return
        halls = await transfers.other_halls()
        if not halls:
            ui.notify(t('desk.case_hall.none'), type='warning')
            return
        choice = await self.hall_dialog.ask(current.view.ticket.number, halls)
        if choice is None:
            return
        code, names = current.view.ticket.code, {hall.id: hall.name for hall in halls}
        await self.act(
            lambda p: transfers.transfer(ticket_code=code, to_hall_id=choice.hall_id, reason=choice.reason, caller=p),
            lambda view: t('desk.case_hall.done', case=view.id, hall=names.get(view.case.hall_id, '')),
        )

    async def ticket_to_hall(self) -> None:
        """跨区通办 of the ticket being served: another hall issues it a number of its own."""
        if self.desk.current is not None:
            await self.send_to_hall(self.desk.current.view.ticket.number)

    async def send_to_hall(self, number: str) -> bool:
        """跨区通办 of ticket `number` of this hall (the one served here, or a waiting one picked by its number): the
        dialog asks where to; the handoff service decides whether it may go."""
        number = number.strip().upper()
        if not number:  # nothing typed yet: no dialog, say what is missing
            ui.notify(t('desk.waiting_hall.number'), type='warning')
            return False
        handoffs = self.handoffs
        destinations = await handoffs.destinations()
        if not destinations:
            ui.notify(t('desk.case_hall.none'), type='warning')
            return False
        choice = await self.ticket_hall_dialog.ask(number, destinations)
        if choice is None:
            return False

        async def send(p: Principal) -> HandoffView:
            sent = await handoffs.send(
                number,
                to_hall_code=choice.hall_code,
                to_service_code=choice.service_code,
                reason=choice.reason,
                caller=p,
            )
            return await handoffs.wait_applied(sent.id, within=SENDER_WAIT)

        def done(view: HandoffView) -> str:
            if view.new_number is None:
                return t('desk.ticket_hall.pending', number=view.from_number, hall=view.to_hall)
            return t('desk.ticket_hall.done', number=view.from_number, hall=view.to_hall, new=view.new_number)

        return await self.act(send, done)

    async def grant_in_person(self) -> None:
        """The citizen here agrees to 调取部门数据 in person; recorded as this clerk's act, never as the citizen's."""
        current, journey = self.desk.current, self.journey
        if current is None:
            return
        ticket_id, service_code = current.view.ticket.id or 0, current.view.service.code
        await self.act(
            lambda p: window_desk.grant_in_person(journey.tracking, journey.consent, p, ticket_id, service_code),
            lambda _: t('desk.granted_data'),
        )

    async def guardian(self) -> None:
        """A minor's guardian, present, consents or withdraws; recorded and audited as this clerk's act."""
        current, journey = self.desk.current, self.journey
        if current is None:
            return
        ticket_id, service_code = current.view.ticket.id or 0, current.view.service.code
        consents: list[ConsentPublic] = []

        async def list_consents(principal: Principal) -> None:
            consents.extend(await window_desk.ticket_consents(journey.tracking, journey.consent, principal, ticket_id))

        listed = await self.act(list_consents)
        if not listed:
            return
        choice = await self.guardian_dialog.ask(current.view.ticket.number, consents)
        if isinstance(choice, GuardianGrant):
            await self.act(
                lambda p: window_desk.grant_for_guardian(
                    journey.tracking,
                    journey.consent,
                    p,
                    ticket_id,
                    choice.purpose,
                    choice.guardian,
                    service_code=service_code,
                ),
                lambda _: t('desk.guardian.granted'),
            )
        elif choice is not None:
            await self.act(
                lambda p: window_desk.revoke_in_person(
                    journey.tracking, journey.consent, p, ticket_id, choice.consent_id
                ),
                lambda _: t('desk.guardian.revoked'),
            )

    async def link_account(self) -> None:
        """The phone this ticket came from becomes the citizen's own, the citizen present; audited as this clerk."""
        current, journey, accounts = self.desk.current, self.journey, self.accounts
        if current is None or current.account is None:
            return
        account = current.account
        typed = await self.link_dialog.ask(current.view.ticket.number, account, current.citizen)
        if typed is None:
            return
        ticket_id = current.view.ticket.id or 0

        def done(linked: Linked) -> str:
            return t('desk.link.already') if linked.already else t('desk.link.done', phone=account.phone_masked)

        await self.act(
            lambda p: window_desk.link_account(journey.tracking, accounts, p, ticket_id, typed),
            done,
        )

    async def unmask(self) -> None:
        """Full details only with a reason; the service checks the task and audits every attempt."""
        current = self.desk.current
        if current is None or current.view.ticket.citizen_id is None:
            return
        citizen_id = current.view.ticket.citizen_id
        with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes('w-96 gap-3'):
            ui.label(t('desk.unmask')).classes('text-lg font-bold')
            ui.label(t('desk.unmask.hint')).classes('text-sm text-grey-8')
            reason = tid(ui.input(t('desk.unmask.reason')), 'desk-unmask-reason').props('maxlength=200')
            reason.classes('w-full')
            shown = tid(ui.column(), 'desk-unmasked').classes('gap-1 text-sm font-mono')

            async def reveal() -> None:
                principal = await self.staff.recheck()
                if principal is None:
                    return
                try:
                    values = await unmask_citizen(
                        self.db,
                        self.cipher,
                        principal,
                        citizen_id,
                        fields=['name', 'id_number', 'phone'],
                        reason=reason.value or '',
                        now=utcnow(),
                        client_address=self.client_address,
                    )
                except DomainError as error:
                    ui.notify(error_text(error), type='negative', multi_line=True)
                    return
                shown.clear()
                with shown:
                    for key in ('name', 'id_number', 'phone'):
                        ui.label(f'{t("desk." + key)}  {values.get(key) or "—"}')

            with ui.row().classes('w-full justify-end'):
                ui.button(t('desk.unmask.close'), on_click=dialog.close).props('flat')
                tid(ui.button(t('desk.unmask.show'), on_click=reveal), 'desk-unmask-show').props('unelevated')
        dialog.on('hide', dialog.delete)
        dialog.open()

    # ---- pushed changes ----------------------------------------------------------------------

    async def on_twin_change(self, event: Event) -> None:
        if isinstance(event, TicketEventBase):  # a ticket taken, called or sent anywhere in the hall
            await self.waiting_hall.refresh()
        if self._concerns_me(event):
            await self.reload()

    def _concerns_me(self, event: Event) -> bool:
        if isinstance(event, WindowChanged):
            return event.payload.id == self.window_id
        if isinstance(event, TicketEventBase):
            ticket = event.payload
            if isinstance(event, TicketTransferred) and event.from_window_id == self.window_id:
                return True
            return self.window_id in (ticket.window_id, ticket.target_window_id)
        return False
