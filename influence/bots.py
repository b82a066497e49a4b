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
    burst within :attr:`Thresholds.burst_max_span_seconds`).
``coordinated``
    Bursts with the same partners again and again: pairs of accounts that share
    at least :attr:`Thresholds.coordination_min_bursts` bursts (on different
    posts) are linked, and the connected groups of at least
    :attr:`Thresholds.coordination_min_group` accounts are coordinated.

An account is **flagged** when it is coordinated, or when it shows at least
:attr:`Thresholds.behaviour_signals_to_flag` of the other signals. A single
signal is shown but does not flag: plenty of people mostly retweet, or opened
their account last month.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Iterable

import numpy as np
from sqlalchemy import func, select

from monitor import models as m
from monitor.store import Store

SIGNALS = ("coordinated", "burst", "high_rate", "mostly_reposts", "duplicate_text", "new_account")


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
    coordination_min_bursts: int = 2
    coordination_min_group: int = 3
    behaviour_signals_to_flag: int = 2


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
        other = {k for k in self.kinds if k != "coordinated"}
        return self.coordinated or len(other) >= self.behaviour_needed

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in sorted(self.signals, key=lambda s: SIGNALS.index(s.kind))]


# ------------------------------------------------------------------------------------------ texts
_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_MENTION = re.compile(r"(?<!\w)@\w+")
_RT = re.compile(r"^rt\s+@\w+:?\s*", re.I)
_NONWORD = re.compile(r"[^a-z]+")


def normalise_text(text: str) -> str:
    """Lower case, without links, @mentions, a leading ``RT @x:``, numbers and punctuation.

    Examples
    --------
    >>> normalise_text("RT @bob: Don't ban our VAPES!! https://t.co/x 2024 @ukhsa #VapingSavesLives")
    'don t ban our vapes vapingsaveslives'
    """
    t = _RT.sub("", text or "")
    t = _URL.sub(" ", t)
    t = _MENTION.sub(" ", t)
    return _NONWORD.sub(" ", t.lower()).strip()


def _shingles(norm: str) -> set[str]:
    words = norm.split()
    if len(words) < 3:
        return {norm}
    return {f"{a} {b}" for a, b in zip(words, words[1:])}


_P = (1 << 61) - 1
_BANDS, _ROWS = 8, 3


def near_duplicate_clusters(texts: list[str], *, similarity: float = 0.5, min_chars: int = 20) -> list[list[int]]:
    """Groups of near-identical texts (indices into ``texts``), each of two or more.

    Exact duplicates (after :func:`normalise_text`) are grouped directly; distinct
    texts are compared by MinHash signatures (8 bands of 3 rows) and candidate
    pairs kept when the Jaccard similarity of their word pairs is at least
    ``similarity``. Texts shorter than ``min_chars`` once normalised are ignored.

    Examples
    --------
    >>> near_duplicate_clusters(["Don't ban our vapes! Vaping helped millions quit smoking",
    ...                          "Do not ban our vapes!! Vaping helped millions quit smoking",
    ...                          "The waiting list for hip operations is a national scandal"])
    [[0, 1]]
    """
    by_norm: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(texts):
        n = normalise_text(t)
        if len(n) >= min_chars:
            by_norm[n].append(i)
    norms = list(by_norm)
    if not norms:
        return []
    parent = list(range(len(norms)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    shingles = [_shingles(n) for n in norms]
    rng = np.random.default_rng(12345)
    R = _BANDS * _ROWS
    a = rng.integers(1, _P, size=(R, 1), dtype=np.uint64)
    b = rng.integers(0, _P, size=(R, 1), dtype=np.uint64)
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for j, sh in enumerate(shingles):
        h = np.fromiter((zlib.crc32(s.encode()) for s in sh), dtype=np.uint64, count=len(sh))
        # (a*h + b) mod p with h < 2^32 and a < 2^61 may overflow 64 bits: fold a to 32 bits
        sig = ((((a & 0xFFFFFFFF) * h[None, :]) + b) % np.uint64(_P)).min(axis=1)
        for band in range(_BANDS):
            buckets[(band, *sig[band * _ROWS:(band + 1) * _ROWS].tolist())].append(j)

    def jaccard(x: int, y: int) -> float:
        A, B = shingles[x], shingles[y]
        return len(A & B) / len(A | B)

    for members in buckets.values():
        if len(members) < 2:
            continue
        rep = members[0]
        for other in members[1:]:
            if find(other) != find(rep) and jaccard(rep, other) >= similarity:
                parent[find(other)] = find(rep)
    groups: dict[int, list[int]] = defaultdict(list)
    for j, n in enumerate(norms):
        groups[find(j)].extend(by_norm[n])
    return sorted((sorted(g) for g in groups.values() if len(g) >= 2), key=lambda g: g[0])


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
    by_post: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for post, ts, acc in retweets:
        if post is not None:
            by_post[post].append((float(ts), int(acc)))
    out = []
    for post, events in by_post.items():
        if len(events) < min_accounts:
            continue
        events.sort()
        start = 0
        for i in range(1, len(events) + 1):
            if i == len(events) or events[i][0] - events[i - 1][0] > gap:
                run = events[start:i]
                accounts = sorted({a for _, a in run})
                span = run[-1][0] - run[0][0]
                if len(accounts) >= min_accounts and span <= max_span:
                    out.append({"post": post, "start": run[0][0], "span": span, "accounts": accounts})
                start = i
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


def _epoch(col, dialect: str):
    if dialect == "sqlite":
        return (func.julianday(col) - 2440587.5) * 86400.0
    return func.extract("epoch", col)


def detect(store: Store, topic: str, since: datetime | None, until: datetime | None, platform: str | None = None,
           thresholds: Thresholds | None = None) -> dict[int, AccountFlags]:
    """Signals for the accounts posting on ``topic`` in ``[since, until)``.

    Returns
    -------
    dict
        account id -> :class:`AccountFlags`, for accounts with at least one signal.
    """
    th = thresholds or Thresholds()
    pt, p, i, a = m.post_topics, m.posts, m.interactions, m.accounts
    cond = [pt.c.topic == topic, *_window(pt.c.created_at, since, until)]
    if platform and platform != "all":
        cond.append(p.c.platform == platform)
    flags: dict[int, AccountFlags] = {}

    def add(acc: int, kind: str, evidence: str, **data) -> None:
        f = flags.setdefault(acc, AccountFlags(acc, behaviour_needed=th.behaviour_signals_to_flag))
        f.signals.append(Signal(kind, evidence, data))

    with store.engine.connect() as conn:
        # per author: posts and retweets on the topic, and the span the topic was observed over
        per: dict[int, dict[str, int]] = defaultdict(dict)
        first = last = None
        q = (select(pt.c.account_id, p.c.kind, func.count(), func.min(pt.c.created_at), func.max(pt.c.created_at))
             .select_from(pt.join(p, p.c.id == pt.c.post_id)).where(*cond).group_by(pt.c.account_id, p.c.kind))
        for acc, kind, n, lo, hi in conn.execute(q):
            per[acc][kind] = n
            first = lo if first is None or (lo and lo < first) else first
            last = hi if last is None or (hi and hi > last) else last
        if not per:
            return {}
        days = max(1.0, (last - first).total_seconds() / 86400.0) if first and last else 1.0
        info: dict[int, Any] = {}
        ids = sorted(per)
        for k in range(0, len(ids), 5000):
            chunk = ids[k:k + 5000]
            for row in conn.execute(select(a.c.id, a.c.handle, a.c.created_at, a.c.posts_count)
                                    .where(a.c.id.in_(chunk))):
                info[row.id] = row
        end = until or last
        for acc, kinds in per.items():
            total = sum(kinds.values())
            rts = kinds.get("retweet", 0)
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

        # near-identical texts
        texts: list[str] = []
        authors: list[int] = []
        q = (select(pt.c.account_id, p.c.text).select_from(pt.join(p, p.c.id == pt.c.post_id))
             .where(*cond, p.c.kind != "retweet").order_by(pt.c.created_at, pt.c.post_id))
        for acc, text in conn.execute(q):
            authors.append(acc)
            texts.append(text or "")
        dup_posts: Counter = Counter()
        dup_example: dict[int, tuple[str, int]] = {}
        for cluster in near_duplicate_clusters(texts, similarity=th.duplicate_similarity,
                                               min_chars=th.duplicate_min_chars):
            accs = Counter(authors[j] for j in cluster)
            for acc, n in accs.items():
                if len(accs) >= th.duplicate_min_accounts or n >= th.duplicate_min_posts:
                    dup_posts[acc] += n
                    if acc not in dup_example or len(accs) > dup_example[acc][1]:
                        dup_example[acc] = (texts[cluster[0]], len(accs))
        for acc, n in dup_posts.items():
            if n >= th.duplicate_min_posts:
                text, accounts = dup_example[acc]
                sample = " ".join(text.split())[:90]
                others = accounts - 1
                who = f"{others} other account{'s' if others != 1 else ''}" if others else "its own earlier posts"
                add(acc, "duplicate_text", f"{n} posts near-identical to posts by {who}, e.g. \u201c{sample}\u201d",
                    posts=n, accounts=accounts, example=sample)

        # bursts and coordination
        qi = (select(i.c.ref_platform_id, _epoch(i.c.created_at, store.dialect), i.c.src_account_id)
              .select_from(pt.join(i, i.c.post_id == pt.c.post_id))
              .where(pt.c.topic == topic, *_window(pt.c.created_at, since, until), i.c.kind == "retweet",
                     i.c.src_account_id != i.c.dst_account_id))
        if platform and platform != "all":
            qi = qi.where(i.c.platform == platform)
        bursts = find_bursts(((r[0], float(r[1]), r[2]) for r in conn.execute(qi)), gap=th.burst_gap_seconds,
                             min_accounts=th.burst_min_accounts, max_span=th.burst_max_span_seconds)
        groups = coordinated_groups(bursts, min_bursts=th.coordination_min_bursts,
                                    min_group=th.coordination_min_group)
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
                f"retweeted the same posts within seconds of the same accounts in {len(bs)} bursts "
                f"(a group of {len(members)} accounts: {shown})",
                bursts=len(bs), group=members, group_size=len(members), shared_bursts=shared,
                posts=sorted({b["post"] for b in bs})[:20])
        else:
            b = max(bs, key=lambda x: len(x["accounts"]))
            add(acc, "burst", f"retweeted post {b['post']} together with {len(b['accounts']) - 1} other accounts "
                f"within {b['span']:.0f} seconds", bursts=len(bs), post=b["post"], accounts=len(b["accounts"]))
    return flags
