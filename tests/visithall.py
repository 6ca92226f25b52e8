"""Who a home-visit test acts as, in the journey hall: a signed-in phone, the department's reviewer, a reviewer of
another department, the manager and the window clerk w01 (sent on visits)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import select

from app.db import Database
from app.models.citizen_account import CitizenAccount
from app.models.people import Role, StaffUser
from app.services.principal import Kind, Principal
from tests.journeyhall import JourneyHall

ADDRESS = '北京市朝阳区望京街道阜通东大街6号院3号楼502'
TOMORROW_9AM = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)  # Thursday 09:00 in the hall


@dataclass(frozen=True)
class VisitPeople:
    phone: Principal
    other_phone: Principal
    department: Principal  # the reviewer of SVC-C's department (DEPT)
    elsewhere: Principal  # a reviewer of the tax office
    manager: Principal
    clerk: Principal  # w01, sent on visits
    clerk_id: int
    manager_id: int


async def visit_people(db: Database, hall: JourneyHall) -> VisitPeople:
    async with db.session() as s, s.begin():
        accounts = [
            CitizenAccount(phone_hash=f'hash-{n}', phone_enc=f'enc-{n}', created_at=dt.datetime.now(dt.UTC))
            for n in (1, 2)
        ]
        s.add_all(accounts)
        await s.flush()
        users = {u.username: u for u in (await s.execute(select(StaffUser))).scalars()}
    mine, other = (Principal.account(a.id or 0) for a in accounts)

    def staff(name: str, role: Role, department: str | None = None) -> Principal:
        user = users[name]
        department_id = hall.departments[department] if department else None
        return Principal(Kind.STAFF, name, role, user_id=user.id, department_id=department_id)

    return VisitPeople(
        phone=mine,
        other_phone=other,
        department=staff('rv_dept', Role.REVIEWER, 'DEPT'),
        elsewhere=staff('rv_tax', Role.REVIEWER, 'TAX'),
        manager=staff('boss', Role.MANAGER),
        clerk=staff('w01', Role.STAFF),
        clerk_id=users['w01'].id or 0,
        manager_id=users['boss'].id or 0,
    )
