"""Rating pads (评价器) for tests: one pad device at a window of a prepared hall, paired like a kiosk."""

from __future__ import annotations

from sqlmodel import select

from app.db import Database
from app.models.device import Device, DeviceKind
from app.models.hall import Window


async def add_pad(db: Database, hall_id: int, *, window_number: int, code: str, credential_hash: str = '0' * 64) -> int:
    """A rating pad at this window (the id of its window); hardware pads need a real `credential_hash`."""
    async with db.session() as s, s.begin():
        window = (
            await s.execute(select(Window).where(Window.hall_id == hall_id, Window.number == window_number))
        ).scalar_one()
        s.add(
            Device(
                hall_id=hall_id,
                zone_id=window.zone_id,
                window_id=window.id,
                code=code,
                kind=DeviceKind.RATING_PAD,
                name=f'{window_number}号窗口评价器',
                credential_hash=credential_hash,
            )
        )
        assert window.id is not None
        return window.id
