"""`/ranking`: 评价结果公开, the month's satisfaction per window and department, for anyone, no login.

No person is named: windows by number, departments by name. The month comes from the link
(`/ranking?month=2026-11`); a month the hall does not publish is said once and this month is shown.
The figures come from the shared monthly cache (app/services/rankings.py), so many browsers cost
one computation per change.
"""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.services.errors import DomainError
from app.services.rankings import RankingService
from components.phone_frame import phone_frame
from components.results_tables import month_label, ranking_body
from components.testids import tid
from components.texts import error_text, t
from pages.parts import Started


def _rankings(started_rankings: RankingService | None) -> RankingService:
    assert started_rankings is not None, 'the composition root builds the rankings'
    return started_rankings


async def ranking_page(started: Started, request: Request) -> None:
    parts = await started.ready()
    rt = parts.runtime
    rankings = _rankings(rt.rankings)
    problem: DomainError | None = None
    try:
        month = rankings.month(request.query_params.get('month'))
    except DomainError as refused:
        problem, month = refused, rankings.month(None)
    ranking = await rankings.public(month)
    with phone_frame(t('results.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        if problem is not None:
            tid(ui.label(error_text(problem)), 'ranking-error').classes('text-negative text-sm')
        ui.label(t('results.intro')).classes('text-sm text-grey-8')
        options = {m.strftime('%Y-%m'): month_label(m) for m in rankings.months()}
        tid(
            ui.select(
                options,
                value=month.strftime('%Y-%m'),
                label=t('results.month'),
                on_change=lambda e: ui.navigate.to(f'/ranking?month={e.value}'),
            ),
            'ranking-month',
        ).classes('w-48')
        ranking_body(ranking)
