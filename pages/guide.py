"""`/guide` and `/guide/{code}`: the service guide a citizen reads on a phone before coming, no login.
`/guide` opens with 智能导服 (ask in your own words) above the catalogue.

The pages read the guide service once and hand the screens what they draw (components/guide_*.py).
A shared link may carry answers (`/guide/RE-TRANSFER?property_type=second_hand`); answers the service
refuses are said once and the guide is shown without them.
"""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.api.callers import address_of
from app.services.errors import DomainError
from app.services.guide import Guide, GuideService
from app.services.principal import Principal
from components import guide_texts as _texts  # noqa: F401 - registers the texts
from components.assistant_box import AssistantBox
from components.guide_catalogue import GuideCatalogue
from components.guide_screen import GuideScreen
from components.phone_frame import phone_frame
from components.testids import tid
from components.texts import error_text, t
from pages.parts import Started


def _guide(started_guide: GuideService | None) -> GuideService:
    assert started_guide is not None, 'the composition root builds the guide'
    return started_guide


async def guide_page(started: Started, request: Request) -> None:
    parts = await started.ready()
    rt = parts.runtime
    entries = await _guide(rt.guide).catalogue()
    with phone_frame(t('guide.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        if rt.assistant is not None:
            caller = Principal.anonymous(address_of(request, rt.settings.trusted_proxies))
            AssistantBox(rt.assistant, caller, tz=rt.settings.tz).build()
        GuideCatalogue(entries, query=request.query_params.get('q', '')).build()


async def guide_service_page(started: Started, code: str, request: Request) -> None:
    parts = await started.ready()
    rt = parts.runtime
    service = _guide(rt.guide)
    with phone_frame(t('guide.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        try:
            shown, problem = await _shown(service, code, dict(request.query_params))
        except DomainError as failure:
            with tid(ui.card(), 'guide-gate').classes('w-full p-4 gap-3'):
                tid(ui.label(error_text(failure)), 'guide-error').classes('text-negative text-base')
                tid(ui.link(t('guide.back'), '/guide'), 'guide-back')
            return
        GuideScreen(service, shown, tz=rt.settings.tz, problem=problem).build()


async def _shown(service: GuideService, code: str, answers: dict[str, str]) -> tuple[Guide, DomainError | None]:
    """The guide for the link's answers, or without them (and why) when they are refused."""
    try:
        return await service.guide(code, answers), None
    except DomainError as refused:
        if not answers:
            raise
        return await service.guide(code), refused
