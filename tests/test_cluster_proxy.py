"""Two app processes behind nginx with the configuration scripts/cluster.py writes: who answers whom.

A page's state lives in the process that rendered it, so a browser must keep reaching that process
(sticky), new browsers are spread over all of them, a forged cookie picks nothing it should not, and a
dead process's browsers go to a live one with nothing refused or lost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.cluster import NODE_COOKIE, Nginx, nginx_conf
from tests.apphost import free_port
from tests.localcluster import LocalCluster, answered_by
from tests.totp import token_body

pytestmark = pytest.mark.postgres
FAIL_TIMEOUT_SECONDS = 5  # nginx_conf's fail_timeout: a server that failed is not tried again before it


@pytest.fixture(scope='module')
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp('cluster'), 2) as running:
        yield running


def test_the_written_configuration_passes_nginx_own_check_for_one_to_eight_processes(tmp_path: Path) -> None:
    for count in (1, 2, 4, 8):
        nginx = Nginx(tmp_path / str(count))
        nginx.write(nginx_conf([9000 + i for i in range(count)], listen=8999, prefix=nginx.prefix))
        checked = nginx.check()
        assert checked.returncode == 0, checked.stderr


def test_a_configuration_for_no_process_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='at least one'):
        nginx_conf([], listen=8999, prefix=tmp_path)


def test_new_browsers_are_spread_over_every_process(cluster: LocalCluster) -> None:
    seen = set()
    for _ in range(6):
        with cluster.client() as browser:
            response = browser.get('/api/hall')
            assert response.status_code == 200
            seen.add(answered_by(response))
    assert seen == {'n1', 'n2'}


def test_a_browser_keeps_reaching_the_process_that_served_it(cluster: LocalCluster) -> None:
    for node in ('n1', 'n2'):
        with cluster.client(cookies={NODE_COOKIE: node}) as browser:
            answers = [answered_by(browser.get('/api/hall')) for _ in range(8)]
        assert answers == [node] * 8


@pytest.mark.parametrize('forged', ['n9', 'n0', '../n1', 'halltwin_any', 'n1;n2', 'x' * 3000, '127.0.0.1:22'])
def test_a_forged_process_cookie_is_served_by_a_live_process_like_a_new_browser(
    cluster: LocalCluster, forged: str
) -> None:
    with cluster.client(cookies={NODE_COOKIE: forged}) as browser:
        response = browser.get('/api/hall')
    assert response.status_code == 200
    assert answered_by(response) in {'n1', 'n2'}


@pytest.mark.parametrize('path', ['/kiosk/K01', '/rate/1', '/ws/devices'])
def test_device_screens_and_connections_go_to_the_first_process_whatever_the_cookie_says(
    cluster: LocalCluster, path: str
) -> None:
    with cluster.client(cookies={NODE_COOKIE: 'n2'}) as browser:
        response = browser.get(path)
    assert answered_by(response) == 'n1'


def test_the_websocket_of_a_page_is_upgraded_through_nginx_to_the_process_that_rendered_it(
    cluster: LocalCluster,
) -> None:
    with cluster.client() as browser:
        page = browser.get('/display')
        assert page.status_code == 200
        node = answered_by(page)
        handshake = browser.get('/_nicegui_ws/socket.io/', params={'EIO': '4', 'transport': 'polling'})
    assert handshake.status_code == 200, handshake.text
    assert answered_by(handshake) == node
    assert handshake.text.startswith('0{"sid"')


def test_when_a_process_dies_its_browsers_are_served_by_a_live_one_and_no_ticket_is_lost(
    cluster: LocalCluster,
) -> None:
    with cluster.client() as staff:
        token = token_body(staff, 'boss', cluster.password('boss')).json()['access_token']
    headers = {'Authorization': f'Bearer {token}'}
    victim = cluster.app_named('n2')
    try:
        victim.kill_hard()
        with cluster.client(cookies={NODE_COOKIE: 'n2'}, headers=headers) as browser:
            taken = browser.post('/api/tickets', json={'service_code': 'SVC-A'})
            assert taken.status_code == 201, taken.text
            assert answered_by(taken) == 'n1'  # the browser's cookie now names the live process
            shown = browser.get(f'/api/tickets/{taken.json()["code"]}')
            assert shown.status_code == 200
            assert shown.json()['number'] == taken.json()['number']
    finally:
        victim.start()
    back = ''
    deadline = time.monotonic() + FAIL_TIMEOUT_SECONDS * 3
    while back != 'n2' and time.monotonic() < deadline:  # nginx tries it again once its fail_timeout has passed
        time.sleep(0.5)
        with cluster.client(cookies={NODE_COOKIE: 'n2'}) as browser:
            back = answered_by(browser.get('/api/hall'))
    assert back == 'n2'  # back in the pool once it is up again


def test_with_every_process_down_nginx_answers_502_at_once(tmp_path: Path) -> None:
    nginx = Nginx(tmp_path / 'nginx')
    port = free_port()
    nginx.write(nginx_conf([1], listen=port, prefix=nginx.prefix))  # port 1: nothing listens there
    try:
        nginx.start(port)
        response = httpx.get(f'http://127.0.0.1:{port}/api/hall', timeout=10.0)
        assert response.status_code == 502
    finally:
        nginx.stop()
