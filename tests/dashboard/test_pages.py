"""Every page and its API over the demo week: topics, search, marks, influencers and exports, status, audit."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import networkx as nx
import pytest
from sqlalchemy import select

from dashboard import audit
from dashboard.pages import PAGES, concrete_paths
from monitor import models as m
from tests.dashboard.support import login, when_ranked


def users_of(client):
    return {"viewer": ("viewer1", "correct horse battery"), "press": ("press1", "correct horse battery"),
            "admin": ("admin1", "correct horse battery")}


def test_every_page_opens_for_its_role_and_refuses_the_others(demo_client, demo_week):
    paths = concrete_paths(demo_week["store"], demo_week["config"])
    need = {p.path: p.role for p in PAGES}
    # each concrete path and the page it fills (a page whose ids the demo week lacks, such as a briefing, is left out)
    import re

    templates = {}
    for path in paths:
        templates[path] = next(p.path for p in PAGES
                               if re.fullmatch(re.sub(r"\\{\w+\\}", r"[^/]+", re.escape(p.path)), path.split("?")[0]))
    assert {p.path for p in PAGES if "{" not in p.path} <= set(paths)
    assert {"/topics/{topic}", "/accounts/{account_id}", "/posts/{post_id}", "/alerts/{alert_id}"} <= set(templates.values())
    for role in ("viewer", "press", "admin"):
        demo_client.cookies.clear()
        login(demo_client, *users_of(demo_client)[role])
        for path in paths:
            r = demo_client.get(path)
            allowed = {"viewer": 0, "press": 1, "admin": 2}[role] >= {"viewer": 0, "press": 1, "admin": 2}[need[templates[path]]]
            assert r.status_code == (200 if allowed else 403), (role, path, r.status_code, r.text[:300])
            if allowed:
                assert "<title>" in r.text and "govuk-template" in r.text and "Sign out" in r.text


def test_the_topic_overview_shows_the_crisis_against_its_expected_band(demo_client, demo_week):
    login(demo_client, *users_of(demo_client)["viewer"])
    ov = demo_client.get("/api/topics/vaccination?range=7d").json()
    assert ov["totals"]["posts"] > 100
    peak = max(ov["volume"], key=lambda p: p["posts"])
    assert peak["expected"] is not None and peak["posts"] > peak["high"]  # the planted crisis is out of band
    assert len(ov["weekly"]) >= 12 and ov["most_shared_posts"] and ov["alerts"]
    assert any(a["severity"] == "critical" for a in ov["alerts"])
    x_only = demo_client.get("/api/topics/vaccination?range=7d&platform=x").json()
    assert 0 < x_only["totals"]["posts"] <= ov["totals"]["posts"]
    page = demo_client.get("/topics/vaccination?range=7d")
    assert page.status_code == 200 and 'data-plotly="volume-data"' in page.text and "Table of this chart" in page.text
    # the posts behind a chart point
    t = peak["t"]
    frag = demo_client.get(f"/topics/vaccination/points?point={t}&step=3600")
    assert frag.status_code == 200 and frag.text.count('class="earshot-post"') == min(peak["posts"], 50)
    assert "<html" not in frag.text
    # the same posts as a page, from the chart's table (keyboard users): each hour with posts links there
    assert "/topics/vaccination/points?step=3600&amp;point=" in page.text
    full = demo_client.get(f"/topics/vaccination/points?point={t}&step=3600", headers={"Sec-Fetch-Mode": "navigate"})
    assert "<html" in full.text and full.text.count('class="earshot-post"') == min(peak["posts"], 50)
    csv_rows = list(csv.reader(io.StringIO(demo_client.get("/api/topics/vaccination/volume.csv?range=7d").text)))
    assert csv_rows[0][:3] == ["t", "posts", "expected"] and len(csv_rows) == len(ov["volume"]) + 1
    assert demo_client.get("/api/topics/nope").status_code == 404


def test_marking_a_post_irrelevant_changes_the_counts_and_undoing_restores_them(demo_client, demo_week):
    store = demo_week["store"]
    with store.engine.connect() as conn:
        post_id = conn.execute(select(m.post_topics.c.post_id).where(m.post_topics.c.topic == "vaccination")
                               .limit(1)).scalar()
    csrf = login(demo_client, *users_of(demo_client)["viewer"])
    before = demo_client.get("/api/topics/vaccination?range=7d").json()
    # a viewer may not mark
    r = demo_client.post(f"/api/posts/{post_id}/irrelevant", data={"topic": "vaccination", "csrf_token": csrf})
    assert r.status_code == 403
    demo_client.cookies.clear()
    csrf = login(demo_client, *users_of(demo_client)["press"])
    assert demo_client.post(f"/api/posts/{post_id}/irrelevant", data={"topic": "vaccination"}).status_code == 403
    r = demo_client.post(f"/posts/{post_id}/irrelevant", data={"topic": "vaccination", "csrf_token": csrf},
                         follow_redirects=False)
    assert r.status_code == 303
    after = demo_client.get("/api/topics/vaccination?range=7d").json()
    assert after["totals"]["posts"] == before["totals"]["posts"] - 1
    assert after["review"]["irrelevant"] == before["review"]["irrelevant"] + 1
    page = demo_client.get(f"/posts/{post_id}?done=irrelevant")
    assert "irrelevant to Vaccination" in page.text and "press1" in page.text
    mark = demo_client.get(f"/api/posts/{post_id}").json()["marks"][0]
    assert (mark["kind"], mark["by"], mark["undone_at"]) == ("irrelevant", "press1", None)
    r = demo_client.post(f"/api/marks/{mark['id']}/undo", data={"csrf_token": csrf})
    assert r.status_code == 200 and r.json()["undone_by"] == "press1"
    assert demo_client.get("/api/topics/vaccination?range=7d").json()["totals"]["posts"] == before["totals"]["posts"]
    actions = [(e["action"], e["user_name"]) for e in audit.entries(store, limit=20)]
    assert ("mark", "press1") in actions and ("unmark", "press1") in actions


def test_sentiment_corrections_show_as_the_topic_disagreement_rate(demo_client, demo_week):
    store = demo_week["store"]
    with store.engine.connect() as conn:
        pid = conn.execute(select(m.posts.c.id).select_from(m.posts.join(m.post_topics, m.post_topics.c.post_id == m.posts.c.id))
                           .where(m.post_topics.c.topic == "social_care", m.posts.c.sentiment <= -0.05).limit(1)).scalar()
    csrf = login(demo_client, *users_of(demo_client)["press"])
    r = demo_client.post(f"/api/posts/{pid}/sentiment", data={"label": "positive", "csrf_token": csrf})
    assert r.status_code == 200
    ov = demo_client.get("/api/topics/social_care?range=7d").json()
    assert ov["review"]["sentiment_checked"] >= 1 and ov["review"]["disagreement_rate"] > 0
    demo_client.post(f"/api/marks/{r.json()['id']}/undo", data={"csrf_token": csrf})


@pytest.mark.parametrize("q", ["A&E", "NHS-trust", '"waiting list"', '"', "*", "vaccin*", "OR NOT", "<script>"])
def test_search_takes_anything_typed(demo_client, q):
    login(demo_client, *users_of(demo_client)["viewer"])
    r = demo_client.get("/api/posts/search", params={"q": q})
    assert r.status_code == 200, r.text
    page = demo_client.get("/search", params={"q": q})
    assert page.status_code == 200 and "<script>" not in page.text.split("<main")[1].replace('<script type="module"', "")


def test_search_finds_highlights_and_pages(demo_client):
    login(demo_client, *users_of(demo_client)["viewer"])
    r = demo_client.get("/api/posts/search", params={"q": "vaccin*", "topic": "vaccination"}).json()
    assert r["total"] > 20 and len(r["posts"]) == 20 and r["pages"] >= 2
    assert all('<mark class="earshot-hit">' in p["snippet_html"] for p in r["posts"])
    p2 = demo_client.get("/api/posts/search", params={"q": "vaccin*", "topic": "vaccination", "page": 2}).json()
    assert {p["id"] for p in p2["posts"]}.isdisjoint({p["id"] for p in r["posts"]})
    assert demo_client.get("/api/posts/search", params={"q": "vaccin*", "topic": "nope"}).status_code == 404


def test_influencer_lookup_explains_and_exports(demo_client, demo_week):
    login(demo_client, *users_of(demo_client)["viewer"])
    r = when_ranked(demo_client, "/api/influencers", {"topic": "vaccination", "window": "7d", "why": 3}).json()
    assert r["accounts"] and r["accounts"][0]["rank"] == 1
    top = str(r["accounts"][0]["account_id"])
    assert top in r["why"] and r["why"][top]["measures"] and "share" in r["why"][top]
    page = demo_client.get("/influencers", params={"topic": "vaccination", "window": "7d"})
    assert page.status_code == 200 and "Why the top" in page.text and 'data-plotly="network-data"' in page.text
    why = demo_client.get("/influencers/why", params={"topic": "vaccination", "window": "7d", "account": top})
    assert why.status_code == 200 and "Share of the conversation" in why.text and "<html" not in why.text
    assert demo_client.get("/influencers/why", params={"topic": "vaccination", "window": "7d",
                                                       "account": 999999}).status_code == 404
    # each file is prepared once per stored ranking off the request: 202 + Retry-After, then the file
    first = demo_client.get("/api/influencers/export", params={"topic": "vaccination", "window": "7d", "format": "gexf"})
    assert first.status_code == 202 and first.headers["retry-after"] and first.json()["status"] == "preparing"
    gexf = when_ranked(demo_client, "/api/influencers/export", {"topic": "vaccination", "window": "7d", "format": "gexf"})
    assert gexf.status_code == 200 and "attachment" in gexf.headers["content-disposition"]
    ET.fromstring(gexf.content)
    g = nx.read_graphml(io.BytesIO(when_ranked(demo_client, "/api/influencers/export", {
        "topic": "vaccination", "window": "7d", "format": "graphml"}).content))
    assert g.number_of_nodes() > 10 and g.number_of_edges() > 10
    nodes = list(csv.DictReader(io.StringIO(when_ranked(demo_client, "/api/influencers/export", {
        "topic": "vaccination", "window": "7d", "format": "csv", "part": "nodes"}).text)))
    edges = demo_client.get("/api/influencers/export", params={"topic": "vaccination", "window": "7d",
                                                                "format": "csv", "part": "edges"}).text
    assert len(nodes) == g.number_of_nodes() and edges.splitlines()[0].startswith("source")
    assert sum(e["action"] == "export" for e in audit.entries(demo_week["store"], action="export")) >= 4
    acc = demo_client.get(f"/api/accounts/{top}", params={"topic": "vaccination"}).json()
    assert acc["rank_history"] and acc["why"]["account"]["account_id"] == int(top)
    assert demo_client.get(f"/accounts/{top}?topic=vaccination").status_code == 200


def test_status_audit_and_accounts(demo_client, demo_week):
    csrf = login(demo_client, *users_of(demo_client)["admin"])
    st = demo_client.get("/api/status").json()
    assert st["sources"] and "vaccination" in st["topics"] and all("cursor" not in s for s in st["sources"])
    assert demo_client.get("/api/audit").json()[0]["action"] == "sign-in"
    r = demo_client.post("/api/users/viewer1/disable", data={"csrf_token": csrf})
    assert r.status_code == 200 and r.json()["disabled_at"]
    assert demo_client.post("/api/users/admin1/disable", data={"csrf_token": csrf}).status_code == 409
    demo_client.post("/api/users/viewer1/enable", data={"csrf_token": csrf})
    assert [u for u in demo_client.get("/api/users").json() if u["name"] == "viewer1"][0]["disabled_at"] is None
