"""`/`: the hall live, windows and queues (anyone may look; it shows no personal data)."""

from __future__ import annotations

from components.frame import frame
from components.hall_board import hall_board
from components.texts import t
from pages.parts import Started


async def home(started: Started) -> None:
    parts = await started.ready()
    rt = parts.runtime
    with frame(t('home.subtitle'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        hall_board(parts.twin)
