"""A hall as N app processes behind nginx, for the cluster tests and bench/cluster.py.

One throw-away PostgreSQL database on the local server, a redis-server of our own (so the event stream is
this cluster's alone), N `python main.py` processes sharing SECRET_KEY, and Debian's nginx with the
configuration `scripts/cluster.py` writes for a real hall.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from scripts.cluster import NODE_COOKIE, Nginx, nginx_conf, node_name
from tests.apphost import AppProcess, NewUser, PreparedDatabase, free_port, prepare_database
from tests.dbs import PostgresDatabase
from tests.redisserver import RedisServer


class LocalCluster:
    def __init__(
        self,
        root: Path,
        processes: int,
        *,
        seed: str | None = None,
        users: Sequence[NewUser] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.count = processes
        self.seed = seed
        self.users = tuple(users)
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.database = PostgresDatabase()
        self.redis = RedisServer()
        self.apps: list[AppProcess] = []
        self.nginx = Nginx(root / 'nginx')
        self.prepared: PreparedDatabase | None = None

    @property
    def base_url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def start(self) -> LocalCluster:
        try:
            self.database.create()
            self.prepared = prepare_database(self.database.url, seed=self.seed, users=self.users, migrate=False)
            self.redis.start()
            env = {
                'REDIS_URL': self.redis.url,
                'TRUSTED_PROXIES': '127.0.0.1',
                'ALLOWED_ORIGINS': self.base_url,
                **self.extra_env,
            }
            for index in range(1, self.count + 1):
                self.apps.append(AppProcess(self.database.url, self.root / node_name(index), extra_env=env).start())
            conf = nginx_conf([app.port for app in self.apps], listen=self.port, prefix=self.nginx.prefix)
            self.nginx.write(conf).start(self.port)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.nginx.stop()
        for app in self.apps:
            app.stop()
        self.redis.stop()
        self.database.drop()

    def app_named(self, node: str) -> AppProcess:
        """The process a `ht_node` cookie names."""
        names = [node_name(index) for index in range(1, self.count + 1)]
        return self.apps[names.index(node)]

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault('timeout', 15.0)
        return httpx.Client(base_url=self.base_url, **kwargs)

    def password(self, username: str) -> str:
        assert self.prepared is not None
        return self.prepared.passwords[username]

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def answered_by(response: httpx.Response) -> str:
    """The process nginx sent the request to last (its `ht_node` cookie)."""
    return response.cookies.get(NODE_COOKIE, '')


def names(count: int) -> Sequence[str]:
    return [node_name(index) for index in range(1, count + 1)]
