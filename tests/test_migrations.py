"""Migrations: the models and the migration scripts agree, and upgrading keeps every row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.migrate import alembic_config, upgrade


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    url = f'sqlite+aiosqlite:///{tmp_path / "m.db"}'
    upgrade(url)
    engine = create_engine(f'sqlite:///{tmp_path / "m.db"}')
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f'models changed without a migration: {diff}'


def test_upgrade_from_the_first_schema_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / 'old.db'
    url = f'sqlite+aiosqlite:///{path}'
    command.upgrade(alembic_config(url), '0001')
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO hall (code, name, name_en, width, height) VALUES ('main', '大厅', 'Hall', 10, 10)")
        db.execute("INSERT INTO department (code, name, name_en) VALUES ('D', '局', 'Dept')")
        db.execute(
            'INSERT INTO service_item (code, name, name_en, description, ticket_prefix, sla_days, '
            'avg_handling_minutes, queue_alert_threshold, materials, department_id) '
            "VALUES ('S', '事项', 'Item', '', 'A', 5, 10, 15, '[]', 1)"
        )
    upgrade(url)
    upgrade(url)
    with sqlite3.connect(path) as db:
        assert db.execute('SELECT code, questions, workflow FROM service_item').fetchall() == [('S', '[]', '[]')]
        assert db.execute('SELECT name, prompts FROM hall').fetchall() == [('大厅', '{}')]
        assert db.execute('SELECT version_num FROM alembic_version').fetchone()[0] != '0001'


def test_upgrade_keeps_the_newest_of_duplicate_open_alerts(tmp_path: Path) -> None:
    """0005 makes open alerts unique per key; older duplicates (two processes raised one) are resolved first."""
    path = tmp_path / 'alerts.db'
    url = f'sqlite+aiosqlite:///{path}'
    command.upgrade(alembic_config(url), '0004')
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO hall (code, name, name_en, width, height) VALUES ('main', '大厅', 'Hall', 10, 10)")
        for raised in ('2026-06-03 09:00:00', '2026-06-03 09:00:01'):
            db.execute(
                'INSERT INTO alert (kind, severity, target, message, hall_id, key, raised_at) '
                "VALUES ('help', 'critical', 'K01', 'help', 1, 'help:K01', ?)",
                (raised,),
            )
    upgrade(url)
    with sqlite3.connect(path) as db:
        rows = db.execute('SELECT id, resolved_at FROM alert ORDER BY id').fetchall()
        assert rows == [(1, '2026-06-03 09:00:00'), (2, None)]
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(
                'INSERT INTO alert (kind, severity, target, message, hall_id, key, raised_at) '
                "VALUES ('help', 'critical', 'K01', 'help', 1, 'help:K01', '2026-06-03 09:01:00')"
            )
