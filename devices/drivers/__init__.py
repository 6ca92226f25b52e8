"""One driver class per device kind."""

from __future__ import annotations

from app.models.device import DeviceKind
from devices.driver import Driver
from devices.drivers.call_display import CallDisplayDriver
from devices.drivers.camera import CameraDriver
from devices.drivers.id_reader import IdReaderDriver
from devices.drivers.kiosk import KioskDriver
from devices.drivers.printer import PrinterDriver
from devices.drivers.qr_scanner import QrScannerDriver
from devices.drivers.rating_pad import RatingPadDriver
from devices.drivers.seat import SeatDriver

DRIVERS: dict[DeviceKind, type[Driver]] = {
    driver.kind: driver
    for driver in (
        KioskDriver,
        IdReaderDriver,
        QrScannerDriver,
        CameraDriver,
        PrinterDriver,
        CallDisplayDriver,
        SeatDriver,
        RatingPadDriver,
    )
}
