"""跨区通办: the source hall's process records when it told its pages that the other hall applied a handoff

Revision ID: 0029
Revises: 0027
Create Date: 2026-12-06 05:30:00.000000

Rows applied before this release count as announced: their senders heard of them on their own pages or API answers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0029'
down_revision: str | None = '0028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ticket_handoff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('announced_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_ticket_handoff_announced_at'), ['announced_at'], unique=False)
    op.execute("UPDATE ticket_handoff SET announced_at = applied_at WHERE status = 'APPLIED'")


def downgrade() -> None:
    with op.batch_alter_table('ticket_handoff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_handoff_announced_at'))
        batch_op.drop_column('announced_at')
