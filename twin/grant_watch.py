"""The 亲情代办 grants that open light pages listen under: each ends its sockets the moment it ends.

The ticket's shared channel (twin/ticket_feed.py) knows nothing of grants: many pages of one ticket listen to
it, some through the slip's code, some through a relative's link. A relative's socket also holds its grant
here, one entry per grant however many of its pages are open, and leaves when the grant ends: the citizen
ended it or withdrew its consent (`ProxyChanged` 'ended', from the bus, so from any process) or its time ran
out (one timer per watched grant, not per page). Who may open a socket at all is the proxy service's rule
(`ProxyService.access`); this only says when an admitted one must stop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from app.clock import as_utc
from app.events import Event, ProxyChanged
from app.models.proxy import ProxyGrant


class WatchedGrant:
    """One grant with open pages: `ended` is set once, when the grant ends or runs out."""

    def __init__(self, grant_id: int) -> None:
        self.grant_id = grant_id
        self.ended = asyncio.Event()
        self.holders = 0
        self.expiry: asyncio.TimerHandle | None = None


class GrantWatch:
    """Every grant some relative's light page is open under, with its one expiry timer."""

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self.clock = clock
        self.grants: dict[int, WatchedGrant] = {}

    def hold(self, grant: ProxyGrant) -> WatchedGrant:
        """The grant's watch for one more page (`release` it when the page goes); the grant was admitted."""
        watched = self.grants.get(grant.id or 0)
        if watched is None:
            watched = WatchedGrant(grant.id or 0)
            left = (as_utc(grant.expires_at) - self.clock()).total_seconds()
            watched.expiry = asyncio.get_running_loop().call_later(max(left, 0.0), watched.ended.set)
            self.grants[watched.grant_id] = watched
        watched.holders += 1
        return watched

    def release(self, watched: WatchedGrant) -> None:
        watched.holders -= 1
        if watched.holders <= 0 and self.grants.get(watched.grant_id) is watched:
            del self.grants[watched.grant_id]
            if watched.expiry is not None:
                watched.expiry.cancel()

    def on_proxy(self, event: Event) -> None:
        if isinstance(event, ProxyChanged) and event.change == 'ended':
            watched = self.grants.get(event.grant_id)
            if watched is not None:
                watched.ended.set()

    def stop(self) -> None:
        for watched in self.grants.values():
            if watched.expiry is not None:
                watched.expiry.cancel()
