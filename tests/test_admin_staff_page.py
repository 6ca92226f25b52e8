"""/admin's staff tab in NiceGUI's simulated browser: an admin adds, changes, disables, enables and resets people."""

from __future__ import annotations

import os

import pytest
from nicegui import ui
from nicegui.testing import User

from app.models.people import Role
from app.runtime import Runtime
from app.services.errors import Unauthorized
from app.services.principal import Principal
from app.settings import get_settings
from tests.admin_ui import add_admin, open_admin
from tests.factories import SmallHall

PATIENT = 50


@pytest.fixture
async def staff_ui(ui_hall: SmallHall, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    """The small hall (clerk w01 at window 1, manager boss) with an enrolled admin."""
    await add_admin(os.environ['DATABASE_URL'])
    monkeypatch.setenv('HALL_SIMULATION', 'off')
    get_settings.cache_clear()
    return ui_hall


async def staff_tab(user: User) -> Runtime:
    """Sign in as the admin, open /admin and its staff tab."""
    rt = await open_admin(user)
    (tabs,) = user.find(marker='admin-tabs').elements
    assert isinstance(tabs, ui.tabs)
    tabs.set_value('staff')
    await user.should_see(marker='admin-staff-w01', retries=PATIENT)
    return rt


def set_value(user: User, marker: str, value: object) -> None:
    (element,) = user.find(marker=marker).elements
    assert isinstance(element, ui.input | ui.select)
    element.set_value(value)


def shown_password(user: User) -> str:
    (label,) = user.find(marker='admin-staff-password').elements
    assert isinstance(label, ui.label)
    return str(label.text)


async def test_an_admin_adds_a_clerk_and_sees_the_one_time_password_once(staff_ui: SmallHall, user: User) -> None:
    rt = await staff_tab(user)
    await user.should_see(marker='admin-staff-w01-role', content='窗口人员')
    await user.should_see(marker='admin-staff-w01-window', content='1号窗口')
    user.find(marker='admin-staff-add').click()
    await user.should_see(marker='admin-staff-add-dialog', retries=PATIENT)
    set_value(user, 'admin-staff-field-username', 'w01')
    set_value(user, 'admin-staff-field-name', '周七')
    user.find(marker='admin-staff-save').click()
    await user.should_see(
        marker='admin-staff-error', content='用户名 w01 已被使用', retries=PATIENT
    )  # the dialog stays

    set_value(user, 'admin-staff-field-username', 'w07')
    set_value(user, 'admin-staff-field-window', 2)
    user.find(marker='admin-staff-save').click()
    await user.should_see(marker='admin-staff-password', retries=PATIENT)
    one_time = shown_password(user)
    with pytest.raises(Unauthorized) as asked:
        await rt.auth.login('w07', one_time)
    assert asked.value.code == 'password_change_required'
    await user.should_see(marker='admin-staff-w07-window', content='2号窗口', retries=PATIENT)
    await user.should_see(marker='admin-staff-w07-state', content='待设新密码')

    user.find(marker='admin-staff-password-close').click()
    await user.should_not_see(marker='admin-staff-password', retries=PATIENT)
    assert one_time not in str(user.current_layout)  # shown once: nothing of it is left in the page


async def test_an_admin_disables_a_clerk_whose_session_ends_and_enables_them_again(
    staff_ui: SmallHall, user: User
) -> None:
    rt = await staff_tab(user)
    clerk = await rt.auth.login('w01', 'Window-01-pass')
    user.find(marker='admin-staff-w01-disable').click()
    await user.should_see(marker='admin-staff-disable-dialog', retries=PATIENT)
    user.find(marker='admin-staff-confirm').click()
    await user.should_see(marker='admin-staff-w01-state', content='已停用', retries=PATIENT)
    with pytest.raises(Unauthorized):
        await rt.auth.authenticate(clerk.token)

    user.find(marker='admin-staff-w01-enable').click()
    await user.should_see(marker='admin-staff-w01-state', content='在用', retries=PATIENT)
    assert (await rt.auth.login('w01', 'Window-01-pass')).principal.name == 'w01'

    user.find(marker='admin-staff-adm01-disable').click()
    await user.should_see(marker='admin-staff-disable-dialog', retries=PATIENT)
    user.find(marker='admin-staff-confirm').click()
    await user.should_see('不能停用自己的账号', retries=PATIENT)
    await user.should_see(marker='admin-staff-adm01-state', content='在用')


async def test_an_admin_moves_a_clerk_and_resets_a_password(staff_ui: SmallHall, user: User) -> None:
    rt = await staff_tab(user)
    user.find(marker='admin-staff-w01-edit').click()
    await user.should_see(marker='admin-staff-edit-dialog', retries=PATIENT)
    set_value(user, 'admin-staff-field-window', 3)
    user.find(marker='admin-staff-save').click()
    await user.should_see(marker='admin-staff-w01-window', content='3号窗口', retries=PATIENT)

    user.find(marker='admin-staff-w01-reset').click()
    await user.should_see(marker='admin-staff-reset-dialog', retries=PATIENT)
    user.find(marker='admin-staff-confirm').click()
    await user.should_see(marker='admin-staff-password', retries=PATIENT)
    issued = await rt.auth.login('w01', shown_password(user), new_password='Window-01-again')
    assert issued.principal.window_id == staff_ui.window_3


async def test_a_change_made_elsewhere_redraws_the_open_staff_list(staff_ui: SmallHall, user: User) -> None:
    rt = await staff_tab(user)
    await user.should_see(marker='admin-staff-w01-state', content='在用')
    other = Principal.cli('root')  # the CLI, or another admin's page: the change reaches this page over the bus
    await rt.staff_admin.disable(other, 'w01')
    await user.should_see(marker='admin-staff-w01-state', content='已停用', retries=PATIENT)
    await rt.staff_admin.add(other, username='w09', role=Role.STAFF, password='Window-09-pass', window_number=2)
    await user.should_see(marker='admin-staff-w09', retries=PATIENT)
