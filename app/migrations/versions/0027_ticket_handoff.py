"""跨区通办 of tickets: a ticket closes as transferred, and a handoff row carries it to the other hall's process

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 02:20:00.000000

The source hall closes its ticket (status TRANSFERRED) and writes `ticket_handoff`; the target hall's process
issues the new ticket and records it on the row (app/services/ticket_handoff.py). One row per ticket, one new
ticket per row (both unique).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0027'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BEFORE = ('WAITING', 'CALLED', 'PARKED', 'COMPLETED', 'NO_SHOW', 'CANCELLED')
AFTER = (*BEFORE, 'TRANSFERRED')


def _status_column(values: tuple[str, ...], previous: tuple[str, ...]) -> None:
    """PostgreSQL: a value added to the native enum; SQLite: the column's VARCHAR long enough for the longest."""
    if op.get_bind().dialect.name == 'postgresql':
        if len(values) > len(previous):
            with op.get_context().autocommit_block():
                op.execute("ALTER TYPE ticketstatus ADD VALUE IF NOT EXISTS 'TRANSFERRED'")
        return
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.alter_column(
            'status',
            existing_type=sa.Enum(*previous, name='ticketstatus'),
            type_=sa.Enum(*values, name='ticketstatus'),
            existing_nullable=False,
        )


def upgrade() -> None:
    _status_column(AFTER, BEFORE)
    op.create_table(
        'ticket_handoff',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('from_hall_id', sa.Integer(), nullable=False),
        sa.Column('from_ticket_id', sa.Integer(), nullable=False),
        sa.Column('to_hall_id', sa.Integer(), nullable=False),
        sa.Column('to_service_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('PENDING', 'APPLIED', name='handoffstatus'), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('applied_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('new_ticket_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['from_hall_id'], ['hall.id']),
        sa.ForeignKeyConstraint(['from_ticket_id'], ['ticket.id']),
        sa.ForeignKeyConstraint(['to_hall_id'], ['hall.id']),
        sa.ForeignKeyConstraint(['to_service_id'], ['service_item.id']),
        sa.ForeignKeyConstraint(['new_ticket_id'], ['ticket.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('from_ticket_id'),
        sa.UniqueConstraint('new_ticket_id'),
    )
    with op.batch_alter_table('ticket_handoff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_handoff_to_hall_id'), ['to_hall_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_handoff_status'), ['status'], unique=False)


def downgrade() -> None:
    """The previous release knows no transferred status: such tickets read as cancelled (their events stay)."""
    with op.batch_alter_table('ticket_handoff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_handoff_status'))
        batch_op.drop_index(batch_op.f('ix_ticket_handoff_to_hall_id'))
    op.drop_table('ticket_handoff')
    op.execute("UPDATE ticket SET status = 'CANCELLED' WHERE status = 'TRANSFERRED'")
    if op.get_bind().dialect.name == 'postgresql':  # a value stays in a native enum: it is unused from here on
        op.execute('DROP TYPE IF EXISTS handoffstatus')
    else:
        _status_column(BEFORE, AFTER)
