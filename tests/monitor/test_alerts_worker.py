"""End to end with a real Celery worker and a real Redis: a batch task raises an alert, pushed and posted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.alerts import notify, records
from monitor.alerts.schedule import DELIVER_TASK, DETECT_TASK, SWEEP_TASK, beat_entries
from monitor.items import Account, Batch, Post
from monitor.store import Store
from tests.conftest import ROOT
from tests.monitor.alerts_support import TEST_CONFIG, config_file, fill, flat
from tests.monitor.test_alerts_notify import Hook


def test_the_beat_entries_name_tasks_the_worker_has():
    import worker

    entries = beat_entries(None, None)
    assert {e["task"] for e in entries.values()} == {DETECT_TASK, SWEEP_TASK}
    assert all(e["schedule"] <= 60 for e in entries.values())  # silence is noticed within a minute
    for name in (DETECT_TASK, SWEEP_TASK, DELIVER_TASK):
        assert name in worker.app.tasks


@pytest.mark.redis
def test_a_worker_raises_pushes_and_posts_an_alert(tmp_path: Path, redis_server: str):
    import celery
    import redis

    cfg = config_file(tmp_path, TEST_CONFIG)
    db = tmp_path / "worker.db"
    store = Store(f"sqlite:///{db}")
    # The one test on the real clock: a real worker process reads it (it e-mails only what is recent, and
    # its beat detects up to it), so the history must end now. So that what it finds cannot depend on the
    # time of day the suite runs at, the history is flat (the same counts at any hour: the rhythm divided
    # out); test_the_engine_keeps_quiet_on_a_baseline_at_any_time runs this history at 48 fixed clocks.
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=10), 1.0, seed=21, hook=False,
         multiplier=flat)
    hook = Hook(fail_first=0)
    broker = redis_server + "/0"
    env = {**os.environ, "EARSHOT_BROKER_URL": broker, "EARSHOT_DATABASE_URL": f"sqlite:///{db}",
           "EARSHOT_CONFIG": str(cfg), "EARSHOT_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT),
           "EARSHOT_WEBHOOKS": hook.url}
    for v in ("EARSHOT_REDIS_URL", "EARSHOT_SMTP_HOST"):
        env.pop(v, None)
    r = redis.Redis.from_url(broker)
    sub = r.pubsub()
    sub.subscribe(notify.CHANNEL)
    sub.get_message(timeout=2)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "collect,process", "-c", "2",
         "--pool", "prefork", "--without-gossip", "--without-mingle", "-l", "INFO", "-n", "alerts@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = celery.Celery("test", broker=broker)
        posts = [Post(platform="x", platform_id=f"w{i}", kind="original", author_id=str(i % 40),
                      text=f"flu cases everywhere, report {i}", created_at=now - timedelta(seconds=200 - 2 * i))
                 for i in range(90)]
        accounts = [Account(platform="x", platform_id=str(a), handle=f"u{a}") for a in range(40)]
        client.send_task("earshot.process_batch", args=[Batch(source="test", posts=posts, accounts=accounts).to_dict()],
                         queue="process")
        opened = None
        deadline = time.time() + 60
        while time.time() < deadline and opened is None:
            msg = sub.get_message(timeout=1)
            if msg and msg["type"] == "message":
                ev = json.loads(msg["data"])
                if ev["event"] == "opened":
                    opened = ev
        assert opened is not None, "no alert pushed; worker log:\n" + _drain(proc)
        assert opened["alert"]["topic"] == "flu" and opened["alert"]["kind"] == "volume"
        # the webhook got it from the delivery task
        deadline = time.time() + 30
        while time.time() < deadline and not hook.bodies:
            time.sleep(0.2)
        assert hook.bodies and hook.bodies[0]["alert"]["id"] == opened["alert"]["id"]
        deadline = time.time() + 10
        d = []
        while time.time() < deadline:
            d = [x for x in records.deliveries(store, opened["alert"]["id"]) if x["channel"] == "webhook"]
            if d and d[0]["status"] == "sent":
                break
            time.sleep(0.2)
        assert d and d[0]["status"] == "sent"
        # the beat's tasks run in the worker too: detection up to the clock moves the topic's state on
        from sqlalchemy import select

        from monitor import models as m

        def version():
            with store.engine.connect() as conn:
                return conn.execute(select(m.alert_state.c.version).where(m.alert_state.c.key == "topic:flu")).scalar()

        before = version()
        client.send_task(DETECT_TASK, queue="process")
        client.send_task(SWEEP_TASK, queue="process")
        deadline = time.time() + 30
        while time.time() < deadline and version() == before:
            time.sleep(0.2)
        assert version() > before
        assert len(records.list_alerts(store, topic="flu")) == 1
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        hook.stop()
        sub.close()
        store.dispose()


def _drain(proc) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out[-5000:]
