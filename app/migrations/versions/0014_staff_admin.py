"""staff accounts are managed in the admin console: a reset password must be changed at next login

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 22:00:00.000000

An admin's reset gives the person a one-time password shown once; `must_change_password` makes the
login page ask for a new password before any session is opened.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
