"""A short-lived cache for the few aggregates that scan a topic's posts in a window (most shared posts
and links, per-topic counts with distinct authors): each is computed at most once per
:data:`TTL` seconds per process for the same arguments, so many people opening the same overview
cost one scan. Everything else on the pages reads the rollups or indexes and is not cached.
The page says how old the cached lists are (``as_of``).
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


def cached(key: Hashable, fn: Callable[[], Any], *, ttl: float = TTL, clock: Callable[[], float] = time.monotonic
           ) -> tuple[Any, datetime]:
    """``fn()``'s value for ``key`` and when it was computed (UTC); computed again after ``ttl`` seconds.
    Concurrent callers of a missing key wait for the one computing it instead of computing it too."""
    while True:
        with _lock:
            hit = _entries.get(key)
            if hit is not None and clock() - hit[0] < ttl:
                _entries.move_to_end(key)
                return hit[2], hit[1]
            waiting = _inflight.get(key)
            if waiting is None:
                _inflight[key] = threading.Event()
                break
        waiting.wait(30)
    try:
        value = fn()
        with _lock:
            _entries[key] = (clock(), datetime.now(timezone.utc), value)
            while len(_entries) > MAX_ENTRIES:
                _entries.popitem(last=False)
        return value, _entries[key][1]
    finally:
        with _lock:
            _inflight.pop(key).set()


def clear() -> None:
    with _lock:
        _entries.clear()
