"""The rows one month's indicators are computed from, read from the hall's database in one read session.

The month is the hall's calendar month. Tickets count by their hall day, ratings and cases by when they were
made, rectifications by their deadline (those due this month), device use by the days the hall issued
tickets. Who served a ticket is who completed it (its `completed` event's actor).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.db import Database
from app.models.cases import Case, CaseMaterial, CaseNode, Evaluation, Rectification
from app.models.device import Device, DeviceKind
from app.models.hall import Department, ServiceItem, Window
from app.models.operations import DeviceEvent
from app.models.people import StaffUser
from app.models.ticket import Channel, Ticket, TicketEvent
from app.services import satisfaction
from app.services.assessment import NodeRow
from app.services.case_views import MATERIAL_REQUIRED, MATERIAL_SATISFIED
from app.services.evaluation import VOID
from app.services.repair_times import HEALTH_EVENT, repairs
from app.services.report_indicators import (
    CaseRow,
    DeviceMonth,
    MaterialRow,
    MonthRows,
    RatingRow,
    RectificationRow,
    Scope,
    TicketRow,
)

COMPLETED_EVENT = 'completed'
SILENT_KINDS = (DeviceKind.CALL_DISPLAY,)  # shows, never reports a use: not counted in 设备使用率


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def previous_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def month_bounds(month: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The hall's calendar month as a UTC interval [start, end)."""
    after = next_month(month)
    start = dt.datetime(month.year, month.month, 1, tzinfo=tz)
    return start.astimezone(dt.UTC), dt.datetime(after.year, after.month, 1, tzinfo=tz).astimezone(dt.UTC)


@dataclass(frozen=True)
class MonthData:
    rows: MonthRows
    nodes: list[NodeRow]
    month_end: dt.datetime


async def load(db: Database, hall_id: int, month: dt.date, tz: ZoneInfo) -> MonthData:
    since, until = month_bounds(month, tz)
    async with db.read_session() as s:
        tickets, open_days = await _tickets(s, hall_id, month, since, until)
        rows = MonthRows(
            tickets=tickets,
            ratings=await _ratings(s, hall_id, since, until),
            rectifications=await _rectifications(s, hall_id, month, tz),
            cases=await _cases(s, hall_id, since, until),
            materials=await _materials(s, hall_id, since, until),
            devices=await _devices(s, hall_id, since, until, open_days, tz),
            names=await _names(s, hall_id),
        )
        nodes = await _nodes(s, hall_id, since, until)
    return MonthData(rows, nodes, until)


async def _tickets(
    s: AsyncSession, hall_id: int, month: dt.date, since: dt.datetime, until: dt.datetime
) -> tuple[list[TicketRow], set[dt.date]]:
    completers = dict(
        (
            await s.execute(
                select(TicketEvent.ticket_id, StaffUser.id)
                .join(StaffUser, col(StaffUser.username) == TicketEvent.actor)
                .where(
                    TicketEvent.hall_id == hall_id,
                    TicketEvent.kind == COMPLETED_EVENT,
                    col(TicketEvent.at) >= since,
                    col(TicketEvent.at) < until,
                )
            )
        ).all()
    )
    result = await s.execute(
        select(
            Ticket.id,
            Ticket.day,
            ServiceItem.department_id,
            Ticket.window_id,
            Ticket.taken_at,
            Ticket.first_called_at,
            Ticket.called_at,
            Ticket.completed_at,
            Ticket.appointment_id,
            Ticket.channel,
        )
        .join(ServiceItem, col(ServiceItem.id) == Ticket.service_id)
        .where(Ticket.hall_id == hall_id, col(Ticket.day) >= month, col(Ticket.day) < next_month(month))
    )
    rows: list[TicketRow] = []
    days: set[dt.date] = set()
    for ident, day, department, window, taken, first, called, completed, appointment, channel in result:
        days.add(day)
        rows.append(
            TicketRow(
                department,
                window,
                completers.get(ident),
                taken,
                first,
                called,
                completed,
                appointment is not None or channel == Channel.MOBILE,
            )
        )
    return rows, days


async def _ratings(s: AsyncSession, hall_id: int, since: dt.datetime, until: dt.datetime) -> list[RatingRow]:
    effective = satisfaction.in_force(hall_id, since, until).subquery()
    result = await s.execute(
        select(effective.c.department_id, effective.c.window_id, effective.c.staff_user_id, effective.c.satisfied)
    )
    return [RatingRow(department, window, staff, bool(good)) for department, window, staff, good in result]


async def _rectifications(s: AsyncSession, hall_id: int, month: dt.date, tz: ZoneInfo) -> list[RectificationRow]:
    result = await s.execute(
        select(Rectification.department_id, Rectification.deadline, Rectification.closed_at)
        .join(Evaluation, col(Evaluation.id) == Rectification.evaluation_id)
        .where(
            Evaluation.hall_id == hall_id,
            col(Rectification.deadline) >= month,
            col(Rectification.deadline) < next_month(month),
            Rectification.status != VOID,
        )
    )
    return [
        RectificationRow(department, closed is not None and closed.astimezone(tz).date() <= deadline)
        for department, deadline, closed in result
    ]


def _cases_in(hall_id: int, since: dt.datetime, until: dt.datetime) -> Any:
    return (Case.hall_id == hall_id, col(Case.created_at) >= since, col(Case.created_at) < until)


async def _cases(s: AsyncSession, hall_id: int, since: dt.datetime, until: dt.datetime) -> list[CaseRow]:
    result = await s.execute(
        select(ServiceItem.department_id, Case.created_at, Case.completed_at)
        .join(ServiceItem, col(ServiceItem.id) == Case.service_id)
        .where(*_cases_in(hall_id, since, until))
    )
    return [CaseRow(department, created, completed) for department, created, completed in result]


async def _materials(s: AsyncSession, hall_id: int, since: dt.datetime, until: dt.datetime) -> list[MaterialRow]:
    result = await s.execute(
        select(ServiceItem.department_id, CaseMaterial.status)
        .join(Case, col(Case.id) == CaseMaterial.case_id)
        .join(ServiceItem, col(ServiceItem.id) == Case.service_id)
        .where(*_cases_in(hall_id, since, until), col(CaseMaterial.status).in_((MATERIAL_REQUIRED, MATERIAL_SATISFIED)))
    )
    return [MaterialRow(department, status == MATERIAL_SATISFIED) for department, status in result]


async def _nodes(s: AsyncSession, hall_id: int, since: dt.datetime, until: dt.datetime) -> list[NodeRow]:
    result = await s.execute(
        select(CaseNode.case_id, CaseNode.department_id, CaseNode.started_at, CaseNode.finished_at, CaseNode.due_at)
        .join(Case, col(Case.id) == CaseNode.case_id)
        .where(*_cases_in(hall_id, since, until), col(CaseNode.department_id).is_not(None))
        .order_by(col(CaseNode.id))
    )
    return [NodeRow(case, department, started, finished, due) for case, department, started, finished, due in result]


async def _devices(
    s: AsyncSession, hall_id: int, since: dt.datetime, until: dt.datetime, open_days: set[dt.date], tz: ZoneInfo
) -> DeviceMonth:
    in_service = {
        ident
        for ident, kind, retired in await s.execute(
            select(Device.id, Device.kind, Device.retired_at).where(Device.hall_id == hall_id)
        )
        if kind not in SILENT_KINDS and (retired is None or retired >= since)
    }
    events = await s.execute(
        select(DeviceEvent.device_id, DeviceEvent.kind, DeviceEvent.at, DeviceEvent.detail)
        .where(DeviceEvent.hall_id == hall_id, col(DeviceEvent.at) >= since, col(DeviceEvent.at) < until)
        .order_by(col(DeviceEvent.device_id), col(DeviceEvent.at), col(DeviceEvent.id))
    )
    used: set[tuple[int, dt.date]] = set()
    health: dict[int, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for device, kind, at, detail in events:
        if kind == HEALTH_EVENT:
            health[device].append((at, str(detail.get('state', ''))))
        elif device in in_service and at.astimezone(tz).date() in open_days:
            used.add((device, at.astimezone(tz).date()))
    fixed = tuple(repair for transitions in health.values() for repair in repairs(transitions))
    return DeviceMonth(len(in_service) * len(open_days), len(used), fixed)


async def _names(s: AsyncSession, hall_id: int) -> dict[Scope, dict[int, str]]:
    departments = await s.execute(select(Department.id, Department.name))
    windows = await s.execute(select(Window.id, Window.number).where(Window.hall_id == hall_id))
    staff = await s.execute(select(StaffUser.id, StaffUser.display_name))
    return {
        Scope.DEPARTMENT: {ident: name for ident, name in departments},
        Scope.WINDOW: {ident: f'{number}号窗口' for ident, number in windows},
        Scope.STAFF: {ident: name for ident, name in staff},
    }
