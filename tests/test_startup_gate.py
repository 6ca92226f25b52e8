"""A page asked for while the app is still starting is answered once it has started, whatever start-up takes."""

from __future__ import annotations

import asyncio

import pytest
from nicegui.testing import User

from app import jobs
from tests.factories import SmallHall

RESPONSE_TIMEOUT = 3.0  # NiceGUI's page default: a page builder that takes longer is answered 500


async def test_a_page_asked_for_during_a_long_start_up_is_drawn_once_started(
    ui_hall: SmallHall, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = asyncio.Event()
    start = jobs.start

    async def slow_start(*args: object, **kwargs: object) -> jobs.AppJobs:
        await held.wait()  # a start-up step that takes longer than a page may take to build
        return await start(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jobs, 'start', slow_start)
    opening = asyncio.create_task(user.open('/guide'))
    await asyncio.sleep(RESPONSE_TIMEOUT + 0.5)
    assert not opening.done()
    held.set()
    await asyncio.wait_for(opening, 30)
    await user.should_see(marker='guide-search')
