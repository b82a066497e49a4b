"""The influencer lookup over past data (a replayed or demo week): a batch that moves the newest data
into a new bucket is answered from the stored 30-day ranking, not by computing a new one while
readers wait; an explicit window still gets its own. A window no stored run answers is computed off
the request (influence.jobs): the API answers 202 with Retry-After, the page says it is being
computed and checks again by itself, and then the stored ranking answers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitor.items import Account, Post, Reference
from monitor.store import Scored
from tests.dashboard.support import login, when_ranked

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)  # weeks before the wall clock: past data


def batch(store, minutes: int, n: int = 6) -> None:
    posts = [Scored(Post("x", "root", "original", "chief", "flu jabs open", T0), 0.0, {"flu": ["flu"]})]
    for i in range(n):
        posts.append(Scored(Post("x", f"rt{minutes}-{i}", "retweet", f"u{i}", "RT flu jabs open",
                                 T0 + timedelta(minutes=minutes, seconds=i), references=[Reference("retweet", "root", "chief")]),
                            0.0, {"flu": ["flu"]}))
    store.write_batch(posts, [Account("x", "chief", handle="ChiefMedic")] + [Account("x", f"u{i}", handle=f"u{i}")
                                                                             for i in range(n)])


def test_new_past_data_is_answered_from_the_stored_ranking(client, users, sqlite_store):
    login(client, *users["viewer"])
    batch(sqlite_store, 1)
    first = when_ranked(client, "/api/influencers", {"topic": "flu"}).json()
    assert first["source"] == "stored" and first["accounts"][0]["handle"] == "ChiefMedic"
    batch(sqlite_store, 12)  # two buckets on: the pages' time moves on by 10 minutes
    again = client.get("/api/influencers", params={"topic": "flu"}).json()
    assert again["source"] == "stored" and again["run_id"] == first["run_id"]
    assert client.get("/influencers", params={"topic": "flu"}).status_code == 200
    week = when_ranked(client, "/api/influencers", {"topic": "flu", "window": "7d"}).json()
    assert week["run_id"] != first["run_id"]
    assert datetime.fromisoformat(week["until"]) == T0 + timedelta(minutes=15)  # the end of the newest bucket


def test_a_window_nobody_stored_is_computed_off_the_request(client, users, sqlite_store, monkeypatch):
    import threading

    from influence import jobs

    login(client, *users["viewer"])
    batch(sqlite_store, 1)
    gate, calls = threading.Event(), []
    real = jobs.compute_run

    def slow(*a, **k):  # the computation waits until the test lets it go
        calls.append(a[1:4])
        assert gate.wait(30)
        return real(*a, **k)

    monkeypatch.setattr(jobs, "compute_run", slow)
    params = {"topic": "flu", "window": "7d", "at": "2026-11-16T10:00:00"}
    r = client.get("/api/influencers", params=params)
    assert r.status_code == 202 and r.headers["retry-after"] == str(jobs.RETRY_AFTER_SECONDS)
    body = r.json()
    assert body["status"] == "computing" and body["since"].startswith("2026-11-09T10:00")
    # everyone asking meanwhile is told the same, and nothing more is started
    for _ in range(3):
        assert client.get("/api/influencers", params=params).status_code == 202
    page = client.get("/influencers", params=params)
    assert page.status_code == 200 and 'id="ranking-pending"' in page.text and 'role="status"' in page.text
    assert "is being computed" in page.text and 'data-ranking-poll="/api/influencers?topic=flu' in page.text
    assert '<noscript><meta http-equiv="refresh"' in page.text  # without JavaScript it reloads itself
    why = client.get("/influencers/why", params={**params, "account": 1})
    assert why.status_code == 202 and "being computed" in why.text
    gate.set()
    done = when_ranked(client, "/api/influencers", params)
    assert done.status_code == 200 and done.json()["accounts"][0]["handle"] == "ChiefMedic"
    assert len(calls) == 1  # one computation for every reader
    page = client.get("/influencers", params=params).text
    assert 'id="ranking-pending"' not in page and "<noscript><meta" not in page and "Ranked voices" in page


def test_a_failed_computation_is_shown_with_its_error(client, users, sqlite_store, monkeypatch):
    from influence import jobs

    login(client, *users["viewer"])
    batch(sqlite_store, 1)

    def broken(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(jobs, "compute_run", broken)
    params = {"topic": "flu", "window": "90d", "at": "2026-11-16T10:00:00"}
    assert client.get("/api/influencers", params=params).status_code == 202
    r = when_ranked(client, "/api/influencers", params, until_failed=True)
    assert r.status_code == 202 and r.json()["status"] == "failed" and "out of memory" in r.json()["error"]
    page = client.get("/influencers", params=params).text
    assert "could not be computed" in page and "out of memory" in page and "<noscript><meta" not in page


def test_the_export_is_prepared_off_the_request_once_per_ranking(client, users, sqlite_store, monkeypatch):
    """The export (every account of the network: more than a stored run keeps) never analyses on the
    request: 202 + Retry-After (JSON, or a page for a browser) while one build runs off the request,
    then the file, from the stored run the lookup shows; audited when it is served."""
    import influence.analysis
    from dashboard import audit
    from influence import export_jobs

    login(client, *users["viewer"])
    batch(sqlite_store, 1)
    ranked = when_ranked(client, "/api/influencers", {"topic": "flu"}).json()
    real, on_request = influence.analysis.analyse, []

    def watched(*a, **k):
        on_request.append(a[1:4])
        return real(*a, **k)

    monkeypatch.setattr(influence.analysis, "analyse", watched)
    jobs_started: list[dict] = []
    client.app.state.earshot.extra["influence_export_dispatch"] = lambda **job: jobs_started.append(job)
    params = {"topic": "flu", "format": "gexf"}
    r = client.get("/api/influencers/export", params=params)
    assert r.status_code == 202 and r.headers["retry-after"] == "5"
    assert r.json()["status"] == "preparing" and r.json()["run_id"] == ranked["run_id"]
    page = client.get("/api/influencers/export", params=params, headers={"Accept": "text/html"})
    assert page.status_code == 202 and page.headers["retry-after"] == "5" and 'role="status"' in page.text
    assert "is being prepared" in page.text and 'data-export-poll="/api/influencers/export?' in page.text
    assert '<noscript><meta http-equiv="refresh" content="10"></noscript>' in page.text  # no script: it reloads
    assert 'href="/influencers?topic=flu"' in page.text
    assert len(jobs_started) == 1 and jobs_started[0]["run_id"] == ranked["run_id"]  # one build for all
    assert on_request == [] and not audit.entries(sqlite_store, action="export")
    export_jobs.build(sqlite_store, **jobs_started[0])  # what the thread or the worker does
    assert len(on_request) == 1
    ready = client.get("/api/influencers/export", params={**params, "check": "true"})  # the page's poll
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert not audit.entries(sqlite_store, action="export")  # nothing sent yet
    got = client.get("/api/influencers/export", params=params)
    assert got.status_code == 200 and got.headers["content-disposition"] == 'attachment; filename="influencers-flu.gexf"'
    assert b"ChiefMedic" in got.content and len(on_request) == 1  # served from the kept file
    assert got.headers["content-encoding"] == "gzip"  # as kept (the client decodes it)
    plain = client.get("/api/influencers/export", params=params, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == got.content
    entry, _ = audit.entries(sqlite_store, action="export")
    assert entry["detail"]["format"] == "gexf" and entry["detail"]["until"] == ranked["until"]
    # a format nobody asked for is its own build
    assert client.get("/api/influencers/export", params={"topic": "flu", "format": "csv"}).status_code == 202
    assert [j["fmt"] for j in jobs_started] == ["gexf", "csv"] and len(on_request) == 1


def test_the_export_waits_for_a_ranking_being_computed(client, users, sqlite_store):
    from influence import jobs

    login(client, *users["viewer"])
    batch(sqlite_store, 1)
    client.app.state.earshot.extra["influence_dispatch"] = lambda **job: None  # never finishes
    params = {"topic": "flu", "window": "7d", "at": "2026-11-16T10:00:00", "format": "graphml"}
    r = client.get("/api/influencers/export", params=params)
    assert r.status_code == 202 and r.json()["status"] == "computing"
    assert r.headers["retry-after"] == str(jobs.RETRY_AFTER_SECONDS)
    page = client.get("/api/influencers/export", params=params, headers={"Accept": "text/html"})
    assert page.status_code == 202 and "The ranking for" in page.text and "is being computed" in page.text
