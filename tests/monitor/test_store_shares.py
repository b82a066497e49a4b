"""The share rollups (monitor.shares) on SQLite and PostgreSQL: what the topic page's most-shared
lists read equals a recount from the tags, interactions and links after imports, edges filled in
later, replays, promotions of referenced-only posts, marks and their undoing, and the migration's backfill."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete

from dashboard import queries
from monitor import marks, models as m, shares
from monitor.items import Account, Post, Reference
from monitor.store import Scored, Store, upgrade

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)
FLU = {"flu": ["flu"]}
LINK = "https://nhs.uk/flu"


def post(pid, author, minutes, *, refs=(), links=(), kind="original", topics=FLU, extra=None):
    p = Post("x", pid, kind, author, f"flu post {pid}", T0 + timedelta(minutes=minutes), references=list(refs),
             links=list(links))
    if extra:
        p.extra.update(extra)
    return Scored(p, 0.0, dict(topics))


def people():
    return [Account("x", h, handle=h) for h in ("a", "b", "c", "d")]


def check(store: Store) -> dict:
    with store.engine.connect() as conn:
        got, want = shares.stored(conn), shares.recount(conn, store.dialect)
    assert got == want
    return got


def top(store: Store, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=3), **kw):
    ps = [(p["platform_id"], p["shares"]) for p in queries.most_shared_posts(store, "flu", start, end, **kw)]
    ls = [(x["url"], x["posts"]) for x in queries.most_shared_links(store, "flu", start, end, **kw)]
    return ps, ls


def test_imports_replays_and_late_edges_equal_a_recount(store: Store):
    # 2 retweets post 1 before 1 arrives, without its author: the edge is made when 1 arrives
    early = [post("2", "b", 70, refs=[Reference("retweet", "1", None)], kind="retweet", links=[LINK]),
             post("9", "c", 5, links=[LINK, LINK, "ftp://x/y", "HTTPS://A.example/" + "x" * 700])]
    store.write_batch(early, people())
    check(store)
    assert top(store) == ([], [(LINK, 3)])  # no share edge yet; a link twice in a post counts twice; no ftp, no long url
    batch = [post("1", "a", 0, links=[LINK]), post("3", "c", 61, refs=[Reference("quote", "1", "a")], kind="quote"),
             post("4", "d", 62, refs=[Reference("retweet", "1", "a")], kind="retweet", topics={}),  # not on the topic
             post("5", "d", 63, refs=[Reference("reply", "1", "a")], kind="reply")]  # a reply is no share
    store.write_batch(batch, people())
    rows = check(store)
    assert top(store) == ([("1", 2)], [(LINK, 4)])
    assert rows[("flu", "post", T0 + timedelta(hours=1), "x", "1")] == 2  # counted in the sharing posts' hour
    # the hour window: only the second hour's shares
    assert top(store, T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == ([("1", 2)], [(LINK, 1)])
    assert top(store, T0, T0 + timedelta(hours=1)) == ([], [(LINK, 3)])
    assert top(store, platform="mastodon") == ([], [])
    # the same batches again, and half of one with a new post: nothing counted twice
    store.write_batch(early + batch, people())
    store.write_batch(batch[:2] + [post("6", "b", 64, refs=[Reference("retweet", "1", "a")], kind="retweet")], people())
    check(store)
    assert top(store) == ([("1", 3)], [(LINK, 4)])


def test_a_fresh_worker_replaying_counts_nothing_twice(store_url):
    first, again = Store(store_url), Store(store_url)
    try:
        batch = [post("1", "a", 0, links=[LINK]), post("2", "b", 1, refs=[Reference("retweet", "1", "a")], kind="retweet")]
        first.write_batch(batch, people())
        again.write_batch(batch, people())  # remembers nothing: every row is sent again
        check(again)
        assert top(again) == ([("1", 1)], [(LINK, 1)])
    finally:
        first.dispose()
        again.dispose()


def test_a_promoted_reference_counts_its_own_links_and_shares(store: Store):
    # 7 (a quote of 1) arrives first only as what 8 retweets; then as collected data
    ref_only = post("7", "c", 2, refs=[Reference("quote", "1", "a")], kind="quote", links=[LINK], topics={},
                    extra={"referenced_only": True})
    store.write_batch([post("1", "a", 0), ref_only, post("8", "d", 3, refs=[Reference("retweet", "7", "c")], kind="retweet")],
                      people())
    check(store)
    assert top(store) == ([("7", 1)], [])  # 7 itself is on no topic yet
    store.write_batch([post("7", "c", 2, refs=[Reference("quote", "1", "a")], kind="quote", links=[LINK])], people())
    check(store)
    assert top(store) == ([("1", 1), ("7", 1)], [(LINK, 1)])


def test_marks_take_a_post_off_the_lists_and_undo_puts_it_back(store: Store):
    store.write_batch([post("1", "a", 0), post("2", "b", 1, refs=[Reference("retweet", "1", "a")], kind="retweet", links=[LINK]),
                       post("3", "c", 2, refs=[Reference("retweet", "1", "a")], kind="retweet")], people())
    with store.engine.connect() as conn:
        ids = dict(conn.execute(m.posts.select().with_only_columns(m.posts.c.platform_id, m.posts.c.id)).all())
    mark = marks.mark_irrelevant(store, ids["2"], "flu", "tester")
    rows = check(store)
    assert top(store) == ([("1", 1)], [])
    assert all(n > 0 for n in rows.values())  # a count at zero is no row
    marks.mark_irrelevant(store, ids["3"], "flu", "tester")
    assert check(store) == {}
    marks.undo(store, mark["id"], "tester")
    check(store)
    assert top(store) == ([("1", 1)], [(LINK, 1)])


def test_the_migration_backfills_from_what_is_stored(store: Store):
    store.write_batch([post("1", "a", 0, links=[LINK]), post("2", "b", 90, refs=[Reference("retweet", "1", "a")],
                                                              kind="retweet", links=["http://old.example/"])], people())
    before = check(store)
    assert len(before) == 3
    upgrade(store.engine, "0013_api_tokens", down=True)
    upgrade(store.engine)
    assert check(store) == before
    with store.engine.begin() as conn:  # and the statement alone, on an emptied table
        conn.execute(delete(m.share_rollups))
        shares.backfill(conn, store.dialect)
    assert check(store) == before
