"""a case keeps the workflow it opened with

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 22:20:00.000000

Admins edit a service's workflow while the hall runs (the workflow editor); a case already open must go on
with the stages, deadlines and 秒批 rules it started with, so each case keeps a copy. Cases opened before
this revision have none and run their service's workflow as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('workflow', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('workflow')
