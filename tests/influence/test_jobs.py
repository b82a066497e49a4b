"""Rankings computed off the request path (influence.jobs): one computation per window across
processes, a failure kept with its error and tried again later, a dead claim taken over."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from influence import jobs, results
from monitor.items import Account, Post, Reference
from monitor.store import Scored, Store

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)
SINCE, UNTIL = T0 - timedelta(days=7), T0 + timedelta(hours=1)


def fill(store: Store, n: int = 8) -> None:
    posts = [Scored(Post("x", "root", "original", "chief", "flu jabs open", T0), 0.0, {"flu": ["flu"]})]
    posts += [Scored(Post("x", f"rt{i}", "retweet", f"u{i}", "RT flu jabs open", T0 + timedelta(seconds=i),
                          references=[Reference("retweet", "root", "chief")]), 0.0, {"flu": ["flu"]}) for i in range(n)]
    store.write_batch(posts, [Account("x", "chief", handle="ChiefMedic")] + [Account("x", f"u{i}", handle=f"u{i}")
                                                                             for i in range(n)])


def test_one_claim_per_window_across_processes(store_url):
    stores = [Store(store_url) for _ in range(2)]  # two processes' engines on one database
    started: list[dict] = []
    barrier = threading.Barrier(8)

    def reader(k: int) -> None:
        barrier.wait()
        jobs.request(stores[k % 2], "flu", SINCE, UNTIL, dispatch=lambda **job: started.append(job))

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(started) == 1 and started[0]["topic"] == "flu" and started[0]["until"] == UNTIL
    p = jobs.find(stores[0], "flu", "all", SINCE, UNTIL, False)
    assert p.state == "running" and p.to_dict()["status"] == "computing"
    # another variant or window is another claim
    assert jobs.claim(stores[1], "flu", "all", SINCE, UNTIL, True, by="b")
    assert not jobs.claim(stores[1], "flu", "all", SINCE, UNTIL, False, by="b")
    for s in stores:
        s.dispose()


def test_run_stores_the_ranking_and_drops_the_claim(sqlite_store):
    fill(sqlite_store)
    assert jobs.claim(sqlite_store, "flu", "all", SINCE, UNTIL, False, by="me")
    rid = jobs.run(sqlite_store, "flu", SINCE, UNTIL, stakeholders=["@ChiefMedic"], by="me")
    assert results.find_run(sqlite_store, "flu", "all", SINCE, UNTIL, False) == rid
    assert jobs.find(sqlite_store, "flu", "all", SINCE, UNTIL, False) is None
    # asked again (a retried task): the stored run answers, nothing computed twice
    assert jobs.run(sqlite_store, "flu", SINCE, UNTIL, by="me") == rid


def test_a_failure_is_kept_with_its_error_and_tried_again_later(sqlite_store, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(jobs, "compute_run", broken)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    started: list[dict] = []
    p = jobs.request(sqlite_store, "flu", SINCE, UNTIL, dispatch=lambda **job: started.append(job), now=now)
    assert p.started and len(started) == 1
    try:
        jobs.run(sqlite_store, **started[0])
    except RuntimeError:
        pass
    failed = jobs.find(sqlite_store, "flu", "all", SINCE, UNTIL, False)
    assert failed.state == "failed" and "the database went away" in failed.error
    assert failed.to_dict()["status"] == "failed"
    # soon after, readers are told of the failure, nothing is started again
    later = failed.finished_at + jobs.RETRY_FAILED_AFTER - timedelta(seconds=1)
    assert not jobs.request(sqlite_store, "flu", SINCE, UNTIL, dispatch=lambda **job: started.append(job),
                            now=later).started
    assert len(started) == 1
    # after RETRY_FAILED_AFTER a reader's request tries again
    again = jobs.request(sqlite_store, "flu", SINCE, UNTIL, dispatch=lambda **job: started.append(job),
                         now=failed.finished_at + jobs.RETRY_FAILED_AFTER)
    assert again.started and again.state == "running" and again.error is None and len(started) == 2


def test_a_dead_claim_is_taken_over_and_a_broker_away_is_recorded(sqlite_store):
    t = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert jobs.claim(sqlite_store, "flu", "all", SINCE, UNTIL, False, by="dead:1", now=t)
    assert not jobs.claim(sqlite_store, "flu", "all", SINCE, UNTIL, False, by="b:2",
                          now=t + jobs.CLAIM_EXPIRES - timedelta(seconds=1))
    assert jobs.claim(sqlite_store, "flu", "all", SINCE, UNTIL, False, by="b:2", now=t + jobs.CLAIM_EXPIRES)
    assert jobs.find(sqlite_store, "flu", "all", SINCE, UNTIL, False).claimed_by == "b:2"

    def no_broker(**job):
        raise ConnectionError("broker unreachable")

    p = jobs.request(sqlite_store, "flu", SINCE - timedelta(days=1), UNTIL, dispatch=no_broker, now=t)
    assert p.state == "failed" and "could not start the computation: broker unreachable" in p.error
