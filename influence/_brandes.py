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
    (each edge in both rows). Per source: a breadth-first search counting shortest paths (``sigma``),
    then the dependencies in reverse order of discovery, exactly as networkx's ``_single_source_shortest_path_basic``
    and ``_accumulate_basic`` / ``_accumulate_endpoints``, without keeping predecessor lists (a neighbour one
    level closer to the source is a predecessor).
    """
    n = indptr.shape[0] - 1
    bc = np.zeros(n)
    dist = np.full(n, -1, np.int32)
    sigma = np.zeros(n)
    delta = np.zeros(n)
    order = np.empty(n, np.int64)
    for s in sources:
        dist[s] = 0
        sigma[s] = 1.0
        order[0] = s
        head = 0
        tail = 1
        while head < tail:  # forward: distances and numbers of shortest paths
            v = order[head]
            head += 1
            dv = dist[v] + 1
            sv = sigma[v]
            for p in range(indptr[v], indptr[v + 1]):
                w = indices[p]
                if dist[w] < 0:
                    dist[w] = dv
                    order[tail] = w
                    tail += 1
                if dist[w] == dv:
                    sigma[w] += sv
        for i in range(tail - 1, -1, -1):  # backward: dependencies
            w = order[i]
            dw = dist[w] - 1
            coeff = (1.0 + delta[w]) / sigma[w]
            for p in range(indptr[w], indptr[w + 1]):
                v = indices[p]
                if dist[v] == dw:
                    delta[v] += sigma[v] * coeff
            if w != s:
                bc[w] += delta[w] + 1.0 if endpoints else delta[w]
        if endpoints:
            bc[s] += tail - 1
        for i in range(tail):
            w = order[i]
            dist[w] = -1
            sigma[w] = 0.0
            delta[w] = 0.0
    return bc
