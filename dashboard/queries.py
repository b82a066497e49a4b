"""Reads behind the topic, account and status pages (plain functions over the store).

Counts come from the rollups when every platform is asked for (small tables), and from the topic
tags joined with the posts when one platform is (the rollups are per topic, not per platform).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import case, func, literal_column, select

from dashboard.charts import floor_time, volume
from dashboard.links import post_url, safe_url
from monitor import models as m, shares
from monitor.sentiment import NEGATIVE, POSITIVE
from monitor.store import Store

POST_COLUMNS = (m.posts.c.id, m.posts.c.platform, m.posts.c.platform_id, m.posts.c.kind, m.posts.c.created_at,
                m.posts.c.text, m.posts.c.title, m.posts.c.url, m.posts.c.sentiment, m.posts.c.lang,
                m.accounts.c.id.label("account_id"), m.accounts.c.handle, m.accounts.c.name)


def series(store: Store, topic: str, start: datetime, end: datetime, step: int,
           platform: str | None = None) -> list[dict[str, Any]]:
    """Posts, sentiment and negative share per ``step`` seconds (rollups, or posts for one platform)."""
    if not platform:
        return volume(store, topic, start, end, step)
    pt, p = m.post_topics, m.posts
    first = floor_time(start, step)
    n = max(0, int((end - first).total_seconds() // step) + (1 if (end - first).total_seconds() % step else 0))
    out = [{"t": first + timedelta(seconds=i * step), "posts": 0, "sentiment_sum": 0.0, "negative": 0, "positive": 0}
           for i in range(n)]
    if store.dialect == "sqlite":
        key = literal_column(f"(CAST(strftime('%s', post_topics.created_at) AS INTEGER) / {int(step)})")
    else:
        key = literal_column(f"floor(extract(epoch from post_topics.created_at) / {int(step)})")
    q = (select(key.label("k"), func.count(), func.sum(p.c.sentiment),
                func.sum(case((p.c.sentiment <= NEGATIVE, 1), else_=0)), func.sum(case((p.c.sentiment >= POSITIVE, 1), else_=0)))
         .select_from(pt.join(p, p.c.id == pt.c.post_id))
         .where(pt.c.topic == topic, pt.c.created_at >= start, pt.c.created_at < end, p.c.platform == platform)
         .group_by(literal_column("k")))
    base = int(first.timestamp()) // step
    with store.engine.connect() as conn:
        for k, c, s, neg, pos in conn.execute(q):
            i = int(k) - base
            if 0 <= i < n:
                out[i].update(posts=int(c), sentiment_sum=float(s or 0), negative=int(neg or 0), positive=int(pos or 0))
    for o in out:
        o["sentiment"] = o["sentiment_sum"] / o["posts"] if o["posts"] else None
        o["negative_share"] = o["negative"] / o["posts"] if o["posts"] else None
    return out


def totals(points: Iterable[dict[str, Any]]) -> dict[str, Any]:
    pts = list(points)
    posts = sum(p["posts"] for p in pts)
    ssum = sum(p["sentiment_sum"] for p in pts)
    neg = sum(p["negative"] for p in pts)
    return {"posts": posts, "sentiment": ssum / posts if posts else None, "negative_share": neg / posts if posts else None}


def posts_in(store: Store, topic: str | None, start: datetime, end: datetime, *, platform: str | None = None,
             limit: int = 50, account_id: int | None = None, order: str = "newest") -> list[dict[str, Any]]:
    """Posts (on ``topic``) in [start, end), newest first, each with a safe link to its original."""
    p, a, pt = m.posts, m.accounts, m.post_topics
    j = p.join(a, a.c.id == p.c.account_id)
    q = select(*POST_COLUMNS)
    conds = [p.c.created_at >= start, p.c.created_at < end]
    if topic:
        j = pt.join(j, p.c.id == pt.c.post_id)
        conds = [pt.c.topic == topic, pt.c.created_at >= start, pt.c.created_at < end]
    if platform:
        conds.append(p.c.platform == platform)
    if account_id is not None:
        conds.append(p.c.account_id == account_id)
    order_col = (pt.c.created_at if topic else p.c.created_at).desc()
    q = q.select_from(j).where(*conds).order_by(order_col, p.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return [with_link(dict(r)) for r in conn.execute(q).mappings()]


def with_link(row: dict[str, Any]) -> dict[str, Any]:
    row["link"] = post_url(row.get("platform"), row.get("url"), row.get("platform_id"), row.get("handle"))
    return row


def most_shared_posts(store: Store, topic: str, start: datetime, end: datetime, *, platform: str | None = None,
                      limit: int = 10) -> list[dict[str, Any]]:
    """The topic's most retweeted and quoted posts in the window's hours (by shares in them), from the
    share rollups (:mod:`monitor.shares`)."""
    p, a = m.posts, m.accounts
    out = []
    with store.engine.connect() as conn:
        for plat, ref, n in shares.top(conn, topic, "post", start, end, platform, limit):
            row = conn.execute(select(*POST_COLUMNS).select_from(p.join(a, a.c.id == p.c.account_id))
                               .where(p.c.platform == plat, p.c.platform_id == ref)).mappings().first()
            if row is not None:
                out.append({**with_link(dict(row)), "shares": n})
    return out


def most_shared_links(store: Store, topic: str, start: datetime, end: datetime, *, platform: str | None = None,
                      limit: int = 10) -> list[dict[str, Any]]:
    """Links most often in the topic's posts in the window's hours: (url, posts), from the share rollups
    (:mod:`monitor.shares`: http(s) links only); only ``https`` ones are linked."""
    with store.engine.connect() as conn:
        rows = shares.top(conn, topic, "link", start, end, platform, limit)
    return [{"url": u, "posts": n, "link": safe_url(u, "rss")} for _, u, n in rows]


def stakeholder_posts(store: Store, topic: str, handles: Iterable[str], start: datetime, end: datetime, *,
                      platform: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The topic's posts by its stakeholders in the window, newest first: the stakeholders' accounts are
    found first (one pass over the accounts, which are far fewer than the posts), then their posts by the
    account index, kept when tagged with the topic."""
    hs = sorted({h.lower().lstrip("@") for h in handles})
    if not hs:
        return []
    p, a, pt = m.posts, m.accounts, m.post_topics
    with store.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(a.c.id).where(func.lower(a.c.handle).in_(hs)))]
        if not ids:
            return []
        q = (select(*POST_COLUMNS).select_from(p.join(a, a.c.id == p.c.account_id)
                                               .join(pt, (pt.c.post_id == p.c.id) & (pt.c.topic == topic)))
             .where(p.c.account_id.in_(ids), p.c.created_at >= start, p.c.created_at < end)
             .order_by(p.c.created_at.desc()).limit(limit))
        if platform:
            q = q.where(p.c.platform == platform)
        return [with_link(dict(r)) for r in conn.execute(q).mappings()]


def account(store: Store, account_id: int) -> dict[str, Any] | None:
    a = m.accounts
    with store.engine.connect() as conn:
        row = conn.execute(select(a).where(a.c.id == account_id)).mappings().first()
    return dict(row) if row else None


def account_topics(store: Store, account_id: int) -> list[tuple[str, int]]:
    """The topics of the account's posts, most first (through its posts' index, not a scan of the tags)."""
    pt, p = m.post_topics, m.posts
    q = (select(pt.c.topic, func.count()).select_from(p.join(pt, pt.c.post_id == p.c.id))
         .where(p.c.account_id == account_id).group_by(pt.c.topic).order_by(func.count().desc()))
    with store.engine.connect() as conn:
        return [(t, int(n)) for t, n in conn.execute(q)]


def account_channels(store: Store, account_id: int) -> list[tuple[str, int]]:
    """Where its posts came from (platform and source), most first."""
    p = m.posts
    with store.engine.connect() as conn:
        return [(f"{plat}" + (f" ({src})" if src else ""), int(n)) for plat, src, n in conn.execute(
            select(p.c.platform, p.c.source, func.count()).where(p.c.account_id == account_id)
            .group_by(p.c.platform, p.c.source).order_by(func.count().desc()).limit(20))]


def rank_history(store: Store, account_id: int, limit: int = 60) -> list[dict[str, Any]]:
    """The account's rank in every stored influence run that kept it, newest window first."""
    r, s = m.influence_runs, m.influence_scores
    q = (select(r.c.id, r.c.topic, r.c.platform, r.c.window_start, r.c.window_end, r.c.exclude_flagged,
                s.c.rank, s.c.score, s.c.flagged, s.c.flags, s.c.community)
         .select_from(s.join(r, r.c.id == s.c.run_id)).where(s.c.account_id == account_id)
         .order_by(r.c.window_end.desc(), r.c.topic).limit(limit))
    with store.engine.connect() as conn:
        return [dict(x) for x in conn.execute(q).mappings()]
