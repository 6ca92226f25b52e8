"""纸质版简化指南 on the printed slip: the checklist and the steps still ahead, in large type.

The large type is checked against python-escpos's own encoding of "double height, bold" (its Dummy
printer), so the bytes are what a real ESC/POS library would send for that style.
"""

from __future__ import annotations

import datetime as dt

from escpos.printer import Dummy

from app.models.hall import ServiceItem
from app.services.kiosk import TicketSlip
from app.services.paper_guide import paper_guide
from devices.escpos import ENCODING, NORMAL, render_ticket
from tests.kiosk_hall import MATERIALS, QUESTIONS

WORKFLOW = [
    {'stage': 0, 'kind': 'accept', 'name': '受理', 'sla_hours': 1},
    {'stage': 1, 'kind': 'approve', 'name': '权属核定', 'department': 'REALTY', 'sla_days': 1},
    {'stage': 1, 'kind': 'approve', 'name': '契税完税核验', 'department': 'TAX', 'sla_days': 1},
    {'stage': 2, 'kind': 'conclude', 'name': '登簿办结'},
]


def transfer(workflow: list[dict[str, object]] | None = WORKFLOW) -> ServiceItem:
    return ServiceItem(
        code='RE-X',
        name='不动产转移登记',
        department_id=1,
        ticket_prefix='D',
        sla_days=3,
        questions=QUESTIONS,
        materials=MATERIALS,
        workflow=workflow,
    )


def large() -> bytes:
    """What python-escpos sends for double height and bold."""
    printer = Dummy()
    printer.set(custom_size=True, width=1, height=2, bold=True)
    return bytes(printer.output)


def slip(**guide: tuple[str, ...]) -> TicketSlip:
    return TicketSlip(
        number='D007',
        service_name='不动产转移登记',
        window_hint='11号、12号窗口',
        people_ahead=2,
        eta_minutes=9,
        track_url='http://127.0.0.1:8080/track/abc123',
        taken_at=dt.datetime(2026, 12, 4, 9, 30),
        **guide,
    )


def test_the_guide_lists_what_the_answers_require_and_one_line_per_stage_after_waiting() -> None:
    guide = paper_guide(transfer(), {'property_type': 'second_hand'}, window_hint='11号、12号窗口')
    assert guide.bring == ('买卖双方身份证', '原不动产权证书')
    assert guide.steps == ('等候叫号，到窗口（11号、12号窗口）', '受理', '权属核定、契税完税核验', '登簿办结')


def test_without_answers_the_undecided_materials_say_when_they_are_needed() -> None:
    guide = paper_guide(transfer(), {})
    assert guide.bring == ('买卖双方身份证', '购房合同备案（如是「新房」）', '原不动产权证书（如是「二手房」）')
    assert guide.steps[0] == '等候叫号，到窗口'


def test_a_service_without_a_workflow_gets_the_default_steps_and_stale_answers_are_dropped() -> None:
    guide = paper_guide(transfer(workflow=None), {'property_type': 'castle', 'gone': 'x'})
    assert guide.steps[1:] == ('受理', '不动产转移登记审批', '办结')
    assert len(guide.bring) == 3  # the stale answer decides nothing


def test_the_slip_prints_the_checklist_and_the_steps_ahead_in_large_type() -> None:
    guide = paper_guide(transfer(), {'property_type': 'new'}, window_hint='11号、12号窗口')
    escpos = render_ticket(slip(bring=guide.bring, next_steps=guide.steps), hall_name='某市政务服务中心')
    for item in guide.bring:
        assert large() + f'□ {item}'.encode(ENCODING) in escpos
    for number, step in enumerate(guide.steps, start=1):
        assert large() + f'{number}. {step}'.encode(ENCODING) in escpos
    assert '请带好以下材料 / Bring'.encode(ENCODING) in escpos and '接下来 / Next'.encode(ENCODING) in escpos
    guide_part = escpos[escpos.index('请带好'.encode(ENCODING)) :]
    assert guide_part.count(NORMAL) == len(guide.bring) + len(guide.steps)  # back to normal after each large line
    assert escpos.index('□ 买卖双方身份证'.encode(ENCODING)) < escpos.index(b'1P0http://127.0.0.1:8080/track/abc123')


def test_a_slip_without_a_guide_prints_as_before() -> None:
    escpos = render_ticket(slip(), hall_name='某市政务服务中心')
    assert large() not in escpos and '请带好'.encode(ENCODING) not in escpos
