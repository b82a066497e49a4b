"""The store: engines, migrations, and the idempotent writes of the pipeline.

One :class:`Store` per process and database URL. SQLite runs in WAL mode with
one writer; PostgreSQL takes any number of workers because every write is an
``INSERT ... ON CONFLICT`` keyed by (platform, platform id), so a retried task
or a file imported twice adds nothing twice and concurrent workers never count
a post twice in the rollups.
"""

from __future__ import annotations

import itertools
import json
import logging
from json.encoder import encode_basestring_ascii as _json_string
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from sqlalchemy import JSON, Engine, create_engine, event, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.dialects import postgresql, sqlite

from monitor import models as m, shares, textsig
from monitor.clean import clean_text
from monitor.sentiment import NEGATIVE, POSITIVE
from monitor.items import (
    EDGE_MENTION,
    EDGE_QUOTE,
    EDGE_REPLY,
    EDGE_RETWEET,
    RETWEET,
    Account,
    Gap,
    Post,
    merge_accounts,
)

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreError(Exception):
    """The store cannot be reached or is not at the expected schema."""


def now() -> datetime:
    return datetime.now(timezone.utc)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and foreign keys.

    For bulk ingest, SQLite also gets a 64 MB page cache and checkpoints its WAL every
    10,000 pages (40 MB) rather than 1,000: index pages that every batch touches are then
    copied back to the database file once per many commits, not once per few.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head", *, down: bool = False) -> None:
    """Bring the database to ``revision`` with Alembic (creates it when empty); ``down``: down to it."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@dataclass(slots=True)
class Scored:
    """A post with what the pipeline worked out: sentiment and matched topics."""

    post: Post
    sentiment: float
    topics: dict[str, list[str]] = field(default_factory=dict)  # topic -> matched terms


@dataclass
class WriteResult:
    posts_in: int = 0
    posts_new: int = 0
    accounts: int = 0
    interactions_new: int = 0
    posts_promoted: int = 0  # stored before only as a reference, collected now: tagged and counted now
    topic_posts: dict[str, int] = field(default_factory=dict)  # topic -> posts tagged (new or promoted)
    new_post_ids: list[int] = field(default_factory=list)  # ids of the posts new or promoted
    claimed: bool = True  # False: the write's claim found the batch already stored, and nothing was written

    @property
    def posts_counted(self) -> int:
        """Posts this batch added to the figures: the new ones and the promoted ones."""
        return self.posts_new + self.posts_promoted

    def add(self, other: "WriteResult") -> None:
        self.posts_in += other.posts_in
        self.posts_new += other.posts_new
        self.accounts += other.accounts
        self.interactions_new += other.interactions_new
        self.posts_promoted += other.posts_promoted
        for k, v in other.topic_posts.items():
            self.topic_posts[k] = self.topic_posts.get(k, 0) + v


class _Bulk:
    """Multi-row ``INSERT ... ON CONFLICT ... [RETURNING]`` of plain tuples: the hot path of a batch.

    SQLAlchemy Core's executemany runs every parameter of every row through Python (parameter
    dicts, type processors for times and JSON); for the thousands of rows of a batch that cost
    several times what the database itself spends (see ``bench/ingest.py``). Here each row is a
    tuple of values the driver takes as they are (:meth:`dt` and :meth:`js` make them, in the same
    form SQLAlchemy writes, so every Core query reads them back unchanged), and a chunk of rows
    goes as one statement. The SQL is the same on SQLite and PostgreSQL but for the placeholder.
    """

    def __init__(self, engine: Engine):
        self.sqlite = engine.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.json_mark = self.mark if self.sqlite else "CAST(%s AS JSON)"
        # SQLite takes at most 32,766 parameters a statement, PostgreSQL 65,535
        self.max_params = 32_000 if self.sqlite else 60_000
        self._sql: dict[tuple, tuple[str, str]] = {}  # multi-row statements: (head, one row's marks)
        self._one_row: dict[tuple, str] = {}  # one-row statements for executemany (SQLite)

    def dt(self, value: datetime | None) -> Any:
        """A time as stored: naive UTC (as SQLAlchemy's text on SQLite, microseconds always written)."""
        if value is None:
            return None
        return _sqlite_time(value) if self.sqlite else _naive_utc(value)

    def bucket(self, value: datetime) -> Any:
        """The start of the rollup bucket holding ``value``, as stored (see :func:`monitor.models.bucket_start`)."""
        ts = int(value.timestamp())
        key = (self.sqlite, ts - ts % m.BUCKET_SECONDS)
        out = _BUCKETS.get(key)
        if out is None:
            if len(_BUCKETS) > 100_000:
                _BUCKETS.clear()
            out = _BUCKETS[key] = self.dt(m.bucket_start(value))
        return out

    @staticmethod
    def js(value: Any) -> str | None:
        """A JSON column's value; empty and missing are SQL NULL.

        A list of strings (links, hashtags, matched terms: most values) is written directly, the
        same text :func:`json.dumps` makes, at a fraction of its cost.
        """
        if not value:
            return None
        if type(value) is list:
            try:
                return "[" + ", ".join(map(_json_string, value)) + "]"
            except TypeError:  # not all strings
                pass
        return json.dumps(value)

    def run(self, conn, table, columns: Sequence[str], rows: Sequence[tuple], tail: str = "") -> list[tuple]:
        """Insert ``rows`` (tuples in ``columns`` order) with ``tail`` (ON CONFLICT ..., RETURNING ...)."""
        if not rows:
            return []
        key = (table.name, tuple(columns), tail)
        if key not in self._sql:
            marks = ", ".join(self.json_mark if isinstance(table.c[c].type, JSON) else self.mark for c in columns)
            names = ", ".join(f'"{c}"' for c in columns)
            head = f"INSERT INTO {table.name} ({names}) VALUES "
            self._sql[key] = (head, f"({marks})")
        head, one = self._sql[key]
        per = max(1, self.max_params // len(columns))
        out: list[tuple] = []
        cur = conn.connection.cursor()  # the DBAPI cursor of the transaction's connection
        try:
            for i in range(0, len(rows), per):
                chunk = rows[i:i + per]
                cur.execute(f"{head}{', '.join([one] * len(chunk))} {tail}", list(itertools.chain.from_iterable(chunk)))
                if cur.description is not None:
                    out.extend(cur.fetchall())
        finally:
            cur.close()
        return out


    def insert_new(self, conn, table, columns: Sequence[str], rows: Sequence[tuple], conflict: str,
                   returning: str | None) -> list[tuple] | int:
        """``INSERT ... ON CONFLICT (conflict) DO NOTHING``: the ``returning`` columns of the rows it inserted
        (their number if ``returning`` is None).

        PostgreSQL runs it as :meth:`run` with ``RETURNING``. On SQLite an ``executemany`` of the
        one-row statement is much cheaper than one statement of many rows with ``RETURNING``, and
        the rows it inserted are found by rowid: the first write of a transaction takes SQLite's
        only write lock, and while it is held each new row gets the next rowid (the largest plus
        one), so the ``n`` rows inserted are the ``n`` rowids up to the last one inserted.
        """
        if not rows:
            return [] if returning else 0
        if not self.sqlite:
            tail = f"ON CONFLICT ({conflict}) DO NOTHING" + (f" RETURNING {returning}" if returning else " RETURNING 1")
            out = self.run(conn, table, columns, rows, tail)
            return out if returning else len(out)
        key = (table.name, tuple(columns), conflict)
        sql = self._one_row.get(key)
        if sql is None:
            names = ", ".join(f'"{c}"' for c in columns)
            sql = self._one_row[key] = (f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))}) "
                                        f"ON CONFLICT ({conflict}) DO NOTHING")
        dbapi = conn.connection.dbapi_connection
        before = dbapi.total_changes
        cur = dbapi.cursor()
        try:
            cur.executemany(sql, rows)
            n = dbapi.total_changes - before
            if not returning:
                return n
            if not n:
                return []
            last = cur.execute("SELECT last_insert_rowid()").fetchone()[0]
            found = cur.execute(f"SELECT {returning} FROM {table.name} WHERE rowid BETWEEN ? AND ?",
                                (last - n + 1, last)).fetchall()
        finally:
            cur.close()
        if len(found) != n:  # rowids were not consecutive (a table at the largest rowid): never guess
            raise StoreError(f"cannot tell the {n} rows just inserted into {table.name} by rowid")
        return found

    def fetch(self, conn, sql: str, params: Sequence, values: Sequence) -> list[tuple]:
        """Rows of ``sql``, whose ``{}`` are filled with one placeholder and then one per value of ``values``."""
        cur = conn.connection.cursor()
        try:
            cur.execute(sql.format(self.mark, ", ".join([self.mark] * len(values))), [*params, *values])
            return cur.fetchall()
        finally:
            cur.close()


_BUCKETS: dict[tuple[bool, int], Any] = {}  # (SQLite?, bucket start) -> as stored


def _naive_utc(value: datetime) -> datetime:
    tz = value.tzinfo
    if tz is None:
        return value
    if tz is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None)


def _sqlite_time(value: datetime) -> str:
    # the text SQLAlchemy's SQLite DateTime writes and parses back
    if value.tzinfo is not timezone.utc:
        value = _naive_utc(value)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


_UNKNOWN = object()  # a column whose stored value this process does not know
_STUB = (None,) * 10 + (True,)  # the columns of an account known only by id


class _Written:
    """What this process has committed to the store, so that a batch does not send it again.

    Most rows a source hands over are already stored: X repeats the author of every post and
    every referenced post on every page, and a busy account posts all day. An account upsert
    that would change nothing, or a post insert that would conflict, still costs an index
    lookup, a row write and the WAL pages it dirties. This memory of committed rows lets a batch
    skip them, with the same end state:

    - an **account** is skipped when every column the incoming record carries equals what this
      process knows the stored row holds (the upsert only fills holes from partial records, so
      it would change nothing) and the stored row was written at most :attr:`REFRESH` ago, so
      ``last_seen`` stays that fresh;
    - a **post** is skipped when it was committed before as collected data, or when it was
      committed before in any form and arrives again only as a reference (``ON CONFLICT DO
      NOTHING`` would drop it anyway). A post stored only as a reference (``referenced_only``) and
      arriving now as collected data is never skipped: the store promotes it
      (:meth:`Store.write_batch`).

    Entries are added only after their transaction commits. Other workers' writes are not
    seen here: skipping only ever avoids repeating a write this process already made (an
    account another worker has updated since is not overwritten with the same old record
    again, where the upsert would have let the last write win). The memory holds at most
    :attr:`ACCOUNTS` accounts (about 0.5 kB each) and :attr:`POSTS` post keys (under 0.1 kB
    each), the most recent, so a busy worker keeps well under 100 MB for it. It is cleared if a
    write finds a remembered row gone (:meth:`Store.write_batch`); a worker whose database is
    restored from a backup should be restarted.
    """

    ACCOUNTS = 100_000
    POSTS = 400_000
    REFRESH = timedelta(minutes=15)

    def __init__(self) -> None:
        # (platform, platform id) -> (id, known columns (_UNKNOWN where not known), written at, last sent)
        self.accounts: dict[tuple[str, str], tuple[int, tuple, datetime, tuple]] = {}
        # (platform, platform id) -> True once stored as collected data, False while only as a reference
        self.posts: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.accounts.clear()
            self.posts.clear()

    def account_id(self, key: tuple[str, str], values: tuple, stale_before: datetime) -> int | None:
        """The stored id of an account whose upsert with ``values`` would change nothing, else None.

        ``values`` are the account's columns as sent, ``partial`` last.
        """
        hit = self.accounts.get(key)
        if hit is None or hit[2] < stale_before:
            return None
        if values == hit[3]:  # what was sent last time: the same upsert again changes nothing
            return hit[0]
        known = hit[1]
        for v, k in zip(values[:-1], known):
            if v is not None and v is not k and v != k:
                return None
        # partial = stored AND incoming: unchanged if the incoming record is partial or the stored one is not
        return hit[0] if values[-1] or known[-1] is False else None

    def add_accounts(self, written: Iterable[tuple[tuple[str, str], int, tuple]], at: datetime) -> None:
        with self._lock:
            accounts = self.accounts
            for key, id_, values in written:
                hit = accounts.get(key)
                known = hit[1] if hit is not None and hit[0] == id_ else (_UNKNOWN,) * len(values)
                # COALESCE(incoming, stored) for the data columns; partial becomes False with a full record
                merged = tuple(k if v is None else v for v, k in zip(values[:-1], known))
                accounts[key] = (id_, (*merged, known[-1] if values[-1] else False), at, values)
            forget_oldest(accounts, self.ACCOUNTS)

    def add_posts(self, written: Iterable[tuple[tuple[str, str], bool]]) -> None:
        """Remember posts committed: ``(key, collected)``, collected False for a post sent only as a reference."""
        with self._lock:
            posts = self.posts
            for key, collected in written:
                posts[key] = collected or posts.get(key, False)
            forget_oldest(posts, self.POSTS)


def forget_oldest(memory: dict, limit: int) -> None:
    """Keep a worker's memory (a dict in the order its keys came) bounded: past ``limit`` keys,
    the oldest are dropped until three quarters of ``limit`` are left (so it is not done every batch)."""
    if len(memory) > limit:
        for key in list(itertools.islice(memory, len(memory) - limit * 3 // 4)):
            memory.pop(key, None)


class Store:
    """Reads and writes of the core tables. Thread-safe as the engine is."""

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        if migrate:
            try:
                upgrade(self.engine)
            except Exception as exc:  # OperationalError and friends: say where
                raise StoreError(f"cannot open or migrate the store at {self.safe_url}: {exc}") from exc
        self._bulk = _Bulk(self.engine)
        self._written = _Written()
        self._statements: dict[Any, Any] = {}

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ helpers
    def _insert(self, table):
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    # ------------------------------------------------------------------ writes
    def write_batch(
        self,
        scored: Sequence[Scored],
        accounts: Iterable[Account],
        *,
        source: str | None = None,
        cursor: dict[str, Any] | None = None,
        gaps: Sequence[Gap] = (),
        errors: Sequence[str] = (),
        received: int | None = None,
        claim: Callable[[Any], bool] | None = None,
    ) -> WriteResult:
        """Store posts, accounts, edges, topic tags and rollups, plus the source's cursor, in one transaction.

        ``received`` is how many posts the source delivered, when the caller left out some it knows
        are stored (:meth:`stored_post_keys`); it is what the source's run counts as items.
        ``claim(conn)`` runs first inside the transaction; when it returns False nothing is written
        and the result says ``claimed=False`` (a kept batch another worker has stored: see
        :mod:`monitor.durable`).
        """
        accounts = list(accounts)
        try:
            return self._write_batch_wrapped(scored, accounts, source, cursor, gaps, errors, received, claim)
        except IntegrityError:
            if not (self._written.accounts or self._written.posts):
                raise
            # a row this process remembers writing is gone (the database was restored or pruned):
            # forget what was written and send everything
            log.warning("the store no longer holds rows this worker wrote; writing the batch in full")
            self._written.clear()
            return self._write_batch_wrapped(scored, accounts, source, cursor, gaps, errors, received, claim)

    def _write_batch_wrapped(self, *args) -> WriteResult:
        """:meth:`_write_batch`, with errors of the raw cursor raised as SQLAlchemy's, like every other query's."""
        dbapi = self.engine.dialect.dbapi
        try:
            return self._write_batch(*args)
        except dbapi.Error as exc:
            raise DBAPIError.instance(None, None, exc, dbapi.Error) from exc

    def stored_post_keys(self) -> Mapping[tuple[str, str], bool]:
        """Posts this process has stored, by key ``(platform, platform id)`` (a live, read-only view):
        True when stored as collected data, False when stored only as a reference (``referenced_only``),
        which a later batch that collects it still promotes."""
        return self._written.posts

    def _write_batch(self, scored, accounts, source, cursor, gaps, errors, received, claim=None) -> WriteResult:
        result = WriteResult(posts_in=len(scored) if received is None else received)
        t_now = now()
        written_accounts: list[tuple[tuple[str, str], int, tuple]] = []
        written_posts: list[tuple[tuple[str, str], bool]] = []
        with self.engine.begin() as conn:
            if claim is not None and not claim(conn):
                result.claimed = False
                return result
            ids = self._upsert_accounts(conn, scored, accounts, t_now, written_accounts)
            result.accounts = len(ids)
            new, promote = self._insert_posts(conn, scored, ids, t_now, written_posts)
            promoted = self._promote_posts(conn, promote)
            result.posts_new, result.posts_promoted = len(new), len(promoted)
            counted = sorted(new + promoted, key=lambda x: x[0]) if promoted else new
            if counted:
                result.interactions_new = self._insert_interactions(conn, counted, new, ids)
                result.topic_posts = self._insert_topics_and_rollups(conn, counted, ids)
                if result.topic_posts:  # the new tags' shares and links (monitor.shares)
                    shares.add_tags_of(conn, self.dialect, [pid for pid, s, _ in counted if s.topics])
                result.new_post_ids = [pid for pid, _, _ in counted]
            if source is not None:
                self._record_run(conn, source, result, cursor, gaps, errors, t_now)
        # committed: remember it
        self._written.add_accounts(written_accounts, t_now)
        self._written.add_posts(written_posts)
        return result

    _ACCOUNT_COLUMNS = ("platform", "platform_id", "handle", "name", "description", "followers", "following",
                        "posts_count", "created_at", "verified", "url", "location", "partial", "first_seen",
                        "last_seen")
    # A full record replaces what a partial one said; a partial one only fills holes.
    _ACCOUNT_UPSERT = (
        "ON CONFLICT (platform, platform_id) DO UPDATE SET "
        + ", ".join(f'"{c}" = COALESCE(excluded."{c}", accounts."{c}")'
                    for c in ("handle", "name", "description", "followers", "following", "posts_count",
                              "created_at", "verified", "url", "location"))
        + ", partial = (accounts.partial AND excluded.partial), last_seen = excluded.last_seen"
        " RETURNING id, platform, platform_id"
    )
    _POST_COLUMNS = ("platform", "platform_id", "kind", "account_id", "created_at", "text", "title", "lang", "url",
                     "source", "hashtags", "links", "ref_kind", "ref_platform_id", "conversation_id", "edit_of",
                     "withheld", "retweets", "replies", "likes", "quotes", "sentiment", "stored_at",
                     "referenced_only", "text_sig")
    _EDGE_COLUMNS = ("post_id", "kind", "src_account_id", "dst_account_id", "created_at", "platform",
                     "ref_platform_id")

    def _upsert_accounts(self, conn, scored, accounts, t_now, written) -> dict[tuple[str, str], int]:
        """Upsert the batch's accounts and every account its posts refer to; their ids by key.

        ``written`` receives ``(key, id, values)`` of every row sent, to remember once committed.
        """
        ids: dict[tuple[str, str], int] = {}
        skip = self._written.account_id
        stale_before = t_now - _Written.REFRESH
        send: list[tuple[Account, tuple]] = []
        for a in merge_accounts(accounts):
            values = (a.handle, a.name, a.description, a.followers, a.following, a.posts_count, a.created_at,
                      a.verified, a.url, a.location, bool(a.partial))
            id_ = skip(a.key, values, stale_before)
            if id_ is None:
                send.append((a, values))
            else:
                ids[a.key] = id_
        # every author and referenced account must exist, even if only by id: a stub (partial, no
        # data) of each the batch did not describe; a stub of a remembered account changes nothing
        described = {a.key for a, _ in send}
        referenced: dict[tuple[str, str], None] = {}
        for s in scored:
            p = s.post
            plat = p.platform
            referenced[(plat, p.author_id)] = None
            for r in p.references:
                if r.author_id:
                    referenced[(plat, r.author_id)] = None
            for mid in p.mentions:
                referenced[(plat, mid)] = None
        for key in referenced:
            if key not in ids and key not in described:
                id_ = skip(key, _STUB, stale_before)
                if id_ is None:
                    described.add(key)
                    send.append((Account(platform=key[0], platform_id=key[1], partial=True), _STUB))
                else:
                    ids[key] = id_
        if not send:
            return ids
        send.sort(key=lambda x: x[0].key)  # a stable lock order across workers
        dt, now_ = self._bulk.dt, self._bulk.dt(t_now)
        rows = [(a.platform, a.platform_id, *v[:6], dt(v[6]), *v[7:], now_, now_) for a, v in send]
        returned = self._bulk.run(conn, m.accounts, self._ACCOUNT_COLUMNS, rows, self._ACCOUNT_UPSERT)
        for id_, plat, pid in returned:
            ids[(plat, pid)] = id_
        missing = [a for a, _ in send if a.key not in ids]
        if missing:  # some drivers return nothing for updated rows: look them up
            t = m.accounts
            for plat in {a.platform for a in missing}:
                pids = [a.platform_id for a in missing if a.platform == plat]
                for chunk in _chunks(pids, 500):
                    q = select(t.c.id, t.c.platform_id).where(t.c.platform == plat, t.c.platform_id.in_(chunk))
                    for row in conn.execute(q):
                        ids[(plat, row.platform_id)] = row.id
        written.extend((a.key, ids[a.key], v) for a, v in send)
        return ids

    def _insert_posts(self, conn, scored, ids, t_now, written):
        """Insert the posts not stored yet.

        Returns ``(new, promote)``: (id, scored post, time as stored) of the new ones, in batch
        order, and the posts of the batch collected as data (not ``referenced_only``) that were
        already stored, by key: any of them stored only as a reference is to be promoted
        (:meth:`_promote_posts`). ``written`` receives ``(key, collected)`` of every post sent
        (stored once committed, new or not).
        """
        b = self._bulk
        dt, js, now_ = b.dt, b.js, b.dt(t_now)
        by_key: dict[tuple[str, str], tuple[Scored, Any]] = {}
        stored = self._written.posts
        for s in scored:
            p = s.post
            key = (p.platform, p.platform_id)
            ref_only = bool(p.extra.get("referenced_only"))
            known = stored.get(key)
            if known or (ref_only and known is not None):
                continue  # stored as data already, or stored and sent again as a reference only
            have = by_key.get(key)
            if have is not None and (ref_only or not have[0].post.extra.get("referenced_only")):
                continue  # a post twice in one batch: its collected copy wins
            by_key[key] = (s, dt(p.created_at))
        rows = []
        # each text's signature for the near-duplicate search, worked out once here (monitor.textsig); only
        # for a post tagged with a topic (the search compares a topic's posts: a post tagged later, a promoted
        # reference, is signed from its text when compared)
        sigs = textsig.post_signatures([s.post.kind if s.topics else "retweet" for s, _ in by_key.values()],
                                       [s.post.text for s, _ in by_key.values()])
        for (s, created), sig in zip(by_key.values(), sigs):
            p = s.post
            main_ref = p.references[0] if p.references else None
            rows.append((
                p.platform, p.platform_id, p.kind, ids[(p.platform, p.author_id)], created, p.text,
                p.title, p.lang, p.url, p.source, js(p.hashtags), js(p.links),
                main_ref.kind if main_ref else None, main_ref.platform_id if main_ref else None,
                p.conversation_id, p.edit_of, js(p.withheld), p.retweets, p.replies, p.likes, p.quotes,
                s.sentiment, now_, bool(p.extra.get("referenced_only")), sig,
            ))
        returned = b.insert_new(conn, m.posts, self._POST_COLUMNS, rows, "platform, platform_id",
                                "id, platform, platform_id")
        written.extend((key, not s.post.extra.get("referenced_only")) for key, (s, _) in by_key.items())
        try:
            new = [(id_, *by_key[(plat, pid)]) for id_, plat, pid in returned]
        except KeyError as exc:  # not a row of this batch: never store edges or tags against it
            raise StoreError(f"a post inserted by this batch came back as {exc}") from None
        new.sort(key=lambda x: x[0])  # RETURNING order is not promised: keep the batch's order
        inserted = {(plat, pid) for _, plat, pid in returned}
        promote = {key: s for key, (s, _) in by_key.items()
                   if key not in inserted and not s.post.extra.get("referenced_only")}
        return new, promote

    def _promote_posts(self, conn, promote: dict[tuple[str, str], Scored]) -> list[tuple[int, Scored, Any]]:
        """Promote posts stored only as a reference that this batch collects as data, exactly once.

        A post first stored because another post refers to it (a retweet's original in X's
        ``includes.tweets``) is ``referenced_only``: not tagged, not rolled up. When it then
        arrives as collected data, the insert conflicts; here its row's ``referenced_only`` is
        cleared by one ``UPDATE ... WHERE referenced_only RETURNING``, and the rows it returns are
        tagged and rolled up by the caller like new posts. The condition makes the promotion
        happen once however many workers race on it: PostgreSQL re-checks it on a row another
        transaction updated (the loser's update matches nothing); SQLite has one writer.
        Returns (id, scored post, time as stored) of the posts promoted.
        """
        if not promote:
            return []
        out = []
        by_platform: dict[str, list[str]] = defaultdict(list)
        for plat, pid in sorted(promote):  # a stable lock order across workers
            by_platform[plat].append(pid)
        for plat, pids in by_platform.items():
            for chunk in _chunks(pids, 500):
                for id_, pid, created in self._bulk.fetch(
                        conn, "UPDATE posts SET referenced_only = false WHERE platform = {} AND referenced_only "
                        "AND platform_id IN ({}) RETURNING id, platform_id, created_at", [plat], chunk):
                    out.append((id_, promote[(plat, pid)], created))  # created_at as stored: written back as it is
        return out

    def _resolve_reference_authors(self, conn, new, ids) -> None:
        """Fill in the author of retweeted/quoted posts the source did not describe, from stored posts."""
        unknown: dict[str, set[str]] = defaultdict(set)
        for _, s, _ in new:
            for r in s.post.references:
                if r.author_id is None and r.platform_id and r.kind in ("retweet", "quote"):
                    unknown[s.post.platform].add(r.platform_id)
        found: dict[tuple[str, str], str] = {}
        p, a = m.posts, m.accounts
        for plat, pids in unknown.items():
            for chunk in _chunks(sorted(pids), 500):
                q = (select(p.c.platform_id, p.c.account_id, a.c.platform_id.label("author"))
                     .join(a, a.c.id == p.c.account_id).where(p.c.platform == plat, p.c.platform_id.in_(chunk)))
                for row in conn.execute(q):
                    found[(plat, row.platform_id)] = row.author
                    ids[(plat, row.author)] = row.account_id
        if found:
            for _, s, _ in new:
                for r in s.post.references:
                    if r.author_id is None and (s.post.platform, r.platform_id) in found:
                        r.author_id = found[(s.post.platform, r.platform_id)]

    def _backfill_edges(self, conn, new, ids) -> list[tuple]:
        """Edges of posts stored earlier that retweeted or quoted one of these new posts before its author was known."""
        targets: dict[str, dict[str, int]] = defaultdict(dict)
        for _, s, _ in new:
            targets[s.post.platform][s.post.platform_id] = ids[(s.post.platform, s.post.author_id)]
        rows = []
        for plat, by_pid in targets.items():
            for chunk in _chunks(list(by_pid), 500):
                found = self._bulk.fetch(
                    conn, "SELECT id, ref_kind, account_id, ref_platform_id, created_at FROM posts WHERE platform = {} "
                    "AND ref_kind IN ('retweet', 'quote') AND ref_platform_id IN ({})", [plat], chunk)
                # created_at comes back as stored, so it is written back as it is
                rows.extend((post_id, kind, src, by_pid[ref], created, plat, ref)
                            for post_id, kind, src, ref, created in found)
        return rows

    def _insert_interactions(self, conn, new, inserted, ids) -> int:
        """Edges of ``new`` posts (inserted or promoted), and those earlier posts owe the ``inserted`` ones."""
        self._resolve_reference_authors(conn, new, ids)
        n = 0
        owed = self._backfill_edges(conn, inserted, ids) if inserted else []
        if owed:  # earlier posts' shares, now counted for the topic tags those posts have (monitor.shares)
            got = self._bulk.insert_new(conn, m.interactions, self._EDGE_COLUMNS, owed, "post_id, kind, dst_account_id",
                                        "id, kind")
            n = len(got)
            shares.add_edges(conn, self.dialect, [id_ for id_, kind in got if kind in shares.SHARE_KINDS])
        rows = []
        for post_id, s, created in new:
            p = s.post
            src = ids[(p.platform, p.author_id)]
            for kind, dst_key, ref_id in interaction_targets(p):
                dst = ids.get(dst_key)
                if dst is not None:
                    rows.append((post_id, kind, src, dst, created, p.platform, ref_id))
        if not rows:
            return n
        return n + self._bulk.insert_new(conn, m.interactions, self._EDGE_COLUMNS, rows, "post_id, kind, dst_account_id",
                                         None)

    def _insert_topics_and_rollups(self, conn, new, ids) -> dict[str, int]:
        b = self._bulk
        js = b.js
        tag_rows = []
        author_rows: dict[tuple, None] = {}
        agg: dict[tuple[str, Any], list] = defaultdict(lambda: [0, 0.0, 0, 0])
        per_topic: dict[str, int] = defaultdict(int)
        dumped: dict[int, str | None] = {}  # id(terms) -> JSON: posts with the same words share their terms lists
        for post_id, s, created in new:
            if not s.topics:
                continue
            p = s.post
            bucket = b.bucket(p.created_at)
            account_id = ids[(p.platform, p.author_id)]
            sent = s.sentiment
            neg, pos = sent <= NEGATIVE, sent >= POSITIVE
            for topic, terms in s.topics.items():
                j = dumped.get(id(terms))
                if j is None:
                    j = dumped[id(terms)] = js(terms)
                tag_rows.append((post_id, topic, created, account_id, j))
                author_rows[(topic, bucket, account_id)] = None
                a = agg[(topic, bucket)]
                a[0] += 1
                a[1] += sent
                a[2] += neg
                a[3] += pos
                per_topic[topic] += 1
        if not tag_rows:
            return {}
        b.run(conn, m.post_topics, ("post_id", "topic", "created_at", "account_id", "terms"), tag_rows,
              "ON CONFLICT (post_id, topic) DO NOTHING")
        # distinct authors: count only the (topic, bucket, author) triples that are new
        new_authors: dict[tuple[str, Any], int] = defaultdict(int)
        for topic, bucket in b.insert_new(conn, m.rollup_authors, ("topic", "bucket", "account_id"), list(author_rows),
                                          "topic, bucket, account_id", "topic, bucket"):
            new_authors[(topic, bucket)] += 1
        rows = [(topic, bucket, v[0], new_authors.get((topic, bucket), 0), v[1], v[2], v[3])
                for (topic, bucket), v in sorted(agg.items())]  # sorted: a stable lock order across workers
        b.run(conn, m.rollups, ("topic", "bucket", "posts", "authors", "sentiment_sum", "negative", "positive"), rows,
              "ON CONFLICT (topic, bucket) DO UPDATE SET posts = rollups.posts + excluded.posts, "
              "authors = rollups.authors + excluded.authors, "
              "sentiment_sum = rollups.sentiment_sum + excluded.sentiment_sum, "
              "negative = rollups.negative + excluded.negative, positive = rollups.positive + excluded.positive")
        return dict(per_topic)

    def _run_upsert(self, with_cursor: bool):
        """The upsert of a source's state after a run (built once: it is the same every batch)."""
        if with_cursor in self._statements:
            return self._statements[with_cursor]
        ss = m.source_state
        stmt = self._insert(ss)
        ex = stmt.excluded
        set_ = {
            "last_run_at": ex.last_run_at,
            "items": ss.c["items"] + ex["items"],
            "new_items": ss.c.new_items + ex.new_items,
            "errors": ss.c.errors + ex.errors,
            "rate_limit_waits": ss.c.rate_limit_waits + ex.rate_limit_waits,
            "rate_limit_seconds": ss.c.rate_limit_seconds + ex.rate_limit_seconds,
            "last_ok_at": func.coalesce(ex.last_ok_at, ss.c.last_ok_at),
            "last_error": func.coalesce(ex.last_error, ss.c.last_error),
            "last_error_at": func.coalesce(ex.last_error_at, ss.c.last_error_at),
        }
        if with_cursor:
            set_["cursor"] = ex.cursor
        stmt = self._statements[with_cursor] = stmt.on_conflict_do_update(index_elements=["source"], set_=set_)
        return stmt

    def _record_run(self, conn, source, result, cursor, gaps, errors, t_now) -> None:
        waits = [g for g in gaps if g.reason == "rate_limited"]
        wait_s = sum(((g.end or t_now) - g.start).total_seconds() for g in waits)
        values = {
            "source": source, "cursor": cursor, "last_run_at": t_now,
            "last_ok_at": t_now if not errors else None,
            # a source's error can quote what a server said: cleaned like everything strangers send
            "last_error": clean_text("; ".join(errors), limit=4000) if errors else None,
            "last_error_at": t_now if errors else None,
            "runs": 0, "items": result.posts_in, "new_items": result.posts_new, "errors": len(errors),
            "rate_limit_waits": len(waits), "rate_limit_seconds": wait_s,
        }
        conn.execute(self._run_upsert(cursor is not None), values)
        if gaps:
            g = self._insert(m.gaps).on_conflict_do_update(
                index_elements=["source", "start", "reason"],
                set_={"end": self._insert(m.gaps).excluded.end, "detail": self._insert(m.gaps).excluded.detail},
            )
            conn.execute(g, [{"source": x.source or source, "start": x.start, "end": x.end,
                              "reason": x.reason, "detail": clean_text(x.detail, limit=4000)} for x in gaps])

    def record_run_in(self, conn, source: str, *, cursor: dict[str, Any] | None = None, gaps: Sequence[Gap] = (),
                      errors: Sequence[str] = ()) -> None:
        """Record a source's run (its cursor, gaps and errors, no items) inside the caller's transaction."""
        self._record_run(conn, source, WriteResult(), cursor, gaps, errors, now())

    def record_source_run(self, source: str, *, started: bool = False, error: str | None = None,
                          gaps: Sequence[Gap] = ()) -> None:
        """Note a run that stored nothing (a source that failed outright, or a run starting)."""
        with self.engine.begin() as conn:
            errors = [error] if error else []
            self._record_run(conn, source, WriteResult(), None, gaps, errors, now())
            if started:
                conn.execute(m.source_state.update().where(m.source_state.c.source == source)
                             .values(runs=m.source_state.c.runs + 1))

    # ------------------------------------------------------------------ reads
    def cursor(self, source: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(m.source_state.c.cursor).where(m.source_state.c.source == source)).first()
        return row.cursor if row else None

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(tbl)).scalar_one()
                for name, tbl in (("posts", m.posts), ("accounts", m.accounts), ("interactions", m.interactions))
            }

    def topic_counts(self, since: datetime | None = None, until: datetime | None = None) -> dict[str, dict[str, float]]:
        """Per topic: posts, distinct authors (summed per bucket is wrong, so counted), mean sentiment, negative share.

        Everything comes from the rollups: the authors are counted distinct per topic over its rows of
        ``rollup_authors`` in the window's buckets (a range of its primary key, which holds every column
        read), not over the tags joined with the posts."""
        r = m.rollups
        q = select(r.c.topic, func.sum(r.c.posts), func.sum(r.c.sentiment_sum), func.sum(r.c.negative)).group_by(r.c.topic)
        if since is not None:
            q = q.where(r.c.bucket >= since)
        if until is not None:
            q = q.where(r.c.bucket < until)
        out = {}
        with self.engine.connect() as conn:
            for topic, n, s, neg in conn.execute(q):
                out[topic] = {"posts": int(n or 0), "sentiment": (s or 0.0) / n if n else 0.0,
                              "negative_share": (neg or 0) / n if n else 0.0}
            ra = m.rollup_authors
            for topic in sorted(out):
                q2 = select(func.count(ra.c.account_id.distinct())).where(ra.c.topic == topic)
                if since is not None:
                    q2 = q2.where(ra.c.bucket >= since)
                if until is not None:
                    q2 = q2.where(ra.c.bucket < until)
                out[topic]["authors"] = int(conn.execute(q2).scalar() or 0)
        return out


    def rollups(self) -> dict[tuple[str, datetime], tuple[int, int, float, int, int]]:
        """The stored rollups: (topic, bucket start) -> (posts, authors, sentiment sum, negative, positive)."""
        r = m.rollups
        q = select(r.c.topic, r.c.bucket, r.c.posts, r.c.authors, r.c.sentiment_sum, r.c.negative, r.c.positive)
        with self.engine.connect() as conn:
            return {(t, b): (n, a, round(s, 6), neg, pos) for t, b, n, a, s, neg, pos in conn.execute(q)}

    def recount_rollups(self) -> dict[tuple[str, datetime], tuple[int, int, float, int, int]]:
        """The rollups as they should be, counted afresh from the topic tags and their posts (the
        shape of :meth:`rollups`): what every incremental write must add up to."""
        pt, p = m.post_topics, m.posts
        agg: dict[tuple[str, datetime], list] = defaultdict(lambda: [0, set(), 0.0, 0, 0])
        q = select(pt.c.topic, p.c.created_at, p.c.account_id, p.c.sentiment).join(p, p.c.id == pt.c.post_id)
        with self.engine.connect() as conn:
            for topic, created, account, sent in conn.execute(q):
                a = agg[(topic, m.bucket_start(created))]
                a[0] += 1
                a[1].add(account)
                a[2] += sent
                a[3] += sent <= NEGATIVE
                a[4] += sent >= POSITIVE
        return {k: (n, len(who), round(s, 6), neg, pos) for k, (n, who, s, neg, pos) in agg.items()}


def _chunks(seq: Sequence, n: int):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def interaction_targets(p: Post) -> list[tuple[str, tuple[str, str], str | None]]:
    """The edges a post makes: ``(kind, (platform, target account id), referenced post id)``.

    - a retweet makes one ``retweet`` edge to the retweeted post's author, and no
      mention edges: the mentions in a retweet's text are the original's;
    - a quote makes a ``quote`` edge to the quoted author, a reply a ``reply``
      edge to the replied-to author (``in_reply_to_user_id``);
    - every mentioned account gets a ``mention`` edge, except the accounts the
      post already retweets, quotes or replies to (a reply's leading @handle is
      the reply target, not a separate mention).
    Self-loops are kept here (the influence graph decides what to do with them).
    """
    edges: list[tuple[str, tuple[str, str], str | None]] = []
    targeted: set[str] = set()
    kinds = {"retweet": EDGE_RETWEET, "quote": EDGE_QUOTE, "reply": EDGE_REPLY}
    for r in p.references:
        kind = kinds.get(r.kind)
        if kind and r.author_id:
            edges.append((kind, (p.platform, r.author_id), r.platform_id))
            targeted.add(r.author_id)
    if p.kind != RETWEET:
        for mid in dict.fromkeys(p.mentions):
            if mid not in targeted:
                edges.append((EDGE_MENTION, (p.platform, mid), None))
    return edges
