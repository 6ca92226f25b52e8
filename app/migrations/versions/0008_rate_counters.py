"""abuse-limit counters replace the per-address login throttle

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:00:00.000000

Login failures, ticket taking, SMS and /track guesses are counted by app/services/limits.py, in Redis
when configured and otherwise in `rate_counter` (one row per limit, hashed subject and window). The old
`login_throttle` table counted per client address only and is dropped: its counts expire within 15
minutes anyway. `staff_user.last_failed_at` lets an account's failure count decay: an account attacked
from many addresses is slowed, and recovers by itself once the attack stops.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rate_counter',
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    with op.batch_alter_table('rate_counter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_counter_expires_at'), ['expires_at'], unique=False)
    op.drop_table('login_throttle')
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_failed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('last_failed_at')
    op.create_table(
        'login_throttle',
        sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('address'),
    )
    with op.batch_alter_table('rate_counter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_counter_expires_at'))
    op.drop_table('rate_counter')
