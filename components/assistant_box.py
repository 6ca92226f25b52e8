"""智能导服 on /guide: a citizen asks in their own words; the best service is shown with why it was chosen, what to
bring (for what the words already answered), the steps, today's wait and the quiet times, and the taps on:
book a quiet slot, take a number remotely, or the full guide. Nothing fitting says so and offers the phone.

Every answer comes from the assistant service (app/services/assistant.py) and the guide it reuses; this box
only draws them, as text (never markup: a question is the citizen's, echoed back only inside a label).
"""

from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from nicegui import ui

from app.services import guide, materials
from app.services.assistant import MAX_QUESTION_CHARS, Answer, AssistantService, Reply
from app.services.errors import DomainError
from app.services.hall_hours import CLOSE_HOUR, OPEN_HOUR
from app.services.principal import Principal
from components import assistant_texts as _texts  # noqa: F401 - registers the texts
from components import guide_texts as _guide_texts  # noqa: F401 - the live wait's texts
from components.assistant_texts import FIELDS
from components.guide_screen import book_path
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import error_text, t


def reasons_text(answer: Answer) -> str:
    """「奶茶店」即「个体工商户」（事项名称）, 「社保卡」（事项名称）: the words that chose this service."""
    parts = []
    for reason in answer.why:
        field = pick(*FIELDS.get(reason.field, (reason.field, reason.field)))
        key = 'assistant.why.same' if reason.word == reason.term else 'assistant.why.via'
        parts.append(t(key, word=reason.word, term=reason.term, field=field))
    return f'{t("assistant.why")}：' + '、'.join(parts) if parts else ''


def handoff_lines(reply: Reply) -> list[str]:
    """Nothing fits: say so, where to go when the hall knows, and the phone."""
    lines = [t('assistant.none')]
    if reply.elsewhere:
        lines.append(t('assistant.elsewhere', where=pick(reply.elsewhere, reply.elsewhere_en)))
    if reply.phone:
        label = pick(reply.phone_label, reply.phone_label_en)
        lines.append(
            t('assistant.phone', phone=reply.phone, label=label)
            if label
            else t('assistant.phone.plain', phone=reply.phone)
        )
    return lines


class AssistantBox:
    def __init__(self, assistant: AssistantService, caller: Principal, *, tz: ZoneInfo) -> None:
        self.assistant = assistant
        self.caller = caller
        self.tz = tz

    def build(self) -> None:
        with tid(ui.card(), 'assistant-box').classes('w-full p-3 gap-2 no-shadow border border-primary'):
            with ui.row().classes('items-center gap-2'):
                ui.icon('support_agent').classes('text-primary text-xl')
                ui.label(t('assistant.title')).classes('text-lg font-bold')
            ui.label(t('assistant.hint')).classes('text-sm text-grey-8')
            with ui.row().classes('w-full items-center gap-2 no-wrap'):
                self.question = tid(ui.input(placeholder=t('assistant.placeholder')), 'assistant-question')
                self.question.props(f'outlined dense maxlength={MAX_QUESTION_CHARS} input-class=text-base')
                self.question.classes('flex-grow')
                self.question.on('keydown.enter', self.ask)
                asking = tid(ui.button(t('assistant.ask'), on_click=self.ask), 'assistant-ask')
                asking.props('unelevated no-wrap').classes('shrink-0')
            self.area = ui.column().classes('w-full gap-2')

    async def ask(self) -> None:
        self.area.clear()
        try:
            reply = await self.assistant.ask(str(self.question.value or ''), caller=self.caller)
            shown = await self.assistant.guide(reply.answers[0]) if reply.answers else None
        except DomainError as failure:
            with self.area:
                tid(ui.label(error_text(failure)), 'assistant-error').classes('text-negative')
            return
        with self.area:
            if shown is None:
                self._handoff(reply)
                return
            quiet = self._best(reply.answers[0], shown)
            if len(reply.answers) > 1:
                ui.label(t('assistant.others')).classes('text-sm text-grey-7')
                for other in reply.answers[1:]:
                    _other(other)
        await self._quiet(quiet, reply.answers[0], shown)

    def _handoff(self, reply: Reply) -> None:
        with tid(ui.column(), 'assistant-handoff').classes('w-full gap-1 bg-amber-1 rounded p-2'):
            for line in handoff_lines(reply):
                ui.label(line).classes('text-base')
            if reply.phone:
                link = ui.link(t('assistant.human'), f'tel:{reply.phone}')
                tid(link, 'assistant-call').classes('text-base font-bold')

    def _best(self, answer: Answer, shown: guide.Guide) -> ui.column:
        """The best answer; returns where its quiet hours go once they are known."""
        with tid(ui.column(), f'assistant-answer-{answer.code}').classes('w-full gap-2'):
            ui.label(t('assistant.best')).classes('text-xs text-grey-7')
            ui.label(pick(answer.name, answer.name_en)).classes('text-lg font-bold text-primary leading-tight')
            tid(ui.label(reasons_text(answer)), 'assistant-why').classes('text-sm text-grey-8')
            for question in shown.questions:
                option = question.option(answer.answers.get(question.code, ''))
                if option is not None:
                    ui.label(t('assistant.answered', label=pick(option.label, option.label_en))).classes(
                        'text-xs text-positive'
                    )
            ui.label(_wait_text(shown)).classes('text-sm bg-blue-1 rounded px-2 py-1')
            self._materials(shown.checklist)
            ui.label(t('assistant.steps')).classes('font-bold')
            ui.label(' → '.join('＋'.join(step.name for step in stage.steps) for stage in shown.stages)).classes(
                'text-sm'
            )
            quiet = ui.column().classes('w-full gap-2')
            self._ways_on(answer)
        return quiet

    def _materials(self, checklist: materials.Checklist) -> None:
        ui.label(t('assistant.materials')).classes('font-bold')
        with tid(ui.column(), 'assistant-materials').classes('w-full gap-0'):
            for item in checklist.items:
                required = item.need == materials.Need.REQUIRED
                mark = '✔' if required else '？'
                ui.label(f'{mark} {pick(item.name, item.name_en)}').classes('text-sm')

    async def _quiet(self, place: ui.column, answer: Answer, shown: guide.Guide) -> None:
        """The three quietest coming hours, each a booking link (unless a newer question cleared the answer)."""
        waits = await self.assistant.expected_waits(shown)
        quiet = [hour.book_at for day in waits for hour in day.hours if hour.quiet and hour.book_at][:3]
        if not quiet or place.is_deleted:
            return
        with place:
            ui.label(t('assistant.quiet')).classes('font-bold')
            with ui.row().classes('gap-2'):
                for book_at in quiet:
                    local = book_at.astimezone(self.tz)
                    link = ui.link(
                        t('assistant.book', time=local.strftime('%m-%d %H:%M')), book_path(answer.code, book_at)
                    )
                    tid(link, f'assistant-book-{local.strftime("%m%d-%H")}').classes(
                        'text-sm px-2 py-1 rounded border border-primary no-underline'
                    )

    def _ways_on(self, answer: Answer) -> None:
        query = f'?{urlencode(answer.answers)}' if answer.answers else ''
        with ui.row().classes('gap-3'):
            tid(ui.link(t('assistant.full'), f'/guide/{answer.code}{query}'), 'assistant-full').classes('text-sm')
            tid(ui.link(t('assistant.remote'), '/me'), 'assistant-remote').classes('text-sm')


def _other(answer: Answer) -> None:
    with (
        tid(ui.link(target=f'/guide/{answer.code}'), f'assistant-other-{answer.code}').classes(
            'w-full no-underline text-inherit'
        ),
        ui.card().classes('w-full p-2 gap-0 no-shadow border'),
    ):
        ui.label(pick(answer.name, answer.name_en)).classes('text-base font-bold text-primary')
        ui.label(reasons_text(answer)).classes('text-xs text-grey-8')


def _wait_text(shown: guide.Guide) -> str:
    """Today's wait as /guide says it (the guide's own texts)."""
    wait = shown.live_wait_minutes
    if not shown.hall_open:
        return t('guide.live.closed', open=OPEN_HOUR, close=CLOSE_HOUR)
    if wait is None:
        return t('guide.live.none')
    return t('guide.live.now') if wait < 1 else t('guide.live', n=round(wait))
