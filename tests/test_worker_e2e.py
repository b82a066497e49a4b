"""End to end: a real Redis, a real Celery worker process, collection enqueued, posts stored."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.harness.services import stop_process
from tests.conftest import ROOT

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Health desk</title><link>http://127.0.0.1/</link><language>en</language>
<item><guid>h-1</guid><title>Waiting list hits record as A&amp;E delays grow</title>
<link>http://127.0.0.1/news/1?utm_source=rss</link><description>The NHS waiting list rose again.</description>
<pubDate>Mon, 16 Nov 2026 09:00:00 GMT</pubDate><author>desk@example.org (Jo Reporter)</author></item>
<item><guid>h-2</guid><title>Flu jab uptake falls among over-65s</title><link>http://127.0.0.1/news/2</link>
<description>Vaccination rates dropped.</description><pubDate>Mon, 16 Nov 2026 10:00:00 GMT</pubDate></item>
<item><guid>h-3</guid><title>Council budget agreed</title><link>http://127.0.0.1/news/3</link>
<description>Nothing about health.</description><pubDate>Mon, 16 Nov 2026 11:00:00 GMT</pubDate></item>
</channel></rss>"""


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = FEED.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def feed_url():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}/health.xml"
    srv.shutdown()


@pytest.mark.redis
def test_celery_worker_collects_and_stores(tmp_path: Path, redis_server: str, feed_url: str, monkeypatch):
    config = tmp_path / "keywords.yaml"
    src = (ROOT / "config" / "keywords.yaml").read_text()
    src = src.split("\nsources:")[0] + f"\nsources:\n  allow_private_hosts: [127.0.0.1]\n  rss:\n    - name: health-desk\n      url: {feed_url}\n      interval: 5m\n"
    config.write_text(src)
    db = tmp_path / "e2e.db"
    env = {**os.environ, "EARSHOT_BROKER_URL": redis_server + "/0", "EARSHOT_DATABASE_URL": f"sqlite:///{db}",
           "EARSHOT_CONFIG": str(config), "EARSHOT_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "collect,process", "-c", "2",
         "--pool", "prefork", "--without-gossip", "--without-mingle", "-l", "INFO", "-n", "e2e@%h"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        for k, v in env.items():
            if k.startswith("EARSHOT_"):
                monkeypatch.setenv(k, v)
        # enqueue from this process, as `earshot collect --enqueue` does
        out = subprocess.run([sys.executable, "-m", "monitor.cli", "collect", "--enqueue", "rss:health-desk"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "queued rss:health-desk" in out.stdout

        from monitor.store import Store

        store = Store(f"sqlite:///{db}")
        deadline = time.time() + 60
        counts = {}
        while time.time() < deadline:
            counts = store.counts()
            if counts["posts"] >= 3:
                break
            if worker.poll() is not None:
                pytest.fail("the Celery worker exited:\n" + worker.stdout.read())
            time.sleep(0.5)
        assert counts.get("posts") == 3, f"posts not stored within 60 s: {counts}"
        topics = store.topic_counts()
        assert topics["waiting_times"]["posts"] == 1
        assert topics["vaccination"]["posts"] == 1
        assert store.cursor("rss:health-desk") is not None  # the cursor lives in the database
        store.dispose()
    finally:
        out = stop_process(worker)
    assert "earshot.collect_source" in out and "earshot.process_batch" in out, out[-3000:]
