"""a guardian's consent for a citizen under 14

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:30:00.000000

PIPL art. 31: a citizen under 14 cannot consent alone to face enrolment or to fetching department
data. The guardian who consents for them is recorded on the minor's consent: their ID number only
encrypted, and their relation to the minor.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guardian_id_enc', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('guardian_relation', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_column('guardian_relation')
        batch_op.drop_column('guardian_id_enc')
