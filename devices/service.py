"""The hall's devices: built from the database, authenticated by the hub, fed by the bus.

It owns one driver per device in service, routes ticket calls to the call displays that should show
them and completions to the window's rating pads (`show_rating`), and runs one sweep (every
`sweep_interval`) for what no single frame triggers: the seat comfort prompt, the device_usage_high
suggestion and the face gallery refresh.

The registry (/admin, app/services/device_registry.py) changes the fleet while the hall runs, and every
process hears it on the bus: a registered device gets its driver at once, a rotated credential replaces the
stored hash and closes a connection that said hello with the old one, a retired device's driver stops and
its connection closes. Nothing needs a restart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import col, select

from app import tasks
from app.bus import Bus, Subscription
from app.clock import utcnow
from app.db import Database
from app.events import (
    DeviceCredentialRotated,
    DeviceRegistered,
    DeviceRetired,
    DeviceSuggestion,
    Event,
    FaceGalleryChanged,
    HallConfigChanged,
    TicketCalled,
    TicketCompleted,
    TicketEventBase,
    TicketResumed,
)
from app.models.device import Device, DeviceKind
from app.models.hall import Hall, Window
from app.models.ticket import Ticket, TicketStatus
from app.security.credentials import credential_matches
from app.services.call_board import Call
from app.services.evaluation import EvaluationService
from app.services.face_enrolment import FaceCapture
from app.services.hall_rules import RulesHolder
from app.services.kiosk import TicketSlip
from app.settings import Settings
from devices.driver import DeviceInfo, DeviceTuning, DeviceUnavailable, Driver, DriverContext
from devices.drivers import DRIVERS
from devices.drivers.call_display import CallDisplayDriver
from devices.drivers.camera import CameraDriver
from devices.drivers.id_reader import CardData, IdReaderDriver
from devices.drivers.printer import PrinterDriver
from devices.drivers.rating_pad import RatingPadDriver
from devices.drivers.seat import SeatDriver
from devices.gallery import FaceGallery
from devices.recorder import DeviceRecorder

log = logging.getLogger(__name__)

_D = TypeVar('_D', bound=Driver)
REGISTRY_EVENTS = (DeviceRegistered, DeviceCredentialRotated, DeviceRetired)
ROUTING_CHANGES = frozenset({'window', 'zone', 'import'})  # HallConfigChanged kinds that move call routes


class DeviceService:
    def __init__(
        self,
        *,
        db: Database,
        bus: Bus,
        settings: Settings,
        hall_id: int,
        tuning: DeviceTuning | None = None,
        faces: FaceGallery | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        rules: RulesHolder | None = None,
        evaluations: EvaluationService | None = None,
    ) -> None:
        self.db = db
        self.evaluations = evaluations
        self.bus = bus
        self.hall_id = hall_id
        self.recorder = DeviceRecorder(db)
        self.ctx = DriverContext(
            bus=bus,
            recorder=self.recorder,
            settings=settings,
            secret=settings.secret,
            tuning=tuning or DeviceTuning.from_settings(settings),
            faces=faces,
            clock=clock,
            rules=rules or RulesHolder(),
            rate_at_pad=evaluations.rate_at_pad if evaluations is not None else None,
        )
        self.drivers: dict[str, Driver] = {}
        self._displays_by_window: dict[int, list[CallDisplayDriver]] = {}
        self._subscription: Subscription | None = None
        self._registry: Subscription | None = None
        self._faces: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._showing: set[asyncio.Task[None]] = set()  # show_rating commands in flight (never block the bus)
        self._gallery_loaded_at = -float('inf')

    @property
    def tuning(self) -> DeviceTuning:
        return self.ctx.tuning

    async def start(self) -> None:
        """Load the hall's devices, start their drivers, listen for calls and start the sweep."""
        async with self.db.read_session() as s:
            hall = await s.get(Hall, self.hall_id)
            in_service = select(Device).where(Device.hall_id == self.hall_id, col(Device.retired_at).is_(None))
            devices = list((await s.execute(in_service)).scalars())
            windows = list((await s.execute(select(Window).where(Window.hall_id == self.hall_id))).scalars())
        if hall is not None:
            self.ctx.hall_name, self.ctx.prompts = hall.name, dict(hall.prompts or {})
        await self.recorder.mark_all_offline(self.hall_id)
        for device in devices:
            self.drivers[device.code] = self._driver_for(device)
        self._displays_by_window = _route_displays(self.drivers.values(), windows)
        for driver in list(self.drivers.values()):
            await driver.start()
        self.recorder.start()
        self._subscription = self.bus.subscribe(
            self._on_ticket, TicketCalled, TicketResumed, TicketCompleted, name='devices.call_displays'
        )
        self._registry = self.bus.subscribe(
            self._on_registry, *REGISTRY_EVENTS, HallConfigChanged, name='devices.registry'
        )
        self._faces = self.bus.subscribe(self._on_gallery_changed, FaceGalleryChanged, name='devices.face_gallery')
        if self.ctx.faces is not None and any(d.info.kind == DeviceKind.CAMERA for d in self.drivers.values()):
            await self.ctx.faces.warm()  # before the hall serves: never a stall of every request at the first sweep
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name='devices.sweep')
        log.info('devices: %d drivers ready', len(self.drivers))

    async def stop(self) -> None:
        for subscription in (self._subscription, self._registry, self._faces):
            if subscription is not None:
                self.bus.unsubscribe(subscription)
        self._subscription = self._registry = self._faces = None
        await tasks.stop(self._sweeper)
        self._sweeper = None
        for task in list(self._showing):
            await tasks.stop(task)
        for driver in list(self.drivers.values()):
            await driver.stop()
        await self.recorder.stop()
        await self.recorder.mark_all_offline(self.hall_id)
        log.info('devices: stopped')

    def _driver_for(self, device: Device) -> Driver:
        info = DeviceInfo(
            id=device.id or 0,
            code=device.code,
            kind=DeviceKind(device.kind),
            hall_id=device.hall_id,
            credential_hash=device.credential_hash,
            zone_id=device.zone_id,
            window_id=device.window_id,
            attached_to=device.attached_to,
        )
        return DRIVERS[info.kind](info, self.ctx)

    # ---- the registry's changes ----------------------------------------------------------------

    async def _on_registry(self, event: Event) -> None:
        """A device registered, rotated or retired on /admin (in any process), or the windows changed."""
        if event.hall_id != self.hall_id:
            return
        if isinstance(event, HallConfigChanged):
            if event.kind in ROUTING_CHANGES:
                await self._reroute()
        elif isinstance(event, DeviceRegistered):
            await self._add(event.device.code)
        elif isinstance(event, DeviceCredentialRotated):
            await self._rotated(event.device.code)
        elif isinstance(event, DeviceRetired):
            await self._retire(event.device.code)

    async def _stored(self, code: str) -> Device | None:
        """The device's row as committed, if it is in service."""
        async with self.db.read_session() as s:
            statement = select(Device).where(
                Device.hall_id == self.hall_id, Device.code == code, col(Device.retired_at).is_(None)
            )
            return (await s.execute(statement)).scalar_one_or_none()

    async def _add(self, code: str) -> None:
        device = await self._stored(code)
        if device is None or code in self.drivers:
            return
        driver = self._driver_for(device)
        self.drivers[code] = driver
        await driver.start()
        if isinstance(driver, CallDisplayDriver):
            await self._reroute()
        log.info('device %s (%s) registered: its driver is ready', code, driver.info.kind)

    async def _rotated(self, code: str) -> None:
        """The stored hash is the new one: take it, and close a connection that authenticated with the old one."""
        driver, device = self.drivers.get(code), await self._stored(code)
        if driver is None or device is None or device.credential_hash == driver.info.credential_hash:
            return
        driver.info = replace(driver.info, credential_hash=device.credential_hash)
        await driver.revoke('credential_rotated')
        log.info('device %s: credential rotated, the old one is refused', code)

    async def _retire(self, code: str) -> None:
        driver = self.drivers.pop(code, None)
        if driver is None:
            return
        await driver.revoke('retired')
        await driver.stop()
        if isinstance(driver, CallDisplayDriver):
            await self._reroute()
        log.info('device %s retired: its driver stopped', code)

    async def _reroute(self) -> None:
        async with self.db.read_session() as s:
            windows = list((await s.execute(select(Window).where(Window.hall_id == self.hall_id))).scalars())
        self._displays_by_window = _route_displays(self.drivers.values(), windows)

    # ---- the hub's questions -------------------------------------------------------------------

    def authenticate(self, code: str, credential: str) -> Driver | None:
        """The device's driver if the credential is its own (compared with the stored SHA-256)."""
        driver = self.drivers.get(code)
        if driver is None or not credential_matches(credential, driver.info.credential_hash):
            return None
        return driver

    # ---- what pages and services call ----------------------------------------------------------

    def driver(self, code: str, kind: type[_D]) -> _D:
        driver = self.drivers.get(code)
        if not isinstance(driver, kind):
            raise DeviceUnavailable('unknown_device', f'没有设备 {code} / no such device')
        return driver

    async def print_ticket(self, printer_code: str, ticket: TicketSlip) -> str:
        """Print a queue ticket on a printer (job id; DeviceUnavailable if it cannot be printed)."""
        return await self.driver(printer_code, PrinterDriver).print_ticket(ticket)

    async def capture_face(self, camera_code: str, session_id: str) -> None:
        """Ask a camera for one frame for this kiosk session (DeviceUnavailable if it cannot)."""
        await self.driver(camera_code, CameraDriver).capture(session_id)

    async def capture_enrolment(self, camera_code: str, session_id: str) -> FaceCapture | None:
        """Ask a camera for a 刷脸 enrolment capture for this kiosk session (None: no usable capture)."""
        return await self.driver(camera_code, CameraDriver).capture_enrolment(session_id)

    def take_card(self, reader_code: str) -> CardData | None:
        """The card just read at this reader (full number, for the kiosk to take a ticket), once."""
        return self.driver(reader_code, IdReaderDriver).take_card()

    def peripherals(self, kiosk_code: str) -> dict[DeviceKind, Driver]:
        """The reader, scanner, camera and printer attached to a kiosk, by kind."""
        return {d.info.kind: d for d in self.drivers.values() if d.info.attached_to == kiosk_code}

    # ---- calls to displays ---------------------------------------------------------------------

    def _on_ticket(self, event: TicketEventBase) -> None:
        if isinstance(event, TicketCompleted):
            self._on_completed(event)
        else:
            self._on_called(event)

    def _on_completed(self, event: TicketCompleted) -> None:
        """A completion: the rating pads at that window show it (each in its own task: a slow pad waits alone)."""
        window_id = event.payload.window_id
        if self.evaluations is None or window_id is None:
            return
        for driver in self.drivers.values():
            if isinstance(driver, RatingPadDriver) and driver.info.window_id == window_id and driver.connected:
                task = asyncio.get_running_loop().create_task(self._show(driver), name=f'show-rating-{driver.code}')
                self._showing.add(task)
                task.add_done_callback(self._showing.discard)

    async def _show(self, pad: RatingPadDriver) -> None:
        principal = pad.principal
        if self.evaluations is None or principal is None:
            return
        try:
            prompt = await self.evaluations.pad_prompt(principal)
            if prompt is not None:
                await pad.show(prompt)
        except DeviceUnavailable as error:
            log.debug('rating pad %s did not show the rating: %s', pad.code, error.code)
        except Exception:
            log.exception('rating pad %s: show_rating failed', pad.code)

    def _on_called(self, event: TicketEventBase) -> None:
        """A call, a recall, or a parked ticket called back to its window (resumed): announce it."""
        call, window_id = Call.of(event), event.payload.window_id
        if call is None or window_id is None:
            return
        for display in self._displays_by_window.get(window_id, []):
            display.enqueue(call)

    # ---- the sweep -----------------------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception('device sweep failed')
            await asyncio.sleep(self.tuning.sweep_interval)

    async def sweep(self) -> None:
        """Comfort prompts, usage suggestions and the face gallery; tests call it with a fake clock."""
        due = [d for d in self.drivers.values() if isinstance(d, SeatDriver) and d.comfort_due()]
        if due and await self.waiting_tickets() > 0:  # at once: a silent seat's indicator must not hold up the rest
            await asyncio.gather(*(seat.prompt_comfort() for seat in due))
        zh, en = self.ctx.prompt('device_usage_high')
        for driver in list(self.drivers.values()):
            if driver.usage_crossed_high():
                await self.bus.publish(
                    DeviceSuggestion(
                        hall_id=self.hall_id,
                        device=driver.info.payload,
                        usage=round(driver.usage_rate(), 3),
                        text_zh=zh,
                        text_en=en,
                    )
                )
        await self._refresh_gallery()

    async def waiting_tickets(self) -> int:
        statement = select(func.count()).where(Ticket.hall_id == self.hall_id, Ticket.status == TicketStatus.WAITING)
        async with self.db.read_session() as s:
            return int((await s.execute(statement)).scalar_one())

    async def _on_gallery_changed(self, event: Event) -> None:
        """A template enrolled, revoked or expired (in any process): reload now, not at the next timed refresh."""
        if event.hall_id != self.hall_id:
            return
        self._gallery_loaded_at = -float('inf')
        await self._refresh_gallery()

    async def _refresh_gallery(self) -> None:
        """Reload the consented templates every `gallery_refresh` s, and only while a camera is connected
        (a hall without cameras never loads dlib's models, which cost a second and ~100 MB; one with cameras loads
        them at `start`)."""
        faces = self.ctx.faces
        now = time.monotonic()
        if faces is None or now - self._gallery_loaded_at < self.tuning.gallery_refresh:
            return
        if not any(d.connected for d in self.drivers.values() if d.info.kind == DeviceKind.CAMERA):
            return
        self._gallery_loaded_at = now
        if await faces.refresh():
            log.info('face gallery refreshed for the cameras')


def _route_displays(drivers: Iterable[Driver], windows: list[Window]) -> dict[int, list[CallDisplayDriver]]:
    """Which displays show a window's calls: its own display, its zone's board, and every hall-wide board.

    A display tied to a window is that window's; one without a window in a zone that has windows is
    the zone's board; one in a zone without windows (the waiting area, the rest area) is hall-wide.
    """
    displays = [d for d in drivers if isinstance(d, CallDisplayDriver)]
    zones_with_windows = {w.zone_id for w in windows}
    hall_wide = [d for d in displays if d.info.window_id is None and d.info.zone_id not in zones_with_windows]
    routes: dict[int, list[CallDisplayDriver]] = {}
    for window in windows:
        own = [d for d in displays if d.info.window_id == window.id]
        zone = [d for d in displays if d.info.window_id is None and d.info.zone_id == window.zone_id]
        routes[window.id or 0] = own + zone + hall_wide
    return routes
