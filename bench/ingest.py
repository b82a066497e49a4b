"""Ingest throughput: the processing stage against the least work any pipeline must do.

    python bench/ingest.py            # 200,000 posts
    python bench/ingest.py --quick    # 20,000 posts, under a minute

Posts come from the demo scenario generator (X API v2 pages, parsed beforehand
and not timed), in batches as a Celery task or ``earshot import`` gets them.
Each run writes into a fresh SQLite file (WAL, synchronous=NORMAL):

- **earshot**: ``monitor.pipeline.process_batch`` per batch: normalise, match
  against every configured topic, VADER sentiment, upsert accounts, insert posts,
  interaction edges, topic tags, distinct-author and 5-minute rollups, cursor;
  one transaction per batch (after-batch hooks off: alert detection is measured
  by bench/alerts.py);
- **floor** (the issue's reference): VADER sentiment of each post (a retweet of
  a post in the same batch carries its words, so is not scored twice, as in
  Earshot) and a bare ``executemany`` of the same rows Earshot stored (read back
  from its database, not timed) into an empty store of the same schema, one
  commit per batch: the least work any pipeline must do for those rows;
- **posts-only floor** (for comparison): VADER and the post rows alone into one
  table without indexes, what an earlier version of this benchmark measured.

The last line is one JSON object: posts_per_s, floor_posts_per_s, ratio_to_floor,
the posts-only figures, and the earshot run's split between scoring (normalise,
match, sentiment) and storing (the time inside ``Store.write_batch``).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import sentiment  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.demo.generator import ScenarioSpec, generate  # noqa: E402
from monitor.pipeline import process_batch  # noqa: E402
from monitor.settings import PROJECT_ROOT  # noqa: E402
from monitor.sources.xv2 import iter_jsonl_batches  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.topics import Matcher  # noqa: E402

COLUMNS = ("platform", "platform_id", "kind", "account_id", "created_at", "text", "title", "lang", "url", "source",
           "hashtags", "links", "ref_kind", "ref_platform_id", "conversation_id", "edit_of", "withheld",
           "retweets", "replies", "likes", "quotes", "sentiment", "stored_at")


def load_batches(n: int, batch_size: int, work: Path):
    generate(work / "scenario", ScenarioSpec(size=n, seed=11), progress=False)
    batches = []
    for f in sorted((work / "scenario" / "x").glob("*.jsonl")):
        batches.extend(iter_jsonl_batches(f, "bench", batch_size=batch_size))
    return batches


def scored_ids(batch) -> set[str]:
    """The posts whose text must be scored: all but retweets of a post in the same batch (same words)."""
    ids = {p.platform_id for p in batch.posts}
    return {p.platform_id for p in batch.posts
            if not (p.kind == "retweet" and p.references and p.references[0].platform_id in ids)}


def scored_texts(batch) -> list[str]:
    keep = scored_ids(batch)
    return [p.text for p in batch.posts if p.platform_id in keep]


# The tables a batch writes, in an order that keeps foreign keys satisfied.
STORED_TABLES = ("accounts", "posts", "interactions", "post_topics", "rollup_authors", "rollups")


def stored_rows(path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every row the earshot run stored, table by table (ids included): what the floor inserts."""
    conn = sqlite3.connect(path)
    out = {}
    for table in STORED_TABLES:
        cols = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
        out[table] = (cols, conn.execute(f"SELECT * FROM {table}").fetchall())
    conn.close()
    return out


def floor_run(batches, rows: dict[str, tuple[list[str], list[tuple]]], path: Path) -> float:
    """VADER on every post, and a bare executemany of the rows earshot stored into an empty store.

    The store is made by the same migrations (same tables and indexes) and opened with the
    same pragmas as Earshot's but for foreign-key checks, which the floor skips; each table's rows are cut into as many slices as there are
    batches, and slice k of every table is inserted and committed with batch k's sentiment.
    """
    Store(f"sqlite:///{path}").dispose()  # the schema, by the migrations
    conn = sqlite3.connect(path)
    # Earshot's pragmas, but foreign keys unchecked (slices of different tables need not line up): less work
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536", "wal_autocheckpoint=10000"):
        conn.execute(f"PRAGMA {pragma}")
    n = len(batches)
    plan = []
    for table in STORED_TABLES:
        cols, table_rows = rows[table]
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        per = -(-len(table_rows) // n) if table_rows else 0
        plan.append((sql, [table_rows[k * per:(k + 1) * per] for k in range(n)]))
    t0 = time.perf_counter()
    for k, b in enumerate(batches):
        for text in scored_texts(b):
            sentiment.score(text)
        for sql, slices in plan:
            if slices[k]:
                conn.executemany(sql, slices[k])
        conn.commit()
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def posts_only_floor_run(batches, path: Path) -> float:
    """The narrower floor: VADER and the post rows alone, into one table without indexes."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"CREATE TABLE posts (id INTEGER PRIMARY KEY, {', '.join(COLUMNS)})")
    sql = f"INSERT INTO posts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    t0 = time.perf_counter()
    for b in batches:
        rows = []
        keep = scored_ids(b)
        scores = {p.platform_id: sentiment.score(p.text) for p in b.posts if p.platform_id in keep}
        for p in b.posts:
            s = scores[p.platform_id] if p.platform_id in scores else scores[p.references[0].platform_id]
            ref = p.references[0] if p.references else None
            rows.append((p.platform, p.platform_id, p.kind, 0, p.created_at.isoformat(), p.text, p.title, p.lang,
                         p.url, p.source, json.dumps(p.hashtags), json.dumps(p.links), ref.kind if ref else None,
                         ref.platform_id if ref else None, p.conversation_id, p.edit_of, json.dumps(p.withheld),
                         p.retweets, p.replies, p.likes, p.quotes, s, None))
        conn.executemany(sql, rows)
        conn.commit()
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def fresh(batches):
    """A deep copy of the batches (the pipeline tidies posts in place), kept out of GC passes: not timed."""
    copied = copy.deepcopy(batches)
    gc.collect()
    gc.freeze()
    return copied


def timed_writes(store: Store) -> list[float]:
    """Time every ``store.write_batch`` call that ``process_batch`` makes (the rest is scoring)."""
    spent: list[float] = []
    write = store.write_batch

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return write(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    store.write_batch = timed
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20,000 posts instead of 200,000")
    ap.add_argument("--posts", type=int, help="number of generated posts")
    ap.add_argument("--batch-size", type=int, default=500)
    args = ap.parse_args()
    n = args.posts or (20_000 if args.quick else 200_000)
    matcher = Matcher(load_config(PROJECT_ROOT / "config" / "keywords.yaml").topics)
    sentiment.analyzer()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"generating and parsing {n:,} posts ...", file=sys.stderr)
        batches = load_batches(n, args.batch_size, work)
        posts = sum(len(b.posts) for b in batches)
        store = Store(f"sqlite:///{work / 'earshot.db'}")
        writes = timed_writes(store)
        run = fresh(batches)
        t0 = time.perf_counter()
        for b in run:
            process_batch(b, store, matcher, run_hooks=False)
        earshot_s = time.perf_counter() - t0
        counts = store.counts()
        store.dispose()
        del run
        rows = stored_rows(work / "earshot.db")
        floor_s = floor_run(fresh(batches), rows, work / "floor.db")
        posts_floor_s = posts_only_floor_run(fresh(batches), work / "posts-floor.db")
    store_s = sum(writes)
    score_s = earshot_s - store_s
    figures = {
        "posts": posts,
        "batch_size": args.batch_size,
        "posts_per_s": round(posts / earshot_s, 1),
        "floor_posts_per_s": round(posts / floor_s, 1),
        "ratio_to_floor": round(floor_s / earshot_s, 3),
        "posts_only_floor_posts_per_s": round(posts / posts_floor_s, 1),
        "ratio_to_posts_only_floor": round(posts_floor_s / earshot_s, 3),
        "earshot_s": round(earshot_s, 3),
        "floor_s": round(floor_s, 3),
        "posts_only_floor_s": round(posts_floor_s, 3),
        "score_s": round(score_s, 3),
        "store_s": round(store_s, 3),
        "stored_posts": counts["posts"],
        "stored_rows": sum(len(r) for _, r in rows.values()),
    }
    print(f"{'run':<44} {'seconds':>9} {'posts/s':>10} {'floor/run':>10}")
    for name, secs in (("earshot (process_batch on each batch)", earshot_s),
                       ("floor: VADER + executemany of the same rows", floor_s),
                       ("posts-only floor: VADER + post rows, no index", posts_floor_s)):
        print(f"{name:<44} {secs:>9.2f} {posts / secs:>10,.0f} {floor_s / secs:>10.2f}")
    print(f"ratio to floor: {floor_s / earshot_s:.2f} (goal >= 0.5); to the posts-only floor: "
          f"{posts_floor_s / earshot_s:.2f}; {posts:,} posts in batches of {args.batch_size}, "
          f"{figures['stored_rows']:,} rows stored in {len(STORED_TABLES)} tables")
    print(f"earshot split: scoring (normalise, match topics, sentiment) {score_s:.2f}s, "
          f"storing (accounts, posts, edges, tags, rollups, cursor; one transaction a batch) {store_s:.2f}s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
