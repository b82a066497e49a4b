"""Communities of a topic's interaction graph: the camps, what labels them, who bridges them.

Communities are networkx's Louvain communities
(``nx.community.louvain_communities``, seeded, so the same data gives the same
camps) of the undirected interaction graph, with weights summed over both
directions and every kind (:data:`influence.graph.KIND_WEIGHTS`).

Large topic graphs are mostly accounts that interacted once. Before Louvain
runs, every account with a single neighbour (whose neighbour has more) is folded
into that neighbour as a self-loop of the same weight; afterwards it joins its
neighbour's community. Modularity is unchanged by the fold for every partition
that keeps such an account with its only neighbour (the edge stays internal,
and the community's total degree is the same), and every modularity-improving
partition does keep it there, so Louvain optimises the same quantity on a
graph a fraction of the size.

Communities are numbered by size (0 = the largest). Each is labelled by its
highest-scoring accounts and the hashtags most particular to it (hashtags its
members used, weighted by tf-idf across communities, so a hashtag every camp
uses does not label any). Bridges are members whose neighbours belong to other
communities, highest betweenness first.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from influence.graph import TopicGraph

SEED = 42


@dataclass
class Community:
    """One camp of the topic's network."""

    id: int
    size: int
    label: str
    top_accounts: list[int] = field(default_factory=list)  # account ids, best score first
    hashtags: list[tuple[str, int]] = field(default_factory=list)  # (tag, posts by members)
    bridges: list[dict[str, Any]] = field(default_factory=list)  # {"account_id", "communities": [...]}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "size": self.size, "label": self.label, "top_accounts": self.top_accounts,
                "hashtags": [list(h) for h in self.hashtags], "bridges": self.bridges}


def undirected(g: TopicGraph) -> sp.csr_array:
    """Symmetric weighted adjacency (weights of both directions summed), no self-loops."""
    W = (g.interaction + g.interaction.T).tocsr()
    W.sum_duplicates()
    return W


def louvain(g: TopicGraph, *, seed: int = SEED, resolution: float = 1.0) -> np.ndarray:
    """Community id of every node (0 = the largest community); see the module doc.

    Examples
    --------
    >>> from influence.graph import Edges, build_graph
    >>> rows = [(a, b, "retweet") for a in (1, 2, 3) for b in (1, 2, 3) if a != b]
    >>> rows += [(a, b, "retweet") for a in (7, 8, 9) for b in (7, 8, 9) if a != b] + [(3, 7, "mention")]
    >>> louvain(build_graph(Edges.from_rows(rows))).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    n = g.n
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    W = undirected(g)
    deg = np.diff(W.indptr)
    nbr_of_leaf = np.full(n, -1, dtype=np.int64)
    single = np.flatnonzero(deg == 1)
    if single.size:
        only = W.indices[W.indptr[single]]
        fold = deg[only] > 1
        nbr_of_leaf[single[fold]] = only[fold]
    leaf = nbr_of_leaf >= 0
    core = np.flatnonzero(~leaf)
    G = nx.Graph()
    G.add_nodes_from(core.tolist())
    C = sp.triu(W, k=1).tocoo()
    keep = ~leaf[C.row] & ~leaf[C.col]
    order = np.lexsort((C.col[keep], C.row[keep]))
    G.add_weighted_edges_from(zip(C.row[keep][order].tolist(), C.col[keep][order].tolist(),
                                  C.data[keep][order].tolist()))
    if leaf.any():  # folded accounts: a self-loop of their edge weight on the neighbour
        li = np.flatnonzero(leaf)
        wt = W.data[W.indptr[li]]
        loops = np.bincount(nbr_of_leaf[li], weights=wt, minlength=n)
        for v in np.flatnonzero(loops).tolist():
            G.add_edge(v, v, weight=float(loops[v]))
    if G.number_of_edges() == 0:
        parts = [{v} for v in core.tolist()]
    else:
        parts = nx.community.louvain_communities(G, weight="weight", resolution=resolution, seed=seed)
    membership = np.full(n, -1, dtype=np.int64)
    for c, members in enumerate(parts):
        membership[list(members)] = c
    membership[leaf] = membership[nbr_of_leaf[leaf]]
    # number by size (largest first), ties by smallest node index: stable ids for the same data
    sizes = np.bincount(membership, minlength=len(parts))
    first = np.full(len(parts), n, dtype=np.int64)
    np.minimum.at(first, membership, np.arange(n))
    rank = np.lexsort((first, -sizes))
    relabel = np.empty(len(parts), dtype=np.int64)
    relabel[rank] = np.arange(len(parts))
    return relabel[membership]


def describe(g: TopicGraph, membership: np.ndarray, order: np.ndarray, betweenness: np.ndarray,
             handles: dict[int, str | None], hashtags: dict[int, Counter], *, max_communities: int = 30,
             min_size: int = 3, top: int = 3) -> list[Community]:
    """Label the largest communities.

    Parameters
    ----------
    g : TopicGraph
    membership : ndarray
        Community id per node (from :func:`louvain`).
    order : ndarray
        Node indices, best score first.
    betweenness : ndarray
        Betweenness per node (to order bridges).
    handles : dict
        account id -> handle, for labels (missing: "account <id>").
    hashtags : dict
        account id -> Counter of hashtags it used on the topic in the window.
    """
    if g.n == 0:
        return []
    n_comm = int(membership.max()) + 1
    sizes = np.bincount(membership, minlength=n_comm)
    shown = [c for c in range(min(n_comm, max_communities)) if sizes[c] >= min_size]
    if not shown:
        return []
    ids = g.account_ids
    tops: dict[int, list[int]] = {c: [] for c in shown}
    wanted = set(shown)
    for v in order.tolist():
        c = int(membership[v])
        if c in wanted and len(tops[c]) < top:
            tops[c].append(int(ids[v]))
            if len(tops[c]) == top:
                wanted.discard(c)
                if not wanted:
                    break
    tags: dict[int, Counter] = {c: Counter() for c in shown}
    for v in range(g.n):
        c = int(membership[v])
        if c in tags:
            h = hashtags.get(int(ids[v]))
            if h:
                tags[c].update(h)
    df = Counter(t for c in shown for t in tags[c])
    W = undirected(g)
    rows = np.repeat(np.arange(g.n), np.diff(W.indptr))
    cross = membership[rows] != membership[W.indices]
    links: dict[int, Counter] = {}
    for a, b, w in zip(rows[cross].tolist(), W.indices[cross].tolist(), W.data[cross].tolist()):
        links.setdefault(a, Counter())[int(membership[b])] += w
    out = []
    for c in shown:
        scored = sorted(tags[c].items(), key=lambda kv: (-kv[1] * math.log(1 + len(shown) / df[kv[0]]), kv[0]))
        best_tags = [(t, n) for t, n in scored[:top]]
        members_bridging = [v for v in links if membership[v] == c]
        members_bridging.sort(key=lambda v: (-betweenness[v], int(ids[v])))
        bridges = [{"account_id": int(ids[v]),
                    "communities": [k for k, _ in sorted(links[v].items(), key=lambda kv: (-kv[1], kv[0]))][:5]}
                   for v in members_bridging[:top]]
        names = [f"@{handles[a]}" if handles.get(a) else f"account {a}" for a in tops[c]]
        label = ", ".join(names)
        if best_tags:
            label += " \u00b7 " + " ".join(f"#{t}" for t, _ in best_tags)
        out.append(Community(id=c, size=int(sizes[c]), label=label, top_accounts=tops[c], hashtags=best_tags,
                             bridges=bridges))
    return out
