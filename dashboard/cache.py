"""Caches of what the pages and APIs compute, per process.

- :func:`cached`: a short-lived cache for aggregates that scan a topic's posts (per-topic counts
  with distinct authors): each is computed at most once per :data:`TTL` seconds for the same
  arguments, so many people opening the same page cost one scan. (The most shared posts and links
  are read from the share rollups, :mod:`monitor.shares`, and need no cache of their own.)
- :func:`versioned`: a page's or an API answer's content, computed once per **data version**
  (:func:`data_version`: what any write to the figures changes -- a batch stored, an alert raised,
  updated, acknowledged or resolved, a mark made or undone, an influence run stored, a gap) and
  wall-clock minute (the windows that end "now" move on), so twenty people watching the same
  page cost one computation, and a change to the data is shown at the next request. Concurrent
  callers of the same missing key wait for the one computing it. Under live collection (a batch
  every few seconds) a page may instead be served from the previous version while one thread
  computes the new one (``stale=True``: stale-while-revalidate, bounded by :data:`STALE_FOR`, never
  across people's own marks or influence runs; the page then says "as of"), so readers do not pay
  the cold cost once per batch. A value computed for an older version never replaces one computed
  for a newer version (versions are ordered by when they were read).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Hashable

log = logging.getLogger(__name__)

TTL = 60.0
MAX_ENTRIES = 512
#: How long after its data was last seen current a page may still be served while its next version
#: is computed (stale-while-revalidate, :func:`versioned` with ``stale=True``), in seconds.
STALE_FOR = 60.0


@dataclass
class _Entry:
    at: float  # clock() when computed (for the TTL)
    computed: datetime  # UTC, when computed
    value: Any
    stamp: Hashable  # the data version (and minute) it was computed for
    read_at: float  # time.monotonic() when that version was read: orders entries of different stamps
    group: Hashable = None  # what must be equal for it to stand in for a newer stamp (see versioned)
    confirmed: float = 0.0  # time.monotonic() when its stamp was last seen current
    confirmed_utc: datetime | None = None


#: Pages and answers computed behind their older version at once, at most (the others keep serving
#: their older version until a refresher is free: a burst of versions never starts a thread per page).
REFRESHERS = 2

_lock = threading.Lock()
_refreshing = threading.BoundedSemaphore(REFRESHERS)
_entries: "OrderedDict[Hashable, _Entry]" = OrderedDict()
_inflight: dict[Hashable, threading.Event] = {}


def cached(key: Hashable, fn: Callable[[], Any], *, ttl: float | None = TTL, clock: Callable[[], float] = time.monotonic,
           stamp: Hashable = None) -> tuple[Any, datetime]:
    """``fn()``'s value for ``key`` and when it was computed (UTC); computed again after ``ttl`` seconds.
    Concurrent callers of a missing key wait for the one computing it instead of computing it too.

    ``stamp``: the value is good only while it was computed with the same stamp (a data version); a
    new stamp computes it again in the same entry, so old versions take no room.
    """
    value, computed, _stale = _get(key, fn, ttl=ttl, clock=clock, stamp=stamp, read_at=time.monotonic())
    return value, computed


def _get(key: Hashable, fn: Callable[[], Any], *, ttl: float | None, clock: Callable[[], float], stamp: Hashable,
         read_at: float, group: Hashable = None, stale_for: float = 0.0) -> tuple[Any, datetime, datetime | None]:
    """``(value, computed at, None)``, or ``(value, computed at, as of)`` when an older version's value is
    served (``stale_for`` > 0: its stamp was seen current less than ``stale_for`` seconds ago and its
    ``group`` is the same) while one thread computes the new one in the background.

    ``read_at`` (monotonic) is when the caller read ``stamp``: an entry whose stamp was read later is
    newer data, so it answers the caller as it is and is never replaced by the caller's computation (a
    request that read the version just before a batch and computed after a later one must not put the
    older figures back)."""
    while True:
        now = time.monotonic()
        with _lock:
            hit = _entries.get(key)
            if hit is not None:
                if hit.stamp == stamp:
                    if ttl is None or clock() - hit.at < ttl:
                        hit.confirmed, hit.confirmed_utc = max(hit.confirmed, read_at), None
                        _entries.move_to_end(key)
                        return hit.value, hit.computed, None
                elif hit.read_at > read_at:  # computed for data newer than the caller's
                    _entries.move_to_end(key)
                    return hit.value, hit.computed, None
            usable = (stale_for > 0 and hit is not None and hit.stamp != stamp and hit.group == group
                      and now - hit.confirmed <= stale_for)
            waiting = _inflight.get(key)
            if waiting is None:
                if usable:  # the older version answers now; the new one is computed behind it
                    if _refreshing.acquire(blocking=False):
                        _inflight[key] = threading.Event()
                        threading.Thread(target=_background, args=(key, fn, clock, stamp, read_at, group),
                                         name="cache-refresh", daemon=True).start()
                    # (every refresher busy: a later request starts this one)
                    return hit.value, hit.computed, _as_of(hit)
                _inflight[key] = threading.Event()
                break
            if usable:
                return hit.value, hit.computed, _as_of(hit)
        waiting.wait(30)
    return _compute(key, fn, clock, stamp, read_at, group) + (None,)


def _as_of(hit: _Entry) -> datetime:
    """When the entry's data was last seen current (UTC)."""
    if hit.confirmed_utc is None:
        hit.confirmed_utc = datetime.now(timezone.utc) - _since(hit.confirmed)
    return hit.confirmed_utc


def _since(t: float):
    from datetime import timedelta

    return timedelta(seconds=max(0.0, time.monotonic() - t))


def _background(key, fn, clock, stamp, read_at, group) -> None:
    try:
        _compute(key, fn, clock, stamp, read_at, group)
    except Exception:  # the next request computes it (and sees the error)
        log.exception("refreshing %r in the background failed", key[:3] if isinstance(key, tuple) else key)
    finally:
        _refreshing.release()


def _compute(key: Hashable, fn: Callable[[], Any], clock: Callable[[], float], stamp: Hashable = None,
             read_at: float | None = None, group: Hashable = None) -> tuple[Any, datetime]:
    """Compute ``key``'s value and keep it unless newer data's value is kept already (the caller has
    put ``key`` in ``_inflight``)."""
    read_at = time.monotonic() if read_at is None else read_at
    try:
        value = fn()
        at = datetime.now(timezone.utc)
        with _lock:
            cur = _entries.get(key)
            if cur is None or cur.stamp == stamp or cur.read_at <= read_at:
                _entries[key] = _Entry(clock(), at, value, stamp, read_at, group, read_at)
                _entries.move_to_end(key)
                while len(_entries) > MAX_ENTRIES:
                    _entries.popitem(last=False)
        return value, at
    finally:
        with _lock:
            _inflight.pop(key).set()


def clear() -> None:
    with _lock:
        _entries.clear()


def data_version(store) -> tuple:
    """What changes whenever a figure the pages show could change (one query over small tables and
    primary keys): the newest post, every source's item count and last run (each stored batch adds
    to them), the newest alert event and alert update, marks made and undone, influence runs stored,
    gaps opened and closed, and the alert detectors' saved versions."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        return tuple(conn.execute(text(_VERSION_SQL)).one())


_VERSION_SQL = """SELECT (SELECT max(id) FROM posts), (SELECT sum(items) FROM source_state),
 (SELECT max(last_run_at) FROM source_state), (SELECT max(id) FROM alert_events),
 (SELECT max(updated_at) FROM alerts), (SELECT count(*) FROM alerts), (SELECT max(id) FROM post_marks),
 (SELECT count(undone_at) FROM post_marks), (SELECT max(computed_at) FROM influence_runs),
 (SELECT count(*) FROM influence_runs), (SELECT max(id) FROM gaps), (SELECT count("end") FROM gaps),
 (SELECT sum(version) FROM alert_state), (SELECT count(*) FROM influence_jobs),
 (SELECT max(coalesce(finished_at, claimed_at)) FROM influence_jobs),
 (SELECT created_at FROM posts WHERE id = (SELECT max(id) FROM posts))"""


#: The parts of :func:`data_version` that people's own actions change (marks made and undone,
#: influence runs stored, rankings claimed or failed): a page is never served stale across them, so
#: whoever marks a post or waits for a ranking sees the result at once.
_OWN_ACTIONS = (6, 7, 8, 9, 13, 14)


def versioned(store, key: Hashable, fn: Callable[[], Any], *, clock: Callable[[], float] = time.time,
              stale: bool = False) -> Any:
    """``fn()``'s value for ``key``, computed again when the store's :func:`data_version` changes, and
    each wall-clock minute while the newest post is less than a day old (the pages' windows then end
    "now" and move on by themselves; over a past week they end with its data).

    ``stale=True`` (pages and APIs that may lag live collection by seconds, not the live alerts): when
    the version changed only by collection (a batch, an alert update, the minute), the previous
    version's value answers at once while one thread computes the new one, provided that version
    was seen current less than :data:`STALE_FOR` seconds ago; :func:`versioned_as_of` says when."""
    return versioned_as_of(store, key, fn, clock=clock, stale=stale)[0]


def versioned_as_of(store, key: Hashable, fn: Callable[[], Any], *, clock: Callable[[], float] = time.time,
                    stale: bool = False, version: Callable[[], tuple[Hashable, Hashable]] | None = None
                    ) -> tuple[Any, datetime | None]:
    """:func:`versioned`, with None or, when an older version's value was served, the time its data
    was last seen current (UTC).

    ``version``: the page's own version instead of the store's, ``() -> (stamp, own actions)``, for a
    page that reads little of the data (an account's page changes with that account's posts, not
    with every batch); the stamp must then cover everything the page shows, the minute included."""
    read_at = time.monotonic()  # before the version is read: a later reading is newer data
    if version is not None:
        stamp, group = version()
    else:
        v = data_version(store)
        newest = v[-1]
        if isinstance(newest, str):
            newest = datetime.fromisoformat(newest).replace(tzinfo=timezone.utc)
        elif isinstance(newest, datetime) and newest.tzinfo is None:
            newest = newest.replace(tzinfo=timezone.utc)
        now = clock()
        minute = int(now // 60) if newest is not None and newest.timestamp() > now - 86400 else None
        stamp, group = (v, minute), tuple(v[i] for i in _OWN_ACTIONS)
    value, _computed, as_of = _get(("versioned", store.url, key), fn, ttl=None, clock=time.monotonic,
                                   stamp=stamp, read_at=read_at, group=group,
                                   stale_for=STALE_FOR if stale else 0.0)
    return value, as_of


_ACCOUNT_SQL = """SELECT (SELECT max(created_at) FROM posts WHERE account_id = :a),
 (SELECT count(*) FROM posts WHERE account_id = :a), (SELECT last_seen FROM accounts WHERE id = :a),
 (SELECT max(computed_at) FROM influence_runs), (SELECT count(*) FROM influence_runs),
 (SELECT max(id) FROM post_marks), (SELECT count(undone_at) FROM post_marks)"""


def account_version(store, account_id: int, now: datetime) -> tuple[Hashable, Hashable]:
    """An account page's version (see :func:`versioned_as_of`): its posts (newest, how many: read from
    the account's index), its profile's last sighting, the stored influence runs, marks, and ``now``
    (the pages' time, to the minute: the page's window ends then). A topic tag added to one of its
    older posts later (a promotion) shows at the next of these changes."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        row = tuple(conn.execute(text(_ACCOUNT_SQL), {"a": account_id}).one())
    return (row, int(now.timestamp() // 60)), row[3:]


_ANY = None


def json_bytes(value: Any) -> bytes:
    """``value`` as FastAPI sends a route's answer (pydantic's JSON mode: UTC times end in ``Z``, then
    the compact JSON of ``JSONResponse``)."""
    import json

    from pydantic import TypeAdapter

    global _ANY
    if _ANY is None:
        _ANY = TypeAdapter(Any)
    return json.dumps(_ANY.dump_python(value, mode="json"), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode()


def json_response(store, key: Hashable, fn: Callable[[], Any], *, stale: bool = True, version=None):
    """An API answer: ``fn()`` encoded as JSON once per data version (see :func:`versioned`, and its
    ``version``); served from the previous version while the new one is computed (``stale``), with the
    header ``X-Data-As-Of`` (when that version was last seen current) when it was."""
    from fastapi.responses import Response

    body, as_of = versioned_as_of(store, ("json",) + tuple(key), lambda: json_bytes(fn()), stale=stale,
                                  version=version)
    headers = {"X-Data-As-Of": as_of.isoformat()} if as_of is not None else None
    return Response(body, media_type="application/json", headers=headers)
