"""A reviewer's department: the scope of /review and the name in its header."""

from __future__ import annotations

from sqlmodel import select

from app.db import Database
from app.models.hall import Department
from app.models.people import Role
from app.services.departments import department_name, review_scope
from app.services.principal import Kind, Principal
from tests.factories import build_small_hall


def _staff(role: Role, department_id: int | None) -> Principal:
    return Principal(Kind.STAFF, 'someone', role, department_id=department_id)


def test_a_reviewer_acts_for_their_department_and_an_admin_for_every_one() -> None:
    assert review_scope(_staff(Role.REVIEWER, 7)) == 7
    assert review_scope(_staff(Role.ADMIN, 7)) is None


def test_a_reviewer_without_a_department_acts_for_none() -> None:
    assert review_scope(_staff(Role.REVIEWER, None)) == 0


async def test_the_header_names_the_department_and_nothing_for_none_or_an_unknown_one(db: Database) -> None:
    await build_small_hall(db)
    async with db.read_session() as s:
        department = (await s.execute(select(Department))).scalars().one()
    assert await department_name(db, department.id) == '测试局'
    assert await department_name(db, None) == ''
    assert await department_name(db, (department.id or 0) + 100) == ''
