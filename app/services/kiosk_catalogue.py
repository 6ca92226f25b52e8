"""What a kiosk offers: the services some window of the hall serves, by department, elder-zone services
first in elder mode."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import col, select

from app.db import Database
from app.models.hall import Department, ServiceItem, Window, WindowService, Zone
from app.services.errors import NotFound

ELDER_ZONE = 'senior'  # windows of this zone serve older citizens: their services come first in elder mode


@dataclass(frozen=True)
class ServiceCard:
    code: str
    name: str
    name_en: str
    description: str
    prefix: str
    windows: tuple[int, ...]  # window numbers that serve it

    @property
    def window_hint(self) -> str:
        return '、'.join(str(n) for n in self.windows) + '号窗口' if self.windows else ''


@dataclass(frozen=True)
class ServiceGroup:
    department: str
    department_en: str
    services: tuple[ServiceCard, ...]


@dataclass(frozen=True)
class Catalogue:
    """What a kiosk offers: services some window serves, by department; `elder_codes` go first in elder mode."""

    groups: tuple[ServiceGroup, ...]
    items: dict[str, ServiceItem]
    elder_codes: tuple[str, ...]

    def card(self, code: str) -> ServiceCard:
        for group in self.groups:
            for card in group.services:
                if card.code == code:
                    return card
        raise NotFound('unknown_service', text='unknown_service.kiosk', code_value=code)

    def service(self, code: str) -> ServiceItem:
        self.card(code)
        return self.items[code]

    @property
    def cards(self) -> list[ServiceCard]:
        return [card for group in self.groups for card in group.services]


async def load_catalogue(db: Database, hall_id: int) -> Catalogue:
    """Services some window of this hall serves, grouped by department, in catalogue order."""
    async with db.read_session() as s:
        rows = (
            await s.execute(
                select(ServiceItem, Department, Window.number, Zone.code)
                .join(Department, col(Department.id) == ServiceItem.department_id)
                .join(WindowService, col(WindowService.service_id) == ServiceItem.id)
                .join(Window, col(Window.id) == WindowService.window_id)
                .join(Zone, col(Zone.id) == Window.zone_id)
                .where(Window.hall_id == hall_id)
                .order_by(col(ServiceItem.id), Window.number)
            )
        ).all()
    items: dict[str, ServiceItem] = {}
    windows: dict[str, list[int]] = defaultdict(list)
    departments: dict[str, Department] = {}
    elder: list[str] = []
    for service, department, number, zone in rows:
        items[service.code] = service
        departments[service.code] = department
        windows[service.code].append(number)
        if zone == ELDER_ZONE and service.code not in elder:
            elder.append(service.code)
    grouped: dict[int, list[ServiceCard]] = defaultdict(list)
    for code, service in items.items():
        grouped[departments[code].id or 0].append(
            ServiceCard(
                code,
                service.name,
                service.name_en,
                service.description,
                service.ticket_prefix,
                tuple(sorted(set(windows[code]))),
            )
        )
    by_id = {d.id or 0: d for d in departments.values()}
    groups = tuple(ServiceGroup(by_id[did].name, by_id[did].name_en, tuple(cards)) for did, cards in grouped.items())
    return Catalogue(groups, items, tuple(elder))
