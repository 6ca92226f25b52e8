"""The hall's layout and catalogue: halls, zones, departments, service items, windows."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import SQLModel

from app.models.fields import internal, public


class HallBase(SQLModel):
    code: str = public(max_length=32, unique=True, index=True)
    name: str = public(max_length=100)
    name_en: str = public(default='', max_length=100)
    width: float = public(default=1200)
    height: float = public(default=800)


class Hall(HallBase, table=True):
    id: int | None = public(default=None, primary_key=True)
    prompts: dict[str, Any] = public(default_factory=dict, sa_type=JSON)
    sms_templates: dict[str, Any] = public(default_factory=dict, sa_type=JSON)  # message kind -> provider template code


class HallPublic(HallBase):
    id: int


class ZoneBase(SQLModel):
    code: str = public(max_length=32)
    name: str = public(max_length=100)
    name_en: str = public(default='', max_length=100)
    x: float = public(default=0)
    y: float = public(default=0)
    width: float = public(default=100)
    height: float = public(default=100)


class Zone(ZoneBase, table=True):
    __table_args__ = (UniqueConstraint('hall_id', 'code'),)
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)


class ZonePublic(ZoneBase):
    id: int
    hall_id: int


class DepartmentBase(SQLModel):
    code: str = public(max_length=32, unique=True, index=True)
    name: str = public(max_length=100)
    name_en: str = public(default='', max_length=100)


class Department(DepartmentBase, table=True):
    id: int | None = public(default=None, primary_key=True)


class DepartmentPublic(DepartmentBase):
    id: int


class ServiceItemBase(SQLModel):
    code: str = public(max_length=32, unique=True, index=True)
    name: str = public(max_length=100)
    name_en: str = public(default='', max_length=100)
    description: str = public(default='', max_length=500)
    ticket_prefix: str = public(max_length=2)
    sla_days: int = public(default=5, ge=0)
    avg_handling_minutes: float = public(default=10, gt=0)
    queue_alert_threshold: int = public(default=15, ge=1)
    materials: list[dict[str, Any]] = public(default_factory=list, sa_type=JSON)
    questions: list[dict[str, Any]] = public(default_factory=list, sa_type=JSON)
    workflow: list[dict[str, Any]] = public(default_factory=list, sa_type=JSON)


class ServiceItem(ServiceItemBase, table=True):
    __tablename__ = 'service_item'
    id: int | None = public(default=None, primary_key=True)
    department_id: int = public(foreign_key='department.id', index=True)


class ServiceItemPublic(ServiceItemBase):
    id: int
    department_id: int


class WindowState(StrEnum):
    OPEN = 'open'
    PAUSED = 'paused'
    CLOSED = 'closed'


class WindowBase(SQLModel):
    number: int = public(ge=1)
    name: str = public(max_length=100)
    x: float = public(default=0)
    y: float = public(default=0)
    state: WindowState = public(default=WindowState.CLOSED, max_length=16)
    hours: list[dict[str, Any]] = public(default_factory=list, sa_type=JSON)  # app/services/window_hours.py


class Window(WindowBase, table=True):
    __table_args__ = (UniqueConstraint('hall_id', 'number'),)
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    zone_id: int = public(foreign_key='zone.id', index=True)
    current_ticket_id: int | None = internal(default=None)


class WindowPublic(WindowBase):
    id: int
    hall_id: int
    zone_id: int
    current_ticket_id: int | None


class WindowService(SQLModel, table=True):
    """Which services a window serves, and in what order of preference (1 = its main service)."""

    __tablename__ = 'window_service'
    window_id: int = public(foreign_key='window.id', primary_key=True)
    service_id: int = public(foreign_key='service_item.id', primary_key=True, index=True)
    priority: int = public(default=1, ge=1, le=9)
