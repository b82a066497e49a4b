"""The influence score: four network measures combined into one number.

How each kind of interaction counts
-----------------------------------
Every interaction is evidence that the account acted on was worth attention, but
not equally strong evidence (:data:`influence.graph.KIND_WEIGHTS`, the one place
the numbers live):

=========  ======  ==================================================================
kind       weight  why
=========  ======  ==================================================================
retweet    1.0     amplification: the actor passes the post on to its own audience
quote      1.0     amplification with comment (agreeing or not, the post travels)
reply      0.5     attention without passing the post on; often disagreement
mention    0.5     naming an account: attention, weaker still than amplification
=========  ======  ==================================================================

Repeated interactions between the same pair add up. The measures, per account of
a topic's interaction graph (see :mod:`influence.graph`):

``pagerank`` (weight 0.40)
    Weighted PageRank over every interaction (A retweets, quotes, replies to or
    mentions B: A -> B, weighted as above). Being engaged with by accounts that
    are themselves engaged with counts most, so on a network of mentions only
    the ranking follows who is mentioned by whom, weighted by the mentioners' own
    standing, not raw counts.
``in_degree`` (weight 0.25)
    Distinct accounts that retweeted, quoted, replied to or mentioned it:
    breadth of engagement, which a handful of very active fans cannot inflate.
``authority`` (weight 0.20)
    HITS authority on the same weighted graph: referred to by the accounts that
    refer to the good sources.
``betweenness`` (weight 0.15)
    Shortest-path betweenness on the undirected interaction graph (exact on small
    graphs, else from a seeded sample of source accounts): brokers who connect
    camps that otherwise do not talk. Only accounts that others interacted with
    can be brokers; an account's own outgoing interactions earn it nothing.

What a score means
------------------
A score is earned from what others do: **an account that nobody retweeted,
quoted, replied to or mentioned scores 0 on every part.** Each measure is
counted from its floor, the value such an account has (0 for in-degree,
authority and betweenness; for PageRank the share every account gets from the
random jump and from dangling accounts, so only PageRank received through links
counts), and divided by the highest value in the topic and window, so it reads
"1 = the topic's top account on this measure". The score is
``100 * sum(weight * (measure - floor) / (max - floor))``, between 0 and 100;
an account that leads on every measure scores 100.

A measure that is the same for every account of the graph (for instance in-degree
on a ring where everyone is mentioned once) says nothing about who matters: it
adds nothing, its weight is shared among the informative measures in proportion
to theirs (:attr:`Scores.constant` names it, and "see why" says so). When no
measure is informative, every score is 0.

:attr:`Scores.parts` keeps each measure's contribution in points, so "see why"
can show what the score is made of. Follower counts and raw retweet totals are
reported beside the score and never enter it. Ties are broken by PageRank, then
by account id, so the same data always gives the same ranking.
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
    "pagerank": "PageRank over every interaction (retweets and quotes count 1, replies and mentions 0.5), "
                "weighted by who interacts",
    "in_degree": "distinct accounts that retweeted, quoted, replied to or mentioned it",
    "authority": "HITS authority on all interactions (referred to by good hubs)",
    "betweenness": "betweenness on the interaction network (bridges between camps)",
}
#: Relative spread below which a measure counts as constant on a graph (carries no information).
CONSTANT_RTOL = 1.0e-9
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
    weights: dict[str, float]  # the weights used: constant measures get 0, the rest share their weight
    betweenness_sources: int | None  # None: exact
    seed: int
    timings: dict[str, float] = field(default_factory=dict)
    floors: dict[str, float] = field(default_factory=dict)  # measure -> the value of an account nobody engaged
    constant: list[str] = field(default_factory=list)  # measures that are the same for every account
    nominal_weights: dict[str, float] = field(default_factory=dict)  # the weights asked for (normalised)

    def top(self, k: int) -> np.ndarray:
        """Node indices of the ``k`` best accounts."""
        return self.order[:k]


def combine(measures: dict[str, np.ndarray], weights: dict[str, float], *,
            floors: dict[str, float] | None = None, engaged: np.ndarray | None = None
            ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float], list[str]]:
    """``100 * sum(w * (m - floor) / (max - floor))`` and each measure's contribution in points.

    Parameters
    ----------
    measures : dict
        Measure name -> value per node.
    weights : dict
        Measure name -> weight (summing to 1).
    floors : dict, optional
        Measure name -> the value of an account nobody interacted with (default 0).
    engaged : ndarray of bool, optional
        Nodes that received at least one interaction; the others get 0 points on every part.

    Returns
    -------
    total, parts, used weights, constant measures
        A measure that is constant over the nodes adds nothing; its weight is shared among the
        others in proportion to theirs (the used weights say so).

    Examples
    --------
    >>> s, parts, w, const = combine({"a": np.array([2.0, 1.0]), "b": np.array([0.0, 4.0])}, {"a": 0.5, "b": 0.5})
    >>> s.tolist(), parts["a"].tolist(), const
    ([50.0, 75.0], [50.0, 25.0], [])
    >>> s, parts, w, const = combine({"a": np.array([2.0, 1.0]), "b": np.array([3.0, 3.0])}, {"a": 0.5, "b": 0.5})
    >>> s.tolist(), w, const
    ([100.0, 50.0], {'a': 1.0, 'b': 0.0}, ['b'])
    """
    n = len(next(iter(measures.values()))) if measures else 0
    floors = floors or {}
    lifted: dict[str, np.ndarray] = {}
    constant: list[str] = []
    for name in weights:
        m = np.asarray(measures[name], dtype=np.float64)
        top = float(m.max()) if m.size else 0.0
        low = float(m.min()) if m.size else 0.0
        if top - low <= CONSTANT_RTOL * max(abs(top), abs(low), 1e-300):
            constant.append(name)
            continue
        x = np.clip(m - floors.get(name, 0.0), 0.0, None)
        if engaged is not None:
            x[~engaged] = 0.0
        if float(x.max()) <= 0.0:
            constant.append(name)
            continue
        lifted[name] = x / float(x.max())
    informative = sum(weights[k] for k in lifted)
    used = {k: (weights[k] / informative if k in lifted and informative > 0 else 0.0) for k in weights}
    total = np.zeros(n)
    parts = {}
    for name in weights:
        part = 100.0 * used[name] * lifted[name] if name in lifted else np.zeros(n)
        parts[name] = part
        total += part
    return total, parts, used, constant


def rank_order(score: np.ndarray, pagerank: np.ndarray, account_ids: np.ndarray) -> np.ndarray:
    """Node indices sorted by score, then PageRank (both descending), then account id."""
    return np.lexsort((account_ids, -pagerank, -np.round(score, 9)))


def pagerank_scores(g: TopicGraph, *, alpha: float = ALPHA) -> np.ndarray:
    """PageRank of every node over the kind-weighted interaction graph (the PageRank-only path)."""
    return centrality.pagerank(g.interaction, alpha, max_iter=PAGERANK_MAX_ITER, tol=PAGERANK_TOL)


def pagerank_floor(A: sp.csr_array, pr: np.ndarray, alpha: float = ALPHA) -> float:
    """The PageRank of a node without in-links: the random jump plus the dangling nodes' uniform share.

    Every node gets this much whatever the links; only what exceeds it is received through links.

    Examples
    --------
    >>> A = sp.csr_array(np.array([[0, 1.0, 0], [0, 0, 0], [0, 1.0, 0]]))  # 0 -> 1 <- 2
    >>> pr = centrality.pagerank(A)
    >>> bool(np.isclose(pagerank_floor(A, pr), pr[0]))
    True
    """
    n = A.shape[0]
    if n == 0:
        return 0.0
    dangling = np.asarray(A.sum(axis=1)).ravel() == 0
    return float((1.0 - alpha) / n + alpha * pr[dangling].sum() / n)


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
    engaged = indeg > 0
    btw = np.where(engaged, btw, 0.0)  # brokers are accounts others engaged with (see the module doc)
    measures = {"pagerank": pr, "in_degree": indeg.astype(np.float64), "authority": auth, "betweenness": btw}
    floors = {"pagerank": pagerank_floor(g.interaction, pr, alpha), "in_degree": 0.0, "authority": 0.0,
              "betweenness": 0.0}
    score, parts, used, constant = combine(measures, w, floors=floors, engaged=engaged)
    order = rank_order(score, pr, g.account_ids)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    return Scores(pagerank=pr, in_degree=indeg, authority=auth, hub=hub, betweenness=btw, score=score,
                  parts=parts, rank=rank, order=order, weights=used, betweenness_sources=k, seed=seed,
                  timings=timings, floors=floors, constant=constant, nominal_weights=w)


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
