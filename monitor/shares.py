"""The share rollups: per topic and hour, the retweets and quotes of each post and the posts with
each link, kept as posts are stored and marked (what the topic page's most-shared lists read).

A row counts, for one topic, hour, platform and shared thing (``kind`` ``post``: the retweeted or
quoted post's platform id; ``link``: an http(s) url), the pairs (topic tag, share) of that hour:
every ``retweet`` or ``quote`` interaction with a referenced post, of a post tagged with the
topic, and every http(s) link (600 characters at most: longer ones are not counted, the limit of
an index key) in the links of a post tagged with it. The hour is the tag's post time.

It is kept by the same two rules every change obeys, so it always equals :func:`recount`:

- a new topic tag adds all of its post's shares and links (:meth:`Store.write_batch` for new
  and promoted posts, :func:`monitor.marks.undo` when a post is put back on a topic);
- a new interaction adds itself for each tag its post already had (edges of earlier posts
  filled in when the post they share arrives), and removing a tag (an irrelevant mark)
  subtracts what the tag added.

:func:`apply` runs one statement that counts the pairs of the tags and interactions a
condition selects and adds them (or subtracts them) in the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import bindparam, delete, func, select, text as sql_text
from sqlalchemy.dialects import postgresql, sqlite

from monitor import models as m

MAX_REF = 600
SHARE_KINDS = ("retweet", "quote")


def _hour(dialect: str) -> str:
    if dialect == "sqlite":
        return "strftime('%Y-%m-%d %H:00:00.000000', pt.created_at)"
    return "date_trunc('hour', pt.created_at)"


def counts_sql(dialect: str, tags: str = "1 = 1", edges: str = "1 = 1") -> str:
    """``SELECT topic, kind, bucket, platform, ref, n``: the pairs counted, of the tags ``tags`` selects
    (a condition on ``pt``, the topic tags) and, for shares, the interactions ``edges`` selects
    (on ``i``); ``edges`` other than everything leaves links out (they come with tags only)."""
    hour = _hour(dialect)
    if dialect == "sqlite":
        elems, value, is_text = "json_each(p.links) j", "j.value", "j.type = 'text' AND "
    else:
        elems, value, is_text = "json_array_elements_text(p.links) j", "j", ""
    shares = (f"SELECT pt.topic AS topic, 'post' AS kind, {hour} AS bucket, i.platform AS platform, "
              f"i.ref_platform_id AS ref, count(*) AS n FROM post_topics pt JOIN interactions i ON i.post_id = pt.post_id "
              f"WHERE i.kind IN ('retweet', 'quote') AND i.ref_platform_id IS NOT NULL "
              f"AND length(i.ref_platform_id) <= {MAX_REF} AND ({tags}) AND ({edges}) "
              f"GROUP BY pt.topic, {hour}, i.platform, i.ref_platform_id")
    if edges != "1 = 1":
        return shares
    links = (f"SELECT pt.topic, 'link', {hour}, p.platform, {value}, count(*) FROM post_topics pt "
             f"JOIN posts p ON p.id = pt.post_id, {elems} WHERE p.links IS NOT NULL AND {is_text}"
             f"(lower({value}) LIKE 'http://%' OR lower({value}) LIKE 'https://%') AND length({value}) <= {MAX_REF} "
             f"AND ({tags}) GROUP BY pt.topic, {hour}, p.platform, {value}")
    return f"{shares} UNION ALL {links}"


def backfill(conn, dialect: str) -> None:
    """Fill the (empty) share rollups from every stored tag (the migration that creates them)."""
    conn.execute(sql_text(f"INSERT INTO share_rollups (topic, kind, bucket, platform, ref, n) {counts_sql(dialect)}"))


def _rows(conn, sql: str, params: dict[str, Any]) -> list[tuple]:
    stmt = sql_text(sql)
    for k, v in params.items():
        if isinstance(v, (list, tuple)):
            stmt = stmt.bindparams(bindparam(k, expanding=True))
    return conn.execute(stmt, params).all()


def apply(conn, dialect: str, *, tags: str = "1 = 1", edges: str = "1 = 1", params: dict[str, Any] | None = None,
          sign: int = 1) -> int:
    """Add (``sign`` 1) or subtract (-1) the pairs of the selected tags and interactions; rows left at
    zero are deleted. Returns the number of pairs."""
    got = _rows(conn, counts_sql(dialect, tags, edges), params or {})
    if not got:
        return 0
    agg: dict[tuple, int] = defaultdict(int)
    for topic, kind, bucket, platform, ref, n in got:
        if isinstance(bucket, str):
            bucket = datetime.fromisoformat(bucket)
        agg[(topic, kind, bucket.replace(tzinfo=None), platform, ref)] += int(n) * sign
    r = m.share_rollups
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(r)
    stmt = ins.on_conflict_do_update(index_elements=["topic", "kind", "bucket", "platform", "ref"],
                                     set_={"n": r.c.n + ins.excluded.n})
    rows = [{"topic": t, "kind": k, "bucket": b, "platform": p, "ref": ref, "n": n}
            for (t, k, b, p, ref), n in sorted(agg.items())]  # sorted: a stable lock order across workers
    for i in range(0, len(rows), 500):
        conn.execute(stmt, rows[i:i + 500])
    if sign < 0:
        for topic in {t for t, *_ in agg}:
            conn.execute(delete(r).where(r.c.topic == topic, r.c.n <= 0))
    return sum(abs(v) for v in agg.values())


def add_tags_of(conn, dialect: str, post_ids: Iterable[int]) -> None:
    """Count the shares and links of these posts' topic tags (tags new since: each post's first)."""
    ids = sorted(set(post_ids))
    for i in range(0, len(ids), 500):
        apply(conn, dialect, tags="pt.post_id IN :ids", params={"ids": ids[i:i + 500]})


def add_edges(conn, dialect: str, edge_ids: Iterable[int]) -> None:
    """Count new interactions for the tags their posts already have."""
    ids = sorted(set(edge_ids))
    for i in range(0, len(ids), 500):
        apply(conn, dialect, edges="i.id IN :ids", params={"ids": ids[i:i + 500]})


def tag_changed(conn, dialect: str, post_id: int, topic: str, sign: int) -> None:
    """A tag put back (``sign`` 1, after inserting it) or taken off (-1, before deleting it)."""
    apply(conn, dialect, tags="pt.post_id = :post_id AND pt.topic = :topic", params={"post_id": post_id, "topic": topic},
          sign=sign)


def stored(conn) -> dict[tuple, int]:
    r = m.share_rollups
    return {(t, k, b, p, ref): n for t, k, b, p, ref, n in conn.execute(
        select(r.c.topic, r.c.kind, r.c.bucket, r.c.platform, r.c.ref, r.c.n))}


def recount(conn, dialect: str) -> dict[tuple, int]:
    """The share rollups as they should be, counted afresh from the tags, interactions and links."""
    out: dict[tuple, int] = defaultdict(int)
    for t, k, b, p, ref, n in conn.execute(sql_text(counts_sql(dialect))):
        if isinstance(b, str):
            b = datetime.fromisoformat(b)
        out[(t, k, b.replace(tzinfo=timezone.utc), p, ref)] += int(n)
    return dict(out)


def top(conn, topic: str, kind: str, start: datetime, end: datetime, platform: str | None, limit: int) -> list[tuple]:
    """The ``limit`` most shared (platform, ref, count) of ``kind`` on ``topic`` in the hours of [start, end)
    (links: platform None, counted over every platform unless one is asked for)."""
    r = m.share_rollups
    n = func.sum(r.c.n).label("n")
    cols = (r.c.platform, r.c.ref) if kind == "post" else (r.c.ref,)
    q = (select(*cols, n).where(r.c.topic == topic, r.c.kind == kind, r.c.bucket >= start, r.c.bucket < end)
         .group_by(*cols).order_by(n.desc(), *cols).limit(limit))
    if platform:
        q = q.where(r.c.platform == platform)
    return [(*row[:-1], int(row[-1])) if kind == "post" else (None, row[0], int(row[1])) for row in conn.execute(q)]
