"""The ground truth: what was planted, for tests and benchmarks to score against (``ground_truth.json``).

Part of the demo scenario generator (:mod:`monitor.demo.generator`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from monitor.demo.spec import KINDS, ORIG, QT, RP, RT, ScenarioSpec, TOPICS, _NT, _SMOKING, _iso, _ms_to_dt
from monitor.demo.population import _Population
from monitor.demo.schedule import _Core
from monitor.demo.feeds import _Article


def _ground_truth(spec: ScenarioSpec, pop: _Population, core: _Core, articles: list[_Article],
                  x_files: list[str], rss_files: list[str]) -> dict[str, Any]:
    ids = pop.ids
    start = spec.start_utc
    central_by = {TOPICS[t]: [ids[i] for i in pop.central[t]] for t in range(_NT)}
    rich_by = {TOPICS[t]: [ids[i] for i in pop.rich[t]] for t in range(_NT)}
    written = articles if rss_files else []
    art_per = {TOPICS[t]: sum(1 for a in written if a.topic == t) for t in range(_NT)}
    # the story exists (tweets link to it) even when the feeds are not written
    crisis_article = next((a.link for a in articles if a.ms == core.crisis_window[0] + 30_000), None)
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
            "central_low_follower": [i for lst in central_by.values() for i in lst],
            "central_low_follower_by_topic": central_by,
            "follower_rich_unamplified": [i for lst in rich_by.values() for i in lst],
            "follower_rich_unamplified_by_topic": rich_by,
        },
        "expected_top_influencers": core.expected_top(),
        "bot_ring": {
            "members": [ids[i] for i in pop.bots],
            "amplifies": ids[pop.bot_target],
            "topic": TOPICS[_SMOKING],
            "bursts": [[_iso(_ms_to_dt(a)), _iso(_ms_to_dt(b))] for a, b in core.bursts],
        },
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
        },
        "accounts": {ids[i]: KINDS[pop.kinds[i]] for i in range(pop.n)},
        "handles": {ids[i]: pop.handles[i] for i in range(pop.n)},
    }
