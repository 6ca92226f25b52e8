"""/admin's devices tab in NiceGUI's simulated browser: an admin registers a device, gives it a new credential
and retires it, and the running hall (drivers, twin) follows each at once, without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User

from app.models.device import DeviceKind
from devices.service import DeviceService
from tests.kiosk_hall import BARE_KIOSK, KIOSK, READER
from tests.running import parts, root
from tests.test_admin_page import PATIENT, admin_ui, as_admin  # noqa: F401 - admin_ui is a fixture


def device_service() -> DeviceService:
    service = root().devices.service
    assert isinstance(service, DeviceService)
    return service


async def eventually(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """The page's service call has committed; the drivers follow through the bus a moment later."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, 'the running hall did not follow'
        await asyncio.sleep(0.02)


pytestmark = pytest.mark.usefixtures('admin_ui')  # the small hall with kiosks K01 (with peripherals), K02, an admin


def shown_credential(user: User) -> str:
    (label,) = user.find(marker='admin-credential').elements
    assert isinstance(label, ui.label)
    return str(label.text)


def choose(user: User, marker: str, value: Any) -> None:
    (element,) = user.find(marker=marker).elements
    assert isinstance(element, ui.select | ui.number)
    element.value = value


async def test_a_device_registered_on_the_page_is_let_in_and_on_the_map_at_once(user: User) -> None:
    await as_admin(user)
    user.find('设备').click()
    await user.should_see(marker=f'admin-device-{READER}', retries=PATIENT)
    await user.should_see(marker=f'admin-device-{KIOSK}-offline')
    await user.should_not_see(marker=f'admin-device-{KIOSK}-online')
    user.find(marker='admin-device-register').click()
    await user.should_see(marker='admin-register-dialog', retries=PATIENT)
    user.find(marker='admin-form-code').type('K02-PRN')
    user.find(marker='admin-form-name').type('2号取号机打印机')
    choose(user, 'admin-form-kind', DeviceKind.PRINTER.value)
    (zone,) = user.find(marker='admin-form-zone').elements
    assert isinstance(zone, ui.select)
    zone.value = next(iter(zone.options))
    choose(user, 'admin-form-kiosk', BARE_KIOSK)
    choose(user, 'admin-form-x', 120)
    choose(user, 'admin-form-y', 80)
    user.find(marker='admin-form-submit').click()

    await user.should_see(marker='admin-credential-dialog', retries=PATIENT)
    await user.should_see('只显示这一次')
    await user.should_see('python -m devices.bridge')
    credential = shown_credential(user)
    service = device_service()
    await eventually(lambda: service.authenticate('K02-PRN', credential) is not None)  # what the hub asks on hello
    assert service.peripherals(BARE_KIOSK)[DeviceKind.PRINTER].code == 'K02-PRN'
    await user.should_see(marker='admin-device-K02-PRN', retries=PATIENT)
    twin = (await parts()).twin
    await eventually(lambda: 'K02-PRN' in twin.devices_by_code)
    twin_device = twin.devices_by_code['K02-PRN']
    assert (twin_device.x, twin_device.y, twin_device.kind) == (120, 80, 'printer')

    user.find(marker='admin-credential-close').click()
    await user.should_not_see(marker='admin-credential', retries=PATIENT)


async def test_a_new_credential_is_shown_once_and_only_it_is_let_in(user: User) -> None:
    await as_admin(user)
    service = device_service()
    old_hash = service.drivers[READER].info.credential_hash  # the kiosk hall's: the SHA-256 of no known credential
    user.find('设备').click()
    await user.should_see(marker=f'admin-device-{READER}-rotate', retries=PATIENT)
    user.find(marker=f'admin-device-{READER}-rotate').click()
    await user.should_see(marker='admin-credential-dialog', retries=PATIENT)
    await user.should_see('原凭据已失效')
    credential = shown_credential(user)
    await eventually(lambda: service.authenticate(READER, credential) is not None)
    assert service.drivers[READER].info.credential_hash != old_hash
    await user.should_see('凭据由管理员签发于', retries=PATIENT)
    user.find(marker='admin-credential-close').click()
    await user.should_not_see(marker='admin-credential', retries=PATIENT)  # gone from the page once closed


async def test_a_retired_device_leaves_the_list_the_drivers_and_the_map(user: User) -> None:
    await as_admin(user)
    user.find('设备').click()
    await user.should_see(marker=f'admin-device-{READER}-retire', retries=PATIENT)
    user.find(marker=f'admin-device-{READER}-retire').click()
    await user.should_see(marker='admin-retire-dialog', retries=PATIENT)
    user.find(marker='admin-retire-confirm').click()
    await user.should_see(f'{READER} 已退役', retries=PATIENT)
    await user.should_not_see(marker=f'admin-device-{READER}', retries=PATIENT)
    await user.should_see(marker='admin-devices-retired')
    twin = (await parts()).twin
    await eventually(lambda: READER not in device_service().drivers and READER not in twin.devices_by_code)
    user.find(marker=f'admin-device-{KIOSK}-retire').click()  # its peripherals are still in service
    await user.should_see(marker='admin-retire-dialog', retries=PATIENT)
    user.find(marker='admin-retire-confirm').click()
    await user.should_see('请先退役挂接在 K01 上的外设', retries=PATIENT)
    assert KIOSK in device_service().drivers
