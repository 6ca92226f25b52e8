"""GET /api/health: is this process serving, which release runs it, and is it a demo (for monitors and upgrades)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import RuntimeDep
from app.version import version

router = APIRouter()


class HealthOut(BaseModel):
    status: Literal['ok']
    version: str  # pyproject.toml's version (CHANGELOG.md); compare after an upgrade
    demo: bool  # a stand-in is on (app/services/stand_ins.py): the pages show 演示模式


@router.get('/health', response_model=HealthOut, tags=['hall'])
async def health(rt: RuntimeDep) -> HealthOut:
    """Answers once the app's parts are started: the version it runs and whether it runs as a demo."""
    return HealthOut(status='ok', version=version(), demo=bool(rt.stand_ins))
