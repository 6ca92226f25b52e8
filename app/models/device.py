"""Hall hardware: kiosks, readers, scanners, cameras, printers, call displays, smart seats, rating pads."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import SQLModel

from app.models.fields import internal, public, sensitive


class DeviceKind(StrEnum):
    KIOSK = 'kiosk'
    ID_READER = 'id_reader'
    QR_SCANNER = 'qr_scanner'
    CAMERA = 'camera'
    PRINTER = 'printer'
    CALL_DISPLAY = 'call_display'
    SEAT = 'seat'
    RATING_PAD = 'rating_pad'  # 评价器 at a window: a paired tablet page (/rate/{window}) or a hardware pad


class DeviceState(StrEnum):
    ONLINE = 'online'
    OFFLINE = 'offline'
    FAULT = 'fault'


class DeviceBase(SQLModel):
    code: str = public(max_length=32)
    kind: DeviceKind = public(max_length=16)
    name: str = public(default='', max_length=100)
    x: float = public(default=0)
    y: float = public(default=0)
    attached_to: str | None = public(default=None, max_length=32)


class Device(DeviceBase, table=True):
    __table_args__ = (UniqueConstraint('hall_id', 'code'),)
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    zone_id: int | None = public(default=None, foreign_key='zone.id')
    window_id: int | None = public(default=None, foreign_key='window.id')
    credential_hash: str = sensitive(max_length=256)
    # set when /admin issued a random credential (register, rotate): the seed then never re-derives it
    credential_issued_at: dt.datetime | None = internal(default=None)
    state: DeviceState = public(default=DeviceState.OFFLINE, max_length=16)
    last_seen_at: dt.datetime | None = internal(default=None)
    retired_at: dt.datetime | None = public(default=None)  # refused, off the map; the row stays for history


class DevicePublic(DeviceBase):
    id: int
    zone_id: int | None
    window_id: int | None
    state: DeviceState
