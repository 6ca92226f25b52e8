"""who marked a ticket's green channel; home visits (上门服务) and the case kind that runs them

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 01:30:00.000000

Existing tickets keep an empty `priority_set_by` (age-based or from before this release); existing cases
are applications.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.add_column(
            sa.Column('priority_set_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default='')
        )
    with op.batch_alter_table('case') as batch:
        batch.add_column(
            sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='application')
        )
    op.create_table(
        'home_visit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('citizen_id', sa.Integer(), nullable=True),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('grant_id', sa.Integer(), nullable=True),
        sa.Column('address_enc', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('slot_start', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('slot_end', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('assignees', sa.JSON(), nullable=False),
        sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('visited_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['hall_id'], ['hall.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.ForeignKeyConstraint(['service_id'], ['service_item.id']),
        sa.ForeignKeyConstraint(['department_id'], ['department.id']),
        sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id']),
        sa.ForeignKeyConstraint(['account_id'], ['citizen_account.id']),
        sa.ForeignKeyConstraint(['grant_id'], ['proxy_grant.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id'),
    )
    with op.batch_alter_table('home_visit') as batch:
        for column in ('hall_id', 'department_id', 'citizen_id', 'account_id', 'grant_id', 'status'):
            batch.create_index(f'ix_home_visit_{column}', [column], unique=False)


def downgrade() -> None:
    op.drop_table('home_visit')
    with op.batch_alter_table('case') as batch:
        batch.drop_column('kind')
    with op.batch_alter_table('ticket') as batch:
        batch.drop_column('priority_set_by')
