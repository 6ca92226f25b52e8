"""Open staff pages end with their session: at once on logout, within one check on anything else.

Every staff page registers itself when it loads (pages/guard.py `require`). One watcher per process,
built and started by the composition root, asks `AuthService.ended` about all of them in one query every
SESSION_CHECK_SECONDS (idle or absolute timeout, deactivation, a changed role, window or department),
and `SessionEnded` on the bus ends a logged-out session's pages at once, in every process. No page runs
a timer of its own.

Ending a page does not wait for the browser: the page's subscriptions end (its client's delete handlers
run now), its elements are removed, and only then is the browser sent to the login page with the
reason. A browser that ignores the navigation keeps an empty page that receives nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from nicegui import Client, ui

from app import tasks
from app.api.web_session import login_url
from app.bus import Bus, Subscription
from app.events import Event, SessionEnded
from app.services.auth import AuthService, SessionEnd
from app.services.principal import Principal
from components.testids import tid
from components.texts import register, t

log = logging.getLogger(__name__)

register({'session.ended': ('登录已结束，正在前往登录页…', 'Your session has ended; opening the login page…')})


def end_page(client: Client, path: str, reason: SessionEnd) -> None:
    """Stop everything this page receives now, then send the browser to the login page (with why)."""
    if client.is_deleted:
        return
    for handler in list(client.delete_handlers):  # subscriptions to feeds and the bus end with these
        client.delete_handlers.remove(handler)
        client.safe_invoke(handler)
    with client:
        for element in list(client.layout.default_slot.children):  # the header, drawers, footer
            if element is not client.page_container:
                element.delete()
        client.content.clear()
        with client.content:
            tid(ui.label(t('session.ended')), 'session-ended').classes('text-lg text-grey-8 p-8')
        ui.navigate.to(login_url(path, reason))


@dataclass(eq=False)
class OpenPage:
    client: Client
    principal: Principal  # who the page was built for: a change of role, window or department ends it
    path: str


class SessionWatch:
    """The open staff pages of this process, by client; one periodic check and the bus end them."""

    def __init__(self, auth: AuthService, bus: Bus, *, period: float) -> None:
        self.auth = auth
        self.bus = bus
        self.period = period
        self._pages: dict[str, OpenPage] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    @property
    def open_pages(self) -> int:
        return len(self._pages)

    def watch(self, client: Client, principal: Principal, path: str) -> None:
        """Register a staff page as it loads; it stays registered until NiceGUI deletes its client."""
        self._pages[client.id] = OpenPage(client, principal, path)

    async def start(self) -> None:
        self._subscription = self.bus.subscribe(self.on_event, SessionEnded, name='session-watch')
        self._task = asyncio.get_running_loop().create_task(
            tasks.every(self.period, self.check, 'checking the sessions of open staff pages'), name='session-watch'
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            self.bus.unsubscribe(self._subscription)
            self._subscription = None
        await tasks.stop(self._task)
        self._task = None

    async def check(self) -> None:
        """Judge every open page's session in one query; end those whose session ended or whose person changed.

        An ended page stays registered until its client is gone, so what a page still building added after
        it was ended is ended on the next check too.
        """
        pages = self._live_pages()
        if not pages:
            return
        verdicts = await self.auth.ended({page.principal for page in pages})
        for page in pages:
            reason = verdicts.get(page.principal)
            if reason is not None:
                end_page(page.client, page.path, reason)

    def on_event(self, event: Event) -> None:
        """A logout (from any process): that session's pages end now, not at the next check."""
        if not isinstance(event, SessionEnded):
            return
        reason = SessionEnd(event.reason) if event.reason in set(SessionEnd) else SessionEnd.LOGGED_OUT
        for page in self._live_pages():
            if page.principal.session_id == event.session_id:
                end_page(page.client, page.path, reason)

    def _live_pages(self) -> list[OpenPage]:
        """The registered pages whose client still exists (the others are forgotten here)."""
        for client_id in [key for key, page in self._pages.items() if page.client.is_deleted]:
            del self._pages[client_id]
        return list(self._pages.values())
