"""开通刷脸 on the kiosk, after an ID card read: the offer, the consent with its scope (本次 / 同类), the live capture.

Saying no, or the camera failing, costs nothing: the citizen carries on with the card just read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.models.security import ConsentPurpose, ConsentScope
from app.services.consent import consent_text
from components import kiosk_texts as _texts  # noqa: F401 - registers the kiosk's texts
from components.kiosk_keys import heading
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import t

Action = Callable[[], Awaitable[None] | None]


def enrol_offer(*, on_offer: Action) -> None:
    """A quiet, optional card above the services: never in the way of taking a number."""
    with tid(ui.row(), 'kiosk-enrol-offer').classes(
        'w-full items-center gap-4 p-4 rounded-borders kiosk-service no-wrap'
    ):
        ui.icon('face').classes('text-primary').style('font-size: 2em')
        with ui.column().classes('gap-0 flex-grow'):
            ui.label(t('kiosk.enrol.offer')).classes('text-[1.1em] font-bold')
            ui.label(t('kiosk.enrol.offer_hint')).classes('text-[0.9em] kiosk-muted')
        tid(ui.button(t('kiosk.enrol.open'), on_click=on_offer), 'kiosk-enrol-open').props('outline size=lg')


def enrol_consent_view(
    version: str, *, on_agree: Callable[[ConsentScope], Awaitable[None]], on_decline: Action
) -> None:
    """The purpose in plain words, the full consent text, the scope, and a separate tick before agreeing."""
    text = consent_text(ConsentPurpose.FACE_TICKET, version)
    heading(ui.label(t('kiosk.enrol.title'))).classes('text-[1.6em] font-bold')
    tid(ui.label(t('kiosk.enrol.purpose')), 'kiosk-enrol-purpose').classes('text-[1.15em]')
    with ui.card().classes('w-full p-6 no-shadow border'):
        tid(ui.label(pick(text.zh, text.en)), 'kiosk-enrol-text').classes('leading-relaxed')
    ui.label(t('kiosk.enrol.scope')).classes('text-[1.1em] font-bold')
    scope = tid(
        ui.radio(
            {
                ConsentScope.ONCE.value: t('kiosk.enrol.scope.once'),
                ConsentScope.SAME_KIND.value: t('kiosk.enrol.scope.same_kind'),
            },
            value=ConsentScope.ONCE.value,
        ),
        'kiosk-enrol-scope',
    ).classes('text-[1em]')
    scope.props('size=lg')
    agreed = tid(ui.checkbox(t('kiosk.enrol.check')), 'kiosk-enrol-check').classes('text-[1em]')
    agreed.props('size=xl')

    async def agree_if_ticked() -> None:
        if agreed.value:  # the button is disabled until ticked; checked again here, on the server
            await on_agree(ConsentScope(scope.value))

    with ui.row().classes('w-full gap-4'):
        agree = tid(ui.button(t('kiosk.enrol.agree'), on_click=agree_if_ticked), 'kiosk-enrol-agree')
        agree.props('unelevated size=lg').classes('flex-grow').bind_enabled_from(agreed, 'value')
        decline = tid(ui.button(t('kiosk.enrol.decline'), on_click=on_decline), 'kiosk-enrol-decline')
        decline.props('outline size=lg').classes('flex-grow')


def enrol_capture_view(*, on_capture: Action, on_fallback: Action) -> None:
    with ui.column().classes('w-full items-center gap-6 py-8'):
        ui.icon('photo_camera_front').classes('text-primary').style('font-size: 5em')
        heading(tid(ui.label(t('kiosk.enrol.look')), 'kiosk-enrol-look')).classes('text-[1.5em] font-bold text-center')
        ui.label(t('kiosk.enrol.look_hint')).classes('text-[1.1em] text-center kiosk-muted')
        with ui.row().classes('gap-4'):
            tid(ui.button(t('kiosk.enrol.capture'), on_click=on_capture), 'kiosk-enrol-capture').props(
                'unelevated size=lg icon=photo_camera'
            )
            tid(ui.button(t('kiosk.enrol.fallback'), on_click=on_fallback), 'kiosk-enrol-fallback').props(
                'outline size=lg'
            )
