"""`earshot collect x-search` end to end: config → X query → tweepy → loopback X API → store → cursor."""

from __future__ import annotations

import json

from monitor import models as m
from monitor.store import Store
from sqlalchemy import select

from tests.monitor.test_cli import run
from tests.monitor.test_x_source import TOKEN, fake_x  # noqa: F401  (the loopback X API fixture)


def test_collect_x_search_through_the_cli(fake_x, tmp_path):  # noqa: F811
    x, base = fake_x
    x.query = "#brexit"
    cfg = tmp_path / "k.yaml"
    cfg.write_text("""
topics:
  brexit:
    label: Brexit
    query: '#brexit'
sources:
  x:
    search: {enabled: true, interval: 5m, max_pages: 50}
""")
    db = tmp_path / "x.db"
    env = {"EARSHOT_CONFIG": str(cfg), "EARSHOT_DATABASE_URL": f"sqlite:///{db}", "EARSHOT_X_BEARER_TOKEN": TOKEN,
           "EARSHOT_X_API_BASE": base, "EARSHOT_DATA_DIR": str(tmp_path / "var")}
    out = run("collect", "x-search", env=env)
    assert out.returncode == 0, out.stderr
    assert "x-search:" in out.stdout and "failed" not in out.stdout
    store = Store(f"sqlite:///{db}")
    with store.engine.connect() as c:
        collected = {r[0] for r in c.execute(select(m.posts.c.platform_id).where(m.posts.c.referenced_only.is_(False)))}
    assert collected == {t["id"] for t in x.tweets}
    assert store.topic_counts()["brexit"]["posts"] == len(x.tweets)
    assert store.counts()["interactions"] > 0
    assert store.cursor("x-search") == {"since_id": {"#brexit": x.tweets[0]["id"]}}
    # the next pass asks only for what is newer
    again = run("collect", "x-search", env=env)
    assert again.returncode == 0
    assert x.search_requests()[-1]["since_id"] == x.tweets[0]["id"]
    st = json.loads(run("status", "--json", env=env).stdout)
    (src,) = [s for s in st["sources"] if s["name"] == "x-search"]
    assert src["state"] == "ok" and src["items"] >= len(x.tweets)


def test_bad_token_is_a_clear_failure(fake_x, tmp_path):  # noqa: F811
    x, base = fake_x
    cfg = tmp_path / "k.yaml"
    cfg.write_text("topics:\n  b:\n    label: B\n    query: '#brexit'\nsources:\n  x:\n    search: {enabled: true}\n")
    env = {"EARSHOT_CONFIG": str(cfg), "EARSHOT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "EARSHOT_X_BEARER_TOKEN": "wrong", "EARSHOT_X_API_BASE": base, "EARSHOT_DATA_DIR": str(tmp_path / "v")}
    out = run("collect", "x-search", env=env)
    assert out.returncode == 0  # one source failing does not fail the others
    assert "x-search: failed" in out.stdout and "bearer token" in out.stdout
    assert "Traceback" not in out.stderr
    st = json.loads(run("status", "--json", env=env).stdout)
    (src,) = [s for s in st["sources"] if s["name"] == "x-search"]
    assert src["state"] == "failing" and "401" in (src["last_error"] or "")


def test_stream_command_syncs_rules_and_stores(fake_x, tmp_path):  # noqa: F811
    from tests.monitor.test_x_source import stream_lines

    x, base = fake_x
    x.rules["1"] = {"id": "1", "value": "old rule", "tag": "gone"}
    lines = stream_lines()
    x.streams.append(lines[:3])
    cfg = tmp_path / "k.yaml"
    cfg.write_text("topics:\n  brexit:\n    label: Brexit\n    query: 'brexit OR #brexit'\n"
                   "sources:\n  x:\n    stream: {enabled: true}\n")
    db = tmp_path / "s.db"
    env = {"EARSHOT_CONFIG": str(cfg), "EARSHOT_DATABASE_URL": f"sqlite:///{db}", "EARSHOT_X_BEARER_TOKEN": TOKEN,
           "EARSHOT_X_API_BASE": base, "EARSHOT_DATA_DIR": str(tmp_path / "var")}
    out = run("stream", "--max-batches", "1", env=env)
    assert out.returncode == 0, out.stderr
    assert "1 added, 1 deleted, 0 kept" in out.stdout
    assert [(r["value"], r["tag"]) for r in x.rules.values()] == [("brexit OR #brexit", "brexit")]
    store = Store(f"sqlite:///{db}")
    with store.engine.connect() as c:
        got = {r[0] for r in c.execute(select(m.posts.c.platform_id).where(m.posts.c.referenced_only.is_(False)))}
    assert {json.loads(line)["data"]["id"] for line in lines[:3]} <= got
    off = run("stream", env={**env, "EARSHOT_X_BEARER_TOKEN": ""})
    assert off.returncode == 2 and "no X bearer token" in off.stderr
