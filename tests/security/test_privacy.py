"""Every stored column is classified, sensitive data is never stored in clear, and docs/privacy.md matches."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import SQLModel

from app.models.fields import Sensitivity
from app.privacy import field_inventory, protection_for, render_markdown

DOC = Path(__file__).resolve().parents[2] / 'docs' / 'privacy.md'
LEVELS = {level.value for level in Sensitivity}


def test_every_column_of_every_table_declares_a_valid_sensitivity() -> None:
    unclassified = [
        f'{table.name}.{column.name}={column.info.get("sensitivity")!r}'
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
        if column.info.get('sensitivity') not in LEVELS
    ]
    assert not unclassified, f'declare a sensitivity (app/models/fields.py) for: {", ".join(unclassified)}'


def test_inventory_lists_every_column_once() -> None:
    listed = [(entry.table, entry.column) for entry in field_inventory()]
    expected = [(t.name, c.name) for t in SQLModel.metadata.tables.values() for c in t.columns]
    assert sorted(listed) == sorted(expected)
    assert len(set(listed)) == len(listed)


def test_sensitive_personal_columns_are_only_stored_encrypted_or_hashed() -> None:
    in_clear = [
        f'{e.table}.{e.column}'
        for e in field_inventory()
        if e.sensitivity == Sensitivity.SENSITIVE.value and not e.column.endswith(('_enc', '_hash'))
    ]
    assert not in_clear, f'sensitive-personal columns must be *_enc or *_hash: {in_clear}'
    assert not [e for e in field_inventory() if e.protection.startswith('VIOLATION')]


def test_known_columns_are_described_as_protected() -> None:
    entries = {(e.table, e.column): e for e in field_inventory()}
    assert entries[('citizen', 'id_number_enc')].sensitivity == 'sensitive-personal'
    assert 'AES-GCM' in entries[('citizen', 'id_number_enc')].protection
    assert 'HMAC' in entries[('citizen', 'id_number_hash')].protection
    assert 'AES-GCM' in entries[('face_encoding', 'encoding_enc')].protection
    assert protection_for('nonsense', 'x').startswith('VIOLATION')
    assert protection_for('sensitive-personal', 'id_number').startswith('VIOLATION')


def test_rendered_document_explains_levels_law_and_face_rules() -> None:
    text = render_markdown()
    for phrase in ('public', 'internal', 'personal', 'sensitive-personal', 'GB/T 35273', 'PIPL', '单独同意', '2025'):
        assert phrase in text
    assert text.endswith('\n')


def test_docs_privacy_md_is_the_generated_inventory() -> None:
    expected = render_markdown()
    actual = DOC.read_text(encoding='utf-8') if DOC.exists() else ''
    assert actual == expected, 'docs/privacy.md is out of date: run `python -m app.privacy > docs/privacy.md`'
