"""Operators' view of this process: GET /api/ops/counters (managers and admins; bearer token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app.api.deps import bearer_token, runtime
from app.runtime import Runtime

router = APIRouter(prefix='/api/ops')


@router.get('/counters', tags=['ops'])
async def counters(request: Request, rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, dict[str, Any]]:
    """Event-bus and device-hub counters: events delivered, bus entries dropped (unsigned, forged, replayed),
    device sockets refused (hello timeout, too many waiting, bad credentials) by reason."""
    caller = await rt.auth.authenticate(bearer_token(request))
    return rt.ops.read(caller)
