"""Two months of a small hall's work, written row by row, for the monthly report's hand-computed figures.

The hall's calendar is Asia/Shanghai (UTC+8); every moment below is UTC. September: one ticket, badly rated.
October: four tickets, three ratings, two rectifications due, two cases (one across two departments),
materials, and devices (a kiosk, a printer, a call display that is not counted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import select

from app.db import Database
from app.models import (
    Case,
    CaseMaterial,
    CaseNode,
    Department,
    Device,
    DeviceEvent,
    Evaluation,
    Rectification,
    ServiceItem,
    StaffUser,
    Ticket,
    TicketEvent,
)
from app.models.device import DeviceKind
from app.models.ticket import Channel, TicketStatus
from tests.factories import SmallHall, build_small_hall

SEPTEMBER = dt.date(2026, 9, 1)
OCTOBER = dt.date(2026, 10, 1)


def at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


@dataclass(frozen=True)
class ReportHall:
    small: SmallHall
    department: int  # 测试局: every service of the small hall
    other_department: int  # 不动产登记中心: the second step of the cross-department case
    clerk: int  # 张三 (w01)
    boss: int  # 李四 (boss)


async def build_report_hall(db: Database) -> ReportHall:
    small = await build_small_hall(db)
    async with db.session() as s, s.begin():
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-A'))).scalar_one()
        department = service.department_id
        other = Department(code='LAND', name='不动产登记中心')
        s.add(other)
        users = {u.username: u.id for u in (await s.execute(select(StaffUser))).scalars()}
        await s.flush()
        assert other.id is not None and service.id is not None

        def ticket(
            number: str,
            window: int | None,
            taken: dt.datetime,
            called: dt.datetime | None,
            done_at: dt.datetime | None,
            *,
            channel: Channel = Channel.KIOSK,
        ) -> Ticket:
            status = TicketStatus.COMPLETED if done_at else TicketStatus.CANCELLED
            return Ticket(
                hall_id=small.hall_id,
                service_id=service.id,
                day=(taken + dt.timedelta(hours=8)).date(),
                number=number,
                code=f'code-{number}',
                status=status,
                channel=channel,
                taken_at=taken,
                queued_at=taken,
                first_called_at=called,
                called_at=called,
                completed_at=done_at,
                window_id=window,
            )

        september = ticket('A001', small.window_1, at(9, 15, 2), at(9, 15, 2, 30), at(9, 15, 2, 40))
        t1 = ticket('A101', small.window_1, at(10, 12, 2), at(10, 12, 2, 10), at(10, 12, 2, 20))
        t2 = ticket('A102', small.window_1, at(10, 12, 2), at(10, 12, 2, 20), at(10, 12, 2, 50), channel=Channel.MOBILE)
        t3 = ticket('A103', small.window_2, at(10, 12, 3), at(10, 12, 3, 6), at(10, 12, 3, 12))
        t4 = ticket('A104', None, at(10, 12, 4), None, None)
        s.add_all([september, t1, t2, t3, t4])
        await s.flush()
        for done, actor in ((september, 'w01'), (t1, 'w01'), (t2, 'w01'), (t3, 'boss')):
            assert done.completed_at is not None and done.id is not None
            s.add(
                TicketEvent(
                    ticket_id=done.id,
                    hall_id=small.hall_id,
                    kind='completed',
                    at=done.completed_at,
                    actor=actor,
                    to_status='completed',
                )
            )

        def rating(done: Ticket, staff: str, satisfied: bool) -> Evaluation:
            assert done.id is not None and done.completed_at is not None
            return Evaluation(
                hall_id=small.hall_id,
                ticket_id=done.id,
                window_id=done.window_id,
                staff_user_id=users[staff],
                department_id=department,
                scale='five',
                level='good' if satisfied else 'bad',
                score=4 if satisfied else 2,
                satisfied=satisfied,
                created_at=done.completed_at + dt.timedelta(minutes=5),
            )

        e0, e1, e2, e3 = (
            rating(september, 'w01', False),
            rating(t1, 'w01', True),
            rating(t2, 'w01', False),
            rating(t3, 'boss', True),
        )
        s.add_all([e0, e1, e2, e3])
        await s.flush()
        s.add_all(
            [  # both due in October: one closed a day early, one two days late
                Rectification(
                    evaluation_id=e2.id,
                    department_id=department,
                    status='closed',
                    deadline=dt.date(2026, 10, 20),
                    created_at=at(10, 12, 3),
                    closed_at=at(10, 19, 2),
                ),
                Rectification(
                    evaluation_id=e0.id,
                    department_id=department,
                    status='closed',
                    deadline=dt.date(2026, 10, 10),
                    created_at=at(9, 15, 3),
                    closed_at=at(10, 12, 2),
                ),
            ]
        )
        c1 = Case(
            hall_id=small.hall_id,
            code='case-1',
            service_id=service.id,
            created_at=at(10, 12, 2, 30),
            completed_at=at(10, 14, 2, 30),
            status='completed',
        )
        c2 = Case(hall_id=small.hall_id, code='case-2', service_id=service.id, created_at=at(10, 13, 2))
        s.add_all([c1, c2])
        await s.flush()
        s.add_all(
            [
                CaseMaterial(case_id=c1.id, name='申请表', status='required'),
                CaseMaterial(case_id=c1.id, name='身份证', status='required'),
                CaseMaterial(case_id=c1.id, name='户口簿', status='satisfied', source='household'),
                CaseMaterial(case_id=c1.id, name='身份核验', status='verified', source='identity'),  # not a listed one
                CaseMaterial(case_id=c2.id, name='户口簿', status='satisfied', source='household'),
                # 4 hours in 测试局 on time, then 44 hours in 不动产登记中心, a day past its due time
                CaseNode(
                    case_id=c1.id,
                    stage=0,
                    kind='review',
                    name='受理',
                    department_id=department,
                    status='done',
                    started_at=at(10, 12, 2, 30),
                    finished_at=at(10, 12, 6, 30),
                    due_at=at(10, 13, 2),
                ),
                CaseNode(
                    case_id=c1.id,
                    stage=1,
                    kind='review',
                    name='登记',
                    department_id=other.id,
                    status='done',
                    started_at=at(10, 12, 6, 30),
                    finished_at=at(10, 14, 2, 30),
                    due_at=at(10, 13, 2, 30),
                ),
                CaseNode(
                    case_id=c2.id,
                    stage=0,
                    kind='review',
                    name='受理',
                    department_id=department,
                    status='active',
                    started_at=at(10, 13, 2),
                ),
            ]
        )
        kiosk = Device(hall_id=small.hall_id, code='K1', kind=DeviceKind.KIOSK, credential_hash='x')
        printer = Device(hall_id=small.hall_id, code='P1', kind=DeviceKind.PRINTER, credential_hash='x')
        board = Device(hall_id=small.hall_id, code='D1', kind=DeviceKind.CALL_DISPLAY, credential_hash='x')
        s.add_all([kiosk, printer, board])
        await s.flush()
        for device, kind, moment, detail in (
            (kiosk, 'session_start', at(10, 12, 3), {'session_id': 's1'}),
            (printer, 'print', at(10, 13, 3), {'status': 'printed'}),  # the 13th issued no ticket: not a day in service
            (printer, 'health', at(10, 12, 1), {'state': 'fault'}),
            (printer, 'health', at(10, 12, 1, 40), {'state': 'online'}),
            (kiosk, 'health', at(10, 12, 5), {'state': 'fault'}),
            (kiosk, 'health', at(10, 12, 5, 20), {'state': 'online'}),
        ):
            s.add(DeviceEvent(hall_id=small.hall_id, device_id=device.id, kind=kind, at=moment, detail=detail))
    assert department is not None
    return ReportHall(small, department, other.id, users['w01'], users['boss'])
