"""The live floor map: one SVG per page, patched in place by the process's MapPatcher (see map_patch.py).

The page subscribes inside itself, so the subscription dies with the client; nothing here ever
touches the SVG element again after creating it (a server-side update would resend the original
markup and undo the patches).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

from nicegui import ui

from app.services.thresholds import SEAT_COMFORT, SEAT_WARM, SLOW_SERVICE
from components import manager_texts  # noqa: F401 - registers the texts
from components.floor_plan import svg
from components.map_patch import SCRIPT, MapPatcher
from components.testids import tid
from components.texts import t

Select = Callable[[str, int], Awaitable[None] | None]

CSS = """
.fm-wrap { line-height: 0; }
.fm { width: 100%; height: auto; max-height: calc(100vh - 210px); display: block; font-family: "Noto Sans CJK SC",
  "Noto Sans SC", "Microsoft YaHei", sans-serif; user-select: none; }
.fm-floor { fill: #f7f8fa; stroke: #9aa5b1; stroke-width: 3; }
.fm-zone .fm-zrect { fill: #eef3f9; stroke: #b8c6d6; stroke-width: 2; }
.fm-zone[data-k] { cursor: pointer; }
.fm-zname { font-size: 19px; fill: #44546a; font-weight: 600; }
.fm-badge rect { fill: #dfe7f1; }
.fm-qlabel { font-size: 14px; fill: #44546a; }
.fm-qnum { font-size: 21px; font-weight: 700; fill: #1f3b5c; }
.fm-qremote { font-size: 13px; font-weight: 600; fill: #6a1b9a; }
.fm-qbooked { font-size: 13px; font-weight: 600; fill: #00695c; }
.fm-zone.busy .fm-badge rect { fill: #1f5fa8; }
.fm-zone.busy .fm-qlabel, .fm-zone.busy .fm-qnum { fill: #fff; }
.fm-zone.hot .fm-badge rect { fill: #c62828; }
.fm-zone.hot .fm-zrect { stroke: #c62828; stroke-width: 4; }
.fm-entrance { font-size: 16px; fill: #6b7785; letter-spacing: 6px; }
.fm-win { cursor: pointer; }
.fm-win rect { stroke-width: 2.5; }
.fm-win.open rect { fill: #e8f5e9; stroke: #2e7d32; }
.fm-win.open.serving rect { fill: #2e7d32; stroke: #1b5e20; }
.fm-win.open.serving.slow rect { fill: #e65100; stroke: #bf360c; }
.fm-win.paused rect { fill: #fff3e0; stroke: #ef6c00; stroke-dasharray: 6 3; }
.fm-win.closed rect { fill: #e0e0e0; stroke: #9e9e9e; }
.fm-win.offhours rect, .fm-win.open.offhours rect { fill: #eceff1; stroke: #607d8b; stroke-dasharray: 2 3; }
.fm-wno { font-size: 16px; font-weight: 700; fill: #37474f; }
.fm-wcur { font-size: 23px; font-weight: 700; font-family: ui-monospace, Menlo, monospace; fill: #1b5e20; }
.fm-win.serving .fm-wno, .fm-win.serving .fm-wcur { fill: #fff; }
.fm-win.closed .fm-wcur, .fm-win.paused .fm-wcur { fill: #757575; }
.fm-dev { cursor: pointer; stroke-width: 2; }
.fm-dev.online { fill: #43a047; stroke: #1b5e20; }
.fm-dev.offline { fill: #eceff1; stroke: #78909c; stroke-dasharray: 3 2; }
.fm-dev.fault { fill: #e53935; stroke: #7f0000; }
.fm-dev.attention { stroke: #ff6f00; stroke-width: 4; }
.fm-dev.k-seat.online.free { fill: #ffffff; stroke: #90a4ae; stroke-dasharray: none; }
.fm-dev.k-seat.online.occ { fill: #64b5f6; stroke: #1565c0; }
.fm-dev.k-seat.online.occ.warm { fill: #ffb74d; stroke: #e65100; }
.fm-dev.k-seat.online.occ.long { fill: #e57373; stroke: #b71c1c; }
.fm-dev.help { animation: fm-blink 1s steps(2, start) infinite; stroke: #d50000; stroke-width: 5; }
@keyframes fm-blink { to { visibility: hidden; } }
@media (prefers-reduced-motion: reduce) { .fm-dev.help { animation: none; stroke-width: 7; } }
.fm-legend { font-size: 12px; color: #44546a; display: flex; flex-wrap: wrap; gap: 2px 14px; }
.fm-item { white-space: nowrap; }
.fm-sw { display: inline-block; width: 14px; height: 14px; border-radius: 3px; border: 2px solid; vertical-align: -3px;
  margin-right: 4px; }
.fm-sw.round { border-radius: 50%; }
"""

LEGEND = (
    ('legend.open', 'background:#e8f5e9;border-color:#2e7d32', False),
    ('legend.serving', 'background:#2e7d32;border-color:#1b5e20', False),
    ('legend.slow', 'background:#e65100;border-color:#bf360c', False),
    ('legend.paused', 'background:#fff3e0;border-color:#ef6c00;border-style:dashed', False),
    ('legend.closed', 'background:#e0e0e0;border-color:#9e9e9e', False),
    ('legend.offhours', 'background:#eceff1;border-color:#607d8b;border-style:dotted', False),
    ('legend.online', 'background:#43a047;border-color:#1b5e20', True),
    ('legend.offline', 'background:#eceff1;border-color:#78909c;border-style:dashed', True),
    ('legend.fault', 'background:#e53935;border-color:#7f0000', True),
    ('legend.help', 'background:#fff;border-color:#d50000;border-width:3px', True),
    ('legend.seat_free', 'background:#fff;border-color:#90a4ae', True),
    ('legend.seat_occ', 'background:#64b5f6;border-color:#1565c0', True),
    ('legend.seat_warm', 'background:#ffb74d;border-color:#e65100', True),
    ('legend.seat_long', 'background:#e57373;border-color:#b71c1c', True),
    ('legend.queue_hot', 'background:#c62828;border-color:#c62828', False),
    ('legend.remote', 'background:#6a1b9a;border-color:#6a1b9a', False),
    ('legend.booked', 'background:#00695c;border-color:#00695c', False),
)

LEGEND_MINUTES = {  # the legend names the thresholds the map draws with
    'legend.slow': SLOW_SERVICE,
    'legend.seat_warm': SEAT_WARM,
    'legend.seat_long': SEAT_COMFORT,
}

CLICK_JS = '(e) => { const g = e.target.closest("[data-k]"); if (g) emit(g.dataset.k); }'


def legend_text(key: str) -> str:
    limit = LEGEND_MINUTES.get(key)
    return t(key, minutes=int(limit.total_seconds() // 60)) if limit else t(key)


def legend() -> None:
    """One static element (not 40): it never changes, and every manager page carries it."""
    items = ''.join(
        f'<span class="fm-item"><span class="fm-sw{" round" if round_ else ""}" style="{style}"></span>'
        f'{escape(legend_text(key))}</span>'
        for key, style, round_ in LEGEND
    )
    tid(ui.html(f'<div class="fm-legend">{items}</div>', sanitize=False), 'floor-legend')


def floor_map(source: MapPatcher, *, on_select: Select) -> ui.html:
    """Draw the plan as the patcher last sent it, then follow its patches until this page goes away."""
    ui.add_head_html(SCRIPT)
    ui.add_css(CSS)
    feed = source.feed
    plan = tid(
        ui.html(
            svg(
                feed.twin,
                source.state,
                entrance=t('manager.entrance'),
                queue=t('manager.queue'),
                name=t('manager.floor_map'),
            ),
            sanitize=False,
        ),
        'floor-map',
    )
    plan.classes('fm-wrap w-full')

    async def clicked(event: object) -> None:
        target = str(getattr(event, 'args', '') or '')
        kind, _, ident = target.partition(':')
        if ident.isdigit():
            result = on_select(kind, int(ident))
            if result is not None:
                await result

    plan.on('click', clicked, js_handler=CLICK_JS)
    client = plan.client
    source.patch.subscribe(lambda code: client.run_javascript(code))
    return plan
