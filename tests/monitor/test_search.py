"""Full-text search of posts on SQLite (FTS5) and PostgreSQL (tsvector + GIN): user text is never query syntax."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from monitor.items import Account, Post
from monitor.search import HIT_END, HIT_START, ensure_indexed, highlight_html, parse, search
from monitor.store import Scored

T0 = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)

TEXTS = [
    ("1", "Trolley waits in A&E hit a new record", "waits", -0.6),
    ("2", "The NHS-trust board met today about waiting lists", "waits", 0.0),
    ("3", "Flu vaccination clinics open; vaccines work", "vacc", 0.6),
    ("4", 'He said "waiting list" twice; café owners agree', "waits", 0.1),
    ("5", "Nothing to see: <script>alert(1)</script> here", None, 0.0),
    ("6", "Vaccinations for children: book now", "vacc", 0.3),
]


@pytest.fixture
def posts(store):
    scored = []
    for pid, text, topic, sent in TEXTS:
        p = Post(platform="x", platform_id=pid, kind="original", author_id="a1", text=text,
                 created_at=T0 + timedelta(minutes=int(pid)), url=f"https://x.com/a/status/{pid}")
        scored.append(Scored(p, sent, {topic: ["t"]} if topic else {}))
    store.write_batch(scored, [Account("x", "a1", handle="alice", name="Alice")])
    return store


def ids(result):
    return sorted(p["platform_id"] for p in result.posts)


@pytest.mark.parametrize("query", ['A&E', 'NHS-trust', '"', '""', '*', 'OR', 'NEAR(a b)', '(', 'a:b', '^x',
                                   'AND OR NOT', '"unbalanced', "it's", "\\", "%", "col:text", "-", "NOT *"])
def test_user_syntax_never_raises(posts, query):
    search(posts, query)


def test_terms_match_as_text(posts):
    assert ids(search(posts, "A&E")) == ["1"]
    assert ids(search(posts, "nhs-trust")) == ["2"]
    assert ids(search(posts, '"waiting list"')) == ["4"]
    assert ids(search(posts, "waiting")) == ["2", "4"]
    assert ids(search(posts, "vaccin*")) == ["3", "6"]
    assert ids(search(posts, "alert")) == ["5"]  # (PostgreSQL's parser drops "<script>" as a tag)
    assert search(posts, "*").posts == [] and search(posts, "*").note
    assert ids(search(posts, "or")) == []  # the word "or", not an operator: no post has it


def test_filters_and_pages(posts):
    assert ids(search(posts, "waiting", topic="waits")) == ["2", "4"]
    assert ids(search(posts, "vaccin*", topic="waits")) == []
    assert ids(search(posts, "vaccin*", sentiment="positive")) == ["3", "6"]
    assert ids(search(posts, "A&E", sentiment="negative")) == ["1"]
    assert ids(search(posts, "waiting", platform="x")) == ["2", "4"] and search(posts, "waiting", platform="rss").total == 0
    assert ids(search(posts, "waiting", since=T0 + timedelta(minutes=3))) == ["4"]
    assert ids(search(posts, "waiting", until=T0 + timedelta(minutes=3))) == ["2"]
    newest = search(posts, "vaccin*", order="newest")
    assert [p["platform_id"] for p in newest.posts] == ["6", "3"]
    page2 = search(posts, "vaccin*", order="newest", limit=1, offset=1)
    assert page2.total == 2 and [p["platform_id"] for p in page2.posts] == ["3"]
    assert newest.posts[0]["handle"] == "alice"


def test_highlights_are_escaped_marks(posts):
    r = search(posts, "alert")
    snippet = r.posts[0]["snippet"]
    assert HIT_START in snippet and HIT_END in snippet
    out = highlight_html(snippet)
    assert "<script>" not in out and "&lt;" in out and '<mark class="earshot-hit">alert</mark>' in out


def test_new_posts_are_found_after_they_are_stored(posts):
    p = Post(platform="x", platform_id="7", kind="original", author_id="a1", text="Ambulance handover delays",
             created_at=T0 + timedelta(minutes=9))
    posts.write_batch([Scored(p, 0.0, {})], [Account("x", "a1", handle="alice")])
    assert ids(search(posts, "ambulance")) == ["7"]
    assert ensure_indexed(posts) == 0  # nothing left to index


def test_parse_keeps_words_and_phrases():
    assert [t.words for t in parse('"a b" c-d e&f')] == [["a", "b"], ["c", "d"], ["e", "f"]]
    assert parse("***") == [] and parse("  ") == []
    assert [t.prefix for t in parse("ab* abc*")] == [False, True]


def test_the_index_catches_up_in_bounded_steps_and_says_what_it_has_not_seen(sqlite_store, monkeypatch):
    import monitor.search as s

    monkeypatch.setattr(s, "INDEX_CHUNK", 3)
    posts = [Scored(Post(platform="x", platform_id=str(i), kind="original", author_id="a", text=f"ward {i}",
                         created_at=T0), 0.0, {}) for i in range(10)]
    sqlite_store.write_batch(posts, [Account("x", "a", handle="a")])
    monkeypatch.setattr(s, "SEARCH_INDEX_ROWS", 3)
    first = search(sqlite_store, "ward")
    assert first.total == 3 and "7 of the newest" in first.note
    assert ensure_indexed(sqlite_store) == 0
    again = search(sqlite_store, "ward")
    assert again.total == 10 and again.note is None


def test_newest_first_over_a_common_word_walks_the_time_index_and_sorts_nothing(sqlite_store):
    """More matches than the count shows (COUNT_CAP): the page is read from the posts' time index
    backwards, in the same order as sorting every match (ties newest id first), filters kept."""
    from sqlalchemy import event, text

    from monitor import search as search_mod

    n = 2 * search_mod.COUNT_CAP
    scored = []
    for i in range(n):  # stored out of time order (ids do not follow the times), some at the same second
        minute = (i * 37) % n
        p = Post(platform="x" if i % 5 else "rss", platform_id=f"c{i}", kind="original", author_id="a1",
                 text=f"NHS waiting list update {i}", created_at=T0 + timedelta(seconds=30 * (minute // 2)))
        scored.append(Scored(p, 0.0, {"waits": ["t"]} if i % 3 else {}))
    sqlite_store.write_batch(scored, [Account("x", "a1", handle="alice")])
    ensure_indexed(sqlite_store)
    seen: list[str] = []
    event.listen(sqlite_store.engine, "before_cursor_execute", lambda c, cur, st, *a: seen.append(st))

    def expected(**filters):
        where = " AND ".join(["1"] + [f"p.platform = '{v}'" if k == "platform" else
                                      f"EXISTS (SELECT 1 FROM post_topics pt WHERE pt.post_id = p.id AND pt.topic = '{v}')"
                                      for k, v in filters.items()])
        with sqlite_store.engine.connect() as conn:
            return [r[0] for r in conn.execute(text(f"SELECT p.platform_id FROM posts p WHERE {where} "
                                                    "ORDER BY p.created_at DESC, p.id DESC"))]

    for filters in ({}, {"platform": "x"}, {"topic": "waits"}):
        want = expected(**filters)
        assert len(want) > search_mod.COUNT_CAP
        for offset in (0, 20, 900):
            seen.clear()
            got = search(sqlite_store, "nhs", order="newest", limit=20, offset=offset, **filters)
            assert [p["platform_id"] for p in got.posts] == want[offset:offset + 20], (filters, offset)
            assert all(HIT_START in p["snippet"] for p in got.posts) and got.capped
            walk = [s for s in seen if "INDEXED BY ix_posts_created_at" in s]
            assert walk, "the page was not read from the time index"
    with sqlite_store.engine.connect() as conn:
        plan = " ".join(str(r) for r in conn.execute(text("EXPLAIN QUERY PLAN " + search_mod._newest_walk_sql("")),
                                                      {"q": "nhs", "limit": 20, "offset": 0}))
    assert "TEMP B-TREE" not in plan and "ix_posts_created_at" in plan


def test_a_platform_filter_never_drives_the_search_through_the_platform_index(sqlite_store):
    """Without statistics SQLite prefers the platform index (platform, ref_platform_id) to the words' index,
    reading every post of the platform and testing each against the words (over 9 s at 200,000 posts):
    the words' index must lead, the platform be checked after."""
    from sqlalchemy import event, text

    scored = [Scored(Post(platform="x", platform_id=f"p{i}", kind="original", author_id="a1",
                          text=f"clinic news {i}", created_at=T0 + timedelta(seconds=i)), 0.0, {}) for i in range(50)]
    sqlite_store.write_batch(scored, [Account("x", "a1", handle="alice")])
    ensure_indexed(sqlite_store)
    seen: list[tuple] = []

    def spy(c, cur, st, params, *a):
        seen.append((st, params))

    event.listen(sqlite_store.engine, "before_cursor_execute", spy)
    for order in ("relevance", "newest"):
        assert search(sqlite_store, "clinic", platform="x", order=order).total == 50
    event.remove(sqlite_store.engine, "before_cursor_execute", spy)
    raw = sqlite_store.engine.raw_connection()
    try:
        for st, params in seen:
            if "posts_fts MATCH" in st and "platform" in st:
                plan = " ".join(str(r) for r in raw.execute("EXPLAIN QUERY PLAN " + st, params).fetchall())
                assert "ix_posts_ref" not in plan, (st, plan)
    finally:
        raw.close()


def test_a_search_over_a_caught_up_index_takes_no_write_lock(sqlite_store):
    """A writer holding the database (a batch being stored) does not hold up a search once the index has
    every post: the search only reads."""
    import sqlite3

    sqlite_store.write_batch([Scored(Post(platform="x", platform_id="w1", kind="original", author_id="a",
                                          text="ward closed", created_at=T0), 0.0, {})], [Account("x", "a", handle="a")])
    assert ensure_indexed(sqlite_store) == 0
    path = sqlite_store.url.split("sqlite:///", 1)[1]
    writer = sqlite3.connect(path, timeout=0.1)
    writer.execute("BEGIN IMMEDIATE")  # the write lock, as a batch being stored holds it
    try:
        assert ensure_indexed(sqlite_store) == 0
        assert search(sqlite_store, "ward").total == 1
    finally:
        writer.rollback()
        writer.close()
