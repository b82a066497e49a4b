"""A topic's interaction graph: read lean from the store, held as sparse matrices.

The core stores one row per interaction (``monitor.models.interactions``): the
author of a post (``src``) retweets, quotes, replies to or mentions another
account (``dst``). A topic's edges are the interactions of the posts tagged with
that topic (``post_topics``) in a time window.

Reading is the expensive part at scale, so :func:`read_edges` runs one SQL
query on the raw DB-API cursor that returns the source account id, target
account id and kind code of each row packed in one integer (three integers a
row when ids are large), on SQLite all rows as one text that numpy parses,
straight into numpy arrays — no ORM rows, no datetimes. :func:`build_graph` then maps account ids to
node indices with a lookup table and builds two sparse matrices:

``amplification``
    ``A[i, j]`` = retweets plus quotes of ``j`` by ``i`` (``A -> B`` when A
    amplifies B). Amplification counts shown beside the score, and the share of
    it that comes from flagged accounts, are read from it.
``interaction``
    ``W[i, j]`` = the interactions of ``i`` with ``j`` of every kind, weighted
    by :data:`KIND_WEIGHTS` (a retweet or quote counts 1, a reply or mention
    0.5; :mod:`influence.scoring` says why). PageRank, HITS, in-degree,
    betweenness and communities use it.

Rules (checked by ``tests/influence/test_graph.py``):

- self-loops (an account retweeting, quoting, replying to or mentioning itself)
  are dropped and counted in :attr:`TopicGraph.self_loops`;
- every account that appears at either end of an edge is a node, including
  accounts the store only knows from references (``accounts.partial``:
  deleted or suspended accounts whose user object never came, accounts seen
  only as mentions or reply targets);
- repeated interactions between the same pair add up in the weights;
- node ``i`` is account ``account_ids[i]``; account ids are sorted, so the
  same rows always give the same graph.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Engine

from monitor import models as m
from monitor.items import EDGE_MENTION, EDGE_QUOTE, EDGE_REPLY, EDGE_RETWEET

#: Kind codes of the compact edge arrays, in this order.
KINDS: tuple[str, ...] = (EDGE_RETWEET, EDGE_QUOTE, EDGE_REPLY, EDGE_MENTION)
RETWEET, QUOTE, REPLY, MENTION = range(4)
#: Kinds that amplify the target (A retweets or quotes B: A -> B).
AMPLIFICATION: tuple[int, ...] = (RETWEET, QUOTE)
#: Weight of one interaction of each kind in the interaction graph.
KIND_WEIGHTS: dict[str, float] = {EDGE_RETWEET: 1.0, EDGE_QUOTE: 1.0, EDGE_REPLY: 0.5, EDGE_MENTION: 0.5}

ALL_PLATFORMS = "all"


@dataclass
class Edges:
    """Interaction rows of a topic and window, as parallel arrays (one entry per interaction)."""

    src: np.ndarray  # int64 account ids
    dst: np.ndarray  # int64 account ids
    kind: np.ndarray  # int8 kind codes (index into KINDS)

    def __len__(self) -> int:
        return int(self.src.shape[0])

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, str | int]]) -> "Edges":
        """Build from ``(src account id, dst account id, kind)`` rows; ``kind`` a name or a code."""
        src, dst, kind = [], [], []
        for s, d, k in rows:
            src.append(int(s))
            dst.append(int(d))
            kind.append(KINDS.index(k) if isinstance(k, str) else int(k))
        return cls(np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64),
                   np.asarray(kind, dtype=np.int8))

    def without_sources(self, account_ids: Iterable[int]) -> "Edges":
        """The edges minus those made by ``account_ids`` (to leave flagged accounts' interactions out)."""
        drop = np.fromiter((int(a) for a in account_ids), dtype=np.int64)
        if drop.size == 0:
            return self
        keep = ~np.isin(self.src, drop)
        return Edges(self.src[keep], self.dst[keep], self.kind[keep])


def _placeholder(engine: Engine) -> str:
    return "?" if engine.dialect.paramstyle in ("qmark", "numeric") else "%s"


def _time_param(engine: Engine, value: datetime):
    """A datetime as the store's own column type binds it (SQLite keeps text; the format must match)."""
    t = m.post_topics.c.created_at.type
    proc = t.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    return proc(value) if proc else value


def topic_filter_sql(engine: Engine, topic: str, since: datetime | None, until: datetime | None,
                     platform: str | None, *, alias_posts: str | None = None) -> tuple[str, list]:
    """The ``WHERE`` clause (on ``post_topics pt``) and its parameters shared by the lean queries."""
    ph = _placeholder(engine)
    where = [f"pt.topic = {ph}"]
    params: list = [topic]
    if since is not None:
        where.append(f"pt.created_at >= {ph}")
        params.append(_time_param(engine, since))
    if until is not None:
        where.append(f"pt.created_at < {ph}")
        params.append(_time_param(engine, until))
    if platform and platform != ALL_PLATFORMS and alias_posts:
        where.append(f"{alias_posts}.platform = {ph}")
        params.append(platform)
    return " AND ".join(where), params


def raw_query(engine: Engine, sql: str, params: Sequence) -> Iterable[tuple]:
    """Run ``sql`` on a raw DB-API cursor and yield its rows (tuples, no SQLAlchemy row objects)."""
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        cur = dbapi.cursor()
        try:
            cur.execute(sql, tuple(params))
            yield from cur
        finally:
            cur.close()


def raw_rows(engine: Engine, sql: str, params: Sequence) -> list[tuple]:
    """Every row of ``sql`` at once (``fetchall`` on a raw DB-API cursor: no SQLAlchemy rows, no generator
    step per row)."""
    with engine.connect() as conn:
        cur = conn.connection.dbapi_connection.cursor()
        try:
            cur.execute(sql, tuple(params))
            return cur.fetchall()
        finally:
            cur.close()


def _packed_text(engine: Engine, value: str, joined: str, params: Sequence) -> np.ndarray | None:
    """SQLite: the packed integers of every row as one text (``group_concat``), parsed by numpy.

    A million rows come back as one string instead of a million tuples of Python integers: 0.40-0.44 s
    against 0.67-0.71 s for the same array (bench store, 1,000,000 interactions). None when SQLite refuses
    the string (over its length limit, a billion bytes: some 60 million interactions); the caller then
    reads rows.
    """
    import sqlite3

    try:
        text = next(iter(raw_rows(engine, f"SELECT group_concat({value}, ' ') {joined}", params)))[0]
    except sqlite3.Error as exc:  # "string or blob too big"
        if "too big" not in str(exc).lower():
            raise
        return None
    if not text:
        return np.zeros(0, dtype=np.int64)
    packed = np.fromstring(text, dtype=np.int64, sep=" ")
    if packed.shape[0] != text.count(" ") + 1:  # every value parsed, or none is trusted
        raise ValueError("read_edges: the interactions' text did not parse")
    return packed


def read_edges(engine: Engine, topic: str, since: datetime | None = None, until: datetime | None = None,
               platform: str | None = None, *, amplification_only: bool = False) -> Edges:
    """The interactions of ``topic``'s posts in ``[since, until)``, optionally on one platform.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The store's engine (``Store.engine``); SQLite and PostgreSQL.
    topic : str
        Topic id.
    since, until : datetime, optional
        Half-open window on the post's time (aware UTC); ``None`` leaves that side open.
    platform : str, optional
        Only this platform's interactions (``None`` or ``"all"``: every platform).
    amplification_only : bool
        Read retweets and quotes only.

    Returns
    -------
    Edges
        One entry per interaction, self-loops included (the graph drops them).
    """
    where, params = topic_filter_sql(engine, topic, since, until, None)
    ph = _placeholder(engine)
    kinds = [KINDS[k] for k in AMPLIFICATION] if amplification_only else list(KINDS)
    where += f" AND i.kind IN ({', '.join([ph] * len(kinds))})"
    params += kinds
    if platform and platform != ALL_PLATFORMS:
        where += f" AND i.platform = {ph}"
        params.append(platform)
    case = " ".join(f"WHEN '{k}' THEN {n}" for n, k in enumerate(KINDS))
    joined = f"FROM post_topics pt JOIN interactions i ON i.post_id = pt.post_id WHERE {where}"
    lo, hi = next(iter(raw_rows(engine, "SELECT (SELECT min(id) FROM accounts), (SELECT max(id) FROM accounts)", ())))
    if lo is not None and lo >= 0 and hi < 2 ** 31:
        # one integer a row, (src * 2^31 + dst) * 4 + kind: a quarter less time than three columns at a million
        # rows (a third of the Python integers to make)
        value = f"(i.src_account_id * {2 ** 31} + i.dst_account_id) * 4 + CASE i.kind {case} END"
        packed = _packed_text(engine, value, joined, params) if engine.dialect.name == "sqlite" else None
        if packed is None:
            rows = raw_rows(engine, f"SELECT {value} {joined}", params)
            packed = np.fromiter((r for (r,) in rows), dtype=np.int64, count=len(rows))
        return Edges(packed >> 33, (packed >> 2) & (2 ** 31 - 1), (packed & 3).astype(np.int8))
    sql = f"SELECT i.src_account_id, i.dst_account_id, CASE i.kind {case} END {joined}"
    flat = np.fromiter(itertools.chain.from_iterable(raw_rows(engine, sql, params)), dtype=np.int64)
    flat = flat.reshape(-1, 3)
    return Edges(np.ascontiguousarray(flat[:, 0]), np.ascontiguousarray(flat[:, 1]), flat[:, 2].astype(np.int8))


@dataclass
class TopicGraph:
    """A topic's interaction network as sparse matrices over node indices ``0..n-1``.

    Attributes
    ----------
    account_ids : ndarray
        Node ``i`` is the account with id ``account_ids[i]`` (sorted ascending).
    src, dst, kind : ndarray
        The interactions (self-loops removed) as node indices and kind codes.
    amplification : scipy.sparse.csr_array
        ``[i, j]`` = retweets plus quotes of ``j`` by ``i``.
    interaction : scipy.sparse.csr_array
        ``[i, j]`` = interactions of ``i`` with ``j``, weighted by kind.
    self_loops : int
        Self-interactions dropped.
    kind_weights : dict
        The kind weights used for ``interaction``.
    """

    account_ids: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    kind: np.ndarray
    amplification: sp.csr_array
    interaction: sp.csr_array
    self_loops: int = 0
    kind_weights: dict[str, float] = field(default_factory=lambda: dict(KIND_WEIGHTS))

    @property
    def n(self) -> int:
        """Number of accounts (nodes)."""
        return int(self.account_ids.shape[0])

    @property
    def interactions(self) -> int:
        """Number of interactions (self-loops excluded)."""
        return int(self.src.shape[0])

    @property
    def pairs(self) -> int:
        """Distinct (source, target) pairs with at least one interaction."""
        return int(self.interaction.nnz)

    def index(self, account_id: int) -> int | None:
        """Node index of ``account_id``, or None when the account is not in the graph."""
        i = int(np.searchsorted(self.account_ids, account_id))
        if i < self.n and self.account_ids[i] == account_id:
            return i
        return None

    def received(self, kind: int) -> np.ndarray:
        """Interactions of one kind code received by each node."""
        return np.bincount(self.dst[self.kind == kind], minlength=self.n)

    def amplifications(self) -> np.ndarray:
        """Retweets plus quotes received by each node (raw totals: shown, never scored)."""
        return np.asarray(self.amplification.sum(axis=0)).ravel().astype(np.int64)

    def amplifiers(self) -> np.ndarray:
        """Distinct accounts that retweeted or quoted each node."""
        return np.diff(self.amplification.tocsc().indptr).astype(np.int64)

    def pair_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Aggregated edges: ``(src index, dst index, counts)`` with ``counts[:, k]`` per kind code."""
        n = max(self.n, 1)
        key = self.src.astype(np.int64) * n + self.dst
        uniq, inv = np.unique(key, return_inverse=True)
        counts = np.zeros((uniq.shape[0], len(KINDS)), dtype=np.int64)
        np.add.at(counts, (inv, self.kind.astype(np.intp)), 1)
        return uniq // n, uniq % n, counts

    def to_networkx(self, which: str = "interaction"):
        """The graph as a ``networkx.DiGraph`` whose nodes are account ids (in index order).

        ``which="interaction"`` gives every pair with ``weight`` (kind-weighted) and the counts
        ``retweets``, ``quotes``, ``replies``, ``mentions``; ``which="amplification"`` gives only
        pairs with retweets or quotes, ``weight`` = their number. Meant for exports and small
        graphs: building networkx objects costs about a microsecond per edge attribute.
        """
        import networkx as nx

        if which not in ("interaction", "amplification"):
            raise ValueError(f"which must be 'interaction' or 'amplification', not {which!r}")
        G = nx.DiGraph()
        ids = self.account_ids.tolist()
        G.add_nodes_from(ids)
        s, d, c = self.pair_counts()
        w = self.kind_weights
        weights = (c[:, RETWEET] * w[EDGE_RETWEET] + c[:, QUOTE] * w[EDGE_QUOTE] + c[:, REPLY] * w[EDGE_REPLY]
                   + c[:, MENTION] * w[EDGE_MENTION])
        for a, b, cnt, wt in zip(s.tolist(), d.tolist(), c.tolist(), weights.tolist()):
            amp = cnt[RETWEET] + cnt[QUOTE]
            if which == "amplification":
                if amp:
                    G.add_edge(ids[a], ids[b], weight=float(amp))
                continue
            G.add_edge(ids[a], ids[b], weight=float(wt), retweets=cnt[RETWEET], quotes=cnt[QUOTE],
                       replies=cnt[REPLY], mentions=cnt[MENTION])
        return G


def igraph_graph(n: int, src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None, *,
                 directed: bool = False):
    """An ``igraph.Graph`` of ``n`` vertices and the edges ``src[i] - dst[i]`` (with a ``weight`` attribute).

    The edges go in through ``add_edges`` as an ``(m, 2)`` int64 numpy array, igraph's fastest input here:
    for 900,000 edges 0.18-0.19 s against 0.22-0.28 s for a list of tuples of Python ints (with the
    ``tolist``) and 0.56-0.69 s for the same array given to the constructor (igraph 1.0, this machine).

    Examples
    --------
    >>> G = igraph_graph(3, np.array([0, 1]), np.array([1, 2]), np.array([1.0, 0.5]))
    >>> G.get_edgelist(), G.es["weight"]
    ([(0, 1), (1, 2)], [1.0, 0.5])
    """
    import igraph as ig

    G = ig.Graph(n=int(n), directed=directed)
    pairs = np.column_stack([np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)])
    if pairs.size:
        G.add_edges(pairs)
    if weights is not None:
        G.es["weight"] = np.asarray(weights, dtype=np.float64).tolist()
    return G


def build_graph(edges: Edges, kind_weights: dict[str, float] | None = None) -> TopicGraph:
    """Build the :class:`TopicGraph` of ``edges`` (self-loops dropped).

    Examples
    --------
    >>> g = build_graph(Edges.from_rows([(10, 20, "retweet"), (10, 20, "retweet"), (30, 20, "mention"),
    ...                                  (30, 30, "retweet")]))
    >>> g.account_ids.tolist(), g.self_loops
    ([10, 20, 30], 1)
    >>> g.amplification.toarray().tolist()
    [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    >>> g.interaction.toarray()[2].tolist()
    [0.0, 0.5, 0.0]
    """
    kw = dict(KIND_WEIGHTS if kind_weights is None else kind_weights)
    missing = set(KINDS) - set(kw)
    if missing:
        raise ValueError(f"kind_weights lacks {', '.join(sorted(missing))}")
    loops = edges.src == edges.dst
    n_loops = int(loops.sum())
    src, dst, kind = edges.src[~loops], edges.dst[~loops], edges.kind[~loops]
    if src.size == 0:
        ids = np.zeros(0, dtype=np.int64)
        empty = sp.csr_array((0, 0), dtype=np.float64)
        z = np.zeros(0, dtype=np.int32)
        return TopicGraph(ids, z, z.copy(), np.zeros(0, dtype=np.int8), empty, empty.copy(), n_loops, kw)
    lo = int(min(src.min(), dst.min()))
    hi = int(max(src.max(), dst.max()))
    if hi - lo < 50_000_000:  # dense id range (autoincrement ids): a lookup table beats sorting
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[src - lo] = True
        present[dst - lo] = True
        ids = np.flatnonzero(present).astype(np.int64) + lo
        lut = np.full(hi - lo + 1, -1, dtype=np.int64)
        lut[ids - lo] = np.arange(ids.shape[0])
        s = lut[src - lo].astype(np.int32)
        d = lut[dst - lo].astype(np.int32)
    else:
        ids, inv = np.unique(np.concatenate([src, dst]), return_inverse=True)
        s = inv[: src.shape[0]].astype(np.int32)
        d = inv[src.shape[0]:].astype(np.int32)
    n = ids.shape[0]
    kind = kind.astype(np.int8)
    amp = (kind == RETWEET) | (kind == QUOTE)
    A = sp.csr_array((np.ones(int(amp.sum())), (s[amp], d[amp])), shape=(n, n))
    A.sum_duplicates()
    wk = np.array([kw[k] for k in KINDS], dtype=np.float64)[kind]
    W = sp.csr_array((wk, (s, d)), shape=(n, n))
    W.sum_duplicates()
    return TopicGraph(ids, s, d, kind, A, W, n_loops, kw)
