"""The device bridge with an emulator per transport, against a real hub over real websockets.

Each test starts `devices.bridge` peripherals from a TOML config (as `python -m devices.bridge`
does), plugs them into emulated hardware (an ESC/POS TCP printer, pty serial ports, an HTTP card
reading service, a keyboard-wedge input device, a video file) and watches what the hub publishes.
Garbage from a peripheral must stay on the bridge: the hub's refusal counters stay at zero.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from app.db import Database
from app.events import CardRead, DeviceHealth, FaceMatched, PrinterStatus, QrScanned
from app.security import codes
from app.services.call_board import Call
from app.settings import Settings
from devices import protocol
from devices.bridge.config import load
from devices.bridge.display import LedDisplay
from devices.bridge.link import BridgedPeripheral
from devices.bridge.runner import Bridge, build_all, check_all
from devices.driver import DeviceUnavailable
from devices.drivers.call_display import CallDisplayDriver
from devices.sim.client import Backoff
from tests.bridgekit import (
    EscposPrinterEmulator,
    IdServiceEmulator,
    KeyboardWedge,
    SerialPair,
    make_video,
    write_config,
)
from tests.conftest import FakeClock
from tests.devices.hubharness import FAST, TICKET, HubHarness
from tests.factories import SmallHall

CARD = {'certNumber': '110105195003011238', 'partyName': '王芳'}
Start = Callable[[dict[str, list[dict[str, Any]]]], Awaitable[dict[str, BridgedPeripheral]]]


@pytest.fixture
async def harness(
    sqlite_db: Database, settings: Settings, device_hall: SmallHall, clock: FakeClock
) -> AsyncIterator[HubHarness]:
    """The real hub, with heartbeats and command timeouts that a loaded test machine cannot miss by accident."""
    tuning = dataclasses.replace(FAST, heartbeat_interval=1.0, command_timeout=3.0, announce_timeout=3.0)
    hub = HubHarness(sqlite_db, settings, device_hall.hall_id, clock=clock, tuning=tuning)
    await hub.start()
    yield hub
    await hub.stop()


@pytest.fixture
async def bridged(harness: HubHarness, tmp_path: Path) -> AsyncIterator[Start]:
    """Start a bridge with these peripheral tables; returns its peripherals by device code, connected."""
    bridges: list[Bridge] = []

    async def start(peripherals: dict[str, list[dict[str, Any]]]) -> dict[str, BridgedPeripheral]:
        codes_ = [table['device'] for tables in peripherals.values() for table in tables]
        config = write_config(tmp_path, harness.url, peripherals, {c: harness.credential(c) for c in codes_})
        bridge = Bridge(build_all(load(config), backoff=lambda: Backoff(initial=0.05, maximum=0.2, jitter=0)))
        bridges.append(bridge)
        bridge.start()
        for peripheral in bridge.peripherals:
            await asyncio.wait_for(peripheral.client.connected.wait(), 5)
        return {p.code: p for p in bridge.peripherals}

    yield start
    for bridge in bridges:
        await bridge.stop()


@pytest.fixture
def serial() -> Any:
    pairs: list[SerialPair] = []

    def make() -> SerialPair:
        pairs.append(SerialPair())
        return pairs[-1]

    yield make
    for pair in pairs:
        pair.close()


def printer_table(emulator: EscposPrinterEmulator) -> dict[str, list[dict[str, Any]]]:
    return {
        'printer': [
            {
                'device': 'K01-PRN',
                'connection': 'network',
                'host': '127.0.0.1',
                'port': emulator.port,
                'status_seconds': 0.05,
                'timeout': 1.0,
            }
        ]
    }


def statuses(harness: HubHarness) -> list[str]:
    return [e.status for e in harness.events_of(PrinterStatus, 'K01-PRN')]


# ---- printer -------------------------------------------------------------------------------------


async def test_a_ticket_the_hub_prints_comes_out_of_the_escpos_printer_with_its_text_qr_code_and_cut(
    harness: HubHarness, bridged: Start, printer: EscposPrinterEmulator
) -> None:
    await bridged(printer_table(printer))
    await harness.wait_for(lambda: printer.status_queries >= 2)
    await harness.service.print_ticket('K01-PRN', TICKET)
    assert len(printer.receipts) == 1
    receipt = printer.receipts[0]
    assert 'A012' in receipt.lines
    assert any('社保卡补办' in line for line in receipt.lines)
    assert receipt.qr == [TICKET.track_url]
    await harness.wait_for(lambda: statuses(harness) == ['printed'])


async def test_paper_out_and_an_open_cover_are_faults_and_fixing_them_recovers_the_printer(
    harness: HubHarness, bridged: Start, printer: EscposPrinterEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger='devices.bridge')
    printer.paper_out = True
    await bridged(printer_table(printer))
    await harness.wait_for(lambda: 'paper_out' in statuses(harness))
    with pytest.raises(DeviceUnavailable) as refused:
        await harness.service.print_ticket('K01-PRN', TICKET)
    assert refused.value.code == 'paper_out' and printer.receipts == []
    printer.paper_out = False
    await harness.wait_for(lambda: statuses(harness)[-1:] == ['ok'])
    printer.cover_open = True
    await harness.wait_for(lambda: statuses(harness)[-1:] == ['cover_open'])
    printer.cover_open = False
    await harness.wait_for(lambda: statuses(harness)[-1:] == ['ok'])
    await harness.service.print_ticket('K01-PRN', TICKET)
    assert len(printer.receipts) == 1
    states = [e.state for e in harness.events_of(DeviceHealth, 'K01-PRN')]
    assert states == ['online', 'fault', 'online', 'fault', 'online']  # each change once, nothing repeated
    logged = [r.getMessage() for r in caplog.records if r.name == 'devices.bridge']
    assert sum('K01-PRN: paper_out (' in m for m in logged) == 1  # polled ~every 50 ms, logged once
    assert sum('K01-PRN: cover_open (' in m for m in logged) == 1


async def test_a_printer_answering_garbage_is_reported_unreachable_and_the_bridge_carries_on(
    harness: HubHarness, bridged: Start, printer: EscposPrinterEmulator
) -> None:
    printer.garbage_status = True
    await bridged(printer_table(printer))
    await harness.wait_for(lambda: 'unreachable' in statuses(harness))
    with pytest.raises(DeviceUnavailable):
        await harness.service.print_ticket('K01-PRN', TICKET)
    printer.garbage_status = False
    await harness.wait_for(lambda: statuses(harness)[-1:] == ['ok'], timeout=15)
    await harness.service.print_ticket('K01-PRN', TICKET)
    assert len(printer.receipts) == 1


async def test_a_standing_fault_is_reported_again_after_the_bridge_reconnects(
    harness: HubHarness, bridged: Start, printer: EscposPrinterEmulator
) -> None:
    printer.paper_out = True
    peripherals = await bridged(printer_table(printer))
    await harness.wait_for(lambda: statuses(harness) == ['paper_out'])
    await peripherals['K01-PRN'].client.disconnect()
    await harness.wait_for(lambda: statuses(harness) == ['paper_out', 'paper_out'])
    states = [e.state for e in harness.events_of(DeviceHealth, 'K01-PRN')]
    assert states[-2:] == ['online', 'fault']


# ---- scanners ------------------------------------------------------------------------------------


async def test_a_code_scanned_on_a_serial_scanner_reaches_the_hub_and_is_verified(
    harness: HubHarness, bridged: Start, serial: Any
) -> None:
    port = serial()
    peripherals = await bridged({'scanner': [{'device': 'K01-QR', 'connection': 'serial', 'port': port.port}]})
    await harness.wait_for(lambda: peripherals['K01-QR'].hardware_working)  # opening the port drops older bytes
    genuine = codes.sign(harness.settings.secret, 'track', 'abc123')
    await port.send(genuine.encode() + b'\r\n')
    scans = await harness.wait_for(lambda: harness.events_of(QrScanned, 'K01-QR'))
    assert scans[0].valid and scans[0].kind == 'track' and scans[0].value == 'abc123'


async def test_garbage_from_a_serial_scanner_stays_on_the_bridge_and_the_next_code_still_arrives(
    harness: HubHarness, bridged: Start, serial: Any
) -> None:
    port = serial()
    peripherals = await bridged({'scanner': [{'device': 'K01-QR', 'connection': 'serial', 'port': port.port}]})
    await harness.wait_for(lambda: peripherals['K01-QR'].hardware_working)
    await port.send(b'A' * 200_000)  # no line end for 200 KB
    await port.send(b'\r\n' + b'\xff\xfe\xc3(\r\n' + b'HT1\x07bell\r\n' + b'x' * 513 + b'\n')
    await harness.wait_for(lambda: peripherals['K01-QR'].dropped >= 4, timeout=10)
    await port.send(b'https://example.com/pay\n')
    scans = await harness.wait_for(lambda: harness.events_of(QrScanned, 'K01-QR'))
    assert len(scans) == 1 and scans[0].reason.startswith('foreign_code')
    assert harness.hub.stats.rejected == {}  # nothing malformed or oversized ever reached the hub


async def test_a_keyboard_wedge_scanner_types_a_code_that_reaches_the_hub(
    harness: HubHarness, bridged: Start, tmp_path: Path
) -> None:
    wedge = KeyboardWedge(tmp_path / 'event-kbd')
    try:
        await bridged({'scanner': [{'device': 'K01-QR', 'connection': 'hid', 'path': str(wedge.path)}]})
        genuine = codes.sign(harness.settings.secret, 'appt', 'A1B2C3')
        wedge.type('\x01junk')  # a key without a character: the line is dropped
        wedge.type(genuine)
        scans = await harness.wait_for(lambda: harness.events_of(QrScanned, 'K01-QR'))
        assert len(scans) == 1 and scans[0].valid and scans[0].kind == 'appt' and scans[0].value == 'A1B2C3'
    finally:
        wedge.close()


# ---- ID card reader ------------------------------------------------------------------------------


async def test_a_card_on_the_vendor_service_is_read_once_while_it_lies_there_and_again_when_put_back(
    harness: HubHarness, bridged: Start, id_service: IdServiceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger='devices.bridge')
    await bridged(
        {'id_reader': [{'device': 'K01-ID', 'connection': 'http', 'url': id_service.url, 'poll_seconds': 0.02}]}
    )
    id_service.card = CARD
    reads = await harness.wait_for(lambda: harness.events_of(CardRead, 'K01-ID'))
    assert reads[0].valid and reads[0].id_number_masked == '110105********1238'
    polled = id_service.requests
    await harness.wait_for(lambda: id_service.requests > polled + 5)
    assert len(harness.events_of(CardRead, 'K01-ID')) == 1
    id_service.card = None
    polled = id_service.requests
    await harness.wait_for(lambda: id_service.requests > polled + 2)
    id_service.card = CARD
    await harness.wait_for(lambda: len(harness.events_of(CardRead, 'K01-ID')) == 2)
    assert CARD['certNumber'] not in caplog.text and CARD['partyName'] not in caplog.text


async def test_broken_answers_of_the_card_service_never_reach_the_hub(
    harness: HubHarness, bridged: Start, id_service: IdServiceEmulator
) -> None:
    peripherals = await bridged(
        {
            'id_reader': [
                {
                    'device': 'K01-ID',
                    'connection': 'http',
                    'url': id_service.url,
                    'poll_seconds': 0.02,
                    'fields': {'id_number': 'data.cert', 'name': 'data.name'},
                }
            ]
        }
    )
    broken = [
        b'not json at all',
        b'{"data": {"cert": 12345}}',  # a number where text belongs
        b'{"data": {"cert": "1101051950030112380000000000000000000"}}',  # too long for an ID number
        b'{"data": {"cert": "110105195003011238", "name": "' + b'x' * 80 + b'"}}',
        b'{"pad": "' + b'x' * 100_000 + b'"}',  # a 100 KB answer
    ]
    for raw in broken:
        dropped = peripherals['K01-ID'].dropped
        id_service.raw = raw
        await harness.wait_for(lambda d=dropped: peripherals['K01-ID'].dropped > d)
    id_service.raw = '{"data": {"cert": "110105195003011238", "name": "王芳"}}'.encode()
    reads = await harness.wait_for(lambda: harness.events_of(CardRead, 'K01-ID'))
    assert len(reads) == 1 and reads[0].valid
    assert harness.hub.stats.rejected == {}


async def test_a_card_service_that_goes_away_is_a_fault_once_and_the_bridge_reconnects_when_it_is_back(
    harness: HubHarness, bridged: Start, id_service: IdServiceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger='devices.bridge')
    table = {'device': 'K01-ID', 'connection': 'http', 'url': id_service.url, 'poll_seconds': 0.02, 'timeout': 0.5}
    await bridged({'id_reader': [table]})
    states = lambda: [(e.state, e.reason) for e in harness.events_of(DeviceHealth, 'K01-ID')]  # noqa: E731
    await harness.wait_for(lambda: [state for state, _ in states()] == ['online'])
    await id_service.stop()
    await harness.wait_for(lambda: len(states()) == 2, timeout=10)
    assert states()[1][0] == 'fault' and 'unreachable' in states()[1][1]
    await asyncio.sleep(1.5)  # the bridge keeps retrying (backoff) and logs nothing new meanwhile
    await id_service.start(id_service.port)
    await harness.wait_for(lambda: len(states()) == 3, timeout=15)
    assert states()[2][0] == 'online'
    id_service.card = CARD
    await harness.wait_for(lambda: harness.events_of(CardRead, 'K01-ID'))
    logged = [r.getMessage() for r in caplog.records]
    assert sum('K01-ID: unreachable' in m for m in logged) == 1
    assert sum('K01-ID: ID card reader working' in m for m in logged) == 2  # at start, and once back


async def test_a_serial_card_reader_with_the_line_plug_in_reads_a_card(
    harness: HubHarness, bridged: Start, serial: Any
) -> None:
    port = serial()
    peripherals = await bridged({'id_reader': [{'device': 'K01-ID', 'connection': 'serial', 'port': port.port}]})
    await harness.wait_for(lambda: peripherals['K01-ID'].hardware_working)  # opening the port drops older bytes
    await port.send('110105195003011238,王芳\r\n'.encode('gb18030'))
    reads = await harness.wait_for(lambda: harness.events_of(CardRead, 'K01-ID'))
    assert reads[0].valid


# ---- camera --------------------------------------------------------------------------------------


async def test_the_camera_sends_one_downscaled_frame_only_when_the_hub_asks_for_a_capture(
    harness: HubHarness, bridged: Start, tmp_path: Path
) -> None:
    video = make_video(tmp_path / 'face.avi')
    await bridged({'camera': [{'device': 'K01-CAM', 'connection': 'opencv', 'source': str(video), 'max_side': 800}]})
    await asyncio.sleep(0.3)
    assert harness.events_of(FaceMatched) == []  # nothing sent without being asked
    await harness.service.capture_face('K01-CAM', 'K01-7f3a')
    matched = harness.events_of(FaceMatched, 'K01-CAM')
    assert len(matched) == 1 and matched[0].session_id == 'K01-7f3a'
    assert not list(tmp_path.glob('*.jpg')) and not list(Path.cwd().glob('*.jpg'))


# ---- LED call display ----------------------------------------------------------------------------


async def test_a_call_is_shown_on_the_serial_led_display_and_reported_announced(
    harness: HubHarness, bridged: Start, serial: Any
) -> None:
    port = serial()
    peripherals = await bridged(
        {
            'display': [
                {
                    'device': 'CD-W1',
                    'connection': 'serial',
                    'port': port.port,
                    'template': '{number} 请到{window}号窗口',
                    'prefix': '02',
                    'suffix': '03',
                    'hold_seconds': 0.05,
                }
            ]
        }
    )
    display = harness.service.driver('CD-W1', CallDisplayDriver)
    led = peripherals['CD-W1']
    assert isinstance(led, LedDisplay)
    await harness.wait_for(lambda: display.connected and led.port_open)  # connected to the hub before the port opens
    heard: list[str] = []
    on_announced = display.on_announced

    async def spy(frame: protocol.Frame) -> None:
        heard.append(frame.type)
        await on_announced(frame)

    display.on_announced = spy  # type: ignore[method-assign]
    await display.announce(Call('A012', 1))
    assert heard == ['announced']  # the bridge reported it spoken before `announce` returned, not the timeout
    sent = await harness.wait_for(port.read_available)
    assert sent == b'\x02' + 'A012 请到1号窗口'.encode('gb18030') + b'\x03'


# ---- --check -------------------------------------------------------------------------------------


async def test_check_says_what_works_and_what_to_do_about_what_does_not(
    harness: HubHarness, tmp_path: Path, serial: Any
) -> None:
    video = make_video(tmp_path / 'face.avi')
    display = serial()
    wedge = KeyboardWedge(tmp_path / 'event-kbd')
    peripherals = {
        'camera': [{'device': 'K01-CAM', 'connection': 'opencv', 'source': str(video)}],
        'display': [{'device': 'CD-W1', 'connection': 'serial', 'port': display.port}],
        'scanner': [{'device': 'K01-QR', 'connection': 'hid', 'path': str(wedge.path)}],
        'printer': [{'device': 'K01-PRN', 'host': '127.0.0.1', 'port': 9, 'timeout': 0.5}],  # nothing listens
        'id_reader': [{'device': 'K01-ID', 'url': 'http://127.0.0.1:9/readcard', 'timeout': 0.5}],
    }
    credentials = {table['device']: harness.credential(table['device']) for t in peripherals.values() for table in t}
    config = load(write_config(tmp_path, harness.url, peripherals, credentials))
    lines: list[str] = []
    try:
        assert not await check_all(config, lines.append)
    finally:
        wedge.close()
    report = '\n'.join(lines)
    assert 'OK   camera ' in report and '(800x800 after shrinking' in report
    assert f"OK   serial port {display.port} opens; a call will show as: b'A012 " in report
    assert f'OK   keyboard scanner {wedge.path} opens' in report
    assert 'FAIL printer at 127.0.0.1:9 does not answer' in report and 'is it switched on' in report
    assert 'FAIL the card reading service at http://127.0.0.1:9/readcard does not answer' in report
    assert report.count('OK   the hall server accepts') == 5
    assert report.endswith('Some things do not work: see FAIL above.')
