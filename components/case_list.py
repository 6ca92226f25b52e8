"""The case timelines of a tracked ticket or case on /track and /proxy, with certificate downloads.

It remembers the ids of the cases it shows, so a pushed case event is recognised as theirs.
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services.case_views import CaseView
from app.services.journey import Journey
from app.services.tracking import Tracked
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.case_timeline import case_timeline
from components.testids import tid
from components.texts import t


class CaseList:
    def __init__(self, journey: Journey, tracked: Tracked, *, tz: ZoneInfo, base_url: str) -> None:
        self.journey = journey
        self.tracked = tracked
        self.tz = tz
        self.base_url = base_url
        self.case_ids: set[int] = set()
        self.box = tid(ui.card(), 'track-cases').classes('w-full p-4 gap-2')

    async def draw(self) -> list[CaseView]:
        tracked = self.tracked
        if tracked.ticket_id is not None:
            views = await self.journey.cases.views_for_ticket(tracked.ticket_id)
        else:
            views = [await self.journey.cases.tracked_view(tracked.case_id or 0)]
        self.case_ids = {view.id for view in views}
        self.box.clear()
        with self.box:
            ui.label(t('track.cases')).classes('text-base font-bold')
            if not views:
                ui.label(t('track.no_case')).classes('text-sm text-grey-7')
            for view in views:
                case_timeline(
                    view,
                    now=self.journey.cases.clock(),
                    tz=self.tz,
                    on_download=self.download,
                    verify_base=self.base_url,
                )
        return views

    def concerns(self, ticket_id: int | None, case_id: int | None) -> bool:
        """The event is about the tracked ticket or one of the cases shown."""
        tracked = self.tracked
        return (ticket_id is not None and ticket_id == tracked.ticket_id) or (
            case_id is not None and (case_id == tracked.case_id or case_id in self.case_ids)
        )

    async def download(self, number: str) -> None:
        document = await self.journey.certificates.document(number)
        if document is not None:
            body = json.dumps(document, ensure_ascii=False, indent=2).encode('utf-8')
            ui.download(body, f'{number}.json', 'application/json')
