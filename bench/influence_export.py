"""Times the influencer export (GEXF, GraphML, CSV for Gephi) on a store: what the request did before
(analyse the window and write the file while the reader waits) against what it does now (claim the
run's file and answer 202; the build off the request, once per run; then the kept file served).

    python bench/influence_export.py --db /work/coord/data/dashboard-2m.db   # a built 2,000,000-post store
    python bench/influence_export.py            # builds the scenario's week at 2,000,000 posts first (most of an hour)
    python bench/influence_export.py --quick    # 10,000 posts: under a minute

The store: ``--db`` (the dashboard bench's store, ``bench/dashboard.py --db``), worked on as a copy
(the table ``influence_exports`` is added to the copy); without it, the demo scenario's week at
``--posts`` tweets goes through the importer, the alert engine and the ranking into a temporary
SQLite file (``monitor.harness.week.load_week``, as the dashboard bench builds its store). The topic
is the one whose stored 30-day run has most accounts. Prints a table and, as its last line, one JSON
object: per format, seconds of the old request (``inline_s``: analyse and write while the reader
waits), of the new request's store work (``request_ms``: find the run, claim, answer 202), of the
build off the request (``build_s``), of a later request serving the kept file (``served_ms``), and
the file's size raw and kept (gzip).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, help="a built store (bench/dashboard.py --db), worked on as a copy")
    ap.add_argument("--quick", action="store_true", help="without --db: 10,000 posts (under a minute)")
    ap.add_argument("--posts", type=int, help="without --db: tweets generated (default 2,000,000; --quick 10,000)")
    ap.add_argument("--topic", default=None, help="default: the topic whose stored 30-day run has most accounts")
    ap.add_argument("--formats", default="gexf,graphml,csv")
    args = ap.parse_args()

    from sqlalchemy import select

    from influence import export_jobs, results
    from influence.analysis import analyse
    from influence.export import export
    from monitor import models as m
    from monitor.config import load_config
    from monitor.store import Store

    config = load_config(ROOT / "config" / "keywords.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "run.db"
        if args.db is not None:
            print(f"copying {args.db} ...", file=sys.stderr)
            shutil.copyfile(args.db, db)
            store = Store(f"sqlite:///{db}")
        else:
            from monitor.harness.week import load_week

            n = args.posts or (10_000 if args.quick else 2_000_000)
            print(f"generating the scenario at {n:,} tweets, importing it, detecting alerts, ranking ...",
                  file=sys.stderr)
            store = Store(f"sqlite:///{db}")
            load_week(store, config, Path(tmp) / "week", n, 11, progress=sys.stderr.isatty())
        r = m.influence_runs.c
        q = select(r.id, r.topic, r.accounts, r.edges).where(r.platform == "all", r.exclude_flagged.is_(False))
        if args.topic:
            q = q.where(r.topic == args.topic)
        with store.engine.connect() as conn:
            rid, topic, accounts, edges = conn.execute(q.order_by(r.accounts.desc()).limit(1)).one()
        run = results.load_run(store, rid, limit=1)
        sh = config.topics[topic].stakeholders if topic in config.topics else []
        out = {"db": str(args.db) if args.db else None, "posts": store.counts()["posts"], "topic": topic, "run_id": rid, "accounts": accounts, "pairs": edges,
               "window": [run.since.isoformat(), run.until.isoformat()], "formats": {}}
        for fmt in args.formats.split(","):
            f: dict = {}
            t = time.perf_counter()  # before: on the request
            a = analyse(store, topic, run.since, run.until, platform="all", stakeholders=sh)
            files = export(a, Path(tmp) / f"old.{fmt}", fmt, store=store)
            f["inline_s"] = round(time.perf_counter() - t, 2)
            f["raw_bytes"] = sum(p.stat().st_size for p in files)
            started: list[dict] = []
            t = time.perf_counter()  # now: the request claims and answers 202
            results.load_run(store, rid, limit=1)
            export_jobs.find(store, rid, fmt)
            p = export_jobs.request(store, rid, fmt, stakeholders=sh, dispatch=lambda **job: started.append(job))
            f["request_ms"] = round((time.perf_counter() - t) * 1000, 1)
            assert p.state == "running" and len(started) == 1
            t = time.perf_counter()  # off the request, once per run
            export_jobs.build(store, **started[0])
            f["build_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()  # a later request: the kept file
            results.load_run(store, rid, limit=1)
            export_jobs.find(store, rid, fmt)
            body = export_jobs.read(store, rid, fmt)
            if fmt == "csv":
                body += export_jobs.read(store, rid, fmt, "edges")
            f["served_ms"] = round((time.perf_counter() - t) * 1000, 1)
            with store.engine.connect() as conn:
                e = m.influence_exports.c
                kept = conn.execute(select(e.body, e.edges).where(e.run_id == rid, e.format == fmt)).one()
            f["kept_bytes"] = len(kept.body) + len(kept.edges or b"")
            assert len(body) == f["raw_bytes"], (len(body), f["raw_bytes"])
            out["formats"][fmt] = f
            print(json.dumps({fmt: f}), file=sys.stderr)
        store.dispose()
    print(f"influencer export of {topic} ({accounts:,} accounts, {edges:,} pairs; {out['posts']:,} posts stored), "
          f"{run.since:%Y-%m-%d} to {run.until:%Y-%m-%d}")
    print(f"{'format':8} {'before: on the request':>24} {'now: request (202)':>20} {'build, once a run':>18} "
          f"{'served':>10} {'raw':>12} {'kept':>12}")
    for fmt, f in out["formats"].items():
        print(f"{fmt:8} {f['inline_s']:>22.2f} s {f['request_ms']:>17.1f} ms {f['build_s']:>16.2f} s "
              f"{f['served_ms']:>7.1f} ms {f['raw_bytes']:>12,} {f['kept_bytes']:>12,}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
