"""Automation and coordination flags with their evidence; Louvain communities and their labels."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import networkx as nx
import numpy as np

from influence import bots
from influence.communities import describe, distinctive, leiden, undirected
from influence.graph import Edges, build_graph
from influence.scoring import score_graph
from tests.influence.network import T0, TOPIC, acc, post

SINCE, UNTIL = T0 - timedelta(hours=1), T0 + timedelta(days=7)


def ring_store(store):
    """A ring of 6 new accounts bursting on 3 posts of 'promo' within seconds, plus ordinary accounts."""
    posts, accounts = [], [acc("promo", "promo_org", 5000)]
    ring = [f"r{i}" for i in range(6)]
    accounts += [acc(r, f"ring{r}", 3, created_at=T0 - timedelta(days=20), posts_count=20) for r in ring]
    n = 0
    for b in range(3):
        base = b * 600.0
        posts.append(post(f"p{b}", "promo", minutes=base, text=f"Promo post number {b} about carers support"))
        for k, r in enumerate(ring):
            n += 1
            posts.append(post(f"rt{n}", r, "retweet", base + 1 + k * 0.03, ref=("retweet", f"p{b}", "promo")))
    for k, r in enumerate(ring):  # near-identical spam, and plenty of it
        for j in range(3):
            n += 1
            posts.append(post(f"s{n}", r, minutes=1000 + k * 7 + j,
                              text=["Carers deserve better, sign the petition now!!",
                                    "carers deserve better: sign the petition now",
                                    "Carers deserve better. Sign the petition NOW https://t.co/x"][j]))
    # ordinary people: an old, slow account and a keen retweeter, retweeting on different days
    accounts += [acc("h1", "helen", 300, created_at=T0 - timedelta(days=2000), posts_count=4000),
                 acc("h2", "harry", 80, created_at=T0 - timedelta(days=3000), posts_count=900)]
    posts.append(post("h1p", "h1", minutes=5, text="Our local carers group meets on Tuesday evenings"))
    for j in range(12):
        n += 1
        posts.append(post(f"h2rt{j}", "h2", "retweet", 60 * 24 * (j % 6) + j, ref=("retweet", "h1p", "h1")))
    store.write_batch(posts, accounts)


def test_ring_is_flagged_with_evidence_and_people_are_not(sqlite_store):
    ring_store(sqlite_store)
    from tests.influence.network import ids

    idm = ids(sqlite_store)
    flags = bots.detect(sqlite_store, TOPIC, SINCE, UNTIL)
    flagged = {a for a, f in flags.items() if f.flagged}
    assert flagged == {idm[f"r{i}"] for i in range(6)}
    r0 = flags[idm["r0"]]
    kinds = set(r0.kinds)
    assert {"coordinated", "duplicate_text", "new_account"} <= kinds
    coord = next(s for s in r0.signals if s.kind == "coordinated")
    assert coord.data["group_size"] == 6 and coord.data["bursts"] == 3
    assert "@ringr1" in coord.evidence and "within seconds" in coord.evidence
    dup = next(s for s in r0.signals if s.kind == "duplicate_text")
    assert dup.data["accounts"] == 6 and "near-identical" in dup.evidence
    # the keen retweeter shows one signal, which does not flag
    h2 = flags[idm["h2"]]
    assert h2.kinds == ["mostly_reposts"] and not h2.flagged
    assert h2.signals[0].evidence == "100% of its 12 posts on this topic are retweets"
    assert idm["h1"] not in flags
    # JSON form is ordered and plain
    assert r0.to_json()[0]["kind"] == "coordinated"
    # the posts per account it counted on the way are the recompute's (it reads them from the flags)
    from influence.analysis import topic_posts_per_account

    assert flags.posts_per_account == topic_posts_per_account(sqlite_store, TOPIC, SINCE, UNTIL)
    assert flags.posts_per_account[idm["h2"]] == 12


def test_a_quick_run_of_retweets_inside_a_big_cascade_is_no_burst_signal(sqlite_store):
    """Viewers of a live broadcast retweet a post in seconds among 40 others: no signal; a burst that is
    most of a post's retweets still is one."""
    posts, accounts = [post("live", "mp", text="LIVE: the minister is answering on carers support")], [acc("mp")]
    fans = [f"v{i}" for i in range(40)]
    accounts += [acc(v, created_at=T0 - timedelta(days=3000), posts_count=2000) for v in fans]
    for k, v in enumerate(fans):  # five within seconds of each other, the rest spread over an hour
        posts.append(post(f"rt{v}", v, "retweet", 1 + (k * 0.05 if k < 5 else k * 1.5), ref=("retweet", "live", "mp")))
    posts.append(post("small", "mp", minutes=300, text="A quieter post about carers allowance"))
    for k, v in enumerate(fans[10:15]):  # a burst that is all of this post's retweets
        posts.append(post(f"rs{v}", v, "retweet", 301 + k * 0.05, ref=("retweet", "small", "mp")))
    sqlite_store.write_batch(posts, accounts)
    from tests.influence.network import ids

    idm = ids(sqlite_store)
    flags = bots.detect(sqlite_store, TOPIC, SINCE, UNTIL)
    assert not any("burst" in flags[idm[v]].kinds for v in fans[:5] if idm[v] in flags)
    assert all("burst" in flags[idm[v]].kinds for v in fans[10:15])
    # without the share rule, the five would have been marked
    loose = bots.detect(sqlite_store, TOPIC, SINCE, UNTIL, thresholds=bots.Thresholds(burst_min_share=0.0))
    assert all("burst" in loose[idm[v]].kinds for v in fans[:5])


def test_bursts_are_the_retweet_interactions_own_a_self_retweet_left_out(sqlite_store):
    """The detector looks for bursts among the topic's retweet posts first, then reads the retweet interactions
    of the posts that may burst: a self-retweet (no interaction counted) left out can make a run short enough
    to be a burst, and does here as it did when every interaction was read."""
    accounts = [acc("a", created_at=T0 - timedelta(days=3000), posts_count=10)]
    fans = [f"f{i}" for i in range(5)]
    accounts += [acc(f, created_at=T0 - timedelta(days=3000), posts_count=10) for f in fans]
    posts = [post("p", "a", text="A post about carers support that people share"),
             post("self", "a", "retweet", 1, ref=("retweet", "p", "a"))]
    posts += [post(f"rt{f}", f, "retweet", 1 + (k + 1) * 10 / 60, ref=("retweet", "p", "a")) for k, f in enumerate(fans)]
    sqlite_store.write_batch(posts, accounts)
    from tests.influence.network import ids

    idm = ids(sqlite_store)
    th = bots.Thresholds(burst_max_span_seconds=40.0)  # the fans' five retweets span 40 s, with the author's 50 s
    flags = bots.detect(sqlite_store, TOPIC, SINCE, UNTIL, thresholds=th)
    assert all("burst" in flags[idm[f]].kinds for f in fans) and idm["a"] not in flags
    burst = next(s for s in flags[idm["f0"]].signals if s.kind == "burst")
    assert burst.data == {"bursts": 1, "post": "p", "accounts": 5}
    # a run too long without it too is no burst
    assert not bots.detect(sqlite_store, TOPIC, SINCE, UNTIL, thresholds=bots.Thresholds(burst_max_span_seconds=30.0))


def test_high_rate_from_topic_posts_and_from_lifetime(sqlite_store):
    posts = [post(f"q{j}", "fast", minutes=j * 10) for j in range(160)]  # 160 posts in ~27 hours
    sqlite_store.write_batch(posts, [acc("fast", "fast", 1), acc("old", "old", 1, created_at=T0 - timedelta(days=100),
                                                                    posts_count=100 * 200)])
    sqlite_store.write_batch([post("o1", "old", minutes=1)], [])
    from tests.influence.network import ids

    idm = ids(sqlite_store)
    flags = bots.detect(sqlite_store, TOPIC, SINCE, UNTIL)
    fast = next(s for s in flags[idm["fast"]].signals if s.kind == "high_rate")
    assert fast.data["posts"] == 160 and fast.data["per_day"] > 100
    old = next(s for s in flags[idm["old"]].signals if s.kind == "high_rate")
    # measured to the end of the window: 20,000 posts over 107 days
    assert "over the account's life" in old.evidence and old.data["per_day"] == round(20_000 / 107, 1)


def test_near_duplicates_bursts_and_groups_as_pure_functions():
    texts = ["Vaping helped millions quit smoking. Don't ban our vapes! #VapingSavesLives",
             "vaping helped millions quit smoking, don't ban our vapes #VapingSavesLives",
             "Vaping helped millions quit smoking. Don't ban our vapes #VapingSavesLives #StopTheBan",
             "Waiting lists in Leeds are the longest in a decade, figures show",
             "short one", "short one"]
    assert bots.near_duplicate_clusters(texts) == [[0, 1, 2]]
    rows = [("p", 10.0 + i, i) for i in range(5)] + [("p", 100.0 + 8 * i, 10 + i) for i in range(6)]
    rows += [("q", 5.0 + 0.5 * i, i) for i in range(4)]  # four accounts: too few
    bursts = bots.find_bursts(rows)
    assert [b["accounts"] for b in bursts] == [[0, 1, 2, 3, 4], [10, 11, 12, 13, 14, 15]]
    slow = bots.find_bursts([("p", 10.0 * i, i) for i in range(8)], gap=5)
    assert slow == []
    long = bots.find_bursts([("p", 9.0 * i, i) for i in range(50)], max_span=300)  # a sustained cascade
    assert long == []
    groups = bots.coordinated_groups([{"accounts": [1, 2, 3]}, {"accounts": [1, 2, 3, 4]}, {"accounts": [4, 5, 6]}])
    assert groups == [([1, 2, 3], 2)]


def two_camps():
    rows = []
    for members in (range(1, 9), range(11, 19)):
        for a in members:
            for b in members:
                if a < b and (a + b) % 3:
                    rows.append((a, b, "retweet"))
                    rows.append((b, a, "reply"))
    rows += [(8, 30, "retweet"), (30, 11, "retweet")]  # 30 bridges the camps
    rows += [(40, 1, "retweet"), (41, 11, "mention")]  # leaves, folded into their neighbour
    return build_graph(Edges.from_rows(rows))


def test_leiden_finds_the_camps_and_is_stable():
    g = two_camps()
    mem = leiden(g)
    idx = {int(a): i for i, a in enumerate(g.account_ids)}
    camp_a = {mem[idx[a]] for a in range(1, 9)}
    camp_b = {mem[idx[a]] for a in range(11, 19)}
    assert len(camp_a) == 1 and len(camp_b) == 1 and camp_a != camp_b
    assert mem[idx[40]] == mem[idx[1]] and mem[idx[41]] == mem[idx[11]]
    assert np.array_equal(mem, leiden(g))
    assert set(np.bincount(mem)) and np.bincount(mem)[0] >= np.bincount(mem)[-1]  # 0 = the largest
    # folding leaves keeps modularity as good as networkx's Louvain on the whole graph
    W = undirected(g)
    G = nx.from_scipy_sparse_array(W)
    ours = nx.community.modularity(G, [set(np.flatnonzero(mem == c)) for c in range(mem.max() + 1)])
    full = nx.community.modularity(G, nx.community.louvain_communities(G, seed=42))
    assert ours >= full - 0.02


def test_communities_are_labelled_by_top_accounts_hashtags_and_bridges():
    g = two_camps()
    s = score_graph(g)
    mem = leiden(g)
    handles = {int(a): f"user{int(a)}" for a in g.account_ids}
    tags = {a: {"hashtags": Counter({"nhs": 1, "careworkers": 3})} for a in range(1, 9)}
    tags.update({a: {"hashtags": Counter({"nhs": 1, "unpaidcarers": 2})} for a in range(11, 19)})
    comms = describe(g, mem, s.order, s.betweenness, handles, tags)
    assert len(comms) == 2
    for c in comms:
        members = {int(a) for a in g.account_ids[mem == c.id]}
        assert set(c.top_accounts) <= members and len(c.top_accounts) == 3
        assert c.label.startswith(f"@user{c.top_accounts[0]}")
        assert c.hashtags[0][0] in ("careworkers", "unpaidcarers")  # particular to the camp, not "nhs"
        assert c.bridges and all(b["communities"] for b in c.bridges)
    bridge_ids = {b["account_id"] for c in comms for b in c.bridges}
    assert 30 in bridge_ids


def nmi(a, b) -> float:
    import igraph as ig

    codes = {x: i for i, x in enumerate(sorted(set(b), key=str))}
    return ig.compare_communities([int(x) for x in a], [codes[x] for x in b], method="nmi")


def graph_of(G: nx.Graph):
    """An undirected networkx graph as a TopicGraph (each edge a mention both ways, ids = node index + 1)."""
    nodes = sorted(G)
    idx = {v: i + 1 for i, v in enumerate(nodes)}
    rows = [(idx[a], idx[b], "mention") for a, b in G.edges()] + [(idx[b], idx[a], "mention") for a, b in G.edges()]
    return build_graph(Edges.from_rows(rows)), nodes


def test_communities_agree_with_known_groups_at_least_as_well_as_networkx_louvain():
    # Zachary's karate club (the two clubs after the split) and LFR benchmark graphs (planted communities)
    K = nx.karate_club_graph()
    cases = [(K, [K.nodes[v]["club"] for v in sorted(K)])]
    for seed in (10, 11):
        L = nx.LFR_benchmark_graph(600, 3, 1.5, 0.4, average_degree=10, max_degree=40, min_community=20,
                                   max_community=80, seed=seed)
        L = nx.Graph(L)
        L.remove_edges_from(nx.selfloop_edges(L))
        cases.append((L, [min(L.nodes[v]["community"]) for v in sorted(L)]))
    ours_all, theirs_all = [], []
    for G, truth in cases:
        g, nodes = graph_of(G)
        mem = leiden(g)
        theirs = nx.community.louvain_communities(G, seed=42)
        t_mem = {v: c for c, part in enumerate(theirs) for v in part}
        ours_all.append(nmi(mem, truth))
        theirs_all.append(nmi([t_mem[v] for v in nodes], truth))
    assert ours_all[0] >= 0.55  # the karate club's two factions, as Louvain finds them (about 0.59)
    assert sum(ours_all) >= sum(theirs_all) - 0.01, (ours_all, theirs_all)
    # and every community is connected (Leiden's guarantee)
    for G, _ in cases:
        g, nodes = graph_of(G)
        mem = leiden(g)
        for c in range(mem.max() + 1):
            assert nx.is_connected(G.subgraph([nodes[i] for i in np.flatnonzero(mem == c)]))


def test_distinctive_features_leave_out_what_every_camp_uses():
    topic = Counter({"vaccineswork": 1000, "mmr": 120, "bigpharma": 100, "jabs": 60})
    pro = Counter({"vaccineswork": 600, "mmr": 110, "jabs": 30})
    anti = Counter({"vaccineswork": 400, "bigpharma": 100, "mmr": 10, "jabs": 30})
    assert [f for f, *_ in distinctive(pro, topic)] == ["mmr"]
    assert [f for f, *_ in distinctive(anti, topic)] == ["bigpharma"]
    assert distinctive(topic, topic) == []  # one camp is the whole topic: nothing sets it apart


def test_camps_sharing_the_topic_hashtag_are_labelled_apart(sqlite_store):
    """Two camps both tag #vaccineswork; each label names what the camp alone says, links to and engages."""
    from influence.analysis import analyse

    posts, accounts = [], []
    camps = {"pro": ("mmr", "clinic appointments", "https://www.nhs.example/mmr"),
             "anti": ("bigpharma", "freedom choice", "https://truth.example/a")}
    k = 0
    for camp, (tag, words, link) in camps.items():
        members = [f"{camp}{i}" for i in range(8)]
        accounts += [acc(x, x) for x in members]
        for i, a in enumerate(members):
            k += 1
            posts.append(post(f"{camp}o{i}", a, minutes=k, hashtags=["vaccineswork", tag],
                              text=f"carers {words} matter #vaccineswork #{tag} {link}"))
            posts[-1].post.links.append(link)
            for j in (1, 2, 3):
                b = members[(i + j) % 8]
                k += 1
                posts.append(post(f"{camp}r{i}{j}", b, "retweet", k, ref=("retweet", f"{camp}o{i}", a),
                                  hashtags=["vaccineswork", tag]))
    posts.append(post("x1", "pro0", minutes=k + 1, mentions=["anti0"], text="carers @anti0 is wrong"))
    sqlite_store.write_batch(posts, accounts)
    a = analyse(sqlite_store, TOPIC, SINCE, UNTIL)
    assert len(a.communities) == 2
    labels = {c.label for c in a.communities}
    assert not any("#vaccineswork" in lab for lab in labels)
    pro = next(c for c in a.communities if "#mmr" in c.label)
    anti = next(c for c in a.communities if "#bigpharma" in c.label)
    assert "nhs.example" in pro.label and "clinic" in pro.label and "truth.example" in anti.label
    assert [f for f, *_ in pro.features["hashtags"]] == ["mmr"]
    assert "freedom" in [w for w, *_ in anti.features["words"]]


def test_leiden_started_from_a_partition_keeps_the_camps():
    g = two_camps()
    cold = leiden(g)
    start = dict(zip(g.account_ids.tolist(), cold.tolist()))
    assert np.array_equal(leiden(g, start=start), cold)
    assert np.array_equal(leiden(g, start=(g.account_ids, cold)), cold)  # the same start as arrays
    some = {a: c for a, c in start.items() if a % 2}  # accounts the start does not know begin on their own
    ids = np.array(sorted(some), dtype=np.int64)
    assert np.array_equal(leiden(g, start=some), leiden(g, start=(ids, np.array([some[a] for a in ids]))))
    # a start that lumps everyone together is undone: the camps come back
    lumped = leiden(g, start={a: 0 for a in g.account_ids.tolist()})
    idx = {int(a): i for i, a in enumerate(g.account_ids)}
    assert lumped[idx[1]] != lumped[idx[11]] and len({lumped[idx[a]] for a in range(1, 9)}) == 1


def reference_bursts(rows, gap, min_accounts, max_span):
    """The definition, one post and one retweet at a time."""
    by_post = {}
    for post, ts, acc in rows:
        by_post.setdefault(post, []).append((ts, acc))
    out = []
    for post, events in by_post.items():
        events.sort()
        start = 0
        for i in range(1, len(events) + 1):
            if i == len(events) or events[i][0] - events[i - 1][0] > gap:
                run = events[start:i]
                accounts = sorted({a for _, a in run})
                if len(accounts) >= min_accounts and run[-1][0] - run[0][0] <= max_span:
                    out.append({"post": post, "start": run[0][0], "span": run[-1][0] - run[0][0],
                                "accounts": accounts})
                start = i
    return sorted(out, key=lambda b: (b["start"], b["post"]))


def test_bursts_match_their_definition_on_random_retweets():
    rng = np.random.default_rng(4)
    for trial in range(5):
        n = 3000
        posts = [("x", f"p{int(k)}") for k in rng.integers(0, 40, n)]
        ts = np.round(rng.exponential(6.0, n).cumsum() % 5000, 1).tolist()
        accs = rng.integers(0, 60, n).tolist()
        rows = list(zip(posts, ts, accs))
        for gap, k, span in ((10.0, 5, 300.0), (3.0, 3, 60.0)):
            assert bots.find_bursts(rows, gap=gap, min_accounts=k, max_span=span) == \
                reference_bursts(rows, gap, k, span), (trial, gap)


def test_near_duplicates_are_found_among_many_texts():
    rng = np.random.default_rng(5)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 6)) for _ in range(300)]
    texts = [" ".join(rng.choice(words, 12)) for _ in range(3000)]
    base = "please sign the petition to save our local hospital before the council votes on friday"
    for k in range(6):  # paraphrases of one text among three thousand others
        texts.insert(int(rng.integers(0, len(texts))), base.replace("friday", ["friday!!", "FRIDAY", "friday.",
                                                                                  "friday night", "friday :(",
                                                                                  "friday"][k]))
    clusters = bots.near_duplicate_clusters(texts, similarity=0.8)
    assert len(clusters) == 1 and len(clusters[0]) == 6
    assert all(texts[i].startswith("please sign") for i in clusters[0])


def test_near_duplicates_are_the_groups_of_their_definition():
    """Against brute force: the connected groups of texts whose word pairs have a Jaccard similarity of at least
    the threshold, on texts where near-duplicates (a word changed, added or dropped) hide among unrelated ones.
    At the detector's threshold (0.8) MinHash's 8 bands of 3 rows miss a pair with probability under 0.4%
    (1 - (1 - 0.8^3)^8 finds it); at 0.5 they would miss a third, so 0.5 is not asked for here."""
    rng = np.random.default_rng(11)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), int(rng.integers(3, 8)))) for _ in range(400)]
    texts = [" ".join(rng.choice(words, int(rng.integers(2, 25)))) for _ in range(900)]
    for _ in range(300):  # variants of earlier texts
        t = texts[int(rng.integers(0, 900))].split()
        j = int(rng.integers(0, len(t)))
        op = rng.random()
        if op < 0.4:
            t[j] = str(rng.choice(words))
        elif op < 0.8:
            t.insert(j, str(rng.choice(words)))
        elif len(t) > 2:
            del t[j]
        texts.append(" ".join(t).upper() if rng.random() < 0.3 else " ".join(t) + " https://t.co/x @someone 2026")
    texts += ["two words", "two words!", "word", "word pair", "word pair extra"]
    for similarity in (0.8, 0.9):
        got = bots.near_duplicate_clusters(texts, similarity=similarity, min_chars=5)
        norms = [bots.normalise_text(t) for t in texts]
        keep = [i for i, n in enumerate(norms) if len(n) >= 5]

        def shingles(n):
            w = n.split()
            return {n} if len(w) < 3 else {f"{a} {b}" for a, b in zip(w, w[1:])}

        sh = {i: shingles(norms[i]) for i in keep}
        parent = {i: i for i in keep}

        def find(x):
            while parent[x] != x:
                x = parent[x]
            return x

        for x in keep:
            for y in keep:
                if x < y and (norms[x] == norms[y] or len(sh[x] & sh[y]) / len(sh[x] | sh[y]) >= similarity):
                    parent[find(y)] = find(x)
        groups = {}
        for i in keep:
            groups.setdefault(find(i), []).append(i)
        want = sorted((g for g in groups.values() if len(g) >= 2), key=lambda g: g[0])
        assert len(want) > (40 if similarity == 0.8 else 10)
        assert got == want, similarity
