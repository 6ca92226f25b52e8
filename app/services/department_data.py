"""零材料: data the hall's departments already hold about a citizen, behind one interface, only with consent.

Each source (identity, household, social insurance, property) answers "what do you hold for this
person?" from DepartmentRecord rows today; a real data-sharing platform adapter would implement the
same `DataSource`. Nothing is read without a live DEPARTMENT_DATA consent covering the matter.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.models.cases import DepartmentRecord
from app.models.people import Citizen
from app.models.security import ConsentPurpose
from app.security.crypto import FieldCipher
from app.services.consent import ConsentService


@dataclass(frozen=True)
class SourceInfo:
    name: str
    label: str  # what the citizen sees next to a satisfied material: "由 公安户籍 提供"
    holder: str


SOURCES: dict[str, SourceInfo] = {
    'identity': SourceInfo('identity', '身份信息', '公安人口信息库'),
    'household': SourceInfo('household', '户籍信息', '公安户籍管理系统'),
    'social_insurance': SourceInfo('social_insurance', '社保参保信息', '人社局社保系统'),
    'property': SourceInfo('property', '不动产登记信息', '不动产登记中心'),
}


def _context(source: str) -> str:
    return f'department_record.{source}'


def seal(cipher: FieldCipher, source: str, data: Mapping[str, Any]) -> str:
    """Encrypt one record for `DepartmentRecord.data_enc` (bound to its source, so rows cannot be swapped)."""
    return cipher.encrypt(json.dumps(dict(data), ensure_ascii=False, sort_keys=True), context=_context(source))


def unseal(cipher: FieldCipher, source: str, token: str) -> dict[str, Any]:
    return dict(json.loads(cipher.decrypt(token, context=_context(source))))


class DataSource(ABC):
    """One department's data about a person, found by the keyed hash of their ID number."""

    info: SourceInfo

    @abstractmethod
    async def fetch(self, session: AsyncSession, id_number_hash: str) -> dict[str, Any] | None: ...


class RecordSource(DataSource):
    """Reads the seeded / synchronised DepartmentRecord rows of one source."""

    def __init__(self, info: SourceInfo, cipher: FieldCipher) -> None:
        self.info = info
        self.cipher = cipher

    async def fetch(self, session: AsyncSession, id_number_hash: str) -> dict[str, Any] | None:
        statement = select(DepartmentRecord).where(
            DepartmentRecord.source == self.info.name, DepartmentRecord.id_number_hash == id_number_hash
        )
        row = (await session.execute(statement)).scalars().first()
        return unseal(self.cipher, self.info.name, row.data_enc) if row else None


class DepartmentData:
    """The one way into department data: consent first, then each requested source."""

    def __init__(self, cipher: FieldCipher, consent: ConsentService, sources: Mapping[str, DataSource] | None = None):
        self.consent = consent
        self.sources: dict[str, DataSource] = dict(
            sources or {name: RecordSource(info, cipher) for name, info in SOURCES.items()}
        )

    async def fetch(
        self,
        session: AsyncSession,
        citizen: Citizen,
        wanted: Iterable[str],
        *,
        service_code: str,
        ticket_id: int | None,
    ) -> dict[str, dict[str, Any]]:
        """What the departments hold for the wanted sources; `Forbidden('consent_required')` without consent.

        The consent is used inside the caller's transaction ('this time' consents are used up with it).
        """
        names = [name for name in dict.fromkeys(wanted) if name in self.sources]
        if not names or citizen.id is None or not citizen.id_number_hash:
            return {}
        await self.consent.require_in(
            session,
            citizen.id,
            ConsentPurpose.DEPARTMENT_DATA,
            service_code=service_code,
            ticket_id=ticket_id,
            consume=True,
        )
        found: dict[str, dict[str, Any]] = {}
        for name in names:
            data = await self.sources[name].fetch(session, citizen.id_number_hash)
            if data is not None:
                found[name] = data
        return found
