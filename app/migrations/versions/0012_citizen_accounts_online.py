"""citizen accounts on the phone: sign-in by texted code, bookings and remote tickets taken online

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:10:00.000000

`citizen_account` is a phone proved by a texted code (found by a keyed hash, the number kept only
encrypted); it is linked to a `citizen` only through a verified path. `citizen_session` keeps only the
SHA-256 of each session token. Appointments and tickets taken online name their account; a remote
ticket waits `awaiting_arrival` until the citizen is confirmed in the hall; an outbox row may text an
account rather than a citizen.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'citizen_account',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('phone_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('phone_enc', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('citizen_id', sa.Integer(), nullable=True),
        sa.Column('booking_blocked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('citizen_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citizen_account_phone_hash'), ['phone_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_citizen_account_citizen_id'), ['citizen_id'], unique=False)
    op.create_table(
        'citizen_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['citizen_account.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('citizen_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citizen_session_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_session_token_hash'), ['token_hash'], unique=True)
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_appointment_account_id'), ['account_id'], unique=False)
        batch_op.create_foreign_key('fk_appointment_account_id', 'citizen_account', ['account_id'], ['id'])
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('awaiting_arrival', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('come_now_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_ticket_account_id'), ['account_id'], unique=False)
        batch_op.create_foreign_key('fk_ticket_account_id', 'citizen_account', ['account_id'], ['id'])
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_notification_account_id', 'citizen_account', ['account_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_constraint('fk_notification_account_id', type_='foreignkey')
        batch_op.drop_column('account_id')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ticket_account_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_ticket_account_id'))
        batch_op.drop_column('come_now_at')
        batch_op.drop_column('awaiting_arrival')
        batch_op.drop_column('account_id')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_constraint('fk_appointment_account_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_appointment_account_id'))
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('account_id')
    with op.batch_alter_table('citizen_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citizen_session_token_hash'))
        batch_op.drop_index(batch_op.f('ix_citizen_session_account_id'))
    op.drop_table('citizen_session')
    with op.batch_alter_table('citizen_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citizen_account_citizen_id'))
        batch_op.drop_index(batch_op.f('ix_citizen_account_phone_hash'))
    op.drop_table('citizen_account')
