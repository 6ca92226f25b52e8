"""`/`: the hall live, windows and queues (anyone may look; it shows no personal data)."""

from __future__ import annotations

from app.runtime import current as runtime
from components.frame import frame
from components.hall_board import hall_board
from components.texts import t
from twin import live


def home() -> None:
    with frame(t('home.subtitle'), hall_name=runtime().hall.name):
        hall_board(live.current())
