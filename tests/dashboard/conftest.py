"""Fixtures for the dashboard tests: a configured store, the app, accounts with every role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.support import add_role_users, config_file, make_app


@pytest.fixture
def topics_env(tmp_path, monkeypatch):
    path = config_file(tmp_path)
    monkeypatch.setenv("EARSHOT_CONFIG", str(path))
    monkeypatch.delenv("EARSHOT_REDIS_URL", raising=False)
    monkeypatch.delenv("EARSHOT_SMTP_HOST", raising=False)
    monkeypatch.delenv("EARSHOT_WEBHOOKS", raising=False)
    return path


@pytest.fixture
def users(sqlite_store):
    return add_role_users(sqlite_store)


@pytest.fixture
def client(sqlite_store, topics_env, users):
    app = make_app(sqlite_store, topics_env, hub=False)
    with TestClient(app) as c:
        yield c
