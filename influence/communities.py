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

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from influence.graph import TopicGraph

SEED = 42
#: Leiden iterations (igraph's default; at a million interactions a third more iterations until nothing moves
#: cost a third more time for the same modularity, ``bench/influence.py``).
LEIDEN_ITERATIONS = 2


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


def leiden(g: TopicGraph, *, seed: int = SEED, resolution: float = 1.0,
           start: dict[int, int] | None = None) -> np.ndarray:
    """Community id of every node (0 = the largest community); see the module doc.

    ``start`` (account id -> community of an earlier partition of nearly the same graph, such as the
    ranking with every interaction when the flagged accounts' are left out) is where the search begins:
    Leiden then only moves what the difference calls for, and finishes sooner.

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
        G = ig.Graph(n=int(core.size), edges=np.column_stack([src, dst]), directed=False)
        G.es["weight"] = wt
        ig.set_random_number_generator(random.Random(seed))
        try:
            initial = None
            if start:
                initial = np.fromiter((start.get(int(a), -1) for a in g.account_ids[core]), dtype=np.int64,
                                      count=core.size)
                fresh = initial < 0
                initial[fresh] = initial.max(initial=-1) + 1 + np.arange(int(fresh.sum()))
                _, initial = np.unique(initial, return_inverse=True)
                initial = initial.tolist()
            part = np.asarray(G.community_leiden(objective_function="modularity", weights="weight",
                                                 resolution=resolution, n_iterations=LEIDEN_ITERATIONS,
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
    n_all = sum(total.values())
    n_c = sum(counts.values())
    n_o = n_all - n_c
    if n_c == 0 or n_o <= 0:
        return []
    a0 = PRIOR_SHARE * n_all
    out = []
    for f, y_c in counts.items():
        if y_c < min_support:
            continue
        y_all = total.get(f, y_c)
        y_o = max(y_all - y_c, 0)
        a = a0 * y_all / n_all
        rest_c, rest_o = n_c + a0 - y_c - a, n_o + a0 - y_o - a
        if rest_c <= 1e-9 or rest_o <= 1e-9:  # the feature is all there is: it sets nobody apart
            continue
        delta = math.log((y_c + a) / rest_c) - math.log((y_o + a) / rest_o)
        z = delta / math.sqrt(1.0 / (y_c + a) + 1.0 / (y_o + a))
        if z >= min_z and (y_o == 0 or (y_c / n_c) >= min_ratio * (y_o / n_o)):
            out.append((f, int(y_c), round(z, 3)))
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
    per: dict[int, dict[str, Counter]] = {c: {} for c in shown}
    totals: dict[str, Counter] = {}
    for k in FEATURES[:3]:
        M = features.by_community(k, g, membership, n_comm)
        names = features.vocab[k]
        col = np.asarray(M.sum(axis=0)).ravel()
        totals[k] = Counter({names[j]: float(col[j]) for j in np.flatnonzero(col)})
        for c in shown:
            row = slice(M.indptr[c], M.indptr[c + 1])
            per[c][k] = Counter({names[j]: float(x) for j, x in zip(M.indices[row].tolist(), M.data[row].tolist())})
    # the accounts each community engages with: interaction weight from its members, against everyone's
    W = g.interaction.tocoo()
    E = sp.csr_array((W.data, (membership[W.row], W.col)), shape=(n_comm, g.n))
    E.sum_duplicates()
    received = np.asarray(E.sum(axis=0)).ravel()
    total_acc = Counter({str(int(ids[j])): float(received[j]) for j in np.flatnonzero(received)})
    U = undirected(g)
    rows = np.repeat(np.arange(g.n), np.diff(U.indptr))
    cross = membership[rows] != membership[U.indices]
    links: dict[int, Counter] = {}
    for a, b, w in zip(rows[cross].tolist(), U.indices[cross].tolist(), U.data[cross].tolist()):
        links.setdefault(a, Counter())[int(membership[b])] += w
    bridging: dict[int, list[int]] = {}
    for v in links:
        bridging.setdefault(int(membership[v]), []).append(v)
    out = []
    for c in shown:
        found = {k: distinctive(per[c][k], totals[k]) for k in FEATURES[:3]}
        row = slice(E.indptr[c], E.indptr[c + 1])
        engaged = Counter({str(int(ids[j])): float(w) for j, w in zip(E.indices[row].tolist(), E.data[row].tolist())
                           if int(ids[j]) not in tops[c] and membership[j] != c})
        found["accounts"] = [(a, n, z) for a, n, z in distinctive(engaged, total_acc, min_support=1)]
        members_bridging = bridging.get(c, [])
        members_bridging.sort(key=lambda v: (-betweenness[v], int(ids[v])))
        bridges = [{"account_id": int(ids[v]),
                    "communities": [k for k, _ in sorted(links[v].items(), key=lambda kv: (-kv[1], kv[0]))][:5]}
                   for v in members_bridging[:top]]
        com = Community(id=c, size=int(sizes[c]), label="", top_accounts=tops[c],
                        hashtags=[(t, n) for t, n, _ in found["hashtags"][:top]], bridges=bridges,
                        features={k: [list(x) for x in v] for k, v in found.items()})
        com.label = make_label(com, handles)
        out.append(com)
    return out
