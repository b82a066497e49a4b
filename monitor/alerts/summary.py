"""Lines about alerts for ``earshot demo`` and ``earshot status`` (the ``earshot.summary`` extension point)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from monitor import models as m
from monitor.alerts.records import list_alerts
from monitor.store import Store

_ORDER = {"critical": 0, "warning": 1, "info": 2}


def data_now(store: Store) -> datetime:
    """The clock, or the end of the newest stored bucket when the data is older (replayed history)."""
    wall = datetime.now(timezone.utc)
    with store.engine.connect() as conn:
        newest = conn.execute(select(func.max(m.rollups.c.bucket))).scalar()
    if newest is None:
        return wall
    return min(wall, newest + timedelta(seconds=m.BUCKET_SECONDS))


def _line(a: dict[str, Any]) -> str:
    when = a["opened_at"].strftime("%a %d %b %H:%M")
    status = a["state"] + (", ongoing" if a.get("closed_at") is None else "")
    title = a["title"] if len(a["title"]) <= 90 else a["title"][:89] + "…"
    return f"  #{a['id']:<5} {a['severity'].upper():<8} {a['kind']:<11} {when}  {title}  [{status}]"


def summary_lines(ctx: Any) -> list[str]:
    """Open alerts, then the week's alerts (the week to the newest data), most severe first."""
    store = ctx.store
    open_rows = list_alerts(store, state="unresolved", limit=50)
    end = data_now(store)
    start = end - timedelta(days=7)
    week = list_alerts(store, since=start, until=end + timedelta(minutes=1), limit=1000)
    lines = ["", f"alerts open or acknowledged: {len(open_rows)}"]
    for a in sorted(open_rows, key=lambda a: (_ORDER.get(a["severity"], 3), a["opened_at"]))[:10]:
        lines.append(_line(a))
    by_sev: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for a in week:
        by_sev[a["severity"]] = by_sev.get(a["severity"], 0) + 1
        by_kind[a["kind"]] = by_kind.get(a["kind"], 0) + 1
    sev = ", ".join(f"{by_sev[s]} {s}" for s in ("critical", "warning", "info") if s in by_sev)
    lines.append(f"alerts in the 7 days to {end:%a %d %b %Y %H:%M} UTC: {len(week)}" + (f" ({sev})" if sev else ""))
    if by_kind:
        lines.append("  by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
    for a in sorted(week, key=lambda a: (_ORDER.get(a["severity"], 3), a["opened_at"]))[:10]:
        lines.append(_line(a))
    if len(week) > 10:
        lines.append(f"  ... and {len(week) - 10} more: earshot alerts list --since {start:%Y-%m-%d}")
    return lines
