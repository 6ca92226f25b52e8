"""Who may open what: every page and every API route with its allowed roles, in ONE place.

The role tests (tests/security/test_roles.py) are driven by `ROUTES`, and they fail when a page in
`pages.ROUTES` or a route of `app.api.routes.router` or `app.api.ops.router` has no row here. A new page is one line:

    Rule('/manager', (Role.MANAGER,)),
    Rule('/track/{code}', PUBLIC, example='/track/not-a-real-code'),

Admin is allowed wherever a hall's role is (`Principal.has_role`), so it is listed only on pages for admins alone
(`(Role.ADMIN,)`); the city manager's pages (`(Role.CITY,)`) let no hall's account in, admins included.
Staff are allowed on `{window_id}` routes only for their own window.

Below the table: the few helpers the security tests share (tokens, the hall and database fingerprints).
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.models.people import ACCOUNT_ROLES, STAFF_ROLES, Role
from tests.totp import token_body

PUBLIC: tuple[Role, ...] = ()
WINDOW_OPERATORS = (Role.STAFF, Role.MANAGER)
CITIZEN: tuple[Role, ...] = (Role.CITIZEN,)  # a phone signed in by a texted code; everyone else goes to /me/login


@dataclass(frozen=True)
class Rule:
    route: str  # as registered: '/api/windows/{window_id}/call', '/track/{code}'
    roles: tuple[Role, ...]  # allowed roles (admin implied); PUBLIC = anyone, no login
    method: str = 'GET'
    body: dict[str, Any] | None = field(default=None, compare=False)  # valid input: refusals are about the role
    example: str = ''  # a concrete path for routes with parameters other than {window_id}

    @property
    def is_api(self) -> bool:
        return self.route.startswith('/api/')

    @property
    def public(self) -> bool:
        return not self.roles

    @property
    def allowed(self) -> tuple[Role, ...]:
        """The roles let in: a hall's admin wherever a hall's role is (not on the city manager's pages)."""
        return (*self.roles, Role.ADMIN) if any(role in STAFF_ROLES for role in self.roles) else self.roles

    @property
    def citizen_only(self) -> bool:
        return self.roles == CITIZEN

    @property
    def window_scoped(self) -> bool:
        return '{window_id}' in self.route

    def path(self, window_id: int | None = None) -> str:
        if self.example:
            return self.example
        if self.window_scoped:
            assert window_id is not None, self.route
            return self.route.replace('{window_id}', str(window_id))
        assert '{' not in self.route, f'{self.route}: give an example path'
        return self.route

    @property
    def key(self) -> str:
        return f'{self.method} {self.route}'


ROUTES: list[Rule] = [
    # ---- pages --------------------------------------------------------------------------------
    Rule('/', PUBLIC),
    Rule('/login', PUBLIC),
    Rule('/display', PUBLIC),
    Rule('/display/{zone}', PUBLIC, example='/display/general'),
    # their websocket /live/board[/{zone}] is not an HTTP route (this table's tests speak HTTP):
    # tests/security/test_board_socket.py attacks it
    # no login, but a paired screen: without its credential cookie a kiosk answers only the pairing page (403);
    # tests/security/test_kiosk_pairing.py attacks it
    Rule('/kiosk/{device}', PUBLIC, example='/kiosk/no-such-kiosk'),
    # the same for a window's rating pad: tests/security/test_rating_pad.py attacks it
    Rule('/rate/{window}', PUBLIC, example='/rate/999'),
    Rule('/window/{window_id}', WINDOW_OPERATORS),
    Rule('/manager', (Role.MANAGER,)),
    Rule('/city', (Role.CITY,)),  # tests/security/test_city_edge.py
    Rule('/city/{code}', (Role.CITY,), example='/city/main'),
    Rule('/track/{code}', PUBLIC, example='/track/not-a-real-code'),  # the code: status; the texted code: the person
    # the same code's live status as a light page; its websocket /live/track/{code}: tests/security/test_track_socket.py
    Rule('/track/{code}/status', PUBLIC, example='/track/not-a-real-code/status'),
    Rule('/verify/{number}', PUBLIC, example='/verify/HT20260101-0000000000'),
    Rule('/entrance', (Role.MANAGER,)),  # the hall's printable entrance code for remote tickets
    # a citizen's phone confirms arrival; anonymous: to /me/login. tests/security/test_remote_queue_edge.py attacks it
    Rule('/arrive/{code}', PUBLIC, example='/arrive/not-a-real-code'),
    Rule('/proxy/{token}', PUBLIC, example='/proxy/not-a-real-token'),  # the citizen's link is the key, no login
    # the grant's ticket live as a light page; its websocket /live/proxy/{token}: tests/security/test_proxy_socket.py;
    # the grant's cases (a grant of a case alone: the page is only them), /live/proxy/{token}/cases:
    # tests/security/test_proxy_case_socket.py
    Rule('/proxy/{token}/status', PUBLIC, example='/proxy/not-a-real-token/status'),
    Rule('/review', (Role.REVIEWER,)),
    Rule('/admin', (Role.ADMIN,)),
    Rule('/me/login', PUBLIC),  # a citizen signs in by phone; tests/security/test_citizen_sign_in.py attacks it
    Rule('/enrol', ACCOUNT_ROLES),  # anyone signed in, city managers too; a password-only manager session: only this
    Rule('/book/{service_code}', CITIZEN, example='/book/SVC-A'),  # a signed-in phone; tests/test_book_page.py
    Rule('/me', CITIZEN),  # the citizen's own file; tests/test_me_page.py, tests/security/test_me_edge.py
    # the citizen's tickets, live, as a light page; its websocket /live/me: tests/security/test_me_live_socket.py
    Rule('/me/live', CITIZEN),
    Rule('/guide', PUBLIC),  # the service guide needs no login; tests/security/test_guide_edge.py
    Rule('/guide/{code}', PUBLIC, example='/guide/SVC-A'),
    Rule('/guide/{code}/print', PUBLIC, example='/guide/SVC-A/print'),  # tests/security/test_guide_print_edge.py
    Rule('/ranking', PUBLIC),  # 评价结果公开: windows and departments only; tests/security/test_ranking_edge.py
    Rule('/report/{month}', (Role.MANAGER,), example='/report/2026-10'),  # tests/security/test_report_edge.py
    # ---- API: public --------------------------------------------------------------------------
    Rule('/api/hall', PUBLIC),
    Rule('/api/health', PUBLIC),  # version and demo flag only; tests/security/test_start_up_edge.py
    Rule('/api/tickets', PUBLIC, 'POST', {'service_code': 'SVC-A'}),
    Rule('/api/arrivals', PUBLIC, 'POST', {'entrance_code': 'x'}),  # a citizen's token: test_remote_queue_edge.py
    Rule('/api/tickets/{code}', PUBLIC, example='/api/tickets/not-a-real-code'),
    Rule('/api/auth/token', PUBLIC, 'POST', {'username': 'w01', 'password': 'Window-01-pass'}),
    Rule('/api/auth/logout', PUBLIC, 'POST'),  # any bearer token; revoking an unknown one is a no-op
    # ---- API: bookings; slots are open, the rest need a citizen's phone token, which the booking service checks
    # (staff tokens are refused too): tests/security/test_booking_edge.py attacks them
    Rule('/api/services/{code}/slots', PUBLIC, example='/api/services/SVC-A/slots?date=2026-12-01'),
    Rule('/api/appointments', PUBLIC, 'POST', {'service_code': 'SVC-A', 'start': '2026-12-01T01:00:00Z'}),
    Rule('/api/appointments', PUBLIC),
    Rule('/api/appointments/{reference}', PUBLIC, 'DELETE', example='/api/appointments/ABCDEF123456'),
    Rule(
        '/api/appointments/{reference}',
        PUBLIC,
        'PATCH',
        {'start': '2026-12-01T01:00:00Z'},
        example='/api/appointments/ABCDEF123456',
    ),
    Rule('/api/assistant', PUBLIC, example='/api/assistant?q=社保卡丢了怎么办'),  # security/test_assistant_edge.py
    Rule('/api/services', PUBLIC),  # the guide's catalogue and a service's guide: tests/security/test_guide_edge.py
    Rule('/api/services/{code}/guide', PUBLIC, example='/api/services/SVC-A/guide'),
    Rule('/api/me', PUBLIC),  # a citizen's 'c.' token only, checked by the service (401 otherwise): test_me_edge.py
    # a citizen's sign-in by phone; limits, replays and token mix-ups: tests/security/test_citizen_sign_in.py
    Rule('/api/citizen/code', PUBLIC, 'POST', {'phone': '13812345678'}),
    Rule('/api/citizen/session', PUBLIC, 'POST', {'phone': '13812345678', 'code': '000000'}),
    Rule('/api/citizen/session', PUBLIC, 'DELETE'),  # a citizen's 'c.' token only; anything else is 401
    # ---- API: window operations (staff at their own window, managers anywhere) ----------------
    Rule('/api/windows/{window_id}/call-next', WINDOW_OPERATORS, 'POST'),
    Rule('/api/windows/{window_id}/call', WINDOW_OPERATORS, 'POST', {'number': 'A003', 'reason': '老人需要协助'}),
    Rule('/api/windows/{window_id}/recall', WINDOW_OPERATORS, 'POST'),
    Rule('/api/windows/{window_id}/no-show', WINDOW_OPERATORS, 'POST'),
    Rule('/api/windows/{window_id}/complete', WINDOW_OPERATORS, 'POST'),
    Rule('/api/windows/{window_id}/transfer', WINDOW_OPERATORS, 'POST', {'service_code': 'SVC-B', 'reason': '转办'}),
    Rule('/api/windows/{window_id}/park', WINDOW_OPERATORS, 'POST', {'reason': '补材料'}),
    Rule('/api/windows/{window_id}/resume', WINDOW_OPERATORS, 'POST', {'number': 'A001'}),
    Rule('/api/windows/{window_id}/state', WINDOW_OPERATORS, 'POST', {'state': 'paused'}),
    # 绿色通道 marked at the desk; tests/security/test_visits_edge.py attacks it
    Rule('/api/windows/{window_id}/green', WINDOW_OPERATORS, 'POST', {'number': 'A003', 'reason': 'disability'}),
    # ---- API: 上门服务 (home visits). A phone's own: its 'c.' token, checked by the service (401 otherwise); the
    # hall's: staff, reviewers and managers, the service checks the department. tests/security/test_visits_edge.py
    Rule('/api/me/visits', PUBLIC),
    Rule('/api/me/visits', PUBLIC, 'POST', {'service_code': 'SVC-A', 'address': '北京市朝阳区望京街道6号'}),
    Rule('/api/visits', (Role.STAFF, Role.REVIEWER, Role.MANAGER)),
    Rule(
        '/api/visits',
        (Role.STAFF, Role.REVIEWER, Role.MANAGER),
        'POST',
        {'service_code': 'SVC-A', 'address': '北京市朝阳区望京街道6号', 'id_number': '11010519491231002X'},
    ),
    Rule(
        '/api/visits/{visit_id}/schedule',
        (Role.STAFF, Role.REVIEWER, Role.MANAGER),
        'POST',
        {'start': '2099-01-01T01:00:00Z', 'end': '2099-01-01T03:00:00Z'},
        example='/api/visits/999/schedule',
    ),
    Rule(
        '/api/visits/{visit_id}/assign',
        (Role.STAFF, Role.REVIEWER, Role.MANAGER),
        'POST',
        {'staff_ids': [1]},
        example='/api/visits/999/assign',
    ),
    Rule(
        '/api/visits/{visit_id}/done',
        (Role.STAFF, Role.REVIEWER, Role.MANAGER),
        'POST',
        {},
        example='/api/visits/999/done',
    ),
    # ---- API: 跨区通办, a case moved to another hall; tests/security/test_case_transfer_edge.py attacks it ---------
    Rule(
        '/api/cases/{case_id}/transfer',
        WINDOW_OPERATORS,
        'POST',
        {'to_hall_id': 999, 'reason': '跨区通办'},
        example='/api/cases/999/transfer',
    ),
    # ---- API: 跨区通办 of a ticket; tests/security/test_ticket_handoff_edge.py attacks it ---------------------------
    Rule(
        '/api/tickets/{number}/hall-transfer',
        WINDOW_OPERATORS,
        'POST',
        {'to_hall': 'east', 'to_service': 'SVC-C', 'reason': '跨区通办'},
        example='/api/tickets/Z999/hall-transfer',
    ),
    # ---- API: operations ---------------------------------------------------------------------
    Rule('/api/ops/counters', (Role.MANAGER,)),
    # ---- API: the monthly report's files (managers): tests/security/test_report_edge.py attacks them ----------
    Rule('/api/reports/{month}/csv', (Role.MANAGER,), example='/api/reports/2026-10/csv'),
    Rule('/api/reports/{month}/pdf', (Role.MANAGER,), example='/api/reports/2026-10/pdf'),
    # ---- API: the admin's -------------------------------------------------------------------
    Rule('/api/admin/audit.csv', (Role.ADMIN,)),
    # ---- API: the hall's configuration as a zip (admins): tests/security/test_hall_config_edge.py --------
    Rule('/api/admin/config/export', (Role.ADMIN,)),
    Rule('/api/admin/config/import', (Role.ADMIN,), 'POST'),
]

PAGES = [rule for rule in ROUTES if not rule.is_api]
API = [rule for rule in ROUTES if rule.is_api]

# One account per staff role in the role tests' hall (w01 and boss come with the small hall).
ACCOUNTS: dict[Role, tuple[str, str]] = {
    Role.STAFF: ('w01', 'Window-01-pass'),  # window 1
    Role.REVIEWER: ('rv01', 'Reviewer-01-pass'),
    Role.MANAGER: ('boss', 'Manager-01-pass'),
    Role.ADMIN: ('adm01', 'Admin-0001-pass'),
    Role.CITY: ('city01', 'City-Manager-01-pass'),  # belongs to no hall: sees every hall on /city, nothing else
}
OTHER_WINDOW_STAFF = ('w02', 'Window-02-pass')  # window 2
assert set(ACCOUNTS) == set(ACCOUNT_ROLES)


# ---- shared helpers ------------------------------------------------------------------------------


def token(client: httpx.Client, who: tuple[str, str], *, address: str | None = None) -> str:
    """A bearer token for `who` (from `address`, seen through X-Forwarded-For, when given)."""
    headers = {'x-forwarded-for': address} if address else {}
    response = token_body(client, who[0], who[1], headers)
    assert response.status_code == 200, response.text
    return str(response.json()['access_token'])


def bearer(value: str) -> dict[str, str]:
    return {'Authorization': f'Bearer {value}'}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A refusal: the status, JSON with the stable `code` and a human message."""
    assert response.status_code == status, f'{response.status_code} {response.text[:300]}'
    assert response.headers['content-type'].startswith('application/json'), response.headers
    body = response.json()
    assert body['code'] == code, body
    assert isinstance(body['message'], str) and body['message'], body
    return dict(body)


_CLOCK_FIELDS = ('eta_minutes', 'eta_range', 'oldest_wait_minutes')


def hall_state(client: httpx.Client) -> dict[str, Any]:
    """GET /api/hall without the values that move with the wall clock (ETAs, minutes waited)."""
    response = client.get('/api/hall')
    assert response.status_code == 200, response.text
    snapshot = response.json()
    for service in snapshot['services']:
        for name in _CLOCK_FIELDS:
            service.pop(name, None)
    return dict(snapshot)


def sqlite_path(url: str) -> str:
    return url.split(':///', 1)[1]


def db_state(url: str, *, ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a refused request must leave alone: every table, its row count, tickets and windows in full.

    Read straight from the SQLite file the app writes (WAL: readers do not block it).
    `ignore` leaves out tables a refusal may legitimately touch (audit rows of a failed login, say).
    """
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        tables = sorted(row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        counts = {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
        state: dict[str, Any] = {
            'tables': tables,
            'counts': {name: count for name, count in counts.items() if name not in ignore},
            'tickets': db.execute(
                'SELECT id, number, status, service_id, window_id, target_window_id, recall_count, transfer_count,'
                ' called_at, completed_at FROM ticket ORDER BY id'
            ).fetchall(),
            'windows': db.execute('SELECT id, state, current_ticket_id FROM "window" ORDER BY id').fetchall(),
            'staff': db.execute(
                'SELECT id, username, display_name, role, window_id, active, password_hash FROM staff_user ORDER BY id'
            ).fetchall(),
        }
    return state


def settled_state(
    url: str, *, ignore: tuple[str, ...] = (), quiet: float = 1.0, timeout: float = 30.0
) -> dict[str, Any]:
    """`db_state` once the app has stopped writing (no change for `quiet` seconds).

    Set-ups that take and call tickets start background work (the notification outbox, for one); take the
    "before" picture only when it has finished, or a refusal would be blamed for it.
    """
    deadline = time.monotonic() + timeout
    last, quiet_since = db_state(url, ignore=ignore), time.monotonic()
    while time.monotonic() - quiet_since < quiet:
        assert time.monotonic() < deadline, 'the app kept writing to the database'
        time.sleep(0.1)
        now = db_state(url, ignore=ignore)
        if now != last:
            last, quiet_since = now, time.monotonic()
    return last


def audit_rows(url: str, action: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute('SELECT * FROM audit_entry WHERE action = ? ORDER BY id', (action,)).fetchall()
    return [dict(row) for row in rows]


def all_audit_rows(url: str) -> list[dict[str, Any]]:
    """Every row of the audit chain, every column, as the database file holds it."""
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute('SELECT * FROM audit_entry ORDER BY id').fetchall()]


def session_rows(url: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            'SELECT s.id, s.token_hash, s.revoked_at, u.username FROM auth_session s'
            ' JOIN staff_user u ON u.id = s.user_id ORDER BY s.id'
        ).fetchall()
    return [dict(row) for row in rows]
