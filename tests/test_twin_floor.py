"""The floor plan drawing, the feed's coalescing and the map patches (no browser, no database)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest

from app.events import (
    CardRead,
    DeviceHealth,
    DevicePayload,
    DevicePlace,
    DeviceRegistered,
    DeviceRetired,
    HallConfigChanged,
    SeatChanged,
    TicketIssued,
    TicketSnapshot,
    WindowChanged,
)
from app.events import WindowPayload as WP
from app.models import Window
from app.services.queue_views import HallOverview, WindowView
from components.floor_plan import (
    BADGE_H,
    BADGE_W,
    WINDOW_H,
    WINDOW_W,
    badge_place,
    label_place,
    seat_class,
    svg,
    visuals,
    with_counts,
)
from components.map_patch import JS_FUNCTION, MapPatcher
from tests.twinkit import seed_parts, seed_twin
from twin.feed import HallFeed
from twin.hall import HallTwin
from twin.layout import HallLayout
from twin.model import DEVICE, WINDOW, ZONE

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def twin() -> HallTwin:
    return seed_twin()


def device(twin: HallTwin, code: str) -> DevicePayload:
    d = twin.devices_by_code[code]
    return DevicePayload(device_id=d.id, code=d.code, kind=d.kind)


def issued(twin: HallTwin, code: str, ticket_id: int) -> TicketIssued:
    service = next(q for q in twin.queues.values() if q.code == code)
    snapshot = TicketSnapshot(
        id=ticket_id,
        number=f'{service.prefix}{ticket_id:03d}',
        service_id=service.service_id,
        service_code=code,
        status='waiting',
        priority_class='normal',
        queued_at=NOW,
        taken_at=NOW,
    )
    return TicketIssued(hall_id=1, payload=snapshot)


def test_the_plan_draws_every_part_once(twin: HallTwin) -> None:
    markup = svg(twin, visuals(twin, NOW))
    root = ET.fromstring(markup)  # well-formed XML
    found = [el.get('id') for el in root.iter() if el.get('id')]
    assert len(found) == len(set(found))
    expected = (
        {f'fm-w{w}' for w in twin.windows} | {f'fm-d{d}' for d in twin.devices} | {f'fm-z{z}' for z in twin.zones}
    )
    assert expected <= set(found)
    assert {f'fm-w{w}-n' for w in twin.windows} <= set(found)
    assert root.get('viewBox') == '0 0 1600 900'


def test_names_are_escaped(twin: HallTwin) -> None:
    zone = next(iter(twin.zones.values()))
    zone.name = '<script>alert(1)</script>'
    markup = svg(twin, visuals(twin, NOW))
    assert '<script>' not in markup and '&lt;script&gt;' in markup


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_labels_and_badges_stay_clear_of_the_windows(twin: HallTwin) -> None:
    for zid, zone in twin.zones.items():
        windows = [
            (w.x - WINDOW_W / 2, w.y - WINDOW_H / 2, w.x + WINDOW_W / 2, w.y + WINDOW_H / 2)
            for w in twin.windows.values()
            if w.zone_id == zid
        ]
        badge = badge_place(twin, zid)
        assert (badge is None) == (not windows), zone.code
        x, baseline, font = label_place(twin, zid, badge)
        label = (x, baseline - font, x + font * len(zone.name), baseline + 3)
        assert font >= 12, f'{zone.code}: the name would be unreadable'
        assert zone.x <= label[0] and label[2] <= zone.x + zone.width, zone.code
        for box in windows + ([badge] if badge else []):
            assert not _overlap(label, box), f'{zone.code}: name over {box}'
        if badge:
            assert badge[2] - badge[0] == BADGE_W and badge[3] - badge[1] == BADGE_H
            counted = with_counts(badge)  # the 约N and 远程N counts above it too
            assert not any(_overlap(counted, box) for box in windows), f'{zone.code}: badge or counts over a window'


def test_seat_colours_follow_the_time_seated() -> None:
    assert seat_class(False, None, NOW) == ' free'
    assert seat_class(True, NOW - dt.timedelta(minutes=5), NOW) == ' occ'
    assert seat_class(True, NOW - dt.timedelta(minutes=16), NOW) == ' occ warm'
    assert seat_class(True, NOW - dt.timedelta(minutes=31), NOW) == ' occ long'


def test_looks_follow_the_twin(twin: HallTwin) -> None:
    look = visuals(twin, NOW)
    closed = next(w for w in twin.windows.values() if w.state == 'closed')
    assert look[f'fm-w{closed.id}'] == ('fm-win closed', None)
    assert look[f'fm-w{closed.id}-n'] == (None, '—')
    seat = twin.devices_by_code['S-A01']
    assert look[f'fm-d{seat.id}'][0] == 'fm-dev k-seat offline'  # unknown until the seat connects
    twin.apply(DeviceHealth(hall_id=1, device=device(twin, 'S-A01'), state='online'))
    twin.apply(SeatChanged(hall_id=1, device=device(twin, 'S-A01'), occupied=True, since=NOW))
    assert visuals(twin, NOW + dt.timedelta(minutes=40))[f'fm-d{seat.id}'][0] == 'fm-dev k-seat online occ long'


async def test_the_feed_coalesces_and_the_patcher_sends_only_differences(twin: HallTwin) -> None:
    feed = HallFeed(twin, min_interval=3600)  # nothing is flushed by the timer during this test
    patcher = MapPatcher(feed, clock=lambda: NOW)
    patches: list[str] = []
    flushes: list[frozenset] = []
    patcher.patch.subscribe(patches.append)
    feed.flushed.subscribe(flushes.append)

    twin.apply(issued(twin, 'HUKOU-IN', 1))
    await asyncio.sleep(0)  # the first change after a quiet spell goes out at once
    assert len(flushes) == 1 and len(patches) == 1
    general = next(z for z in twin.zones.values() if z.code == 'general')
    assert patches[0].startswith(f'{JS_FUNCTION}(')
    changes = json.loads(patches[0][len(JS_FUNCTION) + 1 : -1])
    assert [f'fm-z{general.id}-q', None, '1'] in changes
    assert (ZONE, general.id) in flushes[0]

    twin.apply(issued(twin, 'HUKOU-IN', 2))
    twin.apply(issued(twin, 'RESIDENCE-PERMIT', 3))
    w6 = twin.windows[6]
    twin.apply(WindowChanged(hall_id=1, payload=WP(id=6, number=6, state='open', service_ids=list(w6.services))))
    await asyncio.sleep(0)
    assert len(flushes) == 1  # batched until min_interval has passed
    feed.flush()
    assert len(flushes) == 2 and {(WINDOW, 6), (ZONE, general.id)} <= flushes[1]
    changes = json.loads(patches[1][len(JS_FUNCTION) + 1 : -1])
    assert sorted(changes) == sorted([[f'fm-z{general.id}-q', None, '3'], ['fm-w6', 'fm-win open', None]])
    assert patcher.state['fm-w6'] == ('fm-win open', None)

    reader = device(twin, 'K01-ID')
    twin.apply(CardRead(hall_id=1, device=reader, valid=True))  # a use: the twin changes, the map does not
    feed.flush()
    assert len(flushes) == 3 and len(patches) == 2
    await feed.stop()


def registered(twin: HallTwin, code: str, kind: str, x: float, y: float) -> DeviceRegistered:
    new_id = max(twin.devices) + 1
    return DeviceRegistered(
        hall_id=1,
        device=DevicePayload(device_id=new_id, code=code, kind=kind),
        place=DevicePlace(name=f'<b>{code}</b>', x=x, y=y, zone_id=next(iter(twin.zones))),
    )


async def test_a_registered_device_is_drawn_on_open_maps_and_a_retired_one_removed(twin: HallTwin) -> None:
    feed = HallFeed(twin, min_interval=3600)
    patcher = MapPatcher(feed, clock=lambda: NOW)
    patches: list[str] = []
    patcher.patch.subscribe(patches.append)
    total = feed.kpi.devices_total

    event = registered(twin, 'S-NEW', 'seat', 321, 123)
    new_id = event.device.device_id
    assert twin.apply(event) == {(DEVICE, new_id)}
    assert twin.apply(event) == frozenset()  # the same event from another process: nothing moves
    await asyncio.sleep(0)
    assert twin.devices_by_code['S-NEW'].state == 'offline' and new_id in twin.seats
    assert feed.kpi.devices_total == total + 1
    [patch] = patches
    changes, added, removed = json.loads(f'[{patch[len(JS_FUNCTION) + 1 : -1]}]')
    assert changes == [] and removed == []
    [shape] = added
    element = ET.fromstring(shape)
    assert (element.get('id'), element.get('cx'), element.get('cy')) == (f'fm-d{new_id}', '321', '123')
    assert '<b>' not in shape  # the name is escaped
    assert f'fm-d{new_id}' in svg(twin, patcher.state)  # a page opened now draws it too

    twin.apply(DeviceHealth(hall_id=1, device=event.device, state='online'))
    feed.flush()
    assert json.loads(patches[-1][len(JS_FUNCTION) + 1 : -1]) == [[f'fm-d{new_id}', 'fm-dev k-seat online free', None]]

    assert twin.apply(DeviceRetired(hall_id=1, device=event.device)) == {(DEVICE, new_id)}
    feed.flush()
    changes, added, removed = json.loads(f'[{patches[-1][len(JS_FUNCTION) + 1 : -1]}]')
    assert (changes, added, removed) == ([], [], [f'fm-d{new_id}'])
    assert 'S-NEW' not in twin.devices_by_code and new_id not in twin.seats
    assert f'fm-d{new_id}' not in patcher.state and f'fm-d{new_id}' not in svg(twin, patcher.state)
    assert feed.kpi.devices_total == total
    assert twin.apply(DeviceRetired(hall_id=1, device=event.device)) == frozenset()
    await feed.stop()


def reconfigured(twin: HallTwin, overview: HallOverview, layout: HallLayout, *, window: Window) -> None:
    """The twin takes a configuration change: `window` added or changed, as `follow_config` hands it over."""
    others = [view for view in overview.windows if view.window.id != window.id]
    changed = HallOverview([*others, WindowView(window, {1: 1}, None)], overview.queues)
    twin.reconfigure(HallConfigChanged(hall_id=1, kind='window', version=1), changed, layout)


def patch_args(patch: str) -> list[object]:
    return json.loads(f'[{patch[len(JS_FUNCTION) + 1 : -1]}]')


async def test_a_new_window_and_a_resized_zone_are_drawn_on_open_maps_without_a_reload() -> None:
    overview, live, layout = seed_parts()
    twin = HallTwin(overview, live, layout)
    feed = HallFeed(twin, min_interval=3600, clock=lambda: NOW)
    patcher = MapPatcher(feed, clock=lambda: NOW)
    patches: list[str] = []
    patcher.patch.subscribe(patches.append)
    general = next(z for z in layout.zones if z.code == 'general')
    new = Window(
        id=99, hall_id=1, zone_id=general.id or 0, number=99, name='<i>99号窗口</i>', x=160, y=150, state='open'
    )
    reconfigured(twin, overview, layout, window=new)
    await asyncio.sleep(0)
    [patch] = patches
    _, added, removed, replaced = patch_args(patch)
    assert added == [] and removed == []
    shapes = {element_id: (ET.fromstring(shape), before) for element_id, shape, before in replaced}
    window_shape, before = shapes['fm-w99']
    assert window_shape.get('transform') == 'translate(160 150)' and before == '[data-k^="device:"]'
    assert '<i>' not in replaced[0][1]  # the name is escaped
    assert shapes[f'fm-z{general.id}'][1] == '.fm-entrance'  # its zone's badge makes room, under the windows
    assert patcher.state['fm-w99'] == ('fm-win open', None)

    bigger = general.model_copy(update={'height': general.height + 40})
    layout.zones[layout.zones.index(general)] = bigger
    reconfigured(twin, overview, layout, window=new)
    feed.flush()
    _, _, _, replaced = patch_args(patches[-1])
    [(element_id, shape, _)] = replaced
    rect = ET.fromstring(shape)[0]  # the zone's rectangle
    assert element_id == f'fm-z{general.id}' and rect.get('height') == f'{bigger.height:g}'

    count = len(patches)
    twin.apply(
        WindowChanged(hall_id=1, payload=WP(id=6, number=6, state='paused', service_ids=list(twin.windows[6].services)))
    )
    feed.flush()
    assert len(patches) == count + 1 and len(patch_args(patches[-1])) == 1  # a state change sends no shapes
    await feed.stop()


async def test_a_moved_window_takes_its_display_along() -> None:
    overview, live, layout = seed_parts()
    twin = HallTwin(overview, live, layout)
    feed = HallFeed(twin, min_interval=3600, clock=lambda: NOW)
    patcher = MapPatcher(feed, clock=lambda: NOW)
    patches: list[str] = []
    patcher.patch.subscribe(patches.append)
    display = next(d for d in twin.devices.values() if d.window_id is not None)
    view = next(v for v in overview.windows if v.window.id == display.window_id)
    moved = view.window.model_copy(update={'x': view.window.x + 30})
    reconfigured(twin, overview, layout, window=moved)
    await asyncio.sleep(0)
    _, _, _, replaced = patch_args(patches[-1])
    assert {element_id for element_id, _, _ in replaced} >= {f'fm-w{moved.id}', f'fm-d{display.id}'}
    await feed.stop()


async def test_a_window_outside_its_own_hours_is_drawn_closed_for_hours_and_back_when_it_opens() -> None:
    overview, live, layout = seed_parts()
    twin = HallTwin(overview, live, layout)
    clock = [NOW]  # Saturday 10:00 in the hall
    feed = HallFeed(twin, min_interval=3600, clock=lambda: clock[0])
    view = next(v for v in overview.windows if v.window.state == 'open')
    weekdays = view.window.model_copy(update={'hours': [{'start': '09:00', 'end': '12:00', 'days': [1, 2, 3, 4, 5]}]})
    reconfigured(twin, overview, layout, window=weekdays)
    await asyncio.sleep(0)
    wid = weekdays.id or 0
    assert twin.windows[wid].off_hours
    assert visuals(twin, NOW)[f'fm-w{wid}'][0] == 'fm-win open offhours'
    clock[0] = NOW + dt.timedelta(days=2)  # Monday 10:00
    assert twin.refresh_hours(clock[0], feed.tz) == {(WINDOW, wid)}
    assert visuals(twin, clock[0])[f'fm-w{wid}'][0] == 'fm-win open'
    assert twin.refresh_hours(clock[0], feed.tz) == set()  # nothing more until it leaves its hours
    await feed.stop()
