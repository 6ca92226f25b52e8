"""a window's own opening hours inside the hall's (a morning-only window, a lunch break, some weekdays)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 22:50:00.000000

An empty list keeps the hall's hours, so every existing window stays as it was
(app/services/window_hours.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('window') as batch:
        batch.add_column(sa.Column('hours', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('window') as batch:
        batch.drop_column('hours')
