"""With a broker, a window no stored run answers is computed by a real Celery worker (the task
``earshot.influence_window``), and its export file built by one (``earshot.influence_export``), not in
the dashboard's process; the dashboard answers 202 meanwhile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.harness.services import stop_process
from tests.conftest import ROOT
from tests.dashboard.support import login, make_app, when_ranked
from tests.dashboard.test_influencer_window import batch


@pytest.mark.redis
def test_a_worker_computes_the_window_a_reader_asked_for(tmp_path: Path, redis_server: str, sqlite_store, topics_env,
                                                           users, monkeypatch):
    from influence import export_jobs, jobs

    broker = redis_server + "/2"
    monkeypatch.setenv("EARSHOT_BROKER_URL", broker)
    monkeypatch.setattr(jobs, "in_thread", lambda store: pytest.fail("computed in the dashboard's process"))
    monkeypatch.setattr(export_jobs, "in_thread", lambda store: pytest.fail("built in the dashboard's process"))
    batch(sqlite_store, 1)
    env = {**os.environ, "EARSHOT_BROKER_URL": broker, "EARSHOT_DATABASE_URL": sqlite_store.url,
           "EARSHOT_CONFIG": str(topics_env), "EARSHOT_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)}
    env.pop("EARSHOT_REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "process", "-c", "1", "--pool", "solo",
         "--without-gossip", "--without-mingle", "-l", "INFO", "-n", "influence@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with TestClient(make_app(sqlite_store, topics_env, hub=False)) as client:
            login(client, *users["viewer"])
            params = {"topic": "flu", "window": "7d", "at": "2026-11-16T10:00:00"}
            r = client.get("/api/influencers", params=params)
            assert r.status_code == 202 and r.json()["status"] == "computing"
            done = when_ranked(client, "/api/influencers", params, timeout=90)
            assert done.status_code == 200, done.text
            assert done.json()["accounts"][0]["handle"] == "ChiefMedic"
            # its export file is built by the worker too (the task earshot.influence_export)
            exp = {**params, "format": "csv", "part": "edges"}
            assert client.get("/api/influencers/export", params=exp).status_code == 202
            got = when_ranked(client, "/api/influencers/export", exp, timeout=90)
            assert got.status_code == 200 and got.text.startswith("source,target,weight"), got.text[:300]
    finally:
        out = stop_process(proc)
    assert "earshot.influence_window" in out and "succeeded" in out, out[-3000:]
    assert "earshot.influence_export" in out, out[-3000:]
