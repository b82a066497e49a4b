"""Dashboard: server time of the pages and APIs under load, and live alert fan-out.

    python bench/dashboard.py                  # 2,000,000 generated posts
    python bench/dashboard.py --quick          # 10,000 posts, fewer requests: about a minute
    python bench/dashboard.py --db var/bench-dashboard.db   # keep the store and reuse it next time

**Data.** The demo scenario generator's week at ``--posts`` tweets (X API v2 pages and RSS
feeds, as `earshot demo` makes them) goes through the ordinary importer
(:func:`monitor.replay.import_files`: normalise, match topics, sentiment, store, rollups) into
a SQLite file; then the alert engine runs once over the week (:func:`monitor.alerts.engine.detect`,
data time up to the week's end) and the influence rankings are computed and stored
(:func:`influence.tasks.recompute`), as the hourly task does (shared with the browser tests:
``monitor.harness.week.load_week``). Detection is the engine's one catch-up pass in data
time rather than a run after every batch, which made the import about twice as slow here. With
``--db`` the store is kept and reused when it holds the same scenario (each run works on a copy,
brought to the current migrations by the server as it starts). **The full-size figures reported
come from a store built once this way and reused** (``--db /work/coord/data/dashboard-2m.db``):
building 2,000,000 posts (generate, import, detect, rank) takes most of an hour on the shared
machine, and it is not timed here; its build times are printed from the store's metadata.

**Server.** The app of ``dashboard.app.create_app()`` under uvicorn in its own process (one
worker, as each of several ``earshot serve`` processes in production), over that file, with a
private Redis for live push. A thin ASGI wrapper adds ``Server-Timing: app;dur=...`` to each
answer: the time from the request reaching the app to its headers going out (pages and APIs
build their whole body first), which is the **server time** reported.

**Pages and APIs.** 20 clients (``--clients``) on loopback, each signed in, send requests back
to back (keep-alive) for each endpoint in turn. The app computes a page's or an API answer's
content once per data version (``dashboard.cache.versioned``: any stored batch, alert change,
mark or influence run makes a new one) and wall-clock minute; nothing is written while the
clients run, so after the first requests they are served from that cache. What those first
requests cost -- what the first reader pays after each change of the data, e.g. after every
batch under live collection -- is reported as well: ``first_ms``, the server time of the first
round (all clients at once, one of them computing while the others wait for it). With 20 requests in flight on one process,
server time includes the time a request waits for the others (the event loop, the thread pool,
the GIL) -- it is the time under that load, not of a lone request. The round trip measured at
the client (adding the wait before the app sees the request) is printed beside it, and so is the
server time of one client alone (a few requests before the 20 start: what a request costs with
nobody waiting). Every answer must be 200, or the bench stops. ``/health`` (no store work) is
measured as a reference.

**Live.** The figures above are of a store nobody writes to, which is what lets the cache serve
nearly everything. Under live collection every stored batch makes a new data version, so readers
pay the cold cost about once per batch. The live phase measures that: this process commits one
batch of ``--live-size`` (20) new posts every ``--live-every`` (3) seconds through
:func:`monitor.pipeline.process_batch` (new accounts, a third of them retweets of the week's
most retweeted post, some with a link; data time just after the week), while all clients send
requests back to back for ``--live-seconds`` (12; ``--quick`` 4) per endpoint. Every request's
server time counts (``live_p95_ms``, ``live_p50_ms``, ``live_search_p95_ms``; ``live_batches``
committed). The alert engine is not run after these batches (it is in the fan-out below), so
they do not add its work to the writer; the server still sees every batch as new data.

**Fan-out.** 200 clients (``--sse-clients``) hold ``/alerts/stream`` open, in a separate
process. For each sample, a batch with a new post by one of a topic's stakeholders goes through
:func:`monitor.pipeline.process_batch` in this process with the after-batch hooks registered
(the alert engine raises or updates the stakeholder alert and publishes to Redis); the sample is
the time from the batch's commit to each client receiving that alert's event (one figure per
client per sample; the clocks are the same monotonic clock). One batch before the samples is a
warm-up, not measured: the live phase's batches were stored without the alert engine, which catches
up with them after the first batch it sees (in production it runs after every batch). Each sample's
two figures (commit to the Redis message, commit to the last client) are printed
(``fanout_samples_s``): with 200 clients a sample is 5% of the deliveries, so p95 is about the
slowest sample. This process also listens on the
alert channel, so the part before the message reaches Redis (the alert engine's detection after the
batch) is printed apart (``fanout_engine_p50_s``); the rest is the dashboard's hub and streams.

The machine this runs on is shared: every figure comes with its spread, and a second run may
differ by tens of percent. The last line is one JSON object: ``p95_ms`` and ``p50_ms`` (server
time, objects keyed by endpoint), ``search_p95_ms`` (the larger of the search API's and the
search page's p95), ``fanout_p95_s``, ``fanout_p50_s``, ``posts`` (stored), with the round trips
(``round_trip_p95_ms``), a lone client's server time (``alone_p50_ms``), the first round
(``first_ms``) and the live phase's figures beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    import httpx

# this file is bench/dashboard.py: its folder must not be on the path, or it would be the
# `dashboard` package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "keywords.yaml"
STORE_VERSION = 1  # bump when what build_store puts in the store changes
USER = ("bench", "bench-password-123", "press")
SEED = 11



# ----------------------------------------------------------------------------- the store
def build_store(db: Path, n: int, seed: int = SEED) -> dict:
    """The scenario's week at ``n`` tweets in a SQLite file at ``db`` (reused when it already holds it)."""
    from monitor.config import load_config
    from monitor.store import Store
    from monitor.harness.week import load_week

    meta_path = db.with_name(db.name + ".json")
    want = {"version": STORE_VERSION, "size": n, "seed": seed}
    if db.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} == want:
            print(f"reusing {db} ({meta['posts']:,} posts)", file=sys.stderr)
            return meta
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{db}")
    print(f"generating the scenario at {n:,} tweets, importing it, detecting alerts, ranking ...", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=db.parent) as tmp:
        truth, timings = load_week(store, load_config(CONFIG), Path(tmp), n, seed, progress=sys.stderr.isatty())
    counts = store.counts()
    store.dispose()
    meta = {**want, "posts": counts["posts"], "start": truth["start"], "end": truth["end"],
            "timings": {k: round(v, 1) for k, v in timings.items()}}
    meta_path.write_text(json.dumps(meta))
    return meta


def ready(db: Path) -> None:
    """The store as a running dashboard keeps it: at the current migrations, every post in the
    full-text index (the dashboard's background indexer would otherwise be catching up while
    searches are measured)."""
    from monitor.search import ensure_indexed
    from monitor.store import Store

    store = Store(f"sqlite:///{db}")
    t0 = time.perf_counter()
    ensure_indexed(store)
    print(f"search index complete ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    store.dispose()


# ----------------------------------------------------------------------------- the server
SERVER = """
import sys, time
sys.path.insert(0, {root!r})
import uvicorn
from dashboard.app import create_app

app = create_app()


async def timed(scope, receive, send):
    # Server-Timing: app;dur=<ms from the request reaching the app to its answer's headers>. The
    # pages and APIs build their whole body before the headers go, so this is their server time.
    if scope["type"] != "http":
        return await app(scope, receive, send)
    t0 = time.perf_counter()

    async def send_timed(message):
        if message["type"] == "http.response.start":
            dur = (time.perf_counter() - t0) * 1000
            message = {{**message, "headers": [*message.get("headers", []), (b"server-timing", f"app;dur={{dur:.3f}}".encode())]}}
        await send(message)

    await app(scope, receive, send_timed)


# keep-alive longer than uvicorn's 5 s: a client's connection waits idle while one client runs alone
uvicorn.run(timed, host="127.0.0.1", port={port}, log_level="warning", access_log=False, timeout_keep_alive=600)
"""


def start_server(db: Path, redis_url: str, work: Path) -> tuple[subprocess.Popen, str]:
    """The dashboard (``dashboard.app.create_app``, one uvicorn process) over ``db``; (process, URL).

    The app is wrapped so each answer carries its server time (``Server-Timing``).
    """
    import httpx

    from monitor.harness.services import free_port

    port = free_port()
    env = {**os.environ, "EARSHOT_DATABASE_URL": f"sqlite:///{db}", "EARSHOT_REDIS_URL": redis_url,
           "EARSHOT_DATA_DIR": str(work / "var"), "EARSHOT_CONFIG": str(CONFIG), "EARSHOT_LOG_LEVEL": "WARNING"}
    env.pop("EARSHOT_BROKER_URL", None)
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT), port=port)], env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600  # the first start over an old store applies migrations (an FTS index)
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the dashboard server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the dashboard server did not answer /health in time")


def sessions(store, n: int) -> list[str]:
    """``n`` session cookies of the bench's account (signed in directly: no password hashing per client)."""
    from dashboard import auth

    if auth.get_user(store, USER[0]) is None:
        auth.add_user(store, *USER)
    user = auth.get_user(store, USER[0])
    return [auth.start_session(store, user)[0] for _ in range(n)]


# ----------------------------------------------------------------------------- load
def endpoints(store, meta: dict) -> list[tuple[str, list[str]]]:
    """(name, paths) of what is measured; the clients take the paths in turn."""
    from sqlalchemy import func, select

    from monitor import models as m

    with store.engine.connect() as conn:
        # the week's 20 busiest authors: account pages with the most to show
        accounts = [r[0] for r in conn.execute(select(m.posts.c.account_id).group_by(m.posts.c.account_id)
                                               .order_by(func.count().desc()).limit(20))]
    topics = ["waiting_times", "vaccination", "social_care", "mental_health"]
    searches = ["waiting list", "vaccine", "A&E", "\"social care\"", "strike doctors", "NHS"]
    return [
        ("health (reference: no store work)", ["/health"]),
        ("live alerts page", ["/alerts"]),
        ("topic overview API, 7 days", [f"/api/topics/{t}?range=7d" for t in topics]),
        ("topic overview API, 30 days", [f"/api/topics/{t}?range=30d" for t in topics]),
        ("influencer lookup page", [f"/influencers?topic={t}" for t in topics]),
        ("influencer lookup API", [f"/api/influencers?topic={t}" for t in topics]),
        ("account page", [f"/accounts/{a}" for a in accounts]),
        ("post search API", [f"/api/posts/search?q={quote(q)}" for q in searches]),
        ("post search page", [f"/search?q={quote(q)}" for q in searches]),
    ]


def _clients(url: str, cookies: list[str]):
    """One signed-in HTTP client per session cookie, each on one connection."""
    import httpx

    from dashboard.web import SESSION_COOKIE

    return [httpx.AsyncClient(base_url=url, cookies={SESSION_COOKIE: c}, timeout=120,
                              limits=httpx.Limits(max_connections=1)) for c in cookies]


async def _measure(url: str, eps: list[tuple[str, list[str]]], cookies: list[str], per_client: int):
    """Per endpoint: (server times, client round trips, server times of one client alone) in
    seconds: ``per_client`` requests by each client, all clients at once. The clients (one
    connection each) are made once and warmed by a request to each endpoint first, so neither
    connecting nor the first use is in the main figures (that first round is kept apart); then one client alone sends a few requests (the
    time a request takes with nobody else waiting), then all clients at once."""
    clients = _clients(url, cookies)
    out = {}
    try:
        for name, paths in eps:
            server: list[float] = []
            times: list[float] = []

            async def run(i: int, c: httpx.AsyncClient, n: int, record: bool) -> None:
                for j in range(n):
                    path = paths[(i + j) % len(paths)]
                    t0 = time.perf_counter()
                    r = await c.get(path)
                    elapsed = time.perf_counter() - t0
                    if r.status_code != 200:
                        raise SystemExit(f"GET {path}: {r.status_code} {r.text[:300]}")
                    if record:
                        times.append(elapsed)
                        server.append(float(r.headers["server-timing"].split("dur=")[1]) / 1000)

            await asyncio.gather(*(run(i, c, 1, True) for i, c in enumerate(clients)))  # the first round: cold
            first, server, times = server, [], []
            await run(0, clients[0], min(len(paths), 4), True)  # one client alone: no waiting on others
            alone, server, times = server, [], []
            await asyncio.gather(*(run(i, c, per_client, True) for i, c in enumerate(clients)))
            out[name] = (server, times, alone, first)
            print(f"  {name}: {len(server)} requests", file=sys.stderr)
    finally:
        for c in clients:
            await c.aclose()
    return out


def measure(url: str, eps: list[tuple[str, list[str]]], cookies: list[str], per_client: int):
    return asyncio.run(_measure(url, eps, cookies, per_client))


async def _measure_live(url: str, eps: list[tuple[str, list[str]]], cookies: list[str], seconds: float):
    """Per endpoint: server times (seconds) of every request while all clients send them back to back
    for ``seconds`` (batches arrive meanwhile: :func:`live_writer`)."""
    clients = _clients(url, cookies)
    out = {}
    try:
        for name, paths in eps:
            server: list[float] = []
            deadline = time.perf_counter() + seconds

            async def run(i: int, c: httpx.AsyncClient) -> None:
                j = 0
                while time.perf_counter() < deadline:
                    path = paths[(i + j) % len(paths)]
                    j += 1
                    r = await c.get(path)
                    if r.status_code != 200:
                        raise SystemExit(f"GET {path}: {r.status_code} {r.text[:300]}")
                    server.append(float(r.headers["server-timing"].split("dur=")[1]) / 1000)

            await asyncio.gather(*(run(i, c) for i, c in enumerate(clients)))
            out[name] = server
            print(f"  live {name}: {len(server)} requests", file=sys.stderr)
    finally:
        for c in clients:
            await c.aclose()
    return out


def live_batches(store, start: datetime, k: int, size: int):
    """The ``k``-th live batch: ``size`` new posts on the topics by new accounts, a third of them retweets
    of the week's most retweeted post and some with a link, ``k`` seconds of data time after ``start``."""
    from sqlalchemy import func, select

    from monitor import models as m
    from monitor.items import ORIGINAL, RETWEET, Account, Batch, Post, Reference

    with store.engine.connect() as conn:
        top = conn.execute(select(m.interactions.c.ref_platform_id, m.interactions.c.dst_account_id)
                           .where(m.interactions.c.kind == "retweet").group_by(m.interactions.c.ref_platform_id,
                                                                               m.interactions.c.dst_account_id)
                           .order_by(func.count().desc()).limit(1)).first()
        author = conn.execute(select(m.accounts.c.platform_id).where(m.accounts.c.id == top[1])).scalar()
    texts = ["the waiting list is getting longer", "vaccination clinic open today", "social care staff shortages",
             "mental health services", "obesity and sugar tax", "resident doctors strike", "smoking ban"]
    posts, accounts = [], []
    for j in range(size):
        who = f"bench-live-{(k * size + j) % 200}"
        accounts.append(Account(platform="x", platform_id=who, handle=who, name=who))
        when = start + timedelta(seconds=k, milliseconds=j)
        pid = f"98{k:06d}{j:04d}{int(start.timestamp())}"
        if j % 3 == 0:
            posts.append(Post(platform="x", platform_id=pid, kind=RETWEET, author_id=who, created_at=when, lang="en",
                              text=f"RT {texts[j % len(texts)]}", references=[Reference("retweet", top[0], author)]))
        else:
            posts.append(Post(platform="x", platform_id=pid, kind=ORIGINAL, author_id=who, created_at=when, lang="en",
                              text=f"{texts[j % len(texts)]} (live {k}.{j})",
                              links=["https://www.nhs.uk/live"] if j % 4 == 1 else []))
    return Batch(source="x-search", posts=posts, accounts=accounts)


def measure_live(url, eps, cookies, store, config, meta: dict, seconds: float, every: float, size: int):
    """:func:`_measure_live` while this process commits one batch of ``size`` posts every ``every`` seconds
    through the pipeline (as the stream's worker does; the alert engine is not run after them here).
    Returns (server times by endpoint, batches committed, their write seconds)."""
    import threading

    from monitor.pipeline import process_batch
    from monitor.topics import Matcher

    matcher = Matcher(config.topics)
    stop = threading.Event()
    writes: list[float] = []
    start = datetime.fromisoformat(meta["end"])

    def writer() -> None:
        k = 0
        while not stop.wait(every):
            batch = live_batches(store, start, k, size)
            t0 = time.perf_counter()
            process_batch(batch, store, matcher)
            writes.append(time.perf_counter() - t0)
            k += 1

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        times = asyncio.run(_measure_live(url, eps, cookies, seconds))
    finally:
        stop.set()
        t.join(60)
    return times, writes


def pct(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ----------------------------------------------------------------------------- fan-out
async def _listen(url: str, cookies: list[str], ready_file: Path, stop_file: Path) -> list[tuple[int, int, float]]:
    """Hold one event stream per cookie open; (client, alert id, monotonic time) of every alert event."""
    import httpx

    from dashboard.web import SESSION_COOKIE

    got: list[tuple[int, int, float]] = []
    connected = 0

    async def client(i: int, cookie: str) -> None:
        nonlocal connected
        async with httpx.AsyncClient(base_url=url, cookies={SESSION_COOKIE: cookie}, timeout=None) as c:
            async with c.stream("GET", "/alerts/stream") as r:
                if r.status_code != 200:
                    raise SystemExit(f"/alerts/stream: {r.status_code}")
                connected += 1
                async for line in r.aiter_lines():
                    if line.startswith("data:"):
                        t = time.perf_counter()
                        try:
                            alert_id = json.loads(line[5:])["alert_id"]
                        except (ValueError, KeyError):
                            continue
                        got.append((i, alert_id, t))

    tasks = [asyncio.create_task(client(i, c)) for i, c in enumerate(cookies)]
    while connected < len(cookies):
        await asyncio.sleep(0.05)
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()
    ready_file.write_text("ready")
    while not stop_file.exists():
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return got


def listener_main(argv: list[str]) -> None:
    """``--listen URL COOKIES_FILE READY_FILE STOP_FILE OUT_FILE``: the event-stream clients' process."""
    url, cookies_file, ready, stop, out = argv
    cookies = json.loads(Path(cookies_file).read_text())
    got = asyncio.run(_listen(url, cookies, Path(ready), Path(stop)))
    Path(out).write_text(json.dumps(got))


def stakeholder_batches(store, config, start: datetime, samples: int):
    """Per sample: (topic, a batch with one new post by one of the topic's stakeholders), in data time order."""
    from sqlalchemy import func, select

    from monitor import models as m
    from monitor.items import ORIGINAL, Account, Batch, Post

    pairs = [(tid, h.lstrip("@")) for tid, t in config.topics.items() for h in t.stakeholders]
    texts = {"waiting_times": "the waiting list", "social_care": "social care", "vaccination": "vaccination",
             "mental_health": "mental health", "obesity": "obesity", "junior_doctors": "resident doctors strike",
             "smoking": "smoking"}
    out = []
    for k in range(samples):
        tid, handle = pairs[k % len(pairs)]
        with store.engine.connect() as conn:
            row = conn.execute(select(m.accounts.c.platform_id, m.accounts.c.name)
                               .where(func.lower(m.accounts.c.handle) == handle.lower(),
                                      m.accounts.c.platform == "x")).first()
        pid = row.platform_id if row else f"bench-{handle.lower()}"
        account = Account(platform="x", platform_id=pid, handle=handle, name=row.name if row else handle)
        when = start + timedelta(minutes=10 * (k + 1))
        text = f"Our statement today on {texts.get(tid, tid)} (bench sample {k})"
        post = Post(platform="x", platform_id=f"99{k:08d}{int(start.timestamp())}", kind=ORIGINAL,
                    author_id=pid, text=text, created_at=when, lang="en")
        out.append((tid, Batch(source="x-search", posts=[post], accounts=[account])))
    return out


def fanout(url: str, store, config, meta: dict, n_clients: int, samples: int, work: Path) -> list[float]:
    """Seconds from each sample batch's commit to each client receiving its alert's event."""
    from sqlalchemy import select

    from monitor import models as m
    from monitor.hooks import register_after_batch
    from monitor.pipeline import process_batch
    from monitor.topics import Matcher

    cookies = sessions(store, n_clients)
    files = {k: work / f"fanout-{k}" for k in ("cookies", "ready", "stop", "out")}
    files["cookies"].write_text(json.dumps(cookies))
    listener = subprocess.Popen([sys.executable, __file__, "--listen", url,
                                 *(str(files[k]) for k in ("cookies", "ready", "stop", "out"))], cwd=ROOT)
    deadline = time.time() + 120
    while not files["ready"].exists():
        if listener.poll() is not None or time.time() > deadline:
            raise SystemExit("the event-stream clients did not all connect")
        time.sleep(0.1)
    register_after_batch()  # the alert engine, as a worker or `earshot run` has it
    # the alert channel heard from here too: splits each sample into the engine's part (commit to the
    # message on Redis) and the dashboard's (that message to each client)
    import threading

    import redis

    from monitor.alerts import notify

    published: list[tuple[int, float]] = []
    sub = redis.Redis.from_url(os.environ["EARSHOT_REDIS_URL"]).pubsub(ignore_subscribe_messages=True)
    sub.subscribe(notify.CHANNEL)
    hearing = threading.Event()

    def hear() -> None:
        while not hearing.is_set():
            msg = sub.get_message(timeout=0.05)
            if msg and msg.get("type") == "message":
                try:
                    published.append((json.loads(msg["data"])["alert"]["id"], time.perf_counter()))
                except (ValueError, KeyError, TypeError):
                    pass

    hearer = threading.Thread(target=hear, daemon=True)
    hearer.start()
    commits: list[float] = []
    write = store.write_batch

    def timed_write(*args, **kwargs):
        result = write(*args, **kwargs)
        commits.append(time.perf_counter())  # the batch's transaction has committed
        return result

    store.write_batch = timed_write
    matcher = Matcher(config.topics)
    expected: list[tuple[int, float]] = []
    for k, (tid, batch) in enumerate(stakeholder_batches(store, config, datetime.fromisoformat(meta["end"]),
                                                         samples + 1)):
        process_batch(batch, store, matcher)
        if k == 0:  # a warm-up, not measured: the engine catches up with the live phase's batches
            time.sleep(1.5)
            continue
        with store.engine.connect() as conn:
            alert_id = conn.execute(select(m.alerts.c.id).where(m.alerts.c.topic == tid, m.alerts.c.kind == "stakeholder")
                                    .order_by(m.alerts.c.updated_at.desc()).limit(1)).scalar()
        if alert_id is None:
            raise SystemExit(f"sample on {tid}: the stakeholder post raised no alert")
        expected.append((alert_id, commits[-1]))
        time.sleep(1.5)  # let every client have it before the next sample
    store.write_batch = write
    hearing.set()
    hearer.join(5)
    sub.close()
    files["stop"].write_text("stop")
    listener.wait(60)
    got = json.loads(files["out"].read_text())
    latencies: list[float] = []
    last_client: list[float | None] = []  # per sample: when its last client had the event
    missing = 0
    for alert_id, t_commit in expected:
        first: dict[int, float] = {}
        for client, a, t in got:
            if a == alert_id and t >= t_commit and client not in first:
                first[client] = t
        missing += n_clients - len(first)
        latencies += [t - t_commit for t in first.values()]
        last_client.append(max(first.values()) - t_commit if first else None)
    if missing:
        raise SystemExit(f"{missing} of {n_clients * samples} (client, sample) events never arrived")
    engine, per_sample = [], []
    for alert_id, t_commit in expected:
        heard = [t for a, t in published if a == alert_id and t >= t_commit]
        if heard:
            engine.append(min(heard) - t_commit)
    for (alert_id, t_commit), last in zip(expected, last_client):
        heard = [t for a, t in published if a == alert_id and t >= t_commit]
        per_sample.append((round(min(heard) - t_commit, 3) if heard else None,
                           round(last, 3) if last is not None else None))
    return latencies, engine, per_sample


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 posts, fewer requests: about a minute")
    ap.add_argument("--posts", type=int, help="tweets generated (default 2,000,000; --quick 10,000)")
    ap.add_argument("--db", type=Path, help="keep the store here and reuse it when it holds the same scenario")
    ap.add_argument("--clients", type=int, default=20, help="concurrent clients for pages and APIs")
    ap.add_argument("--requests", type=int, help="requests per client per endpoint (default 5; --quick 3)")
    ap.add_argument("--sse-clients", type=int, default=200)
    ap.add_argument("--samples", type=int, help="fan-out samples (default 20; --quick 3)")
    ap.add_argument("--live-seconds", type=float, help="live phase per endpoint (default 12; --quick 4)")
    ap.add_argument("--live-every", type=float, default=3.0, help="seconds between live batches")
    ap.add_argument("--live-size", type=int, default=20, help="posts per live batch")
    args = ap.parse_args()
    n = args.posts or (10_000 if args.quick else 2_000_000)
    per_client = args.requests or (3 if args.quick else 5)
    samples = args.samples or (3 if args.quick else 20)
    live_s = args.live_seconds or (4 if args.quick else 12)

    from monitor.config import load_config
    from monitor.store import Store
    from monitor.harness.services import start_redis

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        meta = build_store(args.db or work / "dashboard.db", n)
        ready(args.db or work / "dashboard.db")
        if args.db:  # the kept store stays as built: this run works on a copy
            db = work / "run.db"
            print(f"copying {args.db} ...", file=sys.stderr)
            shutil.copyfile(args.db, db)
        else:
            db = work / "dashboard.db"
        store = Store(f"sqlite:///{db}")
        config = load_config(CONFIG)
        redis_proc, redis_url = start_redis(work)
        os.environ["EARSHOT_REDIS_URL"] = redis_url  # for this process's alert engine
        os.environ["EARSHOT_DATABASE_URL"] = f"sqlite:///{db}"
        server, url = start_server(db, redis_url, work)
        try:
            cookies = sessions(store, args.clients)
            eps = endpoints(store, meta)
            print(f"measuring {len(eps)} endpoints, {args.clients} clients x {per_client} requests ...", file=sys.stderr)
            times = measure(url, eps, cookies, per_client)
            print(f"live: {live_s:.0f} s per endpoint, a batch of {args.live_size} posts every {args.live_every} s ...",
                  file=sys.stderr)
            live, writes = measure_live(url, eps, cookies, store, config, meta, live_s, args.live_every, args.live_size)
            print(f"fan-out to {args.sse_clients} event-stream clients, {samples} samples ...", file=sys.stderr)
            lat, engine, per_sample = fanout(url, store, config, meta, args.sse_clients, samples, work)
        finally:
            server.terminate()
            server.wait(20)
            redis_proc.terminate()
            redis_proc.wait(5)
            store.dispose()
    ms = lambda v: round(v * 1000, 1)  # noqa: E731
    p50 = {name: ms(pct(st, 50)) for name, (st, _rt, _a, _f) in times.items()}
    p95 = {name: ms(pct(st, 95)) for name, (st, _rt, _a, _f) in times.items()}
    rt95 = {name: ms(pct(rt, 95)) for name, (_st, rt, _a, _f) in times.items()}
    alone = {name: ms(statistics.median(a)) for name, (_st, _rt, a, _f) in times.items()}
    first = {name: ms(max(f)) for name, (_st, _rt, _a, f) in times.items()}
    print(f"{meta['posts']:,} posts stored ({n:,} tweets generated, seed {SEED}); store built in "
          f"{sum(meta['timings'].values()):.0f} s {meta['timings']}")
    print(f"{args.clients} clients at once, {per_client} requests each per endpoint; one server process; "
          "this machine is shared with other work: figures vary between runs")
    print(f"{'server time, ms':<36} {'n':>5} {'p50':>8} {'p95':>8} {'max':>8} {'goal p95':>9} "
          f"{'round trip p95':>15} {'alone p50':>10} {'first round':>12}")
    for name, (st, rt, a, f) in times.items():
        goal = "500" if "search" in name else ("-" if "reference" in name else "200")
        print(f"{name:<36} {len(st):>5} {p50[name]:>8.1f} {p95[name]:>8.1f} {ms(max(st)):>8.1f} {goal:>9} "
              f"{rt95[name]:>15.1f} {alone[name]:>10.1f} {first[name]:>12.1f}")
    print("first round: the slowest server time of the first request of every client at once, the cache empty "
          "(what a page costs after the data changed)")
    live95 = {name: ms(pct(v, 95)) for name, v in live.items()}
    live50 = {name: ms(pct(v, 50)) for name, v in live.items()}
    print(f"live: {len(writes)} batches of {args.live_size} posts committed, one every {args.live_every} s "
          f"(write p50 {ms(pct(writes, 50)) if writes else 0} ms), while the clients sent requests for {live_s:.0f} s "
          "per endpoint")
    print(f"{'live server time, ms':<36} {'n':>5} {'p50':>8} {'p95':>8} {'max':>8}")
    for name, v in live.items():
        print(f"{name:<36} {len(v):>5} {live50[name]:>8.1f} {live95[name]:>8.1f} {ms(max(v)):>8.1f}")
    print(f"fan-out, commit to event at each of {args.sse_clients} clients ({len(lat)} deliveries): "
          f"p50 {pct(lat, 50):.3f} s, p95 {pct(lat, 95):.3f} s, max {max(lat):.3f} s (goal p95 < 1 s)")
    if engine:
        print(f"  of which commit to the alert's message on Redis (the alert engine after the batch, in the writing "
              f"process; {len(engine)} samples): p50 {pct(engine, 50):.3f} s, max {max(engine):.3f} s")
    print("  per sample, (commit to Redis, commit to the last of the clients) s: "
          + " ".join(f"({e}, {m})" for e, m in per_sample))
    figures = {"p95_ms": p95, "p50_ms": p50, "search_p95_ms": max(v for k, v in p95.items() if "search" in k), "round_trip_p95_ms": rt95, "alone_p50_ms": alone,
               "first_ms": first, "live_p95_ms": live95, "live_p50_ms": live50,
               "live_search_p95_ms": max(v for k, v in live95.items() if "search" in k), "live_batches": len(writes),
               "live_batch_posts": args.live_size, "live_every_s": args.live_every,
               "fanout_p95_s": round(pct(lat, 95), 3), "fanout_p50_s": round(pct(lat, 50), 3),
               "fanout_engine_p50_s": round(pct(engine, 50), 3) if engine else None,
               "fanout_samples_s": per_sample,
               "posts": meta["posts"], "tweets_generated": n, "clients": args.clients,
               "requests_per_endpoint": args.clients * per_client, "sse_clients": args.sse_clients,
               "fanout_samples": samples}
    print(json.dumps(figures))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--listen"]:
        listener_main(sys.argv[2:])
    else:
        main()
