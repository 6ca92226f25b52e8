"""Several halls in one database: each process serves the hall HALL_CODE names, queues and numbers stay per hall,
accounts stay with their hall, and the city overview's figures match numbers worked out by hand."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from alembic import command
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.migrate import alembic_config
from app.models.cases import Evaluation
from app.models.hall import Hall, ServiceItem, Window
from app.models.operations import Alert
from app.models.people import Role, StaffUser
from app.models.ticket import TicketCreate
from app.runtime import HallMissing, build_runtime
from app.services.auth import AuthService
from app.services.city_overview import CityOverviewService
from app.services.errors import Forbidden, Invalid, NotFound, Unauthorized
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.staff_admin import StaffAdminService
from app.settings import Settings, load_settings
from seed.loader import load_seed
from seed.schema import SEED_ROOT
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.totp import enrol, login

SECRET = load_settings().secret


@dataclass
class City:
    db: Database
    main: int  # hall ids
    district: int
    passwords: dict[str, str]

    def queue(self, hall_id: int, clock: FakeClock, bus: InProcessBus) -> QueueService:
        return QueueService(deps_for(self.db, bus, hall_id=hall_id, clock=clock))


@pytest.fixture
async def city(db: Database) -> AsyncIterator[City]:
    """The demo city: the municipal centre (seed/default, without its people) and the district centre."""
    await load_seed(db, seed_name='default', secret=SECRET, empty=True)
    report = await load_seed(db, seed_name='district', secret=SECRET)
    await enrol(db)
    async with db.read_session() as s:
        halls = {hall.code: hall.id for hall in (await s.execute(select(Hall))).scalars()}
    yield City(db, halls['main'], halls['district'], report.new_passwords)


async def window_id(db: Database, hall_id: int, number: int) -> int:
    async with db.read_session() as s:
        found = (await s.execute(select(Window.id).where(Window.hall_id == hall_id, Window.number == number))).one()
    return int(found[0])


# ---- which hall a process serves ------------------------------------------------------------------


async def test_the_runtime_serves_the_hall_hall_code_names_and_the_first_hall_without_it(city: City) -> None:
    url = city.db.url
    for code, expected in (('', 'main'), ('district', 'district'), ('main', 'main')):
        rt = await build_runtime(Settings(DATABASE_URL=url, HALL_CODE=code, HALL_SIMULATION='on'))
        try:
            assert (rt.hall.code, rt.deps.hall_id) == (expected, getattr(city, expected))
            assert rt.queue.live is not None
            async with city.db.read_session() as s:
                mine = set((await s.execute(select(Window.id).where(Window.hall_id == rt.deps.hall_id))).scalars())
            assert set(rt.queue.live.windows) == mine, "the live queue holds this hall's windows only"
        finally:
            await rt.bus.stop()
            await rt.db.dispose()


async def test_a_hall_code_that_names_no_hall_stops_the_runtime_saying_which_halls_there_are(city: City) -> None:
    with pytest.raises(HallMissing, match=r"HALL_CODE='nowhere'.*there are: main, district"):
        await build_runtime(Settings(DATABASE_URL=city.db.url, HALL_CODE='nowhere'))


# ---- queues and numbers ---------------------------------------------------------------------------


async def test_two_halls_in_one_database_keep_their_own_queues_and_numbers(city: City, clock: FakeClock) -> None:
    bus = InProcessBus()
    main, district = city.queue(city.main, clock, bus), city.queue(city.district, clock, bus)
    first_main = await main.take_ticket(TicketCreate(service_code='HUKOU-IN'), caller=DESK)
    second_main = await main.take_ticket(TicketCreate(service_code='HUKOU-IN'), caller=DESK)
    first_district = await district.take_ticket(TicketCreate(service_code='HUKOU-IN'), caller=DESK)
    assert [first_main.ticket.number, second_main.ticket.number] == ['H001', 'H002']
    assert (first_district.ticket.number, first_district.position) == ('H001', 1), 'numbered and queued per hall'
    assert first_district.ticket.hall_id == city.district
    called = await district.call_next(await window_id(city.db, city.district, 1), caller=DESK)
    assert called.ticket.id == first_district.ticket.id
    assert (await main.ticket_view_by_id(second_main.ticket.id)).position == 2, "the district's call moved no one here"
    with pytest.raises(NotFound):  # a window of the other hall is no window here
        await main.call_next(await window_id(city.db, city.district, 2), caller=DESK)


# ---- accounts stay with their hall ----------------------------------------------------------------


async def test_a_halls_accounts_sign_in_only_at_their_own_halls_processes(city: City, clock: FakeClock) -> None:
    main = AuthService(deps_for(city.db, InProcessBus(), hall_id=city.main, clock=clock))
    district = AuthService(deps_for(city.db, InProcessBus(), hall_id=city.district, clock=clock))
    manager = ('dmanager', city.passwords['dmanager'])
    issued = await login(district, *manager)
    assert issued.principal.role == Role.MANAGER
    with pytest.raises(Unauthorized) as unknown_here:
        await login(main, *manager)
    assert unknown_here.value.code == 'bad_credentials', 'the same answer as for a name no one has'
    with pytest.raises(Unauthorized) as not_here:  # its cookie sent to the other hall's process
        await main.authenticate(issued.token)
    assert not_here.value.code == 'not_authenticated'
    assert await district.authenticate(issued.token) == issued.principal
    city_manager = ('city', city.passwords['city'])
    for process in (main, district):
        assert (await login(process, *city_manager)).principal.role == Role.CITY


async def test_a_halls_admin_lists_and_changes_only_its_own_accounts(city: City) -> None:
    main_admin = StaffAdminService(deps_for(city.db, InProcessBus(), hall_id=city.main))
    admin = Principal(Kind.STAFF, 'admin', Role.ADMIN, user_id=0)
    assert [account.username for account in await main_admin.accounts(admin)] == []
    with pytest.raises(NotFound):
        await main_admin.disable(admin, 'dmanager')
    district_admin = StaffAdminService(deps_for(city.db, InProcessBus(), hall_id=city.district))
    listed = {account.username for account in await district_admin.accounts(admin)}
    assert 'dmanager' in listed and 'city' not in listed
    with pytest.raises(Invalid) as refused:
        await district_admin.add(admin, username='c2', role=Role.CITY, password='City-Manager-02-pass')
    assert refused.value.code == 'bad_staff_role'
    async with city.db.read_session() as s:
        holders = dict((await s.execute(select(StaffUser.username, StaffUser.hall_id))).all())
    assert holders['dmanager'] == city.district and holders['city'] is None


async def test_the_district_seed_shares_the_city_catalogue_word_for_word() -> None:
    """Services and departments are one row per code for the whole city: a hall's copy that differed would rewrite
    the city's row when that hall is loaded."""

    def entries(folder: str, file: str) -> dict[str, dict[str, object]]:
        return {entry['code']: entry for entry in yaml.safe_load((SEED_ROOT / folder / file).read_text())}

    for file in ('services.yaml', 'departments.yaml'):
        city, district = entries('default', file), entries('district', file)
        assert district and all(district[code] == city[code] for code in district), file


async def test_loading_the_second_hall_changes_nothing_of_the_first(db: Database) -> None:
    await load_seed(db, seed_name='default', secret=SECRET, empty=True)
    async with db.read_session() as s:
        before = [row.model_dump() for row in (await s.execute(select(ServiceItem))).scalars()]
    report = await load_seed(db, seed_name='district', secret=SECRET)
    assert report.updated['service_item'] == 0 and report.updated['department'] == 0
    async with db.read_session() as s:
        after = [row.model_dump() for row in (await s.execute(select(ServiceItem))).scalars()]
    assert after == before


# ---- the city overview ----------------------------------------------------------------------------


async def _rate(
    db: Database, hall_id: int, ticket_id: int, satisfied: bool, at: dt.datetime, replaces: int | None = None
) -> int:
    async with db.session() as s, s.begin():
        row = Evaluation(
            hall_id=hall_id,
            ticket_id=ticket_id,
            scale='four',
            level='satisfied' if satisfied else 'unsatisfied',
            score=4 if satisfied else 1,
            satisfied=satisfied,
            created_at=at,
            replaces_id=replaces,
        )
        s.add(row)
        await s.flush()
        assert row.id is not None
        return row.id


async def _alert(db: Database, hall_id: int, key: str, at: dt.datetime, *, resolved: bool = False) -> None:
    async with db.session() as s, s.begin():
        s.add(
            Alert(
                hall_id=hall_id,
                key=key,
                kind='queue_long',
                message=key,
                raised_at=at,
                resolved_at=at if resolved else None,
            )
        )


async def test_the_overview_gives_each_halls_figures_and_the_city_totals_as_worked_out_by_hand(
    city: City, clock: FakeClock
) -> None:
    bus = InProcessBus()
    main, district = city.queue(city.main, clock, bus), city.queue(city.district, clock, bus)
    a = await main.take_ticket(TicketCreate(service_code='HUKOU-IN'), caller=DESK)  # 10:00
    clock.advance(4)
    b = await main.take_ticket(TicketCreate(service_code='SI-CARD'), caller=DESK)  # 10:04
    clock.advance(3)
    c = await district.take_ticket(TicketCreate(service_code='SI-CARD'), caller=DESK)  # 10:07
    d = await district.take_ticket(TicketCreate(service_code='MI-REMOTE'), caller=DESK)  # 10:07, called below
    await district.call_next(await window_id(city.db, city.district, 5), caller=DESK)
    now = clock.now + dt.timedelta(minutes=5)  # 10:12
    yesterday = now - dt.timedelta(days=1)
    # main: a satisfied, b unsatisfied, an unsatisfied one replaced by a satisfied re-rating; one of yesterday
    await _rate(city.db, city.main, a.ticket.id, True, now)
    await _rate(city.db, city.main, b.ticket.id, False, now)
    first = await _rate(city.db, city.main, a.ticket.id, False, now)
    await _rate(city.db, city.main, a.ticket.id, True, now, replaces=first)
    await _rate(city.db, city.main, b.ticket.id, False, yesterday)
    # district: one satisfied, one not
    await _rate(city.db, city.district, c.ticket.id, True, now)
    await _rate(city.db, city.district, d.ticket.id, False, now)
    await _alert(city.db, city.main, 'queue_long:HUKOU-IN', now)
    await _alert(city.db, city.main, 'queue_long:SI-CARD', now, resolved=True)
    await _alert(city.db, city.district, 'queue_long:SI-CARD', now)
    await _alert(city.db, city.district, 'device_offline:DK01', now)
    clock.now = now
    overview = CityOverviewService(deps_for(city.db, bus, hall_id=city.main, clock=clock))
    figures = await overview.figures(Principal.system('test'))

    assert [hall.code for hall in figures.halls] == ['main', 'district']
    by_code = {hall.code: hall for hall in figures.halls}
    main_line, district_line = by_code['main'], by_code['district']
    assert (main_line.waiting, main_line.longest_wait_minutes) == (2, 12.0)  # a waits since 10:00
    assert (district_line.waiting, district_line.longest_wait_minutes) == (1, 5.0)  # c since 10:07; d was called
    assert (main_line.windows_open, main_line.windows_total) == (23, 25)  # seed/default: windows 9 and 19 closed
    assert (district_line.windows_open, district_line.windows_total) == (5, 6)  # seed/district: window 3 closed
    assert (main_line.open_alerts, district_line.open_alerts) == (1, 2)
    assert (main_line.ratings, main_line.satisfied, main_line.satisfied_share) == (3, 2, pytest.approx(2 / 3))
    assert (district_line.ratings, district_line.satisfied, district_line.satisfied_share) == (2, 1, 0.5)
    assert (figures.waiting, figures.longest_wait_minutes) == (3, 12.0)
    assert (figures.windows_open, figures.windows_total, figures.open_alerts) == (28, 31, 3)
    assert figures.satisfied_share == pytest.approx(3 / 5), 'every rating weighs alike, not the mean of the halls'


async def test_only_city_managers_read_the_overview(city: City) -> None:
    overview = CityOverviewService(deps_for(city.db, InProcessBus(), hall_id=city.main))
    for role in (Role.STAFF, Role.REVIEWER, Role.MANAGER, Role.ADMIN):
        with pytest.raises(Forbidden):
            await overview.figures(Principal(Kind.STAFF, 'someone', role))
        with pytest.raises(Forbidden):
            await overview.find_hall(Principal(Kind.STAFF, 'someone', role), 'district')
    with pytest.raises(Forbidden):
        await overview.figures(Principal.anonymous())
    city_manager = Principal(Kind.STAFF, 'city', Role.CITY)
    assert len((await overview.figures(city_manager)).halls) == 2
    assert await overview.find_hall(city_manager, 'district') == city.district
    with pytest.raises(NotFound):
        await overview.find_hall(city_manager, 'nowhere')


def test_existing_accounts_become_the_first_halls_and_a_downgrade_removes_city_managers(tmp_path: Path) -> None:
    path = tmp_path / 'old.db'
    url = f'sqlite+aiosqlite:///{path}'
    command.upgrade(alembic_config(url), '0025')
    with closing(sqlite3.connect(path)) as old, old:
        for code in ('main', 'district'):
            old.execute(
                f"INSERT INTO hall (code, name, name_en, width, height) VALUES ('{code}', '大厅', 'Hall', 10, 10)"
            )
        old.execute(
            'INSERT INTO staff_user (username, display_name, role, active, password_hash, failed_attempts, '
            "must_change_password, created_at) VALUES ('boss', '李四', 'MANAGER', 1, 'x', 0, 0, '2026-12-01 00:00:00')"
        )
    command.upgrade(alembic_config(url), '0026')
    with closing(sqlite3.connect(path)) as new, new:
        assert new.execute("SELECT hall_id FROM staff_user WHERE username = 'boss'").fetchone() == (1,)
        new.execute(
            'INSERT INTO staff_user (username, display_name, role, active, password_hash, failed_attempts, '
            "must_change_password, created_at) VALUES ('city', '市', 'CITY', 1, 'x', 0, 0, '2026-12-01 00:00:00')"
        )
    command.downgrade(alembic_config(url), '0025')
    with closing(sqlite3.connect(path)) as back:
        assert back.execute('SELECT username FROM staff_user').fetchall() == [('boss',)]
