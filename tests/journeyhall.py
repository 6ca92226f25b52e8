"""The small hall plus what the citizen-journey tests need: departments, workflows, reviewers, department data.

SVC-A becomes a 一件事一次办 bundle (five departments approve in parallel, then 办结, an e-certificate and
pickup); SVC-B gets a 秒批 rule (identity and local household confirmed, answer `employment=flexible`);
SVC-C keeps the default workflow (受理 -> 审批 in its sla_days -> 办结).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from app.bus import InProcessBus
from app.clock import utcnow
from app.db import Database
from app.models import Department, ServiceItem, StaffUser, TicketCreate
from app.models.cases import DepartmentRecord
from app.models.people import Role
from app.models.security import ConsentPurpose, ConsentScope
from app.security.crypto import FieldCipher
from app.services.consent import DEPARTMENT_DATA_TEXT_VERSION
from app.services.department_data import seal
from app.services.journey import Journey, build_journey
from app.services.queue import QueueService, TicketView
from app.services.tracking import VIA_SMS, PersonAct, Tracked
from app.settings import Settings, get_settings
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.dbs import SqliteTemplate
from tests.factories import SmallHall, build_small_hall
from tests.hashes import hashed
from tests.idnumbers import make_id

DEPARTMENTS = {
    'SAMR': '市场监督管理局',
    'PSB': '公安局',
    'TAX': '税务局',
    'HRSS': '人力资源和社会保障局',
    'HPF': '住房公积金管理中心',
}
PARALLEL = ('营业执照核发', '公章刻制备案', '税务登记', '社保登记', '公积金登记')
BUNDLE: list[dict[str, Any]] = [
    {'stage': 0, 'kind': 'accept', 'name': '受理', 'sla_hours': 1},
    {'stage': 1, 'kind': 'review', 'name': '材料审核', 'department': 'SAMR', 'sla_hours': 2},
    *(
        {'stage': 2, 'kind': 'approve', 'name': name, 'department': code, 'sla_hours': 4}
        for name, code in zip(PARALLEL, ('SAMR', 'PSB', 'TAX', 'HRSS', 'HPF'), strict=True)
    ),
    {'stage': 3, 'kind': 'conclude', 'name': '办结'},
    {'stage': 4, 'kind': 'certify', 'name': '电子营业执照签发', 'department': 'SAMR', 'certificate': '电子营业执照'},
    {'stage': 5, 'kind': 'pickup', 'name': '领取执照和公章', 'department': 'SAMR', 'sla_days': 1},
]
INSTANT_RULE = 'SVC-B-flexible-local'
INSTANT: list[dict[str, Any]] = [
    {'stage': 0, 'kind': 'accept', 'name': '受理', 'sla_hours': 1},
    {
        'stage': 1,
        'kind': 'approve',
        'name': '参保审核',
        'department': 'HRSS',
        'sla_hours': 4,
        'auto': {
            'rule': INSTANT_RULE,
            'description': '灵活就业，身份和本地户籍核验一致',
            'sources': ['identity', 'household'],
            'answers': {'employment': 'flexible'},
            'facts': {'identity.status': 'normal', 'household.local': True},
        },
    },
    {'stage': 2, 'kind': 'conclude', 'name': '办结'},
]
B_MATERIALS = [
    {'name': '本人身份证', 'name_en': 'ID card', 'condition': {}, 'source': 'identity'},
    {'name': '灵活就业申请表', 'name_en': 'Form', 'condition': {'employment': 'flexible'}, 'source': None},
    {'name': '单位登记表', 'name_en': 'Form', 'condition': {'employment': 'employee'}, 'source': None},
]
LOCAL_CITIZEN = make_id(dt.date(1980, 5, 17), sequence='246')  # identity and local household on record
OUTSIDER = make_id(dt.date(1991, 2, 3), region='310104', sequence='135')  # household elsewhere
UNKNOWN_CITIZEN = make_id(dt.date(1985, 1, 1), sequence='357')  # no department data at all
REVIEWER_PASSWORD = 'Reviewer-01-pass'
WEDNESDAY_10AM = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)  # 10:00 in the hall, an ordinary working day


@dataclass(frozen=True)
class JourneyHall:
    small: SmallHall
    departments: dict[str, int]  # code -> id (DEPT is the small hall's own)

    @property
    def hall_id(self) -> int:
        return self.small.hall_id


async def build_journey_hall(db: Database, cipher: FieldCipher) -> JourneyHall:
    small = await build_small_hall(db)
    now = utcnow()
    async with db.session() as s, s.begin():
        departments = [Department(code=code, name=name) for code, name in DEPARTMENTS.items()]
        s.add_all(departments)
        await s.flush()
        ids = {d.code: d.id for d in (await s.execute(select(Department))).scalars() if d.id is not None}
        services = {svc.code: svc for svc in (await s.execute(select(ServiceItem))).scalars()}
        services['SVC-A'].workflow = BUNDLE
        services['SVC-A'].department_id = ids['SAMR']
        services['SVC-B'].workflow = INSTANT
        services['SVC-B'].department_id = ids['HRSS']
        services['SVC-B'].materials = B_MATERIALS
        services['SVC-B'].questions = [
            {'code': 'employment', 'options': [{'value': 'flexible'}, {'value': 'employee'}]},
        ]
        for code in ('SAMR', 'PSB', 'TAX', 'HRSS', 'HPF', 'DEPT'):
            s.add(
                StaffUser(
                    username=f'rv_{code.lower()}',
                    display_name=f'{code}审核员',
                    role=Role.REVIEWER,
                    department_id=ids[code],
                    hall_id=small.hall_id,
                    password_hash=hashed(REVIEWER_PASSWORD),
                    created_at=now,
                )
            )
        records = {
            LOCAL_CITIZEN: {
                'identity': {'name': '王芳', 'status': 'normal'},
                'household': {'address': '本市海淀区', 'local': True},
                'social_insurance': {'status': 'active'},
            },
            OUTSIDER: {
                'identity': {'name': '陈杰', 'status': 'normal'},
                'household': {'address': '上海市徐汇区', 'local': False},
            },
        }
        for id_number, by_source in records.items():
            for source, data in by_source.items():
                s.add(
                    DepartmentRecord(
                        source=source,
                        id_number_hash=cipher.lookup(id_number),
                        data_enc=seal(cipher, source, data),
                        updated_at=now,
                    )
                )
    return JourneyHall(small, ids)


# ---- fixtures (test modules take them with `journey_hall = journeyhall.journey_hall_fixture` etc.) ----------


@pytest.fixture(name='journey_hall')
async def journey_hall_fixture(db: Database, cipher: FieldCipher) -> JourneyHall:
    return await build_journey_hall(db, cipher)


@pytest.fixture(name='journey_settings')
def journey_settings_fixture(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose var/ (the SMS gateway's record) belongs to this test alone."""
    return settings.model_copy(update={'var_dir': tmp_path / 'var'})


@pytest.fixture(name='journey')
def journey_fixture(
    db: Database,
    bus: InProcessBus,
    journey_settings: Settings,
    cipher: FieldCipher,
    journey_hall: JourneyHall,
    clock: FakeClock,
) -> Journey:
    clock.now = WEDNESDAY_10AM
    return build_journey(
        deps_for(db, bus, hall_id=journey_hall.hall_id, settings=journey_settings, clock=clock, cipher=cipher)
    )


@pytest.fixture(name='hall_queue')
def hall_queue_fixture(journey: Journey) -> QueueService:
    """The queue on the journey's dependencies, as the runtime builds both."""
    return QueueService(journey.cases.deps)


@pytest.fixture(name='act')
async def case_act_fixture(journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall) -> PersonAct:
    """An outsider's 社保 ticket at window 2 with its case open (two materials still to bring), the phone proved
    by the texted code."""
    ticket = await served_ticket(
        hall_queue, journey_hall.small.window_2, 'SVC-B', id_number=OUTSIDER, phone='13900001234'
    )
    await journey.cases.open_case(ticket.ticket.id or 0, actor='w02', answers={'employment': 'flexible'})
    return await by_sms(journey, ticket.ticket.code)


async def served_ticket(
    queue: QueueService,
    window_id: int,
    service_code: str,
    *,
    id_number: str | None = None,
    phone: str | None = None,
    complete: bool = False,
) -> TicketView:
    """A ticket taken and called at `window_id` (and completed when asked): what a window opens a case for."""
    await queue.take_ticket(TicketCreate(service_code=service_code, id_number=id_number, phone=phone), caller=DESK)
    view = await queue.call_next(window_id, caller=DESK)
    assert view.service.code == service_code, view.service.code
    return await queue.complete(window_id, caller=DESK) if complete else view


def texted_code(journey: Journey) -> str:
    """The one-time code in the newest text that carries one (other texts, such as calls, may come after it)."""
    for sent in reversed(journey.sms.sent):
        found = re.search(r'验证码为(\d{6})', str(sent['text']))
        if found:
            return found.group(1)
    raise AssertionError(f'no one-time code among {list(journey.sms.sent)}')


def sms_act(ticket_id: int) -> PersonAct:
    """Leave to act for a ticket's person as `TrackingService.verify` gives it (for service tests of the act itself)."""
    tracked = Tracked(code='', ticket_id=ticket_id, case_id=None, citizen_id=None, service_id=0, number='')
    return PersonAct(tracked, VIA_SMS, 'citizen', 'citizen')


async def by_sms(journey: Journey, code: str) -> PersonAct:
    """What the citizen's phone proves: the slip's code, then the code texted to the ticket's phone."""
    tracked = await journey.tracking.follow(code)
    await journey.tracking.send_code(tracked)
    return await journey.tracking.verify(tracked, texted_code(journey))


async def grant_department_data(journey: Journey, citizen_id: int, service_code: str) -> None:
    await journey.consent.grant(
        citizen_id,
        ConsentPurpose.DEPARTMENT_DATA,
        ConsentScope.SAME_KIND,
        text_version=DEPARTMENT_DATA_TEXT_VERSION,
        service_code=service_code,
    )


@pytest.fixture(name='ui_journey_hall')
async def ui_journey_hall_fixture(
    tmp_path: Path, sqlite_template: SqliteTemplate, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> AsyncIterator[JourneyHall]:
    """The journey hall in a migrated SQLite file, set as DATABASE_URL for the app under NiceGUI's `user`."""
    url = sqlite_template.copy_to(tmp_path / 'ui.db')
    database = Database(url)
    built = await build_journey_hall(database, FieldCipher({'k1': settings.secret}, 'k1'))
    await database.dispose()
    monkeypatch.setenv('DATABASE_URL', url)
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    get_settings.cache_clear()
    yield built
    get_settings.cache_clear()
