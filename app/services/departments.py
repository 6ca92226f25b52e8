"""Which department a reviewer works for: the scope of /review's lists and actions, and the name in its header."""

from __future__ import annotations

from app.db import Database
from app.models.hall import Department
from app.models.people import Role
from app.services.principal import Principal


def review_scope(principal: Principal) -> int | None:
    """A reviewer acts for their department (none recorded: for no department, 0); an admin for every one (None)."""
    if principal.role == Role.ADMIN:
        return None
    return principal.department_id or 0


async def department_name(db: Database, department_id: int | None) -> str:
    """The department's name, or '' for none or an unknown id (the header then names no department)."""
    if department_id is None:
        return ''
    async with db.read_session() as s:
        department = await s.get(Department, department_id)
    return department.name if department else ''
