"""纸质版简化指南: the few lines a printed slip or page carries for a citizen who goes by paper.

What to bring (the checklist the kiosk and /guide use, with the answers given) and the steps still ahead
(the service's workflow as cases run it, one line per stage, parallel departments on one line). Large
type is the printer's or the page's job; these are only the words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.models.hall import ServiceItem
from app.services import materials, workflow

WAIT_STEP = '等候叫号，到窗口{hint}'  # the first step after taking a number


@dataclass(frozen=True)
class PaperGuide:
    bring: tuple[str, ...]  # one material per line; undecided ones say when they are needed
    steps: tuple[str, ...]  # one stage per line, in order


def bring_lines(checklist: materials.Checklist) -> tuple[str, ...]:
    lines = []
    for item in checklist.items:
        if item.need == materials.Need.REQUIRED:
            lines.append(item.name)
        else:
            lines.append(f'{item.name}（如是「{"」或「".join(item.because)}」）')
    return tuple(lines)


def stage_lines(service: ServiceItem) -> tuple[str, ...]:
    nodes = (
        workflow.parse_workflow(service.workflow)
        if service.workflow
        else workflow.default_workflow(service.name, service.sla_days)
    )
    stages: dict[int, list[str]] = {}
    for node in nodes:
        stages.setdefault(node.stage, []).append(node.name)
    return tuple('、'.join(names) for _, names in sorted(stages.items()))


def paper_guide(service: ServiceItem, answers: Mapping[str, str], *, window_hint: str = '') -> PaperGuide:
    """The guide for a ticket just taken: the checklist for these answers, then waiting, then the workflow."""
    wait = WAIT_STEP.format(hint=f'（{window_hint}）' if window_hint else '')
    checklist = materials.checklist(service, materials.known_answers(service, answers))
    return PaperGuide(bring_lines(checklist), (wait, *stage_lines(service)))
