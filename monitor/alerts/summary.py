"""Lines about alerts for ``earshot demo`` and ``earshot status`` (the ``earshot.summary`` extension point)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from monitor.alerts.records import list_alerts
from monitor.health import data_now

__all__ = ["data_now", "summary_lines"]

_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _line(a: dict[str, Any]) -> str:
    when = a["opened_at"].strftime("%a %d %b %H:%M")
    status = a["state"] + (", ongoing" if a.get("closed_at") is None
                           else ", back to normal" if a["state"] != "resolved" else "")
    title = a["title"] if len(a["title"]) <= 90 else a["title"][:89] + "…"
    return f"  #{a['id']:<5} {a['severity'].upper():<8} {a['kind']:<11} {when}  {title}  [{status}]"


def summary_lines(ctx: Any, since: datetime | None = None, until: datetime | None = None) -> list[str]:
    """Open alerts, then the alerts opened in the window shown (default: the 7 days to the newest data).

    ``since`` and ``until`` are the window of the screen these lines join (``earshot status``,
    ``earshot demo``), so that every figure on it covers the same time.
    """
    store = ctx.store
    open_rows = list_alerts(store, state="unresolved", limit=50)
    end = until or data_now(store)
    start = since or end - timedelta(days=7)
    # by default, an alert detected within a minute of the newest bucket's end still counts
    week = list_alerts(store, since=start, until=end if until else end + timedelta(minutes=1), limit=1000)
    lines = ["", f"alerts open or acknowledged: {len(open_rows)}"]
    for a in sorted(open_rows, key=lambda a: (_ORDER.get(a["severity"], 3), a["opened_at"]))[:10]:
        lines.append(_line(a))
    by_sev: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for a in week:
        by_sev[a["severity"]] = by_sev.get(a["severity"], 0) + 1
        by_kind[a["kind"]] = by_kind.get(a["kind"], 0) + 1
    sev = ", ".join(f"{by_sev[s]} {s}" for s in ("critical", "warning", "info") if s in by_sev)
    lines.append(f"alerts opened {_span(start, end)}: {len(week)}" + (f" ({sev})" if sev else ""))
    if by_kind:
        lines.append("  by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
    for a in sorted(week, key=lambda a: (_ORDER.get(a["severity"], 3), a["opened_at"]))[:10]:
        lines.append(_line(a))
    if len(week) > 10:
        lines.append(f"  ... and {len(week) - 10} more: earshot alerts list --since {start:%Y-%m-%dT%H:%M} "
                     f"--until {end:%Y-%m-%dT%H:%M}")
    return lines


def _span(start: datetime, end: datetime) -> str:
    return f"{start:%a %d %b %Y %H:%M} \u2013 {end:%a %d %b %Y %H:%M} UTC"
