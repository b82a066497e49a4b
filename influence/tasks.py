"""The scheduled recompute: every topic's default 30-day ranking, stored, so lookups read it.

The Celery task ``earshot.influence_recompute``, defined on the worker's app by
:func:`celery_tasks` (entry point ``earshot.tasks``), is a thin wrapper over
:func:`recompute`; :func:`beat_entries` puts it on the beat schedule (entry
point ``earshot.schedule``). Each run computes, per topic, the
window ``[end - 30 days, end)`` with ``end`` the start of the current hour, in
both variants (all interactions, and without those of flagged accounts),
reading the interactions, detecting flags, counting posts per account and
reading the community labels' features once for both (and the previous
window's interactions, flags and posts once for both); the second variant's
community search starts from the first's camps, and when nobody is flagged
the second variant is the first's analysis stored again (the same network). A window already
stored is not computed again, so a retried or duplicated task does no harm.
Old runs are pruned (:data:`influence.results.KEEP_RUNS` per topic and variant).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from influence import bots, results
from influence.analysis import features_per_account, topic_posts_per_account
from influence.graph import ALL_PLATFORMS, read_edges
from influence.lookup import DEFAULT_WINDOW, compute_run
from monitor.config import ALERT_DEFAULTS
from monitor.store import Store

log = logging.getLogger(__name__)

TASK_NAME = "earshot.influence_recompute"
#: Seconds between scheduled recomputes.
RECOMPUTE_EVERY = 3600.0


def beat_entries(settings: Any, config: Any) -> dict[str, dict[str, Any]]:
    """The Celery beat entry of the periodic recompute (``earshot.schedule`` entry point)."""
    return {
        "influence recompute": {
            "task": TASK_NAME,
            "schedule": RECOMPUTE_EVERY,
            "options": {"queue": "process", "expires": RECOMPUTE_EVERY},
        }
    }


def window_end(now: datetime | None = None, every: float = RECOMPUTE_EVERY) -> datetime:
    """The end of the scheduled window: ``now`` rounded down to the schedule's step (the hour)."""
    now = now or datetime.now(timezone.utc)
    ts = int(now.timestamp())
    return datetime.fromtimestamp(ts - ts % int(every), tz=timezone.utc)


def recompute(store: Store, config: Any, *, topics: Iterable[str] | None = None, now: datetime | None = None,
              platform: str | None = None, window: timedelta = DEFAULT_WINDOW,
              until: datetime | None = None) -> dict[str, Any]:
    """Compute and store the scheduled rankings; returns a summary per topic.

    Parameters
    ----------
    store : Store
    config : monitor.config.Config
        For the topics and their stakeholders.
    topics : iterable of str, optional
        Only these topics (default: every configured topic).
    now : datetime, optional
        The clock (tests).
    platform : str, optional
        One platform, or all (default).
    window : timedelta
        Window length (default 30 days).
    until : datetime, optional
        End of the window (default: :func:`window_end` of ``now``), e.g. the end of imported past data.
    """
    until = until or window_end(now)
    since = until - window
    plat = platform or ALL_PLATFORMS
    wanted = list(topics) if topics is not None else list(config.topics)
    unknown = [t for t in wanted if t not in config.topics]
    if unknown:
        raise ValueError(f"unknown topic(s) {', '.join(unknown)}; configured: {', '.join(config.topics)}")
    summary: dict[str, Any] = {"since": since.isoformat(), "until": until.isoformat(), "topics": {}}
    for tid in wanted:
        topic = config.topics[tid]
        t0 = time.perf_counter()
        done: dict[str, Any] = {}
        edges = flags = features = posts = start = first = None
        previous: dict[str, Any] = {}  # the previous window's inputs, shared by the two variants
        for exclude in (False, True):
            if results.find_run(store, tid, plat, since, until, exclude) is not None:
                done["excluding_flagged" if exclude else "all"] = "already stored"
                continue
            if edges is None:
                edges = read_edges(store.engine, tid, since, until, plat)
                flags = bots.detect(store, tid, since, until, plat)
                features = features_per_account(store, tid, since, until, plat)
                # the flags count each author's posts on the topic as they read them (when they do): no second read
                posts = getattr(flags, "posts_per_account", None)
                if posts is None:
                    posts = topic_posts_per_account(store, tid, since, until, plat)
            rid, a = compute_run(store, tid, since, until, platform=plat, exclude_flagged=exclude,
                                 stakeholders=topic.stakeholders, edges=edges, flags=flags, features=features,
                                 posts=posts, start_communities=start, shared_previous=previous, reuse=first)
            first = a
            # the other variant's search starts from these camps (arrays: no dict of every account)
            start = None if a.membership is None else (a.graph.account_ids, a.membership)
            results.prune(store, tid, plat, exclude)
            done["excluding_flagged" if exclude else "all"] = {"run_id": rid, "accounts": a.graph.n,
                                                                "interactions": a.interactions_read}
        if isinstance(done.get("all"), dict):  # a new run: the topic's alerts learn what it flagged
            from monitor.alerts.engine import relabel_coordination

            done["alerts_relabelled"] = relabel_coordination(store, tid, since, until,
                                                             alert_settings={**ALERT_DEFAULTS, **topic.alerts})
        done["seconds"] = round(time.perf_counter() - t0, 3)
        summary["topics"][tid] = done
        log.info("influence rankings of %s, %s to %s, computed in %.1f s", tid, f"{since:%Y-%m-%d %H:%M}",
                 f"{until:%Y-%m-%d %H:%M}", done["seconds"])
    return summary


def celery_tasks(app: Any) -> None:
    """``earshot.tasks`` hook: the Celery task of the recompute, a thin wrapper over :func:`recompute`."""

    @app.task(name=TASK_NAME, acks_late=True, ignore_result=True, soft_time_limit=50 * 60, time_limit=55 * 60)
    def influence_recompute(topics: list[str] | None = None) -> dict:
        """Recompute and store every topic's 30-day influence ranking (see :func:`recompute`)."""
        from monitor.app import context

        ctx = context()
        return recompute(ctx.store, ctx.config, topics=topics)

    from influence import export_jobs, jobs

    jobs.celery_tasks(app)  # the windows readers ask for, computed off their request
    export_jobs.celery_tasks(app)  # the export files readers ask for, built off their request


def after_import(ctx, summaries, *, now: datetime | None = None) -> list[str]:
    """``earshot.after_import`` hook: recompute the rankings of the topics an import added posts to.

    The default window (the last 30 days, what a lookup without dates reads) is recomputed when
    the import holds posts in it; when it holds older posts (real data from the past), the
    rankings over the imported span (whole days: :func:`monitor.replay.import_window`) are computed
    and stored too, and the lines say how to look them up.
    """
    from monitor.replay import import_window

    topics = sorted({t for s in summaries for t, n in (s.topic_posts or {}).items() if n and t in ctx.config.topics})
    if not topics:
        return []
    span = import_window(summaries)
    default_end = window_end(now)
    default_start = default_end - DEFAULT_WINDOW
    lines = []
    if span is None or span[1] >= default_start:
        done = recompute(ctx.store, ctx.config, topics=topics, now=now)
        lines.append(f"influence rankings recomputed for {len(done['topics'])} topics "
                     f"({done['since'][:10]} to {done['until'][:10]}, the default window)")
    if span is not None and span[0] < default_start:
        start, end = span
        recompute(ctx.store, ctx.config, topics=topics, until=end, window=end - start)
        lines.append(f"influence rankings computed for {len(topics)} topics over the imported span, "
                     f"{start:%Y-%m-%d} to {end:%Y-%m-%d}: see them with "
                     f"`earshot influencers {topics[0]} --since {start:%Y-%m-%d} --until {end:%Y-%m-%d}`")
    return lines
