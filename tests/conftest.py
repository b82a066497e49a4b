"""Shared fixtures: stores on SQLite and PostgreSQL, a private Redis, the fixture folder.

Tests that need a service reach the real thing and FAIL with a message saying
what to install when it is missing; nothing here skips silently.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from monitor.harness.services import ServiceMissing, start_redis

ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"
X_FIXTURES = SHARED_FIXTURES / "x-api-v2"
PG_ADMIN_URL = os.environ.get("EARSHOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Every test gets its own data dir and no broker unless it sets one."""
    monkeypatch.setenv("EARSHOT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("EARSHOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("EARSHOT_BROKER_URL", raising=False)
    monkeypatch.delenv("EARSHOT_X_BEARER_TOKEN", raising=False)
    yield
    import sys

    if "monitor.app" in sys.modules:
        sys.modules["monitor.app"].reset()


@pytest.fixture(scope="session")
def x_fixtures() -> Path:
    if not X_FIXTURES.is_dir():
        pytest.fail(f"the shared X API v2 fixtures are missing: expected {X_FIXTURES} (the shared/ folder beside the project)")
    return X_FIXTURES


def _pg_database():
    from sqlalchemy import create_engine, text

    name = f"earshot_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is needed at {PG_ADMIN_URL} for the store tests "
                    f"(apt-get install postgresql; or set EARSHOT_TEST_PG_URL): {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    return admin, name, url


def _drop_pg(admin, name):
    from sqlalchemy import text

    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def pg_url():
    admin, name, url = _pg_database()
    yield url
    _drop_pg(admin, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh empty database URL, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        admin, name, url = _pg_database()
        yield url
        _drop_pg(admin, name)


@pytest.fixture
def store(store_url):
    from monitor.store import Store

    s = Store(store_url)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path):
    from monitor.store import Store

    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A private redis-server on a free port, for the session."""
    try:
        proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    except ServiceMissing as exc:
        pytest.fail(f"{exc} (for these tests)")
    yield url
    proc.terminate()
    proc.wait(5)
