"""the hall's configuration is versioned: every saved change kept whole

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 22:10:00.000000

The admin console edits services, windows, zones, workflows and hall rules while the hall runs; each
save is one row here (the thing as saved), so an admin can see what changed, when and by whom, and
export or restore it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'config_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hall_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['hall_id'], ['hall.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('hall_id', 'kind', 'subject', 'version'),
    )
    with op.batch_alter_table('config_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_config_version_hall_id'), ['hall_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('config_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_config_version_hall_id'))
    op.drop_table('config_version')
