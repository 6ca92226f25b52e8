"""The guide's catalogue: a search box over every service, and the services browsed by department.

The catalogue is read once when the page opens (a few dozen rows); typing filters it in the page with
the guide's own search rule, so a keystroke costs no query.
"""

from __future__ import annotations

from collections.abc import Sequence

from nicegui import ui

from app.services import guide
from app.services.errors import DomainError
from components import guide_texts as _texts  # noqa: F401 - registers the texts
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import error_text, t


class GuideCatalogue:
    def __init__(self, entries: Sequence[guide.CatalogueEntry], *, query: str = '') -> None:
        self.entries = list(entries)
        self.query = query[: guide.MAX_QUERY_CHARS]

    def build(self) -> None:
        box = tid(ui.input(placeholder=t('guide.search'), value=self.query), 'guide-search')
        box.props('outlined dense clearable maxlength=64 input-class=text-base').classes('w-full')
        box.props('prepend-icon=search')
        box.on_value_change(lambda e: self._search(e.value or ''))
        self.area = ui.column().classes('w-full gap-2')
        self.results()

    def _search(self, query: str) -> None:
        self.query = query
        self.results()

    def results(self) -> None:
        self.area.clear()
        with self.area:
            self._results()

    def _results(self) -> None:
        if self.query.strip():
            try:
                found = guide.search(self.entries, self.query.strip())
            except DomainError as failure:
                tid(ui.label(error_text(failure)), 'guide-search-error').classes('text-negative')
                return
            ui.label(t('guide.results')).classes('text-sm text-grey-7')
            with tid(ui.column(), 'guide-results').classes('w-full gap-2'):
                if not found:
                    ui.label(t('guide.search.none')).classes('text-grey-7')
                for entry in found:
                    _service_link(entry)
            return
        ui.label(t('guide.departments')).classes('text-sm text-grey-7')
        with tid(ui.column(), 'guide-departments').classes('w-full gap-2'):
            for group in guide.by_department(self.entries):
                department = group.department
                title = f'{pick(department.name, department.name_en)}（{len(group.services)}）'
                with tid(ui.expansion(title), f'guide-dept-{department.code}').classes('w-full border rounded'):
                    for entry in group.services:
                        _service_link(entry)


def _service_link(entry: guide.CatalogueEntry) -> None:
    with (
        tid(ui.link(target=f'/guide/{entry.code}'), f'guide-service-{entry.code}').classes(
            'w-full no-underline text-inherit'
        ),
        ui.card().classes('w-full p-3 gap-1 no-shadow border'),
    ):
        ui.label(pick(entry.name, entry.name_en)).classes('text-base font-bold text-primary')
        if entry.description:
            ui.label(entry.description).classes('text-sm text-grey-8')
