"""The weekly briefing's archive and review in the dashboard (what ``earshot briefing`` does, on pages).

- ``GET /briefings`` (``?topic=ID``: those that covered a topic): the archive, newest first, with
  who built, edited, approved and sent each.
- ``GET /briefings/{id}``: the briefing as ministers read it (the e-mail's HTML, its charts served
  from ``/briefings/{id}/charts/NAME.png``), the download of its PDF, its history and, for the
  press role, the review form: editor's note, key messages, stories removed or reordered, approve.
- ``GET /briefings/{id}/briefing.pdf``, ``GET /briefings/{id}/charts/{name}.png``.
- ``GET /api/briefings``, ``GET /api/briefings/{id}``: the archive and one briefing's content (JSON).
- ``POST /api/briefings/{id}/edit``, ``/approve`` and ``/send`` (press role, CSRF; the page's forms
  post to ``/briefings/{id}/edit``, ``/approve`` and ``/send``): recorded in the briefing's history
  with the signed-in person's name, and in the audit log. Send is offered once the briefing is
  approved, names its recipients (``config/briefing.yaml``) and sends it once over SMTP
  (``EARSHOT_SMTP_*``), as ``earshot briefing send`` does (:func:`briefings.archive.send`).

Everything shown comes from :mod:`briefings.archive`; the content was masked when it was built, so
no private individual is named here either.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel

from briefings import archive
from briefings.archive import BriefingError, SendFailed
from dashboard import audit
from dashboard.web import AppState, PressWrite, RowId, State, Viewer, client_ip, render

router = APIRouter(tags=["briefings"])

_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S)
_CHART_NAME = re.compile(r"^(trend|week)-[a-z][a-z0-9_]{0,63}$")


class BriefingOut(BaseModel):
    id: int
    week: str
    revision: int
    status: str
    week_start: datetime
    week_end: datetime
    subject: str
    topics: list[str] | None
    built_at: datetime
    built_by: str
    edited_at: datetime | None
    edited_by: str | None
    approved_at: datetime | None
    approved_by: str | None
    sent_at: datetime | None
    sent_by: str | None
    sent_to: list[str] | None


class BriefingDetail(BriefingOut):
    content: dict[str, Any]
    edits: dict[str, Any] | None
    history: list[dict[str, Any]]


def _row(state: State, briefing_id: int) -> dict[str, Any]:
    try:
        return archive.get(state.store, briefing_id)
    except BriefingError:
        raise HTTPException(404, f"no briefing #{briefing_id}") from None


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in BriefingOut.model_fields}


def body_html(row: dict[str, Any]) -> Markup:
    """The stored e-mail HTML's body, its ``cid:`` charts pointed at this app's chart routes.

    The HTML was made by the briefing's own autoescaping templates (every stranger's text escaped),
    so it is shown as it is; its styles are inline attributes (the page's CSP allows those, not
    ``<style>`` elements, which the e-mail's head holds only for mail clients).
    """
    m = _BODY.search(row["html"])
    body = m.group(1) if m else ""
    body = re.sub(r'src="cid:((?:trend|week)-[a-z0-9_]+)@earshot"', lambda x: f'src="/briefings/{row["id"]}/charts/{x.group(1)}.png"',
                  body)
    return Markup(body)


@router.get("/briefings", response_class=HTMLResponse, summary="The briefing archive")
def briefings_page(request: Request, user: Viewer, state: AppState,
                   topic: Annotated[str | None, Query(max_length=64)] = None):
    if topic is not None and topic not in state.config.topics:
        raise HTTPException(404, f"no topic {topic!r}")
    rows = archive.listing(state.store, topic=topic)
    table = {"id": "briefings", "caption": "",
             "columns": [("week", "Week", False), ("period", "Period", False), ("status", "Status", False),
                         ("built", "Built", False), ("approved", "Approved", False), ("sent", "Sent", False),
                         ("pdf", "PDF", False)],
             "rows": [{"week": f"{r['week']} r{r['revision']}", "week_href": f"/briefings/{r['id']}",
                       "period": r["subject"].replace("DRAFT ", "").removeprefix("Weekly media briefing: "),
                       "status": r["status"],
                       "built": f"{r['built_at']:%d %b %H:%M} by {r['built_by']}",
                       "approved": f"{r['approved_at']:%d %b %H:%M} by {r['approved_by']}" if r["approved_by"] else "",
                       "sent": f"{r['sent_at']:%d %b %H:%M} by {r['sent_by']}" if r["sent_by"] else "",
                       "pdf": "PDF", "pdf_href": f"/briefings/{r['id']}/briefing.pdf"} for r in rows]}
    label = state.config.topics[topic].label if topic else None
    return render(request, "briefings.html", table=table, topic_label=label)


@router.get("/briefings/{briefing_id}", response_class=HTMLResponse, summary="One briefing: read it, review it",
            responses={404: {"description": "No such briefing"}})
def briefing_page(request: Request, briefing_id: RowId, user: Viewer, state: AppState,
                  done: Annotated[str | None, Query(max_length=16)] = None):
    row = _row(state, briefing_id)
    content = archive.apply_edits_row(row)
    history = {"id": "history", "caption": "",
               "columns": [("at", "When (UTC)", False), ("kind", "What", False), ("by", "Who", False), ("note", "Note", False)],
               "rows": [{"at": e["at"].strftime("%a %d %b %H:%M"), "kind": e["kind"], "by": e["by"], "note": e["note"] or ""}
                        for e in archive.events(state.store, briefing_id)]}
    removed = set((row["edits"] or {}).get("removed") or ())
    stories = [{"topic": t["label"], "id": s["id"], "title": s["title"], "size": s["size"], "removed": s["id"] in removed}
               for t in row["content"]["topics"] for s in t["stories"]]
    flash = {"edit": "Changes saved: the briefing is a draft until it is approved.",
             "approve": "Approved: it can be sent now.",
             "send": "Sent."}.get(done or "", "")
    can_press = user.can("press")
    recipients, send_problem = _send_readiness(state) if can_press and row["status"] == "approved" else ([], None)
    return render(request, "briefing.html", b=row, content=content, body=body_html(row), table=history,
                  stories=stories, can_review=can_press and row["status"] in ("draft", "approved"),
                  can_send=can_press and row["status"] == "approved", recipients=recipients,
                  send_problem=send_problem, flash=flash)


def _briefing_settings(state: State):
    from briefings.settings import load_briefing_settings
    from monitor.config import ConfigError

    try:
        return load_briefing_settings(state.config.path)
    except ConfigError as exc:
        raise HTTPException(409, f"the briefing settings do not load: {exc}") from None


def _send_readiness(state: State) -> tuple[list[str], str | None]:
    """(recipients, what stops sending or None), for the page's send form."""
    try:
        bs = _briefing_settings(state)
    except HTTPException as exc:
        return [], str(exc.detail)
    if not bs.recipients:
        return [], f"No recipients are listed under 'recipients:' in {bs.path or 'config/briefing.yaml'}."
    if not state.settings.smtp_host:
        return list(bs.recipients), "EARSHOT_SMTP_HOST is not set: there is nowhere to send the briefing."
    return list(bs.recipients), None


@router.get("/briefings/{briefing_id}/briefing.pdf", summary="The briefing as PDF",
            responses={200: {"content": {"application/pdf": {}}}, 404: {"description": "No such briefing"}})
def briefing_pdf(briefing_id: RowId, user: Viewer, state: AppState):
    row = archive.ensure_pdf(state.store, _row(state, briefing_id))
    return Response(row["pdf"], media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="briefing-{row["week"]}-r{row["revision"]}.pdf"'})


@router.get("/briefings/{briefing_id}/charts/{name}.png", summary="One of the briefing's charts",
            responses={200: {"content": {"image/png": {}}}, 404: {"description": "No such chart"}})
def briefing_chart(briefing_id: RowId, name: str, user: Viewer, state: AppState):
    if not _CHART_NAME.match(name):
        raise HTTPException(404, "no such chart")
    row = _row(state, briefing_id)
    for ch in archive.charts_of(row):
        if ch.filename == f"{name}.png":
            return Response(ch.png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
    raise HTTPException(404, "no such chart")


@router.get("/api/briefings", response_model=list[BriefingOut], summary="The briefing archive")
def api_briefings(user: Viewer, state: AppState, topic: Annotated[str | None, Query(max_length=64)] = None):
    return [_out(r) for r in archive.listing(state.store, topic=topic)]


@router.get("/api/briefings/{briefing_id}", response_model=BriefingDetail, summary="One briefing's content and history",
            responses={404: {"description": "No such briefing"}})
def api_briefing(briefing_id: RowId, user: Viewer, state: AppState):
    row = _row(state, briefing_id)
    hist = [{"at": e["at"].isoformat(), "kind": e["kind"], "by": e["by"], "note": e["note"]}
            for e in archive.events(state.store, briefing_id)]
    return {**_out(row), "content": row["content"], "edits": row["edits"], "history": hist}


def _lines(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").splitlines() if x.strip()]


def _edit(state: State, user, request: Request, briefing_id: int, note: str | None, key_messages: str | None,
          remove: list[str], restore: list[str], order: str | None) -> dict[str, Any]:
    _row(state, briefing_id)
    try:
        out = archive.edit(state.store, briefing_id, by=user.name, note=note,
                           key_messages=_lines(key_messages) if key_messages is not None else None,
                           remove=remove, restore=restore, order=_lines(order))
    except BriefingError as exc:
        raise HTTPException(409 if ("was sent" in str(exc) or "being sent" in str(exc)) else 422, str(exc)) from None
    audit.record(state.store, "briefing-edit", user=user.name, target=f"briefing:{briefing_id}",
                 detail={"week": out["week"], "revision": out["revision"], "removed": len(remove),
                         "restored": len(restore)}, ip=client_ip(request))
    return out


def _approve(state: State, user, request: Request, briefing_id: int, note: str | None) -> dict[str, Any]:
    _row(state, briefing_id)
    try:
        out = archive.approve(state.store, briefing_id, by=user.name, note=(note or "").strip() or None)
    except BriefingError as exc:
        raise HTTPException(409, str(exc)) from None
    audit.record(state.store, "briefing-approve", user=user.name, target=f"briefing:{briefing_id}",
                 detail={"week": out["week"], "revision": out["revision"]}, ip=client_ip(request))
    return out


def _send(state: State, user, request: Request, briefing_id: int) -> dict[str, Any]:
    row = _row(state, briefing_id)
    if row["status"] == "approved":
        _, problem = _send_readiness(state)
        if problem:
            raise HTTPException(409, problem)
    target = f"briefing:{briefing_id}"
    try:
        out = archive.send(state.store, state.settings, _briefing_settings(state), briefing_id, by=user.name)
    except SendFailed as exc:
        audit.record(state.store, "briefing-send-failed", user=user.name, target=target,
                     detail={"week": row["week"], "revision": row["revision"], "error": str(exc)[:500]},
                     ip=client_ip(request))
        raise HTTPException(502, str(exc)) from None
    except BriefingError as exc:
        raise HTTPException(409, str(exc)) from None
    audit.record(state.store, "briefing-send", user=user.name, target=target,
                 detail={"week": out["week"], "revision": out["revision"], "to": out["sent_to"]}, ip=client_ip(request))
    return out


EditNote = Annotated[str | None, Form(max_length=2000)]
EditLines = Annotated[str | None, Form(max_length=4000)]
StoryIds = Annotated[list[str], Form(max_length=200)]


@router.post("/api/briefings/{briefing_id}/edit", response_model=BriefingOut, summary="Edit a briefing (press)",
             responses={404: {"description": "No such briefing"}, 409: {"description": "Already sent"},
                        422: {"description": "No such story"}})
def api_edit(request: Request, briefing_id: RowId, user: PressWrite, state: AppState, note: EditNote = None,
             key_messages: EditLines = None, remove: StoryIds = [], restore: StoryIds = [],  # noqa: B006 (FastAPI form lists)
             order: EditLines = None):
    return _out(_edit(state, user, request, briefing_id, note, key_messages, remove, restore, order))


@router.post("/api/briefings/{briefing_id}/approve", response_model=BriefingOut, summary="Approve a briefing (press)",
             responses={404: {"description": "No such briefing"}, 409: {"description": "Already approved or sent"}})
def api_approve(request: Request, briefing_id: RowId, user: PressWrite, state: AppState, note: EditNote = None):
    return _out(_approve(state, user, request, briefing_id, note))


@router.post("/api/briefings/{briefing_id}/send", response_model=BriefingOut, summary="Send an approved briefing (press)",
             responses={404: {"description": "No such briefing"},
                        502: {"description": "The SMTP server refused or could not be reached (nothing sent)"},
                        409: {"description": "Not approved, being sent, sent, or nowhere to send it (no recipients, "
                                              "no SMTP server configured)"}})
def api_send(request: Request, briefing_id: RowId, user: PressWrite, state: AppState):
    return _out(_send(state, user, request, briefing_id))


@router.post("/briefings/{briefing_id}/edit", response_class=RedirectResponse, status_code=303,
             summary="Edit from the page (form)")
def form_edit(request: Request, briefing_id: RowId, user: PressWrite, state: AppState, note: EditNote = None,
              key_messages: EditLines = None, remove: StoryIds = [], restore: StoryIds = [],  # noqa: B006
              order: EditLines = None):
    _edit(state, user, request, briefing_id, note, key_messages, remove, restore, order)
    return RedirectResponse(f"/briefings/{briefing_id}?done=edit", status_code=303)


@router.post("/briefings/{briefing_id}/approve", response_class=RedirectResponse, status_code=303,
             summary="Approve from the page (form)")
def form_approve(request: Request, briefing_id: RowId, user: PressWrite, state: AppState, note: EditNote = None):
    _approve(state, user, request, briefing_id, note)
    return RedirectResponse(f"/briefings/{briefing_id}?done=approve", status_code=303)


@router.post("/briefings/{briefing_id}/send", response_class=RedirectResponse, status_code=303,
             summary="Send from the page (form)")
def form_send(request: Request, briefing_id: RowId, user: PressWrite, state: AppState):
    _send(state, user, request, briefing_id)
    return RedirectResponse(f"/briefings/{briefing_id}?done=send", status_code=303)
