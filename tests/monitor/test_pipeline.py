"""The processing stage: what a worker scores, and what it does not score twice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitor import models as m
from monitor import pipeline, sentiment
from monitor.config import Topic
from monitor.items import Account, Batch, Post, Reference
from monitor.query import Query
from monitor.store import Store
from monitor.topics import Matcher

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)
ORIGINAL = "The NHS waiting list is a disgrace, terrible news"


def topics():
    return Matcher([Topic(id="waiting_times", label="Waiting", query=Query('"waiting list*"'))])


def original(referenced_only: bool = False) -> Post:
    p = Post("x", "1", "original", "a", ORIGINAL, T0)
    if referenced_only:
        p.extra["referenced_only"] = True
    return p


def retweet(pid: str, minutes: int) -> Post:
    return Post("x", pid, "retweet", "b", "RT @alice: The NHS waiting list is a disgr…", T0 + timedelta(minutes=minutes),
                references=[Reference("retweet", "1", "a")])


def accounts():
    return [Account("x", "a", handle="alice"), Account("x", "b", handle="bob")]


@pytest.fixture
def scored_texts(monkeypatch):
    """Every text sentiment.score is asked for."""
    texts: list[str] = []
    score = sentiment.score

    def counted(text):
        texts.append(text)
        return score(text)

    monkeypatch.setattr(sentiment, "score", counted)
    return texts


def test_a_post_is_scored_once_by_a_worker(tmp_path, scored_texts):
    store, matcher = Store(f"sqlite:///{tmp_path / 's.db'}"), topics()
    first = pipeline.process_batch(Batch("x-search", [original(), retweet("2", 1)], accounts()), store, matcher)
    assert (first.posts_in, first.posts_new) == (2, 2)
    assert scored_texts == [ORIGINAL]  # the retweet takes the original's words and score
    # X sends the original again with every page that retweets it
    second = pipeline.process_batch(
        Batch("x-search", [original(referenced_only=True), retweet("3", 2), Post("x", "4", "original", "b", "Waiting lists fall", T0)],
              accounts()), store, matcher)
    assert (second.posts_in, second.posts_new) == (3, 2)
    assert scored_texts == [ORIGINAL, "Waiting lists fall"]
    assert second.topic_posts == {"waiting_times": 2}
    with store.engine.connect() as conn:
        sent = dict(conn.execute(select(m.posts.c.platform_id, m.posts.c.sentiment)).all())
        tagged = conn.execute(select(m.post_topics.c.post_id)).all()
    assert sent["3"] == sent["2"] == sent["1"] < -0.05  # the retweet carries the original's (negative) score
    assert len(tagged) == 4
    with store.engine.connect() as conn:
        items = conn.execute(select(m.source_state.c["items"])).scalar_one()
    assert items == 5  # the source's items count every post delivered, the skipped one too
    store.dispose()


def test_a_new_worker_or_configuration_scores_afresh(tmp_path, scored_texts):
    batch = lambda: Batch("x-search", [original(), retweet("2", 1)], accounts())  # noqa: E731
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    pipeline.process_batch(batch(), store, topics())
    pipeline.process_batch(batch(), store, topics())  # a new configuration: nothing remembered but what is stored
    assert scored_texts == [ORIGINAL]  # the store remembers both posts: nothing to score
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    pipeline.process_batch(batch(), other, topics())
    assert scored_texts == [ORIGINAL, ORIGINAL]
    assert other.counts()["posts"] == 2
    store.dispose()
    other.dispose()


def test_a_referenced_post_gets_its_topics_when_a_retweet_needs_them(tmp_path, scored_texts):
    """A post first seen only as a reference is scored but not matched; a later retweet of it is matched on it."""
    store, matcher = Store(f"sqlite:///{tmp_path / 's.db'}"), topics()
    quote = Post("x", "5", "quote", "b", "Look at this", T0, references=[Reference("quote", "1", "a")])
    r = pipeline.process_batch(Batch("x-search", [quote, original(referenced_only=True)], accounts()), store, matcher)
    assert r.topic_posts == {}
    store2 = Store(f"sqlite:///{tmp_path / 's2.db'}")  # same worker memory, another store: the original is stored again
    r2 = pipeline.process_batch(Batch("x-search", [retweet("6", 3), original(referenced_only=True)], accounts()),
                                store2, matcher)
    assert r2.topic_posts == {"waiting_times": 1}  # the retweet, on the original's words
    assert scored_texts == ["Look at this", ORIGINAL]  # each once, in batch order
    store.dispose()
    store2.dispose()
