"""rating pads (评价器): a device kind at every window

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 23:00:00.000000

PostgreSQL keeps device kinds in the enum type `devicekind`, which learns the new value; SQLite stores
the name as text and needs nothing. A downgrade removes the pads with their pairing and history (the
older code cannot read a row of a kind it does not know) and leaves the value in the type, since
PostgreSQL cannot drop an enum value.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.execute("ALTER TYPE devicekind ADD VALUE IF NOT EXISTS 'RATING_PAD'")


def downgrade() -> None:
    pads = "SELECT id FROM device WHERE kind = 'RATING_PAD'"
    for table in ('kiosk_screen_credential', 'kiosk_pairing_code', 'device_event'):
        op.execute(f'DELETE FROM {table} WHERE device_id IN ({pads})')
    op.execute("DELETE FROM device WHERE kind = 'RATING_PAD'")
