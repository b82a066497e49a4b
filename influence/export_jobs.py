"""Export files built off the request path: one build per stored run and format, kept until the run goes.

An export (GEXF, GraphML, CSV for Gephi: :mod:`influence.export`) writes every account of a run's
network, while a stored run keeps only its top :data:`influence.results.KEEP_ACCOUNTS` accounts, so the
file needs the analysis again (tens of seconds at millions of posts). A reader does not wait for it:
:func:`request` *claims* the run's file with a row in ``influence_exports`` (an insert only one process
wins, as :mod:`influence.jobs` claims a window) and the winner builds it (:func:`build`): in embedded
mode in a thread of its own process, with Celery as the task ``earshot.influence_export``
(:data:`TASK_NAME`). Every reader meanwhile is told it is being prepared (a :class:`Preparing`). The
built file (gzip) stays in the row, read by every later export of that run, until the run is replaced
or pruned (:func:`influence.results.prune`). A build that failed keeps its error, and is tried again
by a request :data:`influence.jobs.RETRY_FAILED_AFTER` later; a claim older than
:data:`influence.jobs.CLAIM_EXPIRES` (its process died) is taken over.
"""

from __future__ import annotations

import gzip
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import select, update

from influence.jobs import (RETRY_AFTER_SECONDS, _utcnow, by_celery, claim_row, fail_row, in_thread,
                            worker_name)
from monitor import models as m
from monitor.store import Store

log = logging.getLogger(__name__)

TASK_NAME = "earshot.influence_export"
#: The formats built (the HTML figure is drawn by the page, not exported through here).
FORMATS = ("gexf", "graphml", "csv")


@dataclass
class Preparing:
    """A run's export file being built (or whose build failed)."""

    run_id: int
    format: str
    state: str  # running | failed | done
    claimed_at: datetime
    claimed_by: str
    error: str | None = None
    finished_at: datetime | None = None
    started: bool = False  # this request claimed it and started the build
    retry_after: int = RETRY_AFTER_SECONDS

    def to_dict(self) -> dict[str, Any]:
        status = {"running": "preparing", "done": "ready"}.get(self.state, self.state)
        return {"status": status, "run_id": self.run_id,
                "format": self.format, "claimed_at": self.claimed_at.isoformat(), "error": self.error,
                "retry_after": self.retry_after}


def _key(run_id: int, fmt: str):
    e = m.influence_exports.c
    return [e.run_id == run_id, e.format == fmt]


def find(store: Store, run_id: int, fmt: str) -> Preparing | None:
    """Where the file stands: None when nobody asked for it, a :class:`Preparing` while it is built or
    when its build failed, and one with ``state="done"`` when it is ready (read it with :func:`read`)."""
    e = m.influence_exports.c
    with store.engine.connect() as conn:
        row = conn.execute(select(e.state, e.claimed_at, e.claimed_by, e.error, e.finished_at)
                           .where(*_key(run_id, fmt))).first()
    if row is None:
        return None
    return Preparing(run_id, fmt, row.state, row.claimed_at, row.claimed_by, row.error, row.finished_at)


def read(store: Store, run_id: int, fmt: str, part: str = "nodes", *, gzipped: bool = False) -> bytes | None:
    """The built file (for csv: ``part`` nodes or edges; ``gzipped``: as kept, gzip), or None when it
    is not built."""
    e = m.influence_exports.c
    col = e.edges if fmt == "csv" and part == "edges" else e.body
    with store.engine.connect() as conn:
        body = conn.execute(select(col).where(*_key(run_id, fmt), e.state == "done")).scalar()
    return body if body is None or gzipped else gzip.decompress(body)


def claim(store: Store, run_id: int, fmt: str, *, by: str, now: datetime | None = None) -> bool:
    """Claim the build of this run's file; True for the one caller (of any process) that gets it
    (:func:`influence.jobs.claim_row`)."""
    return claim_row(store, m.influence_exports, dict(run_id=run_id, format=fmt), by=by, now=now)


def _fail(store: Store, run_id: int, fmt: str, error: str) -> None:
    fail_row(store, m.influence_exports, _key(run_id, fmt), error)


def build(store: Store, run_id: int, fmt: str, *, stakeholders: Iterable[str] = (), by: str | None = None) -> None:
    """Analyse the run's window again (its topic, platform, window and variant), write ``fmt`` and keep
    the file (gzip) in the run's row; a failure is recorded on the row (with its error) and raised.
    Nothing is built twice: a file already built is left as it is."""
    from influence.analysis import analyse
    from influence.export import export

    done = find(store, run_id, fmt)
    if done is not None and done.state == "done":
        return
    try:
        r = m.influence_runs.c
        with store.engine.connect() as conn:
            run = conn.execute(select(r.topic, r.platform, r.window_start, r.window_end, r.exclude_flagged)
                               .where(r.id == run_id)).first()
        if run is None:
            raise LookupError(f"influence run {run_id} is no longer stored")
        sh = frozenset(h.lower().lstrip("@") for h in stakeholders)
        a = analyse(store, run.topic, run.window_start, run.window_end, platform=run.platform,
                    exclude_flagged=bool(run.exclude_flagged), stakeholders=sh)
        with tempfile.TemporaryDirectory() as tmp:
            files = export(a, Path(tmp) / f"influencers-{run.topic}.{fmt}", fmt, store=store)
            if fmt == "csv":
                nodes = next(f for f in files if f.stem.endswith("-nodes"))
                edges = next(f for f in files if f.stem.endswith("-edges"))
                body, edge_body = gzip.compress(nodes.read_bytes(), 6), gzip.compress(edges.read_bytes(), 6)
            else:
                body, edge_body = gzip.compress(files[0].read_bytes(), 6), None
    except Exception as exc:
        _fail(store, run_id, fmt, f"{type(exc).__name__}: {exc}")
        raise
    with store.engine.begin() as conn:
        conn.execute(update(m.influence_exports).where(*_key(run_id, fmt))
                     .values(state="done", body=body, edges=edge_body, finished_at=_utcnow(), error=None))


def dispatcher(store: Store, settings: Any) -> Callable[..., None]:
    """The way claimed files are built: a thread in embedded mode, a Celery task with a broker."""
    if settings is None or settings.embedded:
        return in_thread(lambda **job: build(store, **job),
                         name=lambda job: f"influence-export-{job['run_id']}-{job['fmt']}",
                         done=lambda job, _: f"influence export {job['fmt']} of run {job['run_id']} built")
    return by_celery(settings.broker_url, TASK_NAME,
                     lambda job: {"run_id": job["run_id"], "fmt": job["fmt"], "by": job["by"]})


def request(store: Store, run_id: int, fmt: str, *, stakeholders: Iterable[str] = (), dispatch: Callable[..., None],
            now: datetime | None = None) -> Preparing:
    """A reader wants this run's file and it is not built: claim it and start the build (unless another
    has), and say where it stands (``state="done"`` when it was built in between)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    by = worker_name()
    started = claim(store, run_id, fmt, by=by, now=now)
    if started:
        try:
            dispatch(run_id=run_id, fmt=fmt, stakeholders=tuple(stakeholders), by=by)
        except Exception as exc:  # the broker away: the row says so, and is tried again later
            _fail(store, run_id, fmt, f"could not start building the file: {exc}")
    p = find(store, run_id, fmt)
    if p is None:  # the run went in between
        p = Preparing(run_id, fmt, "running", now or _utcnow(), by)
    p.started = started
    return p


def celery_tasks(app: Any) -> None:
    """``earshot.tasks`` hook: the task building one claimed export file (a thin wrapper over :func:`build`)."""

    @app.task(name=TASK_NAME, acks_late=True, ignore_result=True, soft_time_limit=15 * 60, time_limit=18 * 60)
    def influence_export(run_id: int, fmt: str, by: str | None = None) -> None:
        """Build and keep one influence run's export file a reader asked for (see :func:`build`)."""
        from monitor.app import context

        ctx = context()
        r = m.influence_runs.c
        with ctx.store.engine.connect() as conn:
            topic = conn.execute(select(r.topic).where(r.id == run_id)).scalar()
        t = ctx.config.topics.get(topic) if topic else None
        build(ctx.store, run_id, fmt, stakeholders=t.stakeholders if t else (), by=by)


__all__ = ["TASK_NAME", "FORMATS", "Preparing", "find", "read", "claim", "build", "request", "dispatcher",
           "celery_tasks"]
