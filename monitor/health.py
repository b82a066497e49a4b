"""Collection health: each source's last run, volume, errors, waits and cursor; counts; gaps.

Gaps are recorded as they happen (a failing source, a rate-limit wait, a
stream disconnect), so every figure built later can say what it did not see.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from monitor import models as m
from monitor.config import Config
from monitor.store import Store


def source_state(row: dict[str, Any] | None, interval: int | None, disabled: str | None, now: datetime) -> str:
    """``ok``, ``failing``, ``stale`` (not run for 3 intervals), ``disabled`` or ``never``."""
    if disabled:
        return "disabled"
    if row is None or row.get("last_run_at") is None:
        return "never"
    err, ok = row.get("last_error_at"), row.get("last_ok_at")
    if err and (ok is None or err >= ok):
        return "failing"
    if interval and row["last_run_at"] < now - timedelta(seconds=3 * interval):
        return "stale"
    return "ok"


def gaps_between(store: Store, since: datetime, until: datetime | None = None,
                 source: str | None = None) -> list[dict[str, Any]]:
    """Gaps overlapping [since, until): what collection did not see."""
    g = m.gaps
    q = select(g).where((g.c.end.is_(None)) | (g.c.end >= since)).order_by(g.c.start)
    if until is not None:
        q = q.where(g.c.start < until)
    if source:
        q = q.where(g.c.source == source)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def data_now(store: Store, now: datetime | None = None) -> datetime:
    """The clock, or the end of the newest stored bucket when the data is older (replayed history)."""
    wall = now or datetime.now(timezone.utc)
    with store.engine.connect() as conn:
        newest = conn.execute(select(func.max(m.rollups.c.bucket))).scalar()
    if newest is None:
        return wall
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=timezone.utc)
    return min(wall, newest + timedelta(seconds=m.BUCKET_SECONDS))


def whole_days(first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """``[first's midnight, the midnight after last)`` in UTC: a span of data as dates a user types.

    >>> whole_days(datetime(2021, 3, 1, 9, tzinfo=timezone.utc), datetime(2021, 3, 3, 11, tzinfo=timezone.utc))[1]
    datetime.datetime(2021, 3, 4, 0, 0, tzinfo=datetime.timezone.utc)
    """
    first, last = (t.astimezone(timezone.utc) if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (first, last))
    start = datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
    return start, datetime(last.year, last.month, last.day, tzinfo=timezone.utc) + timedelta(days=1)


def topic_span(store: Store, topic: str) -> tuple[datetime, datetime] | None:
    """The whole days (:func:`whole_days`) the stored posts of ``topic`` fall in, or None when it has none."""
    pt = m.post_topics
    with store.engine.connect() as conn:
        first, last = conn.execute(select(func.min(pt.c.created_at), func.max(pt.c.created_at))
                                   .where(pt.c.topic == topic)).one()
    return whole_days(first, last) if first is not None else None


#: Data newer than this before the clock counts as "now" (collection runs every few minutes).
LIVE_LAG = timedelta(hours=1)
#: A configured source that ran this recently makes the store "live": the status window ends now.
LIVE_COLLECTION = timedelta(days=1)


def status_window(store: Store, *, days: int = 7, since: datetime | None = None, until: datetime | None = None,
                  now: datetime | None = None, collecting: bool = False) -> dict[str, Any]:
    """The one window every figure of the status screen covers: ``since``, ``until`` and how it was chosen.

    ``until`` defaults to now while Earshot is collecting (``collecting``: a configured source ran
    within :data:`LIVE_COLLECTION`) or the newest data is within :data:`LIVE_LAG` of now; else to
    the end of the newest data (after an import of past data its figures are shown, not an empty
    week). ``since`` defaults to ``days`` before ``until``. ``basis`` is ``given``, ``now`` or
    ``newest data``.
    """
    wall = now or datetime.now(timezone.utc)
    if until is not None:
        basis = "given"
    else:
        newest = data_now(store, wall)
        live = collecting or newest >= wall - LIVE_LAG
        until, basis = (wall, "now") if live else (newest, "newest data")
        if since is not None:
            basis = "given"
    since = since if since is not None else until - timedelta(days=days)
    if since >= until:
        raise ValueError(f"the window is empty: since {since:%Y-%m-%d %H:%M} is not before until {until:%Y-%m-%d %H:%M}")
    return {"since": since, "until": until, "basis": basis}


def collection_status(store: Store, specs: dict, config: Config, *, days: int = 7, since: datetime | None = None,
                      until: datetime | None = None, now: datetime | None = None,
                      resend_after: float = 300.0) -> dict[str, Any]:
    """Everything the status screen shows, as data (``earshot status --json`` prints it as is).

    ``resend_after``: seconds after which a kept batch waits too long (``batches``).

    ``window`` (see :func:`status_window`) is the one window of the topic counts and the gaps.
    ``topics`` holds every configured topic (and, without a configuration, every topic in the
    store), each with its ``label``.
    """
    from monitor import durable

    now = now or datetime.now(timezone.utc)
    with store.engine.connect() as conn:
        rows = {r["source"]: dict(r) for r in conn.execute(select(m.source_state)).mappings()}
    collecting = any(rows[n]["last_run_at"] is not None and rows[n]["last_run_at"] >= now - LIVE_COLLECTION
                     for n in specs if n in rows)
    window = status_window(store, days=days, since=since, until=until, now=now, collecting=collecting)
    since, until = window["since"], window["until"]
    sources = []
    for name in sorted(set(rows) | set(specs)):
        row = rows.get(name)
        spec = specs.get(name)
        sources.append({
            "name": name,
            "state": source_state(row, spec.interval if spec else None, spec.disabled if spec else None, now),
            "disabled": spec.disabled if spec else None,
            "interval": spec.interval if spec else None,
            "last_run_at": row["last_run_at"] if row else None,
            "last_ok_at": row["last_ok_at"] if row else None,
            "last_error": row["last_error"] if row else None,
            "items": row["items"] if row else 0,
            "new_items": row["new_items"] if row else 0,
            "errors": row["errors"] if row else 0,
            "rate_limit_waits": row["rate_limit_waits"] if row else 0,
            "rate_limit_seconds": row["rate_limit_seconds"] if row else 0.0,
            "cursor": row["cursor"] if row else None,
        })
    counts = store.topic_counts(since=since, until=until)
    empty = {"posts": 0, "sentiment": 0.0, "negative_share": 0.0, "authors": 0}
    labels = {tid: t.label for tid, t in config.topics.items()} or {tid: tid for tid in sorted(counts)}
    topics = {tid: {"label": label, **empty, **counts.get(tid, {})} for tid, label in labels.items()}
    return {"now": now, "window": window, "sources": sources, "topics": topics,
            "gaps": gaps_between(store, since, until), "totals": store.counts(),
            "batches": durable.health(store, resend_after=resend_after, at=now)}


def status_report(ctx: Any, *, days: int = 7, since: datetime | None = None, until: datetime | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """:func:`collection_status` plus where the store is and how it runs: the data of ``earshot status``.

    ``ctx`` is a :class:`monitor.app.Context`. Added keys: ``store`` (URL without password, data
    folder and whether it was set or is the default, whether the store holds any post),
    ``config`` (path, and the problem when it did not load) and ``mode``.
    """
    from monitor.collect import source_specs
    from monitor.settings import data_dir_origin

    st = collection_status(ctx.store, source_specs(ctx.config, ctx.settings), ctx.config, days=days, since=since,
                           until=until, now=now, resend_after=ctx.settings.resend_after)
    st["store"] = {"url": ctx.store.safe_url, "data_dir": str(ctx.settings.data_dir),
                   "data_dir_origin": data_dir_origin(), "empty": st["totals"]["posts"] == 0}
    st["config"] = {"path": str(ctx.config.path),
                    "problem": str(ctx.config_problem) if getattr(ctx, "config_problem", None) else None}
    st["mode"] = "embedded" if ctx.settings.embedded else "celery"
    return st
