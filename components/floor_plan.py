"""The floor plan as SVG, and how each part of it looks now (pure Python, no NiceGUI).

The plan is drawn once per page from the seed's coordinates (zones, windows, devices, seats). What
changes is only the `class` attribute of a part (its state colour) and the text of a few labels
(a window's current number, a zone's queue length, how many of it are remote, and how many citizens are
booked for the hour ahead). `visuals` gives
exactly those for every part in the twin, `visuals_for` for the parts behind some changed keys; the map's
feed sends only the ones that differ from what it sent before.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from app.models.device import DeviceKind, DeviceState
from app.services.thresholds import SeatLevel, seat_level, serving_too_long
from twin.hall import HallTwin
from twin.model import DEVICE, QUEUE, SEAT, WINDOW, ZONE, Key

Visual = tuple[str | None, str | None]  # (class attribute, text content); None leaves it as it is

SEAT_CLASSES = {
    SeatLevel.FREE: ' free',
    SeatLevel.OCCUPIED: ' occ',
    SeatLevel.WARM: ' occ warm',
    SeatLevel.LONG: ' occ long',
}
WINDOW_W, WINDOW_H = 84, 48
SEAT_R = 13
PERIPHERAL_R = 6
LABEL_FONT = 19
BADGE_W, BADGE_H = 76, 34
COUNTS_H = 12  # the strip above a badge where its 约N and 远程N counts are written
REMOTE_LABEL = '远程'  # above a queue's badge: how many of it are remote tickets not yet in the hall
BOOKED_LABEL = '约'  # beside it: how many are booked for the slot under way or the next hour, not yet checked in


def zone_id(zid: int) -> str:
    return f'fm-z{zid}'


def window_id(wid: int) -> str:
    return f'fm-w{wid}'


def device_id(did: int) -> str:
    return f'fm-d{did}'


# ---- how things look ------------------------------------------------------------------------------


def zone_visuals(twin: HallTwin, zid: int, remote_label: str = REMOTE_LABEL) -> dict[str, Visual]:
    """The zone's colour, its queue's length, how many of those are remote tickets not yet in the hall, and how
    many citizens are booked for the hour ahead (still to come: not part of the length)."""
    zone = twin.zones[zid]
    hot = ' hot' if zone.over_threshold else ''
    busy = ' busy' if zone.waiting else ''
    return {
        zone_id(zid): (f'fm-zone{hot}{busy}', None),
        f'{zone_id(zid)}-q': (None, str(zone.waiting)),
        f'{zone_id(zid)}-r': (None, f'{remote_label}{zone.remote}' if zone.remote else ''),
        f'{zone_id(zid)}-b': (None, f'{BOOKED_LABEL}{zone.booked}' if zone.booked else ''),
    }


def window_visuals(twin: HallTwin, wid: int, now: dt.datetime) -> dict[str, Visual]:
    window = twin.windows[wid]
    classes = f'fm-win {window.state}'
    if window.off_hours:
        classes += ' offhours'
    if window.current_number:
        classes += ' serving'
        if serving_too_long(window.current_since, now):
            classes += ' slow'
    return {
        window_id(wid): (classes, None),
        f'{window_id(wid)}-n': (None, window.current_number or '—'),
    }


def device_visuals(twin: HallTwin, did: int, now: dt.datetime) -> dict[str, Visual]:
    device = twin.devices[did]
    classes = f'fm-dev k-{device.kind} {device.state}'
    if device.help_since is not None:
        classes += ' help'
    if device.printer_status:
        classes += ' attention'
    seat = twin.seats.get(did)
    if seat is not None and device.state == DeviceState.ONLINE:
        classes += seat_class(seat.occupied, seat.since, now)
    return {device_id(did): (classes, None)}


def seat_class(occupied: bool, since: dt.datetime | None, now: dt.datetime) -> str:
    """The seat's colour class: warm, then long when the comfort prompt is due (app.services.thresholds)."""
    return SEAT_CLASSES[seat_level(occupied, since, now)]


def visuals_for(twin: HallTwin, keys: frozenset[Key] | set[Key], now: dt.datetime) -> dict[str, Visual]:
    """The look of every map part behind these keys (queues are drawn through their zone)."""
    out: dict[str, Visual] = {}
    for kind, ident in keys:
        if kind == ZONE and ident in twin.zones:
            out |= zone_visuals(twin, ident)
        elif kind == QUEUE and ident in twin.queues:
            zid = twin.queues[ident].zone_id
            if zid in twin.zones:
                out |= zone_visuals(twin, zid)
        elif kind == WINDOW and ident in twin.windows:
            out |= window_visuals(twin, ident, now)
        elif kind in (DEVICE, SEAT) and ident in twin.devices:
            out |= device_visuals(twin, ident, now)
    return out


def visuals(twin: HallTwin, now: dt.datetime) -> dict[str, Visual]:
    keys = {(ZONE, z) for z in twin.zones} | {(WINDOW, w) for w in twin.windows} | {(DEVICE, d) for d in twin.devices}
    return visuals_for(twin, keys, now)


# ---- the drawing ----------------------------------------------------------------------------------


def _attrs(element_id: str, look: dict[str, Visual], fallback: str) -> str:
    classes = look.get(element_id, (None, None))[0] or fallback
    return f'id="{element_id}" class="{escape(classes)}"'


def _text(element_id: str, look: dict[str, Visual]) -> str:
    return escape(look.get(element_id, (None, None))[1] or '')


def svg(
    twin: HallTwin, look: dict[str, Visual], *, entrance: str = '入口', queue: str = '排队', name: str = '大厅平面图'
) -> str:
    """The whole plan; `look` (from `visuals`) sets each part's current class and text; `name` is what a screen
    reader calls the picture."""
    parts = [
        f'<svg class="fm" viewBox="0 0 {twin.width:g} {twin.height:g}" preserveAspectRatio="xMidYMid meet" '
        f'role="img" aria-label="{escape(name)}" xmlns="http://www.w3.org/2000/svg">',
        f'<rect class="fm-floor" x="0" y="0" width="{twin.width:g}" height="{twin.height:g}" rx="12"/>',
    ]
    parts += [zone_markup(twin, zid, look, queue) for zid in twin.zones]
    parts.append(
        f'<text class="fm-entrance" x="{twin.width / 2:g}" y="{twin.height - 4:g}" text-anchor="middle">'
        f'{escape(entrance)}</text>'
    )
    parts += [window_markup(twin, wid, look) for wid in sorted(twin.windows, key=lambda w: twin.windows[w].number)]
    parts += [device_markup(twin, did, look) for did in twin.devices]
    parts.append('</svg>')
    return ''.join(parts)


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _window_boxes(twin: HallTwin, zid: int) -> list[Box]:
    """The windows of a zone, with the display on their top edge and a little air around them."""
    return [
        (w.x - WINDOW_W / 2 - 4, w.y - WINDOW_H / 2 - 12, w.x + WINDOW_W / 2 + 4, w.y + WINDOW_H / 2 + 4)
        for w in twin.windows.values()
        if w.zone_id == zid
    ]


def badge_place(twin: HallTwin, zid: int) -> Box | None:
    """The queue badge goes into the first corner where it and the counts written above it are clear of the
    windows (bottom right first); None for a zone without windows."""
    z = twin.zones[zid]
    blockers = _window_boxes(twin, zid)
    if not blockers:
        return None
    left, right = z.x + 8, z.x + z.width - 8 - BADGE_W
    top, bottom = z.y + 8 + COUNTS_H, z.y + z.height - 8 - BADGE_H
    corners = [(right, bottom), (left, bottom), (right, top), (left, top)]
    boxes = [(x, y, x + BADGE_W, y + BADGE_H) for x, y in corners]
    return next((box for box in boxes if not any(_overlaps(with_counts(box), b) for b in blockers)), boxes[0])


def with_counts(badge: Box) -> Box:
    """The badge and the strip above it that holds its counts."""
    return badge[0], badge[1] - COUNTS_H, badge[2], badge[3]


def label_place(twin: HallTwin, zid: int, badge: Box | None) -> tuple[float, float, float]:
    """Where a zone's name goes (x, baseline, font size): along the bottom or the top edge, whichever leaves
    the widest gap between its windows and the badge (so a long name in a narrow zone shrinks, never overlaps)."""
    z = twin.zones[zid]
    blockers = _window_boxes(twin, zid) + ([badge] if badge else [])
    chars = max(1, len(z.name))
    best: tuple[float, float, float] | None = None
    for baseline in (z.y + z.height - 12, z.y + LABEL_FONT + 8):
        band = (z.x, baseline - LABEL_FONT, z.x + z.width, baseline + 4)
        gaps, start = [], z.x + 10
        for left, _, right, _ in sorted(b for b in blockers if _overlaps(b, band)):
            gaps.append((start, left - 4))
            start = max(start, right + 4)
        gaps.append((start, z.x + z.width - 10))
        x0, x1 = max(gaps, key=lambda gap: gap[1] - gap[0])
        font = min(LABEL_FONT, (x1 - x0) / chars)
        if best is None or font > best[2] + 0.5:
            best = (x0, baseline, font)
    assert best is not None
    return best[0], best[1], max(10.0, best[2])


def zone_markup(twin: HallTwin, zid: int, look: dict[str, Visual], queue: str) -> str:
    """One zone's shape with its queue badge, as the plan draws it and as a changed zone replaces the old one."""
    z = twin.zones[zid]
    badge = badge_place(twin, zid)
    x, y, font = label_place(twin, zid, badge)
    parts = [
        f'<g {_attrs(zone_id(zid), look, "fm-zone")} data-k="zone:{zid}">'
        f'<rect class="fm-zrect" x="{z.x:g}" y="{z.y:g}" width="{z.width:g}" height="{z.height:g}" rx="8"/>'
        f'<text class="fm-zname" x="{x:g}" y="{y:g}" style="font-size:{font:.1f}px">{escape(z.name)}</text>'
    ]
    if badge is not None:
        left, top, right, bottom = badge
        parts.append(
            f'<g class="fm-badge"><rect x="{left:g}" y="{top:g}" width="{BADGE_W}" height="{BADGE_H}" '
            f'rx="{BADGE_H / 2:g}"/>'
            f'<text class="fm-qlabel" x="{left + 22:g}" y="{bottom - 12:g}" text-anchor="middle">{escape(queue)}</text>'
            f'<text id="{zone_id(zid)}-q" class="fm-qnum" x="{right - 20:g}" y="{bottom - 10:g}" '
            f'text-anchor="middle">{_text(f"{zone_id(zid)}-q", look)}</text>'
            f'<text id="{zone_id(zid)}-r" class="fm-qremote" x="{right - 20:g}" y="{top - 4:g}" '
            f'text-anchor="middle">{_text(f"{zone_id(zid)}-r", look)}</text>'
            f'<text id="{zone_id(zid)}-b" class="fm-qbooked" x="{left + 4:g}" y="{top - 4:g}">'
            f'{_text(f"{zone_id(zid)}-b", look)}</text></g>'
        )
    parts.append('</g>')
    return ''.join(parts)


def window_markup(twin: HallTwin, wid: int, look: dict[str, Visual]) -> str:
    """One window's shape, as the plan draws it and as a new or changed window is sent to open maps."""
    w = twin.windows[wid]
    return (
        f'<g {_attrs(window_id(wid), look, "fm-win")} data-k="window:{wid}" transform="translate({w.x:g} {w.y:g})">'
        f'<rect x="{-WINDOW_W / 2:g}" y="{-WINDOW_H / 2:g}" width="{WINDOW_W}" height="{WINDOW_H}" rx="6"/>'
        f'<text class="fm-wno" x="{-WINDOW_W / 2 + 6:g}" y="{-WINDOW_H / 2 + 15:g}">{w.number}</text>'
        f'<text id="{window_id(wid)}-n" class="fm-wcur" x="0" y="{WINDOW_H / 2 - 9:g}" text-anchor="middle">'
        f'{_text(f"{window_id(wid)}-n", look)}</text>'
        f'<title>{escape(w.name)}</title></g>'
    )


def device_markup(twin: HallTwin, did: int, look: dict[str, Visual]) -> str:
    """One device's shape, as the plan draws it and as a device registered later is added to an open map."""
    d = twin.devices[did]
    attrs = f'{_attrs(device_id(did), look, "fm-dev")} data-k="device:{did}"'
    title = f'<title>{escape(d.name or d.code)}</title>'
    window = twin.windows.get(d.window_id or 0)
    if window is not None and d.kind == DeviceKind.RATING_PAD:  # the window's 评价器: its top edge, left
        x, y = window.x - WINDOW_W / 2 + 14, window.y - WINDOW_H / 2 - 4
        return f'<rect {attrs} x="{x - 6:g}" y="{y - 4:g}" width="12" height="8" rx="2">{title}</rect>'
    if window is not None:  # a window's own display sits on the window's top edge
        x, y = window.x + WINDOW_W / 2 - 14, window.y - WINDOW_H / 2 - 4
        return f'<rect {attrs} x="{x - 9:g}" y="{y - 4:g}" width="18" height="8" rx="2">{title}</rect>'
    if d.kind == DeviceKind.SEAT:
        return f'<circle {attrs} cx="{d.x:g}" cy="{d.y:g}" r="{SEAT_R}">{title}</circle>'
    if d.kind == DeviceKind.KIOSK:
        return f'<rect {attrs} x="{d.x - 14:g}" y="{d.y - 11:g}" width="28" height="22" rx="4">{title}</rect>'
    if d.kind == DeviceKind.CALL_DISPLAY:
        return f'<rect {attrs} x="{d.x - 20:g}" y="{d.y - 6:g}" width="40" height="12" rx="2">{title}</rect>'
    return f'<circle {attrs} cx="{d.x:g}" cy="{d.y:g}" r="{PERIPHERAL_R}">{title}</circle>'
