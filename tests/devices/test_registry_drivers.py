"""The device service follows the registry while it runs: a registered call display gets its window's calls, a
retired one stops getting them, a rotated credential lets in only the device that holds the new one, and a
window added to the live configuration is routed to its zone's board."""

from __future__ import annotations

from sqlmodel import select

from app.events import HallConfigChanged
from app.models import Window, Zone
from app.models.people import Role
from app.services.device_registry import DeviceDraft, DeviceRegistryService
from app.services.principal import Kind, Principal
from devices.drivers.call_display import CallDisplayDriver
from tests.callers import deps_for
from tests.devices.hubharness import HubHarness
from tests.devices.test_call_display import DisplayFirmware, called, displays
from tests.factories import SmallHall

ADMIN = Principal(Kind.STAFF, 'adm01', Role.ADMIN)


def registry_of(harness: HubHarness, hall: SmallHall) -> DeviceRegistryService:
    return DeviceRegistryService(deps_for(harness.db, harness.bus, hall_id=hall.hall_id))


async def test_a_display_registered_while_the_hall_runs_announces_its_windows_calls_until_retired(
    harness: HubHarness, device_hall: SmallHall
) -> None:
    registry = registry_of(harness, device_hall)
    issued = await registry.register(
        ADMIN, DeviceDraft('CD-W3', 'call_display', '3号窗口屏', window_id=device_hall.window_3, x=10, y=10)
    )
    await harness.wait_for(lambda: isinstance(harness.service.drivers.get('CD-W3'), CallDisplayDriver))
    firmware = DisplayFirmware(speech=0.01)
    client = harness.client('CD-W3', on_command=firmware, credential=issued.credential)
    await client.connected.wait()

    await harness.bus.publish(called(device_hall, 'A001', 3, device_hall.window_3))
    await harness.wait_for(lambda: len(firmware.spoken) == 1)
    assert firmware.spoken[0][0] == '请 A001 号到 3 号窗口办理'

    await registry.retire(ADMIN, 'CD-W3')
    await harness.wait_for(lambda: 'CD-W3' not in harness.service.drivers)
    assert harness.service.authenticate('CD-W3', issued.credential) is None
    await harness.bus.publish(called(device_hall, 'A002', 3, device_hall.window_3))
    await harness.bus.drain()
    assert len(firmware.spoken) == 1


async def test_a_rotated_credential_is_taken_by_the_running_service(
    harness: HubHarness, device_hall: SmallHall
) -> None:
    registry = registry_of(harness, device_hall)
    async with harness.db.read_session() as s:
        waiting = (await s.execute(select(Zone).where(Zone.code == 'waiting'))).scalar_one()
    first = await registry.register(ADMIN, DeviceDraft('S-09', 'seat', '9号座椅', zone_id=waiting.id, x=5, y=5))
    await harness.wait_for(lambda: harness.service.authenticate('S-09', first.credential) is not None)

    second = await registry.rotate(ADMIN, 'S-09')

    await harness.wait_for(lambda: harness.service.authenticate('S-09', second.credential) is not None)
    assert harness.service.authenticate('S-09', first.credential) is None
    assert harness.service.authenticate('S-01', harness.credential('S-01')) is not None  # the others are untouched


async def test_a_window_added_while_the_hall_runs_gets_its_zones_board_after_the_configuration_change(
    harness: HubHarness, device_hall: SmallHall
) -> None:
    board = DisplayFirmware(speech=0.01)
    await displays(harness, **{'CD-GENERAL': board})
    async with harness.db.session() as s, s.begin():
        general = (await s.execute(select(Zone).where(Zone.code == 'general'))).scalar_one()
        window = Window(hall_id=device_hall.hall_id, zone_id=general.id or 0, number=9, name='9号窗口')
        s.add(window)
    await harness.bus.publish(HallConfigChanged(hall_id=device_hall.hall_id, kind='window', subject='9', version=1))
    await harness.bus.drain()

    await harness.bus.publish(called(device_hall, 'A009', 9, window.id or 0))
    await harness.wait_for(lambda: len(board.spoken) == 1)
    assert board.spoken[0][0] == '请 A009 号到 9 号窗口办理'
