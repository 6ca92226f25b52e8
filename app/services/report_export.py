"""The monthly report as a CSV file: one row per figure, then the 考核 scores and the case-time shares.

Columns: scope, name, indicator code, its label, value, n (a rate's trials or a mean's sample; a department's
steps for case time), change against the month before, the control limits and the anomaly flag (for case
time: the department is overdue). UTF-8 with a BOM so spreadsheets read the Chinese; formula-like cells
neutralised (app/services/audit_browser.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

from app.services.audit_browser import neutralised
from app.services.report_indicators import BY_CODE

HEADER = ('scope', 'name', 'indicator', 'label', 'value', 'n', 'change', 'low', 'high', 'anomaly')
SCORE = ('score', '考核得分 / score')
CASE_SHARE = ('case_time_share', '跨部门办件时长占比 / share of cross-department case time')


def _cell(value: Any) -> str:
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'yes' if value else ''
    if isinstance(value, float):
        return f'{value:.6g}'
    return str(value)


def figure_rows(figures: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
    """The report's rows in CSV order (also what the PDF tabulates)."""
    for scope, rows in figures['scopes'].items():
        for row in rows:
            for code, figure in row['figures'].items():
                limits = figure.get('limits') or {}
                yield (
                    scope,
                    row['name'],
                    code,
                    f'{BY_CODE[code].label} / {BY_CODE[code].label_en}',
                    figure['value'],
                    figure['n'],
                    figure.get('change'),
                    limits.get('low'),
                    limits.get('high'),
                    figure.get('anomaly', False),
                )
    assessment = figures['assessment']
    for scope, table in (('window', assessment['windows']), ('department', assessment['departments'])):
        for row in table:
            yield (scope, row['name'], *SCORE, row['score'], None, None, None, None, False)
    for row in assessment['case_time']:
        yield ('department', row['name'], *CASE_SHARE, row['share'], row['steps'], None, None, None, row['overdue'])


def csv_bytes(figures: Mapping[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\r\n')
    writer.writerow(HEADER)
    for row in figure_rows(figures):
        writer.writerow([neutralised(_cell(cell)) for cell in row])
    return out.getvalue().encode('utf-8-sig')
