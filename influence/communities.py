"""Communities of a topic's interaction graph: the camps, what sets each apart, who bridges them.

Communities are found by the Leiden algorithm (Traag, Waltman & van Eck 2019,
"From Louvain to Leiden: guaranteeing well-connected communities"), as igraph
implements it (``Graph.community_leiden``, optimising modularity for
:data:`LEIDEN_ITERATIONS` iterations, from a seeded random generator so the same
data gives the same camps), on the undirected interaction graph with weights summed over both
directions and every kind (:data:`influence.graph.KIND_WEIGHTS`). Unlike Louvain,
Leiden never returns a community that falls apart into disconnected pieces.
Chosen on evidence (``python bench/influence.py``): at 1,000,000 interactions
networkx's Louvain took over 80 s where igraph's Leiden takes a few seconds for
the same modularity, and on labelled graphs (Zachary's karate club, LFR
benchmark graphs) Leiden agrees with the known groups at least as well as
networkx's Louvain (``tests/influence/test_bots_communities.py``).

Large topic graphs are mostly accounts that interacted once. Before Leiden runs,
every account with a single neighbour (whose neighbour has more) is folded into
that neighbour as a self-loop of the same weight; afterwards it joins its
neighbour's community. Modularity is unchanged by the fold for every partition
that keeps such an account with its only neighbour (the edge stays internal, and
the community's total degree is the same), and every modularity-improving
partition does keep it there, so the same quantity is optimised on a graph a
fraction of the size.

Communities are numbered by size (0 = the largest). Each is labelled by its
highest-scoring accounts and by what sets it apart from the topic as a whole
(:func:`distinctive`): the hashtags, words, web sites and the accounts it engages
with that are over-represented among its members' posts and interactions,
measured by the log-odds ratio with an informative Dirichlet prior (Monroe,
Colaresi & Quinn 2008, "Fightin' Words"), so a hashtag every camp uses (the
topic's own) labels none of them. Bridges are members whose neighbours belong to
other communities, highest betweenness first.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from influence.graph import TopicGraph, igraph_graph

SEED = 42
#: Leiden iterations (igraph's default; at a million interactions a third more iterations until nothing moves
#: cost a third more time for the same modularity, ``bench/influence.py``).
LEIDEN_ITERATIONS = 2
#: Leiden iterations when the search starts from another partition of nearly the same graph (the other variant's
#: camps): one gives the same partition as two (``bench/influence.py``, the million interactions without the
#: ring's, started from the camps with them: modularity 0.8256 both, NMI 1.0 between them, 1.9 s against 3.7 s).
LEIDEN_WARM_ITERATIONS = 1


@dataclass
class Community:
    """One camp of the topic's network."""

    id: int
    size: int
    label: str
    top_accounts: list[int] = field(default_factory=list)  # account ids, best score first
    hashtags: list[tuple[str, int]] = field(default_factory=list)  # (tag, uses by members): the distinctive ones
    bridges: list[dict[str, Any]] = field(default_factory=list)  # {"account_id", "communities": [...]}
    # what sets it apart: kind (FEATURES) -> [[feature, count, z], ...]; "accounts" holds account ids as text
    features: dict[str, list[list]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "size": self.size, "label": self.label, "top_accounts": self.top_accounts,
                "hashtags": [list(h) for h in self.hashtags], "bridges": self.bridges, "features": self.features}


def undirected(g: TopicGraph) -> sp.csr_array:
    """Symmetric weighted adjacency (weights of both directions summed), no self-loops."""
    W = (g.interaction + g.interaction.T).tocsr()
    W.sum_duplicates()
    return W


def _start_of(start: "dict[int, int] | tuple[np.ndarray, np.ndarray]", ids: np.ndarray) -> np.ndarray:
    """The earlier community of each account of ``ids`` (-1: none), from a dict or from
    ``(sorted account ids, community of each)`` arrays (looked up by ``searchsorted``: no dict of every account)."""
    if isinstance(start, dict):
        known = np.fromiter(start.keys(), dtype=np.int64, count=len(start))
        comm = np.fromiter(start.values(), dtype=np.int64, count=len(start))
        order = np.argsort(known, kind="stable")
        known, comm = known[order], comm[order]
    else:
        known, comm = np.asarray(start[0], dtype=np.int64), np.asarray(start[1], dtype=np.int64)
    pos = np.minimum(np.searchsorted(known, ids), max(known.size - 1, 0))
    return np.where(known[pos] == ids, comm[pos], -1).astype(np.int64)


def leiden(g: TopicGraph, *, seed: int = SEED, resolution: float = 1.0,
           start: "dict[int, int] | tuple[np.ndarray, np.ndarray] | None" = None) -> np.ndarray:
    """Community id of every node (0 = the largest community); see the module doc.

    ``start`` (account id -> community of an earlier partition of nearly the same graph, such as the
    ranking with every interaction when the flagged accounts' are left out; a dict, or the arrays
    ``(account ids, ascending; community of each)``) is where the search begins:
    Leiden then only moves what the difference calls for, in :data:`LEIDEN_WARM_ITERATIONS` iterations.

    Examples
    --------
    >>> from influence.graph import Edges, build_graph
    >>> rows = [(a, b, "retweet") for a in (1, 2, 3) for b in (1, 2, 3) if a != b]
    >>> rows += [(a, b, "retweet") for a in (7, 8, 9) for b in (7, 8, 9) if a != b] + [(3, 7, "mention")]
    >>> leiden(build_graph(Edges.from_rows(rows))).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    import igraph as ig

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
    index = np.full(n, -1, dtype=np.int64)
    index[core] = np.arange(core.size)
    C = sp.triu(W, k=1).tocoo()
    keep = ~leaf[C.row] & ~leaf[C.col]
    src, dst, wt = index[C.row[keep]], index[C.col[keep]], C.data[keep]
    if leaf.any():  # folded accounts: a self-loop of their edge weight on the neighbour
        li = np.flatnonzero(leaf)
        loops = np.bincount(nbr_of_leaf[li], weights=W.data[W.indptr[li]], minlength=n)
        lv = np.flatnonzero(loops)
        src = np.concatenate([src, index[lv]])
        dst = np.concatenate([dst, index[lv]])
        wt = np.concatenate([wt, loops[lv]])
    if wt.size == 0:
        part = np.arange(core.size)
    else:
        G = igraph_graph(int(core.size), src, dst, wt)
        ig.set_random_number_generator(random.Random(seed))
        try:
            initial = None
            if start is not None and len(start[0] if isinstance(start, tuple) else start):
                initial = _start_of(start, g.account_ids[core])
                fresh = initial < 0
                initial[fresh] = initial.max(initial=-1) + 1 + np.arange(int(fresh.sum()))
                _, initial = np.unique(initial, return_inverse=True)
                initial = initial.tolist()
            part = np.asarray(G.community_leiden(objective_function="modularity", weights="weight",
                                                 resolution=resolution,
                                                 n_iterations=LEIDEN_WARM_ITERATIONS if start else LEIDEN_ITERATIONS,
                                                 initial_membership=initial).membership)
        finally:
            ig.set_random_number_generator(random)  # igraph's default: the random module
    membership = np.full(n, -1, dtype=np.int64)
    membership[core] = part
    membership[leaf] = membership[nbr_of_leaf[leaf]]
    k = int(membership.max()) + 1
    # number by size (largest first), ties by smallest node index: stable ids for the same data
    sizes = np.bincount(membership, minlength=k)
    first = np.full(k, n, dtype=np.int64)
    np.minimum.at(first, membership, np.arange(n))
    rank = np.lexsort((first, -sizes))
    relabel = np.empty(k, dtype=np.int64)
    relabel[rank] = np.arange(k)
    return relabel[membership]


#: Feature kinds that label a community, in the order a label names them.
FEATURES = ("hashtags", "words", "domains", "accounts")
#: A feature sets a community apart when its log-odds z-score against the rest of the topic is at least MIN_Z
#: (about p < 0.025, one-sided), its rate among the community's features is at least MIN_RATIO times its rate
#: in the rest of the topic (significant is not enough: the topic's own hashtag, used a little more by one big
#: camp, is significant), and its members used it at least MIN_SUPPORT times.
MIN_Z = 1.96
MIN_RATIO = 1.5
MIN_SUPPORT = 2
#: Weight of the prior (the topic's own frequencies), as a share of the topic's feature count.
PRIOR_SHARE = 0.1


def distinctive(counts: Counter, total: Counter, *, top: int = 5, min_z: float = MIN_Z,
                min_ratio: float = MIN_RATIO, min_support: int = MIN_SUPPORT) -> list[tuple[str, int, float]]:
    """Features over-represented in ``counts`` (one community) against ``total`` (the whole topic).

    The log-odds ratio of the community against the rest of the topic with an informative Dirichlet prior
    (the topic's own frequencies, worth :data:`PRIOR_SHARE` of the topic's count; Monroe, Colaresi & Quinn
    2008), divided by its standard error:
    ``(feature, count in the community, z)``, highest z first, for the features with ``z >= min_z``, a rate
    at least ``min_ratio`` times the rest's, and a count of at least ``min_support``.

    Examples
    --------
    >>> topic = Counter({"vaccineswork": 900, "mmr": 60, "bigpharma": 80, "measles": 40})
    >>> camp = Counter({"vaccineswork": 90, "bigpharma": 70, "measles": 2})
    >>> [f for f, n, z in distinctive(camp, topic)]
    ['bigpharma']
    """
    names = list(counts)
    y_c = np.fromiter(counts.values(), dtype=np.float64, count=len(names))
    y_all = np.fromiter((total.get(f, counts[f]) for f in names), dtype=np.float64, count=len(names))
    return distinctive_arrays(names, y_c, y_all, n_all=sum(total.values()), top=top, min_z=min_z,
                              min_ratio=min_ratio, min_support=min_support)


def distinctive_arrays(names, y_c: np.ndarray, y_all: np.ndarray, *, n_all: float, n_c: float | None = None,
                       index: np.ndarray | None = None, top: int = 5, min_z: float = MIN_Z,
                       min_ratio: float = MIN_RATIO,
                       min_support: int = MIN_SUPPORT) -> list[tuple[str, int, float]]:
    """:func:`distinctive` on arrays: ``y_c[i]`` and ``y_all[i]`` are feature ``names[i]``'s count in the
    community and in the topic, ``n_all`` the topic's total count (``n_c``, the community's, defaults to
    ``y_c.sum()``); the same formula, computed for every feature at once. With ``index``, feature ``i`` is
    named ``names[index[i]]``."""
    n_c = float(y_c.sum()) if n_c is None else float(n_c)
    n_o = n_all - n_c
    if n_c == 0 or n_o <= 0 or y_c.size == 0:
        return []
    a0 = PRIOR_SHARE * n_all
    sel = np.flatnonzero(y_c >= min_support)
    yc, ya = y_c[sel], y_all[sel]
    y_o = np.maximum(ya - yc, 0.0)
    a = a0 * ya / n_all
    rest_c, rest_o = n_c + a0 - yc - a, n_o + a0 - y_o - a
    ok = (rest_c > 1e-9) & (rest_o > 1e-9)  # a feature that is all there is sets nobody apart
    sel, yc, y_o, a, rest_c, rest_o = sel[ok], yc[ok], y_o[ok], a[ok], rest_c[ok], rest_o[ok]
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.log((yc + a) / rest_c) - np.log((y_o + a) / rest_o)
        z = delta / np.sqrt(1.0 / (yc + a) + 1.0 / (y_o + a))
    keep = (z >= min_z) & ((y_o == 0) | ((yc / n_c) >= min_ratio * (y_o / n_o)))
    at = sel[keep] if index is None else np.asarray(index)[sel[keep]]
    out = [(names[int(i)], int(c), round(float(zz), 3)) for i, c, zz in zip(at, yc[keep], z[keep])]
    out.sort(key=lambda x: (-x[2], x[0]))
    return out[:top]


@dataclass
class Features:
    """Counts of label features per account, compactly: for each kind, parallel arrays of account id,
    feature code (into ``vocab[kind]``) and count."""

    vocab: dict[str, list[str]]
    account: dict[str, np.ndarray]
    code: dict[str, np.ndarray]
    count: dict[str, np.ndarray]

    @classmethod
    def from_pairs(cls, pairs: dict[str, Counter]) -> "Features":
        """From ``kind -> Counter({(account id, feature): count})``."""
        vocab, account, code, count = {}, {}, {}, {}
        for kind in FEATURES[:3]:
            c = pairs.get(kind) or Counter()
            names = sorted({f for _, f in c})
            index = {f: i for i, f in enumerate(names)}
            vocab[kind] = names
            account[kind] = np.fromiter((a for a, _ in c), dtype=np.int64, count=len(c))
            code[kind] = np.fromiter((index[f] for _, f in c), dtype=np.int64, count=len(c))
            count[kind] = np.fromiter(c.values(), dtype=np.float64, count=len(c))
        return cls(vocab, account, code, count)

    @classmethod
    def from_codes(cls, index: dict[str, dict[str, int]], accounts: dict[str, list[int]],
                   codes: dict[str, list[int]]) -> "Features":
        """From one entry per occurrence: for each kind, ``accounts[kind][i]`` used feature
        ``codes[kind][i]``, a code of ``index[kind]`` (feature -> code, in any order). The same as
        :meth:`from_pairs` of the counted pairs, counted with numpy.

        Examples
        --------
        >>> f = Features.from_codes({"hashtags": {"b": 0, "a": 1}}, {"hashtags": [7, 7, 5]}, {"hashtags": [0, 0, 1]})
        >>> f.vocab["hashtags"], f.account["hashtags"].tolist(), f.code["hashtags"].tolist(), f.count["hashtags"].tolist()
        (['a', 'b'], [5, 7], [0, 1], [1.0, 2.0])
        """
        vocab, account, code, count = {}, {}, {}, {}
        for kind in FEATURES[:3]:
            idx = index.get(kind) or {}
            names = sorted(idx)
            renumber = np.empty(len(names), dtype=np.int64)  # code as given -> position in the sorted names
            renumber[np.fromiter((idx[f] for f in names), dtype=np.int64, count=len(names))] = np.arange(len(names))
            acc = np.asarray(accounts.get(kind) or [], dtype=np.int64)
            c = renumber[np.asarray(codes.get(kind) or [], dtype=np.int64)]
            order = np.lexsort((c, acc))
            acc, c = acc[order], c[order]
            first = np.flatnonzero(np.r_[True, (acc[1:] != acc[:-1]) | (c[1:] != c[:-1])]) if acc.size else \
                np.zeros(0, dtype=np.int64)
            vocab[kind] = names
            account[kind] = acc[first]
            code[kind] = c[first]
            count[kind] = np.diff(np.r_[first, acc.size]).astype(np.float64)
        return cls(vocab, account, code, count)

    @classmethod
    def from_counters(cls, per_account: dict[int, dict[str, Counter]]) -> "Features":
        """From ``account id -> {kind: Counter({feature: count})}``."""
        pairs = {k: Counter() for k in FEATURES[:3]}
        for acc, kinds in per_account.items():
            for k, c in kinds.items():
                pairs[k].update({(acc, f): n for f, n in c.items()})
        return cls.from_pairs(pairs)

    def by_community(self, kind: str, g: TopicGraph, membership: np.ndarray, n_comm: int) -> sp.csr_array:
        """``[community, feature]`` counts (accounts not in the graph left out)."""
        acc = self.account[kind]
        V = len(self.vocab[kind])
        if acc.size == 0 or g.n == 0:
            return sp.csr_array((n_comm, V))
        pos = np.searchsorted(g.account_ids, acc)
        pos = np.minimum(pos, g.n - 1)
        ok = g.account_ids[pos] == acc
        M = sp.csr_array((self.count[kind][ok], (membership[pos[ok]], self.code[kind][ok])), shape=(n_comm, V))
        M.sum_duplicates()
        return M


class _AccountNames:
    """Node index -> account id as text (the name of an "accounts" feature), made only when asked."""

    def __init__(self, ids: np.ndarray):
        self.ids = ids

    def __getitem__(self, j: int) -> str:
        return str(int(self.ids[j]))


def make_label(c: "Community", handles: dict[int, str | None]) -> str:
    """``@top1, @top2, @top3 · #tag #tag · words · site · engages @x``: the top accounts, then what sets it apart."""
    def name(a: int) -> str:
        return f"@{handles[a]}" if handles.get(a) else f"account {a}"

    label = ", ".join(name(a) for a in c.top_accounts)
    bits = []
    if c.hashtags:
        bits.append(" ".join(f"#{t}" for t, *_ in c.hashtags[:3]))
    f = c.features
    if f.get("words"):
        bits.append(" ".join(w for w, *_ in f["words"][:3]))
    if f.get("domains"):
        bits.append(" ".join(d for d, *_ in f["domains"][:2]))
    if f.get("accounts"):
        bits.append("engages " + ", ".join(name(int(a)) for a, *_ in f["accounts"][:2]))
    return " \u00b7 ".join([label, *bits]) if bits else label


def describe(g: TopicGraph, membership: np.ndarray, order: np.ndarray, betweenness: np.ndarray,
             handles: dict[int, str | None], features: "Features | dict[int, dict[str, Counter]]", *,
             max_communities: int = 30, min_size: int = 3, top: int = 3) -> list[Community]:
    """Label the largest communities by their top accounts and by what sets them apart.

    Parameters
    ----------
    g : TopicGraph
    membership : ndarray
        Community id per node (from :func:`leiden`).
    order : ndarray
        Node indices, best score first.
    betweenness : ndarray
        Betweenness per node (to order bridges).
    handles : dict
        account id -> handle, for labels (missing: "account <id>"; :func:`make_label` again once known).
    features : Features or dict
        What the accounts' posts on the topic in the window carry
        (:func:`influence.analysis.features_per_account`), or
        ``account id -> {"hashtags" | "words" | "domains": Counter}``. The accounts a community engages with come from
        the graph: the interaction weight its members give each account, against everyone's.
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
    if not isinstance(features, Features):
        features = Features.from_counters(features)
    found: dict[int, dict[str, list]] = {c: {} for c in shown}
    for k in FEATURES[:3]:
        M = features.by_community(k, g, membership, n_comm)
        names = features.vocab[k]
        col = np.asarray(M.sum(axis=0)).ravel()
        n_all = float(col.sum())
        for c in shown:
            row = slice(M.indptr[c], M.indptr[c + 1])
            j = M.indices[row]
            found[c][k] = distinctive_arrays(names, M.data[row], col[j], n_all=n_all, index=j)
    # the accounts each community engages with: interaction weight from its members, against everyone's
    W = g.interaction.tocoo()
    E = sp.csr_array((W.data, (membership[W.row], W.col)), shape=(n_comm, g.n))
    E.sum_duplicates()
    received = np.asarray(E.sum(axis=0)).ravel()
    received_all = float(received.sum())
    account_names = _AccountNames(ids)
    # bridges: members with neighbours in other communities (weight per other community), highest betweenness first
    U = undirected(g)
    rows = np.repeat(np.arange(g.n), np.diff(U.indptr))
    cross = membership[rows] != membership[U.indices]
    L = sp.csr_array((U.data[cross], (rows[cross], membership[U.indices[cross]])), shape=(g.n, n_comm))
    L.sum_duplicates()
    bridging = np.flatnonzero(np.diff(L.indptr))
    bridging = bridging[np.lexsort((ids[bridging], -betweenness[bridging], membership[bridging]))]
    bstart = np.searchsorted(membership[bridging], np.arange(n_comm + 1))
    out = []
    for c in shown:
        row = slice(E.indptr[c], E.indptr[c + 1])
        j, w = E.indices[row], E.data[row]
        keep = (membership[j] != c) & ~np.isin(ids[j], tops[c])
        j, w = j[keep], w[keep]
        found[c]["accounts"] = distinctive_arrays(account_names, w, received[j], n_all=received_all, index=j,
                                                  min_support=1)
        bridges = []
        for v in bridging[bstart[c]:bstart[c + 1]][:top].tolist():
            lr = slice(L.indptr[v], L.indptr[v + 1])
            ks, ws = L.indices[lr], L.data[lr]
            bridges.append({"account_id": int(ids[v]), "communities": ks[np.lexsort((ks, -ws))][:5].tolist()})
        com = Community(id=c, size=int(sizes[c]), label="", top_accounts=tops[c],
                        hashtags=[(t, n) for t, n, _ in found[c]["hashtags"][:top]], bridges=bridges,
                        features={k: [list(x) for x in v] for k, v in found[c].items()})
        com.label = make_label(com, handles)
        out.append(com)
    return out
