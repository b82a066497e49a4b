"""Live alerts end to end: a real server, a batch processed through the pipeline, the event stream.

The alert arrives on an open stream as the batch is stored (woken in-process, or through the Redis
channel from another process's engine); a page that reconnects with ``Last-Event-ID`` gets what it
missed from the database; acknowledging from the API is recorded with the person's name and pushed.
Times are fixed (the data is a past week); only the delivery delay is measured on the clock.
"""

from __future__ import annotations

import json

import queue
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from monitor import hooks
from monitor.alerts import engine, records
from monitor.config import load_config
from monitor.items import Account, Batch, Post
from monitor.pipeline import process_batch
from monitor.topics import Matcher
from monitor.harness.services import serve_asgi
from tests.dashboard.support import SSEReader, login, make_app
from tests.monitor.alerts_support import fill

T = datetime(2026, 11, 18, 14, 0, tzinfo=timezone.utc)  # a Wednesday afternoon


def spike(n: int, start: datetime, first_author: int = 7000) -> Batch:
    posts = [Post(platform="x", platform_id=f"s{start:%H%M}-{i}", kind="original", author_id=str(first_author + i),
                  text=f"Flu cases at A&E rising fast, number {i}", created_at=start + timedelta(seconds=3 * i),
                  url=f"https://x.com/u{first_author + i}/status/{i}")
             for i in range(n)]
    accounts = [Account(platform="x", platform_id=str(first_author + i), handle=f"u{first_author + i}",
                        name=f"User {i}") for i in range(n)]
    return Batch(source="test", posts=posts, accounts=accounts)


@pytest.fixture
def baseline(sqlite_store, topics_env):
    fill(sqlite_store, "flu", T - timedelta(days=2), T - timedelta(minutes=10), 2.0, seed=3, hook=False)
    return sqlite_store


def _client(url, users, role="press"):
    c = httpx.Client(base_url=url, timeout=10)
    csrf = login(c, *users[role])
    return c, csrf


def test_an_alert_arrives_live_is_acknowledged_and_a_reconnect_gets_what_it_missed(baseline, topics_env, users):
    store = baseline
    hooks.register_after_batch()  # the pipeline's hooks: the alert engine, then the dashboard's wake-up
    config = load_config(topics_env)
    matcher = Matcher(config.topics)
    app = make_app(store, topics_env, poll_seconds=30)  # a long poll: only the wake-up can be quick
    with serve_asgi(app) as url:
        web, csrf = _client(url, users)
        page = web.get("/alerts")
        assert page.status_code == 200 and "No unresolved alerts" in page.text
        last = page.text.split('data-last-event-id="')[1].split('"')[0]
        stream = SSEReader(url, f"/alerts/stream?after={last}", dict(web.cookies))
        try:
            time.sleep(0.3)
            done = time.monotonic()
            process_batch(spike(80, T - timedelta(minutes=5)), store, matcher)
            done = time.monotonic()
            ev = stream.next(timeout=10)
            msg = ev["json"]
            assert ev["event"] == "alert" and msg["event"] == "opened" and msg["severity"] == "critical"
            assert ev["received"] - done < 1.0, ev["received"] - done
            (alert,) = records.list_alerts(store)
            assert msg["alert_id"] == alert["id"] and ev["id"] == str(msg["id"])
            assert f'id="alert-{alert["id"]}"' in msg["html"] and "Flu" in msg["html"]
            # acknowledge through the API: recorded with the signed-in name, pushed to the stream
            r = web.post(f"/api/alerts/{alert['id']}/ack", data={"note": "on it", "csrf_token": csrf})
            assert r.status_code == 200, r.text
            assert r.json()["acknowledged_by"] == "press1"
            ev2 = stream.next(timeout=5)
            assert ev2["json"]["event"] == "acknowledged" and int(ev2["id"]) > int(ev["id"])
            assert "Acknowledged by press1" in ev2["json"]["html"]
        finally:
            stream.close()
        # while nobody listens: the incident goes on and someone resolves it
        process_batch(spike(120, T + timedelta(minutes=1), first_author=9000), store, matcher)
        r = web.post(f"/api/alerts/{alert['id']}/resolve", data={"note": "statement out", "csrf_token": csrf})
        assert r.status_code == 200 and r.json()["state"] == "resolved"
        missed = [e for e in records.events(store, alert["id"]) if e["id"] > int(ev2["id"])]
        assert [e["kind"] for e in missed][-1] == "resolved"
        # the browser reconnects with Last-Event-ID: it gets exactly what it missed, in order
        again = SSEReader(url, "/alerts/stream", dict(web.cookies), headers={"Last-Event-ID": ev2["id"]})
        try:
            got = [again.next(timeout=5) for _ in missed]
            assert [int(g["id"]) for g in got] == [e["id"] for e in missed]
            assert got[-1]["json"]["event"] == "resolved" and got[-1]["json"]["state"] == "resolved"
            with pytest.raises(queue.Empty):
                again.next(timeout=0.5)
        finally:
            again.close()
        hist = [(e["kind"], e["by"], e["note"]) for e in records.events(store, alert["id"])]
        assert ("acknowledged", "press1", "on it") in hist and ("resolved", "press1", "statement out") in hist
        web.close()


def test_an_alert_raised_by_another_process_arrives_through_redis(baseline, topics_env, users, redis_server,
                                                                  monkeypatch):
    store = baseline
    monkeypatch.setenv("EARSHOT_REDIS_URL", redis_server)
    config = load_config(topics_env)
    matcher = Matcher(config.topics)
    app = make_app(store, topics_env, poll_seconds=30, redis_url=redis_server)
    with serve_asgi(app) as url:
        deadline = time.monotonic() + 10
        while not app.state.earshot.hub.redis_connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.earshot.hub.redis_connected
        web, _ = _client(url, users, "viewer")
        stream = SSEReader(url, "/alerts/stream?after=0", dict(web.cookies))
        try:
            time.sleep(0.3)
            # as a worker does: store the batch, then the alert engine (which publishes on Redis);
            # the dashboard's in-process hook is not run, so only the Redis message can wake the page
            batch = spike(80, T - timedelta(minutes=5))
            result = process_batch(batch, store, matcher, run_hooks=False)
            engine.after_batch(store, batch, result)
            done = time.monotonic()
            ev = stream.next(timeout=10)
            assert ev["json"]["event"] == "opened"
            assert ev["received"] - done < 1.0, ev["received"] - done
        finally:
            stream.close()
            web.close()


def test_the_stream_refuses_anonymous_callers(baseline, topics_env, users):
    app = make_app(baseline, topics_env)
    with serve_asgi(app) as url:
        r = httpx.get(url + "/alerts/stream", timeout=5)
        assert r.status_code == 401


def test_an_event_is_encoded_once_for_every_page():
    from dashboard.live import LiveEvent

    ev = LiveEvent(7, "opened", {"id": 3, "severity": "critical", "state": "open", "title": "Flu <b>"}, "<p>card</p>")
    first = ev.data()
    assert ev.data() is first  # 200 open pages: one json.dumps, not 200
    assert json.loads(first) == {"id": 7, "event": "opened", "alert_id": 3, "severity": "critical", "state": "open",
                                 "title": "Flu <b>", "html": "<p>card</p>"}
