"""Rankings computed off the request path: one computation per topic, platform, window and variant.

A reader who asks for a window no stored run answers (the dashboard's influencer lookup with dates
nobody precomputed) does not wait for it (tens of seconds at millions of posts). :func:`request`
*claims* the window with a row in ``influence_jobs`` -- an insert that only one process wins (the
table's unique key), as the briefing's send claims its row -- and the winner starts the computation:
in embedded mode in a thread of its own process, with Celery as the task ``earshot.influence_window``
(:data:`TASK_NAME`, a thin wrapper over :func:`run`). Every other reader, in this process or another,
finds the claim and is told the ranking is being computed (a :class:`Pending`). Once the run is
stored the row is deleted (the stored run answers from then on); a computation that failed keeps
its row with the error, shown to readers, and is tried again by a request :data:`RETRY_FAILED_AFTER`
later. A claim older than :data:`CLAIM_EXPIRES` (its process died) is taken over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from influence import results
from influence.lookup import compute_run
from monitor import models as m
from monitor.store import Store

log = logging.getLogger(__name__)

TASK_NAME = "earshot.influence_window"
#: A running claim older than this is taken to have died with its process and may be taken over.
CLAIM_EXPIRES = timedelta(minutes=20)
#: A failed computation is tried again by a request at least this long after it failed.
RETRY_FAILED_AFTER = timedelta(minutes=5)
#: What a reader is told to wait before asking again (HTTP ``Retry-After``), in seconds.
RETRY_AFTER_SECONDS = 5


@dataclass
class Pending:
    """A window being computed (or whose computation failed)."""

    topic: str
    platform: str
    since: datetime
    until: datetime
    exclude_flagged: bool
    state: str  # running | failed
    claimed_at: datetime
    claimed_by: str
    error: str | None = None
    finished_at: datetime | None = None
    started: bool = False  # this request claimed it and started the computation
    retry_after: int = RETRY_AFTER_SECONDS

    def to_dict(self) -> dict[str, Any]:
        return {"status": "computing" if self.state == "running" else "failed", "topic": self.topic,
                "platform": self.platform, "since": self.since.isoformat(), "until": self.until.isoformat(),
                "exclude_flagged": self.exclude_flagged, "claimed_at": self.claimed_at.isoformat(),
                "error": self.error, "retry_after": self.retry_after}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _key(topic: str, platform: str, since: datetime, until: datetime, exclude_flagged: bool):
    j = m.influence_jobs.c
    return [j.topic == topic, j.platform == platform, j.window_start == since, j.window_end == until,
            j.exclude_flagged == bool(exclude_flagged)]


def find(store: Store, topic: str, platform: str, since: datetime, until: datetime,
         exclude_flagged: bool) -> Pending | None:
    """The claim on this window, if there is one."""
    j = m.influence_jobs.c
    with store.engine.connect() as conn:
        row = conn.execute(select(j.state, j.claimed_at, j.claimed_by, j.error, j.finished_at)
                           .where(*_key(topic, platform, since, until, exclude_flagged))).first()
    if row is None:
        return None
    return Pending(topic, platform, since, until, bool(exclude_flagged), row.state, row.claimed_at, row.claimed_by,
                   row.error, row.finished_at)


def claim(store: Store, topic: str, platform: str, since: datetime, until: datetime, exclude_flagged: bool, *,
          by: str, now: datetime | None = None) -> bool:
    """Claim the computation of this window; True for the one caller (of any process) that gets it
    (:func:`claim_row`)."""
    return claim_row(store, m.influence_jobs, dict(topic=topic, platform=platform, window_start=since,
                                                   window_end=until, exclude_flagged=bool(exclude_flagged)),
                     by=by, now=now)


def claim_row(store: Store, table, key: dict[str, Any], *, by: str, now: datetime | None = None) -> bool:
    """Claim the row ``key`` (column -> value) of a claim table (with ``state``, ``claimed_at``,
    ``claimed_by``, ``finished_at``, ``error``); True for the one caller (of any process) that gets it.

    A new claim is an insert (the unique key lets one through); a failed claim older than
    :data:`RETRY_FAILED_AFTER` or a running one older than :data:`CLAIM_EXPIRES` is taken over by a
    conditional update (one caller's update matches).
    """
    now = now or _utcnow()
    try:
        with store.engine.begin() as conn:
            conn.execute(insert(table).values(**key, state="running", claimed_at=now, claimed_by=by))
        return True
    except IntegrityError:
        pass
    return take_over(store, table, [table.c[k] == v for k, v in key.items()], by=by, now=now)


def take_over(store: Store, table, key: list, *, by: str, now: datetime) -> bool:
    """Take over the claim row ``key`` of ``table`` when it failed :data:`RETRY_FAILED_AFTER` ago or its
    running claim is older than :data:`CLAIM_EXPIRES`: a conditional update, which one caller's matches."""
    c = table.c
    with store.engine.begin() as conn:
        taken = conn.execute(update(table).where(
            *key,
            ((c.state == "failed") & (c.finished_at <= now - RETRY_FAILED_AFTER))
            | ((c.state == "running") & (c.claimed_at <= now - CLAIM_EXPIRES)),
        ).values(state="running", claimed_at=now, claimed_by=by, error=None, finished_at=None)).rowcount
    return taken == 1


def fail_row(store: Store, table, key: list, error: str) -> None:
    """Record on the claim row ``key`` of ``table`` that its work failed, with ``error`` (kept to 2,000
    characters): readers are shown it, and a request :data:`RETRY_FAILED_AFTER` later claims it again."""
    with store.engine.begin() as conn:
        conn.execute(update(table).where(*key).values(state="failed", error=error[:2000], finished_at=_utcnow()))


def run(store: Store, topic: str, since: datetime, until: datetime, *, platform: str = "all",
        exclude_flagged: bool = False, stakeholders: Iterable[str] = (), by: str | None = None) -> int:
    """Compute and store the window (unless a run is stored already), then drop its claim; a failure
    is recorded on the claim (with its error) and raised. Returns the stored run's id."""
    by = by or worker_name()
    try:
        rid = results.find_run(store, topic, platform, since, until, exclude_flagged)
        if rid is None:
            sh = frozenset(h.lower().lstrip("@") for h in stakeholders)
            rid, _ = compute_run(store, topic, since, until, platform=platform, exclude_flagged=exclude_flagged,
                                 stakeholders=sh)
    except Exception as exc:
        fail_row(store, m.influence_jobs, _key(topic, platform, since, until, exclude_flagged),
                 f"{type(exc).__name__}: {exc}")
        raise
    with store.engine.begin() as conn:
        conn.execute(delete(m.influence_jobs).where(*_key(topic, platform, since, until, exclude_flagged)))
    return rid


Dispatch = Callable[..., None]


def in_thread(work: Callable[..., Any], name: Callable[[dict], str], done: Callable[[dict, Any], str]) -> Dispatch:
    """Embedded mode: each claimed job is ``work(**job)`` in a thread of this process (named
    ``name(job)``), logged with ``done(job, its result)`` or with its failure."""

    def dispatch(**job: Any) -> None:
        def run_it() -> None:
            try:
                log.info("%s", done(job, work(**job)))
            except Exception:
                log.exception("%s failed", name(job))

        threading.Thread(target=run_it, name=name(job), daemon=True).start()

    return dispatch


_celery: dict[str, Any] = {}


def by_celery(broker_url: str, task: str, kwargs: Callable[[dict], dict]) -> Dispatch:
    """With a broker: each claimed job is sent to the workers as the task ``task`` on the ``process``
    queue, with ``kwargs(job)`` (what JSON carries)."""

    def dispatch(**job: Any) -> None:
        from celery import Celery

        app = _celery.get(broker_url)
        if app is None:
            app = _celery[broker_url] = Celery("earshot-dashboard", broker=broker_url)
        app.send_task(task, kwargs=kwargs(job), queue="process")

    return dispatch


def dispatcher(store: Store, settings: Any) -> Dispatch:
    """The way claimed windows are computed: a thread in embedded mode, a Celery task with a broker."""
    if settings is None or settings.embedded:
        return in_thread(lambda **job: run(store, **job), name=lambda job: f"influence-{job['topic']}",
                         done=lambda job, rid: f"influence ranking of {job['topic']}, {job['since']} to "
                                               f"{job['until']}, stored as run {rid}")
    return by_celery(settings.broker_url, TASK_NAME, lambda job: {
        "topic": job["topic"], "since": job["since"].isoformat(), "until": job["until"].isoformat(),
        "platform": job["platform"], "exclude_flagged": job["exclude_flagged"], "by": job["by"]})


def request(store: Store, topic: str, since: datetime, until: datetime, *, platform: str = "all",
            exclude_flagged: bool = False, stakeholders: Iterable[str] = (), dispatch: Dispatch,
            now: datetime | None = None) -> Pending:
    """A reader wants this window and no stored run answers: claim it and start its computation
    (unless another has), and say where it stands."""
    by = worker_name()
    started = claim(store, topic, platform, since, until, exclude_flagged, by=by, now=now)
    if started:
        try:
            dispatch(topic=topic, since=since, until=until, platform=platform, exclude_flagged=exclude_flagged,
                     stakeholders=tuple(stakeholders), by=by)
        except Exception as exc:  # the broker away: the claim says so, and is tried again later
            fail_row(store, m.influence_jobs, _key(topic, platform, since, until, exclude_flagged),
                     f"could not start the computation: {exc}")
    p = find(store, topic, platform, since, until, exclude_flagged)
    if p is None:  # it finished in between
        p = Pending(topic, platform, since, until, bool(exclude_flagged), "running", now or _utcnow(), by)
    p.started = started
    return p


def celery_tasks(app: Any) -> None:
    """``earshot.tasks`` hook: the task computing one claimed window (a thin wrapper over :func:`run`)."""

    @app.task(name=TASK_NAME, acks_late=True, ignore_result=True, soft_time_limit=15 * 60, time_limit=18 * 60)
    def influence_window(topic: str, since: str, until: str, platform: str = "all", exclude_flagged: bool = False,
                         by: str | None = None) -> None:
        """Compute and store one influence window a reader asked for (see :func:`run`)."""
        from monitor.app import context

        ctx = context()
        t = ctx.config.topics.get(topic)
        run(ctx.store, topic, datetime.fromisoformat(since), datetime.fromisoformat(until), platform=platform,
            exclude_flagged=exclude_flagged, stakeholders=t.stakeholders if t else (), by=by)
