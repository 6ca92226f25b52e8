"""staffing moves are stored: a move outlives the process and ends at its end hour

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 22:40:00.000000

Until now an applied move lived in one process's memory: a restart kept the window on its new
services and forgot to give the old ones back (app/services/staffing.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'staffing_move',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('window_id', sa.Integer(), nullable=False),
        sa.Column('before', sa.JSON(), nullable=False),
        sa.Column('after', sa.JSON(), nullable=False),
        sa.Column('target_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ends_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('ended_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(['hall_id'], ['hall.id']),
        sa.ForeignKeyConstraint(['window_id'], ['window.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('staffing_move', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staffing_move_hall_id'), ['hall_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffing_move_window_id'), ['window_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffing_move_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffing_move_ended_at'), ['ended_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staffing_move', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staffing_move_ended_at'))
        batch_op.drop_index(batch_op.f('ix_staffing_move_ends_at'))
        batch_op.drop_index(batch_op.f('ix_staffing_move_window_id'))
        batch_op.drop_index(batch_op.f('ix_staffing_move_hall_id'))
    op.drop_table('staffing_move')
