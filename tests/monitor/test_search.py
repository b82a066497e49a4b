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
