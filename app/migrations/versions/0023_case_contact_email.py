"""a case may carry a business's contact email (encrypted) for its notices

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 01:30:00.000000

Empty for every existing case: none of them left an address, so none is emailed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(
            sa.Column(
                'contact_email_enc', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False, server_default=''
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.drop_column('contact_email_enc')
