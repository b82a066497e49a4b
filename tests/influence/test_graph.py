"""The topic graph against a small network worked out by hand (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from influence.graph import Edges, build_graph, read_edges
from tests.influence.network import T0, TOPIC, hand_worked

SINCE, UNTIL = T0 - timedelta(hours=1), T0 + timedelta(days=1)


def named(g, ids):
    """The graph's weighted edges as {(src, dst): weight} with platform ids."""
    back = {v: k for k, v in ids.items()}
    def edges(M):
        C = M.tocoo()
        return {(back[int(g.account_ids[i])], back[int(g.account_ids[j])]): float(w)
                for i, j, w in zip(C.row, C.col, C.data)}
    return edges(g.amplification), edges(g.interaction)


def test_hand_worked_network(store):
    ids = hand_worked(store)
    e = read_edges(store.engine, TOPIC, SINCE, UNTIL, "x")
    assert len(e) == 7  # b->a rt, c->a quote x2, d->a reply, d->e mention, a->a rt (self-loop), b->z rt
    g = build_graph(e)
    assert g.self_loops == 1 and g.interactions == 6
    # every account at either end is a node: the mention-only e and the deleted z included
    assert sorted(g.account_ids.tolist()) == sorted(ids[k] for k in "abcdez")
    amp, inter = named(g, ids)
    # direction: the account that acts -> the account acted on; repeats add up
    assert amp == {("b", "a"): 1.0, ("c", "a"): 2.0, ("b", "z"): 1.0}
    assert inter == {("b", "a"): 1.0, ("c", "a"): 2.0, ("b", "z"): 1.0, ("d", "a"): 0.5, ("d", "e"): 0.5}
    a, e_, z = g.index(ids["a"]), g.index(ids["e"]), g.index(ids["z"])
    assert g.amplifications()[a] == 3 and g.amplifiers()[a] == 2
    assert g.received(2)[a] == 1 and g.received(3)[e_] == 1 and g.amplifiers()[z] == 1
    assert g.index(10**9) is None


def test_window_topic_and_platform_filters(store):
    ids = hand_worked(store)
    everything = build_graph(read_edges(store.engine, TOPIC, SINCE, UNTIL))
    assert {ids["m1"], ids["m2"]} <= set(everything.account_ids.tolist())
    assert everything.interactions == 7  # the mastodon reply joins the six x edges
    only = build_graph(read_edges(store.engine, TOPIC, SINCE, UNTIL, "mastodon"))
    assert sorted(only.account_ids.tolist()) == sorted([ids["m1"], ids["m2"]])
    # the retweet two days later is outside the window, inside a longer one
    longer = read_edges(store.engine, TOPIC, SINCE, UNTIL + timedelta(days=5), "x")
    assert len(longer) == 8
    assert len(read_edges(store.engine, "vaccination", SINCE, UNTIL)) == 0
    amp_only = read_edges(store.engine, TOPIC, SINCE, UNTIL, "x", amplification_only=True)
    assert sorted(amp_only.kind.tolist()) == [0, 0, 0, 1, 1]


def test_graph_is_the_same_whatever_the_row_order():
    rows = [(5, 7, "retweet"), (9, 7, "quote"), (7, 5, "mention"), (9, 5, "reply"), (5, 7, "retweet")]
    g1 = build_graph(Edges.from_rows(rows))
    g2 = build_graph(Edges.from_rows(rows[::-1]))
    assert g1.account_ids.tolist() == g2.account_ids.tolist() == [5, 7, 9]
    assert (g1.amplification != g2.amplification).nnz == 0
    assert (g1.interaction != g2.interaction).nnz == 0


def test_sparse_ids_use_the_sorting_path_and_empty_graphs_work():
    big = 10**12
    g = build_graph(Edges.from_rows([(big, 3, "retweet"), (3, big + 5, "mention")]))
    assert g.account_ids.tolist() == [3, big, big + 5]
    assert g.amplification[[1], [0]].tolist() == [1.0]
    empty = build_graph(Edges.from_rows([(4, 4, "retweet")]))
    assert empty.n == 0 and empty.self_loops == 1


def test_to_networkx_keeps_weights_and_kinds():
    g = build_graph(Edges.from_rows([(1, 2, "retweet"), (1, 2, "reply"), (3, 2, "quote"), (3, 1, "mention")]))
    G = g.to_networkx()
    assert list(G.nodes) == [1, 2, 3]
    assert G[1][2] == {"weight": 1.5, "retweets": 1, "quotes": 0, "replies": 1, "mentions": 0}
    A = g.to_networkx("amplification")
    assert sorted(A.edges(data="weight")) == [(1, 2, 1.0), (3, 2, 1.0)]
    assert np.isclose(sum(d for _, _, d in G.edges(data="weight")), 3.0)


def test_without_sources_drops_everything_an_account_did():
    e = Edges.from_rows([(1, 2, "retweet"), (3, 2, "retweet"), (3, 1, "mention")])
    kept = e.without_sources([3])
    assert list(zip(kept.src.tolist(), kept.dst.tolist())) == [(1, 2)]
    assert e.without_sources([]) is e


def test_sqlite_reads_the_edges_as_one_text_and_gets_the_rows_arrays(store, monkeypatch):
    import influence.graph as graph

    hand_worked(store)
    for platform in (None, "x", "mastodon"):
        fast = read_edges(store.engine, TOPIC, SINCE, UNTIL + timedelta(days=5), platform)
        with monkeypatch.context() as mp:
            mp.setattr(graph, "_packed_text", lambda *a: None)  # the row by row read
            rows = read_edges(store.engine, TOPIC, SINCE, UNTIL + timedelta(days=5), platform)
        assert len(fast) == len(rows) > 0
        for k in ("src", "dst", "kind"):
            assert getattr(fast, k).dtype == getattr(rows, k).dtype
            assert getattr(fast, k).tolist() == getattr(rows, k).tolist()
