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


def _sink(refuse_first: bool):
    """An aiosmtpd server on loopback; refuses the first message's data when asked (a failed delivery)."""
    from aiosmtpd.controller import Controller

    from monitor.harness.services import free_port

    received: list[dict] = []
    state = {"refuse": refuse_first}

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            if state["refuse"]:
                state["refuse"] = False
                return "554 5.7.1 not today"
            received.append({"to": list(envelope.rcpt_tos), "data": envelope.content})
            return "250 OK"

    ctl = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    ctl.start()
    return ctl, received


def test_send_from_the_page_once_by_press_with_csrf_audited_and_received(sqlite_store, topics_env, users, monkeypatch):
    from fastapi.testclient import TestClient

    from dashboard import audit
    from tests.briefings.support import parse
    from tests.dashboard.support import make_app

    to = ["minister@health.example.gov.uk", "perm.sec@health.example.gov.uk"]
    (topics_env.parent / "briefing.yaml").write_text(f"recipients: [{', '.join(to)}]\n", encoding="utf-8")
    ctl, received = _sink(refuse_first=True)
    try:
        monkeypatch.setenv("EARSHOT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("EARSHOT_SMTP_PORT", str(ctl.port))
        monkeypatch.setenv("EARSHOT_SMTP_STARTTLS", "no")
        row = _briefing(sqlite_store, topics_env)
        bid = row["id"]
        with TestClient(make_app(sqlite_store, topics_env, hub=False)) as client:
            csrf = login(client, *users["press"])
            page = client.get(f"/briefings/{bid}").text
            assert f'action="/briefings/{bid}/send"' not in page  # a draft offers no send
            r = client.post(f"/briefings/{bid}/send", data={"csrf_token": csrf}, follow_redirects=False)
            assert r.status_code == 409 and "must approve it first" in r.text and not received
            assert client.post(f"/briefings/{bid}/approve", data={"csrf_token": csrf},
                               follow_redirects=False).status_code == 303
            page = client.get(f"/briefings/{bid}").text
            assert f'action="/briefings/{bid}/send"' in page and all(f"<li>{a}</li>" in page for a in to)
            assert "Send to 2 recipients" in page
            # no token, no send; a viewer may not send
            assert client.post(f"/briefings/{bid}/send", data={}, follow_redirects=False).status_code == 403
            assert client.post(f"/api/briefings/{bid}/send").status_code == 403
            # the SMTP server refuses: nothing sent, still approved, recorded and audited
            r = client.post(f"/briefings/{bid}/send", data={"csrf_token": csrf}, follow_redirects=False)
            assert r.status_code == 502 and "554" in r.text
            after = client.get(f"/api/briefings/{bid}").json()
            assert after["status"] == "approved" and after["sent_by"] is None and not received
            assert [h["kind"] for h in after["history"]][-1] == "send_failed"
            # sent: once, to the recipients, as an approved briefing
            r = client.post(f"/briefings/{bid}/send", data={"csrf_token": csrf}, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == f"/briefings/{bid}?done=send"
            assert len(received) == 1 and sorted(received[0]["to"]) == sorted(to)
            msg = parse(received[0]["data"])
            assert msg["Subject"].startswith("Weekly media briefing") and "DRAFT" not in msg["Subject"]
            assert msg.get_content_type() == "multipart/mixed"
            html = msg.get_body(("html",)).get_content()
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
            done = client.get(f"/api/briefings/{bid}").json()
            assert done["status"] == "sent" and done["sent_by"] == "press1" and sorted(done["sent_to"]) == sorted(to)
            assert [h["kind"] for h in done["history"]] == ["built", "approved", "send_failed", "sent"]
            page = client.get(f"/briefings/{bid}?done=send").text
            assert f'action="/briefings/{bid}/send"' not in page and "by press1 to" in page
            # one "Done — Sent." banner (the layout's), not the page's own as well
            assert page.count("govuk-notification-banner--success") == 1 and page.count(">Sent.</p>") == 1
            # a second send (a double click, another tab) sends nothing
            r = client.post(f"/api/briefings/{bid}/send", headers={"X-CSRF-Token": csrf})
            assert r.status_code == 409 and "already sent" in r.text and len(received) == 1
            client.cookies.clear()
            login(client, *users["viewer"])
            assert client.post(f"/api/briefings/{bid}/send", headers={"X-CSRF-Token": "x"}).status_code == 403
        rows = audit.entries(sqlite_store)
        acts = [(e["action"], e["user_name"], e["target"]) for e in rows if e["action"].startswith("briefing-")]
        assert acts == [("briefing-send", "press1", f"briefing:{bid}"), ("briefing-send-failed", "press1", f"briefing:{bid}"),
                        ("briefing-approve", "press1", f"briefing:{bid}")]
        assert next(e for e in rows if e["action"] == "briefing-send")["detail"]["to"] == to
    finally:
        ctl.stop()


def test_send_without_smtp_or_recipients_says_why_and_sends_nothing(client, sqlite_store, topics_env, users):
    row = _briefing(sqlite_store, topics_env)
    csrf = login(client, *users["press"])
    client.post(f"/briefings/{row['id']}/approve", data={"csrf_token": csrf}, follow_redirects=False)
    page = client.get(f"/briefings/{row['id']}").text
    assert "No recipients are listed" in page and f'action="/briefings/{row["id"]}/send"' not in page
    r = client.post(f"/api/briefings/{row['id']}/send", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409 and "recipients" in r.text
    assert client.get(f"/api/briefings/{row['id']}").json()["status"] == "approved"
