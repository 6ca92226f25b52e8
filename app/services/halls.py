"""Which hall this process serves: several halls share one database, and each process serves one (HALL_CODE).

Without HALL_CODE a process serves the first hall loaded, so a database with one hall runs as before.
A code that names no hall stops the process with one line that lists the codes there are.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models.hall import Hall, Window
from app.services.errors import Forbidden
from app.services.principal import Principal


class HallMissing(RuntimeError):
    """No hall to serve: none loaded yet (`python -m seed`), or HALL_CODE names none of those loaded."""


async def hall_to_serve(session: AsyncSession, code: str = '') -> Hall:
    """The hall named by `code` (HALL_CODE), or the first hall loaded when `code` is empty."""
    halls = list((await session.execute(select(Hall).order_by(col(Hall.id)))).scalars())
    if not halls:
        raise HallMissing('数据库中没有大厅数据，请先运行 python -m seed / no hall in the database: run python -m seed')
    if not code:
        return halls[0]
    for hall in halls:
        if hall.code == code:
            return hall
    known = ', '.join(hall.code for hall in halls)
    raise HallMissing(
        f'HALL_CODE={code!r} 不是数据库中的大厅（现有：{known}）/ HALL_CODE={code!r} names no hall in the database '
        f'(there are: {known}); load it with HALL_SEED=<its folder> python -m seed'
    )


async def require_hall_staff(session: AsyncSession, caller: Principal, hall_id: int) -> None:
    """A clerk belongs to the hall of their window; a manager (no window) to the hall they signed in to."""
    if caller.window_id is None or not caller.is_staff:
        return
    window = await session.get(Window, caller.window_id)
    if window is None or window.hall_id != hall_id:
        raise Forbidden('not_your_hall')
