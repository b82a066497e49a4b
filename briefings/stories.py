"""Stories: the week's posts on a topic grouped into the stories people were talking about.

Two posts are in one story when one retweets, quotes or replies to the other (a cascade), they
are in the same thread (X's ``conversation_id``), they share a link (an article, a report; site
home pages do not count), or their texts are the same once links, mentions, numbers and
punctuation are taken out (copy-paste campaigns, bot spam). Those links are the edges of a graph
whose connected components (``scipy.sparse.csgraph.connected_components``) are the stories: one
linear pass, no pairwise comparison, so a million posts take seconds.

Near-duplicate text that is not identical (a rewritten headline, a paraphrased statement) is then
joined with MinHash LSH (``datasketch``) among the largest stories only: comparing every post's
text costs minutes at a million posts (``bench/briefing.py --minhash-all`` measures it) while the
stories a minister reads are the top few, so the largest :data:`NEAR_DUP_CANDIDATES` of each
topic are compared and merged when their representative texts' estimated Jaccard similarity of
word 3-shingles is at least :data:`NEAR_DUP_THRESHOLD`.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Sequence
from urllib.parse import urlsplit

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from briefings.gather import Account, PostRow

NEAR_DUP_CANDIDATES = 200  # largest stories per topic compared for near-duplicate text
NEAR_DUP_THRESHOLD = 0.6  # estimated Jaccard similarity of word 3-shingles that joins two stories
NUM_PERM = 64  # MinHash permutations
MIN_TEXT = 40  # normalised characters a text needs before identical texts join a story
TEXT_WINDOW_S = 86_400  # identical texts join one story within the same day (UTC); a template reused all week is not one story
NEAR_DUP_HOURS = 24  # near-duplicate stories are joined only when their peaks are this close
EVENT_CANDIDATES = 300  # most spread stories per topic considered for joining into events
EVENT_SIMILARITY = 0.3  # cosine similarity of TF-IDF word-pair vectors with an event's founding story
EVENT_HOURS = 6  # ... whose busiest hour is at most this many hours away

_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"@\w+")
_NON_WORD = re.compile(r"[^a-z ]+")
_STATUS_HOSTS = ("x.com", "twitter.com", "mobile.twitter.com", "www.twitter.com", "www.x.com")


def normalise_text(text: str) -> str:
    """Lower case, without links, mentions, ``RT``, numbers or punctuation.

    >>> normalise_text("RT @nhs: Waits hit 7.6m!! https://t.co/x #NHS")
    'waits hit m nhs'
    """
    t = text.lower()
    if "http" in t:  # each pattern only where it can match (the same result, half the time)
        t = _URL.sub(" ", t)
    if "@" in t:
        t = _MENTION.sub(" ", t)
    t = " ".join(_NON_WORD.sub(" ", t).split())  # only spaces are left: split() is \s+ and strip()
    return t[3:] if t.startswith("rt ") else t


def link_key(url: str) -> str | None:
    """The part of a link that names what was shared; None for home pages and X status links.

    >>> link_key("https://News.example/health/story-1?utm_source=x#top"), link_key("https://news.example/")
    ('news.example/health/story-1', None)
    """
    try:
        s = urlsplit(url.strip())
    except ValueError:
        return None
    host = (s.hostname or "").lower()
    path = s.path.rstrip("/")
    if not host or not path or host in _STATUS_HOSTS:
        return None
    return f"{host}{path}"


@dataclass
class Story:
    """One story: its posts (indices into the topic's post list) and what is shown of it."""

    posts: list[int]
    size: int  # posts, retweets included
    amplifications: int  # retweets and quotes among them
    authors: int  # distinct accounts
    reach: int  # followers of the distinct authors, added up (how many could have seen it)
    sentiment: float  # mean VADER compound of its posts
    negative_share: float
    first: datetime
    peak: datetime  # start of the hour with most of its posts
    peak_posts: int
    representative: tuple[str, str]  # (platform, platform id) of the post whose text titles the story
    key_posts: list[tuple[str, str]]  # the most amplified posts, representative first
    links: list[str] = field(default_factory=list)  # most shared links in it
    article_index: int | None = None  # an article of the story (its title titles the story)

    @property
    def id(self) -> str:
        return f"{self.representative[0]}:{self.representative[1]}"


def _anchor_links(p: PostRow) -> list[str]:
    out = []
    if p.kind == "article" and p.url:
        k = link_key(p.url)
        if k:
            out.append(k)
    for link in p.links or ():
        k = link_key(link)
        if k:
            out.append(k)
    return out


def cluster(posts: Sequence[PostRow], accounts: dict[int, Account], *, events: bool = True,
            near_duplicates: bool = False, candidates: int = NEAR_DUP_CANDIDATES,
            limit: int | None = None) -> list[Story]:
    """The stories of one topic's week, the most spread first (:func:`rank_key`); the first ``limit`` only
    when given (what a briefing shows: the ranking is the same, only the shown stories are described).

    First the cascades: connected components of "retweets, quotes or replies to" and "in the
    thread of" (strong links: the posts are about the same post). Then each cascade joins the
    story of its **anchor**: the link its posts share most (an article's own address counts),
    else the normalised text of its most amplified post (the same day), else itself. A cascade has one anchor,
    so two stories never chain together through a post that carries two links. Last, cascades
    that tell one event in different words at the same time are joined (:func:`join_events`).
    """
    n = len(posts)
    if not n:
        return []
    keys: dict[tuple[str, str], int] = {}
    rows: list[int] = []
    cols: list[int] = []
    refs: Counter = Counter()  # (platform, id) -> posts in the week referring to it
    for i, p in enumerate(posts):
        plat = p.platform
        rows.append(i)
        cols.append(keys.setdefault((plat, p.platform_id), len(keys)))
        if p.ref_id and p.ref_kind:
            ref = (plat, p.ref_id)
            rows.append(i)
            cols.append(keys.setdefault(ref, len(keys)))
            refs[ref] += 1
        if p.conversation_id and p.kind != "retweet" and p.conversation_id != p.platform_id:
            rows.append(i)
            cols.append(keys.setdefault((plat, p.conversation_id), len(keys)))
    k = len(keys)
    del keys
    # bipartite graph posts -> keys, as one (n + k) square matrix
    data = np.ones(len(rows), dtype=np.int8)
    g = coo_matrix((data, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64) + n)),
                   shape=(n + k, n + k)).tocsr()
    del rows, cols
    _, comp_arr = connected_components(g, directed=False)
    comp = comp_arr[:n].tolist()
    # each cascade's anchor
    link_votes: dict[int, Counter] = defaultdict(Counter)
    best_text: dict[int, tuple] = {}
    for i, p in enumerate(posts):
        if p.kind == "retweet":
            continue
        c = comp[i]
        if p.links or p.kind == "article":
            for lk in _anchor_links(p):
                link_votes[c][lk] += 1
        if p.text:
            score = (refs.get((p.platform, p.platform_id), 0), -p.ts, -p.id)
            bt = best_text.get(c)
            if bt is None or score > bt[0]:
                best_text[c] = (score, p.title or p.text, int(p.ts) // TEXT_WINDOW_S)
    anchor_of: dict[int, object] = {}
    for c in set(comp):
        votes = link_votes.get(c)
        if votes:
            anchor_of[c] = ("link", min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0])
            continue
        bt = best_text.get(c)
        t = normalise_text(bt[1]) if bt else ""
        anchor_of[c] = ("text", zlib.crc32(t.encode()), len(t), bt[2]) if len(t) >= MIN_TEXT else ("cascade", c)
    ids: dict[object, int] = {}
    labels = np.fromiter((ids.setdefault(anchor_of[c], len(ids)) for c in comp), dtype=np.int64, count=n)
    if events:
        labels = join_events(posts, labels)
    if near_duplicates:
        labels = _join_near_duplicates(posts, labels, refs, candidates)
    anchor_link = {ids[a]: a[1] for a in anchor_of.values() if a[0] == "link"}
    chosen = _leading(posts, labels, limit)
    # each chosen story's posts, in post order (labels sorted stably)
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(labels))))
    stories = [_story(posts, order[bounds[lab]:bounds[lab + 1]].tolist(), accounts, refs, anchor_link.get(lab))
               for lab in chosen]
    stories.sort(key=rank_key)
    return stories[:limit] if limit is not None else stories


def _leading(posts: Sequence[PostRow], labels: np.ndarray, limit: int | None) -> list[int]:
    """The labels that can be among the first ``limit`` stories by :func:`rank_key` (every label when
    ``limit`` is None): ranked on the key's first three parts (reposts plus accounts, size, first post),
    computed for every story at once, ties with the last place kept (its last part, the story id,
    needs the story described)."""
    n_lab = int(labels.max()) + 1
    present = np.bincount(labels, minlength=n_lab) > 0
    if limit is None or limit >= int(present.sum()):
        return [int(x) for x in np.nonzero(present)[0]]
    size = np.bincount(labels, minlength=n_lab)
    amp = np.bincount(labels, weights=np.fromiter((p.ref_kind in ("retweet", "quote") for p in posts), dtype=np.float64,
                                                  count=len(posts)), minlength=n_lab).astype(np.int64)
    acc = np.fromiter((p.account_id for p in posts), dtype=np.int64, count=len(posts))
    acc = np.unique(acc, return_inverse=True)[1].astype(np.int64)  # dense account numbers
    pairs = np.unique(labels * (int(acc.max()) + 1) + acc)
    authors = np.bincount(pairs // (int(acc.max()) + 1), minlength=n_lab)
    ts = np.fromiter((p.ts for p in posts), dtype=np.float64, count=len(posts))
    first = np.full(n_lab, np.inf)
    np.minimum.at(first, labels, ts)
    spread = -(amp + authors)
    labs = np.nonzero(present)[0]
    rank = np.lexsort((first[labs], -size[labs], spread[labs]))
    last = labs[rank[limit - 1]]
    cut = (spread[last], -size[last], first[last])
    keep = labs[rank[:limit]].tolist()
    for j in rank[limit:]:
        lab = labs[j]
        if (spread[lab], -size[lab], first[lab]) != cut:
            break
        keep.append(int(lab))
    return [int(x) for x in keep]


def rank_key(s: "Story") -> tuple:
    """Stories rank by how far they spread: reposts (retweets and quotes) plus distinct accounts, then size."""
    return (-(s.amplifications + s.authors), -s.size, s.first, s.id)


def _representative(posts: Sequence[PostRow], idx: Iterable[int], refs: Counter,
                    anchor: str | None) -> tuple[tuple[str, str], list[tuple[str, str]], int | None]:
    own = {(posts[i].platform, posts[i].platform_id): i for i in idx}
    scored: Counter = Counter()
    article = None
    for key, i in own.items():
        p = posts[i]
        if p.kind != "retweet":
            scored[key] += 1 + refs.get(key, 0) * 2
        if p.kind == "article" and anchor and p.url and link_key(p.url) == anchor and (
                article is None or (p.ts, p.id) < (posts[article].ts, posts[article].id)):
            article = i
        if p.ref_id and p.ref_kind:
            ref = (p.platform, p.ref_id)
            scored[ref] += 1
    if not scored:  # only retweets of posts we never saw: the first retweet stands in
        first = min(own.values(), key=lambda i: (posts[i].ts, posts[i].id))
        p = posts[first]
        rep = (p.platform, p.ref_id or p.platform_id)
        return rep, [rep], article
    ranked = sorted(scored.items(), key=lambda kv: (-kv[1], posts[own[kv[0]]].ts if kv[0] in own else math.inf, kv[0]))
    key_posts = [k for k, _ in ranked[:3]]
    return key_posts[0], key_posts, article


def _story(posts: Sequence[PostRow], idx: list[int], accounts: dict[int, Account], refs: Counter,
           anchor: str | None) -> Story:
    authors = {posts[i].account_id for i in idx}
    sent = [posts[i].sentiment for i in idx]
    hours: Counter = Counter()
    links: Counter = Counter()
    for i in idx:
        p = posts[i]
        ts = int(p.ts)
        hours[ts - ts % 3600] += 1
        if p.kind != "retweet":
            for link in p.links or ():
                if link_key(link):
                    links[link] += 1
    peak_ts, peak_n = min(hours.items(), key=lambda kv: (-kv[1], kv[0]))
    rep, key_posts, article = _representative(posts, idx, refs, anchor)
    return Story(
        posts=idx,
        size=len(idx),
        amplifications=sum(1 for i in idx if posts[i].ref_kind in ("retweet", "quote")),
        authors=len(authors),
        reach=sum((accounts[a].followers or 0) for a in authors if a in accounts),
        sentiment=sum(sent) / len(sent),
        negative_share=sum(1 for s in sent if s <= -0.05) / len(sent),
        first=datetime.fromtimestamp(min(posts[i].ts for i in idx), tz=timezone.utc),
        peak=datetime.fromtimestamp(peak_ts, tz=timezone.utc),
        peak_posts=peak_n,
        representative=rep,
        key_posts=key_posts,
        links=[u for u, _ in sorted(links.items(), key=lambda kv: (-kv[1], kv[0]))[:3]],
        article_index=article,
    )


def _bigrams(text: str) -> list[str]:
    w = text.split()
    return [f"{a} {b}" for a, b in zip(w, w[1:])]


def join_events(posts: Sequence[PostRow], labels: np.ndarray, *, candidates: int = EVENT_CANDIDATES,
                threshold: float = EVENT_SIMILARITY, hours: float = EVENT_HOURS) -> np.ndarray:
    """Join stories that are one event told in different words: single-pass clustering in a time window.

    The way topic detection and tracking finds events in a news stream (Allan, Papka and Lavrenko,
    "On-line new event detection and tracking", SIGIR 1998): the :data:`EVENT_CANDIDATES` most
    spread stories, most spread first, each represented by the TF-IDF vector of the word pairs of
    its posts' texts (retweets left out; IDF over these stories), join the first earlier event
    whose *founding* story peaked within ``hours`` of theirs and whose vector has cosine similarity
    at least ``threshold`` with theirs, or found a new event. Comparing with the founding story
    only, never with every member, keeps a template reused all week from chaining day to day.
    """
    from scipy.sparse import csr_matrix

    n_lab = int(labels.max()) + 1 if len(labels) else 0
    if n_lab < 2:
        return labels
    size = np.bincount(labels, minlength=n_lab)
    amp = np.bincount(labels, weights=np.fromiter((p.ref_kind in ("retweet", "quote") for p in posts), dtype=np.float64,
                                                  count=len(posts)), minlength=n_lab)
    order = np.lexsort((np.arange(n_lab), -(size + amp)))[:candidates]
    chosen = {int(c): j for j, c in enumerate(order) if size[c] > 1}
    if len(chosen) < 2:
        return labels
    words: list[Counter] = [Counter() for _ in order]
    texts_seen = [0] * len(order)
    lut = np.full(n_lab, -1, dtype=np.int64)
    for c, j in chosen.items():
        lut[c] = j
    jj = lut[labels]
    sel = np.nonzero(jj >= 0)[0]
    for i, j in zip(sel.tolist(), jj[sel].tolist()):
        if texts_seen[j] < 200:
            p = posts[i]
            if p.kind != "retweet" and p.text:
                texts_seen[j] += 1
                words[j].update(set(_bigrams(normalise_text(p.title or p.text))))
    # each chosen story's busiest hour (the earliest of equals)
    hour = np.fromiter((posts[i].ts for i in sel.tolist()), dtype=np.float64, count=len(sel)) // 3600
    hour = hour.astype(np.int64)
    key, counts = np.unique(jj[sel] * (1 << 32) + hour, return_counts=True)
    kj, kh = key >> 32, key & ((1 << 32) - 1)
    best = np.lexsort((kh, -counts, kj))  # per story: most posts, then earliest hour
    first_of = np.ones(len(best), dtype=bool)
    first_of[1:] = kj[best][1:] != kj[best][:-1]
    peak = [0] * len(order)
    has_posts = [False] * len(order)
    for b in best[first_of].tolist():
        peak[int(kj[b])] = int(kh[b])
        has_posts[int(kj[b])] = True
    vocab: dict[str, int] = {}
    r, c, v = [], [], []
    for j, cnt in enumerate(words):
        for w, k in cnt.items():
            r.append(j)
            c.append(vocab.setdefault(w, len(vocab)))
            v.append(1.0 + math.log(k))
    if not vocab:
        return labels
    m = csr_matrix((v, (r, c)), shape=(len(order), len(vocab)))
    df = np.bincount(c, minlength=len(vocab))
    m = m.multiply(np.log((1 + len(order)) / (1 + df)) + 1.0).tocsr()
    norms = np.sqrt(m.multiply(m).sum(axis=1)).A.ravel()
    norms[norms == 0] = 1.0
    m = csr_matrix(m.multiply(1.0 / norms[:, None]))
    sim = (m @ m.T).toarray()
    founders: list[int] = []
    event_of: dict[int, int] = {}
    for j in range(len(order)):
        if not has_posts[j]:
            continue
        home = next((f for f in founders if abs(peak[f] - peak[j]) <= hours and sim[f, j] >= threshold), None)
        if home is None:
            founders.append(j)
            event_of[j] = j
        else:
            event_of[j] = home
    remap = {int(order[j]): int(order[f]) for j, f in event_of.items() if j != f}
    if not remap:
        return labels
    lut = np.arange(n_lab)
    for src, dst in remap.items():
        lut[src] = dst
    return lut[labels]


def _shingles(text: str) -> set[bytes]:
    w = text.split()
    return {" ".join(w[i:i + 3]).encode() for i in range(max(1, len(w) - 2))}


def _join_near_duplicates(posts: Sequence[PostRow], labels: np.ndarray, refs: Counter, candidates: int) -> np.ndarray:
    """Merge the largest components whose representative texts are near-duplicates (MinHash LSH)."""
    from datasketch import MinHash, MinHashLSH

    sizes = np.bincount(labels)
    top = np.argsort(-sizes, kind="stable")[:candidates]
    top = [int(c) for c in top if sizes[c] > 0]
    members: dict[int, list[int]] = defaultdict(list)
    wanted = set(top)
    for i, lab in enumerate(labels.tolist()):
        if lab in wanted:
            members[lab].append(i)
    lsh = MinHashLSH(threshold=NEAR_DUP_THRESHOLD, num_perm=NUM_PERM)
    peak: dict[int, float] = {}
    parent = {c: c for c in top}

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for c in top:
        texts = [posts[i] for i in members[c] if posts[i].text and posts[i].kind != "retweet"]
        if not texts:
            continue
        best = max(texts, key=lambda p: (refs.get((p.platform, p.platform_id), 0), -p.id))
        t = normalise_text(best.title or best.text or "")
        if len(t.split()) < 5:
            continue
        mh = MinHash(num_perm=NUM_PERM, seed=1)
        mh.update_batch(sorted(_shingles(t)))
        hours = Counter(int(posts[i].ts) // 3600 for i in members[c])
        peak[c] = min(hours.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        for other in sorted(lsh.query(mh)):
            if abs(peak[other] - peak[c]) > NEAR_DUP_HOURS:
                continue
            a, b = find(c), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
        lsh.insert(c, mh)
    remap = {c: find(c) for c in top if find(c) != c}
    if not remap:
        return labels
    out = labels.copy()
    for src, dst in remap.items():
        out[labels == src] = dst
    return out
