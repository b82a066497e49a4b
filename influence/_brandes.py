"""Brandes' betweenness accumulation (2001), compiled by numba: the inner loop of
:func:`influence.centrality.betweenness`, kept apart so that importing :mod:`influence` does not
import numba (half a second) and the compiled code is cached beside this file."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def accumulate(indptr: np.ndarray, indices: np.ndarray, sources: np.ndarray, endpoints: bool) -> np.ndarray:
    """Unscaled betweenness of every node from breadth-first searches at ``sources`` (node indices).

    ``indptr``/``indices`` are the CSR adjacency of an undirected, unweighted graph without self-loops
    (each edge in both rows). Per source: a breadth-first search counting shortest paths (``sigma``) that
    writes down each node's successors on shortest paths as it goes (the arcs one level down), then the
    dependencies in reverse order of discovery over those arcs only: ``delta[v] = sigma[v] * sum over
    successors w of (1 + delta[w]) / sigma[w]``. The same numbers as networkx's
    ``_single_source_shortest_path_basic`` with ``_accumulate_basic`` (or ``_accumulate_endpoints``), summed
    in another order.
    """
    n = indptr.shape[0] - 1
    bc = np.zeros(n)
    dist = np.full(n, -1, np.int32)
    sigma = np.zeros(n)
    coeff = np.zeros(n)  # (1 + delta[w]) / sigma[w]
    order = np.empty(n, np.int64)
    succ = np.empty(indices.shape[0], np.int32)  # successors, node after node in order of discovery
    start = np.empty(n + 1, np.int64)  # successors of order[i]: succ[start[i]:start[i + 1]]
    for s in sources:
        dist[s] = 0
        sigma[s] = 1.0
        order[0] = s
        head = 0
        tail = 1
        k = 0
        while head < tail:  # forward: distances, numbers of shortest paths, successors
            v = order[head]
            start[head] = k
            head += 1
            dv = dist[v] + 1
            sv = sigma[v]
            for p in range(indptr[v], indptr[v + 1]):
                w = indices[p]
                dw = dist[w]
                if dw < 0:
                    dist[w] = dv
                    order[tail] = w
                    tail += 1
                    sigma[w] = sv
                    succ[k] = w
                    k += 1
                elif dw == dv:
                    sigma[w] += sv
                    succ[k] = w
                    k += 1
        start[tail] = k
        for i in range(tail - 1, -1, -1):  # backward: dependencies
            v = order[i]
            acc = 0.0
            for p in range(start[i], start[i + 1]):
                acc += coeff[succ[p]]
            d = sigma[v] * acc
            coeff[v] = (1.0 + d) / sigma[v]
            if v != s:
                bc[v] += d + 1.0 if endpoints else d
        if endpoints:
            bc[s] += tail - 1
        for i in range(tail):
            w = order[i]
            dist[w] = -1
            sigma[w] = 0.0
            coeff[w] = 0.0
    return bc
