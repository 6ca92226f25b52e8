"""ID-card reader: card data -> validated number -> age -> green channel; an invalid card is an error event.

The raw number never reaches the bus or the logs (events carry `mask_id_number`); the kiosk that
owns the reader claims the full card data once, within a short time, through `take_card`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.clock import hall_day
from app.events import CardRead
from app.models.device import DeviceKind
from app.security.masking import mask_id_number
from app.services.errors import Invalid
from app.services.identity import parse_id_number
from devices import protocol
from devices.driver import DeviceInfo, Driver, DriverContext
from devices.health import NOMINAL_BUSY


@dataclass(frozen=True)
class CardData:
    id_number: str
    name: str
    age: int
    green_channel: bool
    session_id: str
    read_at: float  # monotonic


class IdReaderDriver(Driver):
    kind = DeviceKind.ID_READER

    def __init__(self, info: DeviceInfo, ctx: DriverContext) -> None:
        super().__init__(info, ctx)
        self._card: CardData | None = None

    async def on_card_read(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.CardReadData)
        today = hall_day(self.ctx.clock(), self.ctx.settings.tz)
        try:
            facts = parse_id_number(data.id_number, today=today)
        except Invalid as error:
            self._card = None
            self.count_use('invalid_card', busy=NOMINAL_BUSY[self.kind])
            self.record('card_read', {'valid': False, 'reason': error.code})
            await self.publish(
                CardRead(
                    hall_id=self.info.hall_id,
                    device=self.info.payload,
                    valid=False,
                    id_number_masked=mask_id_number(data.id_number),
                    reason=error.message,
                    session_id=data.session_id,
                )
            )
            return
        age = facts.age_on(today)
        green = age >= self.ctx.rules.current.elderly_age
        self._card = CardData(facts.number, data.name, age, green, data.session_id, time.monotonic())
        self.count_use('card_read', busy=NOMINAL_BUSY[self.kind])
        self.record('card_read', {'valid': True, 'green_channel': green})
        await self.publish(
            CardRead(
                hall_id=self.info.hall_id,
                device=self.info.payload,
                valid=True,
                id_number_masked=mask_id_number(facts.number),
                age=age,
                green_channel=green,
                session_id=data.session_id,
            )
        )

    def take_card(self) -> CardData | None:
        """The last valid card, once, if read within `card_claim_seconds` (the kiosk turns it into a ticket)."""
        card, self._card = self._card, None
        if card is None or time.monotonic() - card.read_at > self.ctx.tuning.card_claim_seconds:
            return None
        return card

    def on_disconnect(self) -> None:
        self._card = None
