"""One composition root: only app/main.py builds and holds the process's live parts (ARCHITECTURE.md).

No module outside it rebinds a `global`, keeps an empty slot for a live object to be installed in later
(`_thing: T | None = None`), or builds a live part at import time; the slots this rule replaced stay gone.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

import pytest

from app.main import Root
from app.runtime import Startup
from pages.parts import Parts

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ('app', 'twin', 'devices', 'components', 'pages')
COMPOSITION_ROOT = ROOT / 'app' / 'main.py'
MIGRATIONS = ROOT / 'app' / 'migrations'
# the parts the root builds and hands out: none of them may be built when a module is imported
LIVE_TYPES = {
    'DeviceHub',
    'DeviceService',
    'SimulatedFleet',
    'HallTwin',
    'HallFeed',
    'DeviceFeed',
    'JourneyFeed',
    'StaffFeed',
    'MapPatcher',
    'SessionWatch',
    'LocalJobs',
    'ArqJobs',
    'QueueNotices',
    'Runtime',
    'TodayForecast',
    'Event',
}
# the module globals that held live objects before the root owned them
REMOVED = {
    'app.runtime': ('_current', '_ready', 'install', 'mark_ready', 'ready', 'current'),
    'app.jobs': ('_runner', '_notices', 'stop'),
    'twin.live': ('_twin', '_feed', 'install', 'current', 'feed'),
    'twin.device_feed': ('_feed', 'start', 'stop', 'current'),
    'twin.journey_feed': ('_feed', 'start', 'stop', 'current'),
    'devices.lifecycle': ('_service', '_fleet', 'hub', 'current', 'start', 'stop'),
    'components.map_patch': ('_patcher', 'patcher'),
    'pages.session_watch': ('_watch', 'start', 'stop', 'current'),
    'pages.manager': ('_forecasts', '_forecast_today'),
}


def modules() -> list[Path]:
    return [
        path
        for layer in LAYERS
        for path in sorted((ROOT / layer).rglob('*.py'))
        if path != COMPOSITION_ROOT and MIGRATIONS not in path.parents
    ]


def called_name(node: ast.expr) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ''


def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    found = [f'line {node.lineno}: global' for node in ast.walk(tree) if isinstance(node, ast.Global)]
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = [t for t in node.targets if isinstance(t, ast.Name)], node.value
        else:
            continue
        if value is None:
            continue
        for target in targets:
            if target.id.startswith('_') and isinstance(value, ast.Constant) and value.value is None:
                found.append(f'line {node.lineno}: {target.id} is a slot for a live object')
        if isinstance(value, ast.Call) and called_name(value) in LIVE_TYPES:
            found.append(f'line {node.lineno}: {called_name(value)} built at import time')
    return found


def test_the_rule_catches_a_global_a_slot_and_a_part_built_at_import(tmp_path: Path) -> None:
    sample = tmp_path / 'sample.py'
    lines = ['hub = DeviceHub()', '_feed: DeviceFeed | None = None', 'def start():', '    global _feed']
    sample.write_text('\n'.join(lines) + '\n')
    assert offences(sample) == [
        'line 4: global',
        'line 1: DeviceHub built at import time',
        'line 2: _feed is a slot for a live object',
    ]


def test_no_module_outside_the_root_holds_a_live_object() -> None:
    found = {str(path.relative_to(ROOT)): offences(path) for path in modules()}
    assert {name: lines for name, lines in found.items() if lines} == {}


@pytest.mark.parametrize('module', sorted(REMOVED))
def test_the_slots_the_root_replaced_stay_gone(module: str) -> None:
    loaded = importlib.import_module(module)
    assert [name for name in REMOVED[module] if hasattr(loaded, name)] == []


async def test_a_request_that_comes_before_start_up_waits_for_the_parts() -> None:
    started: Startup[str] = Startup()
    early = asyncio.create_task(started.ready())
    await asyncio.sleep(0.01)
    assert not early.done()
    started.open('parts')
    assert await early == 'parts'
    started.close()  # stopping: no request reaches the parts any more
    with pytest.raises(TimeoutError):
        await started.ready(timeout=0.05)


async def test_shutdown_stops_the_parts_in_reverse_order_past_a_failing_step() -> None:
    root = Root()
    root.started.open(cast(Parts, object()))
    stopped: list[str] = []

    def stop(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            stopped.append(name)
            if name == 'feed':
                raise RuntimeError('feed failed to stop')

        return run

    root.stops += [stop('database'), stop('feed'), stop('jobs')]
    await root.shutdown()
    assert stopped == ['jobs', 'feed', 'database']
    assert root.stops == []
    with pytest.raises(TimeoutError):
        await root.started.ready(timeout=0.05)
