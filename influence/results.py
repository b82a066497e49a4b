"""Stored influence runs: write an analysis, find and read runs back, prune old ones.

Tables (``monitor/models.py``, section ``# --- influence ---``):
``influence_runs`` (one topic, platform, window and variant), ``influence_scores``
(the top :data:`KEEP_ACCOUNTS` accounts of a run, plus the topic's stakeholders
found in its network), ``influence_communities``, ``influence_flags`` (every
account of the run with an automation or coordination signal, or boosted by
flagged accounts: its ring, signals, evidence and boost) and
``influence_flagged_posts`` (the posts a ring retweeted in bursts). The rings
themselves are in the run's ``params["rings"]``. Reading a stored ranking is two
indexed queries; the flag tables are read by alert texts without importing this
package.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import delete, func, or_, select

from influence import bots
from influence.analysis import AccountScore, Analysis, Ranking, account_info
from influence.communities import Community
from influence.scoring import WEIGHTS
from monitor import models as m
from monitor.store import Store

#: Accounts kept per stored run (best first); rank changes are measured among them.
KEEP_ACCOUNTS = 1000
#: Stored runs kept per topic, platform and variant (newest first), plus the previous windows they refer to.
KEEP_RUNS = 48
#: A stored run of the same length whose window ends within this share of the length from the start of a
#: window stands for that window's previous window when the exact one is not stored (a day at 30 days):
#: the hourly recompute then computes its previous window once a day, not every hour (see
#: :func:`previous_run`).
PREVIOUS_SLACK = 1 / 30


def save_run(store: Store, a: Analysis, *, previous: dict[int, int] | None = None,
             previous_run_id: int | None = None, keep: int = KEEP_ACCOUNTS) -> int:
    """Store ``a`` (replacing a run of the same topic, platform, window and variant) and return the run id."""
    g, s = a.graph, a.scores
    nodes = s.order[:keep].tolist()
    extra = {g.index(x) for x in a.stakeholder_ids} - {None} - set(nodes)
    nodes += sorted(extra)
    missing = {int(g.account_ids[v]) for v in nodes} - set(a.accounts)
    if missing:
        a.accounts.update(account_info(store, missing))
    maxima = {k: float(getattr(s, k).max()) if g.n else 0.0 for k in WEIGHTS}
    params: dict[str, Any] = {
        "weights": s.weights, "nominal_weights": s.nominal_weights, "constant": s.constant, "floors": s.floors,
        "maxima": maxima, "betweenness_sources": s.betweenness_sources, "seed": s.seed,
        "excluded_interactions": a.excluded_interactions, "self_loops": g.self_loops,
        "timings": {k: round(v, 4) for k, v in a.timings.items()},
        "rings": [r.to_dict() for r in getattr(a.flags, "rings", [])],
    }
    runs = m.influence_runs
    with store.engine.begin() as conn:
        old = conn.execute(select(runs.c.id).where(*_key(a.topic, a.platform, a.since, a.until,
                                                           a.exclude_flagged))).scalars().all()
        for rid in old:
            _delete_run(conn, rid)
        rid = conn.execute(runs.insert().values(
            topic=a.topic, platform=a.platform, window_start=a.since, window_end=a.until,
            exclude_flagged=a.exclude_flagged, computed_at=a.computed_at, seconds=a.seconds,
            interactions=a.interactions_read, accounts=g.n, edges=g.pairs, flagged=len(a.flagged_ids),
            previous_run_id=previous_run_id, params=params,
        ).returning(runs.c.id)).scalar_one()
        rows = []
        for v in nodes:
            sc = a.node_score(v, previous)
            rows.append({
                "run_id": rid, "account_id": sc.account_id, "rank": sc.rank, "previous_rank": sc.previous_rank,
                "score": sc.score, "pagerank": sc.pagerank, "in_degree": sc.in_degree, "authority": sc.authority,
                "betweenness": sc.betweenness, "amplifiers": sc.amplifiers, "amplifications": sc.amplifications,
                "replies": sc.replies, "mentions": sc.mentions, "posts": sc.posts, "community": sc.community,
                "flagged": sc.flagged, "flags": sc.flags or None, "parts": sc.parts, "boosted": sc.boosted,
            })
        if rows:
            conn.execute(m.influence_scores.insert(), rows)
        rows_of = a.flags.stored() if isinstance(a.flags, bots.Flags) else bots.Flags(a.flags).stored()
        flag_rows = [{"run_id": rid, "account_id": acc, "flagged": flagged, "ring": ring, "signals": kinds,
                      "evidence": evidence, "boosted_share": (a.boosts.get(acc) or {}).get("share"),
                      "boosted_by": _boosted_by(a.boosts.get(acc))}
                     for acc, flagged, ring, kinds, evidence in rows_of]
        flag_rows += [{"run_id": rid, "account_id": acc, "flagged": False, "ring": None, "signals": [],
                       "evidence": [], "boosted_share": b["share"], "boosted_by": _boosted_by(b)}
                      for acc, b in sorted(a.boosts.items()) if acc not in a.flags]
        for k in range(0, len(flag_rows), 5000):
            conn.execute(m.influence_flags.insert(), flag_rows[k:k + 5000])
        post_rows = [{"run_id": rid, "platform": p.platform, "platform_id": p.platform_id, "ring": p.ring,
                      "account_id": p.account_id, "accounts": p.accounts, "bursts": p.bursts,
                      "first_at": _at(p.first), "last_at": _at(p.last)} for p in getattr(a.flags, "posts", [])]
        for k in range(0, len(post_rows), 5000):
            conn.execute(m.influence_flagged_posts.insert(), post_rows[k:k + 5000])
        if a.communities:
            conn.execute(m.influence_communities.insert(), [
                {"run_id": rid, "community": c.id, "size": c.size, "label": c.label, "top_accounts": c.top_accounts,
                 "hashtags": [list(h) for h in c.hashtags], "bridges": c.bridges, "features": c.features}
                for c in a.communities])
    return rid


def _boosted_by(b: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if not b:
        return None
    out = list(b["rings"])
    if b.get("other_flagged"):
        out.append({"ring": None, "amplifications": b["other_flagged"],
                    "share": round(b["other_flagged"] / b["amplifications"], 4)})
    return out


def _at(epoch: float) -> datetime:
    """Epoch seconds (from SQLite's julianday: a few microseconds off) as a UTC time to the millisecond."""
    return datetime.fromtimestamp(round(epoch, 3), tz=timezone.utc)


def _key(topic: str, platform: str, since: datetime | None, until: datetime | None, exclude_flagged: bool):
    r = m.influence_runs.c
    return [r.topic == topic, r.platform == platform, r.window_start == since, r.window_end == until,
            r.exclude_flagged == bool(exclude_flagged)]


def _delete_run(conn, rid: int) -> None:
    conn.execute(delete(m.influence_exports).where(m.influence_exports.c.run_id == rid))
    conn.execute(delete(m.influence_flagged_posts).where(m.influence_flagged_posts.c.run_id == rid))
    conn.execute(delete(m.influence_flags).where(m.influence_flags.c.run_id == rid))
    conn.execute(delete(m.influence_scores).where(m.influence_scores.c.run_id == rid))
    conn.execute(delete(m.influence_communities).where(m.influence_communities.c.run_id == rid))
    runs = m.influence_runs
    conn.execute(runs.update().where(runs.c.previous_run_id == rid).values(previous_run_id=None))
    conn.execute(delete(m.influence_runs).where(m.influence_runs.c.id == rid))


def find_run(store: Store, topic: str, platform: str, since: datetime, until: datetime,
             exclude_flagged: bool) -> int | None:
    """The id of the stored run for exactly this topic, platform, window and variant, if any."""
    with store.engine.connect() as conn:
        return conn.execute(select(m.influence_runs.c.id).where(
            *_key(topic, platform, since, until, exclude_flagged))).scalar()


def previous_run(store: Store, topic: str, platform: str, since: datetime, until: datetime,
                 exclude_flagged: bool, *, slack: float = PREVIOUS_SLACK) -> int | None:
    """The stored run that stands for the window before ``[since, until)`` (rank changes compare with it).

    The previous window of the same length, ``[since - length, since)``, when it is stored; else the stored
    run of the same length (to the minute) whose window ends nearest ``since``, at most ``slack`` times the
    length away (ties: the newest computed). The hourly recompute's previous window moves by an hour each
    time; the run it stored for the previous window an hour before answers, and the ranking names the
    window it compares with (:attr:`influence.analysis.Ranking.previous_window`). None when no run is near
    enough: the caller computes the exact previous window.
    """
    length = until - since
    exact = find_run(store, topic, platform, since - length, since, exclude_flagged)
    if exact is not None or slack <= 0:
        return exact
    tol = length * slack
    r = m.influence_runs.c
    q = (select(r.id, r.window_start, r.window_end, r.computed_at)
         .where(r.topic == topic, r.platform == platform, r.exclude_flagged == bool(exclude_flagged),
                r.window_end >= since - tol, r.window_end <= since + tol))
    with store.engine.connect() as conn:
        near = [(abs(_aware(end) - since), -_aware(at).timestamp(), rid) for rid, start, end, at in conn.execute(q)
                if start is not None and abs((end - start) - length) <= timedelta(minutes=1)]
    return min(near)[2] if near else None


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def latest_run(store: Store, topic: str, platform: str, exclude_flagged: bool, *, length: timedelta,
               ends_after: datetime) -> int | None:
    """The newest stored run of the given window length that ends at or after ``ends_after``."""
    r = m.influence_runs.c
    q = (select(r.id, r.window_start, r.window_end)
         .where(r.topic == topic, r.platform == platform, r.exclude_flagged == bool(exclude_flagged),
                r.window_end >= ends_after)
         .order_by(r.window_end.desc(), r.computed_at.desc()))
    with store.engine.connect() as conn:
        for rid, start, end in conn.execute(q):
            if start is not None and abs((end - start) - length) <= timedelta(minutes=1):
                return rid
    return None


def previous_ranks(store: Store, run_id: int) -> dict[int, int]:
    """account id -> rank in a stored run."""
    s = m.influence_scores.c
    with store.engine.connect() as conn:
        return dict(conn.execute(select(s.account_id, s.rank).where(s.run_id == run_id)).all())


def load_run(store: Store, run_id: int, *, limit: int | None = 20, stakeholders: frozenset[str] = frozenset(),
             include: tuple[int, ...] = ()) -> Ranking:
    """A stored run as a :class:`Ranking` (its top ``limit`` accounts, plus stakeholders and ``include``)."""
    r, s, c, a = m.influence_runs, m.influence_scores, m.influence_communities, m.accounts
    with store.engine.connect() as conn:
        run = conn.execute(select(r).where(r.c.id == run_id)).one()
        cols = [s, a.c.platform, a.c.handle, a.c.name, a.c.followers, a.c.verified, a.c.partial]
        base = select(*cols).select_from(s.join(a, a.c.id == s.c.account_id)).where(s.c.run_id == run_id)
        q = base.order_by(s.c.rank)
        if limit is not None:
            q = q.limit(limit)
        rows = list(conn.execute(q))
        have = {row.account_id for row in rows}
        want_handles = sorted(stakeholders)
        cond = []
        if want_handles:
            cond.append(func.lower(a.c.handle).in_(want_handles))
        if include:
            cond.append(s.c.account_id.in_(list(include)))
        if cond:
            for row in conn.execute(base.where(or_(*cond)).order_by(s.c.rank)):
                if row.account_id not in have:
                    rows.append(row)
                    have.add(row.account_id)
        comms = [Community(id=x.community, size=x.size, label=x.label, top_accounts=list(x.top_accounts or []),
                           hashtags=[tuple(h) for h in (x.hashtags or [])], bridges=list(x.bridges or []),
                           features=dict(x.features or {}))
                 for x in conn.execute(select(c).where(c.c.run_id == run_id).order_by(c.c.community))]
        prev_window = None
        if run.previous_run_id is not None:
            pw = conn.execute(select(r.c.window_start, r.c.window_end).where(r.c.id == run.previous_run_id)).first()
            if pw is not None:
                prev_window = (pw.window_start, pw.window_end)
    params = run.params or {}
    weights = params.get("weights") or dict(WEIGHTS)
    maxima = params.get("maxima") or {}
    accounts = []
    for row in rows:
        vals = {"pagerank": row.pagerank, "in_degree": row.in_degree, "authority": row.authority,
                "betweenness": row.betweenness}
        parts = row.parts or {  # runs stored before parts were kept: the old formula (no floors)
            k: (100.0 * w * vals[k] / maxima[k]) if maxima.get(k) else 0.0 for k, w in weights.items()}
        accounts.append(AccountScore(
            account_id=row.account_id, rank=row.rank, score=row.score, pagerank=row.pagerank,
            in_degree=row.in_degree, authority=row.authority, betweenness=row.betweenness, parts=parts,
            amplifiers=row.amplifiers, amplifications=row.amplifications, replies=row.replies,
            mentions=row.mentions, posts=row.posts, community=row.community, previous_rank=row.previous_rank,
            flagged=bool(row.flagged), flags=list(row.flags or []), boosted=row.boosted or None,
            stakeholder=bool(row.handle and row.handle.lower() in stakeholders), platform=row.platform,
            handle=row.handle, name=row.name, followers=row.followers, verified=row.verified,
            partial=bool(row.partial)))
    return Ranking(topic=run.topic, platform=run.platform, since=run.window_start, until=run.window_end,
                   exclude_flagged=bool(run.exclude_flagged), computed_at=run.computed_at, accounts=accounts,
                   communities=comms, network_accounts=run.accounts, interactions=run.interactions, edges=run.edges,
                   flagged_accounts=run.flagged, weights=weights, betweenness_sources=params.get("betweenness_sources"),
                   constant=list(params.get("constant") or []),
                   seconds=run.seconds, run_id=run.id, source="stored", previous_window=prev_window,
                   excluded_interactions=int(params.get("excluded_interactions") or 0))


def latest_any(store: Store, topic: str, *, platform: str = "all", exclude_flagged: bool = False) -> int | None:
    """The most recent run (by window end) of a topic, whatever its window."""
    r = m.influence_runs.c
    with store.engine.connect() as conn:
        return conn.execute(select(r.id).where(r.topic == topic, r.platform == platform,
                                               r.exclude_flagged == exclude_flagged)
                            .order_by(r.window_end.desc(), r.computed_at.desc()).limit(1)).scalar()


def delete_runs(store: Store, topics: Iterable[str], since: datetime, until: datetime, *,
                platform: str | None = None, exclude_flagged: bool | None = None) -> int:
    """Delete the stored runs of ``topics`` for exactly the window ``[since, until)`` (every platform and both
    variants unless ``platform`` / ``exclude_flagged`` say which), with their scores, communities and flags;
    returns how many runs went. For a benchmark or a rebuild that must compute a window again."""
    r = m.influence_runs.c
    cond = [r.topic.in_(list(topics)), r.window_start == since, r.window_end == until]
    if platform is not None:
        cond.append(r.platform == platform)
    if exclude_flagged is not None:
        cond.append(r.exclude_flagged == bool(exclude_flagged))
    with store.engine.begin() as conn:
        ids = conn.execute(select(r.id).where(*cond)).scalars().all()
        for rid in ids:
            _delete_run(conn, rid)
    return len(ids)


def prune(store: Store, topic: str, platform: str, exclude_flagged: bool, *, keep: int = KEEP_RUNS) -> int:
    """Delete all but the newest ``keep`` runs of a topic/platform/variant (and the previous runs they use)."""
    r = m.influence_runs.c
    with store.engine.begin() as conn:
        rows = conn.execute(select(r.id, r.previous_run_id).where(
            r.topic == topic, r.platform == platform, r.exclude_flagged == bool(exclude_flagged))
            .order_by(r.computed_at.desc(), r.id.desc())).all()
        kept = {rid for rid, _ in rows[:keep]} | {prev for _, prev in rows[:keep] if prev is not None}
        gone = [rid for rid, _ in rows if rid not in kept]
        for rid in gone:
            _delete_run(conn, rid)
    return len(gone)


__all__ = ["KEEP_ACCOUNTS", "KEEP_RUNS", "PREVIOUS_SLACK", "save_run", "find_run", "previous_run", "latest_run", "latest_any", "load_run",
           "previous_ranks", "prune", "delete_runs"]
