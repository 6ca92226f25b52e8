"""The desk's questions: where to transfer a ticket (and why), why it is parked, and a minor's guardian consent."""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from app.models.people import CitizenPublic
from app.models.security import ConsentPublic, ConsentPurpose
from app.services.citizen_accounts import TicketAccount
from app.services.consent import GUARDIAN_RELATIONS, Guardian
from app.services.window_desk import TransferTargets
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.testids import tid
from components.texts import t


@dataclass(frozen=True)
class TransferChoice:
    service_code: str | None
    window_id: int | None
    reason: str


class TransferDialog:
    """Built once per page; `ask` opens it for the current ticket and returns the choice (None if cancelled)."""

    def __init__(self, targets: TransferTargets, *, own_window_id: int) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[32rem] gap-3 p-6'):
            self.title = ui.label().classes('text-lg font-bold')
            services = {s.code: f'{s.name} ({s.code})' for s in targets.services}
            windows = {w.id: w.name for w in targets.windows if w.id != own_window_id}
            self.service = tid(
                ui.select(services, label=t('desk.transfer.service'), clearable=True), 'transfer-service'
            )
            self.service.classes('w-full')
            self.window = tid(ui.select(windows, label=t('desk.transfer.window'), clearable=True), 'transfer-window')
            self.window.classes('w-full')
            self.reason = tid(ui.input(t('desk.reason')), 'transfer-reason').classes('w-full').props('maxlength=200')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('desk.cancel'), on_click=lambda: self.dialog.submit(None)).props('flat')
                tid(ui.button(t('desk.ok'), on_click=self._submit), 'transfer-ok').props('unelevated')

    def _submit(self) -> None:
        self.dialog.submit(TransferChoice(self.service.value or None, self.window.value or None, self.reason.value))

    async def ask(self, number: str) -> TransferChoice | None:
        self.title.set_text(t('desk.transfer.title', number=number))
        self.service.set_value(None)
        self.window.set_value(None)
        self.reason.set_value('')
        return await self.dialog


class ParkDialog:
    def __init__(self) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[28rem] gap-3 p-6'):
            self.title = ui.label().classes('text-lg font-bold')
            self.reason = tid(ui.input(t('desk.reason_optional')), 'park-reason').classes('w-full')
            self.reason.props('maxlength=200')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('desk.cancel'), on_click=lambda: self.dialog.submit(None)).props('flat')
                tid(ui.button(t('desk.ok'), on_click=lambda: self.dialog.submit(self.reason.value or '')), 'park-ok')

    async def ask(self, number: str) -> str | None:
        self.title.set_text(t('desk.park.title', number=number))
        self.reason.set_value('')
        return await self.dialog


class CaseEmailDialog:
    """A business applicant's email for its case notices; '' removes it. The case service checks the address."""

    def __init__(self) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[28rem] max-w-full gap-3 p-6'):
            self.title = ui.label().classes('text-lg font-bold')
            ui.label(t('desk.case_email.hint')).classes('text-sm text-grey-8')
            self.email = tid(ui.input(t('desk.case_email.label')), 'case-email-input').classes('w-full')
            self.email.props('type=email maxlength=254 autocomplete=off')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('desk.cancel'), on_click=lambda: self.dialog.submit(None)).props('flat')
                ok = tid(
                    ui.button(t('desk.ok'), on_click=lambda: self.dialog.submit(self.email.value or '')),
                    'case-email-ok',
                )
                ok.props('unelevated')

    async def ask(self, number: str) -> str | None:
        self.title.set_text(t('desk.case_email.title', number=number))
        self.email.set_value('')
        return await self.dialog


@dataclass(frozen=True)
class GuardianGrant:
    purpose: ConsentPurpose
    guardian: Guardian


@dataclass(frozen=True)
class GuardianRevoke:
    consent_id: int


class GuardianDialog:
    """A minor's guardian, present, consents (刷脸 or 调取部门数据) or withdraws a consent of this ticket.

    The dialog only asks; the consent service decides (adult, valid ID number, relation, under 14).
    """

    def __init__(self) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[32rem] max-w-full gap-3 p-6'):
            self.title = ui.label().classes('text-lg font-bold')
            ui.label(t('desk.guardian.hint')).classes('text-sm text-grey-8')
            purposes = {
                p.value: t(f'desk.guardian.purpose.{p.value}')
                for p in (ConsentPurpose.FACE_TICKET, ConsentPurpose.DEPARTMENT_DATA)
            }
            self.purpose = tid(ui.select(purposes, label=t('desk.guardian.purpose')), 'guardian-purpose')
            self.purpose.classes('w-full')
            self.id_number = tid(ui.input(t('desk.guardian.id_number')), 'guardian-id-number').classes('w-full')
            self.id_number.props('maxlength=18 autocomplete=off')
            self.relation = tid(ui.select(GUARDIAN_RELATIONS, label=t('desk.guardian.relation')), 'guardian-relation')
            self.relation.classes('w-full')
            self.existing = tid(ui.column(), 'guardian-consents').classes('w-full gap-1')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('desk.cancel'), on_click=lambda: self.dialog.submit(None)).props('flat')
                tid(ui.button(t('desk.guardian.record'), on_click=self._submit), 'guardian-ok').props('unelevated')

    def _submit(self) -> None:
        purpose = self.purpose.value
        if not purpose:
            ui.notify(t('desk.guardian.choose_purpose'), type='warning')
            return
        guardian = Guardian((self.id_number.value or '').strip(), self.relation.value or '')
        self.dialog.submit(GuardianGrant(ConsentPurpose(purpose), guardian))

    def _show(self, consents: list[ConsentPublic]) -> None:
        self.existing.clear()
        live = [c for c in consents if c.revoked_at is None and c.purpose != ConsentPurpose.PROXY]
        with self.existing:
            for consent in live:
                with ui.row().classes('w-full items-center justify-between no-wrap'):
                    who = GUARDIAN_RELATIONS.get(consent.guardian_relation or '', t('desk.guardian.self'))
                    ui.label(f'{t(f"desk.guardian.purpose.{consent.purpose}")} · {who}').classes('text-sm')
                    button = ui.button(
                        t('desk.guardian.revoke'),
                        on_click=lambda _, cid=consent.id: self.dialog.submit(GuardianRevoke(cid)),
                    )
                    tid(button, f'guardian-revoke-{consent.id}').props('outline dense no-caps color=negative')

    async def ask(self, number: str, consents: list[ConsentPublic]) -> GuardianGrant | GuardianRevoke | None:
        self.title.set_text(t('desk.guardian.title', number=number))
        self.purpose.set_value(None)
        self.id_number.set_value('')
        self.relation.set_value(None)
        self._show(consents)
        return await self.dialog


class LinkDialog:
    """Link the phone account a ticket came from to the citizen present: one confirmation when the ticket
    already has an ID number, otherwise the number the clerk reads from the card. The service decides."""

    def __init__(self) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[32rem] max-w-full gap-3 p-6'):
            self.title = ui.label().classes('text-lg font-bold')
            self.hint = tid(ui.label(), 'link-hint').classes('text-sm text-grey-8')
            self.citizen = tid(ui.label(), 'link-citizen').classes('font-mono')
            self.id_number = tid(ui.input(t('desk.link.id_number')), 'link-id-number').classes('w-full')
            self.id_number.props('maxlength=18 autocomplete=off')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('desk.cancel'), on_click=lambda: self.dialog.submit(None)).props('flat')
                ok = ui.button(
                    t('desk.link.ok'), on_click=lambda: self.dialog.submit((self.id_number.value or '').strip())
                )
                tid(ok, 'link-ok').props('unelevated icon=link')

    async def ask(self, number: str, account: TicketAccount, citizen: CitizenPublic | None) -> str | None:
        """The typed ID number ('' when the ticket's own citizen is confirmed), or None if cancelled."""
        identified = citizen is not None and bool(citizen.id_number_masked)
        self.title.set_text(t('desk.link.title', number=number))
        self.hint.set_text(t('desk.link.hint', phone=account.phone_masked))
        if citizen is not None and identified:
            self.citizen.set_text(
                t('desk.link.citizen', name=citizen.name_masked or '', id_number=citizen.id_number_masked)
            )
        self.citizen.set_visibility(identified)
        self.id_number.set_value('')
        self.id_number.set_visibility(not identified)
        return await self.dialog
