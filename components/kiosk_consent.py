"""刷脸 on the kiosk: the consent text and its scope (本次 / 同类) first, agreed by a separate tick, then the wait for
the camera.

The fallback (ID card, or choosing a service by hand) is on both screens: saying no costs nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.models.security import ConsentPurpose, ConsentScope
from app.services.consent import consent_text
from components import kiosk_texts as _texts  # noqa: F401 - registers the kiosk's texts
from components.kiosk_keys import goes_back, heading
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import t

Action = Callable[[], Awaitable[None] | None]


def consent_view(
    version: str, *, on_agree: Callable[[ConsentScope], Awaitable[None] | None], on_decline: Action
) -> None:
    text = consent_text(ConsentPurpose.FACE_TICKET, version)
    heading(ui.label(t('kiosk.consent.title'))).classes('text-[1.6em] font-bold')
    with ui.card().classes('w-full p-6 no-shadow border'):
        tid(ui.label(pick(text.zh, text.en)), 'kiosk-consent-text').classes('leading-relaxed')
    tid(ui.label(t('kiosk.consent.minor')), 'kiosk-consent-minor').classes('text-[1em] text-deep-orange-9')
    ui.label(t('kiosk.consent.scope')).classes('text-[1.1em] font-bold')
    scopes = {
        ConsentScope.ONCE.value: t('kiosk.consent.scope.once'),
        ConsentScope.SAME_KIND.value: t('kiosk.consent.scope.same_kind'),
    }
    scope = tid(ui.radio(scopes, value=ConsentScope.ONCE.value), 'kiosk-consent-scope').classes('text-[1em]')
    scope.props('size=lg')
    agreed = tid(ui.checkbox(t('kiosk.consent.check')), 'kiosk-consent-check').classes('text-[1em]')
    agreed.props('size=xl')

    async def agree_if_ticked() -> None:
        if not agreed.value:  # the button is disabled until ticked; checked again here, on the server
            return
        result = on_agree(ConsentScope(scope.value))
        if result is not None:
            await result

    with ui.row().classes('w-full gap-4'):
        agree = tid(ui.button(t('kiosk.consent.agree'), on_click=agree_if_ticked), 'kiosk-consent-agree')
        agree.props('unelevated size=lg').classes('flex-grow').bind_enabled_from(agreed, 'value')
        decline = tid(ui.button(t('kiosk.consent.decline'), on_click=on_decline), 'kiosk-consent-decline')
        goes_back(decline).props('outline size=lg').classes('flex-grow')


def face_wait_view(*, on_fallback: Action) -> None:
    with ui.column().classes('w-full items-center gap-6 py-10'):
        ui.spinner('dots', size='6em', color='primary')
        look = tid(ui.label(t('kiosk.face.look')), 'kiosk-face-wait')
        heading(look).classes('text-[1.5em] font-bold text-center')
        fallback = tid(ui.button(t('kiosk.face.fallback'), on_click=on_fallback), 'kiosk-face-fallback')
        goes_back(fallback).props('outline size=lg')
