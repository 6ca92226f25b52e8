"""QR scanner: generated images decoded by zbar, our signed payloads accepted, forged and foreign ones refused."""

from __future__ import annotations

import io
import random

import qrcode
from PIL import Image

from app.events import QrScanned
from app.security import codes
from app.security.keys import Purpose
from devices.sim import samples
from tests.devices.hubharness import HubHarness


def jpeg_of(text: str, *, box_size: int) -> bytes:
    buffer = io.BytesIO()
    qrcode.make(text, box_size=box_size, border=4).get_image().convert('RGB').save(buffer, format='JPEG', quality=90)
    return buffer.getvalue()


async def scan(harness: HubHarness, frames: list[tuple[str, dict]]) -> list[QrScanned]:
    client = harness.client('K01-QR')
    await client.connected.wait()
    for type_, data in frames:
        await client.send(type_, data)
    await harness.bus.drain()
    return harness.events_of(QrScanned)


async def test_signed_codes_are_decoded_from_images_and_verified(harness: HubHarness) -> None:
    secret = harness.settings.secret
    appointment, track = codes.sign(secret, 'appt', 'A1B2C3D4E5F6'), codes.sign(secret, 'track', 'tRaCk_code-123')
    big = jpeg_of(track, box_size=60)  # ~2500 px: downscaled to 1024 before decoding
    assert max(Image.open(io.BytesIO(big)).size) > 2000
    events = await scan(
        harness,
        [
            ('qr_image', {'image': samples.b64(samples.qr_png(appointment)), 'format': 'png', 'session_id': 's1'}),
            ('qr_image', {'image': samples.b64(big), 'format': 'jpeg'}),
            ('qr_text', {'text': appointment}),
        ],
    )
    assert [(e.valid, e.kind, e.value) for e in events] == [
        (True, 'appt', 'A1B2C3D4E5F6'),
        (True, 'track', 'tRaCk_code-123'),
        (True, 'appt', 'A1B2C3D4E5F6'),
    ]
    assert events[0].session_id == 's1'


async def test_forged_foreign_and_unreadable_codes_are_refused_with_a_reason(harness: HubHarness) -> None:
    secret = harness.settings.secret
    forged = samples.signed_qr_samples(harness.settings.key(Purpose.CODE_SIGNING)).forged(random.Random(1))
    other_hall = codes.sign(b'another-hall-secret-0123456789abcdef', 'appt', 'A1B2C3D4E5F6')
    blank = io.BytesIO()
    Image.new('L', (640, 480), 255).save(blank, format='PNG')
    events = await scan(
        harness,
        [
            ('qr_image', {'image': samples.b64(samples.qr_png(forged)), 'format': 'png'}),
            ('qr_image', {'image': samples.b64(samples.qr_png(other_hall)), 'format': 'png'}),
            ('qr_image', {'image': samples.b64(samples.qr_png('https://example.com/pay')), 'format': 'png'}),
            ('qr_text', {'text': codes.sign(secret, 'staff', 'w01')}),  # signed by us, but not a kind scanners accept
            ('qr_image', {'image': samples.b64(blank.getvalue()), 'format': 'png'}),
            ('qr_image', {'image': samples.b64(b'GIF89a not really'), 'format': 'png'}),
        ],
    )
    reasons = [e.reason.split(':')[0] for e in events]
    assert reasons == ['forged_code', 'forged_code', 'foreign_code', 'foreign_code', 'no_code', 'bad_image']
    assert not any(e.valid or e.value for e in events)
