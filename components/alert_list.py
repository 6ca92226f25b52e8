"""The open alerts, most urgent first, each with an acknowledge button; redrawn when an alert changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from nicegui import ui

from app.events import AlertPayload
from app.services.alerts import SEVERITY_ORDER
from app.settings import get_settings
from components import manager_texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import t
from twin.feed import HallFeed
from twin.model import ALERT, Key

Acknowledge = Callable[[int], Awaitable[None]]

SEVERITY_STYLE = {
    'critical': ('report', 'text-negative', 'border-l-4 border-red-7'),
    'warning': ('warning', 'text-orange-9', 'border-l-4 border-orange-7'),
    'info': ('info', 'text-primary', 'border-l-4 border-blue-5'),
}


def ordered(alerts: list[AlertPayload]) -> list[AlertPayload]:
    return sorted(
        alerts,
        key=lambda a: (a.acknowledged_at is not None, SEVERITY_ORDER.get(a.severity, 9), -a.raised_at.timestamp()),
    )


def localized(message: str) -> str:
    """Alert messages are stored as '中文 / English' (like every domain message): show the page's language."""
    zh, sep, en = message.partition(' / ')
    return en if sep and get_settings().lang == 'en' else zh


def alert_list(feed: HallFeed, *, on_ack: Acknowledge, tz: ZoneInfo) -> None:
    twin = feed.twin
    with ui.row().classes('w-full items-center justify-between'):
        ui.label(t('alerts.title')).classes('text-lg font-bold')
        count = tid(ui.badge(), 'alert-count').props('rounded')
    box = tid(ui.column(), 'alert-list').classes('w-full gap-2 overflow-auto grow min-h-0 no-wrap')
    box.props('tabindex=0 role=region')  # a scrolling list: reachable and named for keyboard and screen readers
    box.props['aria-label'] = t('alerts.title')

    def draw() -> None:
        alerts = ordered(list(twin.alerts.values()))
        waiting = sum(1 for a in alerts if a.acknowledged_at is None)
        count.set_text(str(waiting))
        count.props(f'color={"negative" if waiting else "grey-6"}')
        box.clear()
        with box:
            if not alerts:
                ui.label(t('alerts.none')).classes('text-sm text-grey-7')
            for alert in alerts:
                _item(alert, on_ack, tz)

    def on_flush(keys: frozenset[Key]) -> None:
        if any(kind == ALERT for kind, _ in keys):
            draw()

    draw()
    feed.flushed.subscribe(on_flush)


def _item(alert: AlertPayload, on_ack: Acknowledge, tz: ZoneInfo) -> None:
    icon, colour, border = SEVERITY_STYLE.get(alert.severity, SEVERITY_STYLE['info'])
    done = alert.acknowledged_at is not None
    card = tid(ui.card(), f'alert-{alert.id}').classes(f'w-full px-3 py-2 gap-1 {border}')
    if done:
        card.classes('opacity-70')
    with card, ui.row().classes('w-full items-start gap-2 no-wrap'):
        ui.icon(icon).classes(f'{colour} text-xl shrink-0')
        with ui.column().classes('gap-0 grow min-w-0'):
            ui.label(localized(alert.message)).classes('text-sm leading-snug break-words')
            raised = alert.raised_at.astimezone(tz).strftime('%H:%M')
            meta = f'{raised} · {t(f"alerts.severity.{alert.severity}")}'
            if done:
                meta += f' · {t("alerts.acked_by", who=alert.acknowledged_by or "")}'
            ui.label(meta).classes('text-xs text-grey-7')
        if not done:

            async def acknowledge(alert_id: int = alert.id) -> None:
                await on_ack(alert_id)

            tid(ui.button(t('alerts.ack'), on_click=acknowledge), f'alert-{alert.id}-ack').props(
                'dense unelevated size=sm color=primary'
            ).classes('shrink-0')
