"""The alert engine on stored data: the demo scenario through the real pipeline, and small synthetic flows."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor import models as m
from monitor.alerts import engine, records
from monitor.alerts.backtest import backtest_topic
from monitor.config import load_config, parse_config
from monitor.settings import load_settings
from monitor.store import Store
from tests.conftest import ROOT
from tests.monitor.alerts_support import FIXED_NOW, TEST_CONFIG, config_file, fill, flat, post, write

# ----------------------------------------------------------------------------- the demo scenario


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo week (5,000 tweets) imported through the pipeline with the alert hook on, as `earshot demo` does."""
    from monitor.demo.generator import ScenarioSpec, generate
    from monitor.pipeline import AFTER_BATCH
    from monitor.replay import import_files
    from monitor.topics import Matcher

    tmp = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("EARSHOT_REDIS_URL", "EARSHOT_BROKER_URL", "EARSHOT_SMTP_HOST", "EARSHOT_WEBHOOKS",
                    "EARSHOT_DATABASE_URL"):
            mp.delenv(var, raising=False)
        mp.setenv("EARSHOT_CONFIG", str(ROOT / "config" / "keywords.yaml"))
        truth = generate(tmp / "scenario", ScenarioSpec(size=5000, seed=7))
        config = load_config(ROOT / "config" / "keywords.yaml")
        store = Store(f"sqlite:///{tmp / 'demo.db'}")
        files = sorted((tmp / "scenario" / "x").glob("*.jsonl")) + sorted((tmp / "scenario" / "rss").glob("*.xml"))
        added = engine.after_batch not in AFTER_BATCH  # the app may have registered it already
        if added:
            AFTER_BATCH.append(engine.after_batch)
        try:
            import_files(files, store, Matcher(config.topics), progress=False)
        finally:
            if added:
                AFTER_BATCH.remove(engine.after_batch)
        end = datetime.fromisoformat(truth["end"])
        engine.detect(store, config, load_settings(), horizon=end, now=end + timedelta(days=1), sources=False)
    yield {"truth": truth, "store": store, "config": config, "url": f"sqlite:///{tmp / 'demo.db'}"}
    store.dispose()


def _window(truth):
    c = truth["crisis"]
    return c["topic"], datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"])


def test_the_planted_crisis_raises_exactly_one_critical_alert_inside_its_window(demo):
    topic, start, end = _window(demo["truth"])
    alerts = records.list_alerts(demo["store"], topic=topic, limit=100)
    critical = [a for a in alerts if a["severity"] == "critical"]
    assert len(critical) == 1
    a = critical[0]
    assert start <= a["opened_at"] <= end
    assert a["opened_at"] - start <= timedelta(hours=1)  # the story is noticed while it breaks
    assert a["kind"] == "volume" and a["ratio"] is not None
    # and nothing else on that topic outside the planted window
    assert [x["id"] for x in alerts if not start <= x["opened_at"] <= end] == []
    # it closed once the topic was back to normal, and stays open for the press office to resolve
    assert a["closed_at"] is not None and a["closed_at"] > end and a["state"] == "open"
    assert a["resolved_by"] is None
    (closed,) = [e for e in records.events(demo["store"], a["id"]) if e["kind"] == "closed"]
    assert closed["note"] == "back to normal; open until someone resolves it with the outcome"


def test_the_crisis_alert_says_why(demo):
    topic, start, end = _window(demo["truth"])
    a = [x for x in records.list_alerts(demo["store"], topic=topic) if x["severity"] == "critical"][0]
    d = a["details"]
    with demo["store"].engine.connect() as conn:
        drivers = {r.handle for r in conn.execute(select(m.accounts.c.handle).where(
            m.accounts.c.platform_id.in_(demo["truth"]["crisis"]["driver_accounts"])))}
    assert {p["handle"] for p in d["top_posts"][:3]} & drivers  # the posts that drove it
    assert {x["handle"] for x in d["top_accounts"][:3]} & drivers
    assert d["sentiment"]["negative_share"] > d["sentiment"]["norm"]  # it soured
    assert a["peak"] >= a["expected"] * 3
    evs = records.events(demo["store"], a["id"])
    kinds = [e["kind"] for e in evs]
    assert kinds[0] == "opened" and kinds[-1] == "closed"
    assert kinds.count("opened") == 1 and kinds.count("closed") == 1
    # it became critical: either it opened so, or an escalation says when
    assert evs[0]["severity"] == "critical" or "escalated" in kinds


def test_daily_and_weekly_cycles_raise_no_alert_on_the_other_topics(demo):
    topic, _s, _e = _window(demo["truth"])
    ring = demo["truth"]["bot_ring"]
    others = [a for a in records.list_alerts(demo["store"], limit=500) if a["topic"] != topic]
    # the only other alerts are the planted bot-ring bursts (all of its members retweeting one post in seconds)
    bursts = [datetime.fromisoformat(b[0]) for b in ring["bursts"]]
    for a in others:
        assert a["topic"] == ring["topic"], a["title"]
        assert any(timedelta(0) <= a["opened_at"] - b <= timedelta(minutes=30) for b in bursts), a["title"]


def test_backtest_of_the_stored_history_finds_the_same_crisis(demo):
    topic, start, end = _window(demo["truth"])
    t0 = datetime.fromisoformat(demo["truth"]["start"])
    result = backtest_topic(demo["store"], demo["config"].topics[topic], t0 + timedelta(days=1),
                            datetime.fromisoformat(demo["truth"]["end"]), warmup=timedelta(days=1))
    crit = [a for a in result.alerts if a.severity == "critical"]
    assert len(result.alerts) == 1 and len(crit) == 1
    assert start <= crit[0].opened_at <= end
    # a much less sensitive setting would have missed it: that is what a backtest is for
    assert backtest_topic(demo["store"], demo["config"].topics[topic], t0 + timedelta(days=1),
                          datetime.fromisoformat(demo["truth"]["end"]), warmup=timedelta(days=1),
                          sensitivity=12).alerts == []


def test_summary_lines_list_the_week_and_the_cli_shows_and_acts(demo, monkeypatch):
    from monitor.alerts.cli import alerts as alerts_cli
    from monitor.alerts.summary import summary_lines

    topic, start, end = _window(demo["truth"])

    class Ctx:
        store = demo["store"]

    lines = summary_lines(Ctx())
    text = "\n".join(lines)
    # the crisis and its emerging voices are back to normal, open until the press office resolves them
    still = [a for a in records.list_alerts(demo["store"], limit=100) if a["state"] in ("open", "acknowledged")]
    assert f"alerts open or acknowledged: {len(still)}" in text and "[open, back to normal]" in text
    with demo["store"].engine.connect() as conn:
        drivers = {r.handle for r in conn.execute(select(m.accounts.c.handle).where(
            m.accounts.c.platform_id.in_(demo["truth"]["crisis"]["driver_accounts"])))}
    assert len(still) >= 2 and all(a["topic"] == topic and start <= a["opened_at"] <= end for a in still)
    voices = [a for a in still if a["kind"] == "voice"]
    assert voices and all(any(f"@{h} " in a["title"] for h in drivers) for a in voices), [a["title"] for a in voices]
    assert "CRITICAL" in text and " critical" in text and "Vaccination:" in text
    monkeypatch.setenv("EARSHOT_DATABASE_URL", demo["url"])
    monkeypatch.setenv("EARSHOT_CONFIG", str(ROOT / "config" / "keywords.yaml"))
    runner = CliRunner()
    out = runner.invoke(alerts_cli, ["list", "--topic", topic, "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    crit = [r for r in rows if r["severity"] == "critical"][0]
    out = runner.invoke(alerts_cli, ["show", str(crit["id"])])
    assert out.exit_code == 0 and "top posts:" in out.output and "closed" in out.output
    # back to normal, it waits for a person: acknowledged, then resolved with the outcome
    out = runner.invoke(alerts_cli, ["ack", str(crit["id"]), "--by", "alice"])
    assert out.exit_code == 0 and "acknowledged by alice" in out.output, out.output
    out = runner.invoke(alerts_cli, ["resolve", str(crit["id"]), "--by", "alice", "--note", "statement issued"])
    assert out.exit_code == 0, out.output
    ev = records.events(demo["store"], crit["id"])[-1]
    assert (ev["kind"], ev["by"], ev["note"]) == ("resolved", "alice", "statement issued")
    out = runner.invoke(alerts_cli, ["resolve", str(crit["id"]), "--by", "bob"])
    assert out.exit_code == 1 and "already resolved by alice" in out.output
    out = runner.invoke(alerts_cli, ["backtest", topic, "--since", "2026-11-17", "--until", "2026-11-23",
                                     "--warmup", "1d"])
    assert out.exit_code == 0 and "1 alert: 1 critical" in out.output, out.output


# ----------------------------------------------------------------------------- synthetic flows


@pytest.fixture
def cfg_env(tmp_path, monkeypatch):
    path = config_file(tmp_path, TEST_CONFIG)
    monkeypatch.setenv("EARSHOT_CONFIG", str(path))
    monkeypatch.delenv("EARSHOT_REDIS_URL", raising=False)
    monkeypatch.delenv("EARSHOT_SMTP_HOST", raising=False)
    monkeypatch.delenv("EARSHOT_WEBHOOKS", raising=False)
    return load_config(path)


def test_a_live_spike_opens_an_alert_as_the_batch_is_stored_on_both_databases(store, cfg_env):
    now = FIXED_NOW
    fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=10), 2.0, seed=3)
    assert records.list_alerts(store) == []
    # 80 posts in the last few minutes: the alert opens before the bucket is even complete
    write(store, [post(3000 + i, now - timedelta(minutes=5) + timedelta(seconds=4 * i), "flu", sentiment=-0.7)
                  for i in range(80)], now=now)
    alerts = records.list_alerts(store)
    assert len(alerts) == 1
    a = alerts[0]
    assert (a["topic"], a["kind"], a["state"], a["closed_at"]) == ("flu", "volume", "open", None)
    assert a["severity"] == "critical" and a["ratio"] > 3
    assert "Flu:" in a["title"] and "× the usual volume" in a["title"]
    # the next batch updates the same alert, it does not open another
    write(store, [post(4000 + i, now + timedelta(seconds=5 * i), "flu") for i in range(40)],
          now=now + timedelta(minutes=4))
    assert len(records.list_alerts(store)) == 1
    # e-mail deliveries were planned for the topic's recipients and recorded as skipped: no SMTP server is set
    d = records.deliveries(store, a["id"])
    assert [(x["channel"], x["target"], x["status"]) for x in d] == [("email", "press@health.example.gov.uk", "skipped")]
    assert "EARSHOT_SMTP_HOST" in d[0]["last_error"]


def test_ack_and_resolve_keep_the_history(sqlite_store, cfg_env):
    store = sqlite_store
    now = FIXED_NOW
    fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=10), 2.0, seed=4)
    write(store, [post(5000 + i, now - timedelta(minutes=4), "flu") for i in range(80)], now=now)
    (a,) = records.list_alerts(store)
    records.acknowledge(store, a["id"], "alice", "calling the comms lead")
    with pytest.raises(records.AlertError, match="say who"):
        records.resolve(store, a["id"], "  ")
    records.resolve(store, a["id"], "bob", "statement out")
    row = records.get_alert(store, a["id"])
    assert (row["state"], row["acknowledged_by"], row["resolved_by"]) == ("resolved", "alice", "bob")
    hist = [(e["kind"], e["by"], e["note"]) for e in records.events(store, a["id"])]
    assert hist == [("opened", "earshot", None), ("acknowledged", "alice", "calling the comms lead"),
                    ("resolved", "bob", "statement out")]
    with pytest.raises(records.AlertError, match="already resolved by bob"):
        records.acknowledge(store, a["id"], "carol")
    # the incident goes on: the alert keeps being updated, but is not reopened or announced again
    write(store, [post(6000 + i, now + timedelta(minutes=1), "flu") for i in range(60)], now=now + timedelta(minutes=2))
    row = records.get_alert(store, a["id"])
    assert row["state"] == "resolved" and row["resolved_by"] == "bob"
    assert len(records.list_alerts(store)) == 1


def test_silence_of_a_busy_topic_is_noticed_on_the_schedule(sqlite_store, cfg_env):
    store = sqlite_store
    start = datetime(2026, 11, 9, tzinfo=timezone.utc)
    fill(store, "flu", start, start + timedelta(days=2, hours=9), 4.0, seed=5)
    config = cfg_env
    # nobody posts from 09:00; the beat runs detection every minute (here: every half hour) up to the clock
    t = start + timedelta(days=2, hours=9)
    opened_at = None
    while t < start + timedelta(days=2, hours=18):
        s = engine.detect(store, config, load_settings(), now=t, sources=False)
        if s.opened and opened_at is None:
            opened_at = t
        t += timedelta(minutes=30)
    alerts = records.list_alerts(store, topic="flu")
    assert [a["kind"] for a in alerts] == ["silence"]
    assert timedelta(hours=6) <= opened_at - (start + timedelta(days=2, hours=9)) <= timedelta(hours=7)
    assert "no posts for" in alerts[0]["title"]
    # posts come back: the silence closes
    fill(store, "flu", t, t + timedelta(minutes=30), 4.0, seed=6)
    engine.detect(store, config, load_settings(), now=t + timedelta(minutes=40), sources=False)
    assert records.get_alert(store, alerts[0]["id"])["closed_at"] is not None


def test_a_stakeholder_post_is_an_info_alert_that_closes_when_they_stop(sqlite_store, cfg_env):
    from monitor.items import Account, Post
    from monitor.store import Scored

    store = sqlite_store
    now = FIXED_NOW
    fill(store, "flu", now - timedelta(days=1, hours=6), now - timedelta(hours=3), 1.0, seed=7)
    chief = Account(platform="x", platform_id="777", handle="ChiefMedic", name="Chief Medical Officer")
    p = Post(platform="x", platform_id="cmo1", kind="original", author_id="777", created_at=now - timedelta(hours=3),
             text="Please get your flu jab <b>today</b>", url="https://x.com/ChiefMedic/status/cmo1")
    res = store.write_batch([Scored(post=p, sentiment=0.4, topics={"flu": ["flu"]})], [chief], source="test")
    from monitor.items import Batch

    engine.after_batch(store, Batch(source="test", posts=[p]), res, now=now - timedelta(hours=3))
    (a,) = [x for x in records.list_alerts(store) if x["kind"] == "stakeholder"]
    assert a["severity"] == "info" and "@ChiefMedic" in a["title"]
    assert a["details"]["posts"][0]["text"].startswith("Please get your flu jab")
    engine.detect(store, cfg_env, load_settings(), now=now, sources=False)
    assert records.get_alert(store, a["id"])["closed_at"] is not None  # three quiet hours later


def test_the_stakeholder_watch_reads_only_the_tags_after_the_last_it_saw(store, cfg_env):
    """After each batch the watch looks for the topic's new posts by the tags' primary key from the last
    post it saw, never walking every tag of the topic (0.12 s a query at 2,000,000 posts, twice a batch,
    before the alert reached the dashboard)."""
    from sqlalchemy import event

    from monitor.items import Account, Batch, Post
    from monitor.store import Scored

    now = FIXED_NOW
    fill(store, "flu", now - timedelta(days=1), now - timedelta(hours=3), 1.0, seed=7)
    chief = Account(platform="x", platform_id="777", handle="ChiefMedic", name="Chief Medical Officer")
    p = Post(platform="x", platform_id="cmo2", kind="original", author_id="777", created_at=now - timedelta(hours=3),
             text="Flu jabs: book now", url="https://x.com/ChiefMedic/status/cmo2")
    res = store.write_batch([Scored(post=p, sentiment=0.4, topics={"flu": ["flu"]})], [chief], source="test")
    seen: list[tuple] = []

    def spy(c, cur, st, params, *a):
        seen.append((st, params))

    event.listen(store.engine, "before_cursor_execute", spy)
    try:
        engine.after_batch(store, Batch(source="test", posts=[p]), res, now=now - timedelta(hours=3))
    finally:
        event.remove(store.engine, "before_cursor_execute", spy)
    assert [x for x in records.list_alerts(store) if x["kind"] == "stakeholder"]
    if store.dialect != "sqlite":
        return  # (the plan below is SQLite's; PostgreSQL ran the same statements)
    raw = store.engine.raw_connection()
    try:
        watched = [(st, params) for st, params in seen if "post_topics.post_id >" in st]
        assert watched
        for st, params in watched:
            plan = " ".join(str(r) for r in raw.execute("EXPLAIN QUERY PLAN " + st, params).fetchall())
            assert "ix_post_topics_topic_time" not in plan and "post_id>?" in plan, (st, plan)
    finally:
        raw.close()


def test_an_emerging_voice_is_an_alert(sqlite_store, cfg_env):
    store = sqlite_store
    now = FIXED_NOW
    fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=40), 1.0, seed=8)
    # an account nobody amplified before is retweeted by 25 distinct accounts within half an hour
    original = post(424242, now - timedelta(minutes=35), "flu", pid="orig1", text="Hospital X turned my mum away")
    write(store, [original], now=now - timedelta(minutes=35))
    rts = [post(9000 + i, now - timedelta(minutes=30) + timedelta(minutes=i), "flu", retweet_of=("orig1", 424242))
           for i in range(25)]
    write(store, rts, now=now)
    voices = [a for a in records.list_alerts(store) if a["kind"] == "voice"]
    assert len(voices) == 1
    v = voices[0]
    assert v["severity"] == "warning" and "@user424242" in v["title"]
    assert v["details"]["account"]["handle"] == "user424242"
    assert v["details"]["top_posts"][0]["platform_id"] == "orig1"


def test_the_usual_voices_are_recounted_after_the_batchs_alerts_are_published(sqlite_store, cfg_env, monkeypatch):
    """The voice watch's week-long recount of a topic's usual voices (0.2-0.4 s a topic at 2M posts) is
    not on the path of the alerts of the batch: they are stored and pushed first, then the recount, and
    the voice alert it decides is the same."""
    store = sqlite_store
    now = FIXED_NOW
    fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=40), 1.0, seed=8)
    write(store, [post(424242, now - timedelta(minutes=35), "flu", pid="orig1", text="Hospital X turned my mum away")],
          now=now - timedelta(minutes=35))
    seen, pushed = [], []
    real_usual, real_push = engine._VoiceWatch._usual, engine._push_messages

    def usual(self, at):
        seen.append([(a["kind"], a["state"]) for a in records.list_alerts(store)] + [("pushed", len(pushed))])
        return real_usual(self, at)

    def push(store_, settings, messages):
        pushed.extend(messages)
        return real_push(store_, settings, messages)

    monkeypatch.setattr(engine._VoiceWatch, "_usual", usual)
    monkeypatch.setattr(engine, "_push_messages", push)
    # one batch: a volume spike, and an account nobody amplified before retweeted by 25 accounts
    batch = [post(3000 + i, now - timedelta(minutes=5) + timedelta(seconds=3 * i), "flu", sentiment=-0.7)
             for i in range(80)]
    batch += [post(9000 + i, now - timedelta(minutes=30) + timedelta(minutes=i), "flu", retweet_of=("orig1", 424242))
              for i in range(25)]
    write(store, batch, now=now)
    assert seen and seen[0][0] == ("volume", "open") and seen[0][-1][1] >= 1  # stored and pushed first
    kinds = sorted(a["kind"] for a in records.list_alerts(store))
    assert kinds == ["voice", "volume"]


@pytest.mark.parametrize("now", [FIXED_NOW, datetime(2026, 12, 1, 3, 30, tzinfo=timezone.utc),
                                 datetime(2026, 12, 1, 7, 45, tzinfo=timezone.utc)], ids=lambda t: f"{t:%a%H%M}")
def test_concurrent_runs_never_open_the_same_incident_twice(store_url, tmp_path, monkeypatch, now):
    monkeypatch.setenv("EARSHOT_CONFIG", str(config_file(tmp_path, TEST_CONFIG)))
    store = Store(store_url)
    try:
        fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=10), 2.0, seed=9, hook=False)
        config = load_config(tmp_path / "keywords.yaml")
        engine.detect(store, config, load_settings(), now=now - timedelta(minutes=10), sources=False)
        for i in range(80):
            write(store, [post(7000 + i, now - timedelta(minutes=4), "flu")], hook=False, now=now)
        errors = []

        def run():
            try:
                engine.detect(store, config, load_settings(), now=now, sources=False)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(records.list_alerts(store)) == 1
        with store.engine.connect() as conn:
            assert conn.execute(select(m.alert_events.c.kind).where(m.alert_events.c.kind == "opened")).all() == [("opened",)]
    finally:
        store.dispose()


def test_a_source_that_stops_bringing_items_is_an_alert(sqlite_store, tmp_path):
    from monitor.items import Account, Post
    from monitor.store import Scored

    store = sqlite_store
    config = parse_config("""
defaults:
  alerts: {silence_hours: 3}
topics:
  flu: {label: Flu, query: flu}
sources:
  rss:
    - {name: feed, url: "https://news.example.org/feed.xml", interval: 15m}
""")
    settings = load_settings()
    t = datetime(2026, 11, 9, tzinfo=timezone.utc)
    n = 0
    opened = last_new = None
    for step in range(4 * 40):  # forty hours of 15-minute polls
        now = t + timedelta(minutes=15 * step)
        items = []
        if now < t + timedelta(hours=30):  # then the feed keeps answering but brings nothing new
            last_new = now
            for _ in range(3):
                n += 1
                items.append(Scored(post=Post(platform="rss", platform_id=f"a{n}", kind="article", author_id="feed",
                                              text="news", created_at=now), sentiment=0.0, topics={}))
        store.write_batch(items, [Account(platform="rss", platform_id="feed")], source="rss:feed")
        with store.engine.begin() as conn:  # the run happened at `now`
            conn.execute(m.source_state.update().values(last_run_at=now, last_ok_at=now))
        s = engine.detect(store, config, settings, now=now, topics=[], sources=True)
        if s.opened and opened is None:
            opened = now
    (a,) = records.list_alerts(store)
    assert a["kind"] == "source" and a["source"] == "rss:feed" and "no new items" in a["title"]
    assert timedelta(hours=3) <= opened - last_new <= timedelta(hours=3, minutes=30)
    import re

    expected = int(re.search(r"about (\d+) expected", a["title"]).group(1))
    assert 28 <= expected <= 36  # 12 new items an hour, normally (the estimate decays a little while quiet)


# ----------------------------------------------------------------------------- any time of day, any clock change
def _clocks() -> list[datetime]:
    """48 fixed clocks over a November week (every 3.5 hours: each weekday, day and night), and 8 each
    either side of the Europe/London clock changes (29 March and 25 October 2026, 01:00 UTC)."""
    week = [datetime(2026, 11, 16, 0, 5, tzinfo=timezone.utc) + timedelta(minutes=210 * k) for k in range(48)]
    changes = []
    for change in (datetime(2026, 3, 29, 1, tzinfo=timezone.utc), datetime(2026, 10, 25, 1, tzinfo=timezone.utc)):
        changes += [change + timedelta(minutes=m) for m in (-1440, -600, -65, -5, 5, 65, 600, 1440)]
    return week + changes


@pytest.mark.parametrize("now", _clocks(), ids=lambda t: f"{t:%m%d-%a-%H%M}")
def test_the_engine_keeps_quiet_on_a_baseline_at_any_time(sqlite_store, cfg_env, now):
    """Two days of ordinary traffic, caught up in one run at ``now``: no alert, no exception; a spike is one alert."""
    store = sqlite_store
    fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=10), 2.0, seed=9, hook=False)
    fill(store, "flat", now - timedelta(days=2), now - timedelta(minutes=10), 1.0, seed=21, hook=False,
         multiplier=flat)  # the worker test's history
    s = engine.detect(store, cfg_env, load_settings(), now=now, sources=False)
    assert s.opened == [], [a["title"] for a in records.list_alerts(store)]
    # the same baseline with a live spike on top: exactly one alert, on the spiking topic
    write(store, [post(7000 + i, now - timedelta(minutes=4) + timedelta(seconds=2 * i), "flu") for i in range(80)],
          now=now)
    alerts = records.list_alerts(store)
    assert [(a["topic"], a["kind"]) for a in alerts] == [("flu", "volume")]


def test_a_catch_up_over_two_incidents_opens_two_alerts(store, cfg_env):
    """One run over history that holds open, close and open again of the same topic (regression: ValueError: open)."""
    now = FIXED_NOW
    bursts = (now - timedelta(hours=20), now - timedelta(hours=8))
    fill(store, "flu", now - timedelta(days=3), now - timedelta(minutes=10), 2.0, seed=10, hook=False)
    for k, b in enumerate(bursts):
        write(store, [post(20000 + 100 * k + i, b + timedelta(seconds=3 * i), "flu") for i in range(90)],
              hook=False, now=now)
    s = engine.detect(store, cfg_env, load_settings(), now=now, sources=False)
    alerts = sorted(records.list_alerts(store), key=lambda a: a["opened_at"])
    assert len(s.opened) == 2 and [a["kind"] for a in alerts] == ["volume", "volume"]
    for a, b in zip(alerts, bursts):
        assert b <= a["opened_at"] <= b + timedelta(minutes=15) and a["closed_at"] is not None
        kinds = [e["kind"] for e in records.events(store, a["id"])]
        assert kinds[0] == "opened" and kinds[-1] == "closed" and kinds.count("opened") == 1


def test_an_alert_driven_by_a_flagged_ring_says_so_and_is_one_level_lower(sqlite_store, cfg_env, monkeypatch):
    """The share of the posts from accounts an influence run flagged (read from influence_flags) is in the
    title, the details and the e-mail text, and lowers the severity by one level (configurable)."""
    from monitor.alerts.notify import render_email

    store = sqlite_store
    now = FIXED_NOW
    fill(store, "flu", now - timedelta(days=2), now - timedelta(minutes=10), 2.0, seed=41, hook=False)
    ring = [f"{9500 + i}" for i in range(60)]
    from tests.monitor.alerts_support import account

    store.write_batch([], [account(r) for r in ring], source="test")  # the ring's accounts, known from earlier
    with store.engine.begin() as conn:
        ids = {r.platform_id: r.id for r in conn.execute(select(m.accounts.c.platform_id, m.accounts.c.id))}
        run = conn.execute(m.influence_runs.insert().values(
            topic="flu", platform="all", window_start=now - timedelta(days=7), window_end=now - timedelta(minutes=15),
            exclude_flagged=False, computed_at=now, seconds=0.1, interactions=0, accounts=60, edges=0,
            flagged=60)).inserted_primary_key[0]
        conn.execute(m.influence_flags.insert(), [{"run_id": run, "account_id": ids[r], "flagged": True, "ring": 1,
                                                    "signals": ["coordinated"]} for r in ring])
    # the ring posts again, with a few ordinary accounts: a loud spike, mostly the ring's
    burst = [post(int(r), now - timedelta(minutes=4) + timedelta(seconds=i), "flu") for i, r in enumerate(ring)]
    burst += [post(3000 + i, now - timedelta(minutes=4), "flu") for i in range(20)]
    write(store, burst, now=now)
    (a,) = records.list_alerts(store)
    assert a["kind"] == "volume" and "flagged as coordinated (ring 1)" in a["title"]
    coord = a["details"]["coordination"]
    assert coord["share"] >= 0.5 and coord["rings"][0]["ring"] == 1 and coord["run_id"] == run
    assert a["severity"] == "warning"  # critical on volume alone: one level lower
    assert "came from accounts flagged as coordinated (ring 1)" in render_email("opened", a, sender="e@x",
                                                                                recipient="p@x").get_body(("plain",)).get_content()
    # the press office can keep such alerts as loud as any other
    store2_cfg = parse_config(TEST_CONFIG.replace("recipients: [press@health.example.gov.uk]",
                                                  "recipients: [press@health.example.gov.uk]\n    coordinated_severity: same"))
    assert store2_cfg.topics["flu"].alerts["coordinated_severity"] == "same"
    with pytest.raises(Exception, match="coordinated_severity must be"):
        parse_config(TEST_CONFIG.replace("recipients: [press@health.example.gov.uk]",
                                         "recipients: [press@health.example.gov.uk]\n    coordinated_severity: loud"))
