"""A post stored first as a reference (``referenced_only``) and later collected as data is promoted
exactly once: tagged, rolled up in its own bucket, counted by every later figure, on SQLite and
PostgreSQL, whatever the worker remembers and however many workers race on it."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from monitor import models as m
from monitor import pipeline
from monitor.config import Topic
from monitor.query import Query
from monitor.sources.xv2 import page_to_batch
from monitor.store import Store
from monitor.topics import Matcher
from tests.monitor.test_cli import run

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)


def matcher() -> Matcher:
    return Matcher([Topic(id="waiting_times", label="Waiting", query=Query('"waiting list*"'))])


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def tweet(tid: str, author: str, text: str, at: datetime, **more) -> dict:
    return {"id": tid, "author_id": author, "text": text, "created_at": iso(at), "lang": "en",
            "edit_history_tweet_ids": [tid], **more}


USERS = [{"id": "1", "username": "alice", "name": "Alice"}, {"id": "2", "username": "bob", "name": "Bob"}]


def newest_first_pages(n: int = 3) -> list[dict]:
    """Search pages as X returns them, newest first: each page retweets originals that the next page
    collects as data (so each original is first stored as a reference)."""
    pages = []
    for i in range(n):
        start = T0 - timedelta(hours=i)
        original = tweet(f"10{i}", "1", f"The waiting list grows again, page {i}", start)
        rt = tweet(f"20{i}", "2", f"RT @alice: The waiting list grows again, page {i}", start + timedelta(minutes=30),
                   referenced_tweets=[{"type": "retweeted", "id": f"10{i}"}])
        # the retweet's page (newer) holds the original in includes; the original's own page is the next one
        pages.append({"data": [rt], "includes": {"users": USERS, "tweets": [original]}})
        pages.append({"data": [original], "includes": {"users": USERS[:1]}})
    return pages


def tags(store: Store) -> list[tuple[str, str]]:
    p, pt = m.posts, m.post_topics
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(p.c.platform_id, pt.c.topic).join(pt, pt.c.post_id == p.c.id)).all())


def referenced_only(store: Store) -> set[str]:
    p = m.posts
    with store.engine.connect() as conn:
        return {r[0] for r in conn.execute(select(p.c.platform_id).where(p.c.referenced_only.is_(True)))}


def test_newest_first_pages_promote_each_original_once(store_url):
    store, match = Store(store_url), matcher()
    results = [pipeline.process_batch(page_to_batch(page, "x-search"), store, match) for page in newest_first_pages()]
    expected = sorted((pid, "waiting_times") for i in range(3) for pid in (f"10{i}", f"20{i}"))
    assert tags(store) == expected
    assert referenced_only(store) == set()
    assert [r.posts_promoted for r in results] == [0, 1] * 3
    assert store.rollups() == store.recount_rollups()
    # each original is rolled up in its own bucket (an hour apart), not its retweet's
    by_bucket = {b: v[0] for (_, b), v in store.rollups().items()}
    for i in range(3):
        assert by_bucket[m.bucket_start(T0 - timedelta(hours=i))] == 1
        assert by_bucket[m.bucket_start(T0 - timedelta(hours=i) + timedelta(minutes=30))] == 1
    assert store.topic_counts()["waiting_times"]["posts"] == 6
    # again, by this worker and by a fresh one (no memory): nothing is promoted or counted twice
    other = Store(store_url)
    for s in (store, other):
        again = [pipeline.process_batch(page_to_batch(page, "x-search"), s, match) for page in newest_first_pages()]
        assert sum(r.posts_new for r in again) == 0 and sum(r.posts_promoted for r in again) == 0
    assert tags(store) == expected and store.rollups() == store.recount_rollups()
    with store.engine.connect() as conn:
        items, new = conn.execute(select(m.source_state.c["items"], m.source_state.c.new_items)).one()
    assert new == 6  # the source's new items count each post once (a promoted one was new as a reference)
    store.dispose()
    other.dispose()


def test_a_worker_that_remembers_the_reference_still_promotes(tmp_path):
    """The worker's memory of stored posts (and of scored posts) holds the original as a reference only:
    neither skips it when it is collected."""
    store, match = Store(f"sqlite:///{tmp_path / 's.db'}"), matcher()
    rt_page, original_page = newest_first_pages(1)
    pipeline.process_batch(page_to_batch(rt_page, "x-search"), store, match)
    assert store.stored_post_keys()[("x", "100")] is False
    r = pipeline.process_batch(page_to_batch(original_page, "x-search"), store, match)
    assert (r.posts_new, r.posts_promoted, r.topic_posts) == (0, 1, {"waiting_times": 1})
    assert store.stored_post_keys()[("x", "100")] is True
    # a reference to it later is skipped by the memory; so is the data again
    again = pipeline.process_batch(page_to_batch(rt_page, "x-search"), store, match)
    assert again.posts_new == 0 and tags(store) == [("100", "waiting_times"), ("200", "waiting_times")]
    store.dispose()


def test_workers_racing_on_the_promotion_promote_once(store_url):
    """Four workers (own engines, own memories) store the same collected posts at the same moment,
    posts another worker stored as references: each is promoted by exactly one of them."""
    first = Store(store_url)
    match = matcher()
    rounds, n = 4, 40

    def originals(r: int, referenced: bool) -> dict:
        ts = [tweet(f"{r}{i:03}", "1", f"waiting list story {r}-{i}", T0 + timedelta(minutes=7 * i)) for i in range(n)]
        if referenced:  # a page of retweets that carries them all in includes
            rts = [tweet(f"9{r}{i:03}", "2", "RT @alice: waiting list", T0 + timedelta(hours=9, minutes=i),
                         referenced_tweets=[{"type": "retweeted", "id": t["id"]}]) for i, t in enumerate(ts)]
            return {"data": rts, "includes": {"users": USERS, "tweets": ts}}
        return {"data": ts, "includes": {"users": USERS[:1]}}

    stores = [Store(store_url) for _ in range(4)]
    errors: list[BaseException] = []
    promoted = [0] * 4
    for r in range(1, rounds + 1):
        pipeline.process_batch(page_to_batch(originals(r, True), "x-search"), first, match)
        barrier = threading.Barrier(4)

        def work(w: int) -> None:
            try:
                batch = page_to_batch(originals(r, False), "x-search")
                barrier.wait()
                promoted[w] += pipeline.process_batch(batch, stores[w], match).posts_promoted
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert not errors, errors
    assert sum(promoted) == rounds * n
    assert referenced_only(first) == set()
    with first.engine.connect() as conn:
        per_post = conn.execute(select(func.count()).select_from(m.post_topics)).scalar_one()
    assert per_post == rounds * n * 2  # every original and every retweet, once
    assert first.rollups() == first.recount_rollups()
    assert first.topic_counts()["waiting_times"]["posts"] == rounds * n * 2
    for s in (first, *stores):
        s.dispose()


# ---------------------------------------------------------------------- real tweets, as the user imports them
CONFIG = """\
topics:
  common:
    label: Common words
    query: 'the OR rt OR a OR to OR de OR la OR y OR i OR is OR of'
    languages: []
  brexit:
    label: Brexit
    query: 'brexit OR eu OR #brexit'
    languages: []
"""


def repage_newest_first(files, per_page: int) -> list[dict]:
    """The real tweets of ``files`` paged as X search pages them: newest first, ``per_page`` a page, each page
    with the tweets it references and the users it names in ``includes``."""
    tweets, included, users = {}, {}, {}
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            page = json.loads(line)
            data = page.get("data")
            if not isinstance(data, list) or not data or "text" not in data[0]:
                continue
            for t in data:
                tweets[t["id"]] = t
            inc = page.get("includes") or {}
            for t in inc.get("tweets") or []:
                included.setdefault(t["id"], t)
            for u in inc.get("users") or []:
                users.setdefault(u["id"], u)
    ordered = sorted(tweets.values(), key=lambda t: (t["created_at"], t["id"]), reverse=True)
    pages = []
    for i in range(0, len(ordered), per_page):
        chunk = ordered[i:i + per_page]
        refs = [included.get(r["id"]) or tweets.get(r["id"]) for t in chunk for r in t.get("referenced_tweets") or []]
        refs = [r for r in refs if r]
        named = {t.get("author_id") for t in chunk + refs} | {t.get("in_reply_to_user_id") for t in chunk + refs}
        named |= {mn.get("id") for t in chunk + refs for mn in (t.get("entities") or {}).get("mentions") or []}
        pages.append({"data": chunk, "includes": {"users": [users[u] for u in named if u in users],
                                                   "tweets": list({r["id"]: r for r in refs}.values())}})
    return pages


def test_import_batch_size_1_of_real_tweets_newest_first_counts_every_tag(tmp_path, x_fixtures, store_url):
    """500-odd real tweets in newest-first pages, imported one page a batch (as live search stores them),
    give the same tags as one whole-file import: nothing left referenced-only, rollups equal a recount."""
    cfg = tmp_path / "topics.yaml"
    cfg.write_text(CONFIG)
    pages = repage_newest_first([x_fixtures / "entities_test.jsonl", x_fixtures / "brexit.jsonl"], per_page=10)
    paged = tmp_path / "newest_first.jsonl"
    paged.write_text("".join(json.dumps(p) + "\n" for p in pages))
    whole_db = f"sqlite:///{tmp_path / 'whole.db'}"
    env = {"EARSHOT_CONFIG": str(cfg), "EARSHOT_DATA_DIR": str(tmp_path / "var")}
    out = run("import", "--no-progress", "--batch-size", "100000", paged, env={**env, "EARSHOT_DATABASE_URL": whole_db})
    assert out.returncode == 0, out.stderr
    out = run("import", "--no-progress", "--batch-size", "1", paged, env={**env, "EARSHOT_DATABASE_URL": store_url})
    assert out.returncode == 0, out.stderr
    whole, paged_store = Store(whole_db), Store(store_url)
    expected = tags(whole)
    assert len(expected) > 500
    assert tags(paged_store) == expected
    collected = {t["id"] for p in pages for t in p["data"]}
    assert not referenced_only(paged_store) & collected
    assert paged_store.rollups() == paged_store.recount_rollups() == whole.recount_rollups()
    whole.dispose()
    paged_store.dispose()
