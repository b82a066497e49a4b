"""Fault runs on the distributed path, for tests/test_faults.py and bench/faults.py (plain functions, no pytest).

A :class:`Cluster` is what production runs, in private copies: Redis (with its append-only file, as
the README says it must run), PostgreSQL, Celery worker processes and one beat, all on free
loopback ports in one folder. Data is the demo generator's week (X API v2 pages, the format
``earshot import`` reads), sent through the workers by ``earshot import --enqueue``. What a fault
run stored is compared with a clean embedded import of the same data (:func:`reference`): the
same posts, topic tags and edges; rollups equal to a recount; nothing counted twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select

from monitor import models as m
from monitor.harness.services import Postgres, start_redis

from monitor.settings import PROJECT_ROOT as ROOT  # the checkout: its config, and the cwd of the workers


# ---------------------------------------------------------------------- data
def demo_pages(out: Path, size: int, *, seed: int = 7, posts: int | None = None, per_page: int = 100) -> Path:
    """The demo week's X pages (oldest first) in one JSONL file: its first ``posts`` tweets (default all),
    ``per_page`` tweets a page (X search sends 10 to 100; a page is never split into batches, so
    small pages make many small batches). Each page keeps the ``includes`` of the page it came from."""
    from monitor.demo.generator import ScenarioSpec, generate

    generate(out / "demo", ScenarioSpec(size=max(size, 1000), seed=seed, with_rss=False), progress=False)
    lines = []
    left = posts if posts is not None else float("inf")
    for f in sorted((out / "demo" / "x").glob("*.jsonl")):
        for ln in f.read_text().splitlines():
            if not ln.strip() or left <= 0:
                continue
            page = json.loads(ln)
            data = page.get("data", [])[:int(min(left, 10 ** 9))]
            left -= len(data)
            for i in range(0, len(data), per_page):
                chunk = data[i:i + per_page]
                lines.append(json.dumps({**page, "data": chunk, "includes": _includes_of(chunk, page.get("includes") or {}),
                                         "meta": {**page.get("meta", {}), "result_count": len(chunk),
                                                  "newest_id": chunk[-1]["id"], "oldest_id": chunk[0]["id"]}}))
    path = out / "pages.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _includes_of(tweets: list[dict], includes: dict) -> dict:
    """The part of a page's ``includes`` that ``tweets`` refer to, as X sends it for a page of them."""
    refs = {r["id"] for t in tweets for r in t.get("referenced_tweets") or []}
    included = [t for t in includes.get("tweets", []) if t["id"] in refs]
    users = set()
    for t in tweets + included:
        users.add(t.get("author_id"))
        users.add(t.get("in_reply_to_user_id"))
        users.update(mn.get("id") for mn in (t.get("entities") or {}).get("mentions", []))
    out = {k: v for k, v in includes.items() if k not in ("tweets", "users")}
    out["tweets"] = included
    out["users"] = [u for u in includes.get("users", []) if u["id"] in users]
    return out


def newest_first(pages: Path, out: Path) -> Path:
    """The same pages as X search returns them: newest page first, newest tweet first in each."""
    lines = [json.loads(ln) for ln in pages.read_text().splitlines() if ln.strip()]
    for page in lines:
        page["data"] = list(reversed(page.get("data", [])))
    out.write_text("\n".join(json.dumps(p) for p in reversed(lines)) + "\n")
    return out


def hostile_accounts(pages: Path, out: Path) -> dict[str, str]:
    """The same pages with hostile values, each on an account that wrote one original post nobody
    refers to: a NUL in one display name (``nul``), a follower count no database column holds
    (``overflow``), and a post whose text holds :data:`REFUSED` (``refused``: the database refuses it
    where :func:`refuse_posts` is on). Returns {"nul": account id, "overflow": ..., "refused": ...}."""
    lines = [json.loads(ln) for ln in pages.read_text().splitlines() if ln.strip()]
    authored: dict[str, int] = {}
    referred: set[str] = set()
    kinds: dict[str, bool] = {}
    for page in lines:
        for t in page.get("data", []):
            authored[t["author_id"]] = authored.get(t["author_id"], 0) + 1
            kinds[t["author_id"]] = kinds.get(t["author_id"], True) and not t.get("referenced_tweets")
            for mnt in (t.get("entities") or {}).get("mentions", []):
                referred.add(mnt.get("id"))
            for ref in t.get("referenced_tweets") or []:
                referred.add(ref.get("author_id"))
        for t in (page.get("includes") or {}).get("tweets", []):
            referred.add(t.get("author_id"))
    lonely = sorted(a for a, n in authored.items() if n == 1 and kinds[a] and a not in referred)
    if len(lonely) < 3:
        raise ValueError("no three accounts that wrote one original post nobody refers to")
    chosen = {"nul": lonely[0], "overflow": lonely[1], "refused": lonely[2]}
    for page in lines:
        for u in (page.get("includes") or {}).get("users", []):
            if u["id"] == chosen["nul"]:
                u["name"] = (u.get("name") or "Jo") + "\x00Reporter"
            if u["id"] == chosen["overflow"]:
                u.setdefault("public_metrics", {})["followers_count"] = 10 ** 20
        for t in page.get("data", []):
            if t["author_id"] == chosen["refused"]:
                t["text"] += f" {REFUSED}"
    out.write_text("\n".join(json.dumps(p) for p in lines) + "\n")
    return chosen


# ---------------------------------------------------------------------- a database that refuses a value
REFUSED = "REFUSED-BY-THE-DATABASE"


def refuse_posts(engine, marker: str = REFUSED) -> None:
    """Make the database refuse any post whose text holds ``marker`` (a trigger, on SQLite or PostgreSQL):
    a value the store refuses that no cleaning fixes, as a stricter schema or a constraint a DBA
    added would (PostgreSQL raises SQLSTATE 22023, a DataError)."""
    from sqlalchemy import text

    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"CREATE TRIGGER refuse_posts BEFORE INSERT ON posts WHEN NEW.text LIKE '%{marker}%' "
                              "BEGIN SELECT RAISE(ABORT, 'value refused by the database'); END"))
        else:
            conn.execute(text(f"""CREATE FUNCTION refuse_posts() RETURNS trigger AS $$ BEGIN
                IF NEW.text LIKE '%{marker}%' THEN
                  RAISE EXCEPTION 'value refused by the database' USING ERRCODE = '22023';
                END IF; RETURN NEW; END $$ LANGUAGE plpgsql"""))
            conn.execute(text("CREATE TRIGGER refuse_posts BEFORE INSERT ON posts FOR EACH ROW "
                              "EXECUTE FUNCTION refuse_posts()"))


def allow_posts(engine) -> None:
    """Undo :func:`refuse_posts` (the fix)."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS refuse_posts" + ("" if engine.dialect.name == "sqlite" else " ON posts")))


# ---------------------------------------------------------------------- comparing
@dataclass
class Snapshot:
    """What a store holds, by platform keys (database ids differ between stores)."""

    posts: set[tuple[str, str, bool]]  # (platform, id, stored only as a reference)
    tags: set[tuple[str, str]]  # (post id, topic)
    edges: set[tuple[str, str, str, str]]  # (post id, kind, from account, to account)
    rollups: dict[tuple[str, Any], tuple]
    recount: dict[tuple[str, Any], tuple]
    post_rows: int
    tag_rows: int

    @property
    def duplicated(self) -> int:
        """Posts stored or counted twice: rows beyond the distinct posts, rollup posts beyond the tags."""
        counted = sum(v[0] for v in self.rollups.values())
        return (self.post_rows - len(self.posts)) + (self.tag_rows - len(self.tags)) + max(0, counted - self.tag_rows)


def snapshot(store) -> Snapshot:
    p, pt, i, a = m.posts, m.post_topics, m.interactions, m.accounts
    src, dst = a.alias("src"), a.alias("dst")
    with store.engine.connect() as conn:
        posts = {(r.platform, r.platform_id, bool(r.referenced_only)) for r in conn.execute(
            select(p.c.platform, p.c.platform_id, p.c.referenced_only))}
        post_rows = conn.execute(select(func.count()).select_from(p)).scalar_one()
        tags = {(r.platform_id, r.topic) for r in conn.execute(
            select(p.c.platform_id, pt.c.topic).join(pt, pt.c.post_id == p.c.id))}
        tag_rows = conn.execute(select(func.count()).select_from(pt)).scalar_one()
        edges = {(r[0], r[1], r[2], r[3]) for r in conn.execute(
            select(p.c.platform_id, i.c.kind, src.c.platform_id, dst.c.platform_id)
            .join(i, i.c.post_id == p.c.id).join(src, src.c.id == i.c.src_account_id)
            .join(dst, dst.c.id == i.c.dst_account_id))}
    return Snapshot(posts, tags, edges, store.rollups(), store.recount_rollups(), post_rows, tag_rows)


def reference(files: list[Path], workdir: Path, batch_size: int = 100) -> Snapshot:
    """A clean embedded import of ``files`` (SQLite, in-process): what every fault run must end with."""
    from monitor.config import load_config
    from monitor.replay import import_files
    from monitor.store import Store
    from monitor.topics import Matcher

    store = Store(f"sqlite:///{workdir / f'reference-{uuid.uuid4().hex[:6]}.db'}")
    try:
        matcher = Matcher(load_config(config_file(workdir)).topics)
        for s in import_files(files, store, matcher, batch_size=batch_size, progress=False):
            if s.failed:
                raise RuntimeError(f"reference import of {s.path} failed: {s.failed}")
        return snapshot(store)
    finally:
        store.dispose()


def compare(expected: Snapshot, got: Snapshot) -> dict[str, Any]:
    """Per fault: posts, tags and edges expected, stored, lost; duplicated; rollups as a recount."""
    def rollup_posts(r):
        return {k: v[0] for k, v in r.items()}

    return {
        "posts": len(expected.posts), "stored": len(got.posts & expected.posts),
        "lost": len(expected.posts - got.posts), "extra": len(got.posts - expected.posts),
        "tags": len(expected.tags), "tags_stored": len(got.tags & expected.tags),
        "tags_lost": len(expected.tags - got.tags),
        "edges": len(expected.edges), "edges_stored": len(got.edges & expected.edges),
        "edges_lost": len(expected.edges - got.edges),
        "duplicated": got.duplicated,
        "rollups_recount": got.rollups == got.recount,
        "rollups_as_reference": rollup_posts(got.rollups) == rollup_posts(expected.rollups),
    }


def config_file(workdir: Path) -> Path:
    """The sample topics without the sources (a fault run collects nothing from the network)."""
    path = workdir / "keywords.yaml"
    if not path.exists():
        text = (ROOT / "config" / "keywords.yaml").read_text()
        path.write_text(text.split("\nsources:")[0] + "\n")
    return path


# ---------------------------------------------------------------------- the cluster
@dataclass
class Cluster:
    """Private Redis (append-only), PostgreSQL, Celery workers and one beat in ``workdir``.

    ``settings`` are extra EARSHOT_* variables for every process (a shrunk retry budget, a quick
    sweeper). Use as a context manager; everything it started is stopped on exit.
    """

    workdir: Path
    concurrency: int = 2
    settings: dict[str, str] = field(default_factory=dict)
    pg: Postgres | None = None  # a server to reuse (a new database is made in it)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "redis").mkdir(exist_ok=True)
        self.redis, url = start_redis(self.workdir / "redis", appendonly=True)
        self.redis_port = int(url.rsplit(":", 1)[1])
        self._own_pg = self.pg is None
        self.pg = self.pg or Postgres()
        self.db_url = self.pg.create_database(f"faults_{uuid.uuid4().hex[:8]}")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "EARSHOT_BROKER_URL": url + "/0",
                    "EARSHOT_DATABASE_URL": self.db_url, "EARSHOT_CONFIG": str(config_file(self.workdir)),
                    "EARSHOT_DATA_DIR": str(self.workdir / "var"), "EARSHOT_LOG_LEVEL": "WARNING", **self.settings}
        for k in ("EARSHOT_REDIS_URL", "EARSHOT_RESULT_BACKEND", "EARSHOT_SMTP_HOST", "EARSHOT_WEBHOOKS"):
            self.env.pop(k, None)
        self.workers: list[subprocess.Popen] = []
        self.beat: subprocess.Popen | None = None
        from monitor.store import Store

        self.store = Store(self.db_url)  # migrates the new database before any worker starts

    # processes
    def start_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        log = open(self.workdir / f"worker-{n}.log", "a")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "collect,process",
             "-c", str(self.concurrency), "--pool", "prefork", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-l", "WARNING", "-n", f"fault{n}-{uuid.uuid4().hex[:4]}@%h"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(proc)
        return proc

    def start_beat(self) -> None:
        log = open(self.workdir / "beat.log", "a")
        self.beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "beat", "-s", str(self.workdir / "beat-schedule"),
             "--max-interval", "1", "-l", "WARNING"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def pool_processes(self, worker: subprocess.Popen) -> list[int]:
        import psutil

        return [c.pid for c in psutil.Process(worker.pid).children()]

    def kill_pool_process(self, worker: subprocess.Popen, timeout: float = 60) -> list[int]:
        """SIGKILL the worker's pool processes until one dies running a task; the pids killed.

        A pool process may be between two batches when it is killed (nothing lost then, nothing
        to show), so the kill is repeated on the pool's next processes until the worker logs a
        task lost with its process (``WorkerLostError``): every kill is a fault the run survives.
        """
        killed: list[int] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kids = [k for k in self.pool_processes(worker) if k not in killed]
            if kids:
                os.kill(kids[0], signal.SIGKILL)
                killed.append(kids[0])
            for _ in range(10):
                time.sleep(0.05)
                if "WorkerLostError" in self.logs():
                    return killed
        raise RuntimeError(f"no pool process was caught running a task within {timeout:g} s ({len(killed)} killed)")

    def kill_worker(self, worker: subprocess.Popen) -> None:
        """SIGKILL the whole worker: its main process and every pool process at once."""
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)

    def kill_redis(self) -> None:
        self.redis.send_signal(signal.SIGKILL)
        self.redis.wait(10)

    def restart_redis(self) -> None:
        self.redis, _ = start_redis(self.workdir / "redis", appendonly=True, port=self.redis_port)

    # the run
    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "monitor.cli", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def enqueue(self, files: list[Path], batch_size: int) -> subprocess.CompletedProcess:
        out = self.cli("import", "--enqueue", "--batch-size", str(batch_size), *map(str, files))
        if out.returncode != 0:
            raise RuntimeError(f"import --enqueue failed ({out.returncode}): {out.stdout[-1500:]}{out.stderr[-1500:]}")
        return out

    def batches(self) -> dict[str, int]:
        """Kept batches by state."""
        rb = m.raw_batches
        with self.store.engine.connect() as conn:
            return {s: n for s, n in conn.execute(select(rb.c.state, func.count()).group_by(rb.c.state))}

    def wait_until(self, cond: Callable[[dict[str, int]], bool], timeout: float, what: str) -> float:
        """Poll the kept batches until ``cond(by state)``; seconds it took. Raises TimeoutError saying ``what``."""
        t0 = time.monotonic()
        last: dict[str, int] = {}
        while time.monotonic() - t0 < timeout:
            try:
                last = self.batches()
                if cond(last):
                    return time.monotonic() - t0
            except Exception:  # the database may be the fault being injected
                pass
            for w in self.workers:
                if w.poll() is not None and w.returncode not in (-9,):
                    raise RuntimeError(f"a worker exited ({w.returncode}); see {self.workdir}/worker-*.log")
            time.sleep(0.1)
        raise TimeoutError(f"{what} not within {timeout:g}s: kept batches {last}; logs in {self.workdir}")

    def settled(self, timeout: float = 120) -> float:
        """Wait until no kept batch waits (every one stored or quarantined); seconds it took."""
        return self.wait_until(lambda b: b.get("pending", 0) == 0 and sum(b.values()) > 0, timeout,
                               "every kept batch stored or quarantined")

    def logs(self) -> str:
        """What the workers logged."""
        return "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("worker-*.log")))

    def batch_health(self) -> dict[str, Any]:
        """The kept batches part of `earshot status` (``monitor.durable.health``), read here."""
        from monitor import durable

        return durable.health(self.store, resend_after=float(self.env.get("EARSHOT_RESEND_AFTER", 300)))

    def status(self) -> dict[str, Any]:
        out = self.cli("status", "--json")
        if out.returncode != 0:
            raise RuntimeError(f"earshot status failed: {out.stderr[-1500:]}")
        return json.loads(out.stdout)

    def close(self) -> None:
        live = [p for p in [*self.workers, self.beat] if p is not None and p.poll() is None]
        for proc in live:  # the run is over: a cold shutdown, all at once
            try:
                os.killpg(proc.pid, signal.SIGQUIT)
            except ProcessLookupError:
                pass
        for proc in live:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        self.store.dispose()
        if self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(10)
        if self._own_pg:
            self.pg.destroy()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
