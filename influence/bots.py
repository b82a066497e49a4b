"""Flags for accounts that behave like automation, and for coordinated amplification.

Every flag carries its evidence, in words an official can check, and the
numbers behind them. Signals, per account, over the topic's posts in the window:

``high_rate``
    At least :attr:`Thresholds.rate_per_day` posts a day on the topic over the
    days the topic was observed, or on average over the account's life
    (platform post count / account age, where the platform says).
``mostly_reposts``
    At least :attr:`Thresholds.repost_share` of its (at least
    :attr:`Thresholds.repost_min_posts`) posts on the topic are retweets.
``duplicate_text``
    At least :attr:`Thresholds.duplicate_min_posts` of its posts are
    near-identical to posts of other accounts (a cluster spanning at least
    :attr:`Thresholds.duplicate_min_accounts` accounts) or to its own earlier
    posts. Texts are compared after dropping links, mentions, numbers, case
    and punctuation; "near-identical" means a Jaccard similarity of word pairs
    of at least :attr:`Thresholds.duplicate_similarity` (MinHash with LSH to
    find candidates, checked exactly).
``new_account``
    Created at most :attr:`Thresholds.new_account_days` days before the end of
    the window (where the platform gives a creation date).
``burst``
    Took part in a burst: at least :attr:`Thresholds.burst_min_accounts`
    accounts retweeting the same post, each within
    :attr:`Thresholds.burst_gap_seconds` of the previous one (and the whole
    burst within :attr:`Thresholds.burst_max_span_seconds`), that made up at
    least :attr:`Thresholds.burst_min_share` of the post's retweeters. A run of
    quick retweets inside a big cascade (a story breaking, a live broadcast
    people react to) is what a popular post looks like, not evidence.
``coordinated``
    Bursts with the same partners again and again: pairs of accounts that share
    at least :attr:`Thresholds.coordination_min_bursts` bursts (on different
    posts) are linked, and the connected groups of at least
    :attr:`Thresholds.coordination_min_group` accounts are coordinated.

An account is **flagged** when it is coordinated, or when it shows at least
:attr:`Thresholds.behaviour_signals_to_flag` of the other signals. A single
signal is shown but does not flag: plenty of people mostly retweet, or opened
their account last month.

Each coordinated group is a **ring**, numbered 1, 2, ... by size (largest first,
then smallest account id), so the ranking can say which ring did what. A post that
a ring's members retweeted in bursts is a **coordinated post**
(:class:`CoordinatedPost`). An account whose amplification comes mostly from
flagged accounts (at least :attr:`Thresholds.boosted_share` of the retweets and
quotes it received, and at least :attr:`Thresholds.boosted_min_amplifications` of
them) is **boosted** (:func:`boosted`): not flagged itself (it may be a real
person whom a ring amplifies), but marked in the ranking with which ring and what
share.
"""

from __future__ import annotations

import gc
import itertools
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any, Callable, Iterable

import numpy as np
from sqlalchemy import select

from influence.graph import raw_rows, topic_filter_sql
from monitor import models as m, textsig
from monitor.store import Store
from monitor.textsig import normalise_text  # noqa: F401  (the normalisation the detector compares texts by)

SIGNALS = ("coordinated", "burst", "high_rate", "mostly_reposts", "duplicate_text", "new_account")
_SIGNAL_ORDER = {k: i for i, k in enumerate(SIGNALS)}


@dataclass(frozen=True)
class Thresholds:
    """Where each signal starts (defaults follow common practice in bot research; see the module doc)."""

    rate_per_day: float = 72.0
    repost_share: float = 0.9
    repost_min_posts: int = 10
    duplicate_min_accounts: int = 3
    duplicate_min_posts: int = 3
    duplicate_similarity: float = 0.8
    duplicate_min_chars: int = 20
    new_account_days: int = 90
    burst_gap_seconds: float = 10.0
    burst_min_accounts: int = 5
    burst_max_span_seconds: float = 300.0
    burst_min_share: float = 0.5
    coordination_min_bursts: int = 2
    coordination_min_group: int = 3
    behaviour_signals_to_flag: int = 2
    boosted_share: float = 0.5
    boosted_min_amplifications: int = 3


@dataclass
class Signal:
    """One piece of evidence: ``kind`` (see :data:`SIGNALS`), a sentence, and its numbers."""

    kind: str
    evidence: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class AccountFlags:
    """The signals found for one account."""

    account_id: int
    signals: list[Signal] = field(default_factory=list)
    behaviour_needed: int = Thresholds.behaviour_signals_to_flag

    @property
    def kinds(self) -> list[str]:
        return [s.kind for s in self.signals]

    @property
    def coordinated(self) -> bool:
        return "coordinated" in self.kinds

    @property
    def flagged(self) -> bool:
        """Coordinated, or enough behaviour signals together."""
        kinds = {s.kind for s in self.signals}
        return "coordinated" in kinds or len(kinds) >= self.behaviour_needed

    @property
    def ring(self) -> int | None:
        """The ring (coordinated group) it belongs to, if any."""
        for s in self.signals:
            if s.kind == "coordinated":
                return s.data.get("ring")
        return None

    def to_json(self) -> list[dict[str, Any]]:
        """The signals as ``[{"kind", "evidence", "data"}, ...]`` in :data:`SIGNALS` order (what is stored).

        The ``data`` dicts are copied one level deep, not recursively (``dataclasses.asdict`` deep-copies
        every list of every signal: 15 s under cProfile for the 120,000 accounts with a signal of the old bench's
        million interactions).
        """
        return [{"kind": s.kind, "evidence": s.evidence, "data": dict(s.data)}
                for s in sorted(self.signals, key=lambda s: _SIGNAL_ORDER[s.kind])]


@dataclass
class Ring:
    """A coordinated group: accounts that retweet the same posts within seconds of each other, again and again."""

    id: int
    members: list[int]
    bursts: int  # bursts with at least two of its members
    posts: int  # distinct posts it burst on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CoordinatedPost:
    """A post that a ring's members retweeted in bursts."""

    platform: str
    platform_id: str  # the retweeted post
    account_id: int | None  # its author
    ring: int
    accounts: int  # distinct ring members that retweeted it in bursts
    bursts: int
    first: float  # epoch seconds of the first burst's first retweet
    last: float  # epoch seconds of the last burst's last retweet


class Flags(dict):
    """account id -> :class:`AccountFlags` (accounts with at least one signal), plus what was found.

    Attributes
    ----------
    rings : list of Ring
        The coordinated groups, numbered by size.
    posts : list of CoordinatedPost
        The posts the rings retweeted in bursts.
    thresholds : Thresholds
    """

    def __init__(self, *args, rings: list[Ring] | None = None, posts: list[CoordinatedPost] | None = None,
                 thresholds: "Thresholds | None" = None, **kw):
        super().__init__(*args, **kw)
        self.rings: list[Ring] = rings or []
        self.posts: list[CoordinatedPost] = posts or []
        self.thresholds: Thresholds = thresholds or Thresholds()
        #: Posts each account made on the topic in the window (all kinds), as :func:`detect` counted them (the
        #: same as :func:`influence.analysis.topic_posts_per_account`); None for flags made otherwise.
        self.posts_per_account: Counter | None = None

    @property
    def flagged(self) -> set[int]:
        return {a for a, f in self.items() if f.flagged}

    def stored(self) -> list[tuple[int, bool, int | None, list[str], list[dict[str, Any]]]]:
        """``(account id, flagged, ring, signal kinds, evidence)`` of every account, by id: what a stored run
        keeps of each. Computed once per detection and shared by the runs that store it (both variants
        of a recompute store the same flags)."""
        cache = getattr(self, "_stored", None)
        if cache is None or cache[0] != len(self):
            rows = [(acc, f.flagged, f.ring, f.kinds, f.to_json()) for acc, f in sorted(self.items())]
            cache = self._stored = (len(self), rows)
        return cache[1]

    def ring_of(self) -> dict[int, int]:
        """account id -> ring id, for the rings' members."""
        return {a: r.id for r in self.rings for a in r.members}


# ------------------------------------------------------------------------------------------ texts
#: Distinct texts in one band bucket up to which every pair of them is checked (above: each against the first).
BUCKET_ALL_PAIRS = 64


def signature_clusters(sigs: np.ndarray, texts_of: Callable[[list[int]], list[str]], *,
                       similarity: float = 0.8) -> list[list[int]]:
    """Groups of near-identical texts from their signatures (:mod:`monitor.textsig`): indices into ``sigs``.

    Texts with the same key (the same normalised text) are one group directly. Distinct texts whose
    signatures share a band key are candidates: every pair of a bucket (of at most
    :data:`BUCKET_ALL_PAIRS` distinct texts; in a bigger one, its first text and each other) is checked
    exactly, on the texts ``texts_of(indices)`` returns, unless the two are joined already: joined when
    the Jaccard similarity of their word pairs is at least ``similarity``. Only candidates' texts are
    asked for. The groups (two or more texts) are the connected components of what was joined, each
    sorted, ordered by their first index.
    """
    n = len(sigs)
    if n == 0:
        return []
    uniq, first, inv = np.unique(sigs["key"], return_index=True, return_inverse=True)
    inv = inv.ravel()
    d = uniq.size
    bands = sigs["bands"][first]
    keys, texts = [], []
    for band in range(textsig.BANDS):  # per band, the distinct texts that share a bucket with another
        k = bands[:, band]
        order = np.argsort(k)
        ks = k[order]
        same = np.flatnonzero(ks[1:] == ks[:-1])
        if same.size:
            members = np.unique(np.concatenate([order[same], order[same + 1]]))
            keys.append((np.uint64(band) << np.uint64(32)) | k[members].astype(np.uint64))
            texts.append(members)
    parent = np.arange(d)
    if keys:
        key, member = np.concatenate(keys), np.concatenate(texts).astype(np.int64)
        o = np.lexsort((member, key))  # by bucket, then text
        key, member = key[o], member[o]
        new = np.ones(key.size, dtype=bool)
        new[1:] = key[1:] != key[:-1]
        start = np.flatnonzero(new)
        size = np.diff(np.append(start, key.size))
        bucket = np.cumsum(new) - 1
        pos = np.arange(key.size) - start[bucket]  # place in its bucket
        big = size[bucket] > BUCKET_ALL_PAIRS
        # each text paired with every later one of its bucket (a big bucket: the first with every other)
        later = np.where(big, np.where(pos == 0, size[bucket] - 1, 0), size[bucket] - 1 - pos)
        total = int(later.sum())
        at = np.repeat(np.arange(key.size), later)
        step = np.arange(total) - np.repeat(np.cumsum(later) - later, later) + 1
        code = np.unique(member[at] * d + member[at + step])
        pa, pb = (code // d).tolist(), (code % d).tolist()
        need = np.unique(member)
        got = texts_of(first[need].tolist())
        sets = {x: textsig.shingles(normalise_text(t)) for x, t in zip(need.tolist(), got)}
        up = list(range(d))

        def find(x: int) -> int:
            while up[x] != x:
                up[x] = up[up[x]]
                x = up[x]
            return x

        for x, y in zip(pa, pb):
            rx, ry = find(x), find(y)
            if rx != ry:
                A, B = sets[x], sets[y]
                if len(A & B) / len(A | B) >= similarity:
                    up[max(rx, ry)] = min(rx, ry)
        parent[need] = [find(x) for x in need.tolist()]  # only candidates were joined
    label = parent[inv]
    count = np.bincount(label, minlength=d)
    grouped = np.flatnonzero(count[label] >= 2)
    if grouped.size == 0:
        return []
    gl = label[grouped]
    o = np.argsort(gl, kind="stable")
    gl, grouped = gl[o], grouped[o]
    cut = np.flatnonzero(gl[1:] != gl[:-1]) + 1
    return sorted((g.tolist() for g in np.split(grouped, cut)), key=lambda g: g[0])


def near_duplicate_clusters(texts: list[str], *, similarity: float = 0.8,
                            min_chars: int = textsig.MIN_CHARS) -> list[list[int]]:
    """Groups of near-identical texts (indices into ``texts``), each of two or more.

    Texts are compared after :func:`normalise_text`; texts shorter than ``min_chars`` once normalised
    are ignored; exact duplicates are grouped directly, and distinct texts whose MinHash signatures
    (:func:`monitor.textsig.signatures`: 20 bands of 6 rows) share a band are checked exactly: joined
    when the Jaccard similarity of their word pairs is at least ``similarity``
    (:func:`signature_clusters`). The bands are tuned for the detector's 0.8: a pair at 0.8 is a
    candidate with probability 0.998, at 0.5 only 0.27.

    Examples
    --------
    >>> near_duplicate_clusters(["Don't ban our vapes! Vaping helped millions quit smoking",
    ...                          "Don't ban our vapes!! Vaping helped millions quit smoking #VapingSavesLives",
    ...                          "The waiting list for hip operations is a national scandal"])
    [[0, 1]]
    """
    sigs = textsig.signatures(texts, min_chars=min_chars)
    keep = [i for i, s in enumerate(sigs) if s]
    got = signature_clusters(textsig.decode([sigs[i] for i in keep]), lambda idx: [texts[keep[j]] for j in idx],
                             similarity=similarity)
    return [[keep[j] for j in g] for g in got]


# ------------------------------------------------------------------------------------------ bursts
def find_bursts(retweets: Iterable[tuple[str, float, int]], *, gap: float = 10.0, min_accounts: int = 5,
                max_span: float = 300.0) -> list[dict[str, Any]]:
    """Bursts in ``(retweeted post id, epoch seconds, account id)`` rows.

    A burst is a run of retweets of one post, each within ``gap`` seconds of the
    previous, by at least ``min_accounts`` distinct accounts, lasting at most
    ``max_span`` seconds.

    Examples
    --------
    >>> rows = [("p", 100 + 2 * i, i) for i in range(6)] + [("p", 500, 9)]
    >>> [(b["post"], b["accounts"], b["span"]) for b in find_bursts(rows)]
    [('p', [0, 1, 2, 3, 4, 5], 10.0)]
    """
    codes: dict[Any, int] = {}
    keys: list[Any] = []
    post_code, times, accs = [], [], []
    for post, ts, acc in retweets:
        if post is None:
            continue
        c = codes.get(post)
        if c is None:
            c = codes[post] = len(keys)
            keys.append(post)
        post_code.append(c)
        times.append(float(ts))
        accs.append(int(acc))
    return bursts_of(np.asarray(post_code, dtype=np.int64), np.asarray(times, dtype=np.float64),
                     np.asarray(accs, dtype=np.int64), keys, gap=gap, min_accounts=min_accounts, max_span=max_span)


def bursts_of(code: np.ndarray, ts_: np.ndarray, acc_: np.ndarray, keys: list, *, gap: float = 10.0,
              min_accounts: int = 5, max_span: float = 300.0) -> list[dict[str, Any]]:
    """:func:`find_bursts` on arrays: retweet ``i`` is of post ``keys[code[i]]``, at ``ts_[i]``, by ``acc_[i]``."""
    if code.size == 0:
        return []
    # posts with too few retweets cannot burst
    enough = np.bincount(code)[code] >= min_accounts
    code, ts_, acc_ = code[enough], ts_[enough], acc_[enough]
    if code.size == 0:
        return []
    order = np.lexsort((acc_, ts_, code))
    code, ts_, acc_ = code[order], ts_[order], acc_[order]
    # a run breaks where the post changes or the gap to the previous retweet exceeds ``gap``
    brk = np.ones(code.size, dtype=bool)
    brk[1:] = (code[1:] != code[:-1]) | (np.diff(ts_) > gap)
    run = np.cumsum(brk) - 1
    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], code.size)
    span = ts_[ends - 1] - ts_[starts]
    _, acc_code = np.unique(acc_, return_inverse=True)
    pair = np.unique(run * (int(acc_code.max()) + 1) + acc_code.ravel())  # distinct (run, account)
    distinct = np.bincount(pair // (int(acc_code.max()) + 1), minlength=starts.size)
    out = []
    for r in np.flatnonzero((distinct >= min_accounts) & (span <= max_span)).tolist():
        lo, hi = starts[r], ends[r]
        out.append({"post": keys[int(code[lo])], "start": float(ts_[lo]), "span": float(span[r]),
                    "accounts": sorted(set(acc_[lo:hi].tolist()))})
    out.sort(key=lambda b: (b["start"], b["post"]))
    return out


def coordinated_groups(bursts: list[dict[str, Any]], *, min_bursts: int = 2, min_group: int = 3,
                       max_burst_size: int = 500) -> list[tuple[list[int], int]]:
    """Groups of accounts that burst together repeatedly: ``[(members, bursts shared), ...]``.

    Two accounts are linked when they appear together in at least ``min_bursts``
    bursts; groups are the connected components of those links with at least
    ``min_group`` members. (Bursts above ``max_burst_size`` accounts are left out
    of the pairing: organic cascades, not a ring.)

    Examples
    --------
    >>> b = [{"accounts": [1, 2, 3, 4]}, {"accounts": [1, 2, 3, 9]}, {"accounts": [5, 6, 7]}]
    >>> coordinated_groups(b)
    [([1, 2, 3], 2)]
    """
    pairs: Counter = Counter()
    for b in bursts:
        acc = b["accounts"]
        if len(acc) > max_burst_size:
            continue
        for i in range(len(acc)):
            for j in range(i + 1, len(acc)):
                pairs[(acc[i], acc[j])] += 1
    adj: dict[int, set[int]] = defaultdict(set)
    strength: dict[int, int] = defaultdict(int)
    for (x, y), c in pairs.items():
        if c >= min_bursts:
            adj[x].add(y)
            adj[y].add(x)
            strength[x] = max(strength[x], c)
            strength[y] = max(strength[y], c)
    seen: set[int] = set()
    groups = []
    for start in sorted(adj):
        if start in seen:
            continue
        comp, stack = [], [start]
        seen.add(start)
        while stack:
            v = stack.pop()
            comp.append(v)
            for w in adj[v]:
                if w not in seen:
                    seen.add(w)
                    stack.append(w)
        if len(comp) >= min_group:
            groups.append((sorted(comp), max(strength[v] for v in comp)))
    return groups


# ------------------------------------------------------------------------------------------ detection
def _window(cols, since, until):
    cond = []
    if since is not None:
        cond.append(cols >= since)
    if until is not None:
        cond.append(cols < until)
    return cond


def _time_sql(store: Store, column: str) -> str:
    """A time column as :func:`_epochs` reads it: SQLite's stored text (numpy parses it: a sixth of the cost of
    ``julianday`` in SQL), PostgreSQL's epoch seconds."""
    return column if store.dialect == "sqlite" else f"EXTRACT(EPOCH FROM {column})"


def _epochs(values: list) -> np.ndarray:
    """Epoch seconds of times read by :func:`_time_sql` (text as the store writes it, naive UTC; or numbers)."""
    if values and isinstance(values[0], str):
        try:
            return np.array(values, dtype="datetime64[us]").astype(np.int64) / 1e6
        except ValueError:  # not the store's own format: parsed one by one
            return np.array([datetime.fromisoformat(v).replace(tzinfo=timezone.utc).timestamp() for v in values],
                            dtype=np.float64)
    return np.array(values, dtype=np.float64)


def _by_id(conn, column, ids: list[int]) -> list[tuple[int, Any]]:
    """``(post id, column)`` of these posts, read 5,000 at a time."""
    p = m.posts
    out: list[tuple[int, Any]] = []
    for k in range(0, len(ids), 5000):
        out.extend(conn.execute(select(p.c.id, column).where(p.c.id.in_(ids[k:k + 5000]))).all())
    return out


def detect(store: Store, topic: str, since: datetime | None, until: datetime | None, platform: str | None = None,
           thresholds: Thresholds | None = None) -> Flags:
    """Signals for the accounts posting on ``topic`` in ``[since, until)``.

    Two big reads: the topic's posts (author, retweet or not, and the stored text signature of the
    others, :mod:`monitor.textsig`) and its retweets (for bursts); the rest is numpy work and a few
    lookups by id. Python's cyclic garbage collector is paused meanwhile: the million row tuples a
    read makes hold no cycles, but would set off collections that scan the whole heap, again and again
    (1 s of a 3 s detection at a million interactions).

    Returns
    -------
    Flags
        account id -> :class:`AccountFlags`, for accounts with at least one signal, with the rings
        and the coordinated posts.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _detect(store, topic, since, until, platform, thresholds)
    finally:
        if paused:
            gc.enable()


def _detect(store: Store, topic: str, since: datetime | None, until: datetime | None, platform: str | None,
            thresholds: Thresholds | None) -> Flags:
    th = thresholds or Thresholds()
    pt, p, a = m.post_topics, m.posts, m.accounts
    cond = [pt.c.topic == topic, *_window(pt.c.created_at, since, until)]
    if platform and platform != "all":
        cond.append(p.c.platform == platform)
    flags = Flags(thresholds=th)

    def add(acc: int, kind: str, evidence: str, **data) -> None:
        f = flags.setdefault(acc, AccountFlags(acc, behaviour_needed=th.behaviour_signals_to_flag))
        f.signals.append(Signal(kind, evidence, data))

    with store.engine.connect() as conn:
        # every post on the topic: its author and whether it is a retweet (the posts and retweets per author);
        # for a retweet, the post it retweets and when (the bursts' candidates, below); for the others the
        # signature of its text (monitor.textsig; a post without one, written by something else than the
        # store or not back-filled, is signed here from its text)
        where, params = topic_filter_sql(store.engine, topic, since, until, platform, alias_posts="p")
        sig = "p.text_sig" if th.duplicate_min_chars == textsig.MIN_CHARS else "NULL"  # signed at MIN_CHARS
        rows = raw_rows(store.engine, f"SELECT pt.account_id, p.kind = 'retweet', pt.post_id, {sig}, NULL, CASE "
                                      f"WHEN p.kind = 'retweet' THEN p.ref_platform_id END, CASE WHEN p.kind = "
                                      f"'retweet' THEN {_time_sql(store, 'pt.created_at')} END FROM post_topics pt "
                                      f"JOIN posts p ON p.id = pt.post_id WHERE {where}", params)
        if not rows:
            return flags
        n_rows = len(rows)
        author = np.fromiter(map(itemgetter(0), rows), dtype=np.int64, count=n_rows)
        is_rt = np.fromiter(map(itemgetter(1), rows), dtype=bool, count=n_rows)
        ids, inv = np.unique(author, return_inverse=True)
        totals = np.bincount(inv, minlength=ids.size).astype(np.int64)
        retweets_n = np.bincount(inv[is_rt], minlength=ids.size).astype(np.int64)
        flags.posts_per_account = Counter(dict(zip(ids.tolist(), totals.tolist())))
        retweet_rows = list(map(rows.__getitem__, np.flatnonzero(is_rt).tolist()))
        rows = list(map(rows.__getitem__, np.flatnonzero(~is_rt).tolist()))  # the posts whose texts are compared
        rows.sort(key=itemgetter(2))  # by post id: the same order whatever the plan
        del author, is_rt, inv
        ends = [conn.execute(select(pt.c.created_at).select_from(pt.join(p, p.c.id == pt.c.post_id)).where(*cond)
                             .order_by(pt.c.created_at.desc() if last else pt.c.created_at).limit(1)).scalar()
                for last in (False, True)]  # two index seeks
        first, last = ends
        days = max(1.0, (last - first).total_seconds() / 86400.0) if first and last else 1.0
        end = until or last
        # the signals read per account below, found for every author at once (the accounts' creation dates
        # as epoch seconds); the few candidates are checked on the rows themselves below
        rate = totals / days
        candidate = (rate >= th.rate_per_day) | ((totals >= th.repost_min_posts)
                                                 & (retweets_n / np.maximum(totals, 1) >= th.repost_share))
        if end is not None:
            known = ids.tolist()
            got = list(itertools.chain.from_iterable(conn.exec_driver_sql(
                f"SELECT a.id, {_time_sql(store, 'a.created_at')}, coalesce(a.posts_count, 0) FROM accounts a "
                f"WHERE a.created_at IS NOT NULL AND a.id IN ({', '.join(map(str, known[k:k + 5000]))})").all()
                for k in range(0, len(known), 5000)))
            born = np.empty((len(got), 3), dtype=np.float64)
            if got:
                born[:, 0] = np.fromiter(map(itemgetter(0), got), dtype=np.int64, count=len(got))
                born[:, 1] = _epochs(list(map(itemgetter(1), got)))
                born[:, 2] = np.fromiter(map(itemgetter(2), got), dtype=np.int64, count=len(got))
            del got
            if born.shape[0]:
                at = np.searchsorted(ids, born[:, 0].astype(np.int64))
                age = (end.timestamp() - born[:, 1]) / 86400.0
                slack = 1.0 / 86400.0  # a second: more than the epoch's rounding
                life = born[:, 2] / np.maximum(age, slack)
                cand = (((age >= 1 - slack) & (born[:, 2] > 0) & (life >= th.rate_per_day * (1 - 1e-6)))
                        | ((age >= -slack) & (age <= th.new_account_days + slack)))
                candidate[at[cand]] = True
        chosen = ids[candidate].tolist()
        info: dict[int, Any] = {}
        for k in range(0, len(chosen), 5000):
            chunk = chosen[k:k + 5000]
            for row in conn.execute(select(a.c.id, a.c.handle, a.c.created_at, a.c.posts_count)
                                    .where(a.c.id.in_(chunk))):
                info[row.id] = row
        for acc, total, rts in zip(chosen, totals[candidate].tolist(), retweets_n[candidate].tolist()):
            rate = total / days
            row = info.get(acc)
            if rate >= th.rate_per_day:
                add(acc, "high_rate", f"{rate:.0f} posts a day on this topic ({total} posts in {days:.1f} days)",
                    posts=total, days=round(days, 2), per_day=round(rate, 1))
            elif row is not None and row.created_at is not None and row.posts_count and end is not None:
                age = (end - row.created_at).total_seconds() / 86400.0
                if age >= 1 and row.posts_count / age >= th.rate_per_day:
                    life = row.posts_count / age
                    add(acc, "high_rate", f"{life:.0f} posts a day over the account's life ({row.posts_count:,} "
                        f"posts since {row.created_at:%Y-%m-%d})", per_day=round(life, 1),
                        posts_count=row.posts_count, created_at=row.created_at.isoformat())
            if total >= th.repost_min_posts and rts / total >= th.repost_share:
                add(acc, "mostly_reposts", f"{rts / total:.0%} of its {total} posts on this topic are retweets",
                    posts=total, retweets=rts)
            if row is not None and row.created_at is not None and end is not None:
                age_days = (end - row.created_at).total_seconds() / 86400.0
                if 0 <= age_days <= th.new_account_days:
                    add(acc, "new_account", f"account created {row.created_at:%Y-%m-%d}, {age_days:.0f} days before "
                        f"the end of the window", created_at=row.created_at.isoformat(), age_days=round(age_days, 1))

        # near-identical texts, from their signatures
        post_ids = list(map(itemgetter(2), rows))
        authors = list(map(itemgetter(0), rows))
        sigs = list(map(itemgetter(3), rows))
        texts = list(map(itemgetter(4), rows))
        del rows
        unsigned = [j for j, x in enumerate(sigs) if x is None]
        if unsigned:
            got = dict(_by_id(conn, p.c.text, [post_ids[j] for j in unsigned]))
            for j in unsigned:
                texts[j] = got[post_ids[j]] or ""
        for j, x in zip(unsigned, textsig.signatures([texts[j] or "" for j in unsigned],
                                                     min_chars=th.duplicate_min_chars)):
            sigs[j] = x
        keep = [j for j, x in enumerate(sigs) if x]

        def texts_of(idx: list[int]) -> list[str]:
            want = [post_ids[keep[j]] for j in idx if texts[keep[j]] is None]
            got = dict(_by_id(conn, p.c.text, want))
            return [texts[keep[j]] if texts[keep[j]] is not None else got[post_ids[keep[j]]] for j in idx]

        clusters = [[keep[j] for j in g] for g in signature_clusters(
            textsig.decode([bytes(sigs[j]) for j in keep]), texts_of, similarity=th.duplicate_similarity)]
        if clusters:  # each cluster in time order, the clusters by their first post (the example shown)
            when = dict(_by_id(conn, p.c.created_at, [post_ids[j] for g in clusters for j in g]))
            clusters = sorted((sorted(g, key=lambda j: (when[post_ids[j]], post_ids[j])) for g in clusters),
                              key=lambda g: (when[post_ids[g[0]]], post_ids[g[0]]))
        dup_posts: Counter = Counter()
        dup_example: dict[int, tuple[int, int]] = {}
        for cluster in clusters:
            accs = Counter(authors[j] for j in cluster)
            for acc, n in accs.items():
                if len(accs) >= th.duplicate_min_accounts or n >= th.duplicate_min_posts:
                    dup_posts[acc] += n
                    if acc not in dup_example or len(accs) > dup_example[acc][1]:
                        dup_example[acc] = (cluster[0], len(accs))
        shown = {acc: dup_example[acc][0] for acc, n in dup_posts.items() if n >= th.duplicate_min_posts}
        example = dict(_by_id(conn, p.c.text, sorted({post_ids[j] for j in shown.values()})))
        for acc, j in shown.items():
            n, accounts = dup_posts[acc], dup_example[acc][1]
            sample = " ".join((example[post_ids[j]] or "").split())[:90]
            others = accounts - 1
            who = f"{others} other account{'s' if others != 1 else ''}" if others else "its own earlier posts"
            add(acc, "duplicate_text", f"{n} posts near-identical to posts by {who}, e.g. \u201c{sample}\u201d",
                posts=n, accounts=accounts, example=sample)
        del post_ids, authors, sigs, texts, keep

        # bursts and coordination. A burst is made of retweet interactions; each is its retweet post's own
        # (the post's platform, reference, time and author: the store writes it from the post), so the bursts
        # are first looked for in the retweet posts read above, by retweeted post id alone, with no limit on
        # their span and counting retweets, not accounts: only the posts with such a run can burst (leaving
        # out a retweet, say a self-retweet, or another platform's post of the same id, only splits and
        # shortens runs). Those posts' retweet interactions are then read, and their bursts found exactly.
        retweet_rows = [r for r in retweet_rows if r[5] is not None]
        n_rows = len(retweet_rows)
        # by the hash of the retweeted post's id (two ids of one hash only join runs), a run of at least
        # burst_min_accounts retweets (accounts counted below), each within burst_gap_seconds of the previous
        h = np.fromiter(map(hash, map(itemgetter(5), retweet_rows)), dtype=np.int64, count=n_rows)
        at = _epochs(list(map(itemgetter(6), retweet_rows)))
        order = np.lexsort((at, h))
        hs = h[order]
        brk = np.ones(n_rows, dtype=bool)
        brk[1:] = (hs[1:] != hs[:-1]) | (np.diff(at[order]) > th.burst_gap_seconds)
        start = np.flatnonzero(brk)
        size = np.diff(np.append(start, n_rows))
        cand = np.unique(hs[start[size >= th.burst_min_accounts]])
        want = [retweet_rows[j][2] for j in np.flatnonzero(np.isin(h, cand)).tolist()]
        del retweet_rows, h, at, order, hs, brk, start, size, cand
        rows = []
        for k in range(0, len(want), 5000):
            rows.extend(conn.exec_driver_sql(
                f"SELECT i.platform, i.ref_platform_id, {_time_sql(store, 'i.created_at')}, i.src_account_id, "
                f"i.dst_account_id FROM interactions i WHERE i.post_id IN ({', '.join(map(str, want[k:k + 5000]))}) "
                f"AND i.kind = 'retweet' AND i.src_account_id <> i.dst_account_id AND i.ref_platform_id IS NOT NULL"
            ).all())
        n_rows = len(rows)
        post_keys = list(map(itemgetter(0, 1), rows))  # (platform, retweeted post id)
        codes = dict.fromkeys(post_keys)
        for c, k in enumerate(codes):
            codes[k] = c
        code = np.fromiter(map(codes.__getitem__, post_keys), dtype=np.int64, count=n_rows)
        keys = list(codes)
        src_arr = np.fromiter(map(itemgetter(3), rows), dtype=np.int64, count=n_rows)
        bursts = bursts_of(code, _epochs(list(map(itemgetter(2), rows))), src_arr, keys,
                           gap=th.burst_gap_seconds, min_accounts=th.burst_min_accounts,
                           max_span=th.burst_max_span_seconds)
        # the author of each post that burst, and its distinct retweeters (how big the cascade the burst was
        # part of is)
        post_authors: dict[tuple[str, str], int] = dict(zip(post_keys, map(itemgetter(4), rows)))
        pairs = np.unique(np.stack([code, src_arr]), axis=1) if n_rows else np.zeros((2, 0), dtype=np.int64)
        per_code = np.bincount(pairs[0], minlength=len(codes))
        retweeters: dict[tuple[str, str], int] = {k: int(per_code[c]) for k, c in codes.items()}
        del rows, src_arr, code, codes, keys, post_keys
        groups = coordinated_groups(bursts, min_bursts=th.coordination_min_bursts,
                                    min_group=th.coordination_min_group)
        groups.sort(key=lambda g: (-len(g[0]), g[0][0]))
        ring_id = {acc: k + 1 for k, (members, _) in enumerate(groups) for acc in members}
        in_group = {acc: (members, shared) for members, shared in groups for acc in members}
        handles: dict[int, str] = {}
        need = sorted({acc for members, _ in groups for acc in members})
        for k in range(0, len(need), 5000):
            for rid, h in conn.execute(select(a.c.id, a.c.handle).where(a.c.id.in_(need[k:k + 5000]))):
                handles[rid] = h
    per_account: dict[int, list[dict]] = defaultdict(list)
    for b in bursts:
        for acc in b["accounts"]:
            per_account[acc].append(b)
    for acc, bs in per_account.items():
        if acc in in_group:
            members, shared = in_group[acc]
            names = ", ".join(f"@{handles[x]}" if handles.get(x) else f"account {x}" for x in members if x != acc)
            shown = names if len(members) <= 6 else ", ".join(names.split(", ")[:5]) + ", ..."
            add(acc, "coordinated",
                f"ring {ring_id[acc]}: retweeted the same posts within seconds of the same accounts in {len(bs)} "
                f"bursts (a group of {len(members)} accounts: {shown})",
                ring=ring_id[acc], bursts=len(bs), group=members, group_size=len(members), shared_bursts=shared,
                posts=sorted({b["post"][1] for b in bs})[:20])
        else:
            bs = [b for b in bs if len(b["accounts"]) >= th.burst_min_share * retweeters.get(b["post"], 0)]
            if not bs:
                continue
            b = max(bs, key=lambda x: len(x["accounts"]))
            add(acc, "burst", f"retweeted post {b['post'][1]} together with {len(b['accounts']) - 1} other accounts "
                f"within {b['span']:.0f} seconds", bursts=len(bs), post=b["post"][1], accounts=len(b["accounts"]))
    flags.rings, flags.posts = _rings_and_posts(groups, bursts, ring_id, post_authors)
    return flags


def _rings_and_posts(groups, bursts, ring_id: dict[int, int],
                     authors: dict) -> tuple[list[Ring], list[CoordinatedPost]]:
    """Each ring's bursts and posts, and the posts each ring burst on (a burst belongs to the ring most of
    whose members in it it has, when at least two)."""
    ring_bursts: Counter = Counter()
    ring_posts: dict[int, set] = defaultdict(set)
    per_post: dict[tuple[tuple[str, str], int], dict[str, Any]] = {}
    for b in bursts:
        count = Counter(ring_id[a] for a in b["accounts"] if a in ring_id)
        if not count:
            continue
        rid, k = min(count.items(), key=lambda kv: (-kv[1], kv[0]))
        if k < 2:
            continue
        ring_bursts[rid] += 1
        ring_posts[rid].add(b["post"])
        p = per_post.setdefault((b["post"], rid), {"accounts": set(), "bursts": 0, "first": b["start"],
                                                   "last": b["start"] + b["span"]})
        p["accounts"].update(a for a in b["accounts"] if ring_id.get(a) == rid)
        p["bursts"] += 1
        p["first"] = min(p["first"], b["start"])
        p["last"] = max(p["last"], b["start"] + b["span"])
    rings = [Ring(k + 1, list(members), ring_bursts[k + 1], len(ring_posts[k + 1]))
             for k, (members, _) in enumerate(groups)]
    posts = [CoordinatedPost(platform=key[0], platform_id=key[1], account_id=authors.get(key), ring=rid,
                             accounts=len(v["accounts"]), bursts=v["bursts"], first=v["first"], last=v["last"])
             for (key, rid), v in sorted(per_post.items(), key=lambda kv: (kv[1]["first"], kv[0][0], kv[0][1]))]
    return rings, posts


def boosted(src: np.ndarray, dst: np.ndarray, amplify: np.ndarray, flags: Flags,
            thresholds: Thresholds | None = None) -> dict[int, dict[str, Any]]:
    """Accounts whose amplification comes mostly from flagged accounts, with which ring and what share.

    Parameters
    ----------
    src, dst : ndarray
        Account ids of each interaction (who acted, who was acted on), self-loops included or not.
    amplify : ndarray of bool
        Whether each interaction is a retweet or a quote.
    flags : Flags
        From :func:`detect`.

    Returns
    -------
    dict
        account id -> ``{"share", "amplifications", "flagged_amplifications", "flagged_amplifiers",
        "rings": [{"ring", "size", "amplifications", "share"}, ...], "other_flagged": n}`` for the
        accounts at least :attr:`Thresholds.boosted_share` of whose retweets and quotes received
        (and at least :attr:`Thresholds.boosted_min_amplifications`) come from flagged accounts.

    Examples
    --------
    >>> f = Flags({1: AccountFlags(1, [Signal("coordinated", "", {"ring": 1})]),
    ...            2: AccountFlags(2, [Signal("coordinated", "", {"ring": 1})])},
    ...           rings=[Ring(1, [1, 2], 3, 2)])
    >>> src, dst = np.array([1, 1, 2, 3, 3]), np.array([9, 9, 9, 9, 8])
    >>> b = boosted(src, dst, np.ones(5, dtype=bool), f)
    >>> b[9]["share"], b[9]["rings"][0]["ring"], 8 in b
    (0.75, 1, False)
    """
    th = thresholds or flags.thresholds
    keep = np.asarray(amplify, dtype=bool) & (np.asarray(src) != np.asarray(dst))
    s, d = np.asarray(src)[keep], np.asarray(dst)[keep]
    flagged = np.fromiter(flags.flagged, dtype=np.int64)
    if flagged.size == 0 or s.size == 0:
        return {}
    by_flagged = np.isin(s, flagged)
    targets, total = np.unique(d, return_counts=True)
    ft, fcount = np.unique(d[by_flagged], return_counts=True)
    tot = dict(zip(targets.tolist(), total.tolist()))
    ring_of = flags.ring_of()
    sizes = {r.id: len(r.members) for r in flags.rings}
    out: dict[int, dict[str, Any]] = {}
    for t, k in zip(ft.tolist(), fcount.tolist()):
        n = tot[t]
        if k < th.boosted_min_amplifications or k / n < th.boosted_share:
            continue
        sel = by_flagged & (d == t)
        srcs = s[sel]
        per_ring: Counter = Counter()
        other = 0
        for a in srcs.tolist():
            r = ring_of.get(a)
            if r is None:
                other += 1
            else:
                per_ring[r] += 1
        out[t] = {"share": round(k / n, 4), "amplifications": n, "flagged_amplifications": k,
                  "flagged_amplifiers": int(np.unique(srcs).size),
                  "rings": [{"ring": r, "size": sizes.get(r, 0), "amplifications": c, "share": round(c / n, 4)}
                            for r, c in sorted(per_ring.items(), key=lambda kv: (-kv[1], kv[0]))],
                  "other_flagged": other}
    return out


def describe_boost(b: dict[str, Any]) -> str:
    """One sentence: how much of an account's amplification came from flagged accounts, and from which ring.

    Examples
    --------
    >>> describe_boost({"share": 0.93, "amplifications": 40, "flagged_amplifications": 37, "flagged_amplifiers": 20,
    ...                 "rings": [{"ring": 1, "size": 20, "amplifications": 37, "share": 0.93}], "other_flagged": 0})
    '93% of its 40 retweets and quotes come from flagged accounts: ring 1 (20 coordinated accounts) 37'
    """
    parts = [f"ring {r['ring']} ({r['size']} coordinated accounts) {r['amplifications']}" for r in b.get("rings", [])]
    if b.get("other_flagged"):
        parts.append(f"other flagged accounts {b['other_flagged']}")
    return (f"{b['share']:.0%} of its {b['amplifications']} retweets and quotes come from flagged accounts: "
            + ", ".join(parts))


def boost_label(b: dict[str, Any]) -> str:
    """Short form for a table cell, e.g. ``BOOSTED 93% ring 1``.

    >>> boost_label({"share": 0.93, "rings": [{"ring": 1}], "other_flagged": 2})
    'BOOSTED 93% ring 1+flagged'
    >>> boost_label({"share": 0.95, "rings": [{"ring": 1}, {"ring": 2}]})
    'BOOSTED 95% rings 1+2'
    """
    rings = [str(r["ring"]) for r in b.get("rings", [])]
    who = (("ring " if len(rings) == 1 else "rings ") + "+".join(rings)) if rings else "flagged"
    if b.get("rings") and b.get("other_flagged"):
        who += "+flagged"
    return f"BOOSTED {b['share']:.0%} {who}"
