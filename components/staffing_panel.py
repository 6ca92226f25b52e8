"""Staffing advice: each queue's expected wait for the next hour, the window moves that help, one click to apply.

Advice is computed when the panel opens and on its refresh button (it reads the last hour's
arrivals); applying re-checks the manager's session and the window, and is written to the audit log.
Applied moves are read from the database (they outlive a restart) and end by themselves at their end hour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol
from zoneinfo import ZoneInfo

from nicegui import ui

from app.models.people import Role
from app.services.errors import DomainError
from app.services.principal import Principal
from app.services.reasons import REASON_MAX
from app.services.staffing import MAX_WAIT, AppliedMove, Move, QueueOutlook, StaffingAdvice, StaffingService
from components.testids import tid
from components.texts import error_text, register, t

register(
    {
        'staffing.title': ('排班建议（未来1小时）', 'Staffing advice (next hour)'),
        'staffing.refresh': ('重新计算', 'Recalculate'),
        'staffing.at': ('{time} 计算', 'as of {time}'),
        'staffing.queue': ('事项', 'Queue'),
        'staffing.windows': ('窗口(折算)', 'Windows (share)'),
        'staffing.load': ('负荷', 'Load'),
        'staffing.wait': ('预计等候', 'Expected wait'),
        'staffing.minutes': ('{n} 分钟', '{n} min'),
        'staffing.unstable': ('>{n} 分钟（排队持续增长）', '>{n} min (queue keeps growing)'),
        'staffing.moves': ('建议调整', 'Suggested moves'),
        'staffing.none': (
            '当前无需调整窗口：没有哪一项调整能明显缩短等候',
            'No move needed: none would clearly cut waiting',
        ),
        'staffing.move': ('{window} → {target} 专窗', '{window} → {target} only'),
        'staffing.hours': ('未来 {n} 小时', 'for the next {n} h'),
        'staffing.from': ('原主办：{source}', 'was mainly: {source}'),
        'staffing.knows': ('该窗口已兼办此事项', 'already serves it as a fallback'),
        'staffing.gain': ('预计共减少等候约 {n} 人·分钟', 'saves about {n} citizen-minutes of waiting'),
        'staffing.apply': ('应用', 'Apply'),
        'staffing.confirm': ('确认将 {window} 调整为「{target}」专窗？', 'Make {window} serve only "{target}"?'),
        'staffing.cancel': ('取消', 'Cancel'),
        'staffing.applied': ('已调整 {window}，已记入审计日志', '{window} changed and recorded in the audit log'),
        'staffing.active': ('已应用的调整', 'Applied moves'),
        'staffing.until': ('至 {time}（到时自动恢复）', 'until {time} (then restored automatically)'),
        'staffing.by': ('{name} 于 {time} 调整', 'moved by {name} at {time}'),
        'staffing.why': ('原因：{reason}', 'why: {reason}'),
        'staffing.reason': ('调整原因（选填）', 'Reason (optional)'),
        'staffing.restore': ('恢复原事项', 'Restore'),
        'staffing.restored': ('{window} 已恢复原办理事项', '{window} serves its previous services again'),
        'staffing.forbidden': ('只有大厅管理人员可以调整窗口', 'Only hall managers may move windows'),
        'staffing.unavailable': ('排班建议暂不可用', 'Staffing advice is not available'),
    }
)

SHOWN_QUEUES = 8


class ActionSession(Protocol):
    """The page's staff session (pages/guard.py StaffSession): re-checked before every action."""

    async def recheck(self) -> Principal | None: ...


def wait_text(minutes: float) -> str:
    if minutes >= MAX_WAIT:
        return t('staffing.unstable', n=int(MAX_WAIT))
    return t('staffing.minutes', n=round(minutes))


def _wait_class(minutes: float) -> str:
    return 'text-negative font-bold' if minutes >= 30 else ('text-orange-9' if minutes >= 15 else 'text-positive')


def _outlook_table(queues: list[QueueOutlook]) -> None:
    with tid(ui.grid(columns='minmax(9rem,2fr) 1fr 1fr 1.4fr'), 'staffing-queues').classes('w-full gap-x-3 gap-y-1'):
        for key in ('staffing.queue', 'staffing.windows', 'staffing.load', 'staffing.wait'):
            ui.label(t(key)).classes('text-xs text-grey-7 font-bold')
        for queue in queues[:SHOWN_QUEUES]:
            ui.label(queue.name).classes('text-sm ellipsis')
            ui.label(f'{queue.servers:.1f}').classes('text-sm')
            ui.label(f'{queue.load:.1f}').classes('text-sm')
            ui.label(wait_text(queue.wait_minutes)).classes(f'text-sm {_wait_class(queue.wait_minutes)}')


def _waits(move: Move) -> None:
    with ui.row().classes('gap-2 flex-wrap'):
        for code, before in move.waits_before.items():
            after = move.waits_after.get(code, before)
            name = move.names.get(code, code)
            with ui.element('div').classes('rounded bg-grey-2 px-2 py-1 text-xs'):
                ui.label(name).classes('text-grey-8')
                with ui.row().classes('items-center gap-1 no-wrap'):
                    ui.label(wait_text(before)).classes(_wait_class(before))
                    ui.icon('arrow_forward', size='xs').classes('text-grey-6')
                    ui.label(wait_text(after)).classes(_wait_class(after))


async def staffing_panel(service: StaffingService | None, session: ActionSession, tz: ZoneInfo) -> None:
    """Render the staffing advice into the current container (the manager page puts it in a tab)."""
    if service is None:
        ui.label(t('staffing.unavailable')).classes('text-grey-7')
        return
    with ui.row().classes('w-full items-center gap-3'):
        ui.label(t('staffing.title')).classes('text-base font-bold')
        stamp = ui.label().classes('text-xs text-grey-8')
        refresh = tid(ui.button(t('staffing.refresh'), icon='calculate'), 'staffing-refresh').props('flat dense')
    body = ui.column().classes('w-full gap-3')

    async def manager() -> Principal | None:
        principal = await session.recheck()
        if principal is not None and not principal.has_role(Role.MANAGER):
            ui.notify(t('staffing.forbidden'), type='negative')
            return None
        return principal

    async def apply(move: Move, reason: str) -> None:
        principal = await manager()
        if principal is None:
            return
        try:
            await service.apply(move, caller=principal, reason=reason)
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
        else:
            ui.notify(t('staffing.applied', window=move.window_name), type='positive')
        await draw()

    async def restore(applied: AppliedMove) -> None:
        principal = await manager()
        if principal is None:
            return
        try:
            await service.restore(applied, caller=principal)
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
        else:
            ui.notify(t('staffing.restored', window=applied.window_name), type='positive')
        await draw()

    def confirm(move: Move) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(t('staffing.confirm', window=move.window_name, target=move.target_name))
            reason = tid(ui.input(t('staffing.reason')), 'staffing-reason').props(f'maxlength={REASON_MAX}')
            reason.classes('w-full')
            with ui.row().classes('w-full justify-end'):
                ui.button(t('staffing.cancel'), on_click=dialog.close).props('flat')

                async def go() -> None:
                    dialog.close()
                    await apply(move, str(reason.value or ''))

                tid(ui.button(t('staffing.apply'), on_click=go), 'staffing-confirm')
        dialog.open()

    async def draw() -> None:
        advice = await service.advise()
        stamp.set_text(t('staffing.at', time=advice.at.astimezone(tz).strftime('%H:%M')))
        body.clear()
        with body:
            _render(advice, await service.active(), tz, confirm, restore)

    async def recalculate() -> None:
        service.forget()
        await draw()

    refresh.on_click(recalculate)
    await draw()


def _render(
    advice: StaffingAdvice,
    applied: list[AppliedMove],
    tz: ZoneInfo,
    confirm: Callable[[Move], None],
    restore: Callable[[AppliedMove], Awaitable[None]],
) -> None:
    with ui.row().classes('w-full gap-4 no-wrap items-start'):
        with ui.column().classes('w-2/5 gap-1'):
            _outlook_table(advice.queues)
        with ui.column().classes('grow gap-2'):
            ui.label(t('staffing.moves')).classes('text-sm font-bold')
            if not advice.moves:
                tid(ui.label(t('staffing.none')), 'staffing-none').classes('text-sm text-grey-7')
            for index, move in enumerate(advice.moves):
                with tid(ui.card(), f'staffing-move-{index}').classes('w-full p-3 gap-1 border-l-4 border-orange-7'):
                    with ui.row().classes('w-full items-center justify-between no-wrap'):
                        ui.label(t('staffing.move', window=move.window_name, target=move.target_name)).classes(
                            'text-base font-bold'
                        )
                        tid(ui.button(t('staffing.apply'), icon='swap_horiz'), f'staffing-apply-{index}').on_click(
                            lambda m=move: confirm(m)
                        ).props('unelevated dense color=primary')
                    hints = [t('staffing.hours', n=f'{move.hours:g}'), t('staffing.from', source=move.source_name)]
                    if move.knows_target:
                        hints.append(t('staffing.knows'))
                    ui.label(' · '.join(hints)).classes('text-xs text-grey-7')
                    _waits(move)
                    ui.label(t('staffing.gain', n=round(move.gain))).classes('text-xs text-grey-8')
            if applied:
                ui.label(t('staffing.active')).classes('text-sm font-bold mt-2')
                for index, item in enumerate(applied):
                    with tid(ui.row(), f'staffing-active-{index}').classes('w-full items-center justify-between'):
                        with ui.column().classes('gap-0'):
                            until = item.until.astimezone(tz).strftime('%H:%M')
                            ui.label(
                                f'{t("staffing.move", window=item.window_name, target=item.target_name)} · '
                                f'{t("staffing.until", time=until)}'
                            ).classes('text-sm')
                            since = item.started_at.astimezone(tz).strftime('%H:%M')
                            who = t('staffing.by', name=item.actor, time=since)
                            if item.reason:
                                who = f'{who} · {t("staffing.why", reason=item.reason)}'
                            ui.label(who).classes('text-xs text-grey-7')
                        ui.button(t('staffing.restore'), on_click=lambda a=item: restore(a)).props('flat dense')
