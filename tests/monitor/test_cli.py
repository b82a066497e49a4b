"""The `earshot` command, driven as a user drives it: a subprocess, real files, real exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import models as m
from monitor.store import Store
from tests.conftest import ROOT


def run(*args, env=None, cwd=None, timeout=300):
    e = {**os.environ, **(env or {})}
    e.setdefault("PYTHONPATH", str(ROOT))
    return subprocess.run([sys.executable, "-m", "monitor.cli", *map(str, args)], cwd=cwd or ROOT, env=e,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path):
    return {"EARSHOT_DATA_DIR": str(tmp_path / "var"), "EARSHOT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("import", "export", "status", "topics", "collect", "demo"):
        assert cmd in out.stdout


def test_topics_test_says_which_terms_matched():
    out = run("topics", "test", "Trolley waits in A&E are a scandal #NHS")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("waiting_times")
    out = run("topics", "test", "Lovely weather for a picnic")
    assert out.returncode == 1 and "no topic matches" in out.stdout
    out = run("topics", "test", "junior doctors walk out again", "--query", "doctors NEAR/2 walk")
    assert out.returncode == 0 and "match" in out.stdout
    out = run("topics", "test", "x", "--query", '"unclosed')
    assert out.returncode == 2 and "column" in out.stderr


def test_topics_check_good_and_broken(tmp_path):
    out = run("topics", "check")
    assert out.returncode == 0 and "OK" in out.stdout and "waiting_times" in out.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics:\n  vaccination:\n    label: V\n    query: 'vaccine AND (jab'\n")
    out = run("topics", "check", "--config", bad)
    assert out.returncode == 2
    assert f"{bad} line 4" in out.stderr and "Traceback" not in out.stderr


def test_broken_config_stops_what_needs_it_with_one_message(tmp_path, env):
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics:\n  t:\n    label: T\n    query: 'a OR'\n")
    out = run("collect", env={**env, "EARSHOT_CONFIG": str(bad)})
    assert out.returncode == 2
    assert "configuration error" in out.stderr and "line 4" in out.stderr and "Traceback" not in out.stderr
    assert not Path(env["EARSHOT_DATABASE_URL"].split("///")[1]).exists()  # nothing started half-configured
    # a command that only reads the store goes on, and says why it has no topics
    out = run("status", env={**env, "EARSHOT_CONFIG": str(bad)})
    assert out.returncode == 0, out.stderr
    assert "configuration error" in out.stderr and "line 4" in out.stderr and "Traceback" not in out.stderr
    assert "NOT LOADED" in out.stdout


def test_import_every_shared_fixture_twice(x_fixtures, env):
    files = sorted(x_fixtures.glob("*.json*"))
    out = run("import", *files, env=env)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert ": skipped —" not in out.stdout, out.stdout
    assert out.stdout.count("x-v2") >= len(files) - 1  # empty.json is "empty"
    first = Store(env["EARSHOT_DATABASE_URL"]).counts()
    assert first["posts"] > 1000 and first["interactions"] > 1000
    again = run("import", *files, env=env)
    assert again.returncode == 0
    assert Store(env["EARSHOT_DATABASE_URL"]).counts() == first  # nothing twice
    assert ", 0 new, " in next(x for x in again.stdout.splitlines() if " posts read, " in x)


def test_import_reports_and_skips_unreadable_files(tmp_path, env):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(2048))
    html = tmp_path / "page.html"
    html.write_text("<html><body>not a feed</body></html>")
    notx = tmp_path / "other.jsonl"
    notx.write_text('{"hello": "world"}\n')
    good = ROOT / "tests" / "fixtures" / "feeds" / "health_rss.xml"
    out = run("import", tmp_path / "missing.jsonl", tmp_path, garbage, html, notx, good, env=env)
    assert out.returncode == 1, out.stderr  # any file failed: the exit code says so, the good one is stored
    assert "Traceback" not in out.stderr + out.stdout
    assert f"{tmp_path / 'missing.jsonl'}: skipped — no such file" in out.stdout
    assert "is a folder" in out.stdout
    assert f"{garbage}: skipped" in out.stdout and f"{html}: skipped" in out.stdout
    assert f"{notx}: skipped — JSON, but neither X API v2" in out.stdout
    assert f"{good}: feed" in out.stdout
    assert "5 files failed" in out.stdout
    assert Store(env["EARSHOT_DATABASE_URL"]).counts()["posts"] > 0
    only_bad = run("import", garbage, env=env)
    assert only_bad.returncode == 1


def test_import_bad_lines_are_reported_with_line_numbers(tmp_path, x_fixtures, env):
    lines = (x_fixtures / "two_tweets.jsonl").read_text().splitlines()
    f = tmp_path / "mixed.jsonl"
    f.write_text(lines[0] + "\n{not json\n" + "\n".join(lines[1:]) + "\n")
    out = run("import", f, env=env)
    assert out.returncode == 0
    assert "line 2" in out.stdout and "1 problems" in out.stdout


def test_export_round_trip(tmp_path, x_fixtures, env):
    assert run("import", x_fixtures / "brexit.jsonl", env=env).returncode == 0
    out = run("export", tmp_path / "dump.jsonl", env=env)
    assert out.returncode == 0 and "wrote" in out.stdout
    env2 = {**env, "EARSHOT_DATABASE_URL": f"sqlite:///{tmp_path / 'second.db'}"}
    back = run("import", tmp_path / "dump.jsonl", env=env2)
    assert back.returncode == 0 and "earshot" in back.stdout, back.stdout + back.stderr
    a, b = Store(env["EARSHOT_DATABASE_URL"]), Store(env2["EARSHOT_DATABASE_URL"])
    assert a.counts() == b.counts()
    assert a.topic_counts() == b.topic_counts()

    def edges(s):
        s1, s2 = m.accounts.alias(), m.accounts.alias()
        q = (select(m.interactions.c.kind, s1.c.platform_id, s2.c.platform_id, m.posts.c.platform_id)
             .join(s1, s1.c.id == m.interactions.c.src_account_id).join(s2, s2.c.id == m.interactions.c.dst_account_id)
             .join(m.posts, m.posts.c.id == m.interactions.c.post_id))
        with s.engine.connect() as c:
            return sorted(tuple(r) for r in c.execute(q))

    assert edges(a) == edges(b)


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = (ROOT / "tests" / "fixtures" / "feeds" / "health_rss.xml").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("ETag", '"v1"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_collect_and_status(tmp_path, env):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cfg = tmp_path / "k.yaml"
    cfg.write_text((ROOT / "config" / "keywords.yaml").read_text().split("\nsources:")[0] + f"""
sources:
  allow_private_hosts: [127.0.0.1]  # the test's feed server
  rss:
    - name: desk
      url: http://127.0.0.1:{srv.server_port}/feed.xml
    - name: dead
      url: http://127.0.0.1:1/feed.xml
  x:
    search: {{enabled: true}}
""")
    e = {**env, "EARSHOT_CONFIG": str(cfg)}
    try:
        out = run("collect", env=e)
    finally:
        srv.shutdown()
    assert out.returncode == 0, out.stderr
    assert "rss:desk:" in out.stdout and "new" in out.stdout
    assert "x-search: disabled — no X bearer token" in out.stdout
    assert "rss:dead" in out.stdout
    st = run("status", env=e)
    assert st.returncode == 0, st.stderr
    assert "rss:desk" in st.stdout and "rss:dead" in st.stdout and "failing" in st.stdout
    assert "x-search" in st.stdout and "disabled" in st.stdout
    assert "gaps" in st.stdout and "error" in st.stdout
    js = json.loads(run("status", "--json", env=e).stdout)
    states = {s["name"]: s["state"] for s in js["sources"]}
    assert states == {"rss:desk": "ok", "rss:dead": "failing", "x-search": "disabled"}
    assert js["sources"][[s["name"] for s in js["sources"]].index("rss:desk")]["cursor"]["feeds"]["desk"]["etag"] == '"v1"'
    assert any(g["source"] == "rss:dead" for g in js["gaps"])


def test_demo_runs_the_whole_pipeline_and_shows_what_it_found(env):
    out = run("demo", "--size", "2000", "--no-progress", "--no-serve", env=env)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    text = out.stdout
    assert "posts per topic" in text and "Vaccination" in text
    assert "CRITICAL volume" in text and "Vaccination:" in text  # the planted crisis
    assert "top influencers per topic" in text and "influence rankings recomputed for 7 topics" in text
    assert "earshot status" in text and "ground_truth.json" in text
    # what it prints is for people: no log records, no raw dictionaries of task results
    assert "INFO" not in text + out.stderr and "{'" not in text and '{"' not in text, out.stderr
    window = re.search(r"posts per topic, (\w+ \d\d \w+) – (\w+ \d\d \w+ \d{4}):", text)
    assert window and f"alerts opened {window.group(1)}" in text  # the alerts cover the demo's week
    # the ground truth names accounts by id; its "handles" map them to what the output shows
    truth = json.loads(Path(re.search(r"ground truth of the scenario: (\S+)", text).group(1)).read_text())
    assert set(truth["handles"]) == set(truth["accounts"])
    shown = set(re.findall(r"@(\w+) \d+", text.split("top influencers per topic")[1]))
    assert shown and shown <= set(truth["handles"].values())
    bad = run("demo", "--size", "10", env=env)
    assert bad.returncode == 2 and "1000" in bad.stderr
