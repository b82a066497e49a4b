"""The Celery application: broker and backend from settings, queues, beat schedule, routes.

Production::

    celery -A worker worker -Q collect,process -c 4     # as many as the volume needs
    celery -A worker beat                                # exactly one

Two queues: ``collect`` (I/O bound: talking to X and news feeds) and
``process`` (CPU bound: matching, sentiment, storing). Collection hands
batches of posts (``EARSHOT_BATCH_SIZE``, hundreds a task) to processing, never
one post a task. Tasks are thin wrappers over plain functions in ``monitor``;
with no broker configured (embedded mode) they run in-process
(``task_always_eager``).
"""

from __future__ import annotations

import logging

from celery import Celery
from sqlalchemy.exc import InterfaceError, OperationalError

from monitor.settings import load_settings

log = logging.getLogger("earshot.worker")

settings = load_settings()

app = Celery("earshot")
app.conf.update(
    broker_url=settings.broker_url or "memory://",
    result_backend=settings.result_backend or None,
    task_always_eager=settings.embedded,
    task_eager_propagates=True,
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_acks_late=True,  # a worker that dies mid-task leaves the message for another
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_time_limit=30 * 60,
    task_soft_time_limit=25 * 60,
    broker_connection_retry_on_startup=True,
    task_default_queue="process",
    task_routes={
        "earshot.collect_source": {"queue": "collect"},
        "earshot.collect_due": {"queue": "collect"},
        "earshot.process_batch": {"queue": "process"},
        "earshot.*": {"queue": "process"},
    },
    timezone="UTC",
)


def _ctx():
    from monitor.app import context

    return context()


# a database that is restarting, unreachable or locked is waited out: writes are idempotent
@app.task(name="earshot.process_batch", bind=True, acks_late=True, max_retries=8,
          autoretry_for=(OSError, OperationalError, InterfaceError), retry_backoff=True, retry_backoff_max=300,
          retry_jitter=True)
def process_batch_task(self, batch: dict) -> dict:
    """Store one batch (posts, accounts, cursor). Idempotent: a retry adds nothing twice."""
    from monitor.items import Batch
    from monitor.pipeline import process_batch

    ctx = _ctx()
    result = process_batch(Batch.from_dict(batch), ctx.store, ctx.matcher)
    return {"posts": result.posts_in, "new": result.posts_new, "topics": result.topic_posts}


@app.task(name="earshot.collect_source", bind=True, acks_late=True, max_retries=5,
          retry_backoff=True, retry_backoff_max=600, retry_jitter=True)
def collect_source_task(self, name: str) -> dict:
    """One collection pass of the named source; batches go to the process queue."""
    from monitor.collect import run_source, source_specs

    ctx = _ctx()
    specs = source_specs(ctx.config, ctx.settings)
    if name not in specs:
        log.error("no source named %r (known: %s)", name, ", ".join(sorted(specs)))
        return {"source": name, "failed": "unknown source"}

    def hand_on(batch):
        if app.conf.task_always_eager:
            from monitor.pipeline import process_batch

            return process_batch(batch, ctx.store, ctx.matcher)
        process_batch_task.delay(batch.to_dict())
        return None

    try:
        summary = run_source(specs[name], ctx.store, hand_on)
    except (OSError, ConnectionError) as exc:  # network trouble the source did not absorb: try again later
        raise self.retry(exc=exc)
    return {"source": name, "batches": summary.batches, "posts": summary.posts,
            "failed": summary.failed, "disabled": summary.disabled}


def beat_schedule() -> dict:
    """One entry per polled source, at the source's own interval (the stream runs as its own worker)."""
    from monitor.collect import source_specs
    from monitor.config import load_config

    from monitor import hooks

    config = load_config(settings.config_path)
    schedule = {}
    for name, spec in source_specs(config, settings).items():
        if spec.interval and not spec.disabled:
            schedule[f"collect {name}"] = {
                "task": "earshot.collect_source",
                "schedule": float(spec.interval),
                "args": (name,),
                "options": {"queue": "collect", "expires": float(spec.interval)},
            }
    for _name, fn in hooks.load("earshot.schedule"):
        schedule.update(fn(settings, config))
    return schedule


if not settings.embedded:
    try:
        app.conf.beat_schedule = beat_schedule()
    except Exception as exc:  # a broken config must be loud, but a worker can still drain its queues
        log.error("beat schedule not built: %s", exc)


# --- influence tasks ---
@app.task(name="earshot.influence_recompute", bind=True, acks_late=True, ignore_result=True,
          soft_time_limit=50 * 60, time_limit=55 * 60)
def influence_recompute_task(self, topics: list[str] | None = None) -> dict:
    """Recompute and store every topic's 30-day influence ranking (see influence.tasks.recompute)."""
    from influence.tasks import recompute

    ctx = _ctx()
    return recompute(ctx.store, ctx.config, topics=topics)


# --- alert tasks ---
# Thin wrappers over monitor.alerts (see monitor/alerts/schedule.py for the beat entries).
@app.task(name="earshot.alerts_detect", acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_detect_task() -> dict:
    """Detection up to the clock on every topic and source (the beat runs it every minute)."""
    from monitor.alerts.engine import detect

    ctx = _ctx()
    s = detect(ctx.store, ctx.config, ctx.settings)
    return {"topics": s.topics, "opened": s.opened, "closed": s.closed, "deliveries": len(s.deliveries)}


@app.task(name="earshot.alerts_sweep", acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def alerts_sweep_task() -> dict:
    """Send the alert deliveries that are due: retries, held ones past their quiet hours, abandoned leases."""
    from monitor.alerts.notify import sweep

    ctx = _ctx()
    return sweep(ctx.store, ctx.settings)


@app.task(name="earshot.alerts_deliver", acks_late=True, ignore_result=True)
def alerts_deliver_task(ids: list[int]) -> dict:
    """Send these new deliveries now (a failure is recorded and retried by the sweep, not by Celery)."""
    from monitor.alerts.notify import deliver

    ctx = _ctx()
    return deliver(ctx.store, ids, ctx.settings)


def _dispatch_alert_deliveries(store, ids, _settings) -> None:
    try:
        alerts_deliver_task.delay(list(ids))
    except Exception as exc:  # the broker is down: the rows wait in the database for the sweep
        log.warning("alert deliveries %s not queued (%s); the sweep will send them", list(ids), exc)


if not settings.embedded:
    from monitor.alerts import notify as _alert_notify

    _alert_notify.set_dispatcher(_dispatch_alert_deliveries)
