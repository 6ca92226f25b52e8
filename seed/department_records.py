"""Synthetic department data (department_records.yaml in the hall description) for the 零材料 demo, loaded encrypted.

Optional per seed folder. Records are found by the keyed hash of the ID number and stored only
encrypted (app/services/department_data.py); a rerun compares the decrypted values and writes only
what changed, so loading twice writes nothing (the ciphertext would differ on every encryption).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from sqlmodel import select

from app.clock import utcnow
from app.db import Database
from app.models.cases import DepartmentRecord
from app.security.crypto import FieldCipher
from app.services.department_data import SOURCES, seal, unseal
from app.services.errors import DomainError
from app.services.identity import parse_id_number
from app.services.uow import unit_of_work
from seed.schema import read_file, seed_folder

FILE = 'department_records.yaml'


class PersonRecords(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)

    id_number: str
    records: dict[str, dict[str, Any]]

    @field_validator('id_number')
    @classmethod
    def _valid_id(cls, value: str) -> str:
        """A refused number becomes a validation error, so it is reported with its file and line."""
        try:
            return parse_id_number(value, today=dt.date.today()).number
        except DomainError as error:
            raise ValueError(error.render('en')) from None

    @field_validator('records')
    @classmethod
    def _known_sources(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        unknown = sorted(set(value) - set(SOURCES))
        if unknown:
            raise ValueError(f'unknown sources {unknown}; use {sorted(SOURCES)}')
        return value


def read_records(seed_name: str, *, seed_root: Path | None = None) -> list[PersonRecords]:
    """The folder's department records (none without the file), each problem as `file:line: entry: problem`."""
    records: list[PersonRecords] = read_file(seed_folder(seed_name, seed_root=seed_root), FILE, list[PersonRecords])
    return records


async def load_department_records(
    db: Database, *, seed_name: str, secret: bytes, seed_root: Path | None = None
) -> Counter[str]:
    """Upsert every (source, person) record; returns {'created': n, 'updated': m}."""
    people = read_records(seed_name, seed_root=seed_root)
    cipher = FieldCipher({'k1': secret}, 'k1')
    counts: Counter[str] = Counter()
    if not people:
        return counts
    now = utcnow()
    async with unit_of_work(db) as uow:
        s = uow.session
        existing = {
            (row.source, row.id_number_hash): row for row in (await s.execute(select(DepartmentRecord))).scalars()
        }
        for person in people:
            lookup = cipher.lookup(person.id_number)
            for source, data in person.records.items():
                row = existing.get((source, lookup))
                if row is None:
                    s.add(
                        DepartmentRecord(
                            source=source, id_number_hash=lookup, data_enc=seal(cipher, source, data), updated_at=now
                        )
                    )
                    counts['created'] += 1
                elif _current(cipher, row) != data:
                    row.data_enc, row.updated_at = seal(cipher, source, data), now
                    counts['updated'] += 1
    return counts


def _current(cipher: FieldCipher, row: DepartmentRecord) -> dict[str, Any] | None:
    try:
        return unseal(cipher, row.source, row.data_enc)
    except Exception:  # written under another SECRET_KEY: replace it
        return None
