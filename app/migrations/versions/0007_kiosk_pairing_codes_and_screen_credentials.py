"""kiosk pairing codes and screen credentials

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:00:00.000000

Kiosk screens become paired devices: an admin issues a one-time pairing code (stored as a keyed
hash), the screen exchanges it for a credential (stored as SHA-256). The partial unique index keeps
one live credential per kiosk.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text('revoked_at IS NULL')


def upgrade() -> None:
    op.create_table(
        'kiosk_pairing_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('issued_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('issued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['device.id']),
        sa.ForeignKeyConstraint(['hall_id'], ['hall.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_hash'),
    )
    with op.batch_alter_table('kiosk_pairing_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_pairing_code_device_id'), ['device_id'], unique=False)

    op.create_table(
        'kiosk_screen_credential',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('client_address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['device.id']),
        sa.ForeignKeyConstraint(['hall_id'], ['hall.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('kiosk_screen_credential', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_screen_credential_device_id'), ['device_id'], unique=False)
    op.create_index(
        'uq_kiosk_screen_live_device',
        'kiosk_screen_credential',
        ['device_id'],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index('uq_kiosk_screen_live_device', table_name='kiosk_screen_credential')
    with op.batch_alter_table('kiosk_screen_credential', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_screen_credential_device_id'))
    op.drop_table('kiosk_screen_credential')
    with op.batch_alter_table('kiosk_pairing_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_pairing_code_device_id'))
    op.drop_table('kiosk_pairing_code')
