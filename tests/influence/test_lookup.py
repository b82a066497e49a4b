"""Rankings stored and read back, rank changes, leaving flagged amplification out, "see why", the task."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import func, select

from influence import explain, influencers, results, tasks
from influence.analysis import analyse
from influence.lookup import InfluenceError, resolve_window
from monitor import models as m
from monitor.config import load_config
from monitor.settings import PROJECT_ROOT
from tests.influence.network import T0, TOPIC, acc, ids, post
from tests.influence.test_bots_communities import ring_store

WEEK = timedelta(days=7)
PREV = (T0 - WEEK, T0)
CUR = (T0, T0 + WEEK)


def two_weeks(store):
    """Previous week: old_star amplified by 6 fans, new_star by one. This week: new_star by 9, old_star by 2."""
    ring_store(store)  # this week: the ring bursting on promo's posts, helen and harry
    posts, accounts = [], [acc("old_star", "old_star", 90000), acc("new_star", "new_star", 250)]
    accounts += [acc(f"f{i}", f"fan{i}", 20) for i in range(12)]
    posts.append(post("os1", "old_star", minutes=-3 * 24 * 60, text="Carers week: what we learnt"))
    posts.append(post("ns0", "new_star", minutes=-2 * 24 * 60, text="A first thread on unpaid carers"))
    for i in range(6):
        posts.append(post(f"pr{i}", f"f{i}", "retweet", -3 * 24 * 60 + 5 + i, ref=("retweet", "os1", "old_star")))
    posts.append(post("pn0", "f7", "retweet", -2 * 24 * 60 + 3, ref=("retweet", "ns0", "new_star")))
    posts.append(post("ns1", "new_star", minutes=30, text="Unpaid carers are going without breaks #carersweek",
                      hashtags=["carersweek"], sentiment=-0.6))
    posts.append(post("ns2", "new_star", minutes=40, text="Good news on respite funding for carers", sentiment=0.7))
    for i in range(9):
        posts.append(post(f"cr{i}", f"f{i}", "retweet", 31 + i, ref=("retweet", "ns1", "new_star")))
    posts.append(post("cq", "f10", "quote", 45, ref=("quote", "ns2", "new_star")))
    posts.append(post("cm", "f11", minutes=50, mentions=["new_star"], text="Agree with @new_star on carers"))
    posts.append(post("co1", "f0", "retweet", 60, ref=("retweet", "os2", "old_star")))
    posts.append(post("co2", "f1", "retweet", 61, ref=("retweet", "os2", "old_star")))
    store.write_batch(posts, accounts)
    return ids(store)


def test_fresh_then_stored_with_rank_changes(sqlite_store):
    idm = two_weeks(sqlite_store)
    r = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1], stakeholders=["@New_Star"], limit=10)
    assert r.source == "fresh" and r.run_id is not None and r.previous_window == PREV
    top = r.accounts[0]
    assert top.account_id == idm["new_star"] and top.stakeholder and top.amplifiers == 10
    assert top.followers == 250 and top.amplifications == 10
    assert abs(sum(top.parts.values()) - top.score) < 1e-6
    by = {a.account_id: a for a in r.accounts}
    assert top.previous_rank is not None and top.rank_change > 0  # ranked low last week, first now
    assert by[idm["old_star"]].previous_rank == 1 and by[idm["old_star"]].rank_change < 0
    assert r.rising(3)[0].account_id == idm["new_star"]
    # follower-rich old_star does not outrank the voice that is amplified now
    assert by[idm["old_star"]].rank > top.rank
    t = time.perf_counter()
    again = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1], stakeholders=["new_star"], limit=10)
    assert time.perf_counter() - t < 1.0
    assert again.source == "stored" and again.run_id == r.run_id
    assert [(a.account_id, a.rank, round(a.score, 9)) for a in again.accounts] == \
           [(a.account_id, a.rank, round(a.score, 9)) for a in r.accounts]
    assert again.accounts[0].parts == pytest.approx(top.parts)
    fresh = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1], fresh=True, limit=10)
    assert fresh.source == "fresh" and [a.account_id for a in fresh.accounts] == [a.account_id for a in r.accounts]
    with sqlite_store.engine.connect() as conn:  # recomputing replaced the run, the previous week was reused
        n_runs = conn.execute(select(func.count()).select_from(m.influence_runs)).scalar()
    assert n_runs == 2


def test_flagged_amplification_can_be_left_out(sqlite_store):
    idm = two_weeks(sqlite_store)
    with_ring = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1], limit=None)
    without = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1], limit=None, exclude_flagged=True)
    promo = idm["promo"]
    a = with_ring.find(promo)
    assert a.amplifiers == 6 and with_ring.flagged_accounts == 6
    assert without.excluded_interactions == 6 * 3 + 6 * 0  # the ring's 18 retweets (its spam has no edges)
    b = without.find(promo)
    assert b is None or b.score < a.score
    assert without.exclude_flagged and without.run_id != with_ring.run_id
    ringer = with_ring.find(idm["r0"])
    assert ringer.flagged and {f["kind"] for f in ringer.flags} >= {"coordinated"}


def test_see_why(sqlite_store):
    two_weeks(sqlite_store)
    r = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1], stakeholders=["new_star"])
    why = explain(sqlite_store, r, "@new_star")
    assert why.amplifiers_total == 10
    assert why.top_amplifiers[0]["count"] == 1 and why.top_amplifiers[0]["display"].startswith("@fan")
    assert {m_["name"] for m_ in why.measures} == {"pagerank", "in_degree", "authority", "betweenness"}
    assert sum(x["points"] for x in why.measures) == pytest.approx(why.account.score)
    assert why.channels == [{"platform": "x", "source": None, "posts": 2}]
    kinds = {(x["platform"], x["kind"]): x["count"] for x in why.amplified_on}
    assert kinds == {("x", "retweet"): 9, ("x", "quote"): 1, ("x", "mention"): 1}
    assert why.own_posts == 2 and why.engagement == 11
    assert why.share == pytest.approx(13 / why.topic_posts)
    assert why.sentiment["negative"] == 1 and why.sentiment["positive"] == 1
    assert why.sentiment["mean"] == pytest.approx(0.05)
    assert why.top_posts[0]["platform_id"] == "ns1" and why.top_posts[0]["amplifications"] == 9
    assert "without breaks" in why.top_posts[0]["text"]
    assert why.stakeholder and why.community is not None and why.community.id == why.account.community
    text = "\n".join(why.lines())
    assert "@new_star" in text and "amplified by 10 distinct accounts" in text and "9x" in text
    assert why.to_dict()["account"]["handle"] == "new_star"
    with pytest.raises(InfluenceError, match="not among"):
        explain(sqlite_store, r, "@nobody_here")


def test_explain_names_the_influencers_among_amplifiers(sqlite_store):
    idm = two_weeks(sqlite_store)
    r = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1], limit=50)
    why = explain(sqlite_store, r, idm["promo"])
    assert why.amplifiers_total == 6
    assert all(x["rank"] is not None and x["rank"] <= 100 for x in why.influential_amplifiers)
    assert {x["account_id"] for x in why.top_amplifiers} == {idm[f"r{i}"] for i in range(6)}
    assert all(x["flagged"] for x in why.top_amplifiers)
    assert any(f["kind"] == "coordinated" for f in explain(sqlite_store, r, idm["r1"]).flags)


def test_default_window_reads_the_scheduled_run(sqlite_store):
    two_weeks(sqlite_store)
    config = load_config(PROJECT_ROOT / "config" / "keywords.yaml")
    now = T0 + WEEK + timedelta(minutes=20)
    summary = tasks.recompute(sqlite_store, config, topics=[TOPIC], now=now)
    done = summary["topics"][TOPIC]
    assert done["all"]["interactions"] > 0 and done["excluding_flagged"]["run_id"]
    assert summary["until"] == (T0 + WEEK).isoformat()
    again = tasks.recompute(sqlite_store, config, topics=[TOPIC], now=now)
    assert again["topics"][TOPIC]["all"] == "already stored"
    r = influencers(sqlite_store, TOPIC, now=now)
    assert r.source == "stored" and r.run_id == done["all"]["run_id"]
    assert r.until == T0 + WEEK and r.since == T0 + WEEK - timedelta(days=30)
    later = influencers(sqlite_store, TOPIC, now=now + timedelta(hours=5))  # stale: computed afresh
    assert later.source == "fresh"
    with pytest.raises(ValueError, match="unknown topic"):
        tasks.recompute(sqlite_store, config, topics=["nope"], now=now)
    entries = tasks.beat_entries(None, config)
    assert entries["influence recompute"]["task"] == "earshot.influence_recompute"
    assert entries["influence recompute"]["schedule"] == tasks.RECOMPUTE_EVERY


def test_prune_keeps_the_newest_runs_and_their_previous_windows(sqlite_store):
    two_weeks(sqlite_store)
    for d in range(5):
        end = T0 + WEEK + timedelta(days=d)
        influencers(sqlite_store, TOPIC, since=end - WEEK, until=end)
    gone = results.prune(sqlite_store, TOPIC, "all", False, keep=2)
    with sqlite_store.engine.connect() as conn:
        left = conn.execute(select(m.influence_runs.c.id, m.influence_runs.c.previous_run_id)).all()
        orphans = conn.execute(select(func.count()).select_from(m.influence_scores).where(
            m.influence_scores.c.run_id.not_in([x.id for x in left]))).scalar()
    assert gone > 0 and orphans == 0
    kept = {x.id for x in left}
    assert all(p is None or p in kept for _, p in left)


def test_empty_windows_and_bad_windows(sqlite_store):
    r = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1])
    assert r.accounts == [] and r.network_accounts == 0
    with pytest.raises(InfluenceError, match="empty"):
        resolve_window(CUR[1], CUR[0])


def test_summary_lines(sqlite_store):
    from influence.cli import summary_lines

    config = load_config(PROJECT_ROOT / "config" / "keywords.yaml")
    ctx = SimpleNamespace(store=sqlite_store, config=config)
    assert "none computed yet" in summary_lines(ctx)[1]
    two_weeks(sqlite_store)
    influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1])
    lines = summary_lines(ctx)
    line = next(x for x in lines if config.topics[TOPIC].label in x)
    assert "@new_star" in line


def test_analysis_on_postgres_matches_sqlite(store, tmp_path):
    """The lean read and the whole analysis behave the same on both databases."""
    two_weeks(store)
    a = analyse(store, TOPIC, CUR[0], CUR[1], stakeholders=["new_star"])
    top = a.ranking(5)
    assert top.accounts[0].handle == "new_star" and top.accounts[0].amplifiers == 10
    assert len(a.flagged_ids) == 6 and a.membership is not None
    from influence.analysis import features_per_account, topic_posts_per_account

    # the posts per account the flags counted as they read the posts are the ones the analysis would read
    assert a.flags.posts_per_account is not None and a.posts == topic_posts_per_account(store, TOPIC, *CUR)
    # JSON lists come as text from SQLite, as lists from psycopg

    f = features_per_account(store, TOPIC, CUR[0], CUR[1])
    tags = dict(zip(f.vocab["hashtags"], np.bincount(f.code["hashtags"], weights=f.count["hashtags"],
                                                    minlength=len(f.vocab["hashtags"])).tolist()))
    assert tags["carersweek"] >= 1 and "unpaid" in f.vocab["words"] and "respite" in f.vocab["words"]


def test_an_account_amplified_by_a_ring_is_marked_and_the_flags_are_stored(store_url):
    from monitor.store import Store

    store = Store(store_url)
    try:
        idm = two_weeks(store)
        r = influencers(store, TOPIC, since=CUR[0], until=CUR[1], limit=None)
        promo = r.find(idm["promo"])
        assert not promo.flagged  # promo's own behaviour is ordinary: it is marked, not flagged
        b = promo.boosted
        assert b["share"] == 1.0 and b["amplifications"] == 18 and b["flagged_amplifiers"] == 6
        assert b["rings"] == [{"ring": 1, "size": 6, "amplifications": 18, "share": 1.0}]
        # an account amplified by real people is not marked
        assert r.find(idm["new_star"]).boosted is None and r.find(idm["h1"]).boosted is None
        text = "\n".join(explain(store, r, idm["promo"]).lines())
        assert "BOOSTED: 100% of its 18 retweets and quotes come from flagged accounts: ring 1 (6 coordinated " \
               "accounts) 18" in text
        assert "@ringr0 (3, flagged)" in text
        # the mark survives leaving the ring's interactions out (it says why promo fell)
        clean = influencers(store, TOPIC, since=CUR[0], until=CUR[1], limit=None, exclude_flagged=True)
        assert clean.find(idm["promo"]) is None or clean.find(idm["promo"]).boosted["share"] == 1.0
        # stored for other readers (alert texts) without importing influence
        f, fp = m.influence_flags.c, m.influence_flagged_posts.c
        with store.engine.connect() as conn:
            rows = {x.account_id: x for x in conn.execute(select(m.influence_flags).where(f.run_id == r.run_id))}
            posts = conn.execute(select(m.influence_flagged_posts).where(fp.run_id == r.run_id)
                                 .order_by(fp.first_at)).all()
        ring = {idm[f"r{i}"] for i in range(6)}
        assert {a for a, x in rows.items() if x.flagged} == ring
        assert all(rows[a].ring == 1 and "coordinated" in rows[a].signals for a in ring)
        assert rows[idm["promo"]].boosted_share == 1.0 and not rows[idm["promo"]].flagged
        assert rows[idm["promo"]].boosted_by[0]["ring"] == 1
        assert rows[idm["h2"]].signals == ["mostly_reposts"] and not rows[idm["h2"]].flagged
        assert [(p.platform, p.platform_id, p.ring, p.account_id, p.accounts, p.bursts) for p in posts] == [
            ("x", f"p{k}", 1, idm["promo"], 6, 1) for k in range(3)]
        assert posts[0].first_at == T0 + timedelta(minutes=1) and posts[0].last_at > posts[0].first_at
        with store.engine.connect() as conn:
            params = conn.execute(select(m.influence_runs.c.params).where(m.influence_runs.c.id == r.run_id)).scalar()
        assert params["rings"] == [{"id": 1, "members": sorted(ring), "bursts": 3, "posts": 3}]
        results.prune(store, TOPIC, "all", False, keep=0)
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(m.influence_flags)
                                .where(f.run_id == r.run_id)).scalar() == 0
    finally:
        store.dispose()


def _rows(r):
    return [(a.account_id, a.rank, round(a.score, 9), a.in_degree, a.flagged, a.boosted, a.previous_rank)
            for a in r.accounts]


def test_the_recompute_shares_its_inputs_and_stores_what_each_variant_computes_alone(sqlite_store):
    """Both variants read the interactions, flags, posts and features once (and the previous window's once);
    what each stores is what a lookup computing that variant on its own stores."""
    two_weeks(sqlite_store)
    config = load_config(PROJECT_ROOT / "config" / "keywords.yaml")
    now = T0 + WEEK + timedelta(minutes=20)
    done = tasks.recompute(sqlite_store, config, topics=[TOPIC], now=now)["topics"][TOPIC]
    shared = {v: results.load_run(sqlite_store, done[k]["run_id"], limit=None)
              for v, k in ((False, "all"), (True, "excluding_flagged"))}
    assert shared[True].flagged_accounts == 6 and shared[True].excluded_interactions > 0
    since, until = shared[False].since, shared[False].until
    for exclude in (False, True):
        alone = influencers(sqlite_store, TOPIC, since=since, until=until, exclude_flagged=exclude, fresh=True,
                            limit=None)
        assert _rows(alone) == _rows(shared[exclude])
        assert alone.excluded_interactions == shared[exclude].excluded_interactions
    assert [c.to_dict() for c in alone.communities if c.id is not None]  # the camps were described
    assert shared[True].find("promo") is None or shared[True].find("promo").rank > shared[False].find("promo").rank


def test_the_next_hour_compares_with_the_previous_window_stored_an_hour_before(sqlite_store):
    """The hourly recompute's previous window moves by an hour: the run stored for it an hour before stands
    for it (within results.PREVIOUS_SLACK of the length), and the ranking names the window it compares with;
    past the slack the exact previous window is computed."""
    two_weeks(sqlite_store)
    config = load_config(PROJECT_ROOT / "config" / "keywords.yaml")

    def run(now):
        done = tasks.recompute(sqlite_store, config, topics=[TOPIC], now=now)["topics"][TOPIC]
        return [results.load_run(sqlite_store, done[k]["run_id"], limit=None) for k in ("all", "excluding_flagged")]

    def n_runs():
        with sqlite_store.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.influence_runs)).scalar()

    now = T0 + WEEK + timedelta(minutes=20)
    first = run(now)
    assert n_runs() == 4  # both variants and their previous windows
    assert all(r.previous_window == (r.since - timedelta(days=30), r.since) for r in first)
    second = run(now + timedelta(hours=1))
    assert n_runs() == 6  # the previous windows were not computed again
    for a, b in zip(first, second):
        assert b.since == a.since + timedelta(hours=1) and b.previous_window == a.previous_window
        ranks = results.previous_ranks(sqlite_store, results.find_run(sqlite_store, TOPIC, "all", *a.previous_window,
                                                                      a.exclude_flagged))
        assert {x.account_id: x.previous_rank for x in b.accounts} == {x.account_id: ranks.get(x.account_id)
                                                                     for x in b.accounts}
    later = run(now + timedelta(days=2))  # two days off a 30-day window: past the slack (a day)
    assert n_runs() == 10
    assert all(r.previous_window == (r.since - timedelta(days=30), r.since) for r in later)


def test_with_nobody_flagged_the_second_variant_is_the_first_stored_again(sqlite_store):
    posts = [post("s1", "star", text="Carers need respite breaks now")]
    posts += [post(f"rt{i}", f"fan{i}", "retweet", 10 * i + 1, ref=("retweet", "s1", "star")) for i in range(8)]
    posts += [post(f"m{i}", f"fan{i}", minutes=200 + i, mentions=["fan0"], text=f"carers thread {i} with @fan0")
              for i in range(1, 5)]
    sqlite_store.write_batch(posts, [acc("star", "star", 900)] + [acc(f"fan{i}", f"fan{i}") for i in range(8)])
    config = load_config(PROJECT_ROOT / "config" / "keywords.yaml")
    now = T0 + timedelta(hours=5)
    done = tasks.recompute(sqlite_store, config, topics=[TOPIC], now=now)["topics"][TOPIC]
    a = results.load_run(sqlite_store, done["all"]["run_id"], limit=None)
    b = results.load_run(sqlite_store, done["excluding_flagged"]["run_id"], limit=None)
    assert a.flagged_accounts == 0 and b.exclude_flagged is True and b.excluded_interactions == 0
    assert _rows(a) == _rows(b) and a.accounts[0].handle == "star"
    assert [c.to_dict() for c in a.communities] == [c.to_dict() for c in b.communities]
    alone = influencers(sqlite_store, TOPIC, since=a.since, until=a.until, exclude_flagged=True, fresh=True,
                        limit=None)
    assert _rows(alone) == _rows(b)


def test_delete_runs_forgets_one_window_of_the_named_topics(sqlite_store):
    two_weeks(sqlite_store)
    config = load_config(PROJECT_ROOT / "config" / "keywords.yaml")
    now = T0 + WEEK + timedelta(minutes=20)
    done = tasks.recompute(sqlite_store, config, topics=[TOPIC], now=now)
    since, until = (datetime.fromisoformat(done[k]) for k in ("since", "until"))
    other = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1])  # another window, kept
    assert results.delete_runs(sqlite_store, ["vaccination"], since, until) == 0
    assert results.delete_runs(sqlite_store, [TOPIC], since, until, exclude_flagged=True) == 1
    assert results.find_run(sqlite_store, TOPIC, "all", since, until, True) is None
    assert results.find_run(sqlite_store, TOPIC, "all", since, until, False) is not None
    assert results.delete_runs(sqlite_store, [TOPIC], since, until) == 1
    assert results.find_run(sqlite_store, TOPIC, "all", since, until, False) is None
    assert results.find_run(sqlite_store, TOPIC, "all", CUR[0], CUR[1], False) == other.run_id
    with sqlite_store.engine.connect() as conn:
        left = set(conn.execute(select(m.influence_scores.c.run_id).distinct()).scalars())
    assert done["topics"][TOPIC]["all"]["run_id"] not in left
    assert tasks.recompute(sqlite_store, config, topics=[TOPIC], now=now)["topics"][TOPIC]["all"] != "already stored"
