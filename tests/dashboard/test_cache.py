"""The short-lived aggregate cache: one computation per key per TTL, concurrent callers share it."""

from __future__ import annotations

import threading
import time

from dashboard import cache


def test_a_value_is_kept_for_the_ttl_then_computed_again():
    cache.clear()
    now = [100.0]
    calls = []

    def fn():
        calls.append(1)
        return len(calls)

    assert cache.cached("k", fn, ttl=60, clock=lambda: now[0])[0] == 1
    now[0] += 59
    assert cache.cached("k", fn, ttl=60, clock=lambda: now[0])[0] == 1
    now[0] += 2
    assert cache.cached("k", fn, ttl=60, clock=lambda: now[0])[0] == 2
    assert cache.cached("other", fn, ttl=60, clock=lambda: now[0])[0] == 3


def test_concurrent_callers_of_a_missing_key_wait_for_one_computation():
    cache.clear()
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return "v"

    out = []
    threads = [threading.Thread(target=lambda: out.append(cache.cached("slow", slow)[0])) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == ["v"] * 8 and len(calls) == 1
