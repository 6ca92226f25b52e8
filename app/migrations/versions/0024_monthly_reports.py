"""the monthly monitoring report is stored: one per hall and month

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 01:30:00.000000

A scheduled job writes the previous month's figures on the 1st; managers list and download them
(app/services/monthly_report.py). The unique key keeps one report per hall and month.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'monthly_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.Column('generated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('generated_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(['hall_id'], ['hall.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('hall_id', 'month'),
    )
    with op.batch_alter_table('monthly_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monthly_report_hall_id'), ['hall_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('monthly_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monthly_report_hall_id'))
    op.drop_table('monthly_report')
