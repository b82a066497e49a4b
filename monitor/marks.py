"""People check the machine's work: a post marked irrelevant to a topic, a sentiment corrected.

**Irrelevant to a topic.** The post's tag on that topic (``post_topics``) is removed and its
5-minute rollup is decreased (posts, sentiment sum, negative or positive count, and the distinct
author when it was the author's only post on the topic in that bucket), in one transaction. Every
figure that reads the tags or the rollups -- topic counts, the alert detectors, the influence graph,
the briefing -- leaves it out from then on. The mark (``post_marks``) keeps the matched terms, who
and when; undoing it puts the tag and the counts back.

**Sentiment.** A person says whether the post is negative, neutral or positive. When that agrees
with the automatic score (VADER, see :mod:`monitor.sentiment`), the check is recorded and nothing
changes. When it disagrees, the post's score becomes :data:`LABEL_SCORES` of the label and the
rollups of every topic it is on move with it; undoing restores the automatic score. A newer
correction of the same post replaces the older one.

**What the checks say.** :func:`review_stats`: per topic, the share of its posts people marked
irrelevant (a sign its query needs tightening) and how often people disagreed with the automatic
sentiment among the posts they checked.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor import models as m, shares
from monitor.sentiment import NEGATIVE, POSITIVE
from monitor.store import Store

LABELS = ("negative", "neutral", "positive")
#: The score a corrected post counts with: inside the label's band, at its usual strength.
LABEL_SCORES = {"negative": -0.5, "neutral": 0.0, "positive": 0.5}


class MarkError(ValueError):
    """A mark that cannot be made or undone (no such post, not on that topic, already undone)."""


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def label_of(score: float) -> str:
    """The label of a compound score, with the thresholds the rollups count by."""
    if score <= NEGATIVE:
        return "negative"
    if score >= POSITIVE:
        return "positive"
    return "neutral"


def _post(conn, post_id: int):
    row = conn.execute(select(m.posts.c.id, m.posts.c.account_id, m.posts.c.created_at, m.posts.c.sentiment)
                       .where(m.posts.c.id == post_id)).first()
    if row is None:
        raise MarkError(f"no post #{post_id}")
    return row


def _rollup_add(conn, dialect: str, topic: str, bucket: datetime, posts: int, ssum: float, neg: int, pos: int,
                authors: int = 0) -> None:
    r = m.rollups
    if posts > 0 or authors > 0:  # putting back: the bucket may have been emptied meanwhile
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(r)
        stmt = ins.values(topic=topic, bucket=bucket, posts=posts, authors=authors, sentiment_sum=ssum,
                          negative=neg, positive=pos)
        stmt = stmt.on_conflict_do_update(index_elements=["topic", "bucket"], set_={
            "posts": r.c.posts + posts, "authors": r.c.authors + authors,
            "sentiment_sum": r.c.sentiment_sum + ssum, "negative": r.c.negative + neg,
            "positive": r.c.positive + pos})
        conn.execute(stmt)
        return
    conn.execute(update(r).where(r.c.topic == topic, r.c.bucket == bucket).values(
        posts=r.c.posts + posts, authors=r.c.authors + authors, sentiment_sum=r.c.sentiment_sum + ssum,
        negative=r.c.negative + neg, positive=r.c.positive + pos))


def _counts(score: float) -> tuple[int, int]:
    return int(score <= NEGATIVE), int(score >= POSITIVE)


def _bucket_range(bucket: datetime) -> tuple[datetime, datetime]:
    return bucket, bucket + timedelta(seconds=m.BUCKET_SECONDS)


def mark_irrelevant(store: Store, post_id: int, topic: str, by: str, *, when: datetime | None = None) -> dict[str, Any]:
    """Take ``post_id`` off ``topic`` (counts, alerts, influence, briefing from then on); the mark row."""
    by = _who(by)
    when = when or now_utc()
    pt, ra = m.post_topics, m.rollup_authors
    with store.engine.begin() as conn:
        post = _post(conn, post_id)
        tag = conn.execute(select(pt.c.terms, pt.c.account_id, pt.c.created_at)
                           .where(pt.c.post_id == post_id, pt.c.topic == topic)).first()
        if tag is None:
            raise MarkError(f"post #{post_id} is not on topic {topic!r} (already marked irrelevant?)")
        shares.tag_changed(conn, store.dialect, post_id, topic, -1)
        conn.execute(delete(pt).where(pt.c.post_id == post_id, pt.c.topic == topic))
        bucket = m.bucket_start(post.created_at)
        lo, hi = _bucket_range(bucket)
        others = conn.execute(select(func.count()).select_from(pt).where(
            pt.c.topic == topic, pt.c.account_id == tag.account_id, pt.c.created_at >= lo,
            pt.c.created_at < hi)).scalar()
        authors = 0
        if not others:
            gone = conn.execute(delete(ra).where(ra.c.topic == topic, ra.c.bucket == bucket,
                                                 ra.c.account_id == tag.account_id)).rowcount
            authors = -gone
        neg, pos = _counts(post.sentiment)
        _rollup_add(conn, store.dialect, topic, bucket, -1, -post.sentiment, -neg, -pos, authors)
        mid = conn.execute(insert(m.post_marks).values(
            post_id=post_id, kind="irrelevant", topic=topic, terms=tag.terms, machine_sentiment=post.sentiment,
            by=by, at=when)).inserted_primary_key[0]
    return get_mark(store, mid)


def correct_sentiment(store: Store, post_id: int, label: str, by: str, *, when: datetime | None = None) -> dict[str, Any]:
    """Record a person's sentiment for ``post_id``; when it disagrees, the post counts with the label's score."""
    if label not in LABELS:
        raise MarkError(f"sentiment is one of {', '.join(LABELS)}, not {label!r}")
    by = _who(by)
    when = when or now_utc()
    pm = m.post_marks
    with store.engine.begin() as conn:
        post = _post(conn, post_id)
        prev = conn.execute(select(pm).where(pm.c.post_id == post_id, pm.c.kind == "sentiment",
                                             pm.c.undone_at.is_(None))).mappings().first()
        machine = prev["machine_sentiment"] if prev else post.sentiment
        new = machine if label_of(machine) == label else LABEL_SCORES[label]
        if prev:
            conn.execute(update(pm).where(pm.c.id == prev["id"]).values(undone_by=by, undone_at=when))
        _set_sentiment(conn, store.dialect, post, new)
        mid = conn.execute(insert(pm).values(post_id=post_id, kind="sentiment", label=label,
                                             machine_sentiment=machine, sentiment=new, by=by,
                                             at=when)).inserted_primary_key[0]
    return get_mark(store, mid)


def _set_sentiment(conn, dialect: str, post, new: float) -> None:
    old = post.sentiment
    if new == old:
        return
    on, op_ = _counts(old)
    nn, np_ = _counts(new)
    bucket = m.bucket_start(post.created_at)
    pt = m.post_topics
    for (topic,) in conn.execute(select(pt.c.topic).where(pt.c.post_id == post.id)).all():
        _rollup_add(conn, dialect, topic, bucket, 0, new - old, nn - on, np_ - op_)
    conn.execute(update(m.posts).where(m.posts.c.id == post.id).values(sentiment=new))


def undo(store: Store, mark_id: int, by: str, *, when: datetime | None = None) -> dict[str, Any]:
    """Undo a mark: the post is back on its topic, or counts with its automatic sentiment again."""
    by = _who(by)
    when = when or now_utc()
    pm, pt, ra = m.post_marks, m.post_topics, m.rollup_authors
    with store.engine.begin() as conn:
        mark = conn.execute(select(pm).where(pm.c.id == mark_id)).mappings().first()
        if mark is None:
            raise MarkError(f"no mark #{mark_id}")
        if mark["undone_at"] is not None:
            raise MarkError(f"mark #{mark_id} was already undone by {mark['undone_by']}")
        post = _post(conn, mark["post_id"])
        if mark["kind"] == "irrelevant":
            topic = mark["topic"]
            if conn.execute(select(pt.c.post_id).where(pt.c.post_id == post.id, pt.c.topic == topic)).first() is None:
                conn.execute(insert(pt).values(post_id=post.id, topic=topic, created_at=post.created_at,
                                               account_id=post.account_id, terms=mark["terms"]))
                shares.tag_changed(conn, store.dialect, post.id, topic, 1)
                bucket = m.bucket_start(post.created_at)
                new_author = conn.execute(select(ra.c.account_id).where(
                    ra.c.topic == topic, ra.c.bucket == bucket, ra.c.account_id == post.account_id)).first() is None
                if new_author:
                    conn.execute(insert(ra).values(topic=topic, bucket=bucket, account_id=post.account_id))
                neg, pos = _counts(post.sentiment)
                _rollup_add(conn, store.dialect, topic, bucket, 1, post.sentiment, neg, pos, int(new_author))
        else:
            _set_sentiment(conn, store.dialect, post, mark["machine_sentiment"])
        conn.execute(update(pm).where(pm.c.id == mark_id).values(undone_by=by, undone_at=when))
    return get_mark(store, mark_id)


def get_mark(store: Store, mark_id: int) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(m.post_marks).where(m.post_marks.c.id == mark_id)).mappings().first()
    return dict(row) if row else None


def marks_of(store: Store, post_id: int) -> list[dict[str, Any]]:
    """Every mark of a post, newest first (undone ones too: the record)."""
    pm = m.post_marks
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(pm).where(pm.c.post_id == post_id).order_by(pm.c.id.desc()))
                .mappings()]


def recent_marks(store: Store, *, topic: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    pm = m.post_marks
    q = select(pm).order_by(pm.c.id.desc()).limit(limit)
    if topic:
        q = q.where(pm.c.topic == topic)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def review_stats(store: Store, *, since: datetime | None = None, until: datetime | None = None,
                 topic: str | None = None) -> dict[str, dict[str, Any]]:
    """Per topic (or one ``topic``): posts on it now (from the rollups), posts marked irrelevant (still in
    force) and their share of both, sentiment checks made on its posts and how often they disagreed
    with the automatic score. Marks are few: their queries start from ``post_marks``."""
    pm, pt, p, r = m.post_marks, m.post_topics, m.posts, m.rollups
    out: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as conn:
        q = _within(select(r.c.topic, func.sum(r.c.posts)).group_by(r.c.topic), r.c.topic, r.c.bucket,
                    topic, since, until)
        for t, n in conn.execute(q):
            out.setdefault(t, _empty())["posts"] = int(n or 0)
        q = _within(select(pm.c.topic, func.count()).select_from(pm.join(p, p.c.id == pm.c.post_id))
                    .where(pm.c.kind == "irrelevant", pm.c.undone_at.is_(None)).group_by(pm.c.topic),
                    pm.c.topic, p.c.created_at, topic, since, until)
        for t, n in conn.execute(q):
            out.setdefault(t, _empty())["irrelevant"] = int(n)
        # sentiment checks in force, counted on every topic the post is on: the checks first (a join would
        # let SQLite walk the topic's tags in the window and look for a check on each: 135 ms at 2M posts)
        checks = conn.execute(select(pm.c.post_id, pm.c.label, pm.c.machine_sentiment)
                              .where(pm.c.kind == "sentiment", pm.c.undone_at.is_(None))).all()
        by_post: dict[int, list[tuple[str, float]]] = {}
        for post_id, label, machine in checks:
            by_post.setdefault(post_id, []).append((label, machine))
        ids = sorted(by_post)
        for k in range(0, len(ids), 500):
            q = _within(select(pt.c.post_id, pt.c.topic).where(pt.c.post_id.in_(ids[k:k + 500])), pt.c.topic,
                        pt.c.created_at, topic, since, until)
            for post_id, t in conn.execute(q):
                for label, machine in by_post[post_id]:
                    s = out.setdefault(t, _empty())
                    s["sentiment_checked"] += 1
                    s["sentiment_disagreed"] += int(label != label_of(machine))
    for s in out.values():
        seen = s["posts"] + s["irrelevant"]
        s["irrelevant_share"] = s["irrelevant"] / seen if seen else None
        s["disagreement_rate"] = s["sentiment_disagreed"] / s["sentiment_checked"] if s["sentiment_checked"] else None
    return out


def _within(q, topic_col, time_col, topic: str | None, since: datetime | None, until: datetime | None):
    """``q`` kept to ``topic`` on ``topic_col`` and to ``[since, until)`` on ``time_col``, each when given."""
    if topic is not None:
        q = q.where(topic_col == topic)
    if since is not None:
        q = q.where(time_col >= since)
    if until is not None:
        q = q.where(time_col < until)
    return q


def _empty() -> dict[str, Any]:
    return {"posts": 0, "irrelevant": 0, "sentiment_checked": 0, "sentiment_disagreed": 0}


def _who(by: str) -> str:
    by = (by or "").strip()
    if not by:
        raise MarkError("say who made the mark")
    return by[:128]
