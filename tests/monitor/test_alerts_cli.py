"""`earshot alerts ...` commands, driven through click as a user drives them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from monitor.alerts.cli import alerts
from tests.monitor.alerts_support import FIXED_NOW, TEST_CONFIG, config_file, fill, post, write
from tests.monitor.test_alerts_notify import Hook, SMTPSink


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("EARSHOT_CONFIG", str(config_file(tmp_path, TEST_CONFIG)))
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    for v in ("EARSHOT_REDIS_URL", "EARSHOT_SMTP_HOST", "EARSHOT_WEBHOOKS"):
        monkeypatch.delenv(v, raising=False)
    return monkeypatch


def test_backtest_csv_lists_what_would_have_been_raised(tmp_path, env):
    t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
    lines = ["timestamp,mentions"]
    for h in range(24 * 14):
        n = 500 if h == 24 * 10 + 15 else 40 + (h % 24)
        lines.append(f"{(t0 + timedelta(hours=h)).isoformat()},{n}")
    path = tmp_path / "series.csv"
    path.write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    out = runner.invoke(alerts, ["backtest-csv", str(path), "--count-col", "mentions"])
    assert out.exit_code == 0, out.output
    assert "buckets of 60 min" in out.output and "1 alert: 1 critical" in out.output
    assert "2026-01-15 16:00" in out.output  # the hour 15:00 is judged once complete
    # a one-hour spike closes after an hour back to normal, as the README says (not a day later)
    (a,) = json.loads(runner.invoke(alerts, ["backtest-csv", str(path), "--count-col", "mentions", "--json"]).output)["alerts"]
    opened, closed = datetime.fromisoformat(a["opened_at"]), datetime.fromisoformat(a["closed_at"])
    assert timedelta(hours=1) <= closed - opened <= timedelta(hours=2)
    out = runner.invoke(alerts, ["backtest-csv", str(path), "--count-col", "mentions", "--json", "--min-volume", "5000"])
    assert out.exit_code == 0 and json.loads(out.output)["alerts"] == []
    out = runner.invoke(alerts, ["backtest-csv", str(path), "--count-col", "nope"])
    assert out.exit_code == 2 and "line 1: no column 'nope'" in out.output


def test_test_notify_reaches_every_configured_channel(env, redis_server):
    smtp = SMTPSink()
    good, bad = Hook(), Hook(fail_first=99, fail_status=403)
    try:
        env.setenv("EARSHOT_SMTP_HOST", "127.0.0.1")
        env.setenv("EARSHOT_SMTP_PORT", str(smtp.port))
        env.setenv("EARSHOT_SMTP_STARTTLS", "no")
        env.setenv("EARSHOT_REDIS_URL", redis_server)
        env.setenv("EARSHOT_WEBHOOKS", f"teams:{good.url},{bad.url}")
        out = CliRunner().invoke(alerts, ["test-notify"])
        assert out.exit_code == 1, out.output  # one webhook refused
        assert "push     earshot:alerts" in out.output and ": ok" in out.output
        assert "email    press@health.example.gov.uk: ok" in out.output
        assert "FAILED — HTTP 403" in out.output
        assert len(smtp.messages) == 1 and good.bodies[0]["type"] == "message"
    finally:
        smtp.stop()
        good.stop()
        bad.stop()


def test_detect_runs_once_and_reports(env):
    from monitor.store import Store

    import os

    store = Store(os.environ["EARSHOT_DATABASE_URL"])
    now = FIXED_NOW
    fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=10), 2.0, seed=31, hook=False)
    write(store, [post(9900 + i, now - timedelta(minutes=3), "flu") for i in range(80)], hook=False, now=now)
    store.dispose()
    runner = CliRunner()
    out = runner.invoke(alerts, ["detect", "--topic", "flu", "--no-sources", "--now", now.isoformat()])
    assert out.exit_code == 0, out.output
    assert "1 opened" in out.output and "CRITICAL Flu:" in out.output
    out = runner.invoke(alerts, ["list", "--state", "open"])
    assert "critical" in out.output and "ongoing" in out.output
    out = runner.invoke(alerts, ["detect", "--topic", "nope"])
    assert out.exit_code == 2 and "no topic 'nope'" in out.output


def test_backtest_rejects_a_backwards_or_future_period_and_ends_with_the_data(env):
    import os

    from monitor.store import Store

    store = Store(os.environ["EARSHOT_DATABASE_URL"])
    end = FIXED_NOW - timedelta(days=30)  # the data stopped a month before the clock
    fill(store, "flu", end - timedelta(days=3), end, 2.0, seed=32, hook=False)
    store.dispose()
    runner = CliRunner()
    out = runner.invoke(alerts, ["backtest", "flu", "--since", "2026-10-20", "--until", "2026-10-18"])
    assert out.exit_code == 2 and "is not before --until" in out.output
    out = runner.invoke(alerts, ["backtest", "flu", "--since", "2099-01-01"])
    assert out.exit_code == 2 and "in the future" in out.output
    # by default the replay ends where the data ends: a month without posts after it is not a "silence"
    out = runner.invoke(alerts, ["backtest", "flu", "--since", (end - timedelta(days=1)).date().isoformat(),
                                 "--warmup", "2d", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert datetime.fromisoformat(result["end"]) <= end + timedelta(minutes=5)
    assert [a for a in result["alerts"] if a["kind"] == "silence"] == []


def test_backtest_says_what_the_live_alert_says(env):
    """The same incident, detected live batch by batch and replayed by `alerts backtest`, reads the same:
    its kind, severity and the figures of its title (an incident that turns angry first, then loud,
    so its kind changes on the way; the issue saw 4.9x live and 3.5x in the backtest)."""
    import os

    from monitor.store import Store

    store = Store(os.environ["EARSHOT_DATABASE_URL"])
    t0 = FIXED_NOW - timedelta(days=3)
    angry = t0 + timedelta(days=2, hours=1)
    loud = angry + timedelta(minutes=40)
    end = loud + timedelta(hours=4)
    fill(store, "flu", t0, angry, 6.0, seed=41, batch_minutes=10)  # live: the hook after every 10 minutes' batch
    fill(store, "flu", angry, loud, 6.0, seed=42, batch_minutes=10, negative_share=0.9)
    fill(store, "flu", loud, end, 24.0, seed=43, batch_minutes=10, negative_share=0.9)
    store.dispose()
    runner = CliRunner()
    out = runner.invoke(alerts, ["list", "--json", "--kind", "volume", "--since", t0.isoformat()])
    assert out.exit_code == 0, out.output
    (live,) = [a for a in json.loads(out.output) if a["topic"] == "flu"]
    out = runner.invoke(alerts, ["backtest", "flu", "--since", (t0 + timedelta(days=1)).isoformat(), "--json"])
    assert out.exit_code == 0, out.output
    (replayed,) = [a for a in json.loads(out.output)["alerts"] if a["kind"] in ("volume", "sentiment")]
    assert set(replayed["signals"]) == {"sentiment", "volume"}  # it changed kind on the way
    assert "?" not in replayed["headline"]  # the figures of the kind it had at that moment
    assert replayed["kind"] == live["kind"] == "volume" and replayed["severity"] == live["severity"]
    assert live["title"] == f"Flu: {replayed['headline']}"
    assert abs(datetime.fromisoformat(live["opened_at"]) - datetime.fromisoformat(replayed["opened_at"])) \
        <= timedelta(minutes=15)
    text = runner.invoke(alerts, ["backtest", "flu", "--since", (t0 + timedelta(days=1)).isoformat()]).output
    assert replayed["headline"] in text and "as a live alert's title gives them" in text
