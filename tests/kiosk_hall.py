"""The small hall plus what the kiosk needs: a kiosk with its peripherals, questions and materials on SVC-A,
and a 'senior' zone whose window serves SVC-C (the elder-first services)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from app.db import Database
from app.models import ServiceItem, Window, WindowService, WindowState, Zone
from app.models.device import Device, DeviceKind

KIOSK = 'K01'
READER, SCANNER, CAMERA, PRINTER = 'K01-ID', 'K01-QR', 'K01-CAM', 'K01-PRN'
BARE_KIOSK = 'K02'  # a kiosk without peripherals

QUESTIONS = [
    {
        'code': 'property_type',
        'text': '您办理的是新房还是二手房？',
        'text_en': 'New or second-hand home?',
        'options': [
            {'value': 'new', 'label': '新房', 'label_en': 'New home'},
            {'value': 'second_hand', 'label': '二手房', 'label_en': 'Second-hand home'},
        ],
    }
]
MATERIALS = [
    {'name': '买卖双方身份证', 'name_en': 'ID cards'},
    {'name': '购房合同备案', 'name_en': 'Filed purchase contract', 'condition': {'property_type': 'new'}},
    {'name': '原不动产权证书', 'name_en': 'Existing title', 'condition': {'property_type': 'second_hand'}},
]


@dataclass(frozen=True)
class KioskHall:
    hall_id: int
    senior_window_id: int


async def add_kiosk_hall(db: Database, hall_id: int) -> KioskHall:
    async with db.session() as s, s.begin():
        general = (await s.execute(select(Zone).where(Zone.hall_id == hall_id))).scalars().first()
        assert general is not None
        service_a = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-A'))).scalar_one()
        service_a.questions = QUESTIONS
        service_a.materials = MATERIALS
        service_a.description = '甲类事项的通俗说明。'
        service_c = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-C'))).scalar_one()
        senior = Zone(hall_id=hall_id, code='senior', name='银发服务窗口', x=300, y=0, width=100, height=100)
        s.add(senior)
        await s.flush()
        window = Window(hall_id=hall_id, zone_id=senior.id, number=5, name='5号窗口 银发', state=WindowState.OPEN)
        s.add(window)
        await s.flush()
        s.add(WindowService(window_id=window.id, service_id=service_c.id, priority=1))
        devices = [
            (KIOSK, DeviceKind.KIOSK, None),
            (READER, DeviceKind.ID_READER, KIOSK),
            (SCANNER, DeviceKind.QR_SCANNER, KIOSK),
            (CAMERA, DeviceKind.CAMERA, KIOSK),
            (PRINTER, DeviceKind.PRINTER, KIOSK),
            (BARE_KIOSK, DeviceKind.KIOSK, None),
        ]
        for code, kind, attached in devices:
            s.add(
                Device(
                    hall_id=hall_id,
                    zone_id=general.id,
                    code=code,
                    kind=kind,
                    name=f'{code} 测试设备',
                    attached_to=attached,
                    credential_hash='0' * 64,
                )
            )
    return KioskHall(hall_id, window.id or 0)


async def prepare_ui(url: str) -> KioskHall:
    """Add the kiosk hall to the `ui_hall` database (the app under test reads DATABASE_URL)."""
    database = Database(url)
    try:
        async with database.session() as s:
            hall_id = (await s.execute(select(Zone.hall_id))).scalars().first()
        assert hall_id is not None
        return await add_kiosk_hall(database, hall_id)
    finally:
        await database.dispose()
