"""`/`: the hall live, windows and queues (anyone may look; it shows no personal data)."""

from __future__ import annotations

from app.runtime import ready
from components.frame import frame
from components.hall_board import hall_board
from components.texts import t
from twin import live


async def home() -> None:
    rt = await ready()
    with frame(t('home.subtitle'), hall_name=rt.hall.name):
        hall_board(live.current())
