"""One topic and window, analysed: graph, scores, communities and flags, and what a ranking shows.

:func:`analyse` is the fresh computation. :class:`Ranking` and
:class:`AccountScore` are what every caller reads (the CLI, the dashboard, the
briefing), whether the numbers were just computed or read from the stored run
(:mod:`influence.results`).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import urlsplit

import numpy as np
from sqlalchemy import func, select

from influence import bots
from influence.communities import Community, Features, describe, leiden, make_label
from influence.graph import (ALL_PLATFORMS, MENTION, QUOTE, REPLY, RETWEET, Edges, TopicGraph, _placeholder,
                             build_graph, raw_query, raw_rows, read_edges, topic_filter_sql)
from influence.scoring import MEASURES, SEED, Scores, score_graph
from monitor import models as m
from monitor.store import Store

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class AccountInfo:
    """What the store knows of an account (shown beside the score, never part of it)."""

    id: int
    platform: str
    platform_id: str
    handle: str | None = None
    name: str | None = None
    followers: int | None = None
    verified: bool | None = None
    partial: bool = False  # no user object: deleted, suspended, or only seen in references
    created_at: datetime | None = None


def account_info(store: Store, ids: Iterable[int]) -> dict[int, AccountInfo]:
    """Accounts by id (chunked ``IN`` queries)."""
    ids = sorted({int(i) for i in ids})
    a = m.accounts
    out: dict[int, AccountInfo] = {}
    with store.engine.connect() as conn:
        for k in range(0, len(ids), 5000):
            q = select(a.c.id, a.c.platform, a.c.platform_id, a.c.handle, a.c.name, a.c.followers, a.c.verified,
                       a.c.partial, a.c.created_at).where(a.c.id.in_(ids[k:k + 5000]))
            for r in conn.execute(q):
                out[r.id] = AccountInfo(r.id, r.platform, r.platform_id, r.handle, r.name, r.followers, r.verified,
                                        bool(r.partial), r.created_at)
    return out


def accounts_by_handle(store: Store, handles: Iterable[str]) -> dict[str, list[int]]:
    """Lower-case handle -> account ids (one per platform that has it)."""
    hs = sorted({h.lower().lstrip("@") for h in handles if h})
    out: dict[str, list[int]] = {}
    if not hs:
        return out
    a = m.accounts
    with store.engine.connect() as conn:
        for r in conn.execute(select(a.c.id, func.lower(a.c.handle)).where(func.lower(a.c.handle).in_(hs))):
            out.setdefault(r[1], []).append(r[0])
    return out


def _topic_cond(topic: str, since: datetime | None, until: datetime | None, platform: str | None):
    pt, p = m.post_topics, m.posts
    cond = [pt.c.topic == topic]
    if since is not None:
        cond.append(pt.c.created_at >= since)
    if until is not None:
        cond.append(pt.c.created_at < until)
    if platform and platform != ALL_PLATFORMS:
        cond.append(p.c.platform == platform)
    return cond


def _posts_join(platform: str | None) -> str:
    """The join to ``posts`` the lean queries need only to filter on one platform (post_topics has the rest)."""
    return "" if not platform or platform == ALL_PLATFORMS else " JOIN posts p ON p.id = pt.post_id"


def topic_posts_per_account(store: Store, topic: str, since, until, platform=None) -> Counter:
    """Posts each account made on the topic in the window.

    The accounts of the window's ``post_topics`` rows, counted with numpy (a third of the time of SQL's
    ``GROUP BY`` at a million posts).
    """
    where, params = topic_filter_sql(store.engine, topic, since, until, platform, alias_posts="p")
    ids = np.fromiter(itertools.chain.from_iterable(raw_rows(
        store.engine, f"SELECT pt.account_id FROM post_topics pt{_posts_join(platform)} WHERE {where}", params)),
        dtype=np.int64)
    accounts, n = np.unique(ids, return_counts=True)
    return Counter(dict(zip(accounts.tolist(), n.tolist())))


#: Words that say nothing about a camp (besides, log-odds against the whole topic already discounts them).
STOPWORDS = frozenset("""a about after again all also am an and any are as at be been before being but by can
could did do does doing for from had has have having he her here hers him his how i if in into is it its just me
more most my no nor not now of off on once only or other our ours out over own same she should so some such than
that the their theirs them then there these they this those through to too under until up very was we were what
when where which while who whom why will with would you your yours rt amp via new get got one two like
don doesn didn isn aren wasn weren won wouldn shouldn couldn can hasn haven hadn""".split())
#: Links to posts of the platforms themselves are not web sites a camp shares.
PLATFORM_DOMAINS = frozenset({"twitter.com", "x.com", "t.co", "mobile.twitter.com", "bsky.app"})


def _domain(url: str) -> str | None:
    try:
        host = urlsplit(str(url)).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host[4:] if host.startswith("www.") else host
    return None if host in PLATFORM_DOMAINS else host


#: Community labels read at most this many of the topic's posts (an even sample by post id beyond it): they
#: compare frequencies, which a sample of this size gives to well under a percent.
LABEL_SAMPLE_POSTS = 100_000
_URLS = re.compile(r"https?://\S+|www\.\S+", re.I)
_WORDS = re.compile(r"(?<![@#\w'\u2019])[a-z]{3,}(?![\w'\u2019])")


def _json_list(v) -> list:
    if not v:
        return []
    if isinstance(v, str):
        if v == "[]":
            return []
        try:
            v = json.loads(v)
        except ValueError:
            return []
    return v if isinstance(v, list) else []


def features_per_account(store: Store, topic: str, since, until, platform=None, *,
                         sample: int = LABEL_SAMPLE_POSTS) -> Features:
    """What each account's posts on the topic in the window carry: hashtags, words and web sites (counts).

    Hashtags (lower case, no '#') and link domains (``www.`` dropped; links to the platforms' own posts left
    out) of every post, retweets included (what a camp passes on says what it is); words (letters only, at
    least three, lower case, no stop words, no hashtags, mentions, links or contractions) of what the account
    wrote itself (retweets left out). At most ``sample`` posts are read: beyond that an even sample by post
    id, the same for the same data.
    """
    engine = store.engine
    where, params = topic_filter_sql(engine, topic, since, until, platform, alias_posts="p")
    total = next(iter(raw_query(engine, f"SELECT count(*) FROM post_topics pt{_posts_join(platform)} WHERE {where}",
                                params)))[0]
    if total > sample:
        step = -(-total // sample)
        mod = "%%" if params and _placeholder(engine) == "%s" else "%"  # psycopg: a literal % is doubled
        where += f" AND pt.post_id {mod} {int(step)} = 0"
    sql = (f"SELECT pt.account_id, p.kind, p.text, p.hashtags, p.links FROM post_topics pt "
           f"JOIN posts p ON p.id = pt.post_id WHERE {where}")
    index: dict[str, dict[str, int]] = {k: {} for k in ("hashtags", "words", "domains")}
    accounts: dict[str, list[int]] = {k: [] for k in index}
    codes: dict[str, list[int]] = {k: [] for k in index}
    # one entry per occurrence, coded as first seen; the same hashtag lists and links come again and again:
    # each distinct text is parsed and coded once (PostgreSQL gives lists: coded every time)
    tag_idx, dom_idx, word_idx = index["hashtags"], index["domains"], index["words"]
    tag_acc, tag_code = accounts["hashtags"], codes["hashtags"]
    dom_acc, dom_code = accounts["domains"], codes["domains"]
    word_acc, word_code = accounts["words"], codes["words"]
    tag_lists: dict[str, list[int]] = {}
    domain_lists: dict[str, list[int]] = {}
    find_words, urls, stop = _WORDS.findall, _URLS.sub, STOPWORDS
    for acc, kind, text, tags, links in raw_rows(engine, sql, params):
        if tags:
            got = tag_lists.get(tags) if isinstance(tags, str) else None
            if got is None:
                got = [tag_idx.setdefault(t, len(tag_idx)) for t in (str(x).lower() for x in _json_list(tags))]
                if isinstance(tags, str):
                    tag_lists[tags] = got
            if got:
                tag_acc.extend([acc] * len(got))
                tag_code.extend(got)
        if links:
            got = domain_lists.get(links) if isinstance(links, str) else None
            if got is None:
                got = [dom_idx.setdefault(d, len(dom_idx)) for d in map(_domain, _json_list(links)) if d]
                if isinstance(links, str):
                    domain_lists[links] = got
            if got:
                dom_acc.extend([acc] * len(got))
                dom_code.extend(got)
        if kind != "retweet" and text:
            low = text.lower()  # links are matched without regard to case: dropping them after lowering is the same
            if "http" in low or "www." in low:
                low = urls(" ", low)
            got = [word_idx.setdefault(w, len(word_idx)) for w in set(find_words(low)) if w not in stop]
            if got:
                word_acc.extend([acc] * len(got))
                word_code.extend(got)
    return Features.from_codes(index, accounts, codes)


@dataclass
class AccountScore:
    """One ranked account: its score, the parts of it, and what is shown beside it."""

    account_id: int
    rank: int
    score: float
    pagerank: float
    in_degree: int
    authority: float
    betweenness: float
    parts: dict[str, float]  # measure -> points of the score
    amplifiers: int  # distinct accounts that retweeted or quoted it
    amplifications: int  # retweets + quotes received (raw; not scored)
    replies: int
    mentions: int
    posts: int  # its own posts on the topic in the window
    community: int | None = None
    previous_rank: int | None = None
    flagged: bool = False
    flags: list[dict[str, Any]] = field(default_factory=list)
    boosted: dict[str, Any] | None = None  # its amplification comes mostly from flagged accounts (bots.boosted)
    stakeholder: bool = False
    platform: str | None = None
    handle: str | None = None
    name: str | None = None
    followers: int | None = None  # shown beside the score, never used in it
    verified: bool | None = None
    partial: bool = False

    @property
    def rank_change(self) -> int | None:
        """Places gained since the previous window (positive: rising); None when not ranked then."""
        return None if self.previous_rank is None else self.previous_rank - self.rank

    @property
    def display(self) -> str:
        if self.handle:
            return f"@{self.handle}"
        return self.name or f"account {self.account_id}"

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["rank_change"] = self.rank_change
        d["display"] = self.display
        return d


@dataclass
class Ranking:
    """The ranked influencers of a topic and window (fresh or read from a stored run)."""

    topic: str
    platform: str
    since: datetime | None
    until: datetime | None
    exclude_flagged: bool
    computed_at: datetime
    accounts: list[AccountScore]
    communities: list[Community]
    network_accounts: int  # accounts in the topic's network
    interactions: int  # interactions read (self-loops included)
    edges: int  # distinct interacting pairs
    flagged_accounts: int
    weights: dict[str, float]
    betweenness_sources: int | None = None
    seconds: float = 0.0  # time the computation took
    run_id: int | None = None
    source: str = "fresh"  # "fresh" or "stored"
    previous_window: tuple[datetime, datetime] | None = None
    label: str | None = None
    excluded_interactions: int = 0
    constant: list[str] = field(default_factory=list)  # measures constant on this network (they add nothing)

    def rising(self, n: int = 5) -> list[AccountScore]:
        """The accounts that climbed most since the previous window (new entrants last among equals)."""
        moved = [a for a in self.accounts if a.rank_change is not None and a.rank_change > 0]
        return sorted(moved, key=lambda a: (-a.rank_change, a.rank))[:n]

    def community(self, cid: int | None) -> Community | None:
        return next((c for c in self.communities if c.id == cid), None)

    def find(self, account: int | str) -> AccountScore | None:
        """An account of the ranking by id or handle (``@`` optional, any case)."""
        if isinstance(account, int) or (isinstance(account, str) and account.isdigit()):
            aid = int(account)
            return next((a for a in self.accounts if a.account_id == aid), None)
        h = str(account).lstrip("@").lower()
        return next((a for a in self.accounts if a.handle and a.handle.lower() == h), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic, "label": self.label, "platform": self.platform,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "exclude_flagged": self.exclude_flagged, "computed_at": self.computed_at.isoformat(),
            "source": self.source, "run_id": self.run_id, "seconds": round(self.seconds, 3),
            "network_accounts": self.network_accounts, "interactions": self.interactions, "edges": self.edges,
            "flagged_accounts": self.flagged_accounts, "excluded_interactions": self.excluded_interactions,
            "interactions_scored": self.interactions - self.excluded_interactions,
            "weights": self.weights, "constant": self.constant, "measures": MEASURES,
            "betweenness_sources": self.betweenness_sources,
            "previous_window": [t.isoformat() for t in self.previous_window] if self.previous_window else None,
            "accounts": [a.to_dict() for a in self.accounts],
            "communities": [c.to_dict() for c in self.communities],
        }


@dataclass
class Analysis:
    """Everything computed for one topic, platform and window (all nodes, not just the top)."""

    topic: str
    platform: str
    since: datetime | None
    until: datetime | None
    exclude_flagged: bool
    graph: TopicGraph
    scores: Scores
    membership: np.ndarray | None
    communities: list[Community]
    flags: bots.Flags
    posts: Counter
    stakeholders: frozenset[str]
    stakeholder_ids: frozenset[int]
    accounts: dict[int, AccountInfo]
    interactions_read: int
    excluded_interactions: int
    computed_at: datetime
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    boosts: dict[int, dict[str, Any]] = field(default_factory=dict)  # account id -> bots.boosted's mark
    edges_read: Edges | None = field(default=None, repr=False)  # every interaction read (before any left out)

    @property
    def flagged_ids(self) -> set[int]:
        return {a for a, f in self.flags.items() if f.flagged}

    def community_of(self) -> dict[int, int]:
        """account id -> community (empty when communities were not computed)."""
        if self.membership is None:
            return {}
        return dict(zip(self.graph.account_ids.tolist(), self.membership.tolist()))

    def node_score(self, v: int, previous: dict[int, int] | None = None) -> AccountScore:
        """The :class:`AccountScore` of node index ``v``."""
        g, s = self.graph, self.scores
        aid = int(g.account_ids[v])
        info = self.accounts.get(aid)
        f = self.flags.get(aid)
        handle = info.handle if info else None
        return AccountScore(
            account_id=aid, rank=int(s.rank[v]), score=float(s.score[v]), pagerank=float(s.pagerank[v]),
            in_degree=int(s.in_degree[v]), authority=float(s.authority[v]), betweenness=float(s.betweenness[v]),
            parts={k: float(p[v]) for k, p in s.parts.items()}, amplifiers=int(self._amplifiers[v]),
            amplifications=int(self._amplifications[v]), replies=int(self._replies[v]),
            mentions=int(self._mentions[v]), posts=int(self.posts.get(aid, 0)),
            community=None if self.membership is None else int(self.membership[v]),
            previous_rank=(previous or {}).get(aid), flagged=bool(f and f.flagged), flags=f.to_json() if f else [],
            boosted=self.boosts.get(aid),
            stakeholder=aid in self.stakeholder_ids or bool(handle and handle.lower() in self.stakeholders),
            platform=info.platform if info else None, handle=handle, name=info.name if info else None,
            followers=info.followers if info else None, verified=info.verified if info else None,
            partial=info.partial if info else False,
        )

    def __post_init__(self) -> None:
        g = self.graph
        self._amplifiers = g.amplifiers()
        self._amplifications = g.amplifications()
        self._replies = g.received(REPLY)
        self._mentions = g.received(MENTION)

    def ranking(self, limit: int | None = 20, previous: dict[int, int] | None = None,
                include: Iterable[int] = ()) -> Ranking:
        """The top ``limit`` accounts (plus the accounts ``include`` names, e.g. stakeholders) as a Ranking."""
        order = self.scores.order
        nodes = list(order[: (len(order) if limit is None else limit)].tolist())
        extra = [self.graph.index(a) for a in include]
        nodes += sorted({v for v in extra if v is not None} - set(nodes), key=lambda v: self.scores.rank[v])
        return Ranking(
            topic=self.topic, platform=self.platform, since=self.since, until=self.until,
            exclude_flagged=self.exclude_flagged, computed_at=self.computed_at,
            accounts=[self.node_score(v, previous) for v in nodes], communities=self.communities,
            network_accounts=self.graph.n, interactions=self.interactions_read, edges=self.graph.pairs,
            flagged_accounts=len(self.flagged_ids), weights=self.scores.weights,
            betweenness_sources=self.scores.betweenness_sources, seconds=self.seconds, source="fresh",
            excluded_interactions=self.excluded_interactions, constant=list(self.scores.constant),
        )


def analyse(store: Store, topic: str, since: datetime | None, until: datetime | None, *,
            platform: str | None = None, exclude_flagged: bool = False, stakeholders: Iterable[str] = (),
            communities: bool = True, flags: bots.Flags | dict[int, bots.AccountFlags] | None = None,
            edges: Edges | None = None, thresholds: bots.Thresholds | None = None,
            features: Features | None = None, start_communities: dict[int, int] | tuple[np.ndarray, np.ndarray] | None = None,
            account_limit: int | None = 1000, seed: int = SEED, posts: Counter | None = None) -> Analysis:
    """Compute the influence analysis of ``topic`` in ``[since, until)``.

    Parameters
    ----------
    store : Store
    topic : str
    since, until : datetime or None
        The window (aware UTC).
    platform : str, optional
        One platform, or None / "all" for every platform.
    exclude_flagged : bool
        Leave out the interactions made by flagged accounts (automation, coordination) before scoring.
    stakeholders : iterable of str
        The topic's stakeholder handles (lower case), marked in the ranking.
    communities : bool
        Find the communities (Leiden) and label them.
    flags, edges, features, posts : optional
        Already computed flags, already read edges, already read label features
        (:func:`features_per_account`) and posts per account (:func:`topic_posts_per_account`), to share
        them between variants.
    start_communities : dict or (ndarray, ndarray), optional
        account id -> community of the other variant, where the community search starts (or the arrays
        ``(ascending account ids, community of each)``, :func:`influence.communities.leiden`).
    account_limit : int or None
        Look up account details (handles, followers) for this many top accounts (None: all).
    seed : int
        Seed of the sampled betweenness and of the community search.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    plat = platform or ALL_PLATFORMS
    t = time.perf_counter()
    if edges is None:
        edges = read_edges(store.engine, topic, since, until, plat)
    timings["read"] = time.perf_counter() - t
    read = len(edges)
    edges_read = edges
    t = time.perf_counter()
    if flags is None:
        flags = bots.detect(store, topic, since, until, plat, thresholds)
    elif not isinstance(flags, bots.Flags):
        flags = bots.Flags(flags, thresholds=thresholds)
    timings["flags"] = time.perf_counter() - t
    # measured on every interaction, before any are left out: who owes its amplification to flagged accounts
    boosts = bots.boosted(edges.src, edges.dst, (edges.kind == RETWEET) | (edges.kind == QUOTE), flags)
    excluded = 0
    if exclude_flagged:
        flagged = [a for a, f in flags.items() if f.flagged]
        kept = edges.without_sources(flagged)
        excluded = read - len(kept)
        edges = kept
    t = time.perf_counter()
    g = build_graph(edges)
    timings["build"] = time.perf_counter() - t
    scores = score_graph(g, seed=seed)
    timings.update({f"score_{k}": v for k, v in scores.timings.items()})
    t = time.perf_counter()
    if posts is None:  # the flags count each author's posts as they read them (when they do)
        posts = getattr(flags, "posts_per_account", None)
    if posts is None:
        posts = topic_posts_per_account(store, topic, since, until, plat)
    sh = frozenset(h.lower().lstrip("@") for h in stakeholders)
    sh_ids = frozenset(a for ids in accounts_by_handle(store, sh).values() for a in ids)
    want = set(g.account_ids[scores.order[: (g.n if account_limit is None else account_limit)]].tolist())
    want |= {a for a in sh_ids if g.index(a) is not None}
    membership = None
    comms: list[Community] = []
    if communities and g.n:
        tc = time.perf_counter()
        membership = leiden(g, seed=seed, start=start_communities)
        timings["communities"] = time.perf_counter() - tc
        n_comm = int(membership.max()) + 1
        # the labels name each community's top accounts
        firsts: dict[int, int] = {}
        for v in scores.order.tolist():
            c = int(membership[v])
            if c < 30 and firsts.get(c, 0) < 3:
                firsts[c] = firsts.get(c, 0) + 1
                want.add(int(g.account_ids[v]))
            if len(firsts) >= min(n_comm, 30) and all(x >= 3 for x in firsts.values()):
                break
    accounts = account_info(store, want)
    if membership is not None:
        tl = time.perf_counter()
        feats = features if features is not None else features_per_account(store, topic, since, until, plat)
        comms = describe(g, membership, scores.order, scores.betweenness,
                         {a: i.handle for a, i in accounts.items()}, feats)
        named = {b["account_id"] for c in comms for b in c.bridges}
        named |= {int(x[0]) for c in comms for x in c.features.get("accounts", [])}
        if named - set(accounts):
            accounts.update(account_info(store, named - set(accounts)))
        handles = {a: i.handle for a, i in accounts.items()}
        for c in comms:
            c.label = make_label(c, handles)
            for b in c.bridges:
                inf = accounts.get(b["account_id"])
                b["display"] = (f"@{inf.handle}" if inf and inf.handle else
                                (inf.name if inf and inf.name else f"account {b['account_id']}"))
        timings["community_labels"] = time.perf_counter() - tl
    timings["details"] = time.perf_counter() - t
    return Analysis(topic=topic, platform=plat, since=since, until=until, exclude_flagged=exclude_flagged, graph=g,
                    scores=scores, membership=membership, communities=comms, flags=flags, posts=posts,
                    stakeholders=sh, stakeholder_ids=sh_ids, accounts=accounts, interactions_read=read,
                    excluded_interactions=excluded, computed_at=utcnow(), seconds=time.perf_counter() - t0,
                    timings=timings, boosts=boosts, edges_read=edges_read)
