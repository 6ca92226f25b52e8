"""The 好差评 form: one big button per level of the configured scale, tags that fit the level, a comment.

Large touch targets and plain words: it is used on phones, often by older citizens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from nicegui import ui

from app.services.evaluation import NEGATIVE_TAGS, POSITIVE_TAGS, TEXT_LIMIT, Level
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import t

Submit = Callable[[str, list[str], str], Awaitable[None]]
LEVEL_COLOURS = {
    'very_good': 'positive',
    'good': 'positive',
    'basic': 'primary',
    'bad': 'orange-9',
    'very_bad': 'negative',
}


class EvaluationForm:
    def __init__(self, scale: Sequence[Level], on_submit: Submit) -> None:
        self.scale = list(scale)
        self.on_submit = on_submit
        self.level: Level | None = None
        self.tags: set[str] = set()
        with tid(ui.column(), 'rate-form').classes('w-full gap-3'):
            ui.label(t('eval.title')).classes('text-base font-bold')
            with ui.column().classes('w-full gap-2'):
                self.buttons = {
                    level.code: tid(
                        ui.button(level.label, on_click=lambda lv=level: self.choose(lv)), f'rate-level-{level.code}'
                    )
                    .classes('w-full text-lg')
                    .props(f'outline no-caps size=lg color={LEVEL_COLOURS.get(level.code, "primary")}')
                    for level in self.scale
                }
            self.tag_label = ui.label(t('eval.tags')).classes('text-sm text-grey-8')
            self.tag_row = ui.row().classes('w-full gap-2')
            self.comment = tid(ui.textarea(t('eval.comment')), 'rate-comment').classes('w-full')
            self.comment.props(f'outlined autogrow maxlength={TEXT_LIMIT} counter')
            self.error = tid(ui.label(), 'rate-error').classes('text-negative text-sm')
            self.submit = tid(ui.button(t('eval.submit'), on_click=self.send), 'rate-submit')
            self.submit.classes('w-full').props('size=lg unelevated')
        self._draw_tags()

    def choose(self, level: Level) -> None:
        was_satisfied = self.level.satisfied if self.level else None
        self.level = level
        for code, button in self.buttons.items():
            button.props(remove='outline unelevated')
            button.props('unelevated' if code == level.code else 'outline')
        if was_satisfied != level.satisfied:
            self.tags.clear()
            self._draw_tags()
        self.error.set_text('')

    def _draw_tags(self) -> None:
        self.tag_row.clear()
        tags = POSITIVE_TAGS if self.level is None or self.level.satisfied else NEGATIVE_TAGS
        with self.tag_row:
            for tag in tags:
                chip = tid(ui.chip(tag, color='grey-3', text_color='grey-9'), f'rate-tag-{tag}')
                chip.on_click(lambda name=tag, c=chip: self._toggle(name, c))

    def _toggle(self, tag: str, chip: ui.chip) -> None:
        """Our own toggle (not Quasar's `selectable`), so what is shown and what is sent always agree."""
        if tag in self.tags:
            self.tags.discard(tag)
            chip.props(remove='icon').props('color=grey-3 text-color=grey-9')
        else:
            self.tags.add(tag)
            chip.props('color=primary text-color=white icon=check')

    async def send(self) -> None:
        if self.level is None:
            self.error.set_text(t('eval.pick_level'))
            return
        self.submit.disable()
        try:
            await self.on_submit(self.level.code, sorted(self.tags), self.comment.value or '')
        finally:
            if not self.submit.is_deleted:  # a successful rating replaces the form
                self.submit.enable()
