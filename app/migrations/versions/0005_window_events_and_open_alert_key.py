"""window events, and one open alert per key

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 19:00:00.000000

Window state changes were kept only as the window's current state; replay needs them over time.
Open alerts were unique per key only by the application's check; the partial unique index makes
the database hold it. Older duplicates (if two processes ever raised one) are resolved first, the
newest staying open.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text('resolved_at IS NULL')


def upgrade() -> None:
    op.create_table(
        'window_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('window_id', sa.Integer(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(['hall_id'], ['hall.id']),
        sa.ForeignKeyConstraint(['window_id'], ['window.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('window_event', schema=None) as batch_op:
        batch_op.create_index('ix_window_event_hall_at', ['hall_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_window_event_window_id'), ['window_id'], unique=False)

    op.execute(
        'UPDATE alert SET resolved_at = raised_at WHERE resolved_at IS NULL AND id NOT IN '
        '(SELECT MAX(id) FROM alert WHERE resolved_at IS NULL GROUP BY hall_id, key)'
    )
    op.create_index(
        'uq_alert_open_key', 'alert', ['hall_id', 'key'], unique=True, sqlite_where=OPEN, postgresql_where=OPEN
    )


def downgrade() -> None:
    op.drop_index('uq_alert_open_key', table_name='alert')
    with op.batch_alter_table('window_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_window_event_window_id'))
        batch_op.drop_index('ix_window_event_hall_at')
    op.drop_table('window_event')
