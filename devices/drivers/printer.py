"""Ticket printer: print jobs as commands (ESC/POS bytes plus the fields), paper-out and jam as faults.

Every outcome is a PrinterStatus on the bus: 'printed', a refusal or fault code ('paper_out',
'jam', ...), 'timeout' when no ack came, and 'ok' when the printer reports it has recovered; a
fault also makes the device's availability 'fault' until then, which the twin shows.
"""

from __future__ import annotations

import base64
import dataclasses

from app.events import PrinterStatus
from app.models.device import DeviceKind
from app.services.kiosk import TicketSlip
from devices import protocol
from devices.driver import DeviceUnavailable, Driver
from devices.escpos import render_ticket
from devices.health import NOMINAL_BUSY


class PrinterDriver(Driver):
    kind = DeviceKind.PRINTER

    async def print_ticket(self, ticket: TicketSlip) -> str:
        """Print and wait for the printer's ack; returns the job id, raises DeviceUnavailable on any failure."""
        job_id = protocol.new_id()
        fields = dataclasses.asdict(ticket) | {'taken_at': ticket.taken_at.isoformat()}
        escpos = base64.b64encode(render_ticket(ticket, hall_name=self.ctx.hall_name)).decode()
        try:
            await self.command('print', {'job_id': job_id, 'ticket': fields, 'escpos': escpos})
        except DeviceUnavailable as error:
            status = {'device_timeout': 'timeout', 'device_offline': 'offline'}.get(error.code, error.code)
            self.record('print', {'job_id': job_id, 'status': status})
            await self._status(status, job_id)
            if status not in {'timeout', 'offline'}:  # the printer refused: paper out, jam, ...
                await self.report_fault(status)
            raise
        self.count_use('printed', busy=NOMINAL_BUSY[self.kind])
        self.record('print', {'job_id': job_id, 'status': 'printed'})
        await self._status('printed', job_id)
        return job_id

    async def on_fault(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.Fault)
        if await self.report_fault(data.code):
            await self._status(data.code)

    async def on_recovered(self, frame: protocol.Frame) -> None:
        await super().on_recovered(frame)
        await self._status('ok')

    async def _status(self, status: str, job_id: str = '') -> None:
        await self.publish(
            PrinterStatus(hall_id=self.info.hall_id, device=self.info.payload, status=status, job_id=job_id)
        )
