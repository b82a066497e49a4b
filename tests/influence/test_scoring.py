"""What a score means: published graphs with known values, no free points, constant parts, mention-only networks."""

from __future__ import annotations

from datetime import timedelta

import networkx as nx
import numpy as np
import pytest

from influence import centrality, explain, influencers
from influence.graph import Edges, build_graph, read_edges
from influence.scoring import WEIGHTS, pagerank_floor, score_graph
from tests.influence.network import T0, TOPIC, acc, ids, post

# Wikipedia's PageRank example (the figure of the article "PageRank"): published values, damping 0.85
WIKIPEDIA = "BC CB DA DB EB ED EF FB FE GB GE HB HE IB IE JE KE".split()
WIKIPEDIA_PR = {"A": 3.3, "B": 38.4, "C": 34.3, "D": 3.9, "E": 8.1, "F": 3.9, "G": 1.6, "H": 1.6, "I": 1.6,
                "J": 1.6, "K": 1.6}


def letters_graph():
    ids_ = {c: i + 1 for i, c in enumerate("ABCDEFGHIJK")}
    g = build_graph(Edges.from_rows([(ids_[a], ids_[b], "retweet") for a, b in WIKIPEDIA]))
    return g, ids_


def test_pagerank_of_wikipedias_example_and_its_floor():
    g, id_ = letters_graph()
    pr = centrality.pagerank(g.interaction, tol=1e-12, max_iter=500)
    for c, pct in WIKIPEDIA_PR.items():
        assert round(100 * pr[g.index(id_[c])], 1) == pct, c
    # G..K have no in-links: they hold exactly the floor, and so 0 PageRank points
    floor = pagerank_floor(g.interaction, pr)
    assert round(100 * floor, 1) == 1.6
    s = score_graph(g)
    for c in "GHIJK":
        v = g.index(id_[c])
        assert s.score[v] == 0.0 and all(p[v] == 0.0 for p in s.parts.values())
    assert s.order[0] == g.index(id_["B"]) and s.score[s.order[0]] > 90


def test_betweenness_of_zacharys_karate_club_and_the_florentine_families():
    # published values (Brandes 2001 as networkx reports them): the two club leaders, then the brokers
    K = nx.karate_club_graph()
    b = centrality.betweenness(nx.to_scipy_sparse_array(K, nodelist=range(34)))
    assert b[0] == pytest.approx(0.437635, abs=1e-6) and b[33] == pytest.approx(0.304075, abs=1e-6)
    assert b[32] == pytest.approx(0.145247, abs=1e-6) and b[2] == pytest.approx(0.143657, abs=1e-6)
    F = nx.florentine_families_graph()
    nodes = sorted(F)
    bf = dict(zip(nodes, centrality.betweenness(nx.to_scipy_sparse_array(F, nodelist=nodes))))
    assert bf["Medici"] == pytest.approx(0.521978, abs=1e-6) and max(bf, key=bf.get) == "Medici"


def test_nobody_engaged_scores_zero_on_every_part():
    # 1..5 only act (they retweet, reply to and mention others); they broker between 100 and 200 too
    rows = [(s, 100, "retweet") for s in range(1, 6)] + [(s, 200, "mention") for s in range(1, 6)]
    rows += [(100, 200, "reply"), (300, 100, "quote")]
    g = build_graph(Edges.from_rows(rows))
    s = score_graph(g)
    for a in (1, 2, 3, 4, 5, 300):
        v = g.index(a)
        assert s.in_degree[v] == 0 and s.score[v] == 0.0 and s.betweenness[v] == 0.0
        assert all(p[v] == 0.0 for p in s.parts.values()), a
    assert {int(g.account_ids[v]) for v in s.order[:2]} == {100, 200}
    assert np.allclose(sum(s.parts.values()), s.score) and s.score.max() <= 100 + 1e-9


def test_a_constant_measure_adds_nothing():
    # a ring: everyone is mentioned once by the one before; nothing tells anyone apart
    ring = build_graph(Edges.from_rows([(i, i % 6 + 1, "mention") for i in range(1, 7)]))
    s = score_graph(ring)
    assert sorted(s.constant) == sorted(WEIGHTS) and s.score.tolist() == [0.0] * 6
    assert all(w == 0.0 for w in s.weights.values())
    # everyone mentioned by exactly one account, but by accounts of different standing: in-degree is constant
    # (it adds nothing), PageRank is not, and the others share in-degree's weight
    g = build_graph(Edges.from_rows([(1, 2, "mention"), (2, 1, "mention"), (1, 3, "mention"), (3, 4, "mention"),
                                     (3, 5, "mention")]))
    s = score_graph(g)
    assert s.in_degree.tolist() == [1] * 5 and s.constant == ["in_degree"]
    assert s.weights["in_degree"] == 0.0 and not s.parts["in_degree"].any()
    rest = 1.0 - WEIGHTS["in_degree"]
    assert s.weights["pagerank"] == pytest.approx(WEIGHTS["pagerank"] / rest)
    assert sum(s.weights.values()) == pytest.approx(1.0) and np.allclose(sum(s.parts.values()), s.score)


def mention_only(store):
    """Mentions only: h1 and h2 are mentioned by five accounts each; x by h1 and h2; y by three nobodies."""
    posts, accounts = [], [acc(p) for p in ("h1", "h2", "x", "y")]
    k = 0
    for h in ("h1", "h2"):
        for j in range(5):
            k += 1
            accounts.append(acc(f"f{h}{j}"))
            posts.append(post(f"p{k}", f"f{h}{j}", minutes=k, mentions=[h], text=f"carers @{h} support"))
        k += 1
        posts.append(post(f"p{k}", h, minutes=k, mentions=["x"], text="carers @x is right"))
    for j in range(3):
        k += 1
        accounts.append(acc(f"n{j}"))
        posts.append(post(f"p{k}", f"n{j}", minutes=k, mentions=["y"], text="carers @y hello"))
    for j in range(40):  # accounts that only mention (nobody mentions them)
        k += 1
        accounts.append(acc(f"q{j}"))
        posts.append(post(f"p{k}", f"q{j}", minutes=k, mentions=["h1"], text="carers @h1 thanks"))
    store.write_batch(posts, accounts)
    return ids(store)


def test_mention_only_network_ranks_by_the_mentioners_standing(sqlite_store):
    idm = mention_only(sqlite_store)
    since, until = T0 - timedelta(hours=1), T0 + timedelta(days=2)
    r = influencers(sqlite_store, TOPIC, since=since, until=until, limit=None)
    by = {a.handle: a for a in r.accounts}
    x, y = by["x"], by["y"]
    assert y.mentions == 3 > x.mentions == 2 and y.in_degree > x.in_degree
    assert x.rank < y.rank and x.parts["pagerank"] > y.parts["pagerank"] > 0
    assert by["h1"].rank == 1
    # nobody mentioned them: 0, not 40 free points; the median account scores 0
    never = [a for a in r.accounts if a.in_degree == 0]
    assert len(never) > len(r.accounts) / 2
    assert all(a.score == 0.0 and not any(a.parts.values()) for a in never)
    assert float(np.median([a.score for a in r.accounts])) == 0.0
    # the PageRank part is networkx's PageRank of the mention graph counted from its floor
    e = read_edges(sqlite_store.engine, TOPIC, since, until)
    G = nx.DiGraph()
    G.add_edges_from((int(a), int(b)) for a, b in zip(e.src, e.dst))
    pr = nx.pagerank(G, tol=1e-12, max_iter=500)
    floor = pr[idm["q0"]]  # nobody mentions q0
    top = max(pr.values()) - floor
    for a in (x, y, by["h2"]):
        assert a.parts["pagerank"] == pytest.approx(100 * r.weights["pagerank"] * (pr[a.account_id] - floor) / top,
                                                    rel=1e-6)
    text = "\n".join(explain(sqlite_store, r, "@q0").lines())
    assert "0 on every part" in text


def test_why_says_when_a_part_is_constant(sqlite_store):
    posts = [post(f"c{i}", f"r{i}", minutes=i, mentions=[f"r{i % 5 + 1}"], text=f"carers @r{i % 5 + 1} hi")
             for i in range(1, 6)]
    sqlite_store.write_batch(posts, [acc(f"r{i}") for i in range(1, 6)])
    since, until = T0 - timedelta(hours=1), T0 + timedelta(days=1)
    r = influencers(sqlite_store, TOPIC, since=since, until=until, limit=None)
    assert sorted(r.constant) == sorted(WEIGHTS) and all(a.score == 0.0 for a in r.accounts)
    text = "\n".join(explain(sqlite_store, r, "@r1").lines())
    assert text.count("carries no information, adds nothing") == 4
