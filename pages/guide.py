"""`/guide` and `/guide/{code}`: the service guide a citizen reads on a phone before coming, no login.
`/guide` opens with 智能导服 (ask in your own words) above the catalogue.

The pages read the guide service once and hand the screens what they draw (components/guide_*.py).
A shared link may carry answers (`/guide/RE-TRANSFER?property_type=second_hand`); answers the service
refuses are said once and the guide is shown without them. `/guide/{code}/print` is the same guide as a
plain printable page (纸质版简化指南, components/guide_print.py): no NiceGUI client, nothing to keep open.
"""

from __future__ import annotations

from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse
from nicegui import Client, ui

from app.api.callers import address_of
from app.services.errors import DomainError
from app.services.guide import Guide, GuideService
from app.services.principal import Principal
from components import guide_texts as _texts  # noqa: F401 - registers the texts
from components.assistant_box import AssistantBox
from components.elder_mode import without_elder
from components.guide_catalogue import GuideCatalogue
from components.guide_print import guide_link, print_page
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
            shown, problem = await _shown(service, code, without_elder(request.query_params))
        except DomainError as failure:
            with tid(ui.card(), 'guide-gate').classes('w-full p-4 gap-3'):
                tid(ui.label(error_text(failure)), 'guide-error').classes('text-negative text-base')
                tid(ui.link(t('guide.back'), '/guide'), 'guide-back')
            return
        GuideScreen(service, shown, tz=rt.settings.tz, problem=problem).build()


async def guide_print_page(started: Started, code: str, request: Request, client: Client) -> HTMLResponse:
    client.delete()  # a plain page: its NiceGUI client id never reaches a browser
    rt = (await started.ready()).runtime
    try:
        shown, problem = await _shown(_guide(rt.guide), code, without_elder(request.query_params))
    except DomainError as failure:
        page = NOT_FOUND_PAGE.format(body=escape(error_text(failure)))
        return HTMLResponse(page, status_code=failure.status)
    answers = shown.checklist.answers
    link = guide_link(str(request.base_url).rstrip('/'), shown.entry.code, answers)
    return HTMLResponse(print_page(shown, guide_url=link, lang=rt.settings.lang, problem=problem))


NOT_FOUND_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>办事指南 / Guide</title>
<body style="font-family:sans-serif;padding:2rem;font-size:20px;line-height:1.5">
<p role="alert" data-testid="print-error">{body}</p>
<p><a href="/guide">返回事项列表 / All services</a></p></body></html>"""


async def _shown(service: GuideService, code: str, answers: dict[str, str]) -> tuple[Guide, DomainError | None]:
    """The guide for the link's answers, or without them (and why) when they are refused."""
    try:
        return await service.guide(code, answers), None
    except DomainError as refused:
        if not answers:
            raise
        return await service.guide(code), refused
