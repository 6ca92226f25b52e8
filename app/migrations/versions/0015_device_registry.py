"""devices are registered, rotated and retired from /admin while the hall runs

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 22:00:00.000000

`retired_at`: a retired device is refused and leaves the floor map, but its row (and the history that
points at it) stays. `credential_issued_at`: the device holds a random credential issued by an admin,
which the seed loader must never replace with one derived from SECRET_KEY.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credential_issued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('retired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
        batch_op.drop_column('credential_issued_at')
