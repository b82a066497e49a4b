"""People's marks change what every figure counts, reversibly, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from influence.graph import read_edges
from monitor import marks, models as m
from monitor.items import Account, Post, Reference
from monitor.store import Scored

T0 = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)


def fill(store):
    a = Post(platform="x", platform_id="1", kind="original", author_id="a", text="flu jabs open", created_at=T0)
    b = Post(platform="x", platform_id="2", kind="original", author_id="a", text="flu again", created_at=T0 + timedelta(minutes=1))
    rt = Post(platform="x", platform_id="3", kind="retweet", author_id="b", text="RT flu jabs open",
              created_at=T0 + timedelta(minutes=2), references=[Reference("retweet", "1", "a")])
    store.write_batch([Scored(a, -0.6, {"flu": ["flu"], "vacc": ["jabs"]}), Scored(b, 0.5, {"flu": ["flu"]}),
                       Scored(rt, -0.6, {"flu": ["flu"]})],
                      [Account("x", "a", handle="alice"), Account("x", "b", handle="bob")])
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(m.posts.c.platform_id, m.posts.c.id)).all())
    return store, ids


@pytest.fixture
def stored(store):
    return fill(store)


@pytest.fixture
def stored_sqlite(sqlite_store):
    """For the tests of SQLite's query plans (the store of the other tests runs on each dialect)."""
    return fill(sqlite_store)


def rollup(store, topic):
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(m.rollups.c.posts, m.rollups.c.authors, m.rollups.c.sentiment_sum,
                                                      m.rollups.c.negative, m.rollups.c.positive)
                                               .where(m.rollups.c.topic == topic))]


def test_irrelevant_leaves_counts_and_the_graph_and_comes_back_when_undone(stored):
    store, ids = stored
    assert rollup(store, "flu") == [(3, 2, pytest.approx(-0.7), 2, 1)]
    assert store.topic_counts()["flu"]["posts"] == 3
    assert len(read_edges(store.engine, "flu").src) == 1  # bob retweeted alice
    mk = marks.mark_irrelevant(store, ids["3"], "flu", "carol")
    assert (mk["kind"], mk["topic"], mk["by"], mk["terms"]) == ("irrelevant", "flu", "carol", ["flu"])
    # bob's only post in the bucket is gone: one author fewer
    assert rollup(store, "flu") == [(2, 1, pytest.approx(-0.1), 1, 1)]
    assert len(read_edges(store.engine, "flu").src) == 0
    assert rollup(store, "vacc") == [(1, 1, pytest.approx(-0.6), 1, 0)]  # other topics untouched
    with pytest.raises(marks.MarkError, match="not on topic"):
        marks.mark_irrelevant(store, ids["3"], "flu", "carol")
    # alice has another post in the bucket: the author count stays
    marks.mark_irrelevant(store, ids["2"], "flu", "carol")
    assert rollup(store, "flu") == [(1, 1, pytest.approx(-0.6), 1, 0)]
    marks.undo(store, mk["id"], "dave")
    assert rollup(store, "flu") == [(2, 2, pytest.approx(-1.2), 2, 0)]
    assert len(read_edges(store.engine, "flu").src) == 1
    with pytest.raises(marks.MarkError, match="already undone by dave"):
        marks.undo(store, mk["id"], "dave")
    stats = marks.review_stats(store)["flu"]
    assert (stats["posts"], stats["irrelevant"]) == (2, 1) and stats["irrelevant_share"] == pytest.approx(1 / 3)


def test_a_sentiment_correction_moves_the_rollups_of_every_topic_and_is_undone(stored):
    store, ids = stored
    agree = marks.correct_sentiment(store, ids["1"], "negative", "carol")  # VADER said -0.6: agrees
    assert agree["sentiment"] == -0.6 and rollup(store, "vacc") == [(1, 1, pytest.approx(-0.6), 1, 0)]
    fix = marks.correct_sentiment(store, ids["1"], "positive", "carol")
    assert fix["machine_sentiment"] == -0.6 and fix["sentiment"] == marks.LABEL_SCORES["positive"]
    assert rollup(store, "vacc") == [(1, 1, pytest.approx(0.5), 0, 1)]
    assert rollup(store, "flu") == [(3, 2, pytest.approx(0.4), 1, 2)]
    assert marks.get_mark(store, agree["id"])["undone_at"] is not None  # replaced by the newer check
    stats = marks.review_stats(store)
    assert (stats["vacc"]["sentiment_checked"], stats["vacc"]["disagreement_rate"]) == (1, 1.0)
    marks.undo(store, fix["id"], "carol")
    assert rollup(store, "vacc") == [(1, 1, pytest.approx(-0.6), 1, 0)]
    with store.engine.connect() as conn:
        assert conn.execute(select(m.posts.c.sentiment).where(m.posts.c.id == ids["1"])).scalar() == -0.6
    with pytest.raises(marks.MarkError, match="one of"):
        marks.correct_sentiment(store, ids["1"], "angry", "carol")
    assert [k["kind"] for k in marks.marks_of(store, ids["1"])] == ["sentiment", "sentiment"]


def test_topic_counts_read_the_rollups_only_and_count_authors_as_the_tags_do(stored):
    from sqlalchemy import event, func

    store, ids = stored
    later = Post(platform="x", platform_id="4", kind="original", author_id="a", text="flu next day",
                 created_at=T0 + timedelta(days=1))
    store.write_batch([Scored(later, 0.0, {"flu": ["flu"]})], [Account("x", "a", handle="alice")])
    marks.mark_irrelevant(store, ids["3"], "flu", "carol")  # bob's only post: one author fewer
    seen: list[str] = []

    def spy(conn, cursor, statement, *a):
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", spy)
    try:
        counts = store.topic_counts(since=T0, until=T0 + timedelta(days=2))
        one_day = store.topic_counts(since=T0, until=T0 + timedelta(hours=1))
    finally:
        event.remove(store.engine, "before_cursor_execute", spy)
    assert seen and not any("post_topics" in s or "FROM posts" in s for s in seen), seen
    pt = m.post_topics
    with store.engine.connect() as conn:
        tagged = conn.execute(select(func.count(pt.c.account_id.distinct())).where(pt.c.topic == "flu")).scalar()
    assert counts["flu"]["authors"] == tagged == 1 and counts["flu"]["posts"] == 3
    assert one_day["flu"]["posts"] == 2 and one_day["vacc"]["authors"] == 1


def test_review_stats_start_from_the_checks_not_from_the_topics_tags(stored_sqlite):
    """The checks are few and the tags many: no statement walks a topic's tags in the window looking for checks."""
    from sqlalchemy import event

    store, ids = stored_sqlite
    marks.correct_sentiment(store, ids["1"], "positive", "carol")
    seen: list[tuple] = []

    def spy(c, cur, st, params, *a):
        seen.append((st, params))

    event.listen(store.engine, "before_cursor_execute", spy)
    try:
        stats = marks.review_stats(store, since=T0, until=T0 + timedelta(hours=1), topic="flu")
    finally:
        event.remove(store.engine, "before_cursor_execute", spy)
    assert stats["flu"]["sentiment_checked"] == 1 and stats["flu"]["sentiment_disagreed"] == 1
    raw = store.engine.raw_connection()
    try:
        for st, params in seen:
            if "post_topics" in st:
                plan = " ".join(str(r) for r in raw.execute("EXPLAIN QUERY PLAN " + st, params).fetchall())
                assert "ix_post_topics_topic_time" not in plan, (st, plan)
    finally:
        raw.close()
