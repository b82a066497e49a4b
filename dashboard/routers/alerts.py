"""Live alerts: the press office's page, the alert API, acknowledge and resolve, and the event stream.

- ``GET /alerts``: unresolved alerts by severity (cards), the last 24 hours of each alerting topic
  against its expected band, and a live feed (``aria-live``, with a pause control).
- ``GET /alerts/stream``: server-sent events, one per alert event; its id is the alert event's id,
  and a reconnecting page's ``Last-Event-ID`` replays what it missed from the database.
- ``GET /api/alerts``, ``GET /api/alerts/{id}``: the alerts and one alert with its history.
- ``POST /api/alerts/{id}/ack`` and ``/resolve`` (press role; the page's forms post to
  ``/alerts/{id}/ack`` and ``/resolve``): recorded with the signed-in person's name and the note.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel
from sqlalchemy import select

from dashboard import audit, charts, live
from dashboard.links import post_url
from dashboard.web import AppState, PressWrite, RowId, State, Viewer, client_ip, render, render_cached, render_fragment
from monitor import models as m
from monitor.alerts import records
from monitor.alerts.engine import coordination_words
from monitor.alerts.notify import alert_json

router = APIRouter(tags=["alerts"])

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


# ----------------------------------------------------------------------------- what a card shows
_coord_cache: "OrderedDict[tuple, float | None]" = OrderedDict()


def coordinated_share(state: State, alert: dict[str, Any]) -> float | None:
    """Share of the retweets and quotes on the alert's topic, in its window, made in coordinated bursts:
    runs of at least ``Thresholds.burst_min_accounts`` accounts reposting the same post, each within
    ``burst_gap_seconds`` of the previous (:func:`influence.bots.find_bursts`, the same test the influence
    flags use). None: not a topic alert, or no amplification in the window.

    The window is the alert's, from where the unusual level began to its last update (at most 6 hours).
    Cached per alert and update.
    """
    topic = alert.get("topic")
    if not topic or alert.get("kind") not in ("volume", "sentiment", "voice"):
        return None
    key = (state.store.url, alert["id"], alert.get("updated_at"))
    if key in _coord_cache:
        return _coord_cache[key]
    from influence import bots

    end = (alert.get("closed_at") or alert.get("updated_at")) + timedelta(minutes=5)
    start = max(alert.get("started_at") or alert["opened_at"], end - timedelta(hours=6))
    i, pt = m.interactions, m.post_topics
    with state.store.engine.connect() as conn:
        rows = conn.execute(select(i.c.ref_platform_id, i.c.created_at, i.c.src_account_id)
                            .select_from(pt.join(i, i.c.post_id == pt.c.post_id))
                            .where(pt.c.topic == topic, pt.c.created_at >= start, pt.c.created_at < end,
                                   i.c.kind.in_(("retweet", "quote")))).all()
    th = bots.Thresholds()
    bursts = bots.find_bursts(((ref, t.timestamp(), acc) for ref, t, acc in rows), gap=th.burst_gap_seconds,
                              min_accounts=th.burst_min_accounts, max_span=th.burst_max_span_seconds)
    in_bursts = sum(len(b["accounts"]) for b in bursts)
    share = min(1.0, in_bursts / len(rows)) if rows else None
    _coord_cache[key] = share
    while len(_coord_cache) > 500:
        _coord_cache.popitem(last=False)
    return share


def _post_platforms(state: State, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    with state.store.engine.connect() as conn:
        return dict(conn.execute(select(m.posts.c.id, m.posts.c.platform).where(m.posts.c.id.in_(ids))).all())


def card(state: State, row: dict[str, Any]) -> dict[str, Any]:
    """What an alert card shows, from an alert row."""
    d = row.get("details") or {}
    topic = state.config.topics.get(row.get("topic") or "")
    posts = list(d.get("top_posts") or [])
    platforms = _post_platforms(state, [p["id"] for p in posts if p.get("id")])
    for p in posts:
        plat = platforms.get(p.get("id")) or ("x" if p.get("platform_id") and str(p["platform_id"]).isdigit() else None)
        p["link"] = post_url(plat, p.get("url"), p.get("platform_id"))
    flagged = d.get("coordination")  # the engine's: the share of the rise from accounts the influence run flagged
    coord = None
    if not flagged:  # no influence run has flagged anyone yet: the retweets in bursts, measured now
        try:
            coord = coordinated_share(state, row)
        except Exception:  # a help, not a requirement for the card
            coord = None
    return {
        **row,
        "topic_label": topic.label if topic else (row.get("topic") or row.get("source") or ""),
        "sentiment": d.get("sentiment") or {},
        "top_posts": posts[:5],
        "top_amplifiers": list(d.get("top_amplifiers") or [])[:5],
        "top_accounts": list(d.get("top_accounts") or [])[:5],
        "coordinated_share": coord,
        "coordination_words": coordination_words(flagged) if flagged else None,
        "signals": d.get("signals") or [],
    }


def card_html(state: State, row: dict[str, Any]) -> str:
    """The HTML of one alert card for the live feed: rendered once for every page, so its forms carry no
    CSRF token (the page's script fills in its own from the page, and removes the forms for viewers)."""
    return render_fragment("partials/alert_card.html", a=card(state, row), csrf_token="", can_act=True,
                           csrf_field="csrf_token")


def _sorted_unresolved(state: State) -> list[dict[str, Any]]:
    rows = records.list_alerts(state.store, state="unresolved", limit=200)
    rows.sort(key=lambda r: (SEVERITY_ORDER.get(r["severity"], 9), -(r["updated_at"].timestamp())))
    return rows


# ----------------------------------------------------------------------------- the page
#: Alerts drawn as full cards on the live page (the most severe, most recently updated first); the
#: others get one line each (a day of 200 unresolved alerts made a 1 MB page, sent to every reader)
FULL_CARDS = 40


def _compact(state: State, row: dict[str, Any]) -> dict[str, Any]:
    """What an alert's one line on the live page shows (no figures, posts or accounts to read)."""
    topic = state.config.topics.get(row.get("topic") or "")
    return {**row, "topic_label": topic.label if topic else (row.get("topic") or row.get("source") or "")}


@router.get("/alerts", response_class=HTMLResponse, summary="Live alerts page")
def alerts_page(request: Request, user: Viewer, state: AppState,
                at: Annotated[datetime | None, Query(description="Draw the charts as at this time (default: now)")] = None,
                done: Annotated[Literal["ack", "resolve", "resolve-normal"] | None, Query()] = None,
                alert: Annotated[int | None, Query(ge=1)] = None,
                n: Annotated[int | None, Query(ge=0, le=10_000, description="Alerts resolved at once")] = None):
    can_act = user.can("press")

    def build() -> dict[str, Any]:
        rows = _sorted_unresolved(state)
        now = charts.data_now(state.store, at, state.config.topics)
        recent = records.list_alerts(state.store, state="resolved", limit=10)
        return {"cards": [card(state, r) if k < FULL_CARDS else _compact(state, r) for k, r in enumerate(rows)],
                "full_cards": FULL_CARDS, "figures": day_charts(state, rows, now),
                "recent": [card(state, r) for r in recent], "can_act": can_act, "now": now,
                "last_event_id": live.latest_event_id(state.store), "at": at.isoformat() if at else "",
                "flash": (f"{n} alert{'' if n == 1 else 's'} back to normal resolved." if done == "resolve-normal"
                          and n is not None else
                          f"Alert {alert} {'acknowledged' if done == 'ack' else 'resolved'}." if done and alert else "")}

    return render_cached(request, "alerts.html", build, stale=False)  # the live page is never behind


@router.get("/alerts/charts", response_class=HTMLResponse,
            summary="The live page's 24-hour charts of alerting topics (an HTML fragment, redrawn on each live event)")
def charts_fragment(request: Request, user: Viewer, state: AppState,
                    at: Annotated[datetime | None, Query(description="Draw the charts as at this time (default: now)")] = None):
    def build() -> dict[str, Any]:
        now = charts.data_now(state.store, at, state.config.topics)
        return {"figures": day_charts(state, _sorted_unresolved(state), now), "now": now}

    return render_cached(request, "partials/day_charts.html", build, stale=False)


CHART_TOPICS = 8  #: topics with a 24-hour chart on the live page


def day_charts(state: State, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The last 24 hours of each topic with an unresolved alert, against its expected band: the topics
    of the most severe alerts first (``rows`` are in severity order), at most :data:`CHART_TOPICS`."""
    topics = [t for t in dict.fromkeys(r["topic"] for r in rows if r.get("topic")) if t in state.config.topics]
    figures = []
    for tid in topics[:CHART_TOPICS]:
        t = state.config.topics[tid]
        pts = charts.volume(state.store, tid, now - timedelta(hours=24), now, 3600)
        charts.expected_band(charts.detector_for(state.store, t), pts, 3600)
        table = [{"t_label": p["t"].strftime("%a %d %b %H:%M"), "posts": p["posts"], "expected": p["expected"],
                  "low": p["low"], "high": p["high"], "expected_digits": 1, "low_digits": 1, "high_digits": 1}
                 for p in pts]
        figures.append({"id": f"vol-{tid}", "topic": t, "points": pts, "points_rows": table,
                        "figure": charts.figure_json(charts.volume_figure(pts, f"{t.label}: posts per hour, last 24 hours"))})
    return figures


@router.get("/alerts/stream", response_class=EventSourceResponse, summary="Live alert events (server-sent events)",
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`event: alert`, `id:` the alert event id, `data:` JSON with the card's HTML"}})
async def alert_stream(request: Request, user: Viewer, state: AppState,
                       last_event_id: Annotated[str | None, Header()] = None,
                       after: Annotated[int | None, Query(ge=0, description="Replay events after this id (as Last-Event-ID)")] = None):
    hub: live.Hub | None = state.hub
    if hub is None:
        raise HTTPException(503, "live alerts are not running in this process")
    start = after
    if last_event_id and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    q = hub.subscribe()  # subscribed before the replay is read: nothing falls between the two
    try:
        sent = start if start is not None else hub.last_id
        yield ServerSentEvent(comment="connected", retry=2000)
        if start is not None:
            missed = await asyncio.to_thread(live.replay, state.store, start, hub.render)
            for ev in missed:
                sent = max(sent, ev.id or 0)
                yield ServerSentEvent(raw_data=ev.data(), event="alert", id=str(ev.id))
        while True:
            ev = await q.get()
            if ev is None:  # the hub stopped, or dropped this stalled page
                return
            if ev.id is not None and ev.id <= sent:
                continue  # already sent by the replay
            if ev.id is not None:
                sent = ev.id
                yield ServerSentEvent(raw_data=ev.data(), event="alert", id=str(ev.id))
            else:
                yield ServerSentEvent(raw_data=ev.data(), event="alert")
    finally:
        hub.unsubscribe(q)


# ----------------------------------------------------------------------------- API
class AlertOut(BaseModel):
    id: int
    topic: str | None
    source: str | None
    kind: str
    state: str
    severity: str
    title: str
    started_at: datetime | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    current: float | None
    expected: float | None
    ratio: float | None
    peak: float | None
    details: dict[str, Any] | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None


class AlertEventOut(BaseModel):
    id: int
    kind: str
    at: datetime
    by: str | None
    note: str | None
    severity: str | None


class AlertDetail(AlertOut):
    events: list[AlertEventOut]
    coordinated_share: float | None


def _out(row: dict[str, Any]) -> dict[str, Any]:
    j = alert_json(row)
    for k in ("ratio", "current", "expected", "peak"):
        v = row.get(k)
        j[k] = v if isinstance(v, (int, float)) and v == v and abs(v) != float("inf") else None
    for k in ("started_at", "opened_at", "updated_at", "closed_at", "acknowledged_at", "resolved_at"):
        j[k] = row.get(k)
    return j


@router.get("/api/alerts", response_model=list[AlertOut], summary="Alerts, newest first")
def list_alerts(user: Viewer, state: AppState,
                alert_state: Annotated[Literal["open", "acknowledged", "resolved", "unresolved"] | None,
                                       Query(alias="state")] = None,
                topic: Annotated[str | None, Query(max_length=64)] = None,
                kind: Annotated[Literal["volume", "sentiment", "voice", "silence", "stakeholder", "source"] | None,
                                Query()] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100):
    return [_out(r) for r in records.list_alerts(state.store, state=alert_state, topic=topic, kind=kind, limit=limit)]


@router.get("/api/alerts/{alert_id}", response_model=AlertDetail, summary="One alert and its history",
            responses={404: {"description": "No such alert"}})
def get_alert(alert_id: RowId, user: Viewer, state: AppState):
    row = records.get_alert(state.store, alert_id)
    if row is None:
        raise HTTPException(404, f"no alert #{alert_id}")
    try:
        coord = coordinated_share(state, row)
    except Exception:
        coord = None
    return {**_out(row), "events": records.events(state.store, alert_id), "coordinated_share": coord}


def _act(request: Request, state: State, user, alert_id: int, action: str, note: str | None) -> dict[str, Any]:
    note = (note or "").strip()[:2000] or None
    fn = records.acknowledge if action == "ack" else records.resolve
    try:
        row = fn(state.store, alert_id, user.name, note, settings=state.settings)
    except records.AlertError as exc:
        code = 404 if "no alert" in str(exc) else 409
        raise HTTPException(code, str(exc)) from None
    audit.record(state.store, action, user=user.name, target=f"alert:{alert_id}", detail={"note": note} if note else None,
                 ip=client_ip(request))
    if state.hub is not None:
        state.hub.wake()
    return row


@router.post("/api/alerts/{alert_id}/ack", response_model=AlertOut, summary="Acknowledge an alert (press)",
             responses={404: {"description": "No such alert"}, 409: {"description": "Already resolved"}})
def api_ack(request: Request, alert_id: RowId, user: PressWrite, state: AppState,
            note: Annotated[str | None, Form(max_length=2000)] = None):
    return _out(_act(request, state, user, alert_id, "ack", note))


@router.post("/api/alerts/{alert_id}/resolve", response_model=AlertOut, summary="Resolve an alert (press)",
             responses={404: {"description": "No such alert"}, 409: {"description": "Already resolved"}})
def api_resolve(request: Request, alert_id: RowId, user: PressWrite, state: AppState,
                note: Annotated[str | None, Form(max_length=2000)] = None):
    return _out(_act(request, state, user, alert_id, "resolve", note))


@router.post("/alerts/{alert_id}/ack", response_class=RedirectResponse, status_code=303,
             summary="Acknowledge from the page (form)")
def form_ack(request: Request, alert_id: RowId, user: PressWrite, state: AppState,
             note: Annotated[str | None, Form(max_length=2000)] = None):
    _act(request, state, user, alert_id, "ack", note)
    return RedirectResponse(f"/alerts?done=ack&alert={alert_id}#alert-{alert_id}", status_code=303)


@router.post("/alerts/{alert_id}/resolve", response_class=RedirectResponse, status_code=303,
             summary="Resolve from the page (form)")
def form_resolve(request: Request, alert_id: RowId, user: PressWrite, state: AppState,
                 note: Annotated[str | None, Form(max_length=2000)] = None):
    _act(request, state, user, alert_id, "resolve", note)
    return RedirectResponse(f"/alerts?done=resolve&alert={alert_id}", status_code=303)


class ResolvedNormal(BaseModel):
    resolved: list[int]
    skipped: list[int]


def _resolve_normal(request: Request, state: State, user, note: str | None, ids: list[int] | None) -> ResolvedNormal:
    note = (note or "").strip()[:2000] or None
    done, skipped = records.resolve_back_to_normal(state.store, user.name, note, ids=ids, settings=state.settings)
    for alert_id in done:
        audit.record(state.store, "resolve", user=user.name, target=f"alert:{alert_id}",
                     detail={"note": note, "back_to_normal": True} if note else {"back_to_normal": True},
                     ip=client_ip(request))
    if done and state.hub is not None:
        state.hub.wake()
    return ResolvedNormal(resolved=done, skipped=skipped)


@router.post("/api/alerts/resolve-normal", response_model=ResolvedNormal,
             summary="Resolve every unresolved alert whose figures are back to normal (press)")
def api_resolve_normal(request: Request, user: PressWrite, state: AppState,
                       note: Annotated[str | None, Form(max_length=2000)] = None,
                       alert: Annotated[list[int] | None, Form(description="Only these alerts (default: all back to "
                                                                           "normal)")] = None):
    return _resolve_normal(request, state, user, note, alert)


@router.post("/alerts/resolve-normal", response_class=RedirectResponse, status_code=303,
             summary="Resolve the alerts back to normal shown on the page (form)")
def form_resolve_normal(request: Request, user: PressWrite, state: AppState,
                        note: Annotated[str | None, Form(max_length=2000)] = None,
                        alert: Annotated[list[int] | None, Form()] = None):
    out = _resolve_normal(request, state, user, note, alert or [])
    return RedirectResponse(f"/alerts?done=resolve-normal&n={len(out.resolved)}", status_code=303)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, summary="One alert: its card and history",
            responses={404: {"description": "No such alert"}})
def alert_page(request: Request, alert_id: RowId, user: Viewer, state: AppState):
    row = records.get_alert(state.store, alert_id)
    if row is None:
        raise HTTPException(404, f"no alert #{alert_id}")
    hist = {"id": "history", "caption": "",
            "columns": [("at", "When (UTC)", False), ("kind", "What", False), ("by", "Who", False),
                        ("severity", "Severity", False), ("note", "Note", False)],
            "rows": [{"at": e["at"].strftime("%a %d %b %H:%M"), "kind": e["kind"], "by": e["by"] or "",
                      "severity": e["severity"] or "", "note": e["note"] or ""}
                     for e in records.events(state.store, alert_id)]}
    return render(request, "alert.html", a=card(state, row), table=hist, can_act=user.can("press"))
