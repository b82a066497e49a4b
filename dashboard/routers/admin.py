"""Collection status (everyone), the audit log and accounts (admins).

- ``GET /status`` and ``GET /api/status``: each source's health, last run, errors, rate-limit waits,
  items and throughput; posts per topic; the gaps (what the figures on every other page did not
  see), and what people marked irrelevant.
- ``GET /audit`` and ``GET /api/audit`` (admin): sign-ins, acknowledgements, resolutions, marks,
  exports, account changes, newest first.
- ``GET /users`` and ``GET /api/users`` (admin); ``POST /api/users/{name}/disable`` and ``.../enable``
  and ``.../revoke`` (admin, CSRF). Accounts are added with ``earshot users add`` (a password is
  never typed into a web form someone else prepared).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sqlalchemy import func, select

from dashboard import audit, auth
from dashboard.web import Admin, AdminPersonWrite, AppState, State, Viewer, audited_csv, client_ip, render
from monitor import marks, models as m

router = APIRouter(tags=["status and administration"])


def status(state: State, days: int = 7) -> dict[str, Any]:
    """:func:`monitor.health.collection_status`, with each source's throughput (posts it stored with a
    time in the last 24 hours, per hour) and people's marks; cursors left out (they are the source's)."""
    from monitor.collect import source_specs
    from monitor.health import collection_status

    st = collection_status(state.store, source_specs(state.config, state.settings), state.config, days=days)
    p = m.posts
    since = st["now"] - timedelta(hours=24)
    with state.store.engine.connect() as conn:
        per = dict(conn.execute(select(p.c.source, func.count()).where(p.c.created_at >= since)
                                .group_by(p.c.source)).all())
    for s in st["sources"]:
        s.pop("cursor", None)
        s["posts_per_hour"] = per.get(s["name"], 0) / 24
    st["review"] = marks.review_stats(state.store, since=st["now"] - timedelta(days=days))
    return st


@router.get("/status", response_class=HTMLResponse, summary="Collection status page")
def status_page(request: Request, user: Viewer, state: AppState, days: Annotated[int, Query(ge=1, le=90)] = 7):
    st = status(state, days)
    labels = {tid: t.label for tid, t in state.config.topics.items()}
    sources = {"id": "sources", "caption": "",
               "columns": [("name", "Source", False), ("state", "State", False), ("last_run", "Last run (UTC)", False),
                           ("items", "Items (all time)", True), ("new_items", "New items", True),
                           ("errors", "Errors", True), ("waits", "Rate-limit waits", True),
                           ("wait_s", "Waited (s)", True), ("per_hour", "Posts an hour (last 24 h)", True),
                           ("last_error", "Last error", False)],
               "rows": [{"name": s["name"], "state": s["state"], "last_run": _t(s["last_run_at"]), "items": s["items"],
                         "new_items": s["new_items"], "errors": s["errors"], "waits": s["rate_limit_waits"],
                         "wait_s": s["rate_limit_seconds"], "per_hour": s["posts_per_hour"], "per_hour_digits": 1,
                         "last_error": (s.get("last_error") or s.get("disabled") or "")[:300]}
                        for s in st["sources"]]}
    topics = {"id": "topic-counts", "caption": "",
              "columns": [("topic", "Topic", False), ("posts", "Posts", True), ("authors", "Authors", True),
                          ("negative_pct", "Negative %", True), ("irrelevant", "Marked irrelevant", True)],
              "rows": [{"topic": labels.get(tid, tid), "topic_href": f"/topics/{tid}", "posts": c["posts"],
                        "authors": c.get("authors", 0), "negative_pct": (c.get("negative_share") or 0) * 100,
                        "irrelevant": st["review"].get(tid, {}).get("irrelevant", 0)}
                       for tid, c in st["topics"].items()]}
    gaps = {"id": "gaps", "caption": "",
            "columns": [("source", "Source", False), ("reason", "Why", False), ("start", "From (UTC)", False),
                        ("end", "To (UTC)", False), ("detail", "Detail", False)],
            "rows": [{"source": g["source"], "reason": g["reason"], "start": _t(g["start"]),
                      "end": _t(g["end"]) if g["end"] else "ongoing", "detail": (g.get("detail") or "")[:300]}
                     for g in st["gaps"]]}
    return render(request, "status.html", st=st, sources=sources, topics_table=topics, gaps=gaps, days=days)


def _t(v, none: str = "—") -> str:
    return v.strftime("%d %b %H:%M") if isinstance(v, datetime) else (v or none)


@router.get("/api/status", summary="Collection health: sources, counts per topic, gaps, marks")
def api_status(user: Viewer, state: AppState, days: Annotated[int, Query(ge=1, le=90)] = 7) -> dict[str, Any]:
    return status(state, days)


# ----------------------------------------------------------------------------- audit
@router.get("/audit", response_class=HTMLResponse, summary="Audit log page (admin)")
def audit_page(request: Request, user: Admin, state: AppState,
               action: Annotated[Literal[audit.ACTIONS] | None, Query()] = None,  # type: ignore[valid-type]
               who: Annotated[str, Query(max_length=64)] = "", before: Annotated[int | None, Query(ge=1)] = None):
    rows = audit.entries(state.store, action=action, user=who or None, before_id=before, limit=100)
    table = {"id": "audit", "caption": "",
             "columns": [("at", "When (UTC)", False), ("user", "Who", False), ("action", "What", False),
                         ("target", "On", False), ("detail", "Detail", False), ("ip", "From", False)],
             "rows": [{"at": r["at"].strftime("%Y-%m-%d %H:%M:%S"), "user": r["user_name"] or "(not signed in)",
                       "action": r["action"], "target": r["target"] or "",
                       "detail": ", ".join(f"{k}: {v}" for k, v in (r["detail"] or {}).items() if v is not None),
                       "ip": r["ip"] or ""} for r in rows]}
    older = rows[-1]["id"] if len(rows) == 100 else None
    return render(request, "audit.html", table=table, actions=audit.ACTIONS, action=action or "", who=who, older=older)


@router.get("/api/audit", summary="The audit log, newest first (admin)")
def api_audit(user: Admin, state: AppState, action: Annotated[Literal[audit.ACTIONS] | None, Query()] = None,  # type: ignore[valid-type]
              who: Annotated[str, Query(max_length=64)] = "", before: Annotated[int | None, Query(ge=1)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    return audit.entries(state.store, action=action, user=who or None, before_id=before, limit=limit)


# ----------------------------------------------------------------------------- accounts
@router.get("/users", response_class=HTMLResponse, summary="Accounts page (admin)")
def users_page(request: Request, user: Admin, state: AppState,
               done: Annotated[Literal["disable", "enable", "revoke"] | None, Query()] = None,
               name: Annotated[str, Query(max_length=64)] = ""):
    flash = {"disable": "disabled; its sessions have ended", "enable": "enabled",
             "revoke": "signed out everywhere"}.get(done or "")
    users = auth.list_users(state.store)
    table = {"id": "users", "caption": "", "csv_url": "/api/users.csv",
             "columns": [("name", "Name", False), ("role", "Role", False), ("state", "State", False),
                         ("last_login", "Last sign-in (UTC)", False), ("sessions", "Live sessions", True)],
             "rows": [{"name": u["name"], "role": u["role"], "state": "disabled" if u["disabled_at"] else "enabled",
                       "last_login": _t(u["last_login_at"], "never"), "sessions": u["sessions"],
                       "_no_action": "(you)"} for u in users],
             "actions": [[] if u["name"] == user.name else
                         [{"url": f"/users/{quote(u['name'])}/{a}", "label": label, "hidden": u["name"]}
                          for a, label in ((("enable", "Enable") if u["disabled_at"] else ("disable", "Disable")),
                                           ("revoke", "Sign out everywhere"))] for u in users]}
    return render(request, "users.html", table=table, flash=f"{name} {flash}." if flash and name else "")


@router.get("/api/users", summary="Accounts (admin)")
def api_users(user: Admin, state: AppState) -> list[dict[str, Any]]:
    return auth.list_users(state.store)


@router.get("/api/users.csv", summary="Accounts (CSV; admin)", response_class=Response)
def api_users_csv(request: Request, user: Admin, state: AppState):
    cols = ["name", "role", "created_at", "disabled_at", "last_login_at", "sessions"]
    return audited_csv(request, state.store, user.name, "users", "users.csv", cols, auth.list_users(state.store))


def _user_action(request: Request, state: State, user, name: str, action: str) -> dict[str, Any]:
    try:
        if action == "disable":
            if auth.normalise_name(name) == user.name:
                raise HTTPException(409, "you cannot disable your own account")
            out = auth.disable_user(state.store, name)
        elif action == "enable":
            out = auth.enable_user(state.store, name)
        else:
            n = auth.revoke_sessions(state.store, name)
            out = {**(auth.get_user(state.store, name) or {}), "revoked": n}
    except auth.AuthError as exc:
        raise HTTPException(404, str(exc)) from None
    audit.record(state.store, {"disable": "user-disable", "enable": "user-enable", "revoke": "session-revoke"}[action],
                 user=user.name, target=name[:64], ip=client_ip(request))
    return out


@router.post("/api/users/{name}/{action}", summary="Disable or enable an account, or end its sessions (admin)",
             responses={404: {"description": "No such account"}, 409: {"description": "Your own account"}})
def api_user_action(request: Request, name: str, action: Literal["disable", "enable", "revoke"], user: AdminPersonWrite,
                    state: AppState) -> dict[str, Any]:
    return _user_action(request, state, user, name, action)


@router.post("/users/{name}/{action}", response_class=RedirectResponse, status_code=303,
             summary="Disable, enable or sign out an account from the accounts page (form)")
def form_user_action(request: Request, name: str, action: Literal["disable", "enable", "revoke"], user: AdminPersonWrite,
                     state: AppState):
    _user_action(request, state, user, name, action)
    return RedirectResponse(f"/users?done={action}&name={quote(name)}", status_code=303)
