"""networkx's centrality algorithms on a sparse adjacency matrix.

Each function computes what the named networkx function computes, on the
matrix a :class:`influence.graph.TopicGraph` already holds, so the topic graph
is never turned into Python dicts of dicts (which costs more than the
algorithms themselves at a million edges). ``tests/influence/test_centrality.py``
checks each against networkx on small graphs.

=====================  ==============================================  =========================================
function               same result as                                  how
=====================  ==============================================  =========================================
:func:`pagerank`       ``nx.pagerank(G, alpha, weight="weight")``      networkx's own scipy power iteration
                                                                       (``_pagerank_scipy``), same stopping rule
:func:`hits`           ``nx.hits(G)`` (when the top singular value     power iteration ``a <- A^T A a`` from the
                       is simple, i.e. the answer is unique)           uniform vector: deterministic, unlike
                                                                       ARPACK's random start
:func:`betweenness`    ``nx.betweenness_centrality(G.to_undirected(),  Brandes from the same sampled sources
                       k, seed=seed)``                                 (``random.Random(seed).sample``); the
                                                                       searches and dependencies compiled by
                                                                       numba (:mod:`influence._brandes`)
:func:`in_degree`      ``G.in_degree()`` (distinct in-neighbours)      column counts of the sparsity pattern
=====================  ==============================================  =========================================
"""

from __future__ import annotations

import math
import random

import networkx as nx
import numpy as np
import scipy.sparse as sp


def pagerank(A: sp.csr_array, alpha: float = 0.85, *, max_iter: int = 100, tol: float = 1.0e-6) -> np.ndarray:
    """PageRank of the weighted directed graph with adjacency ``A`` (``A[i, j]``: weight of ``i -> j``).

    The formula, defaults and stopping rule are networkx's (``nx.pagerank``): the
    rows of ``A`` are normalised to transition probabilities, dangling nodes (no
    out-weight) spread their rank uniformly, and iteration stops when the L1
    change is below ``n * tol``.

    Note that ``n * tol`` grows with the graph: at 200,000 nodes networkx's
    default ``tol=1e-6`` accepts an L1 error of 0.2 and stops after two or three
    iterations. :mod:`influence.scoring` passes ``tol=1e-10``.

    Parameters
    ----------
    A : scipy.sparse.csr_array
        Square non-negative weighted adjacency matrix.
    alpha : float
        Damping factor.
    max_iter : int
        Maximum number of power iterations.
    tol : float
        Tolerance (per node) of the L1 stopping rule.

    Returns
    -------
    ndarray
        PageRank per node, summing to 1.

    Raises
    ------
    networkx.PowerIterationFailedConvergence
        When ``max_iter`` iterations do not reach the tolerance.

    Examples
    --------
    >>> import networkx as nx
    >>> A = sp.csr_array(np.array([[0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=float))
    >>> pr = pagerank(A)
    >>> ref = nx.pagerank(nx.from_numpy_array(A.toarray(), create_using=nx.DiGraph))
    >>> bool(np.allclose(pr, [ref[i] for i in range(3)]))
    True
    """
    n = A.shape[0]
    if n == 0:
        return np.zeros(0)
    S = np.asarray(A.sum(axis=1)).ravel()
    inv = np.zeros_like(S, dtype=np.float64)
    nz = S != 0
    inv[nz] = 1.0 / S[nz]
    # x @ (D^-1 A) computed as (D^-1 A)^T @ x on a CSR copy: one pass over the non-zeros per iteration
    QT = (sp.dia_array((inv, 0), shape=A.shape) @ A).T.tocsr()
    x = np.full(n, 1.0 / n)
    p = np.full(n, 1.0 / n)
    dangling = np.flatnonzero(~nz)
    for _ in range(max_iter):
        xlast = x
        x = alpha * (QT @ x + x[dangling].sum() * p) + (1 - alpha) * p
        if np.abs(x - xlast).sum() < n * tol:
            return x
    raise nx.PowerIterationFailedConvergence(max_iter)


def hits(A: sp.csr_array, *, max_iter: int = 1000, tol: float = 1.0e-10) -> tuple[np.ndarray, np.ndarray]:
    """HITS hub and authority scores of the directed graph with adjacency ``A``.

    Authorities are the principal eigenvector of ``A^T A`` (the top right
    singular vector of ``A``), hubs ``A a``; both normalised to sum to 1, as
    ``nx.hits(G)``. networkx finds the vector with ARPACK (``svds``) from a
    random start; this function uses the classic power iteration from the
    uniform vector, which gives the same vector whenever it is unique and is
    deterministic when it is not (a graph of several identical pieces).

    Parameters
    ----------
    A : scipy.sparse.csr_array
        Square non-negative weighted adjacency matrix.
    max_iter : int
        Maximum number of iterations.
    tol : float
        Stop when the L1 change of the (sum-normalised) authority vector is below ``tol``.

    Returns
    -------
    hubs, authorities : ndarray

    Raises
    ------
    networkx.PowerIterationFailedConvergence
        When ``max_iter`` iterations do not reach the tolerance.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([(0, 1), (0, 2), (1, 2), (3, 2), (3, 1)])
    >>> h, a = hits(nx.to_scipy_sparse_array(G, nodelist=range(4)))
    >>> ref_h, ref_a = nx.hits(G)
    >>> bool(np.allclose(a, [ref_a[i] for i in range(4)], atol=1e-6))
    True
    """
    n = A.shape[0]
    if n == 0:
        return np.zeros(0), np.zeros(0)
    A = sp.csr_array(A, dtype=np.float64)
    if A.nnz == 0:
        return np.zeros(n), np.zeros(n)
    AT = A.T.tocsr()
    a = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        alast = a
        a = AT @ (A @ a)
        s = a.sum()
        if s == 0:
            break
        a = a / s
        if np.abs(a - alast).sum() < tol:
            h = A @ a
            return h / h.sum(), a
    else:
        raise nx.PowerIterationFailedConvergence(max_iter)
    return np.zeros(n), np.zeros(n)


def in_degree(A: sp.csr_array) -> np.ndarray:
    """Distinct in-neighbours of each node (the number of accounts with an edge to it).

    Examples
    --------
    >>> in_degree(sp.csr_array(np.array([[0, 3.0], [1, 0]]))).tolist()
    [1, 1]
    """
    C = sp.csc_array(A)
    C.sum_duplicates()
    return np.diff(C.indptr).astype(np.int64)


def betweenness(A: sp.csr_array, *, k: int | None = None, seed: int | None = None, normalized: bool = True,
                endpoints: bool = False) -> np.ndarray:
    """Shortest-path betweenness on the undirected, unweighted version of ``A``.

    The same numbers as ``nx.betweenness_centrality(G.to_undirected(), k=k,
    seed=seed, normalized=normalized, endpoints=endpoints)`` for a graph whose
    nodes are listed in index order: the same sources are sampled (networkx
    draws them with ``random.Random(seed).sample``), paths are counted the same
    way (Brandes 2001) and the same rescaling is applied.

    Each sampled source costs one breadth-first search counting paths and one
    sweep back over its shortest-path arcs for the dependencies, compiled by
    numba (:mod:`influence._brandes`): 32 sources at 185,000 accounts and 1.9
    million arcs take 0.5-0.7 s on the bench machine (the numpy level sweeps it
    replaced took 2.5-2.9 s, igraph's ``betweenness(sources=...)`` 2.5-3.7 s).

    Parameters
    ----------
    A : scipy.sparse.csr_array
        Square adjacency matrix; direction and weights are ignored.
    k : int, optional
        Number of sampled source nodes (``None``: all nodes, exact betweenness).
    seed : int, optional
        Seed of the source sample.
    normalized, endpoints : bool
        As in networkx.

    Returns
    -------
    ndarray
        Betweenness per node.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.path_graph(5)
    >>> b = betweenness(nx.to_scipy_sparse_array(G, nodelist=range(5)))
    >>> ref = nx.betweenness_centrality(G)
    >>> bool(np.allclose(b, [ref[i] for i in range(5)]))
    True
    """
    n = A.shape[0]
    if n == 0:
        return np.zeros(0)
    U = sp.csr_array(A, dtype=np.float64)
    U = (U + U.T).tocsr()
    U.sum_duplicates()
    # the pattern without the diagonal (self-loops) and explicit zeros, masked (setdiag(0) on a matrix without
    # a diagonal inserts n entries to drop them again: 0.1-0.15 s at 185,000 accounts)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(U.indptr))
    keep = (rows != U.indices) & (U.data != 0)
    rows, cols = rows[keep], U.indices[keep].astype(np.int64)
    if k is None or k >= n:
        sources = list(range(n))
        sampled = None
    else:
        sources = random.Random(seed).sample(range(n), k)
        sampled = sources
    from influence._brandes import accumulate

    # nodes renumbered by degree, hubs first: the searches then touch memory that sits together (twice as fast
    # at 185,000 accounts; the sums are the same, node by node)
    deg = np.bincount(rows, minlength=n)
    perm = np.argsort(-deg, kind="stable")  # new index -> node
    new = np.empty(n, dtype=np.int64)
    new[perm] = np.arange(n)
    P = sp.csr_array((np.ones(rows.size), (new[rows], new[cols])), shape=(n, n))
    P.sort_indices()
    bc = accumulate(P.indptr.astype(np.int64), P.indices.astype(np.int32),
                    new[np.asarray(sources, dtype=np.int64)], bool(endpoints))[new]
    return _rescale(bc, n, normalized=normalized, endpoints=endpoints, sampled=sampled)


def _rescale(bc: np.ndarray, n: int, *, normalized: bool, endpoints: bool, sampled: list[int] | None) -> np.ndarray:
    """networkx's ``_rescale`` for undirected graphs (see ``networkx/algorithms/centrality/betweenness.py``)."""
    N = n if endpoints else n - 1
    if N < 2:
        return bc
    k = None if sampled is None else len(sampled)
    K = N if k is None else k
    if k is None or endpoints:
        scale = 1 / (K * (N - 1)) if normalized else N / (K * 2)
        return bc * scale
    if normalized:
        scale_source = 1 / ((K - 1) * (N - 1)) if K > 1 else math.nan
        scale_other = 1 / (K * (N - 1))
    else:
        scale_source = N / ((K - 1) * 2) if K > 1 else math.nan
        scale_other = N / (K * 2)
    out = bc * scale_other
    idx = np.asarray(sampled, dtype=np.int64)
    out[idx] = bc[idx] * scale_source
    return out
