"""Request dependencies: the process runtime and the caller (app/api/callers.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.callers import caller_of, staff_of
from app.runtime import Runtime, ready
from app.services.principal import Principal


async def runtime() -> Runtime:
    return await ready()


RuntimeDep = Annotated[Runtime, Depends(runtime)]


async def caller(request: Request, rt: RuntimeDep) -> Principal:
    return await caller_of(request, rt)


async def staff(request: Request, rt: RuntimeDep) -> Principal:
    return await staff_of(request, rt)


CallerDep = Annotated[Principal, Depends(caller)]
StaffDep = Annotated[Principal, Depends(staff)]
