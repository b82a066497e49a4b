"""The briefing's archive and review pages in the dashboard: read, download, edit, approve; roles and CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

from briefings import archive
from briefings.build import build
from briefings.settings import BriefingSettings
from briefings.week import Week
from monitor.config import load_config
from monitor.items import Account, Batch, Post
from monitor.pipeline import process_batch
from monitor.topics import Matcher
from tests.briefings.support import html_tags
from tests.dashboard.support import login

W = Week.parse("2026-W47")
HOSTILE = '<script>alert(1)</script> flu jab <img src=x onerror=alert(2)>'


def _briefing(store, topics_env):
    config = load_config(topics_env)
    acc = Account("x", "77", handle="ChiefMedic", name="Chief <b>Medic</b>", followers=90_000)
    posts = [Post("x", f"10{n}", "original", "77", f"{HOSTILE} number {n}", W.start + timedelta(days=1, hours=n),
                  lang="en", url=f"https://x.com/ChiefMedic/status/10{n}", source="x-search") for n in range(3)]
    process_batch(Batch("x-search", posts=posts, accounts=[acc]), store, Matcher(config.topics), run_hooks=False)
    row, _ = archive.save_build(store, build(store, config, W, BriefingSettings()), by="builder")
    return row


def test_archive_read_download_review_approve(client, sqlite_store, topics_env, users):
    row = _briefing(sqlite_store, topics_env)
    assert client.get("/briefings", follow_redirects=False).status_code in (303, 307)  # anonymous: sign in first
    assert client.get("/api/briefings").status_code == 401
    login(client, *users["viewer"])
    page = client.get("/briefings")
    assert page.status_code == 200 and f"/briefings/{row['id']}" in page.text and "2026-W47 r1" in page.text
    assert client.get("/briefings?topic=flu").text.count(f"/briefings/{row['id']}\"") >= 1
    assert f"/briefings/{row['id']}\"" not in client.get("/briefings?topic=care").text
    one = client.get(f"/briefings/{row['id']}")
    assert one.status_code == 200
    tags = html_tags(one.text)
    assert not [(t, k) for t, a in tags for k, _ in a if k.startswith("on")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in one.text
    imgs = [dict(a)["src"] for t, a in tags if t == "img" and "/charts/" in dict(a).get("src", "")]
    assert imgs and all(client.get(src).headers["content-type"] == "image/png" for src in imgs)
    assert client.get(f"/briefings/{row['id']}/charts/..%2Fsecret.png").status_code == 404
    pdf = client.get(f"/briefings/{row['id']}/briefing.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert 'action="/briefings/' not in one.text  # a viewer gets no review form
    api = client.get(f"/api/briefings/{row['id']}").json()
    assert api["status"] == "draft" and api["history"][0]["kind"] == "built"
    # a viewer may not approve
    assert client.post(f"/api/briefings/{row['id']}/approve", headers={"X-CSRF-Token": "x"}).status_code == 403

    client.cookies.clear()
    csrf = login(client, *users["press"])
    page = client.get(f"/briefings/{row['id']}")
    assert f'action="/briefings/{row["id"]}/approve"' in page.text
    story = re.search(r'name="remove" type="checkbox" value="([^"]+)"', page.text).group(1)
    # no token, no change
    assert client.post(f"/briefings/{row['id']}/approve", data={}, follow_redirects=False).status_code == 403
    r = client.post(f"/briefings/{row['id']}/edit", data={"csrf_token": csrf, "note": "Read <this>",
                                                          "key_messages": "One\nTwo", "remove": [story]},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    after = client.get(f"/api/briefings/{row['id']}").json()
    assert after["edits"]["note"] == "Read <this>" and after["edits"]["key_messages"] == ["One", "Two"]
    assert after["edits"]["removed"] == [story] and after["edited_by"] == "press1"
    assert client.post(f"/api/briefings/{row['id']}/edit", data={"remove": ["nope"]},
                       headers={"X-CSRF-Token": csrf}).status_code == 422
    r = client.post(f"/briefings/{row['id']}/approve", data={"csrf_token": csrf, "note": "ok"}, follow_redirects=False)
    assert r.status_code == 303
    done = client.get(f"/api/briefings/{row['id']}").json()
    assert done["status"] == "approved" and done["approved_by"] == "press1"
    assert [h["kind"] for h in done["history"]] == ["built", "edited", "approved"]
    assert client.post(f"/api/briefings/{row['id']}/approve", headers={"X-CSRF-Token": csrf}).status_code == 409
    assert client.get("/api/briefings/999999").status_code == 404
