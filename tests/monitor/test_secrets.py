"""No secret (the X token, an SMTP password, a webhook URL, a database password) reaches a repr, a log or an
error message."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from monitor.settings import load_settings, redact_logs
from tests.monitor.test_cli import run

TOKEN = "AAAAAAAAAAAAAAAAAAAAAsecretXtoken0123456789"
HOOK_SECRET = "T0000/B0000/sEcReTwEbHoOkPaTh42"
SMTP_PASSWORD = "hunter2-smtp-pass"
DB_PASSWORD = "pg-pass-s3cret"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def secret_env(tmp_path) -> dict[str, str]:
    port = closed_port()
    return {
        "EARSHOT_X_BEARER_TOKEN": TOKEN,
        "EARSHOT_WEBHOOKS": f"slack:http://127.0.0.1:{port}/services/{HOOK_SECRET}, teams:ftp://hooks.example.org/{HOOK_SECRET}x",
        "EARSHOT_SMTP_HOST": "127.0.0.1", "EARSHOT_SMTP_PORT": str(port), "EARSHOT_SMTP_USER": "press",
        "EARSHOT_SMTP_PASSWORD": SMTP_PASSWORD,
        "EARSHOT_BROKER_URL": f"redis://:{DB_PASSWORD}@127.0.0.1:{port}/0",
        "EARSHOT_X_API_BASE": f"http://127.0.0.1:{port}",
        "EARSHOT_DATA_DIR": str(tmp_path / "var"), "EARSHOT_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "EARSHOT_LOG_LEVEL": "DEBUG",
    }


def no_secret(text: str) -> None:
    for secret in (TOKEN, HOOK_SECRET, SMTP_PASSWORD, DB_PASSWORD):
        assert secret not in text, f"{secret!r} shown in: {text[:2000]}"


def test_settings_repr_hides_every_secret(tmp_path, monkeypatch):
    for k, v in secret_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"postgresql+psycopg://earshot:{DB_PASSWORD}@db.internal/earshot")
    s = load_settings()
    assert s.x_bearer_token == TOKEN and s.smtp_password == SMTP_PASSWORD  # the values are there, for use
    for shown in (repr(s), str(s), f"{s}", repr([s])):
        no_secret(shown)
    assert "x_bearer_token='***'" in repr(s) and "smtp_password='***'" in repr(s)
    assert "slack:127.0.0.1" in repr(s) and "earshot:***@db.internal" in repr(s)


def test_log_records_are_redacted_whoever_logs_them(tmp_path, monkeypatch):
    for k, v in secret_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    redact_logs(load_settings())
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("some.library")
    log.addHandler(handler)
    try:
        log.warning("calling with Authorization: Bearer %s", TOKEN)
        log.error(f"posting to http://127.0.0.1/services/{HOOK_SECRET} failed")
        try:
            raise RuntimeError(f"login refused for password {SMTP_PASSWORD}")
        except RuntimeError:
            log.exception("smtp")
    finally:
        log.removeHandler(handler)
    assert len(records) == 3
    no_secret("\n".join(records))
    assert "Bearer ***" in records[0] and "RuntimeError: login refused for password ***" in records[2]


def test_failing_deliveries_and_collection_never_print_a_secret(tmp_path):
    env = secret_env(tmp_path)
    out = run("alerts", "test-notify", "--no-push", "--to", "press@example.org", env=env)
    text = out.stdout + out.stderr
    assert "FAILED" in text and "webhook" in text.lower(), text  # the webhook really was tried, and failed
    assert "is not an http(s) URL" in text  # the broken entry is reported, without its path
    no_secret(text)
    # X refuses the token (answering at once; a closed port would be retried for a minute)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        out = run("collect", "x-search", env={**env, "EARSHOT_BROKER_URL": "",
                                               "EARSHOT_X_API_BASE": f"http://127.0.0.1:{srv.server_port}"})
    finally:
        srv.shutdown()
        srv.server_close()
    text = out.stdout + out.stderr
    assert _Refuses.seen == [f"Bearer {TOKEN}"]  # the token was sent to X, and only there
    assert "x-search" in text and "token was refused" in text, text
    no_secret(text)
    no_secret(run("status", env={**env, "EARSHOT_BROKER_URL": ""}).stdout)


class _Refuses(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        self.seen.append(self.headers.get("Authorization", ""))
        body = json.dumps({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *a):
        pass
