"""staff accounts belong to a hall (several halls share one database); city managers to none

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 21:30:00.000000

Until now one database held one hall, so every existing account is that hall's: it gets the first
hall's id. A process serves one hall (HALL_CODE) and admits only its own hall's accounts, plus the
city managers (role city_manager, no hall), who see every hall on /city.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


CITY_USERS = "SELECT id FROM staff_user WHERE role = 'CITY'"


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':  # the role column is a native enum there
        with op.get_context().autocommit_block():
            op.execute("ALTER TYPE role ADD VALUE IF NOT EXISTS 'CITY'")
    with op.batch_alter_table('staff_user') as batch:
        batch.add_column(sa.Column('hall_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_staff_user_hall_id'), ['hall_id'], unique=False)
        batch.create_foreign_key('fk_staff_user_hall_id', 'hall', ['hall_id'], ['id'])
    op.execute('UPDATE staff_user SET hall_id = (SELECT min(id) FROM hall)')


def downgrade() -> None:
    """The previous release knows no city managers: their accounts go (their sign-ins stay in the audit log)."""
    for table, column in (('auth_session', 'user_id'), ('staff_totp', 'user_id'), ('staff_recovery_code', 'user_id')):
        op.execute(f'DELETE FROM {table} WHERE {column} IN ({CITY_USERS})')
    op.execute("DELETE FROM staff_user WHERE role = 'CITY'")
    with op.batch_alter_table('staff_user') as batch:
        batch.drop_constraint('fk_staff_user_hall_id', type_='foreignkey')
        batch.drop_index(batch.f('ix_staff_user_hall_id'))
        batch.drop_column('hall_id')
