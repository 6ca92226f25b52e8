"""The floor map's wire format: one small JavaScript call per flush, computed once for every connected manager.

Why this and not one NiceGUI element per map part: an element update sends the element's whole
description (tag, props, classes, style, children) to each client, and 200 parts x N clients of
bindings is the hot spot the architecture warns about. Here the SVG is one `ui.html` rendered once
per page; a flush sends `htFloor([[id, class, text], ...])` listing only the parts whose class or
text differs from the previous flush (typically 1-4 entries, ~100 bytes), serialised once and
queued as the same string to every page that subscribed. A page renders from `state` (what was
last sent), so any later patch is correct for it too.

A device registered or retired while managers watch changes the plan itself: the same call then carries
the new device's shape (added to the SVG) and the ids of retired ones (removed), so no page is reloaded.
A window or zone added or changed in the configuration (`HallConfigChanged`: a new window, a window moved
or renamed, a zone resized) comes the same way: its shape is compared with the one last sent and, when it
differs, sent whole to take the old one's place (zones under the windows, windows under the devices),
with the zones whose queue badge and name move with it and the displays sitting on a moved window.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from nicegui import Event as UiEvent

from app.clock import utcnow
from components import manager_texts as _texts  # noqa: F401 - registers the texts
from components.floor_plan import (
    Visual,
    device_id,
    device_markup,
    device_visuals,
    visuals,
    visuals_for,
    window_id,
    window_markup,
    window_visuals,
    zone_id,
    zone_markup,
    zone_visuals,
)
from components.texts import t
from twin.feed import HallFeed
from twin.model import DEVICE, WINDOW, ZONE, Key

JS_FUNCTION = 'htFloor'
ZONES_END = '.fm-entrance'  # a new zone goes before the entrance label, so under every window
WINDOWS_END = '[data-k^="device:"]'  # a new window goes before the first device
SCRIPT = f"""<script>
window.{JS_FUNCTION} = (patch, added, removed, replaced) => {{
  for (const id of removed || []) document.getElementById(id)?.remove();
  const plan = document.querySelector('svg.fm');
  for (const shape of added || []) plan?.insertAdjacentHTML('beforeend', shape);
  for (const [id, shape, before] of replaced || []) {{
    const old = document.getElementById(id);
    const anchor = old || plan?.querySelector(before);
    if (anchor) anchor.insertAdjacentHTML('beforebegin', shape); else plan?.insertAdjacentHTML('beforeend', shape);
    old?.remove();
  }}
  for (const [id, cls, text] of patch) {{
    const el = document.getElementById(id);
    if (!el) continue;
    if (cls !== null) el.setAttribute('class', cls);
    if (text !== null) el.textContent = text;
  }}
}};
</script>"""


class MapPatcher:
    def __init__(self, feed: HallFeed, *, clock: Callable = utcnow) -> None:
        self.feed = feed
        self.clock = clock
        self.state: dict[str, Visual] = visuals(feed.twin, clock())
        self.shapes: dict[str, str] = {}  # each window's and zone's shape as last sent, drawn without its look
        self.window_zones: dict[int, int] = {}  # where each window stood when its shape was last sent
        self.reshape(frozenset({(WINDOW, w) for w in feed.twin.windows} | {(ZONE, z) for z in feed.twin.zones}))
        self.patch: UiEvent[str] = UiEvent()
        self.sent = 0
        feed.flushed.subscribe(self.on_flush, unsubscribe_on_delete=False)

    def diff(self, keys: frozenset[Key]) -> list[list[str | None]]:
        """The parts whose look changed since the last patch; `state` is updated to the new look."""
        changes: list[list[str | None]] = []
        for element_id, (cls, text) in visuals_for(self.feed.twin, keys, self.clock()).items():
            old_cls, old_text = self.state.get(element_id, (None, None))
            new_cls = cls if cls is not None and cls != old_cls else None
            new_text = text if text is not None and text != old_text else None
            if new_cls is None and new_text is None:
                continue
            self.state[element_id] = (cls if cls is not None else old_cls, text if text is not None else old_text)
            changes.append([element_id, new_cls, new_text])
        return changes

    def plan_changes(self, keys: frozenset[Key]) -> tuple[list[str], list[str]]:
        """Devices that joined the twin (their shapes, drawn as they look now) and that left it (their ids)."""
        twin, now = self.feed.twin, self.clock()
        added: list[str] = []
        removed: list[str] = []
        for kind, ident in sorted(keys):
            element_id = device_id(ident)
            if kind != DEVICE:
                continue
            if ident in twin.devices and element_id not in self.state:
                self.state |= device_visuals(twin, ident, now)
                added.append(device_markup(twin, ident, self.state))
            elif ident not in twin.devices and element_id in self.state:
                del self.state[element_id]
                removed.append(element_id)
        return added, removed

    def reshape(self, keys: frozenset[Key]) -> list[list[str]]:
        """Windows and zones whose shape differs from the one last sent (new ones too): [id, shape, anchor] each,
        drawn as they look now. A window that moved or changed takes its zones (old and new: their badge and
        name make room for it) and the displays on its edge along."""
        twin = self.feed.twin
        windows = {ident for kind, ident in keys if kind == WINDOW and ident in twin.windows}
        zones = {ident for kind, ident in keys if kind == ZONE and ident in twin.zones}
        replaced: list[list[str]] = []
        moved: set[int] = set()
        for wid in sorted(windows):
            element_id = window_id(wid)
            shape = window_markup(twin, wid, {})
            if self.shapes.get(element_id) == shape:
                continue
            zone = twin.windows[wid].zone_id
            zones |= {zone, self.window_zones.get(wid, zone)} & set(twin.zones)
            if element_id in self.shapes:
                moved.add(wid)
            self.shapes[element_id] = shape
            self.window_zones[wid] = twin.windows[wid].zone_id
            self.state |= window_visuals(twin, wid, self.clock())
            replaced.append([element_id, window_markup(twin, wid, self.state), WINDOWS_END])
        for zid in sorted(zones):
            element_id = zone_id(zid)
            shape = zone_markup(twin, zid, {}, t('manager.queue'))
            if self.shapes.get(element_id) == shape:
                continue
            self.shapes[element_id] = shape
            self.state |= zone_visuals(twin, zid)
            replaced.append([element_id, zone_markup(twin, zid, self.state, t('manager.queue')), ZONES_END])
        for did, device in twin.devices.items():
            if device.window_id in moved:
                replaced.append([device_id(did), device_markup(twin, did, self.state), WINDOWS_END])
        return replaced

    def on_flush(self, keys: frozenset[Key]) -> None:
        added, removed = self.plan_changes(keys)
        replaced = self.reshape(keys)
        changes = self.diff(keys)
        if not (changes or added or removed or replaced):
            return
        self.sent += 1
        if replaced:
            args = [changes, added, removed, replaced]
        elif added or removed:
            args = [changes, added, removed]
        else:
            args = [changes]
        self.patch.emit(f'{JS_FUNCTION}({",".join(_json(arg) for arg in args)})')


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(',', ':'))
