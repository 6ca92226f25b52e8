"""Helpers for the twin, alert and manager tests: a few devices in the small hall, captured bus events."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.events import DevicePayload, Event
from app.models import Device, DeviceKind, ServiceItem, Window, Zone
from app.security.credentials import credential_hash, device_credential
from app.services.live_queue import LiveQueue, WindowSlot
from app.services.queue import HallOverview, ServiceQueue, WindowView
from seed.schema import read_seed
from twin.hall import HallTwin
from twin.layout import HallLayout


@dataclass(frozen=True)
class Devices:
    kiosk: DevicePayload
    seat: DevicePayload
    printer: DevicePayload
    reader: DevicePayload
    display: DevicePayload  # window 1's own display


async def add_devices(db: Database, hall_id: int, window_1: int, *, secret: bytes = b'') -> Devices:
    """A kiosk with a printer and an ID reader, one seat and window 1's display, all offline (as at start-up)."""
    async with db.session() as s, s.begin():
        zone = (await s.execute(select(Zone).where(Zone.hall_id == hall_id))).scalars().first()
        assert zone is not None
        specs = [
            ('K01', DeviceKind.KIOSK, '1号自助取号机', 300, 250, None, None),
            ('S-A01', DeviceKind.SEAT, '候办区A排1号', 200, 200, None, None),
            ('K01-PRN', DeviceKind.PRINTER, '1号取号机打印机', 300, 270, None, 'K01'),
            ('K01-ID', DeviceKind.ID_READER, '1号取号机读卡器', 285, 270, None, 'K01'),
            ('CD-W01', DeviceKind.CALL_DISPLAY, '1号窗口屏', 50, 30, window_1, None),
        ]
        rows = [
            Device(
                hall_id=hall_id,
                zone_id=zone.id,
                code=code,
                kind=kind,
                name=name,
                x=x,
                y=y,
                window_id=window,
                attached_to=attached,
                credential_hash=credential_hash(device_credential(secret or b'test', code)),
            )
            for code, kind, name, x, y, window, attached in specs
        ]
        s.add_all(rows)
        await s.flush()
        payloads = [DevicePayload(device_id=d.id or 0, code=d.code, kind=d.kind) for d in rows]
    return Devices(*payloads)


class Recorder:
    """Every event the bus delivers, in order (subscribe before acting, `await bus.drain()` before reading)."""

    def __init__(self, bus: InProcessBus) -> None:
        self.events: list[Event] = []
        self.subscription = bus.subscribe(self.events.append, name='test-recorder')

    def take(self) -> list[Event]:
        taken, self.events[:] = list(self.events), []
        return taken

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


def seed_twin(seed_name: str = 'default') -> HallTwin:
    """The seed's hall as a twin, built in memory from its YAML (no database: loading the seed takes seconds)."""
    return HallTwin(*seed_parts(seed_name))


def seed_parts(seed_name: str = 'default') -> tuple[HallOverview, LiveQueue, HallLayout]:
    """What a twin of the seed's hall is built from (a test changes them to reconfigure the twin)."""
    seed = read_seed(seed_name)
    zones = [
        Zone(id=i, hall_id=1, code=z.code, name=z.name, name_en=z.name_en, x=z.x, y=z.y, width=z.width, height=z.height)
        for i, z in enumerate(seed.hall.zones, start=1)
    ]
    zone_ids = {z.code: z.id or 0 for z in zones}
    services = {
        i: ServiceItem(
            id=i,
            code=s.code,
            name=s.name,
            ticket_prefix=s.ticket_prefix,
            department_id=1,
            avg_handling_minutes=s.avg_handling_minutes,
            queue_alert_threshold=s.queue_alert_threshold,
        )
        for i, s in enumerate(seed.services, start=1)
    }
    service_ids = {s.code: i for i, s in services.items()}
    windows = [
        WindowView(
            Window(
                id=w.number,
                hall_id=1,
                zone_id=zone_ids[w.zone],
                number=w.number,
                name=w.name,
                x=w.x,
                y=w.y,
                state=w.state,
            ),
            {service_ids[link.code]: link.priority for link in w.services},
            None,
        )
        for w in seed.windows
    ]
    devices = [
        Device(
            id=i,
            hall_id=1,
            zone_id=zone_ids[d.zone],
            window_id=d.window,
            code=d.code,
            kind=d.kind,
            name=d.name,
            x=d.x,
            y=d.y,
            attached_to=d.attached_to,
            credential_hash='',
        )
        for i, d in enumerate(seed.devices, start=1)
    ]
    live = LiveQueue(services, {w.window.id or 0: WindowSlot(dict(w.service_ids), w.window.state) for w in windows})
    overview = HallOverview(windows, [ServiceQueue(s, 0, None, None) for s in services.values()])
    layout = HallLayout(seed.hall.name, seed.hall.width, seed.hall.height, zones, devices)
    return overview, live, layout
