"""The devices' part of the app's life: the hub is mounted at configure time, drivers start with the runtime.

With DEVICE_MODE=simulated the simulated fleet runs in the same process and connects to the app's
own /ws/devices over real websockets (retrying with backoff until the server listens), so the hall
is alive on first start; with DEVICE_MODE=websocket only real devices connect.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.bus import Bus
from app.db import Database
from app.security.credentials import device_credential
from app.security.keys import Purpose
from app.services.consent import ConsentService
from app.services.deps import Deps
from app.services.evaluation import EvaluationService
from app.services.kiosk import KioskDevices
from app.services.ops import OpsCounters
from app.settings import Settings
from devices import protocol
from devices.gallery import FaceGallery, FaceSearch
from devices.hub import DeviceHub
from devices.kiosk_port import DeviceHardware
from devices.service import DeviceService
from devices.sim.behaviours import SimWorld
from devices.sim.fleet import SimulatedFleet, fleet_specs, seeded_devices
from devices.sim.samples import signed_qr_samples


class Devices:
    """The hub (mounted at configure time), the device service and, when simulated, the in-process fleet."""

    def __init__(self) -> None:
        self.hub = DeviceHub()
        self.service: DeviceService | None = None
        self.fleet: SimulatedFleet | None = None

    def mount(self, app: FastAPI, settings: Settings) -> None:
        """Serve /ws/devices (devices are told to come back later until `start`)."""
        self.hub.max_pending = settings.device_max_pending
        self.hub.mount(app)

    async def start(
        self, deps: Deps, bus: Bus, *, ops: OpsCounters, evaluations: EvaluationService | None = None
    ) -> KioskDevices:
        """Start the drivers, open the hub to devices, and give the kiosk pages their hardware; `evaluations`
        (the runtime's, which kicks the notifier) lets the rating pads rate."""
        settings, db = deps.settings, deps.db
        gallery = FaceGallery(_face_engine, ConsentService(deps).face_gallery)
        service = DeviceService(
            db=db,
            bus=bus,
            settings=settings,
            hall_id=deps.hall_id,
            faces=gallery,
            rules=deps.rules,
            evaluations=evaluations or EvaluationService(deps),
        )
        await service.start()
        self.hub.bind(service)
        ops.add('device_hub', self.hub.stats)
        self.service = service
        if settings.device_mode == 'simulated':
            self.fleet = await simulated_fleet(settings, db, deps.hall_id)
            self.fleet.start()
        return DeviceHardware(service)

    async def stop(self) -> None:
        """Stop the drivers first, so the simulated devices' goodbyes are not logged as devices going offline."""
        self.hub.bind(None)
        if self.service is not None:
            await self.service.stop()
            self.service = None
        if self.fleet is not None:
            await self.fleet.stop()
            self.fleet = None


async def simulated_fleet(settings: Settings, db: Database, hall_id: int) -> SimulatedFleet:
    """The in-process fleet, handed its devices' credentials and a few signed codes: never SECRET_KEY nor a key."""
    host = '127.0.0.1' if settings.host in {'0.0.0.0', '::', ''} else settings.host
    devices = await seeded_devices(db, hall_id)
    credentials = {code: device_credential(settings.secret, code) for code in devices}
    world = SimWorld(
        qr=signed_qr_samples(settings.key(Purpose.CODE_SIGNING)),
        activity=settings.hall_simulation == 'on',
        fault_rate=settings.device_fault_rate,
    )
    return SimulatedFleet(f'ws://{host}:{settings.port}{protocol.PATH}', fleet_specs(devices, credentials), world)


def _face_engine() -> FaceSearch:
    from devices.face import FaceEngine  # imported on first use: loading dlib's models takes a second

    return FaceEngine()
