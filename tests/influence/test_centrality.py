"""Every measure against networkx's reference function, and the combined score's stability."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from influence import centrality
from influence.graph import Edges, build_graph
from influence.scoring import betweenness_sources, combine, score_graph


def as_array(d: dict, nodes) -> np.ndarray:
    return np.array([d[v] for v in nodes])


def random_digraph(seed: int, n: int = 60, m: int = 180, weighted: bool = True) -> nx.DiGraph:
    rng = np.random.default_rng(seed)
    G = nx.DiGraph()
    G.add_nodes_from(range(n))  # some stay isolated or dangling
    for _ in range(m):
        a, b = (int(x) for x in rng.integers(0, n, 2))
        if a != b:
            w = float(rng.integers(1, 4)) if weighted else 1.0
            G.add_edge(a, b, weight=G[a][b]["weight"] + w if G.has_edge(a, b) else w)
    return G


@pytest.mark.parametrize("seed", range(4))
def test_pagerank_matches_networkx_weighted_with_dangling_nodes(seed):
    G = random_digraph(seed)
    A = nx.to_scipy_sparse_array(G, nodelist=range(60), weight="weight")
    for alpha in (0.85, 0.5):
        ref = nx.pagerank(G, alpha=alpha, weight="weight", tol=1e-12, max_iter=500)
        got = centrality.pagerank(A, alpha, tol=1e-12, max_iter=500)
        assert np.allclose(got, as_array(ref, range(60)), atol=1e-10)
        assert np.isclose(got.sum(), 1.0)


def test_pagerank_on_a_published_example():
    # the 4-node example of Langville & Meyer's survey, as networkx's own tests use it
    G = nx.DiGraph([(0, 1), (0, 2), (1, 2), (2, 0), (3, 2)])
    ref = nx.pagerank(G)
    got = centrality.pagerank(nx.to_scipy_sparse_array(G, nodelist=range(4)))
    assert np.allclose(got, as_array(ref, range(4)), atol=1e-6)
    assert got.argmax() == 2


def test_pagerank_says_when_it_does_not_converge():
    A = sp.csr_array(np.array([[0, 1.0], [1.0, 0]]))
    with pytest.raises(nx.PowerIterationFailedConvergence):
        centrality.pagerank(sp.csr_array(nx.to_scipy_sparse_array(random_digraph(1))), max_iter=1, tol=1e-15)
    assert np.allclose(centrality.pagerank(A), [0.5, 0.5])


@pytest.mark.parametrize("seed", range(4))
def test_hits_matches_networkx(seed):
    G = random_digraph(seed, n=40, m=200)
    keep = max(nx.weakly_connected_components(G), key=len)  # a unique principal vector
    H = G.subgraph(keep).copy()
    nodes = list(H)
    A = nx.to_scipy_sparse_array(H, nodelist=nodes, weight="weight")
    ref_h, ref_a = nx.hits(H, max_iter=10_000, tol=1e-12)
    h, a = centrality.hits(A, tol=1e-13, max_iter=100_000)
    assert np.allclose(a, as_array(ref_a, nodes), atol=1e-7)
    assert np.allclose(h, as_array(ref_h, nodes), atol=1e-7)


def test_hits_of_an_edgeless_graph_is_zero():
    h, a = centrality.hits(sp.csr_array((3, 3)))
    assert h.tolist() == a.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [None, 1, 9, 25])
def test_betweenness_matches_networkx_exact_and_sampled(seed, k):
    G = random_digraph(seed, n=50, m=90)
    A = nx.to_scipy_sparse_array(G, nodelist=range(50))
    U = G.to_undirected()
    for normalized, endpoints in ((True, False), (False, False), (True, True)):
        ref = nx.betweenness_centrality(U, k=k, seed=seed, normalized=normalized, endpoints=endpoints)
        got = centrality.betweenness(A, k=k, seed=seed, normalized=normalized, endpoints=endpoints)
        assert np.allclose(got, as_array(ref, range(50)), equal_nan=True), (normalized, endpoints)


def test_betweenness_of_a_bridge_between_two_cliques():
    G = nx.barbell_graph(5, 1)  # two K5 joined through node 5
    got = centrality.betweenness(nx.to_scipy_sparse_array(G, nodelist=range(11)))
    assert got.argmax() == 5
    assert np.allclose(got, as_array(nx.betweenness_centrality(G), range(11)))


def test_in_degree_counts_distinct_accounts():
    A = sp.csr_array(np.array([[0, 3.0, 1.0], [0, 0, 1.0], [0, 0, 0]]))
    assert centrality.in_degree(A).tolist() == [0, 1, 2]


def test_score_parts_add_up_and_follow_the_weights():
    rows = [(s, 100, "retweet") for s in range(1, 30)] + [(s, 200, "retweet") for s in range(1, 6)]
    rows += [(100, 300, "mention"), (300, 200, "reply"), (1, 2, "retweet")]
    g = build_graph(Edges.from_rows(rows))
    s = score_graph(g)
    assert np.allclose(sum(s.parts.values()), s.score)
    top = g.index(100)
    assert s.rank[top] == 1 and s.order[0] == top
    assert np.isclose(s.parts["pagerank"][top], 40.0) and np.isclose(s.parts["in_degree"][top], 25.0)
    assert s.score.max() <= 100.0 + 1e-9
    only_pr = score_graph(g, weights={"pagerank": 1.0, "in_degree": 0, "authority": 0, "betweenness": 0})
    assert np.array_equal(only_pr.order[:1], [top])
    with pytest.raises(ValueError, match="unknown measure"):
        score_graph(g, weights={"followers": 1.0})
    with pytest.raises(ValueError, match="non-negative"):
        score_graph(g, weights={"pagerank": -1.0})


def test_same_data_same_ranking_whatever_the_row_order():
    rng = np.random.default_rng(3)
    src = rng.integers(1, 400, 3000)
    dst = (rng.pareto(1.0, 3000) * 10).astype(int) % 400 + 1
    kind = rng.integers(0, 4, 3000)
    rows = list(zip(src.tolist(), dst.tolist(), kind.tolist()))
    first = score_graph(build_graph(Edges.from_rows(rows)), sources=20)
    perm = rng.permutation(len(rows))
    g2 = build_graph(Edges.from_rows([rows[i] for i in perm]))
    second = score_graph(g2, sources=20)
    assert np.array_equal(first.order, second.order)
    assert np.allclose(first.score, second.score)


def test_betweenness_sample_size_keeps_small_graphs_exact():
    assert betweenness_sources(0, 0) is None
    assert betweenness_sources(1000, 20_000) is None
    assert betweenness_sources(300_000, 2_000_000) == 32
    assert betweenness_sources(50_000, 100_000) == 300


def test_combine_is_relative_to_the_top_and_a_constant_measure_adds_nothing():
    total, parts, used, constant = combine({"x": np.array([0.0, 0.0]), "y": np.array([1.0, 3.0])},
                                           {"x": 0.5, "y": 0.5})
    assert parts["x"].tolist() == [0.0, 0.0] and constant == ["x"] and used == {"x": 0.0, "y": 1.0}
    assert np.allclose(total, [100 / 3, 100.0])
    total, parts, used, constant = combine({"x": np.array([1.0, 2.0, 3.0]), "y": np.array([0.0, 1.0, 2.0])},
                                           {"x": 0.5, "y": 0.5}, floors={"x": 1.0})
    assert constant == [] and np.allclose(parts["x"], [0.0, 25.0, 50.0]) and np.allclose(total, [0, 50, 100])
