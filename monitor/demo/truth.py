"""The ground truth: what was planted, for tests and benchmarks to score against (``ground_truth.json``).

Part of the demo scenario generator (:mod:`monitor.demo.generator`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from monitor.demo.spec import KINDS, ORIG, QT, RP, RT, ScenarioSpec, TOPICS, _NT, _SMOKING, _iso, _ms_to_dt
from monitor.demo.population import CAMP_TOPICS, _Population
from monitor.demo.schedule import _Core
from monitor.demo.feeds import _Article


def _ground_truth(spec: ScenarioSpec, pop: _Population, core: _Core, articles: list[_Article],
                  x_files: list[str], rss_files: list[str], dual_posts: dict[str, list[str]] | None = None,
                  near_miss_posts: list[str] | None = None) -> dict[str, Any]:
    ids = pop.ids
    start = spec.start_utc

    def by_topic(d: dict[int, list[int]]) -> dict[str, list[str]]:
        return {TOPICS[t]: [ids[i] for i in d.get(t, [])] for t in range(_NT)}

    def flat(d: dict[str, list[str]]) -> list[str]:
        return [i for lst in d.values() for i in lst]

    central_by = by_topic(pop.central)
    rich_by = by_topic(pop.rich)
    endorsed_by = by_topic(pop.endorsed)
    brokers_by = by_topic(pop.brokers)
    star_by = by_topic(pop.clique_star)
    boosted_by = by_topic({_SMOKING: [pop.bot_target, pop.sleeper_target]})
    voices = {t: central_by[t] + endorsed_by[t] + brokers_by[t]
              + ([ids[i] for i in core.drivers] if t == spec.crisis_topic else []) for t in TOPICS}
    decoys = {t: rich_by[t] + star_by[t] + boosted_by[t] for t in TOPICS}
    fmt = lambda ms: _iso(_ms_to_dt(ms))  # noqa: E731
    written = articles if rss_files else []
    art_per = {TOPICS[t]: sum(1 for a in written if a.topic == t) for t in range(_NT)}
    # the story exists (tweets link to it) even when the feeds are not written
    crisis_article = next((a.link for a in articles if a.ms == core.crisis_window[0] + 30_000), None)
    ring_loud = {
        "name": "loud",
        "members": [ids[i] for i in pop.bots],
        "amplifies": ids[pop.bot_target],
        "topic": TOPICS[_SMOKING],
        "bursts": [[fmt(a), fmt(b)] for a, b in core.bursts],
    }
    return {
        "seed": spec.seed,
        "size": spec.size,
        "start": _iso(start),
        "end": _iso(start + timedelta(days=spec.days)),
        "topics": list(TOPICS),
        "files": {"x": [f"x/{f}" for f in x_files], "rss": [f"rss/{f}" for f in rss_files]},
        "crisis": {
            "topic": spec.crisis_topic,
            "start": _iso(_ms_to_dt(core.crisis_window[0])),
            "end": _iso(_ms_to_dt(core.crisis_window[1])),
            "driver_accounts": [ids[i] for i in core.drivers],
            "expected_sentiment": "negative",
            "article": crisis_article,
        },
        "influencers": {
            "central_low_follower": flat(central_by),
            "central_low_follower_by_topic": central_by,
            "follower_rich_unamplified": flat(rich_by),
            "follower_rich_unamplified_by_topic": rich_by,
            "endorsed": flat(endorsed_by),
            "endorsed_by_topic": endorsed_by,
            "brokers": flat(brokers_by),
            "brokers_by_topic": brokers_by,
            "follower_rich_clique": flat(star_by),
            "follower_rich_clique_by_topic": star_by,
            "clique_members_by_topic": by_topic(pop.clique),
            "bot_boosted": flat(boosted_by),
            "bot_boosted_by_topic": boosted_by,
        },
        "voices_by_topic": voices,
        "decoys_by_topic": decoys,
        "camps": {TOPICS[t]: {"camp_0": [ids[pop.central[t][0]]], "camp_1": [ids[pop.central[t][1]]]}
                  for t in CAMP_TOPICS},
        "bot_ring": ring_loud,
        "bot_rings": [ring_loud, {
            "name": "looks human",
            "members": [ids[i] for i in pop.sleepers],
            "amplifies": ids[pop.sleeper_target],
            "topic": TOPICS[_SMOKING],
            "bursts": [[fmt(a), fmt(b)] for a, b in core.sleeper_bursts],
        }],
        "bots": [ids[i] for i in pop.bots + pop.sleepers],
        "look_like_bots": {
            "live_event": {"topic": spec.crisis_topic, "accounts": [ids[i] for i in core.watchers],
                           "amplifies": ids[core.drivers[2]]},
            "clique_members": flat(by_topic(pop.clique)),
        },
        "posts": {"two_topics": dict(dual_posts or {}), "near_miss": list(near_miss_posts or [])},
        "counts": {
            "posts": sum(core.kind_counts),
            "originals": core.kind_counts[ORIG],
            "retweets": core.kind_counts[RT],
            "quotes": core.kind_counts[QT],
            "replies": core.kind_counts[RP],
            "articles": len(written),
            "per_topic": {TOPICS[t]: core.topic_counts[t] for t in range(_NT)},
            "off_topic": core.topic_counts[_NT],
            "articles_per_topic": art_per,
            "two_topics": len(dual_posts or {}),
            "near_miss": len(near_miss_posts or []),
        },
        "accounts": {ids[i]: KINDS[pop.kinds[i]] for i in range(pop.n)},
        "handles": {ids[i]: pop.handles[i] for i in range(pop.n)},
    }
