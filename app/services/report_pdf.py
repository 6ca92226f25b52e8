"""The monthly report as a PDF (reportlab): the hall's figures, the anomalies, the 考核 tables with a bar chart of
the window scores, and every department, window and staff figure.

Chinese needs a CJK font: reportlab's built-in CID font STSong-Light draws it without any font file. It is not
embedded, and some viewers (ghostscript, for one) substitute a font without its Latin half, so runs of ASCII
(digits, English, percentages) are set in Helvetica, which every viewer has. The charts are reportlab
drawings, so no browser or image exporter is needed.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.services.report_indicators import BY_CODE, change_shown, shown

FONT = 'STSong-Light'
LATIN = 'Helvetica'
ASCII_RUN = re.compile(r'[\x20-\x7e]+')
SUBSTITUTES = str.maketrans({'—': '-'})  # the no-data dash: not every viewer's stand-in CJK font has it
SCOPE_TITLES = {'department': '部门 / Departments', 'window': '窗口 / Windows', 'staff': '工作人员 / Staff'}


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def mixed(text: str) -> str:
    """Paragraph markup of `text`: ASCII runs in Helvetica, the rest in the CJK font; markup characters escaped."""
    plain = text.translate(SUBSTITUTES)
    return ASCII_RUN.sub(lambda run: f'<font name="{LATIN}">{escape(run.group())}</font>', plain)


CELL = ParagraphStyle('cell', fontName=FONT, fontSize=8, leading=10)


def _table(rows: Sequence[Sequence[str]], widths: Sequence[float] | None = None) -> Table:
    cells = [[Paragraph(mixed(cell), CELL) for cell in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ('BACKGROUND', (0, 0), (-1, 0), colors.HexColor('#e8eef7')),
                ('GRID', (0, 0), (-1, -1), 0.25, colors.grey),
                ('VALIGN', (0, 0), (-1, -1), 'MIDDLE'),
            ]
        )
    )
    return table


def _figures_table(row: Mapping[str, Any]) -> Table:
    lines = [['指标 Indicator', '本月 Value', '环比 Change', '样本 n', '异常 Anomaly']]
    for code, figure in row['figures'].items():
        flag = '是 yes' if figure.get('anomaly') else ''
        lines.append(
            [
                BY_CODE[code].label,
                shown(code, figure['value']),
                change_shown(code, figure.get('change')),
                str(figure['n']),
                flag,
            ]
        )
    return _table(lines, [62 * mm, 28 * mm, 28 * mm, 18 * mm, 24 * mm])


def _label(right: float, y: float, text: str, size: float = 7) -> Group:
    """A right-aligned chart label in runs: ASCII in Helvetica, the rest in the CJK font (as `mixed` does)."""
    runs = [(part, LATIN if ASCII_RUN.fullmatch(part) else FONT) for part in re.split(r'([\x20-\x7e]+)', text) if part]
    x = right - sum(pdfmetrics.stringWidth(part, font, size) for part, font in runs)
    group = Group()
    for part, font in runs:
        group.add(String(x, y, part, fontName=font, fontSize=size))
        x += pdfmetrics.stringWidth(part, font, size)
    return group


def _score_chart(table: Sequence[Mapping[str, Any]]) -> Drawing:
    """Window scores as horizontal bars, best on top; names drawn beside them (chart labels take one font only)."""
    scored = [row for row in table if row['score'] is not None][:12]
    drawing = Drawing(170 * mm, max(30, 9 * len(scored) + 20))
    chart = HorizontalBarChart()
    chart.x, chart.y = 30 * mm, 10
    chart.width, chart.height = 130 * mm, max(10, 9 * len(scored))
    bottom_up = list(reversed(scored))
    chart.data = [[row['score'] for row in bottom_up] or [0]]
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, 100
    chart.categoryAxis.categoryNames = ['' for _ in bottom_up] or ['']
    chart.valueAxis.labels.fontName = LATIN
    chart.bars[0].fillColor = colors.HexColor('#1976d2')
    drawing.add(chart)
    step = chart.height / max(1, len(bottom_up))
    for index, row in enumerate(bottom_up):
        drawing.add(_label(chart.x - 3, chart.y + (index + 0.5) * step - 2.5, row['name']))
    return drawing


def pdf_bytes(figures: Mapping[str, Any], *, hall_name: str, generated_at: dt.datetime) -> bytes:
    font = _font()
    title = ParagraphStyle('title', fontName=font, fontSize=16, leading=20, spaceAfter=6)
    heading = ParagraphStyle('heading', fontName=font, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle('body', fontName=font, fontSize=9, leading=12)
    story: list[Flowable] = [
        Paragraph(mixed(f'{hall_name} 每月监测报告 / Monthly report {figures["month"]}'), title),
        Paragraph(mixed(f'生成于 Generated {generated_at:%Y-%m-%d %H:%M} UTC'), body),
        Paragraph(mixed('全厅指标 / Hall'), heading),
        _figures_table(figures['scopes']['hall'][0]),
        Paragraph(
            mixed('异常 / Anomalies (p 图或单值控制图, 3 sigma / p-chart or individuals chart, 3 sigma)'), heading
        ),
    ]
    anomalies = figures['anomalies']
    if anomalies:
        lines = [['范围 Scope', '名称 Name', '指标 Indicator', '本月 Value', '控制限 Limits']]
        for item in anomalies:
            code = item['indicator']
            limits = f'{shown(code, item["low"])} – {shown(code, item["high"])}'
            lines.append(
                [item['scope'], item['name'] or '全厅', BY_CODE[code].label, shown(code, item['value']), limits]
            )
        story.append(_table(lines))
    else:
        story.append(Paragraph(mixed('本月没有超出控制限的指标 / Nothing outside its control limits this month'), body))
    assessment = figures['assessment']
    story.append(Paragraph(mixed('考核 / Assessment: 窗口得分 Window scores'), heading))
    story.append(_score_chart(assessment['windows']))
    for label, table in (('窗口 Window', assessment['windows']), ('部门 Department', assessment['departments'])):
        lines = [[label, '得分 Score']] + [
            [row['name'], '—' if row['score'] is None else f'{row["score"]:.1f}'] for row in table
        ]
        story.append(_table(lines, [80 * mm, 30 * mm]))
        story.append(Spacer(1, 4))
    story.append(Paragraph(mixed('跨部门办件时长 / Cross-department case time'), heading))
    lines = [['部门 Department', '小时 Hours', '占比 Share', '超期环节 Overdue steps']]
    for row in assessment['case_time']:
        share = '—' if row['share'] is None else f'{row["share"] * 100:.1f}%'
        lines.append(
            [row['name'], f'{row["hours"]:.1f}', share, f'{row["overdue_steps"]}' + (' 超期' if row['overdue'] else '')]
        )
    story.append(_table(lines))
    for scope, scope_title in SCOPE_TITLES.items():
        story.append(Paragraph(mixed(scope_title), heading))
        for row in figures['scopes'][scope]:
            story.append(Paragraph(mixed(row['name']), body))
            story.append(_figures_table(row))
            story.append(Spacer(1, 4))
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=A4, title=f'Monthly report {figures["month"]}', leftMargin=15 * mm, rightMargin=15 * mm
    )
    document.build(story)
    return out.getvalue()
