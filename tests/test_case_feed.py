"""The cases relatives' light pages follow (twin/case_feed.py): one read and one text per change per scope, shared
by every page of the scope; other cases cost nothing; what a page is told is the case's steps, what is current and
what the citizen must still bring, and nothing personal."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from zoneinfo import ZoneInfo

from app.events import CaseStepChanged, ProxyChanged
from app.fanout import Subscriber
from app.models.cases import Case, CaseMaterial, CaseNode
from app.models.hall import ServiceItem
from app.services.case_views import CaseView
from twin.case_feed import CaseFeed, CaseScope

TZ = ZoneInfo('Asia/Shanghai')
AT = dt.datetime(2026, 12, 7, 1, 30)  # naive UTC, as SQLite hands it back: 09:30 in the hall


def view(case_id: int, *, ticket_id: int | None = 7, status: str = 'open', note: str = '') -> CaseView:
    case = Case(
        id=case_id, hall_id=1, code=f'CASE-{case_id}', service_id=1, ticket_id=ticket_id, status=status, created_at=AT
    )
    service = ServiceItem(
        code='SVC-A', name='户籍迁入', name_en='Residence transfer', ticket_prefix='A', department_id=3
    )
    returned = status == 'returned'
    nodes = [
        CaseNode(
            id=1, case_id=case_id, stage=0, kind='accept', name='受理', status='done', started_at=AT, finished_at=AT
        ),
        CaseNode(
            id=2,
            case_id=case_id,
            stage=1,
            kind='approve',
            name='审核',
            department_id=3,
            status='returned' if returned else 'active',
            started_at=AT,
            due_at=AT + dt.timedelta(days=2),
            note=note,
            actor='rv_police',
        ),
        CaseNode(id=3, case_id=case_id, stage=2, kind='pickup', name='领证', status='pending'),
    ]
    materials = [
        CaseMaterial(id=1, case_id=case_id, name='户口簿', status='required'),
        CaseMaterial(id=2, case_id=case_id, name='身份证', status='satisfied', source='police'),
    ]
    return CaseView(case, service, nodes, materials, {3: '公安局'}, [])


class Cases:
    """The case service's two reads, counted."""

    def __init__(self) -> None:
        self.views: dict[int, CaseView] = {5: view(5), 6: view(6, ticket_id=None)}
        self.reads = 0
        self.gate: asyncio.Event | None = None  # set: reads wait for it

    async def views_for_ticket(self, ticket_id: int) -> list[CaseView]:
        return [v for v in await self._all() if v.case.ticket_id == ticket_id]

    async def tracked_view(self, case_id: int) -> CaseView:
        return next(v for v in await self._all() if v.id == case_id)

    async def _all(self) -> list[CaseView]:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        return list(self.views.values())


def step(case_id: int, ticket_id: int | None) -> CaseStepChanged:
    return CaseStepChanged(
        hall_id=1, case_id=case_id, ticket_id=ticket_id, service_code='SVC-A', status='approved', case_status='open'
    )


def feed(cases: Cases, *, english: bool = False) -> CaseFeed:
    return CaseFeed(cases, tz=TZ, english=english)  # type: ignore[arg-type]


def texts(subscriber: Subscriber) -> list[dict[str, object]]:
    told = []
    while not subscriber.queue.empty():
        told.append(json.loads(subscriber.queue.get_nowait()))
    return told


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_every_page_of_a_scope_shares_one_read_and_one_text_per_change() -> None:
    cases = Cases()
    live = feed(cases)
    first = await live.hold(CaseScope(7, None))
    again = await live.hold(CaseScope(7, None))
    assert first is again and cases.reads == 1
    pages = [first.channel.join(), first.channel.join()]
    assert [texts(page)[0]['seq'] for page in pages] == [0, 0]
    cases.views[5] = view(5, status='returned', note='请补充户口簿首页')
    live.on_event(step(5, 7))
    await settle()
    assert cases.reads == 2
    sent = [page.queue.get_nowait() for page in pages]
    assert sent[0] is sent[1]  # serialised once, the same text for every page
    told = json.loads(sent[0])
    assert told['seq'] == 1 and [case['status'] for case in told['cases']] == ['returned']
    live.release(first)
    live.release(again)
    assert live.scopes == {}


async def test_other_cases_other_tickets_and_other_changes_cost_no_read_and_send_nothing() -> None:
    cases = Cases()
    live = feed(cases)
    ticket_scope = await live.hold(CaseScope(7, None))
    case_scope = await live.hold(CaseScope(None, 6))
    pages = {scope: scope.channel.join() for scope in (ticket_scope, case_scope)}
    for page in pages.values():
        texts(page)
    for event in (
        step(99, 8),  # another citizen's case of another ticket
        step(6, None),  # the case-only scope's case: the ticket's scope does not hear it...
        ProxyChanged(hall_id=1, grant_id=1, ticket_id=7, change='joined'),
        ProxyChanged(hall_id=1, grant_id=1, ticket_id=7, change='proposed'),
    ):
        live.on_event(event)
    await settle()
    assert cases.reads == 3  # ...only its own scope read again, and its case did not change: nothing sent
    assert texts(pages[ticket_scope]) == [] and texts(pages[case_scope]) == []
    cases.views[5] = view(5, status='returned', note='x')
    live.on_event(ProxyChanged(hall_id=1, grant_id=1, ticket_id=7, change='accepted'))  # a material confirmed
    await settle()
    assert [t['seq'] for t in texts(pages[ticket_scope])] == [1] and texts(pages[case_scope]) == []
    await live.stop()


async def test_a_burst_of_steps_during_a_read_costs_one_more_read_not_one_each() -> None:
    cases = Cases()
    live = feed(cases)
    followed = await live.hold(CaseScope(7, None))
    page = followed.channel.join()
    texts(page)
    cases.gate = asyncio.Event()
    for _ in range(10):
        live.on_event(step(5, 7))
        await settle()
    cases.views[5] = view(5, status='completed')
    cases.gate.set()
    await settle()
    assert cases.reads == 1 + 2  # the read under way, then one for all the rest
    assert [t['cases'][0]['status'] for t in texts(page)] == ['completed']  # type: ignore[index]
    await live.stop()


async def test_a_page_is_told_the_steps_the_current_one_and_what_to_bring_and_nothing_personal() -> None:
    cases = Cases()
    cases.views[5] = view(5, status='returned', note='请本人13912345678补充户口簿首页')
    live = feed(cases)
    page = (await live.hold(CaseScope(7, None))).channel.join()
    [told] = texts(page)
    [case] = told['cases']  # type: ignore[misc]
    assert set(case) == {'id', 'service', 'status', 'due', 'current', 'steps', 'needs', 'asked'}
    assert case['service'] == '户籍迁入' and case['status'] == 'returned'
    assert case['current'] == [1] and case['needs'] == ['户口簿']
    assert case['asked'] == ['请本人139****5678补充户口簿首页']  # masked as a log line is
    assert [s['name'] for s in case['steps']] == ['受理', '审核', '领证']
    audit = case['steps'][1]
    assert audit == {
        'name': '审核',
        'department': '公安局',
        'status': 'returned',
        'stage': 1,
        'started': '12-07 09:30',
        'finished': None,
        'due': '12-09 09:30',
    }
    assert 'rv_police' not in json.dumps(told) and 'CASE-5' not in json.dumps(told)  # no reviewer, no case code
    english = feed(cases, english=True)
    [told_en] = texts((await english.hold(CaseScope(None, 6))).channel.join())
    assert [c['service'] for c in told_en['cases']] == ['Residence transfer']  # type: ignore[index]
    assert told_en['cases'][0]['current'] == [1] and told_en['cases'][0]['asked'] == []  # type: ignore[index]
