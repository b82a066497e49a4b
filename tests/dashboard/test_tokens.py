"""API tokens: made by a signed-in admin (page, API) or ``earshot tokens``, hashed at rest, one role each,
audited; what a token may and may not do, through the app (FastAPI TestClient) and the command line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import select

from dashboard import audit, auth
from monitor import models as m
from monitor.cli import _add_plugins, cli
from tests.dashboard.support import login

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_admin_makes_a_token_another_tool_uses_and_revokes_it(client, sqlite_store, users):
    csrf = login(client, *users["admin"])
    # without the CSRF token a signed-in admin cannot make one
    assert client.post("/api/tokens", data={"name": "reports", "role": "viewer"}).status_code == 403
    r = client.post("/api/tokens", data={"name": "Reports", "role": "viewer", "csrf_token": csrf})
    assert r.status_code == 200, r.text
    made = r.json()
    secret = made["token"]
    assert made["name"] == "reports" and made["role"] == "viewer" and made["state"] == "live"
    assert secret.startswith("esk_") and len(secret) > 40 and made["prefix"] == secret[:10]
    # the list never holds the secret
    listed = client.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["reports"] and "token" not in listed[0]
    assert secret not in client.get("/api/tokens").text and secret not in client.get("/tokens").text

    tool = client.__class__(client.app)  # another tool: no cookies, only the header
    assert tool.get("/api/alerts").status_code == 401
    r = tool.get("/api/alerts", headers=_bearer(secret))
    assert r.status_code == 200 and r.json() == []
    assert tool.get("/api/me", headers=_bearer(secret)).json()["name"] == "token:reports"
    # a viewer token reads, nothing more
    assert tool.post("/api/posts/1/sentiment", data={"label": "positive"}, headers=_bearer(secret)).status_code == 403
    assert tool.get("/api/audit", headers=_bearer(secret)).status_code == 403
    # a wrong, forged or malformed header is nobody, even beside a valid session cookie
    for header in ("Bearer esk_" + "A" * 43, "Bearer " + secret[:-1], "Basic " + secret, "Bearer", secret):
        assert tool.get("/api/alerts", headers={"Authorization": header}).status_code == 401, header
    assert client.get("/api/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401

    r = client.post("/api/tokens/reports/revoke", data={"csrf_token": csrf})
    assert r.status_code == 200 and r.json()["state"] == "revoked" and r.json()["revoked_by"] == "admin1"
    assert tool.get("/api/alerts", headers=_bearer(secret)).status_code == 401
    # names are never reused, so the audit log names one token
    assert client.post("/api/tokens", data={"name": "reports", "role": "viewer", "csrf_token": csrf}).status_code == 409
    log = audit.entries(sqlite_store)
    assert [(e["action"], e["user_name"], e["target"]) for e in log if e["action"].startswith("token-")] == [
        ("token-revoke", "admin1", "reports"), ("token-add", "admin1", "reports")]
    tool.close()


def test_the_store_keeps_only_the_tokens_hash(client, sqlite_store, users):
    secret, row = auth.create_token(sqlite_store, "bot", "press", created_by="admin1")
    with sqlite_store.engine.connect() as conn:
        rows = conn.execute(select(m.api_tokens)).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert secret not in stored and secret[10:] not in stored
    assert rows[0]["token_hash"] == auth.token_hash(secret)


def test_a_token_acts_with_its_role_needs_no_csrf_and_is_named_in_what_it_records(client, sqlite_store, users):
    from monitor.items import Account, Batch, Post
    from monitor.pipeline import process_batch
    from monitor.topics import Matcher
    from monitor.config import load_config
    import os

    matcher = Matcher(load_config(os.environ["EARSHOT_CONFIG"]).topics)
    post = Post(platform="x", platform_id="777", kind="original", author_id="9", text="flu at A&E today",
                created_at=T0, lang="en")
    process_batch(Batch(source="test", posts=[post], accounts=[Account(platform="x", platform_id="9", handle="u9")]),
                  sqlite_store, matcher, run_hooks=False)
    with sqlite_store.engine.connect() as conn:
        post_id = conn.execute(select(m.posts.c.id).where(m.posts.c.platform_id == "777")).scalar()
    press, _ = auth.create_token(sqlite_store, "triage", "press", created_by="admin1")
    r = client.post(f"/api/posts/{post_id}/irrelevant", data={"topic": "flu"}, headers=_bearer(press))
    assert r.status_code == 200, r.text
    marks = client.get(f"/api/posts/{post_id}", headers=_bearer(press)).json()["marks"]
    assert marks[0]["by"] == "token:triage"
    entry = audit.entries(sqlite_store, action="mark")[0]
    assert entry["user_name"] == "token:triage"
    # an admin token reads the audit log but manages neither tokens nor accounts, nor signs out
    admin, _ = auth.create_token(sqlite_store, "auditor", "admin", created_by="admin1")
    assert client.get("/api/audit", headers=_bearer(admin)).status_code == 200
    assert client.get("/api/tokens", headers=_bearer(admin)).status_code == 200
    for path, data in (("/api/tokens", {"name": "more", "role": "admin"}), ("/api/tokens/triage/revoke", {}),
                       ("/api/users/viewer1/disable", {}), ("/logout", {})):
        r = client.post(path, data=data, headers=_bearer(admin), follow_redirects=False)
        assert r.status_code == 403, (path, r.status_code, r.text)
    assert auth.get_token(sqlite_store, "triage")["state"] == "live"
    assert auth.get_user(sqlite_store, "viewer1")["disabled_at"] is None


def test_a_token_expires_and_its_last_use_is_kept(sqlite_store):
    secret, row = auth.create_token(sqlite_store, "weekly", "viewer", created_by="cli", days=7, when=T0)
    assert row["expires_at"] == T0 + timedelta(days=7)
    sess = auth.session_for_token(sqlite_store, secret, when=T0 + timedelta(days=6, hours=23))
    assert sess is not None and sess.role == "viewer" and sess.token
    assert auth.get_token(sqlite_store, "weekly")["last_used_at"] == T0 + timedelta(days=6, hours=23)
    assert auth.session_for_token(sqlite_store, secret, when=T0 + timedelta(days=7)) is None
    for bad in ("", None, "esk_", "x" * 300):
        assert auth.session_for_token(sqlite_store, bad, when=T0) is None


def test_the_tokens_page_shows_a_new_secret_once_and_revokes(client, sqlite_store, users):
    csrf = login(client, *users["admin"])
    page = client.get("/tokens")
    assert page.status_code == 200 and "Make a token" in page.text
    r = client.post("/tokens", data={"name": "dash-feed", "role": "press", "days": "30", "csrf_token": csrf})
    assert r.status_code == 200
    secret = r.text.split('id="new-token-value">')[1].split("<")[0]
    assert auth.session_for_token(sqlite_store, secret).name == "token:dash-feed"
    assert secret not in client.get("/tokens").text
    r = client.post("/tokens/dash-feed/revoke", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/tokens?revoked=dash-feed"
    assert auth.session_for_token(sqlite_store, secret) is None
    csv = client.get("/api/tokens.csv")
    assert csv.status_code == 200 and "dash-feed" in csv.text and secret not in csv.text
    # a press officer cannot open it
    client.cookies.clear()
    login(client, *users["press"])
    assert client.get("/tokens").status_code == 403


def test_tokens_commands_add_list_revoke(tmp_path, monkeypatch, topics_env):
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    _add_plugins()
    runner = CliRunner()
    r = runner.invoke(cli, ["tokens", "add", "Nightly", "--role", "viewer", "--days", "90"])
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip().splitlines()[0]
    assert secret.startswith("esk_")
    from monitor.store import Store

    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    assert auth.session_for_token(store, secret).name == "token:nightly"
    r = runner.invoke(cli, ["tokens", "add", "nightly", "--role", "viewer"])
    assert r.exit_code == 2 and "already" in r.output
    r = runner.invoke(cli, ["tokens", "add", "x", "--role", "root"])
    assert r.exit_code == 2
    r = runner.invoke(cli, ["tokens", "list"])
    assert r.exit_code == 0 and "nightly" in r.output and "live" in r.output and secret not in r.output
    r = runner.invoke(cli, ["tokens", "revoke", "nightly"])
    assert r.exit_code == 0 and "revoked" in r.output
    assert auth.session_for_token(store, secret) is None
    assert "revoked" in runner.invoke(cli, ["tokens", "list"]).output
    assert runner.invoke(cli, ["tokens", "revoke", "nobody"]).exit_code == 2
    assert [e["action"] for e in audit.entries(store)][:2] == ["token-revoke", "token-add"]
    store.dispose()
