"""an index for calling the next ticket: the head of each (service, priority class) queue in one probe

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 05:30:00.000000

call-next reads the first waiting ticket of each of its window's (service, class) queues with a LIMIT 1
(app/services/queue_pick.py); ordered by queue time and id inside each queue, that read costs the same
however many wait. Without the class in the index, a class nobody waits in was a scan of the whole queue.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0028'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ['hall_id', 'status', 'service_id', 'priority_class', 'queued_at', 'id']


def upgrade() -> None:
    op.create_index('ix_ticket_pick', 'ticket', COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index('ix_ticket_pick', table_name='ticket')
