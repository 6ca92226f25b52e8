"""Both sides of 跨区通办 in one loop: this hall's process applies the handoffs other halls sent it, and announces
to its own pages the ones it sent that another hall has applied.

The request is a row in the shared database (app/models/handoff.py), so nothing is lost while this process is
down or Redis is away: whatever is pending is applied at the next round after start. One round a second is one
indexed query when nothing waits; applying is idempotent (app/services/ticket_handoff.py), so several processes
of the same hall may poll at once.
"""

from __future__ import annotations

import asyncio
import logging

from app import tasks
from app.services.ticket_handoff import TicketHandoffService

log = logging.getLogger(__name__)

INBOX_EVERY = 1.0  # seconds between two rounds: how long a sent ticket waits at most for its new number


class HandoffInbox:
    def __init__(self, handoffs: TicketHandoffService, *, every: float = INBOX_EVERY) -> None:
        self.handoffs = handoffs
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name='handoff-inbox')

    async def stop(self) -> None:
        await tasks.stop(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                applied, _ = await self.handoffs.inbox_round()
                if applied:
                    log.info('跨区通办: issued %d ticket(s) sent by other halls', applied)
            except Exception:  # a failed round is logged; the rows stay as they are and the next round tries again
                log.exception('handoffs to or from this hall could not be applied or announced')
            await asyncio.sleep(self.every)
