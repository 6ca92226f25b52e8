"""Operators' view of this process: GET /api/ops/counters (managers and admins; bearer token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import RuntimeDep, StaffDep

router = APIRouter(prefix='/api/ops')


@router.get('/counters', tags=['ops'])
async def counters(rt: RuntimeDep, caller: StaffDep) -> dict[str, dict[str, Any]]:
    """Event-bus and device-hub counters: events delivered, bus entries dropped (unsigned, forged, replayed),
    device sockets refused (hello timeout, too many waiting, bad credentials) by reason."""
    return rt.ops.read(caller)
