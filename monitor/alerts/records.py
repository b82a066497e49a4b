"""Alerts in the store: reading them, and what people do with them (acknowledge, resolve).

The state of an alert is what people did with it -- ``open``, ``acknowledged``,
``resolved`` -- and ``closed_at`` is what the detector saw: the figures back to
normal. An incident that ends on its own is resolved by ``earshot``, and a person
can still resolve it with a note (the outcome: "statement issued"). One a person
resolves while it still runs keeps being updated (and closes when it ends), but
is not announced again unless it comes back after closing. Every change is an
``alert_events`` row: who, when, and a note.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sqlalchemy import func, select, update

from monitor import models as m
from monitor.store import Store

STATES = ("open", "acknowledged", "resolved")
KINDS = ("volume", "sentiment", "voice", "silence", "stakeholder", "source")
ENGINE_USER = "earshot"


class AlertError(Exception):
    """A request about an alert cannot be done (no such alert, already resolved...)."""


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def get_alert(store: Store, alert_id: int) -> dict[str, Any] | None:
    """One alert as a dict, or None."""
    with store.engine.connect() as conn:
        row = conn.execute(select(m.alerts).where(m.alerts.c.id == alert_id)).mappings().first()
    return dict(row) if row else None


def list_alerts(store: Store, *, state: str | None = None, topic: str | None = None, kind: str | None = None,
                since: datetime | None = None, until: datetime | None = None, active: bool = False,
                limit: int = 100) -> list[dict[str, Any]]:
    """Alerts, newest first.

    Parameters
    ----------
    state : str, optional
        ``open``, ``acknowledged``, ``resolved``, or ``unresolved`` (open or acknowledged).
    active : bool
        Only incidents still running (not closed by the detector).
    since, until : datetime, optional
        Opened in ``[since, until)``.
    """
    a = m.alerts
    q = select(a).order_by(a.c.opened_at.desc(), a.c.id.desc()).limit(limit)
    if state == "unresolved":
        q = q.where(a.c.state != "resolved")
    elif state:
        if state not in STATES:
            raise AlertError(f"unknown state {state!r}; use one of {', '.join(STATES)} or unresolved")
        q = q.where(a.c.state == state)
    if topic:
        q = q.where(a.c.topic == topic)
    if kind:
        q = q.where(a.c.kind == kind)
    if since is not None:
        q = q.where(a.c.opened_at >= since)
    if until is not None:
        q = q.where(a.c.opened_at < until)
    if active:
        q = q.where(a.c.closed_at.is_(None))
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def events(store: Store, alert_id: int) -> list[dict[str, Any]]:
    """The history of an alert, oldest first."""
    e = m.alert_events
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(e).where(e.c.alert_id == alert_id).order_by(e.c.id)).mappings()]


def deliveries(store: Store, alert_id: int | None = None, *, status: str | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
    """Deliveries of an alert (or of all alerts), newest first."""
    d = m.alert_deliveries
    q = select(d).order_by(d.c.id.desc()).limit(limit)
    if alert_id is not None:
        q = q.where(d.c.alert_id == alert_id)
    if status:
        q = q.where(d.c.status == status)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def counts(store: Store, since: datetime | None = None) -> dict[str, Any]:
    """Alerts by severity: the unresolved ones, and those opened since ``since``."""
    a = m.alerts
    out: dict[str, Any] = {"unresolved": {}, "since": {}}
    with store.engine.connect() as conn:
        for sev, n in conn.execute(select(a.c.severity, func.count()).where(a.c.state != "resolved")
                                   .group_by(a.c.severity)):
            out["unresolved"][sev] = n
        if since is not None:
            for sev, n in conn.execute(select(a.c.severity, func.count()).where(a.c.opened_at >= since)
                                       .group_by(a.c.severity)):
                out["since"][sev] = n
    return out


def add_event(conn, alert_id: int, kind: str, at: datetime, *, by: str | None = ENGINE_USER, note: str | None = None,
              severity: str | None = None, snapshot: Mapping[str, Any] | None = None) -> int:
    """Record an event in the caller's transaction; return its id."""
    res = conn.execute(m.alert_events.insert().values(
        alert_id=alert_id, kind=kind, at=at, by=by, note=note, severity=severity,
        snapshot=dict(snapshot) if snapshot else None, recorded_at=now_utc()))
    return res.inserted_primary_key[0]


def _act(store: Store, alert_id: int, action: str, by: str, note: str | None, when: datetime | None) -> tuple[dict[str, Any], int]:
    by = (by or "").strip()
    if not by:
        raise AlertError(f"say who {action} the alert (--by NAME)")
    if len(by) > 128:
        raise AlertError("--by: at most 128 characters")
    when = when or now_utc()
    a = m.alerts
    with store.engine.begin() as conn:
        row = conn.execute(select(a).where(a.c.id == alert_id)).mappings().first()
        if row is None:
            raise AlertError(f"no alert #{alert_id}")
        if action == "acknowledged":
            if row["state"] == "resolved":
                hint = " (back to normal; record the outcome with resolve --note)" if row["resolved_by"] == ENGINE_USER else ""
                raise AlertError(f"alert #{alert_id} is already resolved by {row['resolved_by']}{hint}")
            values = {"state": "acknowledged", "acknowledged_by": by, "acknowledged_at": when}
        else:
            # an incident that ended on its own (resolved by earshot) can still get a person's resolution
            if row["state"] == "resolved" and row["resolved_by"] != ENGINE_USER:
                raise AlertError(f"alert #{alert_id} is already resolved by {row['resolved_by']}")
            values = {"state": "resolved", "resolved_by": by, "resolved_at": when}
        conn.execute(update(a).where(a.c.id == alert_id).values(updated_at=when, **values))
        event_id = add_event(conn, alert_id, action, when, by=by, note=note, severity=row["severity"])
        row = conn.execute(select(a).where(a.c.id == alert_id)).mappings().first()
    return dict(row), event_id


def acknowledge(store: Store, alert_id: int, by: str, note: str | None = None, *, when: datetime | None = None,
                settings=None) -> dict[str, Any]:
    """Acknowledge an alert (someone is on it): who, when, a note. Pushed to the dashboard."""
    row, event_id = _act(store, alert_id, "acknowledged", by, note, when)
    _push(store, row, "acknowledged", event_id, settings)
    return row


def resolve(store: Store, alert_id: int, by: str, note: str | None = None, *, when: datetime | None = None,
            settings=None) -> dict[str, Any]:
    """Resolve an alert: who, when, a note. Pushed to the dashboard."""
    row, event_id = _act(store, alert_id, "resolved", by, note, when)
    _push(store, row, "resolved", event_id, settings)
    return row


def resolve_back_to_normal(store: Store, by: str, note: str | None = None, *, ids: Iterable[int] | None = None,
                           when: datetime | None = None, settings=None) -> tuple[list[int], list[int]]:
    """Resolve the unresolved alerts whose figures are back to normal (closed by the detector, left
    open for a person: :data:`monitor.alerts.engine.REVIEW_KINDS`), each with the note, as
    :func:`resolve` does; ``ids``: only these (the ones a person saw), each checked again now, so one
    that opened again or was resolved meanwhile is left as it is. Returns (resolved ids, skipped ids)."""
    a = m.alerts
    q = select(a.c.id).where(a.c.state != "resolved", a.c.closed_at.is_not(None)).order_by(a.c.id)
    wanted = None if ids is None else sorted({int(i) for i in ids})
    if wanted is not None:
        q = q.where(a.c.id.in_(wanted))
    with store.engine.connect() as conn:
        due = [r[0] for r in conn.execute(q)]
    done = []
    for alert_id in due:
        try:
            resolve(store, alert_id, by, note, when=when, settings=settings)
            done.append(alert_id)
        except AlertError:
            pass
    skipped = [i for i in (wanted or []) if i not in done]
    return done, skipped


def _push(store: Store, row: Mapping[str, Any], event: str, event_id: int, settings) -> None:
    from monitor.alerts import notify
    from monitor.settings import load_settings

    settings = settings or load_settings()
    notify.push_or_record(store, settings, row["id"], notify.event_message(event, row), event_id)
