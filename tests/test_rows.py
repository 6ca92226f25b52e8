"""`new_row` builds the same row as the model's own constructor, only without its per-field instrumentation."""

from __future__ import annotations

import datetime as dt

import pytest

from app.models.rows import columns_of, loaded, new_row, width
from app.models.security import AuditEntry
from app.models.ticket import Channel, PriorityClass, Ticket, TicketStatus

NOW = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)
TICKET = {
    'hall_id': 1,
    'service_id': 2,
    'day': NOW.date(),
    'number': 'A001',
    'code': 'abcdefgh',
    'channel': Channel.KIOSK,
    'priority_class': PriorityClass.NORMAL,
    'taken_at': NOW,
    'queued_at': NOW,
}


def test_a_new_row_holds_what_the_constructor_gives_defaults_included() -> None:
    built, constructed = new_row(Ticket, **TICKET), Ticket(**TICKET)
    assert built.model_dump() == constructed.model_dump()
    assert built.model_fields_set == constructed.model_fields_set == set(TICKET)
    assert built.status == TicketStatus.WAITING and built.id is None


def test_a_default_factory_gives_every_row_its_own_value() -> None:
    entry = {'at': NOW, 'actor': 'a', 'role': 'staff', 'action': 'x', 'prev_hash': '0' * 64, 'hash': 'h'}
    first, second = new_row(AuditEntry, **entry), new_row(AuditEntry, **entry)
    first.detail['seen'] = True
    assert second.detail == {}


def test_a_new_row_takes_assignments_like_any_row() -> None:
    ticket = new_row(Ticket, **TICKET)
    ticket.id, ticket.status = 7, TicketStatus.CALLED
    assert (ticket.id, ticket.status) == (7, TicketStatus.CALLED)


def test_a_missing_required_field_is_refused() -> None:
    with pytest.raises(TypeError, match='needs code'):
        new_row(Ticket, **{key: value for key, value in TICKET.items() if key != 'code'})


def test_a_loaded_row_holds_its_tables_columns_taken_in_order_from_a_core_row() -> None:
    ticket = new_row(Ticket, id=7, **TICKET)
    entry = new_row(AuditEntry, id=3, at=NOW, actor='a', role='staff', action='x', prev_hash='0' * 64, hash='h')
    row = tuple(
        getattr(model_row, column.key) for model_row in (ticket, entry) for column in columns_of(type(model_row))
    )
    assert len(row) == len(columns_of(Ticket, AuditEntry)) == width(Ticket) + width(AuditEntry)
    assert loaded(Ticket, row).model_dump() == ticket.model_dump()
    assert loaded(AuditEntry, row, width(Ticket)).model_dump() == entry.model_dump()
