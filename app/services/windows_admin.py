"""Window administration: open, pause or close a window, and change what it serves.

Each change writes a WindowEvent row (replay shows the window's state at any moment from them) and an
audit row in the same transaction, and publishes `WindowChanged` after commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.events import WindowChanged, WindowPayload
from app.models.hall import Window, WindowService, WindowState
from app.models.operations import WindowEvent
from app.models.people import Role
from app.services import audit
from app.services.errors import Conflict, Invalid
from app.services.principal import Principal
from app.services.queue_core import QueueCore
from app.services.uow import UnitOfWork


class WindowsAdmin(QueueCore):
    """Window state and services: each change is a WindowEvent row, an audit row and a `WindowChanged`."""

    async def set_window_state(self, window_id: int, state: WindowState, *, caller: Principal) -> Window:
        caller.require_window(window_id)
        async with self._transaction() as uow:
            s = uow.session
            window = await self._window(s, window_id, lock=True)
            if state != WindowState.OPEN and window.current_ticket_id is not None:
                raise Conflict('window_busy')
            if window.state != state:
                before = window.state
                window.state = state
                await self._record_window(uow, window, 'state', before, caller=caller)
                uow.emit(
                    WindowChanged(
                        hall_id=self.hall_id, actor=caller.name, payload=await self._window_payload(s, window)
                    )
                )
        return window

    async def set_window_services(
        self,
        window_id: int,
        services: dict[str, int],
        *,
        caller: Principal,
        along: Callable[[UnitOfWork], Awaitable[None]] | None = None,
    ) -> Window:
        """Replace what a window serves ({service code: tier}); used by staffing moves (managers).

        `along` writes in the same transaction (a staffing move's record and audit row): both commit or neither,
        and an error it raises changes nothing.
        """
        caller.require(Role.MANAGER)
        if not services:
            raise Invalid('services_required')
        async with self._transaction() as uow:
            s = uow.session
            window = await self._window(s, window_id, lock=True)
            wanted = {(await self._service_by_code(s, code)).id: tier for code, tier in services.items()}
            current = {
                link.service_id: link
                for link in (
                    await s.execute(select(WindowService).where(WindowService.window_id == window_id))
                ).scalars()
            }
            for service_id, link in current.items():
                if service_id not in wanted:
                    await s.delete(link)
            for service_id, tier in wanted.items():
                if service_id in current:
                    current[service_id].priority = tier
                else:
                    s.add(WindowService(window_id=window_id, service_id=service_id, priority=tier))
            await s.flush()
            await self._record_window(uow, window, 'services', window.state, caller=caller, detail=services)
            if along is not None:
                await along(uow)
            uow.emit(
                WindowChanged(hall_id=self.hall_id, actor=caller.name, payload=await self._window_payload(s, window))
            )
        return window

    async def _window_payload(self, s: AsyncSession, window: Window) -> WindowPayload:
        ids = (await s.execute(select(WindowService.service_id).where(WindowService.window_id == window.id))).scalars()
        return WindowPayload(
            id=window.id or 0,
            number=window.number,
            state=window.state,
            service_ids=sorted(ids),
            current_ticket_id=window.current_ticket_id,
        )

    async def _record_window(
        self,
        uow: UnitOfWork,
        window: Window,
        kind: str,
        before: WindowState,
        *,
        caller: Principal,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write the WindowEvent row that lets replay show the window's state at any moment, and its audit row."""
        assert window.id is not None
        now = self.clock()
        uow.session.add(
            WindowEvent(
                hall_id=self.hall_id,
                window_id=window.id,
                at=now,
                kind=kind,
                from_state=before,
                to_state=window.state,
                detail=dict(detail or {}),
                actor=caller.name[:64],
            )
        )
        audited: dict[str, Any] = {'window_id': window.id, 'from': before, 'to': window.state}
        await audit.record_for(
            uow.session,
            caller,
            action=audit.window_action(kind),
            target=f'window:{window.number}',
            detail={**audited, 'detail': detail} if detail else audited,
            now=now,
        )
