"""The docs cannot drift from the code: settings, the docs index and the API's error codes are read at test time.

Each test reads README.md, docs/ and the source as they are when it runs, so a setting or an error code added
anywhere (by any branch) fails here until its documentation row exists, and a documented one that is gone
fails too.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from app.services.error_texts import ERROR_TEXTS
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / 'README.md'
API_DOC = ROOT / 'docs' / 'api.md'
ERROR_CLASSES = {
    'DomainError',
    'NotFound',
    'Conflict',
    'Invalid',
    'Unauthorized',
    'Forbidden',
    'Locked',
    'StorageUnavailable',
    'TooManyRequests',
}
_ROW_NAMES = re.compile(r'`([A-Z][A-Z0-9_]+)`')
_BACKTICKED = re.compile(r'`([^`]+)`')
_STATUS_CODE = re.compile(r'`[1-5]\d\d ([a-z][a-z0-9_]+)`')


@dataclass(frozen=True)
class Row:
    default: str  # the default cell, or its one backticked value
    literal: bool  # the cell is just the value (`64`), not a description (*(empty)*, `$VAR_DIR/...`)


def settings_rows() -> dict[str, Row]:
    """README's configuration table: each variable named in a row's first cell -> its default."""
    section = README.read_text(encoding='utf-8').split('## Configuration', 1)[1].split('\n## ', 1)[0]
    rows: dict[str, Row] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if not line.startswith('|') or len(cells) < 3 or cells[0] in ('variable', '---'):
            continue
        names = _ROW_NAMES.findall(cells[0])
        values = _BACKTICKED.findall(cells[1])
        literal = len(values) == len(names) and re.fullmatch(r'(`[^`$]*`(, )?)+', cells[1]) is not None
        for index, name in enumerate(names):
            rows[name] = Row(values[index], True) if literal else Row(cells[1], False)
    return rows


def settings_fields() -> dict[str, object]:
    """Every environment variable `app/settings.py` reads -> its default (None when computed at start-up)."""
    fields: dict[str, object] = {}
    for field in Settings.model_fields.values():
        assert isinstance(field.validation_alias, str)
        fields[field.validation_alias] = None if field.default is PydanticUndefined else field.default
    return fields


def _same(documented: str, default: object) -> bool:
    if isinstance(default, str):
        return documented == default
    if isinstance(default, int | float):
        try:
            return float(documented) == float(default)
        except ValueError:
            return False
    return False


def _described(documented: str, default: object) -> bool:
    """A described default belongs to an empty or computed setting, or names the folder a path default is."""
    if isinstance(default, Path):
        return f'`{default.relative_to(ROOT)}/`' in documented
    if isinstance(default, SecretStr):  # a secret setting (SMS_ACCESS_KEY_SECRET, SMTP_URL) is empty by default
        return default.get_secret_value() == ''
    return default in ('', None)


def test_every_setting_has_a_readme_row_and_every_row_is_a_setting() -> None:
    rows, fields = settings_rows(), settings_fields()
    assert sorted(set(fields) - set(rows)) == [], 'settings without a README row'
    assert sorted(set(rows) - set(fields)) == [], 'README rows that app/settings.py does not read'


def test_readme_defaults_match_the_settings() -> None:
    rows, fields = settings_rows(), settings_fields()
    wrong = []
    for name, default in fields.items():
        row = rows.get(name)
        if row is None:
            continue
        if row.literal and not _same(row.default, default):
            wrong.append(f'{name}: README says {row.default!r}, app/settings.py has {default!r}')
        if not row.literal and not _described(row.default, default):
            wrong.append(f'{name}: README describes the default ({row.default!r}), app/settings.py has {default!r}')
    assert wrong == []


def test_every_file_in_docs_is_listed_in_the_readme_and_every_listed_file_exists() -> None:
    """The README's Documentation section is the index: a file only linked from a table row is not listed."""
    index = README.read_text(encoding='utf-8').split('## Documentation', 1)[1].split('\n## ', 1)[0]
    listed = set(re.findall(r'\]\((docs/[^)#]+)', index))
    present = {f'docs/{path.name}' for path in (ROOT / 'docs').iterdir() if path.is_file()}
    assert sorted(present - listed) == [], 'docs/ files the README does not list'
    assert sorted(listed - present) == [], 'README links to docs/ files that do not exist'


def _source_files() -> list[Path]:
    return sorted(path for folder in ('app', 'devices') for path in (ROOT / folder).rglob('*.py'))


def raised_codes() -> set[str]:
    """Codes passed literally to a domain error (`Invalid('reason_required')`), and the keys used only as texts."""
    codes: set[str] = set()
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, 'attr', '')
            first = node.args[0]
            if name in ERROR_CLASSES and isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
    return codes


def text_only_keys() -> set[str]:
    """Registry keys passed only as `text=` (a message shared by several codes), never raised as a code."""
    keys: set[str] = set()
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.keyword) and node.arg == 'text' and isinstance(node.value, ast.Constant):
                keys.add(str(node.value.value))
    return keys - raised_codes()


def service_codes() -> set[str]:
    """Every code a client can receive: the registry's codes (not its `code.variant` texts) and any raised one."""
    registry = {key for key in ERROR_TEXTS if '.' not in key}
    return (registry - text_only_keys()) | raised_codes()


def documented_codes() -> set[str]:
    """Codes docs/api.md names: a table row's code cells after a status cell, and inline `404 unknown_service`."""
    text = API_DOC.read_text(encoding='utf-8')
    codes = set(_STATUS_CODE.findall(text))
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if line.startswith('|') and len(cells) >= 2 and re.fullmatch(r'[1-5]\d\d( \([^)]*\))?(, [1-5]\d\d)*', cells[0]):
            codes.update(_BACKTICKED.findall(cells[1]))
    return codes


def code_literals() -> set[str]:
    """Every string literal in the source: a documented code must be one of them to exist."""
    literals: set[str] = set(ERROR_TEXTS)
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
    return literals


def test_every_error_code_the_services_raise_is_in_the_api_doc() -> None:
    text = API_DOC.read_text(encoding='utf-8')
    assert sorted(code for code in service_codes() if f'`{code}`' not in text) == []


def test_every_error_code_the_api_doc_names_exists() -> None:
    assert sorted(documented_codes() - code_literals()) == []


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')


def _prose(path: Path) -> str:
    return re.sub(r'```.*?```', '', path.read_text(encoding='utf-8'), flags=re.S)


def test_every_link_between_the_docs_reaches_its_file_and_heading() -> None:
    pages = [README, *sorted((ROOT / 'docs').glob('*.md'))]
    anchors = {page.resolve(): {_slug(h) for h in re.findall(r'^#+ (.*)$', _prose(page), re.M)} for page in pages}
    broken = []
    for page in pages:
        for target in re.findall(r'\]\(([^)\s]+)\)', _prose(page)):
            if target.startswith(('http://', 'https://', 'mailto:')):
                continue
            path, _, anchor = target.partition('#')
            destination = (page.parent / path).resolve() if path else page.resolve()
            if not destination.exists():
                broken.append(f'{page.name}: {target} (no such file)')
            elif anchor and destination.suffix == '.md' and anchor not in anchors.get(destination, set()):
                broken.append(f'{page.name}: {target} (no such heading)')
    assert broken == []
