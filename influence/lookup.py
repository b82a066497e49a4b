"""The Python API the CLI, the dashboard and the briefing call: rankings and "see why".

:func:`influencers` answers from a stored run when there is one for the window
(the scheduled task keeps the default 30-day windows fresh), and otherwise
computes, stores and answers; ``fresh=True`` always recomputes. Every run is
stored together with the run of the previous window of the same length, so
each account's rank change ("rising voices") is known.

:func:`explain` gives the details behind one ranked account, from a few indexed
queries.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import case, func, select

from influence import bots, results
from influence.bots import describe_boost
from influence.analysis import AccountScore, Analysis, Ranking, account_info, analyse, utcnow
from influence.communities import Community
from influence.graph import ALL_PLATFORMS, Edges
from influence.scoring import MEASURES
from monitor import models as m
from monitor.sentiment import NEGATIVE, POSITIVE
from monitor.store import Store

log = logging.getLogger(__name__)

#: The window of a lookup without --since/--until.
DEFAULT_WINDOW = timedelta(days=30)
#: A stored default-window run younger than this (by window end) answers a lookup.
STALE_AFTER = timedelta(hours=2)
#: Accounts of a ranking counted as "influencers" when listing who amplified an account.
INFLUENTIAL_RANK = 100


class InfluenceError(ValueError):
    """A lookup that cannot be answered as asked (bad window, unknown account)."""


class NotStored(LookupError):
    """No stored run answers the lookup, and it was asked not to compute one (``compute=False``):
    ``since``, ``until`` and ``platform`` are the window to compute."""

    def __init__(self, topic: str, since: datetime, until: datetime, platform: str, exclude_flagged: bool):
        super().__init__(f"no stored ranking of {topic!r} for {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M}")
        self.topic, self.since, self.until, self.platform, self.exclude_flagged = (topic, since, until, platform,
                                                                                   exclude_flagged)


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    dt = dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
    return dt.replace(microsecond=0)


def resolve_window(since: datetime | None, until: datetime | None, now: datetime | None = None,
                   length: timedelta = DEFAULT_WINDOW) -> tuple[datetime, datetime]:
    """``[since, until)`` with the defaults filled in: until now, since ``length`` before until."""
    until = _utc(until) or _utc(now or utcnow())
    since = _utc(since) or until - length
    if since >= until:
        raise InfluenceError(f"the window is empty: since {since:%Y-%m-%d %H:%M} is not before until "
                             f"{until:%Y-%m-%d %H:%M}")
    return since, until


def compute_run(store: Store, topic: str, since: datetime, until: datetime, *, platform: str | None = None,
                exclude_flagged: bool = False, stakeholders: Iterable[str] = (), with_previous: bool = True,
                edges: Edges | None = None, flags: dict[int, bots.AccountFlags] | None = None,
                communities: bool = True, features=None,
                start_communities=None, posts=None,
                shared_previous: dict[str, Any] | None = None,
                reuse: Analysis | None = None) -> tuple[int, Analysis]:
    """Analyse and store one window (and the previous window of the same length when no stored run stands
    for it: :func:`influence.results.previous_run`).

    ``edges``, ``flags``, ``features`` and ``posts`` are the window's inputs when already read (see
    :func:`influence.analysis.analyse`); ``shared_previous`` is a dict in which the previous window's
    inputs (edges, flags, posts) are kept, so that the other variant's previous window reuses them.
    ``reuse`` is the analysis of the same window with every interaction: when it flagged nobody, the
    variant without flagged accounts is the same network, and that analysis is stored as it.

    Returns
    -------
    run_id, Analysis
    """
    plat = platform or ALL_PLATFORMS
    prev_id = None
    previous: dict[int, int] | None = None
    if with_previous:
        length = until - since
        p_since, p_until = since - length, since
        prev_id = results.previous_run(store, topic, plat, since, until, exclude_flagged)
        if prev_id is None:
            sp_ = shared_previous if shared_previous is not None else {}
            pa = analyse(store, topic, p_since, p_until, platform=plat, exclude_flagged=exclude_flagged,
                         stakeholders=stakeholders, communities=False, edges=sp_.get("edges"),
                         flags=sp_.get("flags"), posts=sp_.get("posts"))
            sp_.update(edges=pa.edges_read, flags=pa.flags, posts=pa.posts)
            prev_id = results.save_run(store, pa)
        previous = results.previous_ranks(store, prev_id)
    if (reuse is not None and exclude_flagged and not reuse.exclude_flagged and not reuse.flagged_ids
            and (reuse.since, reuse.until, reuse.platform, reuse.topic) == (since, until, plat, topic)
            and (reuse.membership is not None or not communities)):
        # nobody is flagged: leaving the flagged accounts' interactions out leaves the same network
        a = dataclasses.replace(reuse, exclude_flagged=True, computed_at=utcnow())
    else:
        a = analyse(store, topic, since, until, platform=plat, exclude_flagged=exclude_flagged,
                    stakeholders=stakeholders, edges=edges, flags=flags, communities=communities,
                    features=features, start_communities=start_communities, posts=posts)
    rid = results.save_run(store, a, previous=previous, previous_run_id=prev_id)
    return rid, a


def influencers(store: Store, topic: str, *, since: datetime | None = None, until: datetime | None = None,
                platform: str | None = None, limit: int | None = 20, exclude_flagged: bool = False,
                fresh: bool = False, stakeholders: Iterable[str] = (), label: str | None = None,
                include: Iterable[int] = (), now: datetime | None = None, length: timedelta = DEFAULT_WINDOW,
                compute: bool = True) -> Ranking:
    """The ranked influencers of ``topic`` (default window: the last 30 days, every platform).

    Parameters
    ----------
    store : Store
    topic : str
        Topic id (as in ``config/keywords.yaml``).
    since, until : datetime, optional
        The window; missing ``until`` is now, missing ``since`` is 30 days before ``until``.
    platform : str, optional
        One platform ("x", "rss", ...) or None for all of them.
    limit : int or None
        Accounts to return (best first); the topic's stakeholders in the network are always included.
    exclude_flagged : bool
        Score without the interactions of accounts flagged as automated or coordinated.
    fresh : bool
        Recompute even when a stored run answers.
    stakeholders : iterable of str
        The topic's stakeholder handles (``Topic.stakeholders``).
    label : str, optional
        The topic's label, carried into the ranking.
    include : iterable of int
        Account ids to include whatever their rank (when they are among the stored accounts).
    now : datetime, optional
        The clock: the default window ends then.
    length : timedelta
        The default window's length (without ``since`` and ``until``): a stored run of this length
        ending less than :data:`STALE_AFTER` before ``now`` answers.
    compute : bool
        False: never compute here; raise :class:`NotStored` (with the window to compute) when no
        stored run answers (the dashboard computes it off the request path, :mod:`influence.jobs`).

    Examples
    --------
    ``influencers(ctx.store, "social_care", stakeholders=ctx.config.topics["social_care"].stakeholders)``
    """
    default = since is None and until is None
    now = _utc(now or utcnow())
    since, until = resolve_window(since, until, now, length)
    plat = platform or ALL_PLATFORMS
    sh = frozenset(h.lower().lstrip("@") for h in stakeholders)
    rid = None
    if not fresh:
        if default:
            rid = results.latest_run(store, topic, plat, exclude_flagged, length=length,
                                     ends_after=now - STALE_AFTER)
        else:
            rid = results.find_run(store, topic, plat, since, until, exclude_flagged)
    computed = rid is None
    if computed and not compute:
        raise NotStored(topic, since, until, plat, exclude_flagged)
    if computed:
        rid, _ = compute_run(store, topic, since, until, platform=plat, exclude_flagged=exclude_flagged,
                             stakeholders=sh)
    ranking = results.load_run(store, rid, limit=limit, stakeholders=sh, include=tuple(include))
    ranking.source = "fresh" if computed else "stored"
    ranking.label = label
    return ranking


def stored(store: Store, topic: str, *, limit: int = 5, platform: str = ALL_PLATFORMS,
           exclude_flagged: bool = False, stakeholders: Iterable[str] = ()) -> Ranking | None:
    """The most recent stored ranking of a topic, whatever its window (None when nothing is stored)."""
    rid = results.latest_any(store, topic, platform=platform, exclude_flagged=exclude_flagged)
    if rid is None:
        return None
    r = results.load_run(store, rid, limit=limit, stakeholders=frozenset(h.lower() for h in stakeholders))
    r.source = "stored"
    return r


# ------------------------------------------------------------------------------------------ see why
@dataclass
class Why:
    """Everything behind one ranked account."""

    account: AccountScore
    topic: str
    since: datetime | None
    until: datetime | None
    platform: str
    network_accounts: int
    measures: list[dict[str, Any]]  # name, value, points, weight, meaning
    amplifiers_total: int
    top_amplifiers: list[dict[str, Any]]  # account_id, display, count, rank, flagged
    influential_amplifiers: list[dict[str, Any]]  # the amplifiers ranked in the top INFLUENTIAL_RANK
    channels: list[dict[str, Any]]  # its own posts: platform, source, posts
    amplified_on: list[dict[str, Any]]  # interactions received per platform and kind
    community: Community | None
    own_posts: int
    engagement: int  # topic posts that retweet, quote, reply to or mention it
    topic_posts: int
    sentiment: dict[str, Any]  # mean, negative, neutral, positive, posts
    top_posts: list[dict[str, Any]]  # its most amplified posts
    stakeholder: bool
    flags: list[dict[str, Any]] = field(default_factory=list)

    @property
    def share(self) -> float:
        """Its share of the topic's conversation: (its posts + posts engaging with it) / the topic's posts."""
        return (self.own_posts + self.engagement) / self.topic_posts if self.topic_posts else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["account"] = self.account.to_dict()
        d["community"] = self.community.to_dict() if self.community else None
        d["since"] = self.since.isoformat() if self.since else None
        d["until"] = self.until.isoformat() if self.until else None
        d["share"] = self.share
        for p in d["top_posts"]:
            if isinstance(p.get("created_at"), datetime):
                p["created_at"] = p["created_at"].isoformat()
        return d

    def lines(self) -> list[str]:
        """A plain-text account of the details (for the CLI)."""
        a = self.account
        out = [f"{a.display}" + (f" ({a.name})" if a.name and a.handle else "") + f" — rank {a.rank} of "
               f"{self.network_accounts}, score {a.score:.1f}/100"]
        if a.rank_change is None:
            out.append("  rank change: not ranked in the previous window")
        else:
            out.append(f"  rank change: {a.rank_change:+d} (was {a.previous_rank})")
        out.append("  score parts:")
        for x in self.measures:
            if x.get("constant"):
                out.append(f"    {x['name']:<12} {x['points']:5.1f} pts  (the same for every account of this network: "
                           f"carries no information, adds nothing; its weight went to the other parts)")
            else:
                out.append(f"    {x['name']:<12} {x['points']:5.1f} pts  (value {x['value']:.4g}, weight "
                           f"{x['weight']:.0%}; {x['meaning']})")
        if not any(x["points"] for x in self.measures):
            out.append("    (nobody retweeted, quoted, replied to or mentioned it in this window: 0 on every part)"
                       if a.in_degree == 0 else "    (no measure tells accounts apart on this network)")
        out.append(f"  followers {a.followers if a.followers is not None else 'unknown'} and {a.amplifications} "
                   f"retweets/quotes received are shown, not scored")
        if a.partial:
            out.append("  profile: no user object (deleted, suspended, or only seen in references)")
        out.append(f"  stakeholder for this topic: {'yes' if self.stakeholder else 'no'}")
        out.append(f"  amplified by {self.amplifiers_total} distinct accounts" +
                   (": " + ", ".join(f"{x['display']} ({x['count']}{', flagged' if x.get('flagged') else ''})"
                                     for x in self.top_amplifiers[:8])
                    if self.top_amplifiers else ""))
        if a.boosted:
            out.append(f"  BOOSTED: {describe_boost(a.boosted)}")
        if self.influential_amplifiers:
            out.append("  influencers among them: " + ", ".join(
                f"{x['display']} (#{x['rank']})" for x in self.influential_amplifiers[:8]))
        if self.channels:
            out.append("  posts on: " + ", ".join(
                f"{c['platform']}{'/' + c['source'] if c['source'] else ''} ({c['posts']})" for c in self.channels))
        if self.amplified_on:
            out.append("  engaged with on: " + ", ".join(
                f"{c['platform']} {c['kind']} ({c['count']})" for c in self.amplified_on))
        if self.community is not None:
            out.append(f"  community {self.community.id} ({self.community.size} accounts): {self.community.label}")
        out.append(f"  share of the conversation: {self.share:.1%} ({self.own_posts} own posts + {self.engagement} "
                   f"posts engaging with it, of {self.topic_posts})")
        s = self.sentiment
        if s["posts"]:
            out.append(f"  sentiment of its posts: {s['mean']:+.2f} ({s['negative']} negative, {s['neutral']} "
                       f"neutral, {s['positive']} positive)")
        if self.top_posts:
            out.append("  most amplified posts:")
            for p in self.top_posts:
                text = " ".join((p.get("text") or "").split())[:110]
                out.append(f"    {p['amplifications']:>5}x  {text}" + (f"  {p['url']}" if p.get("url") else ""))
        for f in self.flags:
            out.append(f"  flag {f['kind']}: {f['evidence']}")
        return out


def explain(store: Store, ranking: Ranking, account: int | str, *, top_amplifiers: int = 20,
            top_posts: int = 5) -> Why:
    """The details behind ``account`` (an id or a handle) in ``ranking``.

    Raises
    ------
    InfluenceError
        When the account is not among the ranking's accounts (look it up with a larger ``limit``
        or ``include=[account_id]``).
    """
    a = ranking.find(account)
    if a is None:
        if len(ranking.accounts) >= ranking.network_accounts:
            raise InfluenceError(f"{account} is not in the network of {ranking.topic!r} in this window")
        raise InfluenceError(f"{account} is not among the {len(ranking.accounts)} ranked accounts of "
                             f"{ranking.topic!r} shown (of {ranking.network_accounts} in the network: raise the "
                             f"limit, or the account is not in the network)")
    aid = a.account_id
    i, pt, p = m.interactions, m.post_topics, m.posts
    win = []
    if ranking.since is not None:
        win.append(i.c.created_at >= ranking.since)
    if ranking.until is not None:
        win.append(i.c.created_at < ranking.until)
    plat = [] if ranking.platform == ALL_PLATFORMS else [i.c.platform == ranking.platform]
    on_topic = pt.join(i, (i.c.post_id == pt.c.post_id) & (pt.c.topic == ranking.topic))
    received = [i.c.dst_account_id == aid, i.c.src_account_id != aid, *win, *plat]
    amp_kinds = i.c.kind.in_(["retweet", "quote"])
    pwin = [pt.c.topic == ranking.topic]
    if ranking.since is not None:
        pwin.append(pt.c.created_at >= ranking.since)
    if ranking.until is not None:
        pwin.append(pt.c.created_at < ranking.until)
    pplat = [] if ranking.platform == ALL_PLATFORMS else [p.c.platform == ranking.platform]
    with store.engine.connect() as conn:
        amp_rows = conn.execute(
            select(i.c.src_account_id, func.count()).select_from(on_topic).where(*received, amp_kinds)
            .group_by(i.c.src_account_id).order_by(func.count().desc(), i.c.src_account_id)).all()
        by_kind = conn.execute(
            select(i.c.platform, i.c.kind, func.count()).select_from(on_topic).where(*received)
            .group_by(i.c.platform, i.c.kind).order_by(func.count().desc())).all()
        engagement = conn.execute(
            select(func.count(func.distinct(i.c.post_id))).select_from(on_topic).where(*received)).scalar() or 0
        posts_q = (select(p.c.platform, p.c.source, func.count(), func.avg(p.c.sentiment),
                          func.sum(case((p.c.sentiment <= NEGATIVE, 1), else_=0)),
                          func.sum(case((p.c.sentiment >= POSITIVE, 1), else_=0)))
                   .select_from(pt.join(p, p.c.id == pt.c.post_id))
                   .where(*pwin, *pplat, pt.c.account_id == aid).group_by(p.c.platform, p.c.source))
        channels, n_own, s_sum, n_neg, n_pos = [], 0, 0.0, 0, 0
        for plat_, source, n, avg, neg, pos in conn.execute(posts_q):
            channels.append({"platform": plat_, "source": source, "posts": n})
            n_own += n
            s_sum += (avg or 0.0) * n
            n_neg += int(neg or 0)
            n_pos += int(pos or 0)
        total = conn.execute(select(func.count()).select_from(pt.join(p, p.c.id == pt.c.post_id))
                             .where(*pwin, *pplat)).scalar() or 0
        post_rows = conn.execute(
            select(i.c.platform, i.c.ref_platform_id, func.count()).select_from(on_topic)
            .where(*received, amp_kinds, i.c.ref_platform_id.is_not(None))
            .group_by(i.c.platform, i.c.ref_platform_id).order_by(func.count().desc(), i.c.ref_platform_id)
            .limit(top_posts)).all()
        tops = []
        for plat_, ref, n in post_rows:
            row = conn.execute(select(p.c.text, p.c.url, p.c.created_at)
                               .where(p.c.platform == plat_, p.c.platform_id == ref)).first()
            if row is None:  # the original was not collected: show a retweet's text
                row = conn.execute(select(p.c.text, p.c.url, p.c.created_at)
                                   .where(p.c.platform == plat_, p.c.ref_platform_id == ref).limit(1)).first()
            tops.append({"platform": plat_, "platform_id": ref, "amplifications": n,
                         "text": row.text if row else None, "url": row.url if row else None,
                         "created_at": row.created_at if row else None})
    ranks = {x.account_id: x for x in ranking.accounts}
    amp_ids = [r[0] for r in amp_rows]
    shown_ids = amp_ids[:top_amplifiers]
    stored_ranks = _ranks_of(store, ranking.run_id, amp_ids) if ranking.run_id else {
        k: v.rank for k, v in ranks.items()}
    info = account_info(store, set(shown_ids) | {k for k, r in stored_ranks.items() if r <= INFLUENTIAL_RANK})
    flagged = _flagged_of(store, ranking.run_id, shown_ids) if ranking.run_id else {}

    def ref(acc: int, count: int) -> dict[str, Any]:
        inf = info.get(acc)
        disp = f"@{inf.handle}" if inf and inf.handle else (inf.name if inf and inf.name else f"account {acc}")
        return {"account_id": acc, "display": disp, "count": count, "rank": stored_ranks.get(acc),
                "flagged": bool(ranks[acc].flagged) if acc in ranks else flagged.get(acc)}

    counts = dict(amp_rows)
    influential = sorted((ref(x, counts[x]) for x in amp_ids if stored_ranks.get(x, 10**9) <= INFLUENTIAL_RANK),
                         key=lambda d: d["rank"])
    measures = [{"name": k, "value": getattr(a, k), "points": a.parts.get(k, 0.0),
                 "weight": ranking.weights.get(k, 0.0), "meaning": MEASURES[k], "constant": k in ranking.constant}
                for k in MEASURES]
    return Why(
        account=a, topic=ranking.topic, since=ranking.since, until=ranking.until, platform=ranking.platform,
        network_accounts=ranking.network_accounts, measures=measures, amplifiers_total=len(amp_rows),
        top_amplifiers=[ref(x, counts[x]) for x in shown_ids], influential_amplifiers=influential,
        channels=sorted(channels, key=lambda c: -c["posts"]),
        amplified_on=[{"platform": pl, "kind": k, "count": n} for pl, k, n in by_kind],
        community=ranking.community(a.community), own_posts=n_own, engagement=int(engagement), topic_posts=int(total),
        sentiment={"posts": n_own, "mean": s_sum / n_own if n_own else 0.0, "negative": n_neg, "positive": n_pos,
                   "neutral": n_own - n_neg - n_pos},
        top_posts=tops, stakeholder=a.stakeholder, flags=a.flags)


def _flagged_of(store: Store, run_id: int, ids: list[int]) -> dict[int, bool]:
    """account id -> flagged, from the run's stored flags (accounts without a row are not flagged)."""
    f = m.influence_flags.c
    out = {a: False for a in ids}
    with store.engine.connect() as conn:
        for k in range(0, len(ids), 5000):
            out.update(dict(conn.execute(select(f.account_id, f.flagged)
                                         .where(f.run_id == run_id, f.account_id.in_(ids[k:k + 5000]))).all()))
    return {a: bool(v) for a, v in out.items()}


def _ranks_of(store: Store, run_id: int, ids: list[int]) -> dict[int, int]:
    s = m.influence_scores.c
    out: dict[int, int] = {}
    with store.engine.connect() as conn:
        for k in range(0, len(ids), 5000):
            out.update(dict(conn.execute(select(s.account_id, s.rank)
                                         .where(s.run_id == run_id, s.account_id.in_(ids[k:k + 5000]))).all()))
    return out
