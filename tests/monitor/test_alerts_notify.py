"""Telling people: a real SMTP server, a webhook receiver that fails and recovers, a private Redis."""

from __future__ import annotations

import email
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor import models as m
from monitor.alerts import notify, records
from monitor.settings import load_settings
from monitor.harness.services import free_port
from tests.monitor.alerts_support import FIXED_NOW, TEST_CONFIG, config_file, fill, post, write

STRANGER = '<script>alert("x")</script> & <img src=x onerror=alert(1)> [click](https://evil.example)'


# ----------------------------------------------------------------------------- receivers on loopback
class SMTPSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[str, list[str], bytes]] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()


@pytest.fixture
def smtp():
    s = SMTPSink()
    yield s
    s.stop()


class Hook:
    """A webhook receiver: answers ``fail_first`` requests with ``fail_status``, then 200."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500):
        self.bodies: list[dict] = []
        self.calls = 0
        hook = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                hook.calls += 1
                if hook.calls <= fail_first:
                    self.send_response(fail_status)
                    self.end_headers()
                    self.wfile.write(b"try later")
                    return
                hook.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("EARSHOT_CONFIG", str(config_file(tmp_path, TEST_CONFIG)))
    for v in ("EARSHOT_REDIS_URL", "EARSHOT_SMTP_HOST", "EARSHOT_WEBHOOKS"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("EARSHOT_SMTP_STARTTLS", "no")
    monkeypatch.setenv("EARSHOT_HTTP_TIMEOUT", "5")
    old = notify.set_dispatcher(notify.deliver_now)  # send before returning, so the test can look
    yield monkeypatch
    notify.set_dispatcher(old)


def spike(store, *, text: str = "flu is everywhere", now: datetime = FIXED_NOW):
    """Two days of normal traffic on 'flu', then a burst at ``now`` (the clock): returns the alert."""
    fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=10), 2.0, seed=11)
    src = post(88, now - timedelta(minutes=5), "flu", pid="src1", text=text)
    # 8 retweets of one post (its author stays below the emerging-voice threshold) and 72 other posts
    write(store, [src] + [post(8000 + i, now - timedelta(minutes=4) + timedelta(seconds=3 * i), "flu",
                               retweet_of=("src1", 88) if i < 8 else None) for i in range(80)], now=now)
    alerts = records.list_alerts(store)
    assert [a["kind"] for a in alerts] == ["volume"]
    return alerts[0]


# ----------------------------------------------------------------------------- e-mail
def test_an_alert_is_emailed_through_a_real_smtp_server_with_stranger_text_escaped(sqlite_store, env, smtp):
    env.setenv("EARSHOT_SMTP_HOST", "127.0.0.1")
    env.setenv("EARSHOT_SMTP_PORT", str(smtp.port))
    env.setenv("EARSHOT_SMTP_FROM", "earshot@health.example.gov.uk")
    a = spike(sqlite_store, text=STRANGER)
    deadline = time.time() + 5
    while not smtp.messages and time.time() < deadline:
        time.sleep(0.05)
    assert len(smtp.messages) == 1
    sender, rcpts, raw = smtp.messages[0]
    assert sender == "earshot@health.example.gov.uk" and rcpts == ["press@health.example.gov.uk"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"].startswith("[Earshot] CRITICAL: Flu:")
    html_part = msg.get_body(("html",)).get_content()
    text_part = msg.get_body(("plain",)).get_content()
    assert "<script>" not in html_part and "<img" not in html_part
    assert "&lt;script&gt;" in html_part and "&amp;" in html_part
    assert STRANGER[:30] in text_part  # the plain text shows it as it was
    assert f"earshot alerts ack {a['id']}" in text_part
    (d,) = records.deliveries(sqlite_store, a["id"])
    assert (d["channel"], d["status"], d["attempts"]) == ("email", "sent", 1)


def test_an_smtp_server_that_is_down_is_retried_and_the_failure_recorded(sqlite_store, env):
    env.setenv("EARSHOT_SMTP_HOST", "127.0.0.1")
    env.setenv("EARSHOT_SMTP_PORT", str(free_port()))  # nobody listens
    a = spike(sqlite_store)
    (d,) = records.deliveries(sqlite_store, a["id"])
    assert (d["status"], d["attempts"]) == ("pending", 1)
    assert "Connection refused" in d["last_error"] or "ConnectionRefused" in d["last_error"]
    assert d["next_attempt_at"] > datetime.now(timezone.utc)
    # every retry fails too: after MAX_ATTEMPTS it is given up, and says so
    settings = load_settings()
    now = datetime.now(timezone.utc)
    for k in range(notify.MAX_ATTEMPTS):
        now += timedelta(hours=2)
        notify.sweep(sqlite_store, settings, now=now)
    (d,) = records.deliveries(sqlite_store, a["id"])
    assert (d["status"], d["attempts"]) == ("failed", notify.MAX_ATTEMPTS)


# ----------------------------------------------------------------------------- webhooks
def test_a_webhook_that_fails_then_recovers_gets_the_alert_on_the_retry(sqlite_store, env):
    hook = Hook(fail_first=1)
    try:
        env.setenv("EARSHOT_WEBHOOKS", hook.url)
        a = spike(sqlite_store)
        hooks = lambda: [d for d in records.deliveries(sqlite_store, a["id"]) if d["channel"] == "webhook"]
        (d,) = hooks()
        assert (d["channel"], d["status"], d["attempts"]) == ("webhook", "pending", 1)
        assert d["last_error"].startswith("HTTP 500")
        assert "secret-token" not in d["target"]  # the URL is a secret: only its host and a hash are kept
        # not due yet: the sweep leaves it alone
        assert notify.sweep(sqlite_store, load_settings())["sent"] == 0
        # a minute later the sweep sends it
        later = datetime.now(timezone.utc) + timedelta(seconds=notify.BACKOFF_SECONDS[0] + 1)
        assert notify.sweep(sqlite_store, load_settings(), now=later) == {"sent": 1, "retry": 0, "failed": 0}
        (d,) = hooks()
        assert (d["status"], d["attempts"], d["last_error"]) == ("sent", 2, None)
        (body,) = hook.bodies
        assert body["event"] == "opened" and body["alert"]["id"] == a["id"] and body["alert"]["topic"] == "flu"
        assert body["alert"]["severity"] == "critical"
    finally:
        hook.stop()


def test_a_webhook_answering_404_fails_at_once(sqlite_store, env):
    hook = Hook(fail_first=100, fail_status=404)
    try:
        env.setenv("EARSHOT_WEBHOOKS", "slack:" + hook.url)
        a = spike(sqlite_store)
        (d,) = [d for d in records.deliveries(sqlite_store, a["id"]) if d["channel"] == "webhook"]
        assert (d["status"], d["attempts"], d["format"]) == ("failed", 1, "slack")
        assert d["last_error"].startswith("HTTP 404")
    finally:
        hook.stop()


def test_teams_and_slack_bodies_escape_stranger_text():
    now = datetime(2026, 11, 19, 10, 30, tzinfo=timezone.utc)
    row = {"id": 7, "topic": "flu", "kind": "volume", "state": "open", "severity": "critical",
           "title": "Flu: 6.0× the usual volume", "opened_at": now, "started_at": now, "current": 120.0,
           "expected": 20.0, "ratio": 6.0, "peak": 130.0,
           "details": {"label": "Flu", "top_posts": [{"handle": "x", "text": STRANGER, "url": "javascript:alert(1)"},
                                                      {"handle": "y", "text": "ok", "url": "https://x.com/y/1"}]}}
    teams = notify.render_webhook("teams", "opened", row)
    card = teams["attachments"][0]["content"]
    texts = json.dumps(card)
    assert card["type"] == "AdaptiveCard" and "[click](https" not in texts and "\\\\[click\\\\]" in texts
    assert card["actions"][0]["url"] == "https://x.com/y/1"  # never the javascript: link
    slack = notify.render_webhook("slack", "opened", row)
    assert "<script>" not in json.dumps(slack) and "&lt;script&gt;" in json.dumps(slack)
    assert slack["blocks"][0]["type"] == "header"
    assert notify.parse_webhook("teams:https://a.example/x") == ("teams", "https://a.example/x")
    assert notify.parse_webhook("https://a.example/x") == ("json", "https://a.example/x")
    with pytest.raises(ValueError, match="not an http"):
        notify.parse_webhook("ftp://a.example/x")


# ----------------------------------------------------------------------------- quiet hours, old data
def test_quiet_hours_hold_warnings_until_morning_but_not_critical_alerts():
    spec, tz = "22:00-07:00", "Europe/London"
    night = datetime(2026, 11, 19, 23, 30, tzinfo=timezone.utc)
    assert notify.quiet_until(spec, tz, night) == datetime(2026, 11, 20, 7, 0, tzinfo=timezone.utc)
    assert notify.quiet_until(spec, tz, datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)) == \
        datetime(2026, 11, 20, 7, 0, tzinfo=timezone.utc)
    assert notify.quiet_until(spec, tz, datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)) is None
    # in British summer time the quiet hours are still local: 07:00 BST is 06:00 UTC
    assert notify.quiet_until(spec, tz, datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc)) == \
        datetime(2026, 7, 1, 6, 0, tzinfo=timezone.utc)


def test_a_held_delivery_goes_out_when_the_quiet_hours_end(sqlite_store, env):
    hook = Hook()
    try:
        env.setenv("EARSHOT_WEBHOOKS", hook.url)
        settings = load_settings()
        with sqlite_store.engine.begin() as conn:
            aid = conn.execute(m.alerts.insert().values(
                kind="volume", key="flu", state="open", severity="warning", title="Flu: 2.0× the usual volume",
                opened_at=datetime(2026, 11, 19, 23, 0, tzinfo=timezone.utc),
                updated_at=datetime(2026, 11, 19, 23, 0, tzinfo=timezone.utc), topic="flu",
                created_at=datetime(2026, 11, 19, 23, 0, tzinfo=timezone.utc))).inserted_primary_key[0]
            night = datetime(2026, 11, 19, 23, 30, tzinfo=timezone.utc)
            due = notify.plan(conn, alert_id=aid, event_id=None, event="opened", severity="warning", recipients=[],
                              alert_settings={"quiet_hours": "22:00-07:00", "timezone": "Europe/London"},
                              settings=settings, now=night)
            assert due == []  # held
            due_crit = notify.plan(conn, alert_id=aid, event_id=None, event="escalated", severity="critical",
                                   recipients=[], alert_settings={"quiet_hours": "22:00-07:00"},
                                   settings=settings, now=night)
            assert len(due_crit) == 1  # critical goes at once
        assert notify.sweep(sqlite_store, settings, now=datetime(2026, 11, 20, 6, 59, tzinfo=timezone.utc))["sent"] == 1
        assert notify.sweep(sqlite_store, settings, now=datetime(2026, 11, 20, 7, 0, tzinfo=timezone.utc))["sent"] == 1
        assert [b["event"] for b in hook.bodies] == ["escalated", "opened"]
    finally:
        hook.stop()


def test_alerts_found_in_replayed_history_are_not_emailed(sqlite_store, env, smtp):
    env.setenv("EARSHOT_SMTP_HOST", "127.0.0.1")
    env.setenv("EARSHOT_SMTP_PORT", str(smtp.port))
    then = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    fill(sqlite_store, "flu", then - timedelta(days=2), then, 2.0, seed=12)
    # replayed a day later: the alert is recorded, nobody is e-mailed about yesterday
    write(sqlite_store, [post(9100 + i, then + timedelta(seconds=3 * i), "flu") for i in range(80)],
          now=then + timedelta(days=1))
    (a,) = records.list_alerts(sqlite_store)
    assert records.deliveries(sqlite_store, a["id"]) == [] and smtp.messages == []


# ----------------------------------------------------------------------------- the dashboard push
def test_alert_events_are_pushed_on_the_redis_channel_and_stream_within_a_second(sqlite_store, env, redis_server):
    import redis

    env.setenv("EARSHOT_REDIS_URL", redis_server)
    r = redis.Redis.from_url(redis_server)
    r.delete(notify.STREAM)
    sub = r.pubsub()
    sub.subscribe(notify.CHANNEL)
    assert sub.get_message(timeout=2)["type"] == "subscribe"
    now = FIXED_NOW
    fill(sqlite_store, "flu", now - timedelta(days=2), now - timedelta(minutes=10), 2.0, seed=13)
    t0 = time.perf_counter()
    write(sqlite_store, [post(9300 + i, now - timedelta(minutes=4), "flu") for i in range(80)], now=now)
    msg = sub.get_message(timeout=5)
    latency = time.perf_counter() - t0
    assert msg is not None and msg["type"] == "message"
    event = json.loads(msg["data"])
    assert event["type"] == "alert" and event["event"] == "opened" and event["alert"]["topic"] == "flu"
    assert latency < 1.0
    # the stream has it too, for a dashboard that was away
    entries = r.xrange(notify.STREAM)
    assert json.loads(entries[-1][1][b"event"])["alert"]["id"] == event["alert"]["id"]
    # acknowledging is pushed as well
    records.acknowledge(sqlite_store, event["alert"]["id"], "alice", "on it")
    msg = sub.get_message(timeout=5)
    while msg is not None and json.loads(msg["data"])["event"] == "updated":
        msg = sub.get_message(timeout=5)
    ack = json.loads(msg["data"])
    assert ack["event"] == "acknowledged" and ack["alert"]["acknowledged_by"] == "alice"
    sub.close()


def test_a_failed_push_is_recorded_and_resent_by_the_sweep(sqlite_store, env, redis_server):
    import redis

    env.setenv("EARSHOT_REDIS_URL", f"redis://127.0.0.1:{free_port()}")  # Redis is down
    a = spike(sqlite_store)
    pushes = [d for d in records.deliveries(sqlite_store, a["id"]) if d["channel"] == "redis"]
    assert pushes and all(d["status"] == "pending" for d in pushes)
    # Redis is back (the setting points at the live server): the sweep re-sends what was missed
    env.setenv("EARSHOT_REDIS_URL", redis_server)
    r = redis.Redis.from_url(redis_server)
    before = r.xlen(notify.STREAM) if r.exists(notify.STREAM) else 0
    later = datetime.now(timezone.utc) + timedelta(minutes=2)
    assert notify.sweep(sqlite_store, load_settings(), now=later)["sent"] == len(pushes)
    assert r.xlen(notify.STREAM) == before + len(pushes)
    assert all(d["status"] == "sent" for d in records.deliveries(sqlite_store, a["id"]) if d["channel"] == "redis")


# ----------------------------------------------------------------------------- secrets stay out of errors
def test_strip_urls_cuts_every_url_to_its_host():
    msg = ("ConnectionError: HTTPConnectionPool(host='hooks.slack.com', port=443): Max retries exceeded with "
           "url: /services/T000/B000/SECRET (Caused by NewConnectionError('refused'))")
    out = notify.strip_urls(msg)
    assert "SECRET" not in out and "/services/" not in out and "hooks.slack.com" in out
    assert notify.strip_urls("see https://outlook.office.com/webhook/abc/IncomingWebhook/def?x=1 now") == \
        "see https://outlook.office.com/[redacted] now"
    assert notify.strip_urls("Error 111 connecting to redis://:hunter2@cache.internal:6379/0.") == \
        "Error 111 connecting to redis://cache.internal:6379/[redacted]"


def test_an_unreachable_webhook_never_records_shows_or_logs_its_secret_url(sqlite_store, env, caplog):
    import logging

    from click.testing import CliRunner

    from monitor.alerts.cli import alerts as alerts_cli

    secret = "/services/T000/B000/XSECRETX"
    env.setenv("EARSHOT_WEBHOOKS", f"slack:http://127.0.0.1:{free_port()}{secret}")  # nobody listens there
    with caplog.at_level(logging.DEBUG):
        a = spike(sqlite_store)
        (d,) = [d for d in records.deliveries(sqlite_store, a["id"]) if d["channel"] == "webhook"]
        assert (d["status"], d["attempts"]) == ("pending", 1)
        assert d["last_error"].startswith("ConnectionError") and "127.0.0.1" in d["last_error"]
        later = datetime.now(timezone.utc) + timedelta(seconds=notify.BACKOFF_SECONDS[0] + 1)
        assert notify.sweep(sqlite_store, load_settings(), now=later)["retry"] == 1  # the retry fails the same way
    (d,) = [d for d in records.deliveries(sqlite_store, a["id"]) if d["channel"] == "webhook"]
    assert d["attempts"] == 2
    for text in (d["last_error"], d["target"], caplog.text):
        assert "XSECRETX" not in text and "T000" not in text, text
    assert "delivery to" in caplog.text  # the failures were logged, without the URL
    env.setenv("EARSHOT_DATABASE_URL", str(sqlite_store.engine.url))
    out = CliRunner().invoke(alerts_cli, ["show", str(a["id"])])
    assert out.exit_code == 0 and "ConnectionError" in out.output and "XSECRETX" not in out.output, out.output


def test_the_readme_states_the_retry_schedule_the_code_keeps():
    from tests.conftest import ROOT

    waits = [s // 60 for s in notify.BACKOFF_SECONDS]
    said = ", ".join(str(w) for w in waits[:-1]) + f" and {waits[-1]} minutes"
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"retried after {said} ({notify.MAX_ATTEMPTS} tries in all)".replace("8 tries", "eight tries") in readme
