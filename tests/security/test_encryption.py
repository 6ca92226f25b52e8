"""Encryption at rest (SQLite file and WAL never hold personal values in clear) and key rotation."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy.engine import make_url
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.models import Citizen, ConsentPurpose, ConsentScope, FaceEncoding, TicketCreate
from app.security.crypto import FieldCipher
from app.security.masking import masked_citizen
from app.services.consent import CURRENT_TEXT_VERSIONS, ConsentService
from app.services.queue import QueueService
from app.settings import Settings
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.factories import build_small_hall
from tests.idnumbers import make_id

PEOPLE = [
    (make_id(dt.date(1949, 12, 31)), '13812341234', '欧阳娜娜'),
    (make_id(dt.date(1990, 7, 15), region='310104', sequence='456'), '15987654321', '张三丰'),
    (make_id(dt.date(1975, 1, 2), sequence='789'), '18600001111', 'Li Lei'),
]
TEMPLATE = np.random.default_rng(42).random(128).tobytes()
SECRET_1 = b'k1-secret-' + b'x' * 32
SECRET_2 = b'k2-secret-' + b'y' * 32


def sqlite_files(db: Database) -> list[Path]:
    path = Path(make_url(db.url).database or '')
    return [candidate for candidate in (path, Path(f'{path}-wal'), Path(f'{path}-shm')) if candidate.exists()]


def raw_bytes(db: Database) -> bytes:
    return b''.join(path.read_bytes() for path in sqlite_files(db))


def plaintext_forms(id_number: str, phone: str, name: str) -> list[bytes]:
    return [
        id_number.encode(),
        phone.encode(),
        name.encode('utf-8'),
        name.encode('utf-16-le'),
        name.encode('utf-16-be'),
    ]


async def populate(sqlite_db: Database, settings: Settings, cipher: FieldCipher, clock: FakeClock) -> None:
    """Tickets with ID number, phone and name through the queue, plus one face template under consent."""
    hall = await build_small_hall(sqlite_db)
    bus = InProcessBus()
    queue = QueueService(deps_for(sqlite_db, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher))
    try:
        views = [
            await queue.take_ticket(
                TicketCreate(service_code=hall.service_a, id_number=i, phone=p, name=n), caller=DESK
            )
            for i, p, n in PEOPLE
        ]
    finally:
        await bus.stop()
    citizen_id = views[0].ticket.citizen_id
    assert citizen_id is not None
    consents = ConsentService(deps_for(sqlite_db, settings=settings, clock=clock, cipher=cipher))
    purpose = ConsentPurpose.FACE_TICKET
    consent = await consents.grant(
        citizen_id, purpose, ConsentScope.SAME_KIND, text_version=CURRENT_TEXT_VERSIONS[purpose]
    )
    assert consent.id is not None
    await consents.enrol_face(citizen_id, TEMPLATE, consent_id=consent.id)


async def stored_citizens(db: Database) -> list[Citizen]:
    async with db.session() as s:
        return list((await s.execute(select(Citizen).order_by(Citizen.id))).scalars())


async def test_database_files_hold_no_personal_value_in_clear(
    sqlite_db: Database, settings: Settings, cipher: FieldCipher, clock: FakeClock
) -> None:
    await populate(sqlite_db, settings, cipher, clock)
    citizens = await stored_citizens(sqlite_db)
    async with sqlite_db.session() as s:
        face = (await s.execute(select(FaceEncoding))).scalar_one()
    while_open = raw_bytes(sqlite_db)
    await sqlite_db.dispose()
    after_close = raw_bytes(sqlite_db)
    assert '测试大厅'.encode() in while_open and '测试大厅'.encode() in after_close  # the scan does see plain text
    forbidden = [form for person in PEOPLE for form in plaintext_forms(*person)] + [TEMPLATE]
    for snapshot in (while_open, after_close):
        leaked = [form for form in forbidden if form in snapshot]
        assert not leaked, f'plaintext found in the database files: {leaked!r}'
    assert [
        (
            cipher.decrypt(c.id_number_enc or '', context='citizen.id_number'),
            cipher.decrypt(c.phone_enc or '', context='citizen.phone'),
            cipher.decrypt(c.name_enc or '', context='citizen.name'),
        )
        for c in citizens
    ] == PEOPLE
    assert [c.id_number_hash for c in citizens] == [cipher.lookup(i) for i, _, _ in PEOPLE]
    assert cipher.decrypt_bytes(face.encoding_enc, context='face_encoding') == TEMPLATE


async def test_rows_written_with_the_old_key_stay_readable_after_rotation(
    sqlite_db: Database, settings: Settings, clock: FakeClock
) -> None:
    old = FieldCipher({'k1': SECRET_1}, 'k1')
    await populate(sqlite_db, settings, old, clock)
    rotated = FieldCipher({'k1': SECRET_1, 'k2': SECRET_2}, 'k2')
    citizen = (await stored_citizens(sqlite_db))[0]
    assert citizen.id_number_enc and citizen.id_number_enc.startswith('k1:')
    public = masked_citizen(citizen, rotated, today=dt.date(2026, 11, 28))
    assert (public.name_masked, public.id_number_masked, public.phone_masked) == (
        '欧***',
        f'{PEOPLE[0][0][:6]}********{PEOPLE[0][0][-4:]}',
        '138****1234',
    )


def test_rotation_reads_old_values_and_writes_with_the_new_key() -> None:
    old = FieldCipher({'k1': SECRET_1}, 'k1')
    token = old.encrypt('110105194912310021', context='citizen.id_number')
    rotated = FieldCipher({'k1': SECRET_1, 'k2': SECRET_2}, 'k2')
    assert token.startswith('k1:')
    assert rotated.decrypt(token, context='citizen.id_number') == '110105194912310021'
    fresh = rotated.encrypt('110105194912310021', context='citizen.id_number')
    assert fresh.startswith('k2:')
    assert rotated.decrypt(fresh, context='citizen.id_number') == '110105194912310021'
    with pytest.raises(ValueError, match='no key'):
        old.decrypt(fresh, context='citizen.id_number')
    with pytest.raises(ValueError, match='no key'):
        FieldCipher({'k2': SECRET_2}, 'k2').decrypt(token, context='citizen.id_number')


def test_same_value_encrypts_differently_each_time() -> None:
    cipher = FieldCipher({'k1': SECRET_1}, 'k1')
    assert cipher.encrypt('13812341234') != cipher.encrypt('13812341234')


def flip_bit(token: str, index: int) -> str:
    """Flip one bit of the sealed bytes (nonce, ciphertext or tag) and re-encode the token."""
    kid, _, body = token.partition(':')
    raw = bytearray(base64.urlsafe_b64decode(body + '=' * (-len(body) % 4)))
    raw[index] ^= 0x01
    return f'{kid}:{base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()}'


@pytest.mark.parametrize('index', [0, 12, 20, -1])  # nonce, ciphertext, ciphertext, tag
def test_tampered_ciphertext_fails(index: int) -> None:
    cipher = FieldCipher({'k1': SECRET_1}, 'k1')
    token = cipher.encrypt('13812341234', context='citizen.phone')
    with pytest.raises(InvalidTag):
        cipher.decrypt(flip_bit(token, index), context='citizen.phone')


def test_ciphertext_is_bound_to_its_field() -> None:
    cipher = FieldCipher({'k1': SECRET_1}, 'k1')
    token = cipher.encrypt('13812341234', context='citizen.phone')
    with pytest.raises(InvalidTag):
        cipher.decrypt(token, context='citizen.name')


def test_current_key_must_be_configured() -> None:
    with pytest.raises(ValueError):
        FieldCipher({'k1': SECRET_1}, 'k2')


def test_lookup_hash_survives_key_rotation() -> None:
    old = FieldCipher({'k1': SECRET_1}, 'k1')
    rotated = FieldCipher({'k1': SECRET_1, 'k2': SECRET_2}, 'k2')
    assert old.lookup('110105194912310021') == rotated.lookup('110105194912310021')
