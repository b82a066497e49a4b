"""The audit log: who signed in (or failed to), acknowledged, resolved, marked, exported, managed accounts,
edited, approved or sent a briefing.

Rows are only ever added. Admins read them on the audit page (``/audit``, ``GET /api/audit``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy import select

from monitor import models as m
from monitor.store import Store

ACTIONS = ("sign-in", "sign-in-failed", "sign-in-throttled", "sign-out", "ack", "resolve", "mark", "unmark",
           "export", "user-add", "user-disable", "user-enable", "session-revoke", "briefing-edit", "briefing-approve",
           "briefing-send", "briefing-send-failed", "token-add", "token-revoke")


def record(store: Store, action: str, *, user: str | None, target: str | None = None,
           detail: Mapping[str, Any] | None = None, ip: str | None = None, when: datetime | None = None,
           conn=None) -> None:
    """Add one row (in the caller's transaction when ``conn`` is given)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    values = dict(at=when or datetime.now(timezone.utc), user_name=(user or None) and user[:64], action=action,
                  target=(target or None) and str(target)[:255], detail=dict(detail) if detail else None,
                  ip=(ip or None) and ip[:64])
    if conn is not None:
        conn.execute(m.audit_log.insert().values(**values))
        return
    with store.engine.begin() as c:
        c.execute(m.audit_log.insert().values(**values))


def entries(store: Store, *, action: str | None = None, user: str | None = None, before_id: int | None = None,
            limit: int = 100) -> list[dict[str, Any]]:
    """Newest first; ``before_id`` pages back."""
    a = m.audit_log
    q = select(a).order_by(a.c.id.desc()).limit(max(1, min(limit, 1000)))
    if action:
        q = q.where(a.c.action == action)
    if user:
        q = q.where(a.c.user_name == user.strip().lower())
    if before_id is not None:
        q = q.where(a.c.id < before_id)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
