"""Feed fetching cannot be turned on the internal network: loopback, private, link-local and metadata
addresses are refused after DNS resolution and after every redirect, unless the config allows the host."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.sources import guard
from monitor.sources.rss import FeedConfig, RSSSource
from monitor.store import Store
from tests.conftest import ROOT
from tests.monitor.test_cli import run

FEED = (ROOT / "tests" / "fixtures" / "feeds" / "health_rss.xml").read_bytes()


class _Internal(BaseHTTPRequestHandler):
    """An internal service: /internal answers a feed (what an attacker would want stored), /go?to=URL redirects."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        self.seen.append(self.path)
        parts = urlsplit(self.path)
        if parts.path == "/go":
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        self.wfile.write(FEED)

    def log_message(self, *a):
        pass


@pytest.fixture
def internal():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Internal)
    _Internal.seen = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_port, _Internal.seen
    srv.shutdown()
    srv.server_close()


def collect(url: str, allow=()) -> tuple[list, list[str]]:
    src = RSSSource([FeedConfig("f", url)], allow_hosts=allow)
    try:
        batches = list(src.collect(None))
    finally:
        src.close()
    return [p for b in batches for p in b.posts], [e for b in batches for e in b.errors]


def test_a_feed_on_loopback_is_refused_unless_its_host_is_allowed(internal):
    port, seen = internal
    posts, errors = collect(f"http://127.0.0.1:{port}/internal")
    assert posts == [] and seen == []  # never even connected
    assert len(errors) == 1 and "refused to fetch: 127.0.0.1 is a loopback address" in errors[0]
    assert "sources.allow_private_hosts" in errors[0]
    posts, errors = collect(f"http://127.0.0.1:{port}/internal", allow=["127.0.0.1"])
    assert posts and errors == [] and seen == ["/internal"]


@pytest.mark.parametrize("target, why", [
    ("http://localhost:{port}/internal", "localhost resolves to 127.0.0.1, which is a loopback address"),
    ("http://2130706433:{port}/internal", "2130706433 resolves to 127.0.0.1, which is a loopback address"),
    ("http://[::1]:{port}/internal", "::1 is a loopback address"),
    ("http://0x7f000001:{port}/internal", "0x7f000001 resolves to 127.0.0.1, which is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address (cloud metadata lives there)"),
    ("http://10.1.2.3/admin", "10.1.2.3 is a private address"),
    ("http://192.168.0.1/", "192.168.0.1 is a private address"),
    ("http://[fd00::1]/", "fd00::1 is a private address"),
    ("http://[::ffff:127.0.0.1]:{port}/internal", "::ffff:127.0.0.1 is a loopback address"),
    ("http://0.0.0.0:{port}/internal", "0.0.0.0 is the unspecified address"),
])
def test_redirects_to_internal_addresses_are_refused_at_every_hop(internal, target, why):
    """The allowed host redirects (twice) to an internal address by another name: refused before connecting."""
    port, seen = internal
    to = target.format(port=port)
    first_hop = f"http://127.0.0.1:{port}/go?to=" + f"http://127.0.0.1:{port}/go?to={to}".replace("?", "%3F").replace("=", "%3D")
    posts, errors = collect(first_hop, allow=["127.0.0.1"])
    assert posts == []
    assert len(errors) == 1 and f"refused to fetch: redirected to {to}: {why}" in errors[0], errors
    assert "/internal" not in seen and len(seen) == 2  # the two redirects, never the internal page
    # the same URL as the feed's own: refused too, with nothing fetched
    posts, errors = collect(to)
    assert posts == [] and "refused to fetch" in errors[0] and why in errors[0]


def test_the_address_reached_is_checked_too(internal, monkeypatch):
    """DNS rebinding: a name that resolves to a public address for the check and to loopback for the
    connection. The check before the request is made to pass; the connection's own check refuses."""
    port, seen = internal
    monkeypatch.setattr(guard, "check_url", lambda url, allowed=(): None)
    posts, errors = collect(f"http://localhost:{port}/internal")
    assert posts == [] and seen == []
    assert "refused to fetch: localhost connected to 127.0.0.1, which is a loopback address" in errors[0], errors


def test_collect_refuses_an_internal_feed_and_the_config_can_allow_its_host(tmp_path, internal):
    port, seen = internal
    base = (ROOT / "config" / "keywords.yaml").read_text().split("\nsources:")[0]
    feeds = f"""
  rss:
    - name: intranet
      url: http://127.0.0.1:{port}/internal
    - name: moved
      url: http://127.0.0.1:{port}/go?to=http://localhost:{port}/internal
"""
    env = {"EARSHOT_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "EARSHOT_DATA_DIR": str(tmp_path / "var")}
    refusing = tmp_path / "refusing.yaml"
    refusing.write_text(base + "\nsources:" + feeds)
    out = run("collect", env={**env, "EARSHOT_CONFIG": str(refusing)})
    assert out.returncode == 0, out.stderr
    assert seen == []
    st = json.loads(run("status", "--json", env={**env, "EARSHOT_CONFIG": str(refusing)}).stdout)
    errors = {s["name"]: s.get("last_error") or "" for s in st["sources"]}
    assert "127.0.0.1 is a loopback address" in errors["rss:intranet"]
    assert "127.0.0.1 is a loopback address" in errors["rss:moved"]
    assert Store(env["EARSHOT_DATABASE_URL"]).counts()["posts"] == 0
    allowing = tmp_path / "allowing.yaml"
    allowing.write_text(base + "\nsources:\n  allow_private_hosts: [127.0.0.1]" + feeds)
    out = run("collect", env={**env, "EARSHOT_CONFIG": str(allowing)})
    assert out.returncode == 0, out.stderr
    assert seen.count("/internal") == 1  # the allowed feed; the redirect to localhost (not allowed) still refused
    assert Store(env["EARSHOT_DATABASE_URL"]).counts()["posts"] > 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(base + "\nsources:\n  allow_private_hosts: 127.0.0.1\n")
    out = run("topics", "check", "--config", bad)
    assert out.returncode == 2 and "sources.allow_private_hosts must be a list" in out.stderr
