"""Kept batches (monitor/durable.py) on SQLite and PostgreSQL: keep with the cursor, store once, sweep,
quarantine what cannot be stored with the rest stored, replay once fixed."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import DataError, OperationalError

from monitor import durable
from monitor import models as m
from monitor.config import load_config
from monitor.items import Account, Batch, Post, Reference
from monitor.store import Store
from monitor.topics import Matcher
from tests.conftest import ROOT
from monitor.harness.faults import REFUSED, refuse_posts
from tests.monitor.test_x_source import QUERY, fake_x  # noqa: F401  (the loopback X API fixture)
from monitor.harness.services import free_port

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def topics():
    return load_config(ROOT / "config" / "keywords.yaml").topics


@pytest.fixture
def matcher(topics):
    return Matcher(topics)  # its own memory of scored posts


def batch(n: int, *, source: str = "test", start: int = 0, cursor=None, bad: set[int] = frozenset()) -> Batch:
    """``n`` posts on waiting times, each by its own account; the texts of posts in ``bad`` hold the
    marker the database refuses once :func:`tests.faults.refuse_posts` is on."""
    posts = [Post(platform="x", platform_id=f"p{i}", kind="original", author_id=f"a{i}",
                  text=f"NHS waiting list grows again, report {i}" + (f" {REFUSED}" if i in bad else ""),
                  created_at=T0 + timedelta(minutes=i))
             for i in range(start, start + n)]
    accounts = [Account(platform="x", platform_id=f"a{i}", handle=f"user{i}", followers=10 + i)
                for i in range(start, start + n)]
    return Batch(source=source, posts=posts, accounts=accounts, cursor=cursor)


def stored_ids(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return {r[0] for r in conn.execute(select(m.posts.c.platform_id))}


def tags(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(m.post_topics)).scalar_one()


def row(store: Store, raw_id: int):
    with store.engine.connect() as conn:
        return conn.execute(select(m.raw_batches).where(m.raw_batches.c.id == raw_id)).one()


def test_keep_moves_the_cursor_with_the_kept_batch_and_a_second_copy_stores_nothing(store, matcher):
    raw_id = durable.keep(store, batch(5, cursor={"since_id": {"q": "p4"}}))
    assert store.cursor("test") == {"since_id": {"q": "p4"}}  # the cursor moved with the kept batch
    assert stored_ids(store) == set() and row(store, raw_id).state == durable.PENDING
    first = durable.process_kept(store, matcher, raw_id)
    assert first.state == "stored" and first.result.posts_new == 5
    r = row(store, raw_id)
    assert r.state == durable.STORED and r.payload is None and r.stored_at is not None
    again = durable.process_kept(store, matcher, raw_id)  # a copy of the message: a sweep, a redelivery
    assert again.state == "already" and again.result.posts_new == 0
    assert stored_ids(store) == {f"p{i}" for i in range(5)} and tags(store) == 5
    assert store.rollups() == store.recount_rollups()
    # a batch with nothing to store records its cursor and keeps nothing
    assert durable.keep(store, Batch(source="test", cursor={"since_id": {"q": "p9"}})) is None
    assert store.cursor("test") == {"since_id": {"q": "p9"}}


def test_workers_racing_on_one_kept_batch_store_it_once(store_url, matcher):
    stores = [Store(store_url) for _ in range(3)]
    raw_id = durable.keep(stores[0], batch(60))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def work(s):
        try:
            outcomes.append(durable.process_kept(s, matcher, raw_id).state)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(outcomes) == ["already", "already", "stored"]
    with stores[0].engine.connect() as conn:
        items = conn.execute(select(m.source_state.c["items"]).where(m.source_state.c.source == "test")).scalar_one()
    assert items == 60  # counted once
    assert len(stored_ids(stores[0])) == 60 and tags(stores[0]) == 60
    for s in stores:
        s.dispose()


def test_a_post_the_database_refuses_is_quarantined_and_the_rest_stored(store, matcher):
    refuse_posts(store.engine)
    b = batch(40, cursor={"n": 1}, bad={17})
    out = durable.store_or_quarantine(b, store, matcher)
    assert out.state == "partly"
    assert stored_ids(store) == {f"p{i}" for i in range(40)} - {"p17"}
    assert tags(store) == 39 and store.rollups() == store.recount_rollups()
    assert store.cursor("test") == {"n": 1}  # the cursor moved with the quarantined rows
    [q] = durable.quarantined(store)
    assert q["posts"] == 1 and q["source"] == "test" and q["id"] == out.quarantined[0]["id"]
    assert "value refused by the database" in q["reason"], q["reason"]
    h = durable.health(store, resend_after=300)
    assert h["quarantined"] == 1 and h["quarantined_posts"] == 1 and h["waiting"] == 0
    # replaying without a fix: still quarantined, nothing stored twice
    [again] = durable.replay(store, matcher)
    assert again.state == "quarantined" and again.quarantined_posts == 1
    assert len(durable.quarantined(store)) == 1 and len(stored_ids(store)) == 39


def test_a_retweet_stays_with_its_original_when_a_batch_is_split(store, matcher):
    refuse_posts(store.engine)
    b = batch(10, bad={3})
    # p10 retweets p5 (in the batch): it is matched on p5's words, whichever half it lands in
    b.posts.append(Post(platform="x", platform_id="p10", kind="retweet", author_id="a9", text="RT @user5: NHS wai…",
                        created_at=T0 + timedelta(minutes=20), references=[Reference("retweet", "p5", "a5")]))
    out = durable.store_or_quarantine(b, store, matcher)
    assert out.state == "partly" and out.quarantined_posts == 1
    assert stored_ids(store) == {f"p{i}" for i in range(11)} - {"p3"}
    with store.engine.connect() as conn:
        tagged = {r[0] for r in conn.execute(select(m.posts.c.platform_id).join(
            m.post_topics, m.post_topics.c.post_id == m.posts.c.id))}
    assert "p10" in tagged


def test_a_kept_batch_partly_quarantined_is_marked_stored_once(store, matcher):
    refuse_posts(store.engine)
    raw_id = durable.keep(store, batch(12, bad={0, 11}))
    out = durable.process_kept(store, matcher, raw_id)
    assert out.state == "partly" and out.quarantined_posts == 2
    assert row(store, raw_id).state == durable.STORED
    assert {q["parent_id"] for q in durable.quarantined(store)} == {raw_id}
    assert durable.process_kept(store, matcher, raw_id).state == "already"
    assert len(durable.quarantined(store)) == 2 and len(stored_ids(store)) == 10


def test_replay_stores_a_quarantined_batch_once_the_cause_is_fixed(store, matcher, monkeypatch):
    from monitor import sentiment

    real = sentiment.score

    def broken(text):  # a bug in the pipeline that one text sets off
        if text.endswith("report 507"):
            raise ValueError("sentiment model broke on this text")
        return real(text)

    monkeypatch.setattr(sentiment, "score", broken)
    out = durable.store_or_quarantine(batch(20, start=500), store, matcher)
    assert out.state == "partly" and out.quarantined_posts == 1
    assert "sentiment model broke" in durable.quarantined(store)[0]["reason"]
    monkeypatch.setattr(sentiment, "score", real)  # the fix is deployed
    [done] = durable.replay(store, matcher)
    assert done.state == "stored" and done.result.posts_new == 1
    assert durable.quarantined(store) == [] and len(stored_ids(store)) == 20
    assert tags(store) == 20 and store.rollups() == store.recount_rollups()


def test_the_sweeper_sends_again_what_waits_too_long(store):
    ids = [durable.keep(store, batch(2, start=10 * k)) for k in range(3)]
    t = datetime.now(timezone.utc)
    assert durable.take_due(store, resend_after=60, at=t) == []  # just sent
    sent: list[int] = []
    assert durable.sweep(store, sent.append, resend_after=60, at=t + timedelta(seconds=61))["sent"] == 3
    assert sent == ids
    # sent twice now: due again only after twice as long
    assert durable.take_due(store, resend_after=60, at=t + timedelta(seconds=61 + 90)) == []
    assert durable.take_due(store, resend_after=60, at=t + timedelta(seconds=61 + 121)) == ids

    def broker_away(_):
        raise ConnectionError("broker away")

    late = t + timedelta(hours=1)
    assert durable.sweep(store, broker_away, resend_after=60, at=late)["sent"] == 0
    assert durable.take_due(store, resend_after=60, at=late) == ids  # not sent: due at the next sweep
    h = durable.health(store, resend_after=60, at=late)
    assert h["waiting"] == 3 and h["waiting_posts"] == 6 and h["waiting_too_long"] == 3


def test_faults_of_the_moment_are_told_from_faults_of_the_batch(store_url):
    port = free_port()  # nothing listens there
    dead = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/x", connect_args={"connect_timeout": 2})
    with pytest.raises(OperationalError) as refused:
        dead.connect()
    assert durable.transient(refused.value)
    s = Store(store_url)
    try:
        with pytest.raises(Exception) as refused_value:
            s.write_batch([], [Account(platform="x", platform_id="big", followers=2 ** 70)], source="t")
        assert not durable.transient(refused_value.value)
        if s.dialect == "postgresql":
            assert isinstance(refused_value.value, DataError)
    finally:
        s.dispose()
    assert durable.transient(ConnectionError("broker"))
    assert not durable.transient(ValueError("bad item"))


def test_status_and_the_quarantine_commands_show_what_was_not_stored(tmp_path, matcher):
    from tests.monitor.test_cli import run

    url = f"sqlite:///{tmp_path / 'q.db'}"
    s = Store(url)
    refuse_posts(s.engine)
    durable.store_or_quarantine(batch(6, bad={2}), s, matcher)
    durable.keep(s, batch(3, start=50))  # kept, never sent to a worker
    s.dispose()
    env = {"EARSHOT_DATABASE_URL": url, "EARSHOT_DATA_DIR": str(tmp_path / "var"), "EARSHOT_RESEND_AFTER": "0"}
    st = run("status", env=env)
    assert st.returncode == 0, st.stderr
    assert "1 waiting to be stored (3 posts)" in st.stdout
    assert "1 waiting too long" in st.stdout
    assert "1 quarantined (1 posts not stored)" in st.stdout
    listed = run("quarantine", "list", env=env)
    assert listed.returncode == 0 and "#" in listed.stdout and "test 1 posts" in listed.stdout, listed.stdout
    assert run("quarantine", "replay", env=env).returncode == 2  # nothing named
    again = run("quarantine", "replay", "--all", env=env)
    assert again.returncode == 1 and "still quarantined" in again.stdout, again.stdout + again.stderr


def test_a_collection_cut_by_the_database_going_away_resumes_without_losing_a_page(store, matcher, fake_x):  # noqa: F811
    from monitor.collect import SourceSpec, run_source
    from tests.monitor.test_x_source import Sleeps, search_source

    x, base = fake_x
    spec = SourceSpec("x-search", "x", 300, build=lambda: search_source(base, Sleeps()))  # 10 pages of 10
    sent: list[int] = []
    live = store.engine
    dead = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x", connect_args={"connect_timeout": 2})
    pages = 0

    def hand_on(b):
        nonlocal pages
        pages += 1
        if pages == 4:
            store.engine = dead  # the database goes away before the 4th page is kept
        return durable.hand_to_workers(store, b, sent.append)

    with pytest.raises(OperationalError):
        run_source(spec, store, hand_on)
    store.engine = live
    assert len(sent) == 3 and store.cursor("x-search")["resume"]  # the cursor of the 3rd page, kept with it
    run_source(spec, store, lambda b: durable.hand_to_workers(store, b, sent.append))  # the next pass
    for raw_id in sent:
        assert durable.process_kept(store, matcher, raw_id).state == "stored"
    with store.engine.connect() as conn:
        collected = [r[0] for r in conn.execute(select(m.posts.c.platform_id).where(m.posts.c.referenced_only.is_(False)))]
    assert sorted(collected) == sorted(t["id"] for t in x.tweets)  # every page, none twice
    assert store.cursor("x-search") == {"since_id": {QUERY: x.tweets[0]["id"]}}


def test_a_kept_batch_records_its_source_problems_when_stored_as_in_process(store, matcher):
    b = batch(3, cursor={"n": 2})
    b.errors = ["tweet 9 was deleted"]
    raw_id = durable.keep(store, b)
    state = m.source_state
    with store.engine.connect() as conn:
        before = conn.execute(select(state).where(state.c.source == "test")).one()
    assert before.cursor == {"n": 2} and before.errors == 0
    durable.process_kept(store, matcher, raw_id)
    with store.engine.connect() as conn:
        after = conn.execute(select(state).where(state.c.source == "test")).one()
    assert after.errors == 1 and after.last_error == "tweet 9 was deleted"
    assert after._mapping["items"] == 3 and after.new_items == 3
