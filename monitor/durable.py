"""Batches kept until they are stored: what a killed worker, a lost broker or a database outage cannot lose.

On the distributed path (Celery) a batch crosses the broker only as the id of a row of
``raw_batches``:

1. :func:`keep` writes the raw batch (its JSON, compressed) together with the source's cursor,
   gaps and errors, in one transaction: a cursor moves only with a batch kept in the store,
   so a source never resumes past pages that are not safe;
2. the id goes to the ``process`` queue; :func:`process_kept` stores the batch and marks it
   stored in the same transaction (its *claim*), so a batch sent twice is stored once;
3. :func:`sweep` (on the beat, every ``EARSHOT_SWEEP_INTERVAL`` seconds) sends again every
   batch kept but not stored for ``EARSHOT_RESEND_AFTER`` seconds: a message lost with Redis, a
   worker killed outright, a task that ran out of tries while the database was away.

The broker then holds nothing that exists nowhere else: Redis may lose every message and
nothing is lost (run it with its append-only file all the same, see the README, so the beat's
own tasks and alert deliveries survive a restart without waiting for a sweep).

A batch that cannot be stored for a reason of its own (a field PostgreSQL refuses: a
``DataError``) goes through :func:`store_or_quarantine`: every post that can be stored is, and
the posts that cannot are *quarantined* with the reason, kept as a batch of their own, listed by
``earshot status`` and ``earshot quarantine list``, and stored by ``earshot quarantine replay``
once the cause is fixed. A fault of the moment (:func:`transient`: the database unreachable,
restarting, locked, a deadlock) is never a reason to quarantine: the batch waits for it.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from monitor import models as m
from monitor.items import Account, Batch, Post
from monitor.replay import error_reason
from monitor.store import Store, StoreError, WriteResult, now

log = logging.getLogger(__name__)

PENDING, STORED, QUARANTINED = "pending", "stored", "quarantined"

#: Stored batches' rows (their payload is dropped when stored) are pruned after this long.
KEEP_STORED = timedelta(days=7)

# SQLSTATE classes of a fault of the moment: connection (08), resources (53), operator
# intervention: shutdown, restart (57), system error (58), transaction rollback: deadlock,
# serialization (40).
_TRANSIENT_CLASSES = ("08", "53", "57", "58", "40")


def transient(exc: BaseException) -> bool:
    """True when ``exc`` is a fault of the moment (retry the batch later), False when it is the batch's own.

    The database unreachable, restarting, out of connections, locked (SQLite), a deadlock or a
    serialization failure are faults of the moment; a value the database refuses (``DataError``,
    a value too long or too large), or an item the pipeline cannot read, is the batch's.
    """
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, StoreError):  # the store could not be opened: as its cause
        return exc.__cause__ is not None and transient(exc.__cause__)
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, (OperationalError, InterfaceError)):
            code = getattr(exc.orig, "sqlstate", None)
            # no SQLSTATE: the server never answered (or SQLite: locked, busy, I/O)
            return code is None or str(code)[:2] in _TRANSIENT_CLASSES
        code = getattr(exc.orig, "sqlstate", None)
        return code is not None and str(code)[:2] in _TRANSIENT_CLASSES
    return isinstance(exc, OSError)


def encode(batch: Batch) -> bytes:
    """The batch as compressed JSON, but its cursor and gaps (recorded when it is kept, see :func:`keep`).

    Its errors (problems the source went on from) stay with it and are recorded when it is
    stored, so the source's health says what its stored batches met, as in-process."""
    data = batch.to_dict()
    data["cursor"], data["gaps"], data["position"] = None, [], None
    return zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 3)


def decode(payload: bytes) -> Batch:
    return Batch.from_dict(json.loads(zlib.decompress(payload)))


def keep(store: Store, batch: Batch) -> int | None:
    """Keep ``batch`` in the store, with its source's cursor and gaps, in one transaction.

    Returns the kept batch's id, or None when the batch holds nothing to store (its cursor,
    gaps and errors are recorded all the same).
    """
    t = now()
    rb = m.raw_batches
    with store.engine.begin() as conn:
        empty = not batch.posts and not batch.accounts
        if batch.source:
            store.record_run_in(conn, batch.source, cursor=batch.cursor, gaps=batch.gaps,
                                errors=batch.errors if empty else ())
        if empty:
            return None
        res = conn.execute(rb.insert().values(
            source=batch.source or "unknown", state=PENDING, posts=len(batch.posts), payload=encode(batch),
            created_at=t, sent_at=t, sends=1, attempts=0))
        return int(res.inserted_primary_key[0])


def hand_to_workers(store: Store, batch: Batch, send: Callable[[int], Any]) -> int | None:
    """Keep ``batch`` (:func:`keep`), then ``send(id)`` it to the workers.

    A send that fails (the broker is away) is logged, not raised: the batch waits in the store
    and the sweeper sends it once the broker is back. A failure to keep it (the database is away)
    is raised: nothing was kept and the source's cursor did not move.
    """
    raw_id = keep(store, batch)
    if raw_id is not None:
        try:
            send(raw_id)
        except Exception as exc:  # kombu's OperationalError, redis' ConnectionError, OSError...
            log.warning("batch %s of %s kept but not sent (%s); the sweeper sends it once the broker is back",
                        raw_id, batch.source, exc)
    return raw_id


@dataclass
class Outcome:
    """What became of a batch: ``stored``, ``already`` (another worker stored it), ``partly`` (some posts
    quarantined), ``quarantined`` (none could be stored) or ``missing`` (no such kept batch)."""

    state: str
    raw_id: int | None = None
    result: WriteResult = field(default_factory=WriteResult)
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # {"id", "posts", "reason"}

    @property
    def quarantined_posts(self) -> int:
        return sum(q["posts"] for q in self.quarantined)


def _referenced(posts: Iterable[Post]) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for p in posts:
        keys.add((p.platform, p.author_id))
        for r in p.references:
            if r.author_id:
                keys.add((p.platform, r.author_id))
        for mid in p.mentions:
            keys.add((p.platform, mid))
    return keys


def _units(posts: Sequence[Post]) -> list[list[Post]]:
    """The posts in groups that must stay together: a retweet, quote or reply with the posts of the
    batch it refers to (a retweet is matched on its original's full text when the original is in
    its batch), in batch order."""
    index = {p.key: i for i, p in enumerate(posts)}
    parent = list(range(len(posts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, p in enumerate(posts):
        for r in p.references:
            j = index.get((p.platform, r.platform_id)) if r.platform_id else None
            if j is not None:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[Post]] = {}
    for i, p in enumerate(posts):
        groups.setdefault(find(i), []).append(p)
    return list(groups.values())


def _store_pieces(batch: Batch, store: Store, matcher) -> tuple[WriteResult, list[Batch], list[str]]:
    """Store what can be stored of ``batch``, piece by piece (bisecting on failure).

    Returns what was stored, the pieces that could not be (one post, or one group a retweet
    keeps together, each with the accounts it refers to) and the reason of each.
    """
    from monitor.pipeline import process_batch

    total = WriteResult()
    bad: list[Batch] = []
    reasons: list[str] = []

    def accounts_for(posts: Sequence[Post]) -> list[Account]:
        keys = _referenced(posts)
        return [a for a in batch.accounts if a.key in keys]

    def attempt(units: list[list[Post]]) -> None:
        posts = [p for u in units for p in u]
        piece = Batch(source=batch.source, posts=posts, accounts=accounts_for(posts))
        try:
            total.add(process_batch(piece, store, matcher))
            return
        except Exception as exc:
            if transient(exc):
                raise
            failure = exc
        if len(units) > 1:
            mid = len(units) // 2
            attempt(units[:mid])
            attempt(units[mid:])
        elif len(posts) > 1:  # one group that fails: post by post
            attempt([[p] for p in posts])
        else:
            log.warning("%s: post %s cannot be stored: %s", batch.source, posts[0].platform_id if posts else "-",
                        error_reason(failure))
            bad.append(piece)
            reasons.append(error_reason(failure))

    if batch.posts:
        attempt(_units(batch.posts))
    referenced = _referenced(batch.posts)
    rest = [a for a in batch.accounts if a.key not in referenced]
    if rest:  # accounts no post refers to
        piece = Batch(source=batch.source, accounts=rest)
        try:
            total.add(process_batch(piece, store, matcher))
        except Exception as exc:
            if transient(exc):
                raise
            bad.append(piece)
            reasons.append(error_reason(exc))
    return total, bad, reasons


def _quarantine_rows(conn, bad: Sequence[Batch], reasons: Sequence[str], parent_id: int | None) -> list[dict]:
    rb = m.raw_batches
    t = now()
    out = []
    for piece, reason in zip(bad, reasons):
        res = conn.execute(rb.insert().values(
            source=piece.source or "unknown", state=QUARANTINED, posts=len(piece.posts), payload=encode(piece),
            created_at=t, sends=0, attempts=1, last_error=reason, reason=reason, parent_id=parent_id))
        out.append({"id": int(res.inserted_primary_key[0]), "posts": len(piece.posts), "reason": reason})
    return out


def _claim(raw_id: int, from_state: str = PENDING) -> Callable[[Any], bool]:
    """Mark the kept batch stored, inside the transaction that stores it; False if it was not ``from_state``."""
    rb = m.raw_batches

    def claim(conn) -> bool:
        res = conn.execute(update(rb).where(rb.c.id == raw_id, rb.c.state == from_state)
                           .values(state=STORED, stored_at=now(), payload=None))
        return res.rowcount == 1

    return claim


def store_or_quarantine(batch: Batch, store: Store, matcher, *, raw_id: int | None = None,
                        from_state: str = PENDING) -> Outcome:
    """Store ``batch``; what cannot be stored is quarantined with its reason, never dropped.

    The batch is stored whole when it can be (one transaction, cursor included). When it fails
    for a reason of its own, every post that can be stored is, piece by piece, and the posts
    that cannot are kept as quarantined batches with the reason (see ``earshot quarantine``);
    then the source's cursor, gaps and errors are recorded with the quarantined rows. A fault of
    the moment (:func:`transient`) is raised: nothing is quarantined for it, the caller retries.

    This is the function for a caller holding a batch (``earshot import``, in-process
    collection). ``raw_id`` names the kept batch (``raw_batches``) this is, in state
    ``from_state``: it is marked stored in the transaction that stores it, or, if it was stored
    meanwhile by another worker, nothing is written (``already``).
    """
    from monitor.pipeline import process_batch

    claim = _claim(raw_id, from_state) if raw_id is not None else None
    try:
        result = process_batch(batch, store, matcher, claim=claim)
        return Outcome("stored" if result.claimed else "already", raw_id, result)
    except Exception as exc:
        if transient(exc):
            raise
        log.warning("%s: batch%s cannot be stored whole (%s); storing it piece by piece", batch.source,
                    f" {raw_id}" if raw_id is not None else "", error_reason(exc))
    result, bad, reasons = _store_pieces(batch, store, matcher)
    with store.engine.begin() as conn:
        if raw_id is not None:
            if from_state == QUARANTINED and bad:  # a replay that still fails: the row keeps what is left
                rest = Batch(source=batch.source, posts=[p for b in bad for p in b.posts],
                             accounts=[a for b in bad for a in b.accounts])
                rb = m.raw_batches
                conn.execute(update(rb).where(rb.c.id == raw_id).values(
                    payload=encode(rest), posts=len(rest.posts), reason="; ".join(dict.fromkeys(reasons))[:4000],
                    last_error=reasons[0], attempts=rb.c.attempts + 1))
                return Outcome("quarantined" if not result.posts_in else "partly", raw_id, result,
                               [{"id": raw_id, "posts": len(rest.posts), "reason": reasons[0]}])
            if not claim(conn):
                return Outcome("already", raw_id, result)
            if batch.source and batch.errors:
                store.record_run_in(conn, batch.source, errors=batch.errors)
        elif batch.source:
            store.record_run_in(conn, batch.source, cursor=batch.cursor, gaps=batch.gaps, errors=batch.errors)
        quarantined = _quarantine_rows(conn, bad, reasons, raw_id)
    state = "stored" if not bad else ("partly" if result.posts_in or result.accounts else "quarantined")
    return Outcome(state, raw_id, result, quarantined)


def quarantine(store: Store, batch: Batch, reason: str) -> int:
    """Quarantine ``batch`` whole with ``reason`` (a caller that cannot even try to store it); its id."""
    with store.engine.begin() as conn:
        return _quarantine_rows(conn, [batch], [reason[:2000]], None)[0]["id"]


def process_kept(store: Store, matcher, raw_id: int) -> Outcome:
    """Store the kept batch ``raw_id`` (if no one has yet): the task behind ``earshot.process_batch``."""
    rb = m.raw_batches
    with store.engine.connect() as conn:
        row = conn.execute(select(rb.c.state, rb.c.payload).where(rb.c.id == raw_id)).first()
    if row is None:
        log.warning("no kept batch %s (pruned, or from another store)", raw_id)
        return Outcome("missing", raw_id)
    if row.state != PENDING:
        return Outcome("already", raw_id)
    return store_or_quarantine(decode(row.payload), store, matcher, raw_id=raw_id)


def note_failure(store: Store, raw_id: int, exc: BaseException) -> None:
    """Count a failed try of a kept batch, with its error (best effort: the database may be the failure)."""
    rb = m.raw_batches
    try:
        with store.engine.begin() as conn:
            conn.execute(update(rb).where(rb.c.id == raw_id).values(
                attempts=rb.c.attempts + 1, last_error=error_reason(exc)))
    except Exception:  # the database is away: the try is not counted, nothing else is lost
        pass


def take_due(store: Store, *, resend_after: float, at: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of kept batches waiting unstored past their time, marked as sent now.

    A batch is due ``resend_after`` seconds after it was last sent; a batch sent again and again
    (the workers are away, or a long backlog) waits twice as long each time, up to 32 times, so
    the sweeper does not flood the queue with copies.
    """
    t = at or now()
    rb = m.raw_batches
    cutoff = t - timedelta(seconds=resend_after)
    with store.engine.begin() as conn:
        rows = conn.execute(select(rb.c.id, rb.c.sent_at, rb.c.sends)
                            .where(rb.c.state == PENDING, (rb.c.sent_at.is_(None)) | (rb.c.sent_at <= cutoff))
                            .order_by(rb.c.id).limit(limit * 4)).all()
        ids = [r.id for r in rows
               if r.sent_at is None or r.sent_at <= t - timedelta(seconds=resend_after * 2 ** min(max(r.sends - 1, 0), 5))]
        ids = ids[:limit]
        if ids:
            conn.execute(update(rb).where(rb.c.id.in_(ids)).values(sent_at=t, sends=rb.c.sends + 1))
    return ids


def sweep(store: Store, send: Callable[[int], Any], *, resend_after: float, at: datetime | None = None,
          limit: int = 500) -> dict[str, int]:
    """Send again the kept batches waiting past their time; prune stored rows older than :data:`KEEP_STORED`.

    Stops at the first send that fails (the broker is away): those batches stay due.
    """
    t = at or now()
    ids = take_due(store, resend_after=resend_after, at=t, limit=limit)
    sent = 0
    for raw_id in ids:
        try:
            send(raw_id)
            sent += 1
        except Exception as exc:
            log.warning("sweep: broker away (%s); %d batches wait for the next sweep", exc, len(ids) - sent)
            rb = m.raw_batches
            with store.engine.begin() as conn:  # not sent after all: due again at the next sweep
                conn.execute(update(rb).where(rb.c.id.in_(ids[sent:])).values(sent_at=None))
            break
    rb = m.raw_batches
    with store.engine.begin() as conn:
        pruned = conn.execute(rb.delete().where(rb.c.state == STORED, rb.c.stored_at < t - KEEP_STORED)).rowcount
    if ids:
        log.info("sweep: %d kept batches sent again", sent)
    return {"due": len(ids), "sent": sent, "pruned": pruned}


def quarantined(store: Store, limit: int | None = None) -> list[dict[str, Any]]:
    """The quarantined batches, oldest first: id, source, posts, created_at, reason, parent_id, attempts."""
    rb = m.raw_batches
    q = (select(rb.c.id, rb.c.source, rb.c.posts, rb.c.created_at, rb.c.reason, rb.c.parent_id, rb.c.attempts)
         .where(rb.c.state == QUARANTINED).order_by(rb.c.id))
    if limit:
        q = q.limit(limit)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def replay(store: Store, matcher, ids: Sequence[int] | None = None) -> list[Outcome]:
    """Try the quarantined batches ``ids`` (default: all) again; each is stored, or stays with its reason."""
    rb = m.raw_batches
    q = select(rb.c.id, rb.c.payload).where(rb.c.state == QUARANTINED).order_by(rb.c.id)
    if ids is not None:
        q = q.where(rb.c.id.in_(list(ids)))
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [store_or_quarantine(decode(r.payload), store, matcher, raw_id=r.id, from_state=QUARANTINED)
            for r in rows]


def health(store: Store, *, resend_after: float, at: datetime | None = None) -> dict[str, Any]:
    """Kept batches for ``earshot status``: waiting (and for how long), waiting too long, quarantined."""
    t = at or now()
    rb = m.raw_batches
    with store.engine.connect() as conn:
        states = {r.state: (r.n, int(r.posts or 0)) for r in conn.execute(
            select(rb.c.state, func.count().label("n"), func.sum(rb.c.posts).label("posts")).group_by(rb.c.state))}
        oldest = conn.execute(select(func.min(rb.c.created_at)).where(rb.c.state == PENDING)).scalar()
        late = conn.execute(select(func.count(), func.sum(rb.c.posts)).where(
            rb.c.state == PENDING, rb.c.created_at < t - timedelta(seconds=resend_after))).one()
        by_source = Counter({r.source: r.n for r in conn.execute(
            select(rb.c.source, func.count().label("n")).where(rb.c.state == PENDING).group_by(rb.c.source))})
    return {
        "waiting": states.get(PENDING, (0, 0))[0],
        "waiting_posts": states.get(PENDING, (0, 0))[1],
        "oldest_waiting": oldest,
        "oldest_waiting_s": (t - oldest).total_seconds() if oldest else None,
        "waiting_too_long": int(late[0] or 0),
        "waiting_too_long_posts": int(late[1] or 0),
        "waiting_by_source": dict(by_source),
        "too_long_after_s": resend_after,
        "quarantined": states.get(QUARANTINED, (0, 0))[0],
        "quarantined_posts": states.get(QUARANTINED, (0, 0))[1],
        "quarantined_batches": quarantined(store, limit=20),
        "stored": states.get(STORED, (0, 0))[0],
    }

