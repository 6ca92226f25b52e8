"""Ticket printer: jobs are commands with ack and timeout; paper-out and jam surface as events and a fault."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from app.events import DeviceHealth, PrinterStatus
from devices.driver import DeviceUnavailable
from devices.sim.client import DeviceClient
from tests.devices.hubharness import TICKET, HubHarness


class PrinterFirmware:
    """Answers print jobs like a printer: prints, or refuses while out of paper, or says nothing."""

    def __init__(self) -> None:
        self.fault = ''
        self.silent = False
        self.jobs: list[dict[str, Any]] = []

    async def __call__(self, client: DeviceClient, type_: str, command_id: str, data: dict[str, Any]) -> None:
        if self.silent:
            return
        self.jobs.append(data)
        await client.ack(command_id, ok=not self.fault, error=self.fault)


async def statuses(harness: HubHarness) -> list[str]:
    await harness.bus.drain()
    return [e.status for e in harness.events_of(PrinterStatus)]


async def test_a_printed_ticket_carries_number_service_window_and_the_track_qr(harness: HubHarness) -> None:
    firmware = PrinterFirmware()
    client = harness.client('K01-PRN', on_command=firmware)
    await client.connected.wait()
    job_id = await harness.service.print_ticket('K01-PRN', TICKET)
    (job,) = firmware.jobs
    assert job['job_id'] == job_id and job['ticket']['number'] == 'A012'
    escpos = base64.b64decode(job['escpos'])
    assert escpos.startswith(b'\x1b@') and escpos.endswith(b'\x1dVB\x00')
    for text in ('A012', '社保卡补办', '5号、6号窗口', '前面等候 / Ahead: 3'):
        assert text.encode('gb18030') in escpos
    assert b'1P0http://127.0.0.1:8080/track/abc123' in escpos  # stored in the printer's QR symbol
    assert await statuses(harness) == ['printed']
    assert harness.service.drivers['K01-PRN'].health.uses['printed'] == 1


async def test_paper_out_and_jam_surface_as_printer_status_and_fault_until_recovered(harness: HubHarness) -> None:
    firmware = PrinterFirmware()
    client = harness.client('K01-PRN', on_command=firmware)
    await client.connected.wait()
    firmware.fault = 'paper_out'
    with pytest.raises(DeviceUnavailable) as refused:
        await harness.service.print_ticket('K01-PRN', TICKET)
    assert refused.value.code == 'paper_out'
    driver = harness.service.drivers['K01-PRN']
    assert driver.state == 'fault'
    firmware.fault = ''
    await client.send('recovered')
    await client.send('fault', {'code': 'jam'})  # reported by the printer itself
    await client.send('recovered')
    assert await statuses(harness) == ['paper_out', 'ok', 'jam', 'ok']
    assert [(e.state, e.reason) for e in harness.events_of(DeviceHealth)] == [
        ('online', 'connected'),
        ('fault', 'paper_out'),
        ('online', 'recovered'),
        ('fault', 'jam'),
        ('online', 'recovered'),
    ]
    assert (driver.health.faults, driver.health.last_fault) == (2, 'jam')


async def test_a_printer_that_does_not_answer_or_is_offline_fails_the_job(harness: HubHarness) -> None:
    with pytest.raises(DeviceUnavailable) as offline:
        await harness.service.print_ticket('K01-PRN', TICKET)
    assert offline.value.code == 'device_offline'
    firmware = PrinterFirmware()
    firmware.silent = True
    client = harness.client('K01-PRN', on_command=firmware)
    await client.connected.wait()
    with pytest.raises(DeviceUnavailable) as silent:
        await harness.service.print_ticket('K01-PRN', TICKET)
    assert silent.value.code == 'device_timeout'
    assert await statuses(harness) == ['offline', 'timeout']
    assert harness.service.drivers['K01-PRN'].state == 'online'  # no answer is not a paper fault
    with pytest.raises(DeviceUnavailable):
        harness.service.driver('S-01', type(harness.service.drivers['K01-PRN']))
