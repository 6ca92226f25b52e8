"""登录设备: a citizen's session keeps a short name of the device it signed in on (never the User-Agent itself)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 06:20:00.000000

Sessions signed in before this release have no name; the list shows their place and times.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0030'
down_revision: str | None = '0029'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('citizen_session', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('device', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('citizen_session', schema=None) as batch_op:
        batch_op.drop_column('device')
