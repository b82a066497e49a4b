"""The demo scenario generator: real X API v2 shape, the planted structure, determinism, the feeds."""

from __future__ import annotations

import collections
import html
import json
import re
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.demo.generator import OFF_TOPIC, TOPICS, ScenarioSpec, generate, iter_edges, main

ROOT = Path(__file__).resolve().parents[2]
SNOWFLAKE_EPOCH_MS = 1288834974657


@dataclass
class Scenario:
    """A generated scenario, read back from its files."""

    out: Path
    truth: dict
    tweets: list[dict] = field(default_factory=list)  # every data tweet, in file order
    pages: list[dict] = field(default_factory=list)
    users: dict[str, dict] = field(default_factory=dict)  # every user object in any includes
    included: dict[str, dict] = field(default_factory=dict)  # every includes.tweets object

    @property
    def by_id(self) -> dict[str, dict]:
        return {t["id"]: t for t in self.tweets}


def _read(out: Path, truth: dict) -> Scenario:
    sc = Scenario(out=out, truth=truth)
    for f in sorted((out / "x").glob("*.jsonl")):
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                page = json.loads(line)
                sc.pages.append(page)
                sc.tweets.extend(page["data"])
                for u in page["includes"]["users"]:
                    sc.users[u["id"]] = u
                for t in page["includes"].get("tweets", []):
                    sc.included[t["id"]] = t
    return sc


def _when(tweet: dict) -> datetime:
    return datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00"))


def _kind(tweet: dict) -> str:
    refs = tweet.get("referenced_tweets")
    return refs[0]["type"] if refs else "original"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Scenario:
    out = tmp_path_factory.mktemp("demo")
    truth = generate(out, ScenarioSpec(size=1000, seed=7))
    return _read(out, truth)


@pytest.fixture(scope="module")
def matcher():
    from monitor.config import load_config
    from monitor.topics import Matcher

    return Matcher(load_config(ROOT / "config" / "keywords.yaml").topics)


@pytest.fixture(scope="module")
def topic_of(scenario, matcher) -> dict[str, list[str]]:
    """Tweet id -> the topics config/keywords.yaml puts it on ([OFF_TOPIC] for none)."""
    return {t["id"]: sorted(matcher.match_text(t["text"], lang=t["lang"])) or [OFF_TOPIC] for t in scenario.tweets}


# ---------------------------------------------------------------------------------------------- files


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    def files(d: Path) -> dict[str, bytes]:
        return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}

    spec = ScenarioSpec(size=1000, seed=3)
    generate(tmp_path / "a", spec)
    generate(tmp_path / "b", spec)
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert sorted(a) == ["ground_truth.json", "rss/herald-health.xml", "rss/ledger-society.xml",
                         "rss/ward-weekly.xml", "x/posts-0000.jsonl"]
    assert a == b
    generate(tmp_path / "c", ScenarioSpec(size=1000, seed=4))
    c = files(tmp_path / "c")
    assert c["x/posts-0000.jsonl"] != a["x/posts-0000.jsonl"]


def test_pages_look_like_twarc2_search_pages(scenario):
    assert len(scenario.pages) == 10
    for page in scenario.pages:
        assert set(page) == {"data", "includes", "meta", "__twarc"}
        data = page["data"]
        meta = page["meta"]
        assert meta == {"result_count": len(data), "newest_id": data[-1]["id"], "oldest_id": data[0]["id"]}
        stamp = page["__twarc"]
        assert stamp["version"] == "2.14.0"
        assert stamp["url"].startswith("https://api.twitter.com/2/tweets/search/recent?")
        retrieved = datetime.fromisoformat(stamp["retrieved_at"])
        assert retrieved >= _when(data[-1])  # fetched after its newest tweet
    assert sum(len(p["data"]) for p in scenario.pages) == 1000


def test_tweets_are_v2_objects_with_growing_snowflake_ids(scenario):
    prev = 0
    for t in scenario.tweets:
        for key in ("id", "text", "author_id", "created_at", "lang", "conversation_id", "public_metrics",
                    "edit_history_tweet_ids"):
            assert key in t, f"tweet {t.get('id')} lacks {key}"
        assert isinstance(t["id"], str) and t["id"].isdigit()
        n = int(t["id"])
        assert n > prev, "ids must grow with time"
        prev = n
        assert t["edit_history_tweet_ids"] == [t["id"]]
        assert set(t["public_metrics"]) == {"retweet_count", "reply_count", "like_count", "quote_count"}
        # the id's timestamp is the creation time (created_at is it to the second)
        ms = (n >> 22) + SNOWFLAKE_EPOCH_MS
        created = _when(t)
        assert t["created_at"].endswith(".000Z")
        assert created == datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    start = datetime.fromisoformat(scenario.truth["start"])
    end = datetime.fromisoformat(scenario.truth["end"])
    assert start <= _when(scenario.tweets[0]) and _when(scenario.tweets[-1]) < end
    assert end - start == timedelta(days=7) and start.weekday() == 0


def test_references_and_users_are_all_resolvable(scenario):
    seen: set[str] = set()
    for page in scenario.pages:
        users = {u["id"] for u in page["includes"]["users"]}
        included = {t["id"]: t for t in page["includes"].get("tweets", [])}
        for t in page["data"]:
            assert t["author_id"] in users
            for m in t.get("entities", {}).get("mentions", []):
                assert m["id"] in users, f"mentioned user {m['id']} not in includes.users"
            if "in_reply_to_user_id" in t:
                assert t["in_reply_to_user_id"] in users
            for ref in t.get("referenced_tweets", []):
                assert ref["type"] in ("retweeted", "quoted", "replied_to")
                assert ref["id"] in seen or ref["id"] in included, f"{ref} of {t['id']} is nowhere"
                target = included[ref["id"]]
                assert target["author_id"] in users
                if ref["type"] == "retweeted":
                    assert ref["id"] in seen, "a retweeted post appears in the data before its retweets"
                    handle = scenario.users[target["author_id"]]["username"]
                    assert t["text"].startswith(f"RT @{handle}: ")
                    assert len(html.unescape(t["text"])) <= 140  # counted before X escapes &
                    assert t["conversation_id"] == t["id"]
                    assert t["public_metrics"]["retweet_count"] >= 1
                elif ref["type"] == "replied_to":
                    assert t["in_reply_to_user_id"] == target["author_id"]
                    assert t["conversation_id"] == target["conversation_id"]
                    assert t["text"].startswith("@" + scenario.users[target["author_id"]]["username"] + " ")
                else:
                    assert target["id"] in t["entities"]["urls"][-1]["expanded_url"]
            seen.add(t["id"])
    u = next(iter(scenario.users.values()))
    assert {"id", "username", "name", "description", "created_at", "public_metrics", "verified",
            "verified_type"} <= set(u)
    assert set(u["public_metrics"]) == {"followers_count", "following_count", "tweet_count", "listed_count"}


def test_entity_offsets_slice_the_text(scenario):
    counts = collections.Counter()
    for t in list(scenario.tweets) + list(scenario.included.values()):
        text = t["text"]
        ents = t.get("entities", {})
        for m in ents.get("mentions", []):
            assert text[m["start"]:m["end"]] == "@" + m["username"], (t["id"], m)
            assert scenario.users[m["id"]]["username"] == m["username"]
            counts["mentions"] += 1
        for h in ents.get("hashtags", []):
            assert text[h["start"]:h["end"]] == "#" + h["tag"], (t["id"], h)
            counts["hashtags"] += 1
        for u in ents.get("urls", []):
            assert text[u["start"]:u["end"]] == u["url"], (t["id"], u)
            assert u["url"].startswith("https://t.co/") and len(u["url"]) == 23
            assert u["display_url"] in u["expanded_url"] or u["display_url"].endswith("\u2026")
            counts["urls"] += 1
    assert min(counts.values()) >= 20, counts
    # X escapes & in texts; the entity offsets count the escaped text
    assert any("&amp;" in t["text"] for t in scenario.tweets)
    assert not any("&" in t["text"].replace("&amp;", "") for t in scenario.tweets)


def test_every_post_is_on_the_topics_it_was_made_for_and_counts_match(scenario, topic_of):
    truth = scenario.truth
    two, near = truth["posts"]["two_topics"], set(truth["posts"]["near_miss"])
    for t in scenario.tweets:
        got = topic_of[t["id"]]
        if t["id"] in two:  # written on two topics at once: both queries find it
            assert got == sorted(two[t["id"]]), (t["id"], got, t["text"])
        elif t["id"] in near:  # close to a query ("nhsx", "smoking hot", a junior doctor's wedding): none
            assert got == [OFF_TOPIC], (t["id"], got, t["text"])
        else:
            assert len(got) == 1, f"tweet {t['id']} matches {got}: {t['text']!r}"
    got = collections.Counter(x for hits in topic_of.values() for x in hits)
    assert {t: got[t] for t in TOPICS} == truth["counts"]["per_topic"]
    assert got[OFF_TOPIC] == truth["counts"]["off_topic"] > 0
    assert truth["counts"]["two_topics"] == len(two) >= 5 and truth["counts"]["near_miss"] == len(near) >= 5
    assert len({tuple(v) for v in two.values()}) >= 3  # several pairs of topics, not one
    kinds = collections.Counter(_kind(t) for t in scenario.tweets)
    c = truth["counts"]
    assert c["posts"] == len(scenario.tweets) == truth["size"] == 1000
    assert (kinds["original"], kinds["retweeted"], kinds["quoted"], kinds["replied_to"]) == (
        c["originals"], c["retweets"], c["quotes"], c["replies"])
    assert c["retweets"] > 200 and c["quotes"] > 10 and c["replies"] > 30
    assert set(truth["accounts"]) >= {t["author_id"] for t in scenario.tweets}
    assert set(truth["accounts"].values()) >= {"public", "journalist", "mp", "charity", "royal_college",
                                               "nhs_trust", "think_tank", "clinician", "bot"}


def test_every_near_miss_matches_no_topic_and_every_two_topic_text_matches_both(matcher):
    import random

    from monitor.demo.text import _DUAL, _NEAR_MISS, _Slots

    slots = _Slots(random.Random(1))
    for tpl in _NEAR_MISS:
        for _ in range(5):
            text = slots.fill(tpl)
            assert not matcher.match_text(text, lang="en"), text
    for a, b, tpl in _DUAL:
        for _ in range(5):
            text = slots.fill(tpl)
            assert set(matcher.match_text(text, lang="en")) == {TOPICS[a], TOPICS[b]}, text
            # a retweet keeps both: "RT @handle: " (at most 20 characters) + the text within 140
            assert len(text) <= 120, text


# --------------------------------------------------------------------------------- planted structure


def _crisis_numbers(sc: Scenario, topic_of: dict[str, str]) -> tuple[float, float, float, float]:
    """(tweets in window, mean in the same hours of other days, mean VADER in window, outside)."""
    crisis = sc.truth["crisis"]
    start, end = datetime.fromisoformat(crisis["start"]), datetime.fromisoformat(crisis["end"])
    on_topic = [t for t in sc.tweets if crisis["topic"] in topic_of[t["id"]]]
    inside = [t for t in on_topic if start <= _when(t) < end]
    others = collections.Counter()
    week_start = datetime.fromisoformat(sc.truth["start"])
    for t in on_topic:
        w = _when(t)
        day = (w - week_start).days
        shifted = start + timedelta(days=day - (start - week_start).days)
        if day != (start - week_start).days and shifted <= w < shifted + (end - start):
            others[day] += 1
    baseline = sum(others.values()) / 6
    sia = SentimentIntensityAnalyzer()

    def mood(ts: list[dict]) -> float:
        return statistics.fmean(sia.polarity_scores(html.unescape(t["text"]))["compound"] for t in ts)

    outside = [t for t in on_topic if not start <= _when(t) < end]
    return len(inside), baseline, mood(inside), mood(outside)


def test_crisis_window_has_a_volume_jump_and_turns_negative(scenario, topic_of):
    crisis = scenario.truth["crisis"]
    assert crisis["topic"] == "vaccination" and crisis["expected_sentiment"] == "negative"
    start, end = datetime.fromisoformat(crisis["start"]), datetime.fromisoformat(crisis["end"])
    assert start.weekday() == 3 and timedelta(hours=3) <= end - start <= timedelta(hours=6)
    inside, baseline, mood_in, mood_out = _crisis_numbers(scenario, topic_of)
    assert inside >= 4 * max(baseline, 1), (inside, baseline)
    assert mood_in < -0.25 and mood_in < mood_out - 0.25, (mood_in, mood_out)
    # driven by a handful of accounts whose posts are widely retweeted
    drivers = set(crisis["driver_accounts"])
    assert 3 <= len(drivers) <= 6
    rts = [t for t in scenario.tweets if _kind(t) == "retweeted" and start <= _when(t) < end
           and crisis["topic"] in topic_of[t["id"]]]
    of_drivers = [t for t in rts
                  if scenario.included[t["referenced_tweets"][0]["id"]]["author_id"] in drivers]
    assert len(of_drivers) >= 0.6 * len(rts) and len({t["author_id"] for t in of_drivers}) >= 10
    assert crisis["article"] and crisis["article"].startswith("https://")


@pytest.mark.parametrize("seed,topic", [(11, "waiting_times"), (23, "junior_doctors")])
def test_crisis_holds_for_other_seeds_and_topics(tmp_path, matcher, seed, topic):
    truth = generate(tmp_path, ScenarioSpec(size=1000, seed=seed, crisis_topic=topic))
    sc = _read(tmp_path, truth)
    topics = {t["id"]: sorted(matcher.match_text(t["text"], lang="en")) or [OFF_TOPIC] for t in sc.tweets}
    inside, baseline, mood_in, mood_out = _crisis_numbers(sc, topics)
    assert truth["crisis"]["topic"] == topic
    assert inside >= 4 * max(baseline, 1), (inside, baseline)
    assert mood_in < mood_out - 0.25, (mood_in, mood_out)


def _amplifiers(sc: Scenario) -> dict[str, set[str]]:
    """Author id -> distinct accounts that retweeted, quoted or replied to them."""
    out: dict[str, set[str]] = collections.defaultdict(set)
    for t in sc.tweets:
        for ref in t.get("referenced_tweets", []):
            out[sc.included[ref["id"]]["author_id"]].add(t["author_id"])
    return out


def test_central_low_follower_accounts_outdraw_follower_rich_ones(scenario):
    inf = scenario.truth["influencers"]
    amp = _amplifiers(scenario)
    followers = {uid: u["public_metrics"]["followers_count"] for uid, u in scenario.users.items()}
    central, rich = inf["central_low_follower"], inf["follower_rich_unamplified"]
    assert len(central) >= 7 and len(rich) >= 5
    assert all(followers[a] < 1000 for a in central)
    assert all(followers[a] >= 100_000 for a in rich)
    posts = collections.Counter(t["author_id"] for t in scenario.tweets)
    assert all(posts[a] >= 5 for a in rich), "follower-rich accounts post a lot"
    central_amp = [len(amp[a]) for a in central]
    rich_amp = [len(amp[a]) for a in rich]
    assert statistics.fmean(central_amp) >= 5 * max(1.0, statistics.fmean(rich_amp)), (central_amp, rich_amp)
    assert sum(n >= 4 for n in central_amp) >= 0.8 * len(central)
    for topic in TOPICS:
        assert set(inf["central_low_follower_by_topic"][topic]) <= set(central)
        assert set(inf["follower_rich_unamplified_by_topic"][topic]) <= set(rich)
    # amplified across communities: amplifiers of central accounts are not one clique
    everyone = {a for s in amp.values() for a in s}
    assert len(set().union(*(amp[a] for a in central))) >= 0.2 * len(everyone)


def _amplifications(sc: Scenario) -> dict[str, collections.Counter]:
    """Author id -> Counter of the accounts that retweeted, quoted or replied to them (with repeats)."""
    out: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for t in sc.tweets:
        for ref in t.get("referenced_tweets", []):
            out[sc.included[ref["id"]]["author_id"]][t["author_id"]] += 1
    return out


def test_endorsed_voices_are_passed_on_by_a_few_leading_voices_only(scenario):
    inf = scenario.truth["influencers"]
    amp = _amplifiers(scenario)
    for topic in TOPICS:
        [e] = inf["endorsed_by_topic"][topic]
        who = amp[e]
        # few amplifiers (a count of them ranks it low) ...
        assert 1 <= len(who) <= 3, (topic, len(who))
        # ... but among them is a leading voice of the topic, amplified far more widely
        leading = set(who) & set(inf["central_low_follower_by_topic"][topic])
        assert leading and max(len(amp[a]) for a in leading) > len(who), topic


def test_brokers_are_amplified_by_both_camps_that_rarely_amplify_each_other(scenario):
    truth = scenario.truth
    amp = _amplifiers(scenario)
    for topic, [b] in ((t, v) for t, v in truth["influencers"]["brokers_by_topic"].items() if v):
        camps = truth["camps"][topic]
        c0, c1 = camps["camp_0"][0], camps["camp_1"][0]
        assert c0 in amp[b] and c1 in amp[b], topic  # each camp's leading voice passes it on
        assert len(amp[b]) <= 6  # a modest count
        # the two camps' leading voices share hardly any amplifiers
        assert len(amp[c0] & amp[c1]) <= 2, (topic, len(amp[c0] & amp[c1]))


def test_follower_rich_stars_are_amplified_only_by_their_clique(scenario):
    inf = scenario.truth["influencers"]
    raw = _amplifications(scenario)
    followers = {uid: u["public_metrics"]["followers_count"] for uid, u in scenario.users.items()}
    stars = {t: v for t, v in inf["follower_rich_clique_by_topic"].items() if v}
    assert len(stars) >= 3
    for topic, [s] in stars.items():
        fans = set(inf["clique_members_by_topic"][topic])
        assert followers[s] >= 100_000 and set(raw[s]) == fans and len(fans) == 5
        assert sum(raw[s].values()) >= 3 * len(fans)  # many retweets, few distinct amplifiers
        assert all(followers[f] < 5000 for f in fans)
    # the boosted accounts are follower-rich or lobbyists amplified mostly by the rings
    rings = scenario.truth["bot_rings"]
    assert {r["amplifies"] for r in rings} == set(inf["bot_boosted"])
    assert followers[rings[1]["amplifies"]] >= 100_000


def test_the_ring_that_looks_human_is_old_varied_and_in_daytime_but_in_step(scenario):
    ring = scenario.truth["bot_rings"][1]
    members = set(ring["members"])
    assert 10 <= len(members) <= 18 and len(ring["bursts"]) >= 4
    start = datetime.fromisoformat(scenario.truth["start"])
    for mid in members:
        u = scenario.users[mid]
        assert start - datetime.fromisoformat(u["created_at"].replace("Z", "+00:00")) > timedelta(days=365 * 5)
        assert "default_profile" not in u["profile_image_url"]
    by = [t for t in scenario.tweets if t["author_id"] in members]
    originals = [t["text"] for t in by if _kind(t) == "original"]
    assert len(set(originals)) >= 0.6 * len(originals)  # paraphrased, not copied
    assert all(8 <= _when(t).hour < 23 for t in by)
    rts = sorted((_when(t), t["referenced_tweets"][0]["id"]) for t in by if _kind(t) == "retweeted")
    for b_start, b_end in ring["bursts"]:
        s = datetime.fromisoformat(b_start).replace(microsecond=0)
        e = datetime.fromisoformat(b_end)
        inside = [w for w, _ in rts if s <= w <= e]
        assert len(inside) >= 6 and timedelta(seconds=5) < e - s <= timedelta(seconds=160)


def test_the_live_event_is_people_retweeting_10_to_30_seconds_apart(scenario):
    live = scenario.truth["look_like_bots"]["live_event"]
    watchers = set(live["accounts"])
    assert len(watchers) >= 12 and not watchers & set(scenario.truth["bots"])
    mp = live["amplifies"]
    per_post: dict[str, list[datetime]] = collections.defaultdict(list)
    for t in scenario.tweets:
        if t["author_id"] in watchers and _kind(t) == "retweeted":
            target = scenario.included[t["referenced_tweets"][0]["id"]]
            if target["author_id"] == mp and target["text"].startswith("LIVE:"):
                per_post[target["id"]].append(_when(t))
    assert len(per_post) == 3
    for times in per_post.values():
        times.sort()
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
        assert len(times) >= 5 and all(9 <= g <= 31 for g in gaps), gaps


def test_texts_vary(tmp_path):
    truth = generate(tmp_path, ScenarioSpec(size=20_000, seed=3))
    sc = _read(tmp_path, truth)
    written = [t["text"] for t in sc.tweets if _kind(t) != "retweeted"]
    assert len(set(written)) >= 0.7 * len(written), (len(set(written)), len(written))
    # and not only by their numbers, links and mentions (what a duplicate detector drops)
    words = {" ".join(re.sub(r"https?://\S+|(?<!\w)@\w+|[^a-z]+", " ", t.lower()).split()) for t in written}
    assert len(words) >= 0.5 * len(written), (len(words), len(written))


def test_bot_ring_retweets_one_account_in_bursts_within_seconds(scenario):
    ring = scenario.truth["bot_ring"]
    members = set(ring["members"])
    assert 15 <= len(members) <= 30 and ring["bursts"]
    start = datetime.fromisoformat(scenario.truth["start"])
    for m in members:
        u = scenario.users[m]
        assert start - datetime.fromisoformat(u["created_at"].replace("Z", "+00:00")) < timedelta(days=90)
        assert any(ch.isdigit() for ch in u["username"]) and u["verified"] is False
    by_bots = [t for t in scenario.tweets if t["author_id"] in members]
    assert sum(_kind(t) == "retweeted" for t in by_bots) >= 0.6 * len(by_bots)
    retweeted = {scenario.included[t["referenced_tweets"][0]["id"]]["author_id"]
                 for t in by_bots if _kind(t) == "retweeted"}
    assert retweeted == {ring["amplifies"]}
    # each burst: (nearly) the whole ring retweets one post within a minute
    for b_start, b_end in ring["bursts"]:
        s = datetime.fromisoformat(b_start).replace(microsecond=0)  # created_at counts whole seconds
        e = datetime.fromisoformat(b_end)
        assert e - s <= timedelta(seconds=60)
        burst = [t for t in by_bots if _kind(t) == "retweeted" and s <= _when(t) <= e]
        assert len(burst) >= 0.8 * len(members)
        assert len({t["referenced_tweets"][0]["id"] for t in burst}) == 1
        assert len({t["text"] for t in burst}) == 1  # near-identical: here identical
    # the bots post around the clock, ordinary accounts do not
    bot_hours = {_when(t).hour for t in by_bots}
    assert len(bot_hours & set(range(0, 6))) >= 2


def test_daily_and_weekly_cycle(scenario):
    bots = set(scenario.truth["bot_ring"]["members"])
    people = [t for t in scenario.tweets if t["author_id"] not in bots]
    per_hour = collections.Counter(_when(t).hour for t in people)
    night = statistics.fmean(per_hour[h] for h in range(1, 6))
    day = statistics.fmean(per_hour[h] for h in range(8, 22))
    assert night < 0.3 * day, (night, day)
    start = datetime.fromisoformat(scenario.truth["start"])
    per_day = collections.Counter((_when(t) - start).days for t in people)
    crisis_day = (datetime.fromisoformat(scenario.truth["crisis"]["start"]) - start).days
    weekdays = [per_day[d] for d in range(5) if d != crisis_day]
    assert statistics.fmean([per_day[5], per_day[6]]) < statistics.fmean(weekdays)


# ------------------------------------------------------------------------------------------ feeds


def test_rss_feeds_parse_cleanly_and_their_stories_are_shared(scenario, matcher):
    files = sorted((scenario.out / "rss").glob("*.xml"))
    assert len(files) == 3
    links = set()
    n = 0
    for f in files:
        parsed = feedparser.parse(f.read_bytes())
        assert parsed.bozo == 0, (f.name, parsed.get("bozo_exception"))
        assert parsed.version == "rss20"
        assert parsed.feed.title and parsed.feed.link
        for e in parsed.entries:
            assert e.title and e.link and e.id and e.published_parsed and e.author and e.summary
            assert ".example/" in e.link
            hits = matcher.match_text(f"{e.title}\n{e.summary}", lang="en")
            assert len(hits) == 1, (e.title, hits)
            links.add(e.link)
            n += 1
    assert n == scenario.truth["counts"]["articles"] == sum(scenario.truth["counts"]["articles_per_topic"].values())
    shared = [u["expanded_url"] for t in scenario.tweets for u in t.get("entities", {}).get("urls", [])
              if u["expanded_url"] in links]
    assert len(shared) >= 5
    assert scenario.truth["crisis"]["article"] in links


def test_without_rss_no_feeds_are_written(tmp_path):
    truth = generate(tmp_path, ScenarioSpec(size=1000, with_rss=False))
    assert not (tmp_path / "rss").exists()
    assert truth["counts"]["articles"] == 0 and truth["files"]["rss"] == []


# ------------------------------------------------------------------------------------- other paths


def _file_edges(sc: Scenario) -> collections.Counter:
    """Edges as iter_edges defines them, derived from the written files."""
    edges = collections.Counter()
    for t in sc.tweets:
        kind = _kind(t)
        src = t["author_id"]
        if kind != "original":
            ref = t["referenced_tweets"][0]
            dst = sc.included[ref["id"]]["author_id"]
            edges[({"retweeted": "retweet", "quoted": "quote", "replied_to": "reply"}[kind], src, dst)] += 1
        if kind == "retweeted":
            continue
        mentions = t.get("entities", {}).get("mentions", [])
        if kind == "replied_to":  # the leading @handles X puts on a reply are not mentions
            lead = 0
            for m in mentions:
                if m["start"] == lead:
                    lead = m["end"] + 1
            mentions = [m for m in mentions if m["start"] >= lead]
        for m in mentions:
            edges[("mention", src, m["id"])] += 1
    return edges


def test_iter_edges_replays_the_interactions_of_the_files(scenario):
    edges = list(iter_edges(ScenarioSpec(size=1000, seed=7)))
    assert collections.Counter((k, s, d) for _, k, s, d, _ in edges) == _file_edges(scenario)
    topics = {t for t, *_ in edges}
    assert topics <= set(TOPICS) | {OFF_TOPIC} and set(TOPICS) <= topics
    times = [w for *_, w in edges]
    assert times == sorted(times) and all(w.tzinfo is not None for w in times)


def test_files_import_through_the_x_and_rss_readers(scenario):
    from monitor.sources.rss import parse_feed_bytes
    from monitor.sources.xv2 import iter_jsonl_batches

    posts = 0
    kinds = collections.Counter()
    for f in sorted((scenario.out / "x").glob("*.jsonl")):
        for batch in iter_jsonl_batches(f, "demo"):
            assert batch.errors == []
            for p in batch.posts:
                if not p.extra.get("referenced_only"):
                    posts += 1
                    kinds[p.kind] += 1
    c = scenario.truth["counts"]
    assert posts == 1000
    assert (kinds["original"], kinds["retweet"], kinds["quote"], kinds["reply"]) == (
        c["originals"], c["retweets"], c["quotes"], c["replies"])
    for f in sorted((scenario.out / "rss").glob("*.xml")):
        batch = parse_feed_bytes(f.read_bytes(), f.stem)
        assert batch.errors == [] and batch.posts


def test_bad_specs_are_refused_with_the_field_named(tmp_path):
    with pytest.raises(ValueError, match="size"):
        generate(tmp_path, ScenarioSpec(size=999))
    with pytest.raises(ValueError, match="crisis_topic"):
        generate(tmp_path, ScenarioSpec(crisis_topic="dentistry"))


def test_cli_writes_a_scenario(tmp_path, capsys):
    assert main([str(tmp_path / "out"), "--size", "1000", "--seed", "5", "--crisis-topic", "social_care"]) == 0
    truth = json.loads((tmp_path / "out" / "ground_truth.json").read_text())
    assert truth["seed"] == 5 and truth["crisis"]["topic"] == "social_care"
    assert "1000 tweets" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(tmp_path / "bad"), "--size", "10"])


def test_small_scenarios_are_fast_and_the_structure_scales(tmp_path):
    t0 = time.perf_counter()
    generate(tmp_path / "small", ScenarioSpec(size=1000, seed=2))
    assert time.perf_counter() - t0 < 3.0
    truth = generate(tmp_path / "mid", ScenarioSpec(size=20_000, seed=2))
    sc = _read(tmp_path / "mid", truth)
    assert len(sc.tweets) == 20_000 and len(sc.pages) == 200
    amp = _amplifiers(sc)
    central = [len(amp[a]) for a in truth["influencers"]["central_low_follower"]]
    rich = [len(amp[a]) for a in truth["influencers"]["follower_rich_unamplified"]]
    assert min(central) >= 20 and max(rich) == 0, (central, rich)
    assert len(truth["accounts"]) == 4000
