"""/admin's staff accounts: every person with role, window, department and state; add, change, disable or
enable, and a password reset whose one-time password is shown once.

It draws and forwards only: StaffAdminService decides who may do what (admins; never the last admin or
oneself away) and gets the admin's principal fresh from `caller()` before every action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.events import StaffChanged
from app.models.people import STAFF_ROLES, Role
from app.services.errors import DomainError
from app.services.principal import Principal
from app.services.staff_admin import PasswordIssued, StaffAccount, StaffAdminService
from components import admin_staff_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import error_text, t

Caller = Callable[[], Awaitable[Principal | None]]
COLUMNS = ('person', 'role', 'window', 'department', 'state')
_WIDTHS = ('w-40 shrink-0', 'w-24 shrink-0', 'w-20 shrink-0', 'w-28 shrink-0', 'w-36 shrink-0')


def role_label(role: Role) -> str:
    return t(f'admin.staff.role.{role}')


class StaffPanel:
    def __init__(self, staff: StaffAdminService, caller: Caller) -> None:
        self.staff = staff
        self.caller = caller
        self.windows: dict[int, str] = {}
        self.departments: dict[str, str] = {}
        with tid(ui.card(), 'admin-staff').classes('w-full p-4 gap-3'):
            with ui.row().classes('w-full items-center justify-between'):
                ui.label(t('admin.staff')).classes('text-lg font-bold')
                add = tid(ui.button(t('admin.staff.add'), on_click=self.open_add), 'admin-staff-add')
                add.props('unelevated icon=person_add')
            ui.label(t('admin.staff.hint')).classes('text-sm text-grey-7')
            self.rows = ui.column().classes('w-full gap-0')
        self.password_dialog = ui.dialog()
        self.password_dialog.on('hide', self.password_dialog.clear)  # a closed dialog keeps no password

    async def refresh(self) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            accounts = await self.staff.accounts(caller)
            self.windows = dict(await self.staff.windows(caller))
            self.departments = dict(await self.staff.departments(caller))
        except DomainError as error:
            ui.notify(error_text(error), type='negative')
            return
        self.rows.clear()
        with self.rows:
            if not accounts:
                ui.label(t('admin.staff.none')).classes('text-grey-7')
                return
            with ui.row().classes('w-full gap-4 px-3 py-1 text-sm text-grey-7 no-wrap'):
                for column, width in zip(COLUMNS, _WIDTHS, strict=True):
                    ui.label(t(f'admin.staff.col.{column}')).classes(width)
            for account in accounts:
                self._row(account)

    async def on_changed(self, event: StaffChanged) -> None:
        """Another admin, another process or the CLI changed an account: redraw the list as it now stands."""
        await self.refresh()

    def _row(self, account: StaffAccount) -> None:
        name = account.username
        row = tid(ui.row(), f'admin-staff-{name}')
        with row.classes('w-full items-center gap-4 border-t border-gray-200 px-3 py-2 no-wrap'):
            with ui.column().classes(f'gap-0 {_WIDTHS[0]}'):
                ui.label(account.display_name).classes('font-bold')
                ui.label(name).classes('text-sm text-grey-7 font-mono')
            tid(ui.label(role_label(account.role)), f'admin-staff-{name}-role').classes(_WIDTHS[1])
            window = t('admin.staff.window', number=account.window_number) if account.window_number else '—'
            tid(ui.label(window), f'admin-staff-{name}-window').classes(_WIDTHS[2])
            ui.label(account.department_name or '—').classes(_WIDTHS[3])
            with ui.row().classes(f'gap-1 {_WIDTHS[4]}'):
                state = f'admin-staff-{name}-state'
                if account.active:
                    tid(ui.badge(t('admin.staff.active'), color='positive'), state)
                else:
                    tid(ui.badge(t('admin.staff.disabled'), color='grey-7'), state)
                if account.locked:
                    tid(ui.badge(t('admin.staff.locked'), color='warning'), state)
                if account.must_change_password:
                    tid(ui.badge(t('admin.staff.must_change'), color='info'), state)
            with ui.row().classes('gap-1 no-wrap ml-auto'):
                edit = tid(ui.button(t('admin.staff.edit')), f'admin-staff-{name}-edit')
                edit.props('flat dense icon=edit').on_click(lambda a=account: self.open_change(a))
                reset = tid(ui.button(t('admin.staff.reset')), f'admin-staff-{name}-reset')
                reset.props('flat dense icon=key').on_click(lambda a=account: self.confirm_reset(a))
                if account.second_factor:
                    factor = tid(ui.button(t('admin.staff.reset_2fa')), f'admin-staff-{name}-reset-2fa')
                    factor.props('flat dense icon=phonelink_erase').on_click(
                        lambda a=account: self.confirm_reset_second_factor(a)
                    )
                if account.active:
                    off = tid(ui.button(t('admin.staff.disable')), f'admin-staff-{name}-disable')
                    off.props('flat dense color=negative icon=block').on_click(
                        lambda a=account: self.confirm_disable(a)
                    )
                else:
                    on = tid(ui.button(t('admin.staff.enable')), f'admin-staff-{name}-enable')
                    on.props('flat dense color=positive icon=check_circle').on_click(lambda a=account: self.enable(a))

    # ---- dialogs ---------------------------------------------------------------------------------

    def _choices(self, account: StaffAccount | None) -> tuple[ui.select, ui.select, ui.select]:
        roles = {role.value: role_label(role) for role in STAFF_ROLES}
        windows = {number: t('admin.staff.window', number=number) for number in self.windows}
        role = tid(ui.select(roles, label=t('admin.staff.field.role')), 'admin-staff-field-role').classes('w-full')
        role.set_value(account.role.value if account else Role.STAFF.value)
        window = tid(
            ui.select(windows, label=t('admin.staff.field.window'), clearable=True), 'admin-staff-field-window'
        ).classes('w-full')
        window.set_value(account.window_number if account else None)
        department = tid(
            ui.select(self.departments, label=t('admin.staff.field.department'), clearable=True),
            'admin-staff-field-department',
        ).classes('w-full')
        department.set_value(account.department_code if account else None)
        return role, window, department

    def open_add(self) -> None:
        with ui.dialog() as dialog, tid(ui.card(), 'admin-staff-add-dialog').classes('p-6 gap-3 w-[28rem]'):
            ui.label(t('admin.staff.add.title')).classes('text-lg font-bold')
            username = tid(ui.input(t('admin.staff.username')), 'admin-staff-field-username').classes('w-full')
            display = tid(ui.input(t('admin.staff.display_name')), 'admin-staff-field-name').classes('w-full')
            role, window, department = self._choices(None)
            error = tid(ui.label(), 'admin-staff-error').classes('text-negative text-sm')

            async def save() -> None:
                caller = await self.caller()
                if caller is None:
                    return
                try:
                    issued = await self.staff.add(
                        caller,
                        username=username.value or '',
                        display_name=display.value or '',
                        role=Role(role.value),
                        window_number=window.value,
                        department_code=department.value,
                    )
                except DomainError as failure:
                    error.set_text(error_text(failure))
                    return
                dialog.close()
                ui.notify(t('admin.staff.added', name=issued.account.display_name), type='positive')
                self._show_password(issued)
                await self.refresh()

            self._buttons(dialog, save)
        dialog.on('hide', dialog.delete)
        dialog.open()

    def open_change(self, account: StaffAccount) -> None:
        with ui.dialog() as dialog, tid(ui.card(), 'admin-staff-edit-dialog').classes('p-6 gap-3 w-[28rem]'):
            ui.label(t('admin.staff.edit.title', name=account.display_name)).classes('text-lg font-bold')
            ui.label(t('admin.staff.edit.note')).classes('text-sm text-grey-7')
            role, window, department = self._choices(account)
            error = tid(ui.label(), 'admin-staff-error').classes('text-negative text-sm')

            async def save() -> None:
                caller = await self.caller()
                if caller is None:
                    return
                try:
                    changed = await self.staff.change(
                        caller,
                        account.username,
                        role=Role(role.value),
                        window_number=window.value,
                        department_code=department.value,
                    )
                except DomainError as failure:
                    error.set_text(error_text(failure))
                    return
                dialog.close()
                ui.notify(t('admin.staff.changed.done', name=changed.display_name), type='positive')
                await self.refresh()

            self._buttons(dialog, save)
        dialog.on('hide', dialog.delete)
        dialog.open()

    @staticmethod
    def _buttons(dialog: ui.dialog, save: Callable[[], Awaitable[None]]) -> None:
        with ui.row().classes('w-full justify-end gap-2'):
            tid(ui.button(t('admin.staff.cancel'), on_click=dialog.close), 'admin-staff-cancel').props('flat')
            tid(ui.button(t('admin.staff.save'), on_click=save), 'admin-staff-save').props('unelevated')

    def _confirm(self, testid: str, title: str, body: str, label: str, action: Callable[[], Awaitable[None]]) -> None:
        with ui.dialog() as dialog, tid(ui.card(), testid).classes('p-6 gap-4'):
            ui.label(title).classes('font-bold')
            ui.label(body).classes('text-sm max-w-[30rem]')

            async def confirmed() -> None:
                dialog.close()
                await action()

            with ui.row().classes('w-full justify-end gap-2'):
                tid(ui.button(t('admin.staff.cancel'), on_click=dialog.close), 'admin-staff-cancel').props('flat')
                confirm = tid(ui.button(label, on_click=confirmed), 'admin-staff-confirm')
                confirm.props('unelevated color=negative')
        dialog.on('hide', dialog.delete)
        dialog.open()

    def confirm_disable(self, account: StaffAccount) -> None:
        title = t('admin.staff.disable.title', name=account.display_name)
        self._confirm(
            'admin-staff-disable-dialog',
            title,
            t('admin.staff.disable.body'),
            t('admin.staff.disable'),
            lambda: self.disable(account),
        )

    def confirm_reset(self, account: StaffAccount) -> None:
        title = t('admin.staff.reset.title', name=account.display_name)
        self._confirm(
            'admin-staff-reset-dialog',
            title,
            t('admin.staff.reset.body'),
            t('admin.staff.reset'),
            lambda: self.reset(account),
        )

    def confirm_reset_second_factor(self, account: StaffAccount) -> None:
        self._confirm(
            'admin-staff-reset-2fa-dialog',
            t('admin.staff.reset_2fa.title', name=account.display_name),
            t('admin.staff.reset_2fa.body'),
            t('admin.staff.reset_2fa'),
            lambda: self.reset_second_factor(account),
        )

    def _show_password(self, issued: PasswordIssued) -> None:
        if issued.one_time_password is None:
            return
        self.password_dialog.clear()
        with self.password_dialog, tid(ui.card(), 'admin-staff-password-dialog').classes('p-6 gap-4 items-center'):
            name = issued.account.display_name
            ui.label(t('admin.staff.password.title', name=name)).classes('text-lg font-bold')
            shown = tid(ui.label(issued.one_time_password), 'admin-staff-password')
            shown.classes('font-mono font-bold text-primary text-3xl select-all')
            ui.label(t('admin.staff.password.how')).classes('text-sm max-w-[28rem]')
            close = tid(
                ui.button(t('admin.staff.password.close'), on_click=self._close_password),
                'admin-staff-password-close',
            )
            close.props('flat')
        self.password_dialog.open()

    def _close_password(self) -> None:
        """Closed by the button: the password leaves the page at once (Esc or a click outside: on 'hide')."""
        self.password_dialog.close()
        self.password_dialog.clear()

    # ---- actions ---------------------------------------------------------------------------------

    async def _act(self, action: Callable[[Principal], Awaitable[str]]) -> None:
        caller = await self.caller()
        if caller is None:
            return
        try:
            done = await action(caller)
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
        else:
            if done:
                ui.notify(done, type='positive')
        await self.refresh()

    async def disable(self, account: StaffAccount) -> None:
        async def act(caller: Principal) -> str:
            await self.staff.disable(caller, account.username)
            return t('admin.staff.disabled.done', name=account.display_name)

        await self._act(act)

    async def enable(self, account: StaffAccount) -> None:
        async def act(caller: Principal) -> str:
            await self.staff.enable(caller, account.username)
            return t('admin.staff.enabled.done', name=account.display_name)

        await self._act(act)

    async def reset_second_factor(self, account: StaffAccount) -> None:
        async def act(caller: Principal) -> str:
            await self.staff.reset_second_factor(caller, account.username)
            return t('admin.staff.reset_2fa.done', name=account.display_name)

        await self._act(act)

    async def reset(self, account: StaffAccount) -> None:
        async def act(caller: Principal) -> str:
            self._show_password(await self.staff.reset_password(caller, account.username))
            return ''

        await self._act(act)
