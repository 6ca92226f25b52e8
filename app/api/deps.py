"""Request dependencies: the app's runtime and the caller (app/api/callers.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.callers import caller_of, staff_of
from app.runtime import Runtime, Startup
from app.services.principal import Principal


async def runtime(request: Request) -> Runtime:
    """The app's services once started: the composition root (app/main.py) puts its start-up on `app.state`."""
    started: Startup[Runtime] = request.app.state.runtime
    return await started.ready()


RuntimeDep = Annotated[Runtime, Depends(runtime)]


async def caller(request: Request, rt: RuntimeDep) -> Principal:
    return await caller_of(request, rt)


async def staff(request: Request, rt: RuntimeDep) -> Principal:
    return await staff_of(request, rt)


CallerDep = Annotated[Principal, Depends(caller)]
StaffDep = Annotated[Principal, Depends(staff)]
