"""Faults on the distributed path at scale: does Earshot lose or duplicate anything?

    python bench/faults.py            # the demo week, 20,000 posts, 4 worker processes
    python bench/faults.py --quick    # 1,000 posts, a shorter outage: about a minute

Each fault runs on a fresh database of a private PostgreSQL server, with a private Redis (its
append-only file on, as the README says production must run it), one Celery worker of 4 pool
processes and one beat, started by :class:`monitor.harness.faults.Cluster`. The demo generator's
week (``monitor.demo``: X API v2 pages of 100 tweets) goes through ``earshot import --enqueue``
in batches of ``--batch-size`` posts, and the fault strikes while the workers are storing (some
batches stored, more waiting):

- ``none``: no fault (the time a clean run takes, for scale);
- ``pool_kill``: SIGKILL one of the worker's pool processes;
- ``worker_kill``: SIGKILL the whole worker (main and pool processes), then start a new one;
- ``redis_kill``: ``kill -9`` Redis, start it again a second later on its files;
- ``pg_outage``: stop PostgreSQL (fast shutdown: every connection dropped) for ``--outage``
  seconds, longer than the retry budget the run is given (``EARSHOT_DB_RETRIES`` 3 tries at most
  2 s apart), then start it again;
- ``newest_first``: no process fault; the pages arrive newest first, one page a batch, as X
  search sends them (a retweet before its original);
- ``hostile``: no process fault; one account's name holds a NUL (cleaned), another's follower
  count is 10^20 (no column holds it: the store refuses it) and one post holds a value the
  database refuses (a trigger, as a stricter schema would); each refused post is quarantined
  with its reason, the rest of its batch stored. Then the "fix" of the second (the trigger
  dropped) and ``earshot quarantine replay --all``. ``quarantined`` counts the posts quarantined
  before the replay, ``quarantined_after_replay`` those still quarantined after it (the count
  stays out of range); ``lost`` counts posts missing and not quarantined.

Every run is compared with a clean embedded import of the same (unreversed, unhostile) data:
posts, topic tags and edges expected, stored, lost; duplicated (rows or rollup counts beyond one
per post); rollups against a recount. ``lost`` counts posts neither stored nor quarantined
(quarantined posts are listed by ``earshot status`` and counted apart). ``recovery_s``: seconds
from the end of the fault (the kill, Redis or PostgreSQL back) until no kept batch waits; for
the faults in the data and ``none``, the seconds from the end of the enqueue. The sweeper runs
every 2 s and re-sends batches waiting 10 s (production: 60 s and 300 s), so recovery from a
worker killed outright is bounded by those, not by Redis' 35-minute visibility timeout.

The machine is shared (2 cores for several engineers): times are noisy; losses are not.
The last line is one JSON object: ``faults`` (per fault: ``lost``, ``duplicated``, ``tags_lost``,
``recovery_s`` and the rest of the row) and ``posts``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.harness.faults import (  # noqa: E402  (the fault tests' harness: the same cluster and comparison)
    Cluster,
    allow_posts,
    compare,
    demo_pages,
    hostile_accounts,
    newest_first,
    reference,
    refuse_posts,
    snapshot,
)
from monitor.harness.services import Postgres  # noqa: E402

SETTINGS = {"EARSHOT_DB_RETRIES": "3", "EARSHOT_DB_RETRY_MAX": "2", "EARSHOT_RESEND_AFTER": "10",
            "EARSHOT_SWEEP_INTERVAL": "2"}
FAULTS = ("none", "pool_kill", "worker_kill", "redis_kill", "pg_outage", "newest_first", "hostile")


def busy(b: dict) -> bool:
    return b.get("stored", 0) >= 2 and b.get("pending", 0) >= 3


def quarantined_ids(c: Cluster) -> set[str]:
    from sqlalchemy import select

    from monitor import durable
    from monitor import models as m

    out = set()
    with c.store.engine.connect() as conn:
        for (payload,) in conn.execute(select(m.raw_batches.c.payload).where(m.raw_batches.c.state == "quarantined")):
            out.update(p.platform_id for p in durable.decode(payload).posts)
    return out


def run_fault(fault: str, work: Path, pg: Postgres, pages: Path, expected, *, batch: int, procs: int,
              outage: float, timeout: float) -> dict:
    files = [pages]
    size = batch
    if fault == "newest_first":
        files, size = [newest_first(pages, work / "newest-first.jsonl")], 1
    elif fault == "hostile":
        hostile_accounts(pages, work / "hostile.jsonl")
        files = [work / "hostile.jsonl"]
    with Cluster(work / f"cluster-{fault}", concurrency=procs, settings=SETTINGS, pg=pg) as c:
        if fault == "hostile":
            refuse_posts(c.store.engine)
        w = c.start_worker()
        c.start_beat()
        t0 = time.monotonic()
        c.enqueue(files, size)
        t_enqueued = time.monotonic()
        if fault in ("none", "newest_first", "hostile"):
            recovered_from = t_enqueued
        else:
            c.wait_until(busy, timeout, "the run under way")
            if fault == "pool_kill":
                c.kill_pool_process(w)
            elif fault == "worker_kill":
                c.kill_worker(w)
                c.start_worker()
            elif fault == "redis_kill":
                c.kill_redis()
                time.sleep(1)
                c.restart_redis()
            elif fault == "pg_outage":
                pg.stop("fast")
                time.sleep(outage)
                pg.start()
            recovered_from = time.monotonic()
        c.settled(timeout)
        recovery = time.monotonic() - recovered_from
        total = time.monotonic() - t0
        status = c.status()["batches"]
        quarantined = len(quarantined_ids(c))
        if fault == "hostile":
            allow_posts(c.store.engine)  # the fix
            out = c.cli("quarantine", "replay", "--all")  # exit 1 while any stays quarantined
            if out.returncode not in (0, 1):
                print(f"  replay failed: {out.stdout[-500:]}{out.stderr[-500:]}", file=sys.stderr)
        got = snapshot(c.store)
        row = compare(expected, got)
        q = quarantined_ids(c)
        row["quarantined_after_replay"] = len(q)
        lost_ids = {pid for _plat, pid, _ref in expected.posts - got.posts}
        row.update({
            "lost": len(lost_ids - q), "quarantined": quarantined, "recovery_s": round(recovery, 1),
            "run_s": round(total, 1), "status_waiting": status["waiting"], "status_quarantined": status["quarantined"],
            "budget_ran_out": "the batch waits in the store and the sweeper sends it again" in c.logs(),
            "worker_lost_task": "WorkerLostError" in c.logs(),
        })
        return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 posts and a shorter outage: about a minute")
    ap.add_argument("--size", type=int, default=None, help="posts (default 20,000; --quick 1,000)")
    ap.add_argument("--procs", type=int, default=4, help="worker pool processes")
    ap.add_argument("--batch-size", type=int, default=None, help="posts a batch (default 200; --quick 100)")
    ap.add_argument("--outage", type=float, default=None, help="seconds PostgreSQL is away (default 30; --quick 6)")
    ap.add_argument("--faults", default=",".join(FAULTS), help="comma-separated, from: " + ", ".join(FAULTS))
    args = ap.parse_args()
    size = args.size or (1000 if args.quick else 20_000)
    batch = args.batch_size or (100 if args.quick else 200)
    outage = args.outage if args.outage is not None else (6.0 if args.quick else 30.0)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        ap.error(f"unknown faults: {', '.join(sorted(unknown))}")
    timeout = 120 if args.quick else 900

    with tempfile.TemporaryDirectory(prefix="earshot-faults-") as tmp:
        work = Path(tmp)
        t = time.monotonic()
        pages = demo_pages(work, size, posts=size, per_page=100)
        expected = reference([pages], work, batch_size=batch)
        print(f"{size} posts of the demo week ({len(expected.posts)} stored posts with those referred to, "
              f"{len(expected.tags)} topic tags, {len(expected.edges)} edges in a clean embedded import, "
              f"{time.monotonic() - t:.0f}s); {args.procs} worker processes; batches of {batch}; "
              f"PostgreSQL away {outage:g}s; settings {SETTINGS}")
        pg = Postgres()
        rows: dict[str, dict] = {}
        try:
            for fault in faults:
                rows[fault] = run_fault(fault, work, pg, pages, expected, batch=batch, procs=args.procs,
                                        outage=outage, timeout=timeout)
                r = rows[fault]
                print(f"  {fault}: done in {r['run_s']}s", file=sys.stderr)
        finally:
            pg.destroy()

    cols = ("posts", "stored", "lost", "quarantined", "duplicated", "tags", "tags_stored", "tags_lost",
            "edges", "edges_stored", "edges_lost", "recovery_s")
    print()
    print("recovery_s: from the end of the fault (for none, newest_first, hostile: of the enqueue) until no kept "
          "batch waits; compare with none's")
    print(f"{'fault':<13}" + "".join(f"{c:>13}" for c in cols) + "  rollups")
    for fault, r in rows.items():
        ok = ("WRONG: not a recount" if not r["rollups_recount"] else "= recount, = reference"
              if r["rollups_as_reference"] else "= recount, without the quarantined posts" if r["quarantined_after_replay"]
              else "= recount, WRONG: not the reference's")
        print(f"{fault:<13}" + "".join(f"{r[c]:>13}" for c in cols) + f"  {ok}")
    print()
    for fault, r in rows.items():
        notes = []
        if fault == "pg_outage":
            notes.append("retry budget ran out, batches left to the sweeper" if r["budget_ran_out"]
                         else "retry budget did NOT run out (outage too short for the budget)")
        if fault == "pool_kill":
            notes.append("killed while running a task" if r["worker_lost_task"] else "the killed process was idle")
        if r["status_waiting"] or r["status_quarantined"]:
            notes.append(f"status showed {r['status_waiting']} waiting, {r['status_quarantined']} quarantined batches"
                         + (f"; after the fix and the replay {r['quarantined_after_replay']} posts stay quarantined"
                            if fault == "hostile" else ""))
        if notes:
            print(f"  {fault}: {'; '.join(notes)}")
    print(json.dumps({"faults": rows, "posts": size}))


if __name__ == "__main__":
    main()
