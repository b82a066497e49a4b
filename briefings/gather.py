"""Gather: everything the briefing needs about one week, read from the store in a few queries.

A plain function over the store (:func:`gather`); nothing here renders or names anyone. The
heavy read is the week's topic posts (:func:`week_posts`: one query over ``post_topics`` joined
to ``posts``, raw rows, text only for posts that are not retweets); counts and trends come from
the 5-minute rollups, so the 12-week trend costs a few thousand rows whatever the volume.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from briefings.week import Week
from monitor import models as m
from monitor.alerts.records import list_alerts
from monitor.config import Config
from monitor.health import gaps_between
from monitor.store import Store

log = logging.getLogger(__name__)

TREND_WEEKS = 12  # weeks before the briefing's week in the trend chart and the long-term average


@dataclass
class PostRow:
    """One post on a topic in the week (retweets carry no text: they join the story they retweet).

    ``ts`` is its time in epoch seconds (to the millisecond); :attr:`created_at` is the same as an
    aware UTC datetime, made when asked for (the stories work on ``ts``).
    """

    __slots__ = ("id", "platform", "platform_id", "kind", "account_id", "ts", "ref_kind", "ref_id",
                 "conversation_id", "links", "sentiment", "text", "title", "url")
    id: int
    platform: str
    platform_id: str
    kind: str
    account_id: int
    ts: float
    ref_kind: str | None
    ref_id: str | None
    conversation_id: str | None
    links: list[str] | None
    sentiment: float
    text: str | None
    title: str | None
    url: str | None

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.ts, tz=timezone.utc)


@dataclass
class Account:
    __slots__ = ("id", "platform", "handle", "name", "followers", "verified")
    id: int
    platform: str
    handle: str | None
    name: str | None
    followers: int | None
    verified: bool | None


@dataclass
class TopicWeek:
    topic: str
    label: str
    stakeholders: list[str]
    weeks: list[str]  # TREND_WEEKS + 1 labels, oldest first, the briefing's week last
    weekly_posts: list[int]
    weekly_sentiment: list[float | None]  # mean VADER compound, None for a week without posts
    weekly_negative: list[float | None]  # share of negative posts
    days: list[date]
    daily_posts: list[int]
    daily_sentiment: list[float | None]
    posts: list[PostRow] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Gathered:
    week: Week
    topics: dict[str, TopicWeek]
    accounts: dict[int, Account]
    coverage: dict[str, Any]
    history_start: datetime | None  # the store's first rollup: the trend says how many weeks it saw


def _index(starts: list[datetime], t: datetime) -> int:
    """Index of the period (by sorted start times) holding ``t``."""
    return bisect_right(starts, t) - 1


def gather(store: Store, config: Config, week: Week, *, topics: list[str] | None = None) -> Gathered:
    """Read the week (and the 12 weeks before it, from the rollups) for the configured topics."""
    tz = ZoneInfo(week.tz)
    wanted = [t for t in (topics or list(config.topics)) if t in config.topics]
    trend = [week.previous(n) for n in range(TREND_WEEKS, 0, -1)] + [week]
    starts = [w.start for w in trend]
    since, until = starts[0], week.end
    day_starts = [datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(timezone.utc) for d in week.days()]
    out: dict[str, TopicWeek] = {}
    for tid in wanted:
        t = config.topics[tid]
        out[tid] = TopicWeek(tid, t.label, list(t.stakeholders), [w.label for w in trend],
                             [0] * len(trend), [None] * len(trend), [None] * len(trend), week.days(),
                             [0] * 7, [None] * 7)
    r = m.rollups
    wsum: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0, 0])
    dsum: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0])
    with store.engine.connect() as conn:
        history_start = conn.execute(select(func.min(r.c.bucket))).scalar()
        q = (select(r.c.topic, r.c.bucket, r.c.posts, r.c.sentiment_sum, r.c.negative)
             .where(r.c.bucket >= since, r.c.bucket < until, r.c.topic.in_(wanted)))
        for topic, bucket, n, s, neg in conn.execute(q):
            i = _index(starts, bucket)
            a = wsum[(topic, i)]
            a[0] += n
            a[1] += s
            a[2] += neg
            if bucket >= week.start:
                d = _index(day_starts, bucket)
                b = dsum[(topic, d)]
                b[0] += n
                b[1] += s
        for (topic, i), (n, s, neg) in wsum.items():
            tw = out[topic]
            tw.weekly_posts[i] = int(n)
            tw.weekly_sentiment[i] = s / n if n else None
            tw.weekly_negative[i] = neg / n if n else None
        for (topic, d), (n, s) in dsum.items():
            out[topic].daily_posts[d] = int(n)
            out[topic].daily_sentiment[d] = s / n if n else None

        # the week's posts on the topics: one pass, raw rows (see week_posts)
        author_ids: set[int] = set()
        for topic, pr in week_posts(conn, week, wanted):
            out[topic].posts.append(pr)
            author_ids.add(pr.account_id)
        for tw in out.values():
            tw.posts.sort(key=_post_order)
        accounts = _accounts(conn, author_ids)
    for tid in wanted:
        out[tid].alerts = sorted(list_alerts(store, topic=tid, since=week.start, until=week.end, limit=500),
                                 key=lambda a: (a["opened_at"], a["id"]))
    return Gathered(week, out, accounts, coverage(store, config, week), history_start)


def _post_order(p: PostRow) -> tuple[float, int]:
    return (p.ts, p.id)


def week_posts(conn, week: Week, topics: list[str]) -> Iterator[tuple[str, PostRow]]:
    """``(topic, PostRow)`` of every post on ``topics`` in the week, unordered.

    The heaviest read of the briefing (a row per post and topic: about a million in a busy week), so
    it runs on the DB-API cursor (:func:`influence.graph.raw_query`'s way) with the time as epoch
    seconds computed by the database: no SQLAlchemy row or type processing, no datetime per row.
    """
    if not topics:
        return
    dialect = conn.engine.dialect.name
    ph = "?" if conn.engine.dialect.paramstyle in ("qmark", "numeric") else "%s"
    epoch = ("round((julianday(p.created_at) - 2440587.5) * 86400.0, 3)" if dialect == "sqlite"
             else "EXTRACT(EPOCH FROM p.created_at)")
    sql = (f"SELECT pt.topic, p.id, p.platform, p.platform_id, p.kind, p.account_id, {epoch}, p.ref_kind, "
           "p.ref_platform_id, p.conversation_id, p.links, p.sentiment, "
           "CASE WHEN p.kind = 'retweet' THEN NULL ELSE p.text END, p.title, p.url "
           "FROM post_topics pt JOIN posts p ON p.id = pt.post_id "
           f"WHERE pt.topic IN ({', '.join([ph] * len(topics))}) AND pt.created_at >= {ph} AND pt.created_at < {ph}")
    bind = m.post_topics.c.created_at.type.dialect_impl(conn.engine.dialect).bind_processor(conn.engine.dialect)
    params = (*topics, *(bind(t) if bind else t for t in (week.start, week.end)))
    loads = json.loads
    cur = conn.connection.dbapi_connection.cursor()
    try:
        cur.execute(sql, params)
        while True:
            rows = cur.fetchmany(10_000)
            if not rows:
                break
            for (topic, pid, plat, plid, kind, acc, ts, rk, rid, conv, links, sent, text, title, url) in rows:
                if links is not None and isinstance(links, str):
                    links = loads(links)
                yield topic, PostRow(pid, plat, plid, kind, acc, float(ts), rk, rid, conv, links, sent, text, title, url)
    finally:
        cur.close()


def _accounts(conn, ids: set[int]) -> dict[int, Account]:
    a = m.accounts
    out: dict[int, Account] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), 5000):
        chunk = ordered[i:i + 5000]
        q = select(a.c.id, a.c.platform, a.c.handle, a.c.name, a.c.followers, a.c.verified).where(a.c.id.in_(chunk))
        for row in conn.execute(q):
            out[row[0]] = Account(*row)
    return out


def accounts_by_handle(store: Store, handles: set[str]) -> dict[str, Account]:
    """Accounts by lower-case handle (for handles mentioned in text but not among the week's authors)."""
    if not handles:
        return {}
    a = m.accounts
    out: dict[str, Account] = {}
    hs = sorted(handles)
    with store.engine.connect() as conn:
        for i in range(0, len(hs), 500):
            q = (select(a.c.id, a.c.platform, a.c.handle, a.c.name, a.c.followers, a.c.verified)
                 .where(func.lower(a.c.handle).in_(hs[i:i + 500])).order_by(a.c.id))
            for row in conn.execute(q):
                out.setdefault(row[2].lower(), Account(*row))
    return out


def coverage(store: Store, config: Config, week: Week) -> dict[str, Any]:
    """What collection saw and did not see in the week: sources, their posts, gaps and rate-limit waits."""
    p = m.posts
    configured = [f"rss:{f.name}" for f in config.feeds]
    if config.x_search.enabled:
        configured.append("x-search")
    if config.x_stream.enabled:
        configured.append("x-stream")
    with store.engine.connect() as conn:
        q = (select(p.c.source, func.count()).where(p.c.created_at >= week.start, p.c.created_at < week.end,
                                                    p.c.referenced_only.is_(False))
             .group_by(p.c.source))
        per_source = {src or "unknown": int(n) for src, n in conn.execute(q)}
        states = {r["source"]: dict(r) for r in conn.execute(select(m.source_state)).mappings()}
        pm = m.post_marks
        q = (select(pm.c.topic, func.count(pm.c.post_id.distinct()))
             .select_from(pm.join(p, p.c.id == pm.c.post_id))
             .where(pm.c.kind == "irrelevant", pm.c.undone_at.is_(None), p.c.created_at >= week.start,
                    p.c.created_at < week.end)
             .group_by(pm.c.topic))
        irrelevant = {t: int(n) for t, n in conn.execute(q) if t in config.topics}
    gaps = gaps_between(store, week.start, week.end)
    week_s = (week.end - week.start).total_seconds()
    by_source: dict[str, dict[str, Any]] = defaultdict(lambda: {"gaps": 0, "gap_seconds": 0.0, "rate_limit_waits": 0,
                                                                "rate_limit_seconds": 0.0, "reasons": set()})
    for g in gaps:
        start = max(g["start"], week.start)
        end = min(g["end"] or week.end, week.end)
        secs = max(0.0, (end - start).total_seconds())
        s = by_source[g["source"]]
        if g["reason"] == "rate_limited":
            s["rate_limit_waits"] += 1
            s["rate_limit_seconds"] += secs
        else:
            s["gaps"] += 1
            s["gap_seconds"] += secs
            s["reasons"].add(g["reason"])
    sources = []
    for name in sorted(set(configured) | set(per_source) | set(by_source)):
        g = by_source.get(name) or {"gaps": 0, "gap_seconds": 0.0, "rate_limit_waits": 0, "rate_limit_seconds": 0.0,
                                    "reasons": set()}
        st = states.get(name) or {}
        posts = per_source.get(name, 0)
        down = name in configured and (posts == 0 or g["gap_seconds"] >= week_s * 0.999)
        sources.append({
            "name": name, "configured": name in configured, "posts": posts,
            "gaps": g["gaps"], "gap_hours": round(g["gap_seconds"] / 3600, 1), "reasons": sorted(g["reasons"]),
            "rate_limit_waits": g["rate_limit_waits"], "rate_limit_minutes": round(g["rate_limit_seconds"] / 60, 1),
            "down_all_week": down, "last_error": (st.get("last_error") or None) if down else None,
        })
    return {"sources": sources, "posts": sum(per_source.values()), "irrelevant": sum(irrelevant.values()),
            "irrelevant_by_topic": irrelevant}
