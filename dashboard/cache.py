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
  callers of the same missing key wait for the one computing it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any, Callable, Hashable

TTL = 60.0
MAX_ENTRIES = 512

_lock = threading.Lock()
_entries: "OrderedDict[Hashable, tuple[float, datetime, Any]]" = OrderedDict()
_inflight: dict[Hashable, threading.Event] = {}


def cached(key: Hashable, fn: Callable[[], Any], *, ttl: float | None = TTL, clock: Callable[[], float] = time.monotonic,
           stamp: Hashable = None) -> tuple[Any, datetime]:
    """``fn()``'s value for ``key`` and when it was computed (UTC); computed again after ``ttl`` seconds.
    Concurrent callers of a missing key wait for the one computing it instead of computing it too.

    ``stamp``: the value is good only while it was computed with the same stamp (a data version); a
    new stamp computes it again in the same entry, so old versions take no room.
    """
    while True:
        with _lock:
            hit = _entries.get(key)
            if hit is not None and hit[3] != stamp:
                hit = None
            fresh = hit is not None and (ttl is None or clock() - hit[0] < ttl)
            if fresh:
                _entries.move_to_end(key)
                return hit[2], hit[1]
            waiting = _inflight.get(key)
            if waiting is None:
                _inflight[key] = threading.Event()
                break
        waiting.wait(30)
    return _compute(key, fn, clock, stamp)


def _compute(key: Hashable, fn: Callable[[], Any], clock: Callable[[], float], stamp: Hashable = None
             ) -> tuple[Any, datetime]:
    """Compute ``key``'s value and keep it (the caller has put ``key`` in ``_inflight``)."""
    try:
        value = fn()
        at = datetime.now(timezone.utc)
        with _lock:
            _entries[key] = (clock(), at, value, stamp)
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


def versioned(store, key: Hashable, fn: Callable[[], Any], *, clock: Callable[[], float] = time.time) -> Any:
    """``fn()``'s value for ``key``, computed again when the store's :func:`data_version` changes, and
    each wall-clock minute while the newest post is less than a day old (the pages' windows then end
    "now" and move on by themselves; over a past week they end with its data)."""
    version = data_version(store)
    newest = version[-1]
    if isinstance(newest, str):
        newest = datetime.fromisoformat(newest).replace(tzinfo=timezone.utc)
    elif isinstance(newest, datetime) and newest.tzinfo is None:
        newest = newest.replace(tzinfo=timezone.utc)
    now = clock()
    minute = int(now // 60) if newest is not None and newest.timestamp() > now - 86400 else None
    return cached(("versioned", store.url, key), fn, ttl=None, stamp=(version, minute))[0]


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


def json_response(store, key: Hashable, fn: Callable[[], Any]):
    """An API answer: ``fn()`` encoded as JSON once per data version (see :func:`versioned`)."""
    from fastapi.responses import Response

    return Response(versioned(store, ("json",) + tuple(key), lambda: json_bytes(fn())), media_type="application/json")
