"""A case as a timeline: one entry per stage (parallel departments side by side), each node's times and deadline.

Drawn from a CaseView; the page redraws it when a CaseStepChanged for the case arrives (pushed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import groupby
from zoneinfo import ZoneInfo

from nicegui import ui

from app.models.cases import CaseNode
from app.services.case_transfer import TRANSFER_KIND
from app.services.case_views import MATERIAL_PREPARED, MATERIAL_SATISFIED, MATERIAL_VERIFIED, CaseView
from app.services.certificates import verify_path
from app.services.department_data import SOURCES
from app.services.workflow import ACTIVE, APPROVED, DONE, RETURNED, SlaLevel, sla_level
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.kiosk_ticket import qr_data_uri
from components.testids import tid
from components.texts import t

STATUS_COLOURS = {
    'pending': 'grey-6',
    ACTIVE: 'primary',
    APPROVED: 'positive',
    DONE: 'positive',
    RETURNED: 'negative',
}
STATUS_ICONS = {
    'pending': 'radio_button_unchecked',
    ACTIVE: 'pending',
    APPROVED: 'check',
    DONE: 'check',
    RETURNED: 'undo',
}


def _at(moment: dt.datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime('%m-%d %H:%M') if moment else ''


def _node_level(node: CaseNode, now: dt.datetime, tz: ZoneInfo) -> str:
    if node.status != ACTIVE or node.started_at is None or node.due_at is None:
        return SlaLevel.OK
    return sla_level(node.started_at, node.due_at, now, tz)


def _node(view: CaseView, node: CaseNode, now: dt.datetime, tz: ZoneInfo) -> None:
    with tid(ui.column(), f'case-node-{node.id}').classes('gap-0 min-w-[9rem] flex-1'):
        with ui.row().classes('items-center gap-1 no-wrap'):
            ui.label(node.name).classes('font-bold')
            status, colour = node.status, STATUS_COLOURS.get(node.status, 'grey-6')
            if node.kind == TRANSFER_KIND:  # 跨区通办: the case moved to another hall here
                status, colour = 'transferred', 'deep-purple'
            chip = tid(ui.label(t(f'timeline.status.{status}')), f'case-node-{node.id}-status')
            chip.classes(f'text-xs px-1 rounded text-white bg-{colour}')
            if node.status == APPROVED and node.rule:
                ui.label(t('timeline.instant')).classes('text-xs px-1 rounded bg-amber-2 text-amber-10')
        if name := view.department_name(node.department_id):
            ui.label(name).classes('text-xs text-grey-7')
        if node.started_at:
            ui.label(t('timeline.started', at=_at(node.started_at, tz))).classes('text-xs text-grey-8')
        if node.finished_at:
            ui.label(t('timeline.finished', at=_at(node.finished_at, tz))).classes('text-xs text-grey-8')
        elif node.due_at:
            level = _node_level(node, now, tz)
            due = ui.label(t('timeline.due', due=_at(node.due_at, tz))).classes('text-xs')
            if level != SlaLevel.OK:
                due.classes('text-negative font-bold').set_text(f'{due.text} · {t(f"timeline.{level}")}')
        if node.note and node.status in (RETURNED, APPROVED, DONE):
            ui.label(node.note).classes('text-xs text-grey-9 break-all')


def _stage_icon(nodes: list[CaseNode]) -> tuple[str, str]:
    latest = {n.name: n for n in nodes}  # a retry after a return is the one that counts
    statuses = {n.status for n in latest.values()}
    if statuses <= {APPROVED, DONE}:
        return STATUS_ICONS[DONE], STATUS_COLOURS[DONE]
    if RETURNED in statuses:
        return STATUS_ICONS[RETURNED], STATUS_COLOURS[RETURNED]
    if ACTIVE in statuses:
        return STATUS_ICONS[ACTIVE], STATUS_COLOURS[ACTIVE]
    return STATUS_ICONS['pending'], STATUS_COLOURS['pending']


def _materials(view: CaseView) -> None:
    if not view.materials:
        return
    with tid(ui.column(), f'case-{view.id}-materials').classes('gap-1 w-full'):
        ui.label(t('timeline.materials')).classes('text-sm font-bold')
        for material in view.materials:
            holder = SOURCES[material.source].holder if material.source in SOURCES else material.source
            if material.status == MATERIAL_SATISFIED:
                state, colour = t('timeline.material.satisfied', holder=holder), 'text-positive'
            elif material.status == MATERIAL_VERIFIED:
                state, colour = t('timeline.material.verified', holder=holder), 'text-positive'
            elif material.status == MATERIAL_PREPARED:
                state, colour = t('timeline.material.prepared'), 'text-positive'
            else:
                state, colour = t('timeline.material.required'), 'text-grey-8'
            with ui.row().classes('w-full justify-between gap-2 no-wrap text-sm'):
                ui.label(material.name).classes('break-all')
                ui.label(state).classes(f'{colour} shrink-0 text-right')


def _certificates(view: CaseView, tz: ZoneInfo, on_download: Callable[[str], object] | None, verify_base: str) -> None:
    for certificate in view.certificates:
        card = tid(ui.card(), f'certificate-{certificate.number}').classes('w-full p-3 bg-green-1 no-shadow')
        with card, ui.row().classes('w-full items-center justify-between no-wrap gap-2'):
            with ui.column().classes('gap-1 min-w-0'):
                ui.label(f'{t("timeline.certificate")} · {certificate.kind}').classes('font-bold')
                ui.label(certificate.number).classes('font-mono text-sm break-all')
                ui.label(_at(certificate.issued_at, tz)).classes('text-xs text-grey-8')
                with ui.row().classes('gap-2 items-center'):
                    ui.link(t('timeline.certificate.verify'), verify_path(certificate.number))
                    if on_download is not None:
                        number = certificate.number
                        ui.button(t('timeline.certificate.download'), on_click=lambda n=number: on_download(n)).props(
                            'flat dense no-caps'
                        )
            if verify_base:  # the QR a printed copy carries: anyone can check it at /verify
                qr = qr_data_uri(verify_base + verify_path(certificate.number))
                image = tid(ui.image(qr), f'certificate-{certificate.number}-qr').classes('w-24 h-24 shrink-0')
                image.props('no-spinner no-transition loading=eager ratio=1')


def case_timeline(
    view: CaseView,
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    on_download: Callable[[str], object] | None = None,
    verify_base: str = '',
) -> None:
    """The case's service, status, materials, every stage with its nodes, and the certificates it issued.

    `verify_base` (the site's address) adds each certificate's QR code, pointing to /verify.
    """
    with tid(ui.column(), f'case-{view.id}').classes('w-full gap-2'):
        with ui.row().classes('w-full items-baseline justify-between'):
            ui.label(view.service.name).classes('text-lg font-bold')
            tid(ui.label(t(f'timeline.case.{view.case.status}')), f'case-{view.id}-status').classes('text-sm')
        _materials(view)
        with ui.timeline(side='right', layout='dense').classes('w-full'):
            for stage, group in groupby(view.nodes, key=lambda n: n.stage):
                nodes = list(group)
                icon, colour = _stage_icon(nodes)
                departments = {n.department_id for n in nodes if n.kind != TRANSFER_KIND}
                title = t('timeline.stage.parallel', n=len(departments)) if len(departments) > 1 else ''
                entry = ui.timeline_entry(title=title, icon=icon, color=colour).props(f'data-stage={stage}')
                with entry, ui.row().classes('w-full gap-3'):
                    for node in nodes:
                        _node(view, node, now, tz)
        _certificates(view, tz, on_download, verify_base)
