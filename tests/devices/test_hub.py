"""The hub over real websockets: authentication, refused frames (counted), duplicates, limits, isolation."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from app.events import DeviceHealth, HelpRequested, SeatChanged
from devices import protocol
from devices.drivers import DRIVERS
from devices.hub import DeviceHub
from devices.protocol import CloseCode
from devices.transport import MemoryTransport
from tests.devices.hubharness import HubHarness, receive, receive_type, send


async def closed_with(ws, timeout: float = 3.0) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_a_forged_credential_is_refused_and_counted(harness: HubHarness) -> None:
    ws = await harness.open()
    await send(ws, 'hello', {'device': 'S-01', 'credential': 'f' * 64})
    error = await receive(ws)
    assert error['type'] == 'error' and error['data']['code'] == 'auth_failed'
    assert await closed_with(ws) == CloseCode.AUTH_FAILED
    assert harness.hub.stats.rejected['auth_failed'] == 1
    assert harness.service.drivers['S-01'].state == 'offline'
    assert not harness.events_of(DeviceHealth)


async def test_another_devices_credential_does_not_open_this_device(harness: HubHarness) -> None:
    ws = await harness.open()
    await send(ws, 'hello', {'device': 'S-01', 'credential': harness.credential('S-02')})
    assert await closed_with(ws) == CloseCode.AUTH_FAILED


async def test_the_first_frame_must_be_hello(harness: HubHarness) -> None:
    ws = await harness.open()
    await send(ws, 'occupancy', {'occupied': True})
    assert (await receive(ws))['data']['code'] == 'unauthenticated'
    assert await closed_with(ws) == CloseCode.AUTH_FAILED
    bad = await harness.open()
    await bad.send('{"hello": ')
    assert (await receive(bad))['data']['code'] == 'malformed'
    assert await closed_with(bad) == CloseCode.BAD_HELLO
    assert harness.hub.stats.rejected['unauthenticated'] == 1
    assert harness.hub.stats.rejected['malformed'] == 1


async def test_a_silent_connection_is_closed_after_the_hello_timeout(harness: HubHarness) -> None:
    harness.hub.hello_timeout = 0.3
    ws = await harness.open()
    assert await closed_with(ws) == CloseCode.TIMEOUT
    assert harness.hub.stats.rejected['hello_timeout'] == 1


async def test_sockets_beyond_the_pending_cap_are_told_to_come_back_later_and_counted(harness: HubHarness) -> None:
    harness.hub.max_pending = 3
    silent = [await harness.open() for _ in range(3)]
    await harness.wait_for(lambda: harness.hub.stats.pending == 3)
    extra = [await harness.open() for _ in range(2)]
    for ws in extra:
        assert await closed_with(ws, timeout=2) == CloseCode.TRY_AGAIN_LATER
    assert harness.hub.stats.rejected['too_many_pending'] == 2
    for ws in silent:  # the ones holding a place still get their full hello timeout, then go
        assert await closed_with(ws) == CloseCode.TIMEOUT
    assert harness.hub.stats.pending == 0 and harness.hub.stats.rejected['hello_timeout'] == 3
    await harness.connect('S-01')  # the places are free again
    await harness.wait_for(lambda: harness.hub.stats.snapshot()['connected'] == 1)


async def test_bad_frames_get_errors_are_counted_and_never_stop_the_hub(harness: HubHarness) -> None:
    seat = await harness.connect('S-01')
    kiosk = await harness.connect('K01')
    bad_frames = {
        'malformed': 'not json{',
        'too_large': protocol.encode('occupancy', {'occupied': True, 'pad': 'x' * 20_000}),
        'unknown_type': protocol.encode('teleport', {}),
        'wrong_kind': protocol.encode('card_read', {'id_number': '110105194001011234'}),
        'invalid_data': protocol.encode('occupancy', {'occupied': 'maybe'}),
        'unsupported_version': json.dumps({'v': 2, 'id': 'x1', 'type': 'occupancy', 'data': {}}),
        'unexpected_hello': protocol.encode('hello', {'device': 'S-01', 'credential': 'x'}),
    }
    for reason, raw in bad_frames.items():
        await seat.send(raw)
        session_id = await send(kiosk, 'session_start', {'session_id': f's-{reason}'})  # the neighbour is served
        assert (await receive_type(kiosk, 'ack'))['data']['of'] == session_id
        error = await receive_type(seat, 'error')
        assert error['data']['code'] == reason, error
    await seat.send(b'\x00binary')
    assert (await receive_type(seat, 'error'))['data']['code'] == 'binary'
    frame_id = await send(seat, 'occupancy', {'occupied': True})  # still connected and served
    assert (await receive_type(seat, 'ack'))['data'] == {'of': frame_id, 'duplicate': False}
    await harness.wait_for(lambda: harness.events_of(SeatChanged, 'S-01'))
    assert {reason: harness.hub.stats.rejected[reason] for reason in [*bad_frames, 'binary']} == dict.fromkeys(
        [*bad_frames, 'binary'], 1
    )
    assert harness.service.drivers['S-01'].state == 'online'


async def test_a_flood_of_bad_frames_closes_only_that_connection(harness: HubHarness) -> None:
    harness.hub.max_rejected = 5
    seat = await harness.connect('S-01')
    kiosk = await harness.connect('K01')
    for _ in range(6):
        await seat.send('nonsense')
    assert await closed_with(seat) == CloseCode.POLICY
    assert harness.hub.stats.rejected['too_many_errors'] == 1
    frame_id = await send(kiosk, 'help', {'note': '呼叫人工'})
    assert (await receive_type(kiosk, 'ack'))['data']['of'] == frame_id
    await harness.wait_for(lambda: harness.events_of(HelpRequested))


async def test_a_duplicate_message_id_is_acked_again_but_not_republished(harness: HubHarness) -> None:
    seat = await harness.connect('S-01')
    await send(seat, 'occupancy', {'occupied': True}, id_='seat-1-0001')
    assert (await receive_type(seat, 'ack'))['data'] == {'of': 'seat-1-0001', 'duplicate': False}
    await send(seat, 'occupancy', {'occupied': True}, id_='seat-1-0001')
    assert (await receive_type(seat, 'ack'))['data'] == {'of': 'seat-1-0001', 'duplicate': True}
    await seat.close()
    again = await harness.connect('S-01')  # a retry after reconnecting is recognised too
    await send(again, 'occupancy', {'occupied': True}, id_='seat-1-0001')
    assert (await receive_type(again, 'ack'))['data'] == {'of': 'seat-1-0001', 'duplicate': True}
    await harness.bus.drain()
    assert len(harness.events_of(SeatChanged)) == 1
    assert harness.hub.stats.duplicates == 2


async def test_a_newer_connection_replaces_the_older_without_going_offline(harness: HubHarness) -> None:
    first = await harness.connect('S-01')
    await harness.connect('S-01')
    assert await closed_with(first) == CloseCode.REPLACED
    await harness.bus.drain()
    assert [e.state for e in harness.events_of(DeviceHealth, 'S-01')] == ['online']


async def test_image_kinds_may_send_larger_frames_than_others(harness: HubHarness) -> None:
    scanner = await harness.connect('K01-QR')
    welcome_limit = protocol.MAX_IMAGE_FRAME_BYTES
    image = {'image': 'A' * 40_000, 'format': 'png'}  # valid base64, not an image: refused by the driver, not the hub
    frame_id = await send(scanner, 'qr_image', image)
    assert (await receive_type(scanner, 'ack'))['data']['of'] == frame_id
    await send(scanner, 'qr_text', {'text': 'x' * 500, 'pad': 'y' * 20_000})
    assert (await receive_type(scanner, 'error'))['data']['code'] == 'too_large'
    await scanner.send(protocol.encode('qr_image', {'image': 'A' * (welcome_limit + 1), 'format': 'png'}))
    assert (await receive_type(scanner, 'error'))['data']['code'] == 'too_large'


async def test_a_hub_that_is_not_ready_asks_devices_to_come_back_later() -> None:
    hub = DeviceHub()
    device_end, hub_end = MemoryTransport.pair()
    await hub.serve(hub_end)
    with pytest.raises(Exception) as closed:
        await device_end.receive()
    assert getattr(closed.value, 'code', None) == CloseCode.TRY_AGAIN_LATER
    assert hub.stats.rejected['not_ready'] == 1


def test_every_driver_handles_every_frame_type_its_kind_may_send() -> None:
    for kind, types in protocol.KIND_TYPES.items():
        missing = [t for t in [*types, *protocol.COMMON_TYPES] if not callable(getattr(DRIVERS[kind], f'on_{t}', None))]
        assert not missing, (kind, missing)
