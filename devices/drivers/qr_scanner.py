"""QR scanner: camera frames decoded with zbar (QR only), or text from scanners that decode on-device.

Only our own signed payloads count (`HT1.<kind>.<value>.<sig>`, kinds 'appt' and 'track'); a code
we did not issue, or one whose signature fails, is a QrScanned with valid=False and the reason.
"""

from __future__ import annotations

from pyzbar.pyzbar import ZBarSymbol
from pyzbar.pyzbar import decode as zbar_decode

from app.events import QrScanned
from app.models.device import DeviceKind
from app.security import codes
from app.services.errors import Invalid
from devices import protocol
from devices.driver import Driver
from devices.health import NOMINAL_BUSY
from devices.imaging import BadImage, open_image, run_limited

SCANNED_KINDS = ('appt', 'track')
MAX_SIDE = 1024


def decode_qr(image_bytes: bytes) -> str | None:
    """The text of the first QR code in a JPEG/PNG frame (None if there is none); runs in a worker thread."""
    image = open_image(image_bytes, mode='L', max_side=MAX_SIDE)
    symbols = zbar_decode(image, symbols=[ZBarSymbol.QRCODE])
    return symbols[0].data.decode('ascii', errors='replace') if symbols else None


def verify_payload(secret: bytes, text: str) -> tuple[str, str]:
    """(kind, value) of one of our signed payloads; Invalid('foreign_code' | 'forged_code') otherwise."""
    parts = text.strip().split('.')
    if len(parts) != 4 or parts[0] != 'HT1' or parts[1] not in SCANNED_KINDS:
        raise Invalid('foreign_code', '不是本大厅的二维码 / this code was not issued by this hall')
    return parts[1], codes.verify(secret, parts[1], text)


class QrScannerDriver(Driver):
    kind = DeviceKind.QR_SCANNER

    async def on_qr_image(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.ImageData)
        try:
            text = await run_limited(lambda: decode_qr(data.image), time_limit=self.ctx.tuning.image_time_limit)
        except TimeoutError:
            await self._refused(
                'decode_timeout', '识别超时，请重新扫码 / took too long, please scan again', data.session_id
            )
            return
        except BadImage as error:
            await self._refused('bad_image', str(error), data.session_id)
            return
        if text is None:
            await self._refused('no_code', '未识别到二维码 / no QR code found', data.session_id)
            return
        await self._scanned(text, data.session_id)

    async def on_qr_text(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.QrText)
        await self._scanned(data.text, data.session_id)

    async def _scanned(self, text: str, session_id: str) -> None:
        try:
            kind, value = verify_payload(self.ctx.secret, text)
        except Invalid as error:
            await self._refused(error.code, error.message, session_id)
            return
        self.count_use('scan', busy=NOMINAL_BUSY[self.kind])
        self.record('qr_scanned', {'valid': True, 'kind': kind})
        await self.publish(
            QrScanned(
                hall_id=self.info.hall_id,
                device=self.info.payload,
                kind=kind,
                value=value,
                valid=True,
                session_id=session_id,
            )
        )

    async def _refused(self, code: str, message: str, session_id: str) -> None:
        self.count_use('refused_scan', busy=NOMINAL_BUSY[self.kind])
        self.record('qr_scanned', {'valid': False, 'reason': code})
        await self.publish(
            QrScanned(
                hall_id=self.info.hall_id,
                device=self.info.payload,
                valid=False,
                reason=f'{code}: {message}',
                session_id=session_id,
            )
        )
