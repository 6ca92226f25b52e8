"""The parts of the app that NiceGUI's `user` fixture runs in this process (built by app/main.py's Root)."""

from __future__ import annotations

from nicegui import app

from app.main import Root
from app.runtime import Runtime
from pages.parts import Parts


def root() -> Root:
    """The composition root of the app the current test started."""
    found = getattr(app.state, 'halltwin', None)
    if not isinstance(found, Root):
        raise RuntimeError('no HallTwin app is configured in this process')
    return found


async def parts() -> Parts:
    """The parts handed to the pages, once the app has started."""
    return await root().started.ready()


async def ready() -> Runtime:
    """The app's services, once it has started."""
    return (await parts()).runtime
