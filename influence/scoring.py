"""The influence score: four network measures combined into one number.

For every account in a topic's interaction graph (see :mod:`influence.graph`):

``pagerank`` (weight 0.40)
    Weighted PageRank over amplification edges (A retweets or quotes B: A -> B,
    weight = how many times). Being amplified by accounts that are themselves
    amplified counts most.
``in_degree`` (weight 0.25)
    Distinct accounts that retweeted, quoted, replied to or mentioned it:
    breadth of engagement, which a handful of very active fans cannot inflate.
``authority`` (weight 0.20)
    HITS authority on the interaction graph (all kinds; a reply or mention
    weighs half a retweet): referred to by the accounts that refer to the good
    sources.
``betweenness`` (weight 0.15)
    Shortest-path betweenness on the undirected interaction graph, from a seeded
    sample of source accounts: brokers who connect camps that otherwise do not
    talk.

Each measure is divided by its highest value in the topic and window, so it
reads "1 = the topic's top account on this measure"; the score is
``100 * sum(weight * measure / max(measure))``, between 0 and 100. An account
that leads on every measure scores 100. :attr:`Scores.parts` keeps each
measure's contribution in points, so "see why" can show what the score is made
of. Follower counts and raw retweet totals are reported beside the score and
never enter it. Ties are broken by PageRank, then by account id, so the same
data always gives the same ranking.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse as sp

from influence import centrality
from influence.graph import TopicGraph

log = logging.getLogger(__name__)

#: Weights of the measures in the combined score (they sum to 1).
WEIGHTS: dict[str, float] = {"pagerank": 0.40, "in_degree": 0.25, "authority": 0.20, "betweenness": 0.15}
#: What each measure means, for legends and "see why".
MEASURES: dict[str, str] = {
    "pagerank": "amplification PageRank (retweets and quotes, weighted by who amplifies)",
    "in_degree": "distinct accounts that retweeted, quoted, replied to or mentioned it",
    "authority": "HITS authority on all interactions (referred to by good hubs)",
    "betweenness": "betweenness on the interaction network (bridges between camps; sampled)",
}
ALPHA = 0.85
#: PageRank tolerance per node (networkx's default 1e-6 is far too loose at 10^5 nodes; see centrality.pagerank).
PAGERANK_TOL = 1.0e-10
PAGERANK_MAX_ITER = 200
#: Betweenness: exact while (nodes x arcs) stays under this many arc visits, else sampled sources.
BETWEENNESS_ARC_BUDGET = 30_000_000
BETWEENNESS_MIN_SOURCES = 32
SEED = 42


def betweenness_sources(n: int, arcs: int, budget: int = BETWEENNESS_ARC_BUDGET,
                        minimum: int = BETWEENNESS_MIN_SOURCES) -> int | None:
    """Number of BFS sources for betweenness: None (all: exact) when affordable, else a sample size.

    Examples
    --------
    >>> betweenness_sources(500, 4000) is None
    True
    >>> betweenness_sources(200_000, 1_900_000)
    32
    """
    if n == 0:
        return None
    k = max(minimum, int(budget // max(arcs, 1)))
    return None if k >= n else k


@dataclass
class Scores:
    """Every measure and the combined score of each node of a :class:`TopicGraph` (arrays by node index)."""

    pagerank: np.ndarray
    in_degree: np.ndarray
    authority: np.ndarray
    hub: np.ndarray
    betweenness: np.ndarray
    score: np.ndarray
    parts: dict[str, np.ndarray]  # measure -> contribution in score points
    rank: np.ndarray  # 1 = top
    order: np.ndarray  # node indices, best first
    weights: dict[str, float]
    betweenness_sources: int | None  # None: exact
    seed: int
    timings: dict[str, float] = field(default_factory=dict)

    def top(self, k: int) -> np.ndarray:
        """Node indices of the ``k`` best accounts."""
        return self.order[:k]


def combine(measures: dict[str, np.ndarray], weights: dict[str, float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``100 * sum(weight * m / max(m))`` and each measure's contribution in points.

    Examples
    --------
    >>> s, parts = combine({"a": np.array([2.0, 1.0]), "b": np.array([0.0, 4.0])}, {"a": 0.5, "b": 0.5})
    >>> s.tolist(), parts["a"].tolist()
    ([50.0, 75.0], [50.0, 25.0])
    """
    n = len(next(iter(measures.values()))) if measures else 0
    total = np.zeros(n)
    parts = {}
    for name, w in weights.items():
        m = np.asarray(measures[name], dtype=np.float64)
        top = float(m.max()) if m.size else 0.0
        part = (100.0 * w / top) * m if top > 0 else np.zeros(n)
        parts[name] = part
        total += part
    return total, parts


def rank_order(score: np.ndarray, pagerank: np.ndarray, account_ids: np.ndarray) -> np.ndarray:
    """Node indices sorted by score, then PageRank (both descending), then account id."""
    return np.lexsort((account_ids, -pagerank, -np.round(score, 9)))


def pagerank_scores(g: TopicGraph, *, alpha: float = ALPHA) -> np.ndarray:
    """Amplification PageRank of every node (the PageRank-only path)."""
    return centrality.pagerank(g.amplification, alpha, max_iter=PAGERANK_MAX_ITER, tol=PAGERANK_TOL)


def score_graph(g: TopicGraph, *, weights: dict[str, float] | None = None, alpha: float = ALPHA,
                sources: int | None | str = "auto", seed: int = SEED) -> Scores:
    """Compute every measure and the combined score of ``g``.

    Parameters
    ----------
    g : TopicGraph
        The topic graph.
    weights : dict, optional
        Measure -> weight (default :data:`WEIGHTS`); weights are normalised to sum to 1.
    alpha : float
        PageRank damping.
    sources : int, None or "auto"
        Betweenness sample size (None: exact; "auto": :func:`betweenness_sources`).
    seed : int
        Seed of the betweenness sample: the same data and seed give the same scores.
    """
    w = dict(WEIGHTS if weights is None else weights)
    unknown = set(w) - set(WEIGHTS)
    if unknown:
        raise ValueError(f"unknown measure(s) {', '.join(sorted(unknown))}; known: {', '.join(WEIGHTS)}")
    tot = sum(w.values())
    if tot <= 0 or any(v < 0 for v in w.values()):
        raise ValueError("score weights must be non-negative and not all zero")
    w = {k: v / tot for k, v in w.items()}
    n = g.n
    timings: dict[str, float] = {}
    t = time.perf_counter()
    pr = pagerank_scores(g, alpha=alpha)
    timings["pagerank"] = time.perf_counter() - t
    t = time.perf_counter()
    indeg = centrality.in_degree(g.interaction)
    timings["in_degree"] = time.perf_counter() - t
    t = time.perf_counter()
    try:
        hub, auth = centrality.hits(g.interaction)
    except nx.PowerIterationFailedConvergence:
        # a near-tie between the top two singular values: ask ARPACK, from a fixed start
        log.warning("HITS power iteration did not converge on %d nodes; using ARPACK", n)
        hub, auth = _hits_arpack(g.interaction)
    timings["hits"] = time.perf_counter() - t
    t = time.perf_counter()
    k = betweenness_sources(n, 2 * g.pairs) if sources == "auto" else sources
    btw = centrality.betweenness(g.interaction, k=k, seed=seed) if n else np.zeros(0)
    timings["betweenness"] = time.perf_counter() - t
    measures = {"pagerank": pr, "in_degree": indeg.astype(np.float64), "authority": auth, "betweenness": btw}
    score, parts = combine(measures, w)
    order = rank_order(score, pr, g.account_ids)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    return Scores(pagerank=pr, in_degree=indeg, authority=auth, hub=hub, betweenness=btw, score=score,
                  parts=parts, rank=rank, order=order, weights=w, betweenness_sources=k, seed=seed,
                  timings=timings)


def _hits_arpack(A: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    from scipy.sparse.linalg import svds

    n = A.shape[0]
    if n < 3:  # ARPACK needs k < n - 1; a graph this small converges anyway
        d = np.asarray(A.sum(axis=0)).ravel()
        return np.asarray(A.sum(axis=1)).ravel() / max(A.sum(), 1e-300), d / max(d.sum(), 1e-300)
    _, _, vt = svds(sp.csr_array(A, dtype=np.float64), k=1, v0=np.full(n, 1.0 / np.sqrt(n)), maxiter=10_000)
    a = np.abs(vt.ravel())
    h = A @ a
    return h / h.sum(), a / a.sum()
