"""The store on SQLite and PostgreSQL: idempotent writes, edges, rollups, cursors, gaps, migrations."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from monitor import models as m
from monitor.items import Account, Gap, Post, Reference
from monitor.store import Scored, Store, interaction_targets

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)


def acc(pid, handle, followers=100, partial=False):
    return Account(platform="x", platform_id=pid, handle=handle, name=handle.title(), followers=followers, partial=partial)


def scenario():
    """A posts; B retweets A; C quotes A; D replies to A mentioning A and E; E's account seen only as a mention."""
    posts = [
        Scored(Post("x", "1", "original", "a", "NHS waiting list is long @carol", T0, mentions=["c"], mention_handles=["carol"]),
               -0.4, {"waiting_times": ["\"waiting list\""]}),
        Scored(Post("x", "2", "retweet", "b", "RT @alice: NHS waiting list is long @carol", T0 + timedelta(minutes=1),
                    references=[Reference("retweet", "1", "a")], mentions=["a", "c"]),
               -0.4, {"waiting_times": ["\"waiting list\""]}),
        Scored(Post("x", "3", "quote", "c", "Shocking", T0 + timedelta(minutes=2), references=[Reference("quote", "1", "a")]),
               -0.6, {"waiting_times": ["\"waiting list\""]}),
        Scored(Post("x", "4", "reply", "d", "@alice @erin agreed", T0 + timedelta(minutes=7),
                    references=[Reference("reply", "1", "a")], mentions=["a", "e"], mention_handles=["alice", "erin"]),
               0.3, {"waiting_times": ["\"waiting list\""], "social_care": ["carers"]}),
        Scored(Post("x", "5", "original", "b", "nothing to see", T0 + timedelta(minutes=8)), 0.0, {}),
    ]
    accounts = [acc("a", "alice", 50), acc("b", "bob"), acc("c", "carol"), acc("d", "dave"),
                acc("e", "erin", partial=True)]
    return posts, accounts


def edges(store: Store):
    a1, a2 = m.accounts.alias(), m.accounts.alias()
    q = (select(m.interactions.c.kind, a1.c.platform_id, a2.c.platform_id)
         .join(a1, a1.c.id == m.interactions.c.src_account_id)
         .join(a2, a2.c.id == m.interactions.c.dst_account_id))
    with store.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(q))


def test_interaction_targets_rules():
    posts, _ = scenario()
    assert interaction_targets(posts[1].post) == [("retweet", ("x", "a"), "1")]  # no mention edges on a retweet
    assert interaction_targets(posts[3].post) == [("reply", ("x", "a"), "1"), ("mention", ("x", "e"), None)]
    assert interaction_targets(posts[0].post) == [("mention", ("x", "c"), None)]


def test_write_batch_edges_topics_rollups(store: Store):
    posts, accounts = scenario()
    r = store.write_batch(posts, accounts, source="test", cursor={"since_id": "5"})
    assert (r.posts_in, r.posts_new) == (5, 5)
    assert r.topic_posts == {"waiting_times": 4, "social_care": 1}
    assert edges(store) == sorted([
        ("mention", "a", "c"), ("retweet", "b", "a"), ("quote", "c", "a"), ("reply", "d", "a"), ("mention", "d", "e"),
    ])
    with store.engine.connect() as conn:
        roll = {(row.topic, row.bucket): row for row in conn.execute(select(m.rollups))}
        kinds = dict(conn.execute(select(m.posts.c.platform_id, m.posts.c.kind)).all())
        terms = conn.execute(select(m.post_topics.c.terms).where(m.post_topics.c.topic == "social_care")).scalar_one()
    assert kinds == {"1": "original", "2": "retweet", "3": "quote", "4": "reply", "5": "original"}
    assert terms == ["carers"]
    first = roll[("waiting_times", T0)]
    assert (first.posts, first.authors, first.negative, first.positive) == (3, 3, 3, 0)
    assert abs(first.sentiment_sum - (-1.4)) < 1e-9
    second = roll[("waiting_times", T0 + timedelta(minutes=5))]
    assert (second.posts, second.authors, second.positive) == (1, 1, 1)
    assert store.cursor("test") == {"since_id": "5"}


def test_writes_are_idempotent(store: Store):
    posts, accounts = scenario()
    store.write_batch(posts, accounts, source="test")
    before = (store.counts(), store.topic_counts())
    again = store.write_batch(posts, accounts, source="test")
    assert again.posts_new == 0 and again.interactions_new == 0
    assert (store.counts(), store.topic_counts()) == before
    # a batch that overlaps half adds only the new half to the rollups
    extra = Scored(Post("x", "6", "original", "e", "waiting list again", T0 + timedelta(minutes=3)), 0.0,
                   {"waiting_times": ["\"waiting list\""]})
    r = store.write_batch(posts[:2] + [extra], [acc("e", "erin", 10)], source="test")
    assert r.posts_new == 1
    with store.engine.connect() as conn:
        row = conn.execute(select(m.rollups).where(m.rollups.c.topic == "waiting_times", m.rollups.c.bucket == T0)).one()
    assert (row.posts, row.authors) == (4, 4)


def test_partial_accounts_never_overwrite_full_ones(store: Store):
    posts, accounts = scenario()
    store.write_batch(posts, accounts)
    # erin was partial; a full record fills her in; a later partial mention of alice keeps alice's data
    store.write_batch([], [acc("e", "erin", 999), Account("x", "a", handle="alice", partial=True)])
    with store.engine.connect() as conn:
        rows = {r.platform_id: r for r in conn.execute(select(m.accounts))}
    assert rows["e"].followers == 999 and rows["e"].partial is False
    assert rows["a"].followers == 50 and rows["a"].name == "Alice" and rows["a"].partial is False


def test_unknown_reference_author_makes_no_edge_but_keeps_reference(store: Store):
    p = Post("x", "9", "retweet", "b", "RT @gone: deleted", T0, references=[Reference("retweet", "404", None)])
    store.write_batch([Scored(p, 0.0, {})], [acc("b", "bob")])
    assert edges(store) == []
    with store.engine.connect() as conn:
        row = conn.execute(select(m.posts.c.ref_kind, m.posts.c.ref_platform_id)).one()
    assert tuple(row) == ("retweet", "404")


def test_source_run_errors_and_gaps(store: Store):
    gap = Gap(source="x-search", start=T0, end=T0 + timedelta(minutes=15), reason="rate_limited", detail="429")
    store.write_batch([], [], source="x-search", cursor={"since_id": {"q": "1"}}, gaps=[gap])
    store.record_source_run("x-search", error="boom", gaps=[Gap("x-search", T0 + timedelta(hours=1), None, "error", "boom")])
    with store.engine.connect() as conn:
        st = conn.execute(select(m.source_state)).mappings().one()
        gaps = conn.execute(select(m.gaps).order_by(m.gaps.c.start)).mappings().all()
    assert st["rate_limit_waits"] == 1 and st["rate_limit_seconds"] == 900
    assert st["errors"] == 1 and st["last_error"] == "boom"
    assert st["cursor"] == {"since_id": {"q": "1"}}  # a failed run keeps the cursor
    assert [(g["reason"], g["detail"]) for g in gaps] == [("rate_limited", "429"), ("error", "boom")]
    # the same gap reported again (a retried batch) is one gap, its end updated
    store.write_batch([], [], source="x-search", gaps=[Gap("x-search", T0, T0 + timedelta(minutes=20), "rate_limited", "429")])
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.gaps)).scalar_one() == 2


def test_concurrent_writers_count_each_post_once(store_url):
    """Several workers storing overlapping batches: rollups still count each post once."""
    stores = [Store(store_url) for _ in range(4)]
    posts, accounts = scenario()
    errors = []

    def work(s):
        try:
            for _ in range(3):
                s.write_batch(posts, accounts, source="w")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    tc = stores[0].topic_counts()
    assert tc["waiting_times"]["posts"] == 4 and tc["social_care"]["posts"] == 1
    assert stores[0].counts() == {"posts": 5, "accounts": 5, "interactions": 5}
    for s in stores:
        s.dispose()


def test_migrations_match_the_models(store_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    s = Store(store_url)
    with s.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": m.include_name}), m.metadata)
    s.dispose()
    assert diff == []


def test_reference_author_found_in_either_order(store: Store):
    """A retweet whose original arrives in another batch gets its edge, before or after the original."""
    original = Scored(Post("x", "100", "original", "a", "the original", T0), 0.0, {})
    early_rt = Scored(Post("x", "101", "retweet", "b", "RT: the original", T0 + timedelta(minutes=1),
                           references=[Reference("retweet", "100", None)]), 0.0, {})
    late_quote = Scored(Post("x", "102", "quote", "c", "look", T0 + timedelta(minutes=2),
                             references=[Reference("quote", "100", None)]), 0.0, {})
    store.write_batch([early_rt], [acc("b", "bob")])
    assert edges(store) == []
    store.write_batch([original], [acc("a", "alice")])  # backfills the retweet's edge
    store.write_batch([late_quote], [acc("c", "carol")])  # resolves the author from the stored original
    assert edges(store) == [("quote", "c", "a"), ("retweet", "b", "a")]
    store.write_batch([original, early_rt, late_quote], [])
    assert store.counts()["interactions"] == 2


def test_bulk_rows_read_back_as_core_writes_them(store: Store):
    """The batch path writes plain driver values: times, JSON and NULLs must read back and compare as Core's do."""
    plus2 = timezone(timedelta(hours=2))
    on_boundary = Scored(Post("x", "10", "original", "a", "waiting list on the hour", T0, hashtags=["nhs"],
                              links=["https://example.org/a"], withheld={"country_codes": ["DE"]}),
                         -0.5, {"waiting_times": ['"waiting list"']})
    # 11:00+02:00 is 09:00 UTC: the same instant, written as UTC
    local = Scored(Post("x", "11", "original", "b", "waiting list again", (T0 + timedelta(minutes=1)).astimezone(plus2)),
                   0.0, {"waiting_times": ['"waiting list"']})
    store.write_batch([on_boundary, local], [acc("a", "alice"), acc("b", "bob")])
    p = m.posts
    with store.engine.connect() as conn:
        rows = {r.platform_id: r for r in conn.execute(select(p.c.platform_id, p.c.created_at, p.c.hashtags,
                                                              p.c.links, p.c.withheld))}
        at_t0 = conn.execute(select(func.count()).select_from(p).where(p.c.created_at >= T0)).scalar_one()
        after_t0 = conn.execute(select(func.count()).select_from(p).where(p.c.created_at > T0)).scalar_one()
        bucket = conn.execute(select(m.rollups.c.bucket, m.rollups.c.posts)).one()
    assert rows["10"].created_at == T0 and rows["11"].created_at == T0 + timedelta(minutes=1)
    assert rows["11"].created_at.tzinfo == timezone.utc
    assert (at_t0, after_t0) == (2, 1)  # a time on the boundary compares equal to a bound parameter
    assert (rows["10"].hashtags, rows["10"].links, rows["10"].withheld) == (["nhs"], ["https://example.org/a"],
                                                                           {"country_codes": ["DE"]})
    assert (rows["11"].hashtags, rows["11"].links, rows["11"].withheld) == (None, None, None)
    assert tuple(bucket) == (T0, 2)
    assert store.topic_counts(since=T0, until=T0 + timedelta(minutes=5))["waiting_times"]["posts"] == 2


def test_a_batch_larger_than_one_statement_is_written_whole(store: Store):
    """Rows are sent in chunks under the driver's parameter limit; every one arrives, once."""
    n = 3000  # 3,000 posts x 24 columns is more parameters than one SQLite statement takes
    posts = [Scored(Post("x", str(i), "original", f"u{i % 700}", f"care home post {i}", T0 + timedelta(seconds=i)),
                    0.1, {"social_care": ['"care home*"']}) for i in range(n)]
    r = store.write_batch(posts, [])
    assert (r.posts_new, r.topic_posts) == (n, {"social_care": n})
    again = store.write_batch(posts, [])
    assert again.posts_new == 0
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.posts)).scalar_one() == n
        assert conn.execute(select(func.count()).select_from(m.accounts)).scalar_one() == 700
        assert conn.execute(select(func.sum(m.rollups.c.posts))).scalar_one() == n
        assert conn.execute(select(func.sum(m.rollups.c.authors))).scalar_one() == len(
            {(i // 300, i % 700) for i in range(n)})


def _account_rows(store: Store) -> dict:
    with store.engine.connect() as conn:
        return {r.platform_id: r for r in conn.execute(select(m.accounts))}


def test_a_worker_does_not_rewrite_what_it_stored(store: Store, monkeypatch):
    """Unchanged accounts are not upserted again (last_seen moves only after the refresh time);
    changed ones are; posts stored before are not sent again; the end state is the same."""
    from monitor.store import _Written

    posts, accounts = scenario()
    store.write_batch(posts, accounts, source="test")
    seen = {k: r.last_seen for k, r in _account_rows(store).items()}
    renamed = [acc("b", "bob_renamed", 7) if a.platform_id == "b" else a for a in accounts]
    again = store.write_batch(posts, renamed, source="test")
    assert again.posts_in == 5 and again.posts_new == 0
    rows = _account_rows(store)
    assert rows["b"].handle == "bob_renamed" and rows["b"].followers == 7  # changed: written
    assert rows["b"].last_seen > seen["b"]
    assert rows["a"].last_seen == seen["a"] and rows["e"].last_seen == seen["e"]  # unchanged: not sent
    # a partial record that only repeats what is stored changes nothing; one with a new handle is written
    store.write_batch([], [Account("x", "a", handle="alice", partial=True), Account("x", "c", handle="caz", partial=True)])
    rows = _account_rows(store)
    assert rows["a"].last_seen == seen["a"] and rows["a"].partial is False
    assert rows["c"].handle == "caz" and rows["c"].followers == 100 and rows["c"].partial is False
    # once the refresh time has passed, a sighting is written again, so last_seen stays that fresh
    monkeypatch.setattr(_Written, "REFRESH", timedelta(0))
    store.write_batch([], [acc("a", "alice", 50)])
    assert _account_rows(store)["a"].last_seen > seen["a"]
    assert store.counts() == {"posts": 5, "accounts": 5, "interactions": 5}


def test_rows_gone_from_under_a_worker_are_written_again(store: Store):
    """A store restored from an older copy: the worker's memory is wrong, the batch is written in full."""
    posts, accounts = scenario()
    store.write_batch(posts, accounts, source="test")
    with store.engine.begin() as conn:
        for table in (m.interactions, m.post_topics, m.rollup_authors, m.rollups, m.posts, m.accounts):
            conn.execute(table.delete())
    new = Scored(Post("x", "7", "original", "a", "waiting list news", T0, mentions=["e"]), 0.1,
                 {"waiting_times": ["\"waiting list\""]})
    r = store.write_batch([new], [acc("a", "alice", 50)], source="test")
    assert r.posts_new == 1 and r.interactions_new == 1
    assert store.counts() == {"posts": 1, "accounts": 2, "interactions": 1}
    assert edges(store) == [("mention", "a", "e")]


def test_worker_memory_is_bounded(store: Store, monkeypatch):
    from monitor.store import _Written, forget_oldest

    d = dict.fromkeys(range(10))
    forget_oldest(d, 8)
    assert list(d) == [4, 5, 6, 7, 8, 9]  # the oldest go, down to three quarters of the limit
    monkeypatch.setattr(_Written, "POSTS", 4)
    for i in range(6):
        store.write_batch([Scored(Post("x", str(i), "original", "a", "text", T0), 0.0, {})], [acc("a", "alice")])
    assert 0 < len(store.stored_post_keys()) <= 4
    assert ("x", "5") in store.stored_post_keys() and ("x", "0") not in store.stored_post_keys()
    # what was forgotten is simply sent again: nothing is stored twice
    store.write_batch([Scored(Post("x", "0", "original", "a", "text", T0), 0.0, {})], [acc("a", "alice")])
    assert store.counts()["posts"] == 6


def test_concurrent_writers_tag_and_link_the_right_posts(store_url):
    """Workers storing different posts at once: every tag, edge and id belongs to the post it was written for
    (on SQLite the new rows of a batch are found by rowid, which only the write lock makes safe)."""
    stores = [Store(store_url) for _ in range(4)]
    errors = []

    def work(w: int, s: Store):
        try:
            for b in range(6):
                batch = []
                for i in range(25):
                    pid = f"{w}-{b}-{i}"
                    batch.append(Scored(Post("x", pid, "reply", f"u{w}", f"text {pid}", T0 + timedelta(seconds=i),
                                             references=[Reference("reply", None, f"u{(w + 1) % 4}")]),
                                        0.0, {f"topic{w}": [pid]}))
                s.write_batch(batch, [acc(f"u{k}", f"user{k}") for k in range(4)], source=f"w{w}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w, s)) for w, s in enumerate(stores)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    p, pt, i, a = m.posts, m.post_topics, m.interactions, m.accounts
    with stores[0].engine.connect() as conn:
        tags = conn.execute(select(p.c.platform_id, pt.c.topic, pt.c.terms).join(pt, pt.c.post_id == p.c.id)).all()
        links = conn.execute(select(p.c.platform_id, a.c.platform_id).join(i, i.c.post_id == p.c.id)
                             .join(a, a.c.id == i.c.dst_account_id)).all()
    assert len(tags) == len(links) == 4 * 6 * 25
    for pid, topic, terms in tags:
        assert topic == f"topic{pid.split('-')[0]}" and terms == [pid]
    for pid, dst in links:
        assert dst == f"u{(int(pid.split('-')[0]) + 1) % 4}"
    for s in stores:
        s.dispose()
