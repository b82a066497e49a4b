"""Collection health: each source's last run, volume, errors, waits and cursor; counts; gaps.

Gaps are recorded as they happen (a failing source, a rate-limit wait, a
stream disconnect), so every figure built later can say what it did not see.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

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


def collection_status(store: Store, specs: dict, config: Config, *, days: int = 7,
                      resend_after: float = 300.0) -> dict[str, Any]:
    """Everything ``earshot status`` shows; ``resend_after``: seconds after which a kept batch waits too long."""
    from monitor import durable

    now = datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    with store.engine.connect() as conn:
        rows = {r["source"]: dict(r) for r in conn.execute(select(m.source_state)).mappings()}
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
    counts = store.topic_counts(since=since)
    topics = {tid: counts.get(tid, {"posts": 0, "sentiment": 0.0, "negative_share": 0.0, "authors": 0})
              for tid in config.topics}
    return {"now": now, "sources": sources, "topics": topics, "gaps": gaps_between(store, since),
            "totals": store.counts(), "batches": durable.health(store, resend_after=resend_after, at=now)}
