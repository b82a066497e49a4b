"""Sign-in, roles, sessions, CSRF, throttling and the audit log, through the app (FastAPI TestClient)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from dashboard import audit, auth
from dashboard.settings import WebSettings
from monitor.cli import cli, _add_plugins
from tests.dashboard.support import PASSWORD, login, make_app

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def test_anonymous_callers_are_refused_everywhere_but_login_and_health(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/login").status_code == 200
    r = client.get("/alerts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Falerts"
    assert client.get("/api/alerts").status_code == 401
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/alerts/stream").status_code == 401
    assert client.post("/api/alerts/1/ack").status_code == 401


def test_sign_in_shows_the_page_asked_for_and_sign_out_ends_the_session(client, users):
    page = client.get("/login?next=/api/alerts")
    assert 'value="/api/alerts"' in page.text
    csrf = login(client, *users["viewer"], next_="/api/alerts")
    assert client.get("/api/alerts").json() == []
    assert client.get("/api/me").json()["role"] == "viewer"
    # sign-out needs the CSRF token too
    assert client.post("/logout").status_code == 403
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/alerts").status_code == 401


def test_after_sign_in_only_local_paths(client, users):
    name, pw = users["viewer"]
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        r = client.post("/login", data={"name": name, "password": pw, "csrf_token": token, "next": target},
                        follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/alerts", target
        client.cookies.clear()


def test_wrong_password_is_refused_recorded_and_audited(client, sqlite_store, users):
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/login", data={"name": "viewer1", "password": "not it at all", "csrf_token": token})
    assert r.status_code == 401 and "not right" in r.text
    # the sign-in form's own CSRF token is required
    r = client.post("/login", data={"name": "viewer1", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    actions = [(e["action"], e["target"]) for e in audit.entries(sqlite_store)]
    assert ("sign-in-failed", "viewer1") in actions


def test_failed_sign_ins_are_throttled_even_with_the_right_password_then_allowed_again(sqlite_store, users):
    web = WebSettings(login_max_failures=3)
    for i in range(3):
        assert auth.authenticate(sqlite_store, "press1", "wrong password", ip="10.0.0.1", settings=web,
                                 when=T0 + timedelta(minutes=i)) is None
    with pytest.raises(auth.Throttled) as exc:
        auth.authenticate(sqlite_store, "press1", PASSWORD, ip="10.0.0.2", settings=web, when=T0 + timedelta(minutes=3))
    # refused until the oldest of the three leaves the 15-minute window (at T0 + 15 min)
    assert 11 * 60 < exc.value.retry_after <= 12 * 60 + 1
    # another name is not throttled by press1's failures
    assert auth.authenticate(sqlite_store, "viewer1", PASSWORD, ip="10.0.0.3", settings=web, when=T0 + timedelta(minutes=3))
    ok = auth.authenticate(sqlite_store, "press1", PASSWORD, ip="10.0.0.2", settings=web,
                           when=T0 + timedelta(minutes=15, seconds=1))
    assert ok and ok["name"] == "press1"


def test_many_names_from_one_address_are_throttled(sqlite_store, users):
    web = WebSettings(login_max_failures=2)
    for i in range(8):
        auth.authenticate(sqlite_store, f"nobody{i}", "x" * 12, ip="10.9.9.9", settings=web, when=T0)
    with pytest.raises(auth.Throttled):
        auth.authenticate(sqlite_store, "admin1", PASSWORD, ip="10.9.9.9", settings=web, when=T0)


def test_the_sign_in_page_answers_429_when_throttled(sqlite_store, topics_env, users):
    app = make_app(sqlite_store, topics_env, hub=False, web=WebSettings(login_max_failures=2))
    with TestClient(app) as c:
        for expect in (401, 401, 429):
            page = c.get("/login")
            token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            r = c.post("/login", data={"name": "admin1", "password": "wrong wrong", "csrf_token": token})
            assert r.status_code == expect
        assert int(r.headers["retry-after"]) > 0
    assert "sign-in-throttled" in [e["action"] for e in audit.entries(sqlite_store)]


def test_sessions_expire_when_idle_or_old_and_can_be_revoked(sqlite_store, users):
    web = WebSettings(session_hours=8, idle_minutes=30)
    user = auth.authenticate(sqlite_store, "viewer1", PASSWORD, settings=web, when=T0)
    token, sess = auth.start_session(sqlite_store, user, settings=web, when=T0)
    assert auth.session_for(sqlite_store, token, settings=web, when=T0 + timedelta(minutes=29)).name == "viewer1"
    # idle for 30 minutes after the last request: over
    assert auth.session_for(sqlite_store, token, settings=web, when=T0 + timedelta(minutes=59)) is None
    # kept busy, it still ends 8 hours after sign-in
    token, sess = auth.start_session(sqlite_store, user, settings=web, when=T0)
    t = T0
    while t < T0 + timedelta(hours=8):
        assert auth.session_for(sqlite_store, token, settings=web, when=t) is not None, t
        t += timedelta(minutes=20)
    assert auth.session_for(sqlite_store, token, settings=web, when=T0 + timedelta(hours=8)) is None
    # revoked
    token, sess = auth.start_session(sqlite_store, user, settings=web, when=T0)
    assert auth.revoke_sessions(sqlite_store, "viewer1", when=T0) == 3  # the two expired ones were never revoked
    assert auth.session_for(sqlite_store, token, settings=web, when=T0) is None
    # a forged or unknown cookie is nobody
    assert auth.session_for(sqlite_store, "x" * 43, settings=web, when=T0) is None
    assert auth.session_for(sqlite_store, None) is None


def test_disabling_an_account_ends_its_sessions_at_once(client, sqlite_store, users):
    login(client, *users["press"])
    assert client.get("/api/alerts").status_code == 200
    auth.disable_user(sqlite_store, "press1")
    assert client.get("/api/alerts").status_code == 401
    assert auth.authenticate(sqlite_store, "press1", PASSWORD) is None
    auth.enable_user(sqlite_store, "press1")
    login(client, *users["press"])
    assert client.get("/api/alerts").status_code == 200


def test_the_store_keeps_no_password_and_no_session_token(client, sqlite_store, users):
    from sqlalchemy import select

    from monitor import models as m

    login(client, *users["admin"])
    token = client.cookies.get("earshot_session")
    with sqlite_store.engine.connect() as conn:
        hashes = [r.password_hash for r in conn.execute(select(m.users.c.password_hash))]
        tokens = [r.token_hash for r in conn.execute(select(m.user_sessions.c.token_hash))]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    assert token not in tokens and auth.token_hash(token) in tokens


def test_accounts_need_a_valid_name_role_and_a_long_password(sqlite_store):
    with pytest.raises(auth.AuthError, match="at least 10"):
        auth.add_user(sqlite_store, "alice", "short", "press")
    with pytest.raises(auth.AuthError, match="unknown role"):
        auth.add_user(sqlite_store, "alice", PASSWORD, "root")
    with pytest.raises(auth.AuthError, match="a name is"):
        auth.add_user(sqlite_store, "<script>", PASSWORD, "press")
    auth.add_user(sqlite_store, "Alice", PASSWORD, "press")
    with pytest.raises(auth.AuthError, match="already"):
        auth.add_user(sqlite_store, "alice", PASSWORD, "viewer")


def test_every_response_has_a_content_security_policy_with_a_fresh_nonce(client, users):
    login(client, *users["viewer"])
    a, b = client.get("/alerts"), client.get("/alerts")
    csp_a, csp_b = a.headers["content-security-policy"], b.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in csp_a and "object-src 'none'" in csp_a and "frame-ancestors 'none'" in csp_a
    assert csp_a != csp_b
    nonce = csp_a.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in a.text
    assert "unsafe-inline" not in csp_a.split("script-src")[1].split(";")[0]
    assert a.headers["x-frame-options"] == "DENY" and a.headers["cache-control"] == "no-store"


def test_users_commands_add_list_disable(tmp_path, monkeypatch, topics_env):
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    _add_plugins()
    runner = CliRunner()
    r = runner.invoke(cli, ["users", "add", "Carol", "--role", "press"], input=PASSWORD + "\n")
    assert r.exit_code == 0 and "added carol (press)" in r.output, r.output
    r = runner.invoke(cli, ["users", "add", "dave", "--role", "viewer"], input="short\n")
    assert r.exit_code == 2 and "at least 10" in r.output
    r = runner.invoke(cli, ["users", "list"])
    assert r.exit_code == 0 and "carol" in r.output and "press" in r.output and "enabled" in r.output
    r = runner.invoke(cli, ["users", "disable", "carol"])
    assert r.exit_code == 0
    r = runner.invoke(cli, ["users", "list"])
    assert "disabled" in r.output
    r = runner.invoke(cli, ["users", "disable", "nobody"])
    assert r.exit_code == 2 and "no account" in r.output
