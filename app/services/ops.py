"""The process's plumbing counters for the hall manager and operators: the event bus and the device hub.

Why a service: the counters say how many forged bus entries or silent device sockets this process
refused, which is for managers and admins only; the API passes the caller and this decides.
Each part registers what it counts (anything with `snapshot()`) when it starts; the runtime holds them.
"""

from __future__ import annotations

from typing import Any, Protocol

from app.models.people import Role
from app.services.principal import Principal


class CounterSource(Protocol):
    def snapshot(self) -> dict[str, Any]: ...


class OpsCounters:
    def __init__(self) -> None:
        self._sources: dict[str, CounterSource] = {}

    def add(self, name: str, source: CounterSource) -> None:
        self._sources[name] = source

    def read(self, caller: Principal) -> dict[str, dict[str, Any]]:
        """Every registered part's counters, by name (managers and admins only)."""
        caller.require(Role.MANAGER)
        return {name: source.snapshot() for name, source in sorted(self._sources.items())}
