"""Real X API v2 responses through the whole pipeline: stored posts and edges match what the JSON says.

The expected values are computed here straight from the raw responses, independently of
the parser, and compared with what lands in the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import models as m
from monitor.config import load_config
from monitor.replay import import_files
from monitor.topics import Matcher
from tests.conftest import ROOT


def expected(path: Path):
    """(post ids, {kind: {(src, dst, post id)}}) from raw twarc2 pages."""
    tweets: dict[str, dict] = {}
    user_ids: dict[str, str] = {}  # username (lower) -> id
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        page = json.loads(line)
        for t in page.get("data", []) if isinstance(page.get("data"), list) else []:
            tweets[t["id"]] = t
        for t in page.get("includes", {}).get("tweets", []):
            tweets.setdefault(t["id"], t)
        for u in page.get("includes", {}).get("users", []):
            user_ids[u["username"].lower()] = u["id"]
    edges: dict[str, set] = {"retweet": set(), "quote": set(), "reply": set(), "mention": set()}
    for t in tweets.values():
        targeted = set()
        refs = {r["type"]: r["id"] for r in t.get("referenced_tweets", [])}
        for typ, kind in (("retweeted", "retweet"), ("quoted", "quote")):
            if typ in refs and refs[typ] in tweets:
                dst = tweets[refs[typ]]["author_id"]
                edges[kind].add((t["author_id"], dst, t["id"]))
                targeted.add(dst)
            elif typ == "retweeted" and typ in refs:
                # the retweeted tweet is not included (withheld, deleted): "RT @handle:" names its author
                first = next((x for x in t.get("entities", {}).get("mentions", []) if x["start"] == 3), None)
                dst = first and (first.get("id") or user_ids.get(first["username"].lower()))
                if dst:
                    edges[kind].add((t["author_id"], dst, t["id"]))
                    targeted.add(dst)
        if t.get("in_reply_to_user_id"):  # a reply to a user, even when the replied-to tweet is gone
            edges["reply"].add((t["author_id"], t["in_reply_to_user_id"], t["id"]))
            targeted.add(t["in_reply_to_user_id"])
        if "retweeted" not in refs:
            for mention in t.get("entities", {}).get("mentions", []):
                mid = mention.get("id") or user_ids.get(mention["username"].lower())
                if mid and mid not in targeted:
                    edges["mention"].add((t["author_id"], mid, t["id"]))
    return set(tweets), edges


def stored(store):
    s1, s2 = m.accounts.alias(), m.accounts.alias()
    q = (select(m.interactions.c.kind, s1.c.platform_id, s2.c.platform_id, m.posts.c.platform_id)
         .join(s1, s1.c.id == m.interactions.c.src_account_id).join(s2, s2.c.id == m.interactions.c.dst_account_id)
         .join(m.posts, m.posts.c.id == m.interactions.c.post_id))
    edges: dict[str, set] = {"retweet": set(), "quote": set(), "reply": set(), "mention": set()}
    with store.engine.connect() as c:
        for kind, src, dst, pid in c.execute(q):
            edges[kind].add((src, dst, pid))
        ids = {r[0] for r in c.execute(select(m.posts.c.platform_id))}
    return ids, edges


@pytest.fixture(scope="module")
def matcher():
    return Matcher(load_config(ROOT / "config" / "keywords.yaml").topics)


@pytest.mark.parametrize("name", ["noflat.jsonl", "brexit.jsonl", "mentions_tweet.jsonl", "withheld.jsonl",
                                  "kpop.jsonl", "edited.jsonl", "quoted_edit.jsonl"])
def test_stored_edges_match_the_responses(name, x_fixtures, sqlite_store, matcher):
    path = x_fixtures / name
    (summary,) = import_files([path], sqlite_store, matcher, progress=False)
    assert summary.failed is None
    want_ids, want_edges = expected(path)
    ids, edges = stored(sqlite_store)
    assert ids == want_ids
    for kind in want_edges:
        assert edges[kind] == want_edges[kind], kind
    assert sum(len(v) for v in edges.values()) > 0 or name.startswith("edited")


def test_flattened_and_raw_pages_store_the_same(x_fixtures, tmp_path, matcher):
    from monitor.store import Store

    a, b = Store(f"sqlite:///{tmp_path / 'a.db'}"), Store(f"sqlite:///{tmp_path / 'b.db'}")
    import_files([x_fixtures / "noflat.jsonl"], a, matcher, progress=False)
    import_files([x_fixtures / "flat.jsonl"], b, matcher, progress=False)
    ids_a, edges_a = stored(a)
    ids_b, edges_b = stored(b)
    with a.engine.connect() as c:
        data_a = dict(c.execute(select(m.posts.c.platform_id, m.posts.c.kind)).all())
    with b.engine.connect() as c:
        data_b = dict(c.execute(select(m.posts.c.platform_id, m.posts.c.kind)).all())
    flat_ids = {json.loads(l)["id"] for l in (x_fixtures / "flat.jsonl").read_text().splitlines() if l.strip()}
    assert flat_ids <= ids_b and flat_ids <= ids_a
    assert {i: data_a[i] for i in flat_ids} == {i: data_b[i] for i in flat_ids}
    for kind in edges_a:
        assert {e for e in edges_a[kind] if e[2] in flat_ids} == {e for e in edges_b[kind] if e[2] in flat_ids}, kind


def test_edited_tweets_keep_both_versions(x_fixtures, sqlite_store, matcher):
    import_files([x_fixtures / "edited_before.jsonl", x_fixtures / "edited_after.jsonl"], sqlite_store, matcher,
                 progress=False)
    pages = [json.loads(l) for f in ("edited_before.jsonl", "edited_after.jsonl")
             for l in (x_fixtures / f).read_text().splitlines() if l.strip()]
    history = {t["id"]: t.get("edit_history_tweet_ids", [t["id"]]) for p in pages for t in p.get("data", [])}
    with sqlite_store.engine.connect() as c:
        rows = dict(c.execute(select(m.posts.c.platform_id, m.posts.c.edit_of)).all())
    for tid, hist in history.items():
        assert tid in rows
        assert rows[tid] == (hist[0] if hist[0] != tid else None)


def test_withheld_countries_are_stored(x_fixtures, sqlite_store, matcher):
    import_files([x_fixtures / "withheld.jsonl"], sqlite_store, matcher, progress=False)
    want = {}
    for line in (x_fixtures / "withheld.jsonl").read_text().splitlines():
        page = json.loads(line)
        for t in page.get("data", []) + page.get("includes", {}).get("tweets", []):
            if t.get("withheld", {}).get("country_codes"):
                want[t["id"]] = sorted(t["withheld"]["country_codes"])
    assert want
    with sqlite_store.engine.connect() as c:
        got = {pid: sorted(w) for pid, w in c.execute(select(m.posts.c.platform_id, m.posts.c.withheld)) if w}
    assert got == want
