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


# ----------------------------------------------------------------------------- per data version
def _batch(i: int):
    from datetime import datetime, timezone

    from monitor.items import Account, Batch, Post

    post = Post(platform="x", platform_id=f"v{i}", kind="original", author_id="1", text=f"flu at A&E number {i}",
                created_at=datetime(2026, 11, 20, 9, i, tzinfo=timezone.utc), lang="en")
    return Batch(source="test", posts=[post], accounts=[Account(platform="x", platform_id="1", handle="u1")])


def test_every_kind_of_write_changes_the_data_version(sqlite_store, topics_env, users):
    from monitor import marks
    from monitor.config import load_config
    from monitor.pipeline import process_batch
    from monitor.topics import Matcher

    matcher = Matcher(load_config(topics_env).topics)
    seen = [cache.data_version(sqlite_store)]

    def changed():
        v = cache.data_version(sqlite_store)
        assert v not in seen, "the write left the data version as it was"
        seen.append(v)

    process_batch(_batch(1), sqlite_store, matcher, run_hooks=False)
    changed()
    process_batch(_batch(1), sqlite_store, matcher, run_hooks=False)  # the same batch again: nothing new stored
    changed()  # but the source's run is counted (a figure on the status page)
    from sqlalchemy import select

    from monitor import models as m

    with sqlite_store.engine.connect() as conn:
        post_id = conn.execute(select(m.posts.c.id)).scalar()
    mark = marks.mark_irrelevant(sqlite_store, post_id, "flu", "press1")
    changed()
    marks.undo(sqlite_store, mark["id"], "press1")
    changed()
    assert cache.data_version(sqlite_store) == seen[-1]  # and reading changes nothing


def test_a_page_is_built_once_per_data_version_for_everyone_with_a_role(client, sqlite_store, topics_env, users,
                                                                           monkeypatch):
    from dashboard.routers import alerts
    from monitor.config import load_config
    from monitor.pipeline import process_batch
    from monitor.topics import Matcher
    from tests.dashboard.support import login

    cache.clear()
    builds = []
    real = alerts.day_charts
    monkeypatch.setattr(alerts, "day_charts", lambda *a: builds.append(1) or real(*a))
    csrf = login(client, *users["press"])
    first, second = client.get("/alerts"), client.get("/alerts")
    assert len(builds) == 1
    # each answer carries its own nonce and the session's CSRF token and name, never the stand-ins
    nonces = [r.headers["content-security-policy"].split("'nonce-")[1].split("'")[0] for r in (first, second)]
    assert nonces[0] != nonces[1] and f'nonce="{nonces[1]}"' in second.text and f'nonce="{nonces[0]}"' not in second.text
    assert f'content="{csrf}"' in second.text and "press1" in second.text
    for mark in cache_marks():
        assert mark not in first.text and mark not in second.text
    # another person with the same role shares the page, with their own token and name
    other = client.__class__(client.app)
    other_csrf = login(other, *users["admin"])
    page = other.get("/alerts")
    assert len(builds) == 2  # admin is another role: its own build
    assert f'content="{other_csrf}"' in page.text and "admin1" in page.text and "press1" not in page.text
    # new data: built again
    process_batch(_batch(2), sqlite_store, Matcher(load_config(topics_env).topics), run_hooks=False)
    client.get("/alerts")
    assert len(builds) == 3
    other.close()


def cache_marks():
    from dashboard.web import _MARKS

    return list(_MARKS.values())


def test_a_new_stamp_replaces_the_value_in_its_entry():
    cache.clear()
    calls = []

    def fn():
        calls.append(1)
        return len(calls)

    assert cache.cached("s", fn, ttl=None, stamp=1)[0] == 1
    assert cache.cached("s", fn, ttl=None, stamp=1)[0] == 1
    assert cache.cached("s", fn, ttl=None, stamp=2)[0] == 2
    assert len([k for k in cache._entries if k == "s"]) == 1 and len(cache._entries) == 1
    assert cache.cached("s", fn, ttl=None, stamp=1)[0] == 3  # an old stamp is not kept either


def test_a_value_for_older_data_never_replaces_one_for_newer_data():
    cache.clear()
    calls = []

    def make(v):
        return lambda: calls.append(v) or v

    # read the version B at t=2 and computed it
    assert cache._get("k", make("B"), ttl=None, clock=time.monotonic, stamp="B", read_at=2.0)[0] == "B"
    # a request that read the older version A at t=1 (then waited for a thread) is answered with B's value
    assert cache._get("k", make("A"), ttl=None, clock=time.monotonic, stamp="A", read_at=1.0)[0] == "B"
    assert calls == ["B"]
    # a computation for A that ends after B was kept leaves B in place
    cache._inflight["k"] = threading.Event()
    assert cache._compute("k", make("A"), time.monotonic, "A", 1.0)[0] == "A"
    assert cache._get("k", make("B2"), ttl=None, clock=time.monotonic, stamp="B", read_at=3.0)[0] == "B"
    assert calls == ["B", "A"]


def test_under_live_collection_a_page_is_served_as_of_the_previous_version_while_it_is_rebuilt(
        client, sqlite_store, topics_env, users, monkeypatch):
    from monitor import marks
    from monitor.config import load_config
    from monitor.pipeline import process_batch
    from monitor.topics import Matcher
    from dashboard.routers import alerts, topics
    from tests.dashboard.support import login

    cache.clear()
    matcher = Matcher(load_config(topics_env).topics)
    login(client, *users["press"])
    process_batch(_batch(1), sqlite_store, matcher, run_hooks=False)
    gate, builds = threading.Event(), []
    real = topics._page_context

    def held(*a):
        builds.append(1)
        if len(builds) > 1:
            assert gate.wait(10)
        return real(*a)

    monkeypatch.setattr(topics, "_page_context", held)
    first = client.get("/topics/flu?range=30d")
    assert first.status_code == 200 and 'id="as-of"' not in first.text
    process_batch(_batch(2), sqlite_store, matcher, run_hooks=False)  # live collection: a new version
    stale = client.get("/topics/flu?range=30d")  # answered while the new page is still being built
    assert not gate.is_set() and len(builds) == 2
    assert 'id="as-of"' in stale.text and "Figures as of" in stale.text and "newer data is being counted" in stale.text
    again = client.get("/topics/flu?range=30d")  # others meanwhile: the same, no second build
    assert 'id="as-of"' in again.text and len(builds) == 2
    gate.set()
    for _ in range(100):
        if not cache._inflight:
            break
        time.sleep(0.05)
    fresh = client.get("/topics/flu?range=30d")
    assert 'id="as-of"' not in fresh.text and len(builds) == 2  # the page built behind the stale one
    # the live alerts page is never behind: built at once after a batch
    alert_builds = []
    real_charts = alerts.day_charts
    monkeypatch.setattr(alerts, "day_charts", lambda *a: alert_builds.append(1) or real_charts(*a))
    client.get("/alerts")
    process_batch(_batch(3), sqlite_store, matcher, run_hooks=False)
    live = client.get("/alerts")
    assert len(alert_builds) == 2 and 'id="as-of"' not in live.text
    # a person's own mark is never hidden behind an older page: built at once
    gate.clear()
    monkeypatch.setattr(topics, "_page_context", real)
    client.get("/topics/flu?range=30d")
    from sqlalchemy import select

    from monitor import models as m

    with sqlite_store.engine.connect() as conn:
        post_id = conn.execute(select(m.posts.c.id)).scalar()
    marks.mark_irrelevant(sqlite_store, post_id, "flu", "press1")
    after = client.get("/topics/flu?range=30d")
    assert 'id="as-of"' not in after.text
    # and past the bound (STALE_FOR since the older version was last seen current) it is built at once
    monkeypatch.setattr(cache, "STALE_FOR", 0.0)
    process_batch(_batch(4), sqlite_store, matcher, run_hooks=False)
    assert 'id="as-of"' not in client.get("/topics/flu?range=30d").text


def test_an_api_answer_served_from_the_previous_version_says_as_of_when(client, sqlite_store, topics_env, users):
    from monitor.config import load_config
    from monitor.pipeline import process_batch
    from monitor.topics import Matcher
    from tests.dashboard.support import login

    cache.clear()
    matcher = Matcher(load_config(topics_env).topics)
    login(client, *users["viewer"])
    process_batch(_batch(1), sqlite_store, matcher, run_hooks=False)
    first = client.get("/api/topics/flu?range=30d")
    assert "x-data-as-of" not in first.headers
    process_batch(_batch(2), sqlite_store, matcher, run_hooks=False)
    r = client.get("/api/topics/flu?range=30d")
    assert r.headers.get("x-data-as-of") and r.json()["totals"] == first.json()["totals"]


def test_an_account_page_is_built_again_for_its_own_posts_not_for_every_batch(client, sqlite_store, topics_env, users,
                                                                               monkeypatch):
    from datetime import datetime, timezone

    from dashboard.routers import influencers
    from monitor.config import load_config
    from monitor.items import Account, Batch, Post
    from monitor.pipeline import process_batch
    from monitor.topics import Matcher
    from sqlalchemy import select

    from monitor import models as m
    from tests.dashboard.support import login

    cache.clear()
    matcher = Matcher(load_config(topics_env).topics)
    process_batch(_batch(1), sqlite_store, matcher, run_hooks=False)  # by account "1"
    with sqlite_store.engine.connect() as conn:
        acc = conn.execute(select(m.accounts.c.id).where(m.accounts.c.platform_id == "1")).scalar()
    builds = []
    real = influencers._account_context
    monkeypatch.setattr(influencers, "_account_context", lambda *a: builds.append(1) or real(*a))
    login(client, *users["viewer"])
    assert client.get(f"/accounts/{acc}").status_code == 200 and len(builds) == 1
    other = Batch(source="test", posts=[Post(platform="x", platform_id="o1", kind="original", author_id="2",
                                             text="flu elsewhere", created_at=datetime(2026, 11, 20, 8, 30, tzinfo=timezone.utc))],
                  accounts=[Account(platform="x", platform_id="2", handle="u2")])
    process_batch(other, sqlite_store, matcher, run_hooks=False)  # someone else posts: the page stands
    page = client.get(f"/accounts/{acc}")
    assert len(builds) == 1 and 'id="as-of"' not in page.text
    process_batch(_batch(2), sqlite_store, matcher, run_hooks=False)  # the account posts again
    page = client.get(f"/accounts/{acc}")
    assert 'id="as-of"' in page.text  # the previous page answers while its new one is built
    for _ in range(100):
        if not cache._inflight:
            break
        time.sleep(0.05)
    assert len(builds) == 2 and "flu at A&amp;E number 2" in client.get(f"/accounts/{acc}").text


def test_at_most_a_few_pages_are_refreshed_behind_their_older_version_at_once():
    cache.clear()
    gate = threading.Event()
    started = []

    def slow(v):
        def fn():
            started.append(v)
            assert gate.wait(10)
            return v
        return fn

    for k in range(5):  # five pages, each computed once for version 1
        cache._get(("p", k), lambda k=k: f"old{k}", ttl=None, clock=time.monotonic, stamp=1, read_at=time.monotonic())
    served = [cache._get(("p", k), slow(f"new{k}"), ttl=None, clock=time.monotonic, stamp=2,
                         read_at=time.monotonic(), stale_for=60.0) for k in range(5)]
    assert [v for v, _c, as_of in served] == [f"old{k}" for k in range(5)] and all(a for _v, _c, a in served)
    time.sleep(0.2)
    assert len(started) == cache.REFRESHERS  # the others wait for a free refresher, serving the older page
    gate.set()
    final: list = []
    for _round in range(20):  # readers keep coming: every page gets its refresh, two at a time
        for _ in range(100):
            if not cache._inflight:
                break
            time.sleep(0.02)
        final = [cache._get(("p", k), slow(f"new{k}"), ttl=None, clock=time.monotonic, stamp=2,
                            read_at=time.monotonic(), stale_for=60.0)[0] for k in range(5)]
        if final == [f"new{k}" for k in range(5)]:
            break
    assert final == [f"new{k}" for k in range(5)]
