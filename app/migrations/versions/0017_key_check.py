"""the database remembers which SECRET_KEY wrote it: a key check value stored at the first start

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 22:30:00.000000

A start with another SECRET_KEY stops with one line instead of starting silently, refusing every
device and failing to decrypt (app/security/key_check.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'key_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('check_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('key_check')
