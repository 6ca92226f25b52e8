"""The kiosk as a device: the seeded kiosk and its attached peripherals, the hardware port a kiosk page
reaches (card reader, camera, printer) and the printed ticket slip."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlmodel import col, select

from app.db import Database
from app.events import DevicePayload
from app.models.device import Device, DeviceKind
from app.services.errors import DomainError, NotFound
from app.services.paper_guide import PaperGuide
from app.services.queue import TicketView

if TYPE_CHECKING:
    from app.services.face_enrolment import FaceCapture  # it imports the kiosk's steps, which import this module

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KioskDevice:
    id: int
    code: str
    name: str
    hall_id: int
    peripherals: dict[str, str]  # device kind -> code of the device attached to this kiosk

    @property
    def payload(self) -> DevicePayload:
        return DevicePayload(device_id=self.id, code=self.code, kind=DeviceKind.KIOSK)

    def attached(self, kind: DeviceKind) -> str | None:
        return self.peripherals.get(kind.value)


async def load_kiosk(db: Database, hall_id: int, code: str) -> KioskDevice:
    """A kiosk in service in this hall with its attached reader, scanner, camera and printer (retired ones are
    neither: a replaced reader must not shadow its successor)."""
    in_service = col(Device.retired_at).is_(None)
    async with db.read_session() as s:
        device = (
            await s.execute(
                select(Device).where(
                    Device.hall_id == hall_id, Device.code == code, Device.kind == DeviceKind.KIOSK, in_service
                )
            )
        ).scalar_one_or_none()
        if device is None or device.id is None:
            raise NotFound('unknown_kiosk', code_value=code)
        attached = (
            await s.execute(select(Device).where(Device.hall_id == hall_id, Device.attached_to == code, in_service))
        ).scalars()
        peripherals = {DeviceKind(d.kind).value: d.code for d in attached}
    return KioskDevice(device.id, device.code, device.name, device.hall_id, peripherals)


class CardClaim(Protocol):
    """The full card data a reader holds for its kiosk (devices' CardData has it)."""

    id_number: str
    name: str


@dataclass(frozen=True)
class TicketSlip:
    """What the printed ticket says (devices/escpos.py prints it; the printer command carries its fields)."""

    number: str
    service_name: str
    window_hint: str
    people_ahead: int | None
    eta_minutes: int | None
    track_url: str
    taken_at: dt.datetime
    bring: tuple[str, ...] = ()  # 纸质版简化指南: the materials, printed in large type
    next_steps: tuple[str, ...] = ()  # and the steps still ahead


class KioskDevices(Protocol):
    """The hardware a kiosk page can reach: claim a card read at its reader, print a ticket slip, ask for a face."""

    def take_card(self, reader_code: str) -> CardClaim | None: ...

    async def print_slip(self, printer_code: str, slip: TicketSlip) -> str: ...

    async def capture_face(self, camera_code: str, session_id: str) -> bool: ...

    async def capture_enrolment(self, camera_code: str, session_id: str) -> FaceCapture | None: ...


@dataclass(frozen=True)
class PrintResult:
    printed: bool
    reason: str = ''  # 'no_printer', or the device's message


def make_slip(view: TicketView, *, track_url: str, window_hint: str, guide: PaperGuide | None = None) -> TicketSlip:
    ahead = view.position - 1 if view.position else None
    eta = round(view.estimate.minutes) if view.estimate else None
    return TicketSlip(
        number=view.ticket.number,
        service_name=view.service.name,
        window_hint=window_hint,
        people_ahead=ahead,
        eta_minutes=eta,
        track_url=track_url,
        taken_at=view.ticket.taken_at,
        bring=guide.bring if guide else (),
        next_steps=guide.steps if guide else (),
    )


async def print_slip(kiosk: KioskDevice, devices: KioskDevices | None, slip: TicketSlip) -> PrintResult:
    """Print on the kiosk's printer if it has one; any failure is an answer (show the ticket to photograph)."""
    printer = kiosk.attached(DeviceKind.PRINTER)
    if printer is None or devices is None:
        return PrintResult(False, 'no_printer')
    try:
        await devices.print_slip(printer, slip)
    except DomainError as error:
        return PrintResult(False, error.message)
    except Exception as error:  # a printer must never take the kiosk down with it
        log.warning('printing at %s failed: %r', printer, error)
        return PrintResult(False, 'print_failed')
    return PrintResult(True)
