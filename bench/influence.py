"""Influence ranking at scale: stored interaction rows to a ranked top 100, against igraph.

    python bench/influence.py            # 1,000,000 interactions among 200,000 accounts
    python bench/influence.py --quick    # 100,000 among 20,000, under a minute
    python bench/influence.py --networkx # also time a plain networkx.DiGraph + nx.pagerank (slow)

Data: one topic's interactions generated straight into a fresh SQLite store
(the real schema, migrated by ``Store``; rows bulk-inserted into accounts,
posts, post_topics and interactions). The generator is heavy-tailed and
clustered like the demo scenario's: 60 communities of lognormal sizes, 85% of
interactions inside the actor's community, targets drawn by a lognormal
"appeal" (sigma 2.2, a few accounts draw most amplification), actors by a
lognormal activity; 55% retweets, 10% quotes, 20% replies, 15% mentions; a few
self-loops. (``monitor.demo.generator`` caps its population at 100,000
accounts, short of the 200,000 asked for here, and renders text this
benchmark does not need.)

Measured, in a child process that only reads (best of several runs each):

- **earshot, PageRank only**: lean SQL read of the topic's retweets and
  quotes, graph build, PageRank, top 100 with their handles and followers;
- **earshot, full**: lean SQL read of every interaction, graph build,
  PageRank, in-degree, HITS, sampled betweenness, the combined score, top 100
  with handles and followers;
- **igraph**: from the same amplification edge rows already in memory
  (the SQL read is charged to Earshot only): vertex ids remapped with numpy,
  ``igraph.Graph`` built from the edge list, ``Graph.pagerank``.

Ratios are Earshot's end-to-end time over igraph's build plus PageRank.
``top100_overlap`` compares Earshot's PageRank top 100 with igraph's. Peak
memory is the measuring process's peak resident set size after Earshot's runs
(igraph runs after it is read). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

TOPIC = "bench_topic"
KINDS = ("retweet", "quote", "reply", "mention")
T0 = 1_793_491_200  # 2026-11-01T00:00:00Z
WINDOW_DAYS = 30


# ------------------------------------------------------------------------------------------ data
def generate_edges(n_accounts: int, n_interactions: int, seed: int = 1):
    """(src, dst, kind code, epoch seconds) arrays; account ids 1..n_accounts."""
    rng = np.random.default_rng(seed)
    K = 60
    csize = rng.lognormal(0, 1.0, K)
    csize /= csize.sum()
    comm = rng.choice(K, n_accounts, p=csize)
    appeal = rng.lognormal(0, 2.2, n_accounts)
    act = rng.lognormal(0, 1.0, n_accounts)
    act /= act.sum()
    src = rng.choice(n_accounts, n_interactions, p=act)
    same = rng.random(n_interactions) < 0.85
    tcomm = np.where(same, comm[src], rng.choice(K, n_interactions, p=csize))
    order = np.argsort(comm, kind="stable")
    sc = comm[order]
    starts, ends = np.searchsorted(sc, np.arange(K)), np.searchsorted(sc, np.arange(K), "right")
    dst = np.empty(n_interactions, np.int64)
    for c in range(K):
        members = order[starts[c]:ends[c]]
        sel = np.flatnonzero(tcomm == c)
        if len(members) == 0:
            dst[sel] = src[sel]
            continue
        cum = np.cumsum(appeal[members])
        cum /= cum[-1]
        dst[sel] = members[np.minimum(np.searchsorted(cum, rng.random(len(sel))), len(members) - 1)]
    kinds = rng.choice(4, n_interactions, p=[0.55, 0.10, 0.20, 0.15])
    secs = np.sort(rng.integers(0, WINDOW_DAYS * 86400 - 1, n_interactions)) + T0
    return src + 1, dst + 1, kinds, secs


def build_store(path: Path, n_accounts: int, n_interactions: int, seed: int) -> float:
    """Write the bench topic into a fresh store at ``path``; returns seconds taken."""
    from datetime import datetime, timezone

    from monitor.store import Store

    t = time.perf_counter()
    store = Store(f"sqlite:///{path}")
    store.dispose()
    src, dst, kinds, secs = generate_edges(n_accounts, n_interactions, seed)
    rng = np.random.default_rng(seed + 1)
    followers = (rng.pareto(1.2, n_accounts) * 150).astype(np.int64)

    def ts(x: int) -> str:
        return datetime.fromtimestamp(int(x), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")

    stamp = ts(T0 + WINDOW_DAYS * 86400)
    times = [ts(x) for x in secs.tolist()]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    conn.executemany(
        "INSERT INTO accounts (id, platform, platform_id, handle, followers, partial, first_seen, last_seen) "
        "VALUES (?, 'x', ?, ?, ?, 0, ?, ?)",
        ((i, str(i), f"user{i}", int(f), stamp, stamp) for i, f in zip(range(1, n_accounts + 1), followers.tolist())))
    post_kind = ("retweet", "quote", "reply", "original")
    conn.executemany(
        "INSERT INTO posts (id, platform, platform_id, kind, account_id, created_at, text, sentiment, stored_at, "
        "referenced_only) "
        "VALUES (?, 'x', ?, ?, ?, ?, '', 0.0, ?, 0)",
        ((k + 1, str(k + 1), post_kind[kd], a, tm, stamp)
         for k, (a, kd, tm) in enumerate(zip(src.tolist(), kinds.tolist(), times))))
    conn.executemany("INSERT INTO post_topics (post_id, topic, created_at, account_id) VALUES (?, ?, ?, ?)",
                     ((k + 1, TOPIC, tm, a) for k, (a, tm) in enumerate(zip(src.tolist(), times))))
    conn.executemany(
        "INSERT INTO interactions (post_id, kind, src_account_id, dst_account_id, created_at, platform, "
        "ref_platform_id) VALUES (?, ?, ?, ?, ?, 'x', NULL)",
        ((k + 1, KINDS[kd], a, b, tm)
         for k, (a, b, kd, tm) in enumerate(zip(src.tolist(), dst.tolist(), kinds.tolist(), times))))
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - t


# ------------------------------------------------------------------------------------------ measuring
def peak_mb() -> float:
    """Peak resident set size of this process in MB (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(db: Path, repeats: int, with_networkx: bool) -> dict:
    """Runs in the child process: every timing, then the figures as a dict."""
    from datetime import datetime, timezone

    from influence.analysis import account_info
    from influence.graph import build_graph, read_edges
    from influence.scoring import pagerank_scores, score_graph
    from monitor.store import Store

    store = Store(f"sqlite:///{db}", migrate=False)
    since = datetime.fromtimestamp(T0, tz=timezone.utc)
    until = datetime.fromtimestamp(T0 + WINDOW_DAYS * 86400, tz=timezone.utc)
    base_mb = peak_mb()

    def top100(g, values):
        idx = np.argpartition(-values, min(100, g.n - 1))[:100]
        idx = idx[np.lexsort((g.account_ids[idx], -values[idx]))]
        info = account_info(store, g.account_ids[idx].tolist())
        return [(int(g.account_ids[v]), info[int(g.account_ids[v])].handle) for v in idx]

    def pr_only():
        t = {}
        t0 = time.perf_counter()
        e = read_edges(store.engine, TOPIC, since, until, amplification_only=True)
        t["read"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        g = build_graph(e)
        t["build"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        pr = pagerank_scores(g)
        t["pagerank"] = time.perf_counter() - t1
        top = top100(g, pr)
        t["total"] = time.perf_counter() - t0
        return t, top, g, pr

    def full():
        t = {}
        t0 = time.perf_counter()
        e = read_edges(store.engine, TOPIC, since, until)
        t["read"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        g = build_graph(e)
        t["build"] = time.perf_counter() - t1
        s = score_graph(g)
        t.update(s.timings)
        info = account_info(store, g.account_ids[s.order[:100]].tolist())
        top = [(int(g.account_ids[v]), info[int(g.account_ids[v])].handle) for v in s.order[:100]]
        t["total"] = time.perf_counter() - t0
        return t, top, g, s, len(e)

    pr_runs = [pr_only() for _ in range(repeats)]
    best_pr = min(pr_runs, key=lambda r: r[0]["total"])
    full_runs = [full() for _ in range(repeats)]
    best_full = min(full_runs, key=lambda r: r[0]["total"])
    earshot_peak = peak_mb()
    _, pr_top, g_amp, pr_vals = best_pr
    _, full_top, g_full, scores, n_rows = best_full
    del pr_runs, full_runs

    # igraph, from the same amplification rows (read outside the timing, as a Python list of tuples)
    import igraph as ig

    from influence.graph import raw_query

    rows = list(raw_query(store.engine,
                          "SELECT i.src_account_id, i.dst_account_id FROM post_topics pt JOIN interactions i "
                          "ON i.post_id = pt.post_id WHERE pt.topic = ? AND pt.created_at >= ? AND pt.created_at < ? "
                          "AND i.kind IN ('retweet', 'quote')",
                          (TOPIC, since.strftime("%Y-%m-%d %H:%M:%S.%f"), until.strftime("%Y-%m-%d %H:%M:%S.%f"))))
    ig_times = []
    ig_top = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        arr = np.asarray(rows, dtype=np.int64)
        arr = arr[arr[:, 0] != arr[:, 1]]
        ids, inv = np.unique(arr, return_inverse=True)
        graph = ig.Graph(n=len(ids), edges=inv.reshape(-1, 2).tolist(), directed=True)
        t_build = time.perf_counter() - t0
        pr = np.asarray(graph.pagerank(directed=True, damping=0.85))
        order = np.lexsort((ids, -pr))[:100]
        ig_times.append((time.perf_counter() - t0, t_build))
        ig_top = [int(ids[v]) for v in order]
    ig_total, ig_build = min(ig_times)
    overlap = len({a for a, _ in pr_top} & set(ig_top))
    combined_overlap = len({a for a, _ in full_top} & set(ig_top))
    out = {
        "interactions": n_rows, "amplification_edges": int(g_amp.interactions), "accounts": int(g_full.n),
        "earshot_pagerank": best_pr[0], "earshot_full": best_full[0], "igraph_total": ig_total,
        "igraph_build": ig_build, "igraph_pagerank": ig_total - ig_build, "top100_overlap": overlap,
        "combined_top100_overlap_with_igraph_pagerank": combined_overlap, "peak_mem_mb": earshot_peak,
        "baseline_mem_mb": base_mb, "betweenness_sources": scores.betweenness_sources, "repeats": repeats,
    }
    if with_networkx:
        import networkx as nx

        t0 = time.perf_counter()
        G = nx.DiGraph()
        for a, b in rows:
            if a == b:
                continue
            if G.has_edge(a, b):
                G[a][b]["weight"] += 1.0
            else:
                G.add_edge(a, b, weight=1.0)
        t_build = time.perf_counter() - t0
        nx.pagerank(G, weight="weight")
        out["networkx_total"] = time.perf_counter() - t0
        out["networkx_build"] = t_build
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100,000 interactions among 20,000 accounts")
    ap.add_argument("--interactions", type=int, default=None)
    ap.add_argument("--accounts", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=None, help="runs per measurement (best is kept)")
    ap.add_argument("--db", type=Path, help="keep the generated store here (reused if it exists)")
    ap.add_argument("--networkx", action="store_true", help="also time a plain networkx.DiGraph + nx.pagerank")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child process mode
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeats or 3, args.networkx)))
        return
    n_int = args.interactions or (100_000 if args.quick else 1_000_000)
    n_acc = args.accounts or (20_000 if args.quick else 200_000)
    repeats = args.repeats or 3
    tmp = None
    if args.db:
        db = args.db
    else:
        tmp = tempfile.TemporaryDirectory(prefix="earshot-bench-influence-")
        db = Path(tmp.name) / "bench.db"
    gen_s = 0.0
    if not db.exists():
        print(f"generating {n_int:,} interactions among {n_acc:,} accounts into {db} ...", file=sys.stderr)
        gen_s = build_store(db, n_acc, n_int, args.seed)
    child = subprocess.run([sys.executable, __file__, "--measure", str(db), "--repeats", str(repeats)]
                           + (["--networkx"] if args.networkx else []),
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if child.returncode != 0:
        sys.stderr.write(child.stderr)
        sys.exit(child.returncode)
    r = json.loads(child.stdout.strip().splitlines()[-1])
    ep, ef = r["earshot_pagerank"], r["earshot_full"]
    igt = r["igraph_total"]
    print(f"influence benchmark: {r['interactions']:,} interactions ({r['amplification_edges']:,} retweets and "
          f"quotes) among {r['accounts']:,} accounts; store generated in {gen_s:.0f}s; best of {repeats} runs")
    print(f"{'path':<34}{'read':>8}{'build':>8}{'pagerank':>10}{'in-deg':>8}{'hits':>8}{'betw.':>8}{'total':>9}"
          f"{'vs igraph':>11}")
    print(f"{'earshot, PageRank only':<34}{ep['read']:>8.2f}{ep['build']:>8.2f}{ep['pagerank']:>10.2f}{'':>8}{'':>8}"
          f"{'':>8}{ep['total']:>9.2f}{ep['total'] / igt:>10.2f}x")
    print(f"{'earshot, full score set':<34}{ef['read']:>8.2f}{ef['build']:>8.2f}{ef['pagerank']:>10.2f}"
          f"{ef['in_degree']:>8.2f}{ef['hits']:>8.2f}{ef['betweenness']:>8.2f}{ef['total']:>9.2f}"
          f"{ef['total'] / igt:>10.2f}x")
    print(f"{'igraph (edge list in memory)':<34}{'-':>8}{r['igraph_build']:>8.2f}{r['igraph_pagerank']:>10.2f}{'':>8}"
          f"{'':>8}{'':>8}{igt:>9.2f}{1:>10.2f}x")
    if "networkx_total" in r:
        print(f"{'networkx DiGraph + nx.pagerank':<34}{'-':>8}{r['networkx_build']:>8.2f}"
              f"{r['networkx_total'] - r['networkx_build']:>10.2f}{'':>8}{'':>8}{'':>8}{r['networkx_total']:>9.2f}"
              f"{r['networkx_total'] / igt:>10.2f}x")
    print(f"top-100 overlap with igraph's PageRank: {r['top100_overlap']}/100 (the combined score's top 100 shares "
          f"{r['combined_top100_overlap_with_igraph_pagerank']} with it, by design)")
    src = r["betweenness_sources"]
    print(f"betweenness: {'exact' if src is None else f'{src} sampled sources'}; peak memory {r['peak_mem_mb']:.0f} MB "
          f"(process baseline after imports {r['baseline_mem_mb']:.0f} MB)")
    print("goals: PageRank-only within 3x of igraph, full set within 15x, overlap >= 95, peak < 2048 MB")
    figures = {
        "pagerank_ratio_vs_igraph": round(ep["total"] / igt, 3),
        "full_ratio_vs_igraph": round(ef["total"] / igt, 3),
        "top100_overlap": r["top100_overlap"],
        "peak_mem_mb": round(r["peak_mem_mb"], 1),
        "edges": r["interactions"],
        "accounts": r["accounts"],
        "earshot_pagerank_s": round(ep["total"], 3),
        "earshot_full_s": round(ef["total"], 3),
        "igraph_s": round(igt, 3),
    }
    if "networkx_total" in r:
        figures["networkx_ratio_vs_igraph"] = round(r["networkx_total"] / igt, 3)
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
