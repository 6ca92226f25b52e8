"""Stand-ins: what a demo hall pretends, named once so a production hall refuses it and every page says so.

The two profiles (docs/operations.md): `HALL_PROFILE=demo` (the default, what `make run` starts) runs with
every stand-in; `HALL_PROFILE=production` refuses to start while one is on unless ALLOW_STAND_INS names it.
Three stand-ins are settings (the hall simulator, simulated devices, texts written to a file); two are data
the demo seed loads (synthetic 零材料 records, the demo's invented staff accounts).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models.cases import DepartmentRecord
from app.models.hall import Window
from app.models.people import Role, StaffUser
from app.models.ticket import OPEN_STATUSES, Ticket, TicketEvent, TicketStatus
from app.services import audit
from app.services.forecast import SIMULATED_ACTOR
from app.services.principal import Principal
from app.services.uow import Service
from app.settings import ROOT, Settings, StandIn

DEMO_STAFF_FILE = ROOT / 'seed' / 'default' / 'staff.yaml'  # the demo's invented people (w01 王晓燕 ...)
CLEARED_REASON = 'simulator_off'
CLEARED_ACTION = 'simulated_tickets_cleared'

WHAT_IS_ON: dict[StandIn, str] = {
    StandIn.SIMULATION: 'HALL_SIMULATION=on',
    StandIn.DEVICES: 'DEVICE_MODE=simulated',
    StandIn.SMS: 'SMS_PROVIDER=file',
    StandIn.DEPARTMENT_DATA: 'synthetic department records in the database',
    StandIn.DEMO_ACCOUNTS: 'the demo seed staff accounts in the database',
}


def configured_stand_ins(settings: Settings) -> frozenset[StandIn]:
    """The stand-ins the settings switch on."""
    on = {
        StandIn.SIMULATION: settings.hall_simulation == 'on',
        StandIn.DEVICES: settings.device_mode == 'simulated',
        StandIn.SMS: settings.sms_provider == 'file',
    }
    return frozenset(stand_in for stand_in, active in on.items() if active)


def demo_staff(path: Path = DEMO_STAFF_FILE) -> set[tuple[str, str]]:
    """(username, display name) of each person the demo seed invents; a hall's own accounts never match both."""
    if not path.exists():
        return set()
    entries = yaml.safe_load(path.read_text(encoding='utf-8')) or []
    return {(str(entry['username']), str(entry['display_name'])) for entry in entries}


async def stand_ins_in(session: AsyncSession, settings: Settings) -> frozenset[StandIn]:
    """Every stand-in on now: the settings' and the demo data found in the database.

    Every department record is synthetic today: the seed's YAML is the only way in (no data-sharing adapter yet).
    """
    found = set(configured_stand_ins(settings))
    if (await session.execute(select(func.count()).select_from(DepartmentRecord))).scalar_one():
        found.add(StandIn.DEPARTMENT_DATA)
    accounts = (await session.execute(select(StaffUser.username, StaffUser.display_name))).all()
    if {(username, name) for username, name in accounts} & demo_staff():
        found.add(StandIn.DEMO_ACCOUNTS)
    return frozenset(found)


def refusal(settings: Settings, active: frozenset[StandIn]) -> str | None:
    """The one line a production hall stops with, or None when it may start."""
    if settings.hall_profile != 'production':
        return None
    refused = [stand_in for stand_in in StandIn if stand_in in active and stand_in not in settings.allowed_stand_ins]
    if not refused:
        return None
    named = '; '.join(f'{stand_in} ({WHAT_IS_ON[stand_in]})' for stand_in in refused)
    return (
        f'halltwin: HALL_PROFILE=production refuses stand-ins: {named}. '
        'Switch them off, or name them in ALLOW_STAND_INS (docs/operations.md)'
    )


class SimulatedTickets(Service):
    """The hall simulator's open tickets, which must not stay in the queue once it is switched off."""

    async def clear(self, caller: Principal) -> int:
        """Cancel every open ticket the simulator issued, one event each and one audit row; returns how many.

        Run at start-up before the live queue is read, so no window stays busy with an invented citizen.
        """
        caller.require(Role.ADMIN)
        issued_by_simulator = select(TicketEvent.ticket_id).where(
            TicketEvent.hall_id == self.hall_id, TicketEvent.kind == 'issued', TicketEvent.actor == SIMULATED_ACTOR
        )
        async with self._transaction() as uow:
            tickets = (
                (
                    await uow.session.execute(
                        select(Ticket).where(
                            Ticket.hall_id == self.hall_id,
                            col(Ticket.status).in_(OPEN_STATUSES),
                            col(Ticket.id).in_(issued_by_simulator),
                        )
                    )
                )
                .scalars()
                .all()
            )
            if not tickets:
                return 0
            cleared = {ticket.id for ticket in tickets}
            busy = select(Window).where(Window.hall_id == self.hall_id, col(Window.current_ticket_id).in_(cleared))
            for window in (await uow.session.execute(busy)).scalars():
                window.current_ticket_id = None  # the window is free again (its clerk was invented too)
            now = self.clock()
            for ticket in tickets:
                assert ticket.id is not None
                uow.session.add(
                    TicketEvent(
                        ticket_id=ticket.id,
                        hall_id=self.hall_id,
                        kind='cancelled',
                        at=now,
                        actor=caller.name,
                        window_id=ticket.window_id,
                        service_id=ticket.service_id,
                        from_status=ticket.status,
                        to_status=TicketStatus.CANCELLED,
                        reason=CLEARED_REASON,
                    )
                )
                ticket.status = TicketStatus.CANCELLED
            await audit.record_for(
                uow.session,
                caller,
                action=CLEARED_ACTION,
                detail={'tickets': len(tickets)},
                now=now,
            )
            return len(tickets)
