"""The week's influence rankings: computed once the week has ended, read by the Monday build.

The briefing shows each topic's most influential voices of the week and who is new or rising, so
it needs the ranking of the week (Monday to Sunday in the briefing's time zone) and of the week
before it. The hourly influence recompute (:mod:`influence.tasks`) keeps the rolling 30-day windows
fresh, not calendar weeks, so the weeks are computed here, through :mod:`influence`'s own API
(:func:`influence.lookup.compute_run`, stored by :mod:`influence.results`), by
:func:`compute_week` -- scheduled soon after the week ends (:data:`RANKINGS_AFTER`, by the
briefing's beat task :func:`briefings.tasks.scheduled_draft`), hours before the Monday-morning
build. The build (:func:`rankings_for`) then reads stored runs; a week nobody computed (a build
for a past week from the command line, a beat that never ran) is computed there and then, and
the build's ``influence`` stage says so.

The previous week's run is the week before's own run when it was computed then (every week's
run is stored and kept, :data:`influence.results.KEEP_RUNS`), so in steady state a week costs
one analysis per topic. The briefing shows no communities, so none are searched for.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from briefings.week import Week
from monitor import models as m
from monitor.config import Config
from monitor.store import Store

log = logging.getLogger(__name__)

#: How long after the week's end its rankings are computed: posts of Sunday evening still arriving
#: (collection and batches run minutes behind) are in them. Posts of the week stored after this
#: are counted by the build but not in its rankings.
RANKINGS_AFTER = timedelta(hours=1)


def _topics_with_posts(store: Store, week: Week, topics: list[str]) -> set[str]:
    """The topics with posts in the week, from the 5-minute rollups (a small table)."""
    r = m.rollups
    q = (select(r.c.topic).where(r.c.topic.in_(topics), r.c.bucket >= week.start, r.c.bucket < week.end, r.c.posts > 0)
         .group_by(r.c.topic))
    with store.engine.connect() as conn:
        return {t for (t,) in conn.execute(q)}


def missing(store: Store, tid: str, week: Week) -> bool:
    """True when the topic's ranking of ``week`` (all platforms, all interactions) is not stored."""
    from influence import results
    from influence.graph import ALL_PLATFORMS

    return results.find_run(store, tid, ALL_PLATFORMS, week.start, week.end, False) is None


def compute_week(store: Store, config: Config, week: Week, *, topics: list[str] | None = None) -> dict[str, Any]:
    """Compute and store the week's ranking (and the week before's, when not stored) of every topic
    with posts in the week; a stored one is left as it is. Returns what was done per topic."""
    from influence.lookup import compute_run

    wanted = [t for t in (topics or list(config.topics)) if t in config.topics]
    done: dict[str, Any] = {t: "already stored" for t in wanted if not missing(store, t, week)}
    todo = [t for t in wanted if t not in done]
    with_posts = _topics_with_posts(store, week, todo) if todo else set()
    for tid in todo:
        if tid not in with_posts:
            done[tid] = "no posts"
            continue
        t = time.perf_counter()
        rid, a = compute_run(store, tid, week.start, week.end, stakeholders=config.topics[tid].stakeholders,
                             communities=False)
        done[tid] = {"run_id": rid, "accounts": a.graph.n, "seconds": round(time.perf_counter() - t, 3)}
        log.info("briefing rankings of %s for %s computed in %.1f s", tid, week.label, done[tid]["seconds"])
    return done


def due_week(tz: str, now: datetime) -> Week:
    """The week whose rankings are due at ``now``: the last complete one, once :data:`RANKINGS_AFTER` has passed
    since it ended (before that, the one before it)."""
    last = Week.containing(now, tz).previous()
    return last if now >= last.end + RANKINGS_AFTER else last.previous()


def rankings_for(store: Store, config: Config, g: Any, limit: int) -> tuple[dict[str, Any], list[str]]:
    """The week's ranking per topic of a gathering, read from the store (``None`` for a topic without
    posts), and the topics whose ranking was not stored and was computed now (see :func:`compute_week`)."""
    from influence import influencers

    cold = [tid for tid, tw in g.topics.items() if tw.posts and missing(store, tid, g.week)]
    if cold:
        log.warning("briefing %s: no stored rankings for %s: computing them now (the scheduled step computes "
                    "them after the week ends)", g.week.label, ", ".join(cold))
        compute_week(store, config, g.week, topics=cold)
    out: dict[str, Any] = {}
    for tid, tw in g.topics.items():
        if not tw.posts:
            out[tid] = None
            continue
        out[tid] = influencers(store, tid, since=g.week.start, until=g.week.end, limit=max(limit, 50),
                               stakeholders=config.topics[tid].stakeholders, label=tw.label)
    return out, cold

