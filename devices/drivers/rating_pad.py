"""Window rating pad (评价器) over /ws/devices: shows the service just completed, sends back one tap.

When its window completes a ticket the device service sends `show_rating {ticket, number, service}`; the
pad answers `rating {ticket, level}`. The rating goes through `EvaluationService.rate_at_pad` with this
pad's principal, scoped to its window, so a hardware pad, the tablet page `/rate/{window}`, /track and the
texted link all land on the one evaluation of the ticket. A refused rating (another ticket, too late,
already rated) changes nothing; it is kept in the pad's history with the reason.
"""

from __future__ import annotations

import logging

from app.models.device import DeviceKind
from app.services.errors import DomainError
from app.services.evaluation import PadPrompt
from app.services.principal import Principal
from devices import protocol
from devices.driver import Driver

log = logging.getLogger(__name__)


class RatingPadDriver(Driver):
    kind = DeviceKind.RATING_PAD

    @property
    def principal(self) -> Principal | None:
        """The pad acting for its window; a pad without a window acts for nobody."""
        if self.info.window_id is None:
            return None
        return Principal.pad(self.code, window_id=self.info.window_id)

    async def show(self, prompt: PadPrompt) -> None:
        """Show the completed ticket with its rating buttons (DeviceUnavailable if offline or not acked)."""
        data = {'ticket': prompt.ticket_id, 'number': prompt.number, 'service': prompt.service_name}
        await self.command('show_rating', data)
        self.count_use('shown')

    async def on_rating(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.Rating)
        rate, principal = self.ctx.rate_at_pad, self.principal
        refused = ''
        if rate is None or principal is None:
            refused = 'pad_only'
        else:
            try:
                await rate(principal, data.ticket, data.level)
            except DomainError as error:
                refused = error.code
        self.record('rating', {'ticket': data.ticket, 'level': data.level, 'refused': refused})
        if refused:
            log.info('rating pad %s: rating of ticket %s refused (%s)', self.code, data.ticket, refused)
        else:
            self.count_use('rated')
