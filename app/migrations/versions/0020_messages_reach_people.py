"""messages that reach people: when a ticket's long-wait comfort prompt and a booking's day-before reminder went out

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 23:00:00.000000

Each is a conditional update of its own column, so a sweep run by several workers prompts or reminds once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ticket') as batch_op:
        batch_op.add_column(sa.Column('comfort_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('appointment') as batch_op:
        batch_op.add_column(sa.Column('reminded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('appointment') as batch_op:
        batch_op.drop_column('reminded_at')
    with op.batch_alter_table('ticket') as batch_op:
        batch_op.drop_column('comfort_at')
