"""The kiosk's hardware as `app.services.kiosk.KioskDevices`, built when the devices start (devices/lifecycle.py).

Pages never import devices/: the kiosk page reaches its reader and printer through
`Parts.kiosk_devices` (pages/parts.py), this adapter. The device service owns the drivers (claiming a card read
at a reader, printing with ack and timeout); the adapter only treats devices that are not running
as absent.
"""

from __future__ import annotations

from app.services.face_enrolment import FaceCapture
from app.services.kiosk import CardClaim, TicketSlip
from devices.driver import DeviceUnavailable
from devices.service import DeviceService


class DeviceHardware:
    def __init__(self, service: DeviceService) -> None:
        self.service = service

    def take_card(self, reader_code: str) -> CardClaim | None:
        try:
            return self.service.take_card(reader_code)
        except DeviceUnavailable:
            return None

    async def print_slip(self, printer_code: str, slip: TicketSlip) -> str:
        return await self.service.print_ticket(printer_code, slip)

    async def capture_face(self, camera_code: str, session_id: str) -> bool:
        try:
            await self.service.capture_face(camera_code, session_id)
        except DeviceUnavailable:
            return False
        return True

    async def capture_enrolment(self, camera_code: str, session_id: str) -> FaceCapture | None:
        try:
            return await self.service.capture_enrolment(camera_code, session_id)
        except DeviceUnavailable:
            return None
