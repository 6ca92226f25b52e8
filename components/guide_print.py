"""The printable guide of one service (纸质版简化指南, `/guide/{code}/print`): plain HTML, no NiceGUI client.

Large type for the checklist, the steps in order with their deadlines, the hours, and a QR code back to
the online guide with the same answers. Print CSS fits it on A4; a relative can print it for a parent.
Everything from the catalogue or the link is escaped: the page holds no markup it did not write.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from urllib.parse import quote, urlencode

from app.services import guide, materials
from app.services.errors import DomainError
from app.services.hall_hours import CLOSE_HOUR, OPEN_HOUR
from components import guide_texts as _texts  # noqa: F401 - registers the texts
from components.guide_screen import deadline
from components.hours_texts import hours_text
from components.kiosk_texts import pick
from components.kiosk_ticket import qr_data_uri
from components.texts import error_text, t

PRINT_CSS = """
@page { size: A4; margin: 14mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; color: #111;
       background: #fff; font-size: 20px; line-height: 1.5; max-width: 960px; margin: 0 auto; padding: 16px; }
h1 { font-size: 34px; line-height: 1.3; margin: 0 0 4px; }
h2 { font-size: 26px; margin: 28px 0 8px; border-bottom: 3px solid #111; padding-bottom: 4px; }
.muted { color: #333; }
.bring { list-style: none; padding: 0; margin: 0; }
.bring li { font-size: 28px; font-weight: 700; line-height: 1.4; padding: 6px 0 6px 48px; position: relative; }
.bring li::before { content: ""; position: absolute; left: 0; top: 12px; width: 30px; height: 30px;
                    border: 3px solid #111; }
.bring .when { display: block; font-size: 20px; font-weight: 400; }
.steps { padding-left: 1.6em; margin: 0; }
.steps li { font-size: 24px; line-height: 1.4; padding: 4px 0; }
.steps .due { font-size: 20px; color: #333; }
.qr { display: flex; gap: 16px; align-items: center; margin-top: 28px; }
.qr img { width: 160px; height: 160px; }
.url { word-break: break-all; }
.print { min-height: 48px; padding: 0 24px; font-size: 20px; border: 2px solid #0b3d78; background: #0b3d78;
         color: #fff; border-radius: 8px; cursor: pointer; }
@media print { .print { display: none; } body { padding: 0; max-width: none; } h2 { break-after: avoid; }
               li { break-inside: avoid; } }
"""

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head><body><main>
{body}
</main></body></html>"""


def print_page(shown: guide.Guide, *, guide_url: str, lang: str, problem: DomainError | None = None) -> str:
    """The whole page; `guide_url` (absolute, ASCII) is what the QR code opens."""
    entry = shown.entry
    name = pick(entry.name, entry.name_en)
    parts = [
        f'<h1 data-testid="print-name">{escape(name)}</h1>',
        f'<p class="muted">{escape(pick(entry.department.name, entry.department.name_en))} · '
        f'{escape(t("guide.print"))}</p>',
        f'<button type="button" class="print" onclick="window.print()">{escape(t("guide.print.button"))}</button>',
    ]
    if problem is not None:
        parts.append(f'<p role="alert" data-testid="print-error">{escape(error_text(problem))}</p>')
    parts += _bring(shown.checklist, shown.exempt)
    parts += _steps(shown.stages)
    parts += _hours(shown)
    parts.append(
        f'<div class="qr"><img src="{qr_data_uri(guide_url)}" alt="{escape(t("guide.print.qr"))}" '
        f'data-testid="print-qr"><p>{escape(t("guide.print.qr"))}<br>'
        f'<span class="muted url">{escape(guide_url)}</span></p></div>'
    )
    return PAGE.format(
        lang='en' if lang == 'en' else 'zh-CN',
        title=escape(f'{name} · {t("guide.print")}'),
        css=PRINT_CSS,
        body='\n'.join(parts),
    )


def guide_link(base_url: str, code: str, answers: Mapping[str, str]) -> str:
    """The online guide with the same answers (ASCII: the QR code is read by every phone camera)."""
    query = f'?{urlencode(answers)}' if answers else ''
    return f'{base_url}/guide/{quote(code, safe="")}{query}'


def _bring(checklist: materials.Checklist, exempt: frozenset[str]) -> list[str]:
    lines = [f'<h2>{escape(t("guide.materials"))}</h2>']
    if not checklist.items:
        return [*lines, f'<p>{escape(t("guide.materials.none"))}</p>']
    items = []
    for item in checklist.items:
        notes = []
        if item.need != materials.Need.REQUIRED:
            labels = '」或「'.join(pick(zh, en) for zh, en in zip(item.because, item.because_en, strict=True))
            notes.append(t('guide.materials.depends', labels=labels))
        if item.name in exempt:
            notes.append(t('guide.materials.data'))
        when = ''.join(f'<span class="when">{escape(note)}</span>' for note in notes)
        items.append(f'<li>{escape(pick(item.name, item.name_en))}{when}</li>')
    lines.append(f'<ul class="bring" data-testid="print-bring">{"".join(items)}</ul>')
    if checklist.unanswered:
        questions = '；'.join(pick(q.text, q.text_en) for q in checklist.unanswered)
        lines.append(f'<p class="muted">{escape(t("guide.print.unanswered", questions=questions))}</p>')
    return lines


def _steps(stages: tuple[guide.Stage, ...]) -> list[str]:
    items = []
    for stage in stages:
        names = '、'.join(step.name for step in stage.steps)
        dues = {deadline(step) for step in stage.steps} - {''}
        due = f' <span class="due">（{escape("、".join(sorted(dues)))}）</span>' if dues else ''
        items.append(f'<li>{escape(names)}{due}</li>')
    return [
        f'<h2>{escape(t("guide.steps"))}</h2>',
        f'<ol class="steps" data-testid="print-steps">{"".join(items)}</ol>',
    ]


def _hours(shown: guide.Guide) -> list[str]:
    lines = [
        f'<h2>{escape(t("guide.print.hours"))}</h2>',
        f'<p>{escape(t("guide.print.hall_hours", open=OPEN_HOUR, close=CLOSE_HOUR))}</p>',
    ]
    for window in shown.windows:
        lines.append(f'<p>{escape(window.name)}：{escape(hours_text(window.hours))}</p>')
    return lines
