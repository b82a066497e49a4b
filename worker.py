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

Nothing crosses the broker that exists nowhere else (see :mod:`monitor.durable`): a
collected batch is kept in the store with its source's cursor first, and only its id is
queued; the batch sweeper on the beat sends again what waits unstored too long. So a
worker killed outright, a message lost with Redis or a database away for hours delays a
batch but never loses it.

A worker or beat whose configuration does not load, or whose extensions (the alerts'
after-batch hook, beat entries, the plugins' tasks) fail to load, refuses to start with a
message saying why: it never runs half-configured.
"""

from __future__ import annotations

import logging
import random

from celery import Celery

from monitor import hooks
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
    task_reject_on_worker_lost=True,  # a worker process killed mid-task: its message goes back at once
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_time_limit=30 * 60,
    task_soft_time_limit=25 * 60,
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,  # a broker away is waited for, however long
    # Redis hands a task its worker never acknowledged (the whole worker killed) to another
    # after this long. Longer than the task time limit, so a task still running is never run
    # twice at once; kept batches do not wait for it (the sweeper sends them again sooner).
    broker_transport_options={"visibility_timeout": settings.visibility_timeout},
    task_default_queue="process",
    task_routes={
        "earshot.collect_source": {"queue": "collect"},
        "earshot.collect_due": {"queue": "collect"},
        "earshot.batches_sweep": {"queue": "collect"},
        "earshot.process_batch": {"queue": "process"},
        "earshot.*": {"queue": "process"},
    },
    timezone="UTC",
)

SWEEP_TASK = "earshot.batches_sweep"


def _ctx():
    from monitor.app import context

    return context()


def _backoff(tries: int) -> float:
    """Full-jitter exponential backoff: a random wait up to 2**tries seconds, at most EARSHOT_DB_RETRY_MAX."""
    return random.uniform(0, min(settings.db_retry_max, 2.0 ** tries))


def send_batch(raw_id: int) -> None:
    """Queue the kept batch ``raw_id`` for storing (raises when the broker cannot be reached)."""
    process_batch_task.apply_async((raw_id,), queue="process", retry=True,
                                   retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})


@app.task(name="earshot.process_batch", bind=True, acks_late=True, max_retries=None)
def process_batch_task(self, batch: int | dict) -> dict:
    """Store one kept batch, given by its id (or a batch itself, kept first). A copy adds nothing twice.

    The database away (:func:`monitor.durable.transient`) is waited out with full-jitter backoff,
    ``EARSHOT_DB_RETRIES`` times; then the batch is left waiting in the store, and the sweeper
    sends it again. A batch given whole that could not even be kept is retried without end: the
    message is its only copy. What cannot be stored is quarantined, with the rest stored.
    """
    from monitor import durable
    from monitor.items import Batch

    raw_id = batch if isinstance(batch, int) else None
    ctx = None
    try:
        ctx = _ctx()
        if raw_id is None:
            raw_id = durable.keep(ctx.store, Batch.from_dict(batch))
            if raw_id is None:
                return {"batch": None, "state": "empty"}
        out = durable.process_kept(ctx.store, ctx.matcher, raw_id)
    except Exception as exc:
        if not durable.transient(exc):
            raise
        if raw_id is not None:
            if ctx is not None:
                durable.note_failure(ctx.store, raw_id, exc)
            if self.request.retries >= settings.db_retries:
                log.error("batch %s: the database is still away after %d tries (%s); the batch waits in the "
                          "store and the sweeper sends it again", raw_id, self.request.retries + 1, exc)
                return {"batch": raw_id, "state": "waiting"}
        log.warning("batch %s: %s; trying again", raw_id if raw_id is not None else "(not kept yet)", exc)
        raise self.retry(args=(raw_id if raw_id is not None else batch,), exc=exc, countdown=_backoff(self.request.retries))
    return {"batch": raw_id, "state": out.state, "posts": out.result.posts_in, "new": out.result.posts_new,
            "topics": out.result.topic_posts, "quarantined": out.quarantined_posts}


@app.task(name="earshot.collect_source", bind=True, acks_late=True, max_retries=5,
          retry_backoff=True, retry_backoff_max=600, retry_jitter=True)
def collect_source_task(self, name: str) -> dict:
    """One collection pass of the named source; each batch is kept with its cursor, then queued by id."""
    from monitor import durable
    from monitor.collect import run_source, source_specs

    ctx = _ctx()
    specs = source_specs(ctx.config, ctx.settings)
    if name not in specs:
        log.error("no source named %r (known: %s)", name, ", ".join(sorted(specs)))
        return {"source": name, "failed": "unknown source"}

    def hand_on(batch):
        if app.conf.task_always_eager:
            return durable.store_or_quarantine(batch, ctx.store, ctx.matcher).result
        durable.hand_to_workers(ctx.store, batch, send_batch)
        return None

    try:
        summary = run_source(specs[name], ctx.store, hand_on)
    except Exception as exc:  # network or database trouble the source did not absorb: the cursor did not move
        if not durable.transient(exc):
            raise
        raise self.retry(exc=exc)
    return {"source": name, "batches": summary.batches, "posts": summary.posts,
            "failed": summary.failed, "disabled": summary.disabled}


@app.task(name=SWEEP_TASK, acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def batches_sweep_task() -> dict:
    """Send again the kept batches waiting unstored past EARSHOT_RESEND_AFTER (see monitor.durable.sweep)."""
    from monitor import durable

    ctx = _ctx()
    return durable.sweep(ctx.store, send_batch, resend_after=ctx.settings.resend_after)


def beat_schedule(*, strict: bool = False) -> dict:
    """One entry per polled source at the source's own interval, the batch sweeper, and the plugins' entries.

    The stream runs as its own process. With ``strict``, an extension that fails to load raises.
    """
    from monitor.collect import source_specs
    from monitor.config import load_config

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
    if not settings.embedded:  # in-process, batches are stored as they come: nothing is kept to sweep
        schedule["batches sweep"] = {"task": SWEEP_TASK, "schedule": settings.sweep_interval,
                                     "options": {"queue": "collect", "expires": settings.sweep_interval}}
    for _name, fn in hooks.load("earshot.schedule", strict=strict):
        schedule.update(fn(settings, config))
    return schedule


def startup() -> None:
    """Load what a worker or the beat needs, strictly: the configuration, the beat schedule, every
    extension (tasks, after-batch hooks, beat entries). Raises ConfigError or PluginError saying why."""
    for _name, fn in hooks.load("earshot.tasks", strict=True):
        fn(app)
    app.conf.beat_schedule = beat_schedule(strict=True)
    hooks.register_after_batch(strict=True)


if settings.embedded:  # `earshot run` and tests: the plugins' tasks, leniently (the CLI reports failures)
    for _name, _fn in hooks.load("earshot.tasks"):
        _fn(app)
else:
    try:
        startup()
    except Exception as exc:  # a broken configuration or plugin: refuse to start rather than run half-configured
        raise SystemExit(f"earshot worker: cannot start: {exc}") from None


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
