"""What an alert card says: figures, top posts with safe links, and the share of coordinated amplification."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dashboard.routers.alerts import card
from monitor.alerts import engine, records
from monitor.config import load_config
from monitor.items import Account, Batch, Post, Reference
from monitor.pipeline import process_batch
from monitor.topics import Matcher
from tests.dashboard.support import make_app
from tests.monitor.alerts_support import fill

T = datetime(2026, 11, 18, 14, 0, tzinfo=timezone.utc)


def test_the_card_counts_retweets_in_bursts_as_coordinated(sqlite_store, topics_env):
    store = sqlite_store
    fill(store, "flu", T - timedelta(days=2), T - timedelta(minutes=10), 2.0, seed=8, hook=False)
    start = T - timedelta(minutes=5)
    posts = [Post(platform="x", platform_id=f"orig{i}", kind="original", author_id=str(100 + i),
                  text=f"flu wards full {i}", created_at=start + timedelta(seconds=4 * i),
                  url=f"https://x.com/u{100 + i}/status/{i}" if i else "javascript:alert(1)") for i in range(60)]
    # 20 accounts retweet o0 two seconds apart (a burst); 10 retweet o1 a minute apart (people)
    posts += [Post(platform="x", platform_id=f"burst{i}", kind="retweet", author_id=str(500 + i), text="RT flu wards full 0",
                   created_at=start + timedelta(seconds=30 + 2 * i), references=[Reference("retweet", "orig0", "100")])
              for i in range(20)]
    posts += [Post(platform="x", platform_id=f"slow{i}", kind="retweet", author_id=str(600 + i), text="RT flu wards full 1",
                   created_at=start + timedelta(seconds=20 + 25 * i), references=[Reference("retweet", "orig1", "101")])
              for i in range(10)]
    accounts = [Account(platform="x", platform_id=p.author_id, handle=f"u{p.author_id}") for p in posts]
    batch = Batch(source="test", posts=posts, accounts=accounts)
    config = load_config(topics_env)
    result = process_batch(batch, store, Matcher(config.topics), run_hooks=False)
    engine.after_batch(store, batch, result)
    (alert,) = [a for a in records.list_alerts(store) if a["kind"] == "volume"]
    app = make_app(store, topics_env, hub=False)
    c = card(app.state.earshot, alert)
    assert c["coordinated_share"] == pytest.approx(20 / 30)
    assert c["topic_label"] == "Flu" and c["ratio"] > 3
    assert c["top_posts"][0]["platform_id"] == "orig0" and c["top_posts"][0]["amplified"] == 20
    assert c["top_posts"][0]["link"] is None  # its stored URL is javascript:, and its id is not an X id
    assert c["top_posts"][1]["link"] == "https://x.com/u101/status/1"


def test_the_card_shows_the_engines_coordination_when_the_influence_run_flagged_accounts(sqlite_store, topics_env):
    app = make_app(sqlite_store, topics_env, hub=False)
    row = {"id": 1, "topic": "flu", "kind": "volume", "severity": "warning", "state": "open", "title": "Flu: 5× <b>",
           "opened_at": T, "updated_at": T, "started_at": T, "closed_at": None, "ratio": 5.0, "current": 50.0,
           "expected": 10.0, "details": {"coordination": {"share": 0.62, "rings": [{"ring": 1, "posts": 30}]}}}
    c = card(app.state.earshot, row)
    assert c["coordination_words"] == "62% of the rise from accounts flagged as coordinated (ring 1)"
    assert c["coordinated_share"] is None


def _alert(store, key: str, *, state: str = "open", closed: bool = True, resolved_by: str | None = None) -> int:
    from monitor import models as m

    with store.engine.begin() as conn:
        return conn.execute(m.alerts.insert().values(
            topic="flu", kind="volume", key=key, state=state, severity="warning", title=f"Flu {key}",
            started_at=T - timedelta(hours=3), opened_at=T - timedelta(hours=2), updated_at=T - timedelta(hours=1),
            closed_at=T - timedelta(hours=1) if closed else None, created_at=T, details={},
            resolved_by=resolved_by, resolved_at=T if resolved_by else None)).inserted_primary_key[0]


def test_the_press_office_resolves_every_alert_back_to_normal_at_once(sqlite_store, topics_env, users):
    from fastapi.testclient import TestClient

    from dashboard import audit
    from tests.dashboard.support import login

    normal = [_alert(sqlite_store, "a"), _alert(sqlite_store, "b", state="acknowledged")]
    running = _alert(sqlite_store, "c", closed=False)
    done_before = _alert(sqlite_store, "d", state="resolved", resolved_by="ada")
    with TestClient(make_app(sqlite_store, topics_env, hub=False)) as client:
        csrf = login(client, *users["viewer"])
        assert 'id="resolve-normal"' not in client.get("/alerts").text  # a viewer gets no form
        assert client.post("/alerts/resolve-normal", data={"csrf_token": csrf, "alert": normal},
                           follow_redirects=False).status_code == 403
        client.cookies.clear()
        csrf = login(client, *users["press"])
        page = client.get("/alerts").text
        assert 'id="resolve-normal"' in page and "Resolve the 2 alerts back to normal" in page
        assert all(f'name="alert" value="{i}"' in page for i in normal) and f'value="{running}"' not in page
        # no CSRF token, nothing resolved
        assert client.post("/alerts/resolve-normal", data={"alert": normal}, follow_redirects=False).status_code == 403
        # the running alert is sent as well (it opened again meanwhile): it is left as it is
        r = client.post("/alerts/resolve-normal", data={"csrf_token": csrf, "note": "all quiet again",
                                                        "alert": normal + [running]}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/alerts?done=resolve-normal&n=2"
        page = client.get(r.headers["location"]).text
        assert "2 alerts back to normal resolved." in page and 'id="resolve-normal"' not in page
        for i in normal:
            a = records.get_alert(sqlite_store, i)
            assert (a["state"], a["resolved_by"]) == ("resolved", "press1")
            assert ("resolved", "press1", "all quiet again") in [(e["kind"], e["by"], e["note"])
                                                                 for e in records.events(sqlite_store, i)]
        assert records.get_alert(sqlite_store, running)["state"] == "open"
        assert records.get_alert(sqlite_store, done_before)["resolved_by"] == "ada"
        entries = [e for e in audit.entries(sqlite_store) if e["action"] == "resolve"]
        assert sorted(e["target"] for e in entries) == sorted(f"alert:{i}" for i in normal)
        assert all(e["detail"] == {"note": "all quiet again", "back_to_normal": True} for e in entries)
        # the API: every alert back to normal unless told which
        again = _alert(sqlite_store, "e")
        r = client.post("/api/alerts/resolve-normal", headers={"X-CSRF-Token": csrf}, data={"note": "done"})
        assert r.status_code == 200 and r.json() == {"resolved": [again], "skipped": []}
        r = client.post("/api/alerts/resolve-normal", headers={"X-CSRF-Token": csrf}, data={"alert": [running]})
        assert r.json() == {"resolved": [], "skipped": [running]}


def test_past_the_first_cards_the_live_page_gives_one_line_an_alert(sqlite_store, topics_env, users, monkeypatch):
    from fastapi.testclient import TestClient

    from dashboard.routers import alerts as alerts_router
    from tests.dashboard.support import login

    monkeypatch.setattr(alerts_router, "FULL_CARDS", 2)
    ids = [_alert(sqlite_store, f"k{i}", closed=i % 2 == 0) for i in range(5)]
    with TestClient(make_app(sqlite_store, topics_env, hub=False)) as client:
        login(client, *users["press"])
        page = client.get("/alerts").text
    assert page.count('class="earshot-alert earshot-alert--warning"') == 2  # full cards
    assert page.count("earshot-alert--compact") == 3 and "the other 3 in one line each" in page
    assert all(f'id="alert-{i}"' in page for i in ids) and "5 unresolved" in page
    assert page.count('action="/alerts/') - page.count('action="/alerts/resolve-normal"') == 4  # forms: full cards only
    assert "Resolve the 3 alerts back to normal" in page  # every alert back to normal, in full or not
