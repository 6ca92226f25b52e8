"""real SMS providers: a template code per message kind on the hall, the template and parameters on SMS outbox rows

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 23:00:00.000000

Aliyun and Tencent Cloud send only approved templates, filled with named parameters: the hall says which
template code each message kind uses (hall.yaml `sms_templates`), and an SMS outbox row keeps the
template and its parameters so a delivery retried later sends the same text.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('hall') as batch_op:
        batch_op.add_column(sa.Column('sms_templates', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('notification') as batch_op:
        batch_op.add_column(
            sa.Column('sms_params', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False, server_default='')
        )


def downgrade() -> None:
    with op.batch_alter_table('notification') as batch_op:
        batch_op.drop_column('sms_params')
    with op.batch_alter_table('hall') as batch_op:
        batch_op.drop_column('sms_templates')
