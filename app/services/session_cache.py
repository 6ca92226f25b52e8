"""A short memory of staff sessions read for bearer tokens, so a burst of requests reads the session once.

Why it is safe: an entry keeps the session and user rows as read, and `authenticate` still judges them with
`session_end` at each request's time (idle, lifetime, deactivation as read), so time-based endings are exact.
What the rows cannot show by themselves is a change made since they were read; for that an entry lives at most
`ttl` seconds, and every ended or changed session is forgotten at once: after the commit of this process's own
change (logout, a revoked previous token, an enrolment, a staff change's `SessionEnded`), and when
`SessionEnded` of any process arrives on the bus. A read that began before a forget is not kept (the generation
moved on), so a row read just before a revocation committed cannot come back. A change with no event (an
edit in the database, the CLI without a bus) holds within `ttl`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.events import Event, SessionEnded
from app.models.people import AuthSession, StaffUser

TTL_SECONDS = 2.0
MAX_ENTRIES = 10_000  # a process with more live tokens than this reads the rest from the database


@dataclass
class _Entry:
    session: AuthSession
    user: StaffUser
    until: float


class SessionCache:
    def __init__(self, *, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.generation = 0  # moves on at every forget; a read started under an older one is not kept
        self._entries: dict[str, _Entry] = {}

    def get(self, token_hash: str) -> tuple[AuthSession, StaffUser] | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.until <= self.clock():
            del self._entries[token_hash]
            return None
        return entry.session, entry.user

    def keep(self, token_hash: str, session: AuthSession, user: StaffUser, *, read_in: int) -> None:
        """Remember rows read while `generation` was `read_in`; nothing if a session was forgotten meanwhile."""
        if read_in != self.generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token_hash] = _Entry(session, user, self.clock() + self.ttl)

    def forget(self, session_id: int | None = None, *, token_hash: str | None = None) -> None:
        """Drop a session (by id, or by its token's hash) after its change is committed."""
        self.generation += 1
        if token_hash is not None:
            self._entries.pop(token_hash, None)
        if session_id is not None:
            self._entries = {key: e for key, e in self._entries.items() if e.session.id != session_id}

    def apply(self, event: Event) -> None:
        """Bus handler (and a unit of work's after-commit hook): an ended or changed session is forgotten."""
        if isinstance(event, SessionEnded):
            self.forget(event.session_id)
