"""The archive and the review: drafts, edits, approval, sending, and who did what when.

A build is stored as a **draft** (:func:`save_build`); building the same week again from the same
data finds the same content hash and keeps the stored revision (and its edits and approval); new
data makes a new revision. An editor may add a note and key messages and remove or reorder
stories (:func:`edit`: the briefing goes back to draft if it was approved), then approves it
(:func:`approve`); only an approved briefing is sent (:func:`send`), once: the send first claims
the row (``approved`` to ``sending`` in one conditional update), so two senders at once (a
double click, the CLI and the dashboard) send one e-mail, and a failed delivery puts it back to
``approved``. Every step is a ``briefing_events`` row (who, when, what).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import func, select

from briefings.build import Built, Rendered, message_for, render_all, subject_for
from briefings.settings import BriefingSettings
from briefings.week import Week
from monitor import models as m
from monitor.store import Store

b, ev = m.briefings, m.briefing_events

#: A claim to send (status ``sending``) older than this is taken to have died with its process (an
#: SMTP exchange times out long before), so the briefing may be sent again.
SEND_CLAIM_EXPIRES = timedelta(minutes=10)


class BriefingError(Exception):
    """A review step that cannot be done as asked (no such briefing, not approved, already sent...)."""


class SendFailed(BriefingError):
    """The SMTP server refused the briefing or could not be reached: nothing was sent (recorded)."""


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def _event(conn, briefing_id: int, kind: str, by: str, at: datetime, note: str | None = None,
           detail: dict | None = None) -> None:
    conn.execute(ev.insert().values(briefing_id=briefing_id, kind=kind, by=by, at=at, note=note, detail=detail))


def save_build(store: Store, built: Built, *, by: str, now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """Store a build; returns (the row, whether a new revision was made)."""
    at = _now(now)
    with store.engine.begin() as conn:
        latest = conn.execute(select(b).where(b.c.week == built.week.label).order_by(b.c.revision.desc())
                              .limit(1)).mappings().first()
        if latest is not None and latest["content_hash"] == built.content_hash:
            if latest["status"] == "draft":  # the layout may have changed since: the draft shows the current one
                r = (render_all(latest["content"], edits=latest["edits"], status="draft", charts=built.rendered.charts)
                     if latest["edits"] else built.rendered)
                conn.execute(b.update().where(b.c.id == latest["id"]).values(html=r.html, text=r.text, pdf=r.pdf))
            _event(conn, latest["id"], "rebuilt", by, at, note="same data, same content: revision kept")
            return dict(conn.execute(select(b).where(b.c.id == latest["id"])).mappings().one()), False
        rev = (latest["revision"] + 1) if latest is not None else 1
        r = built.rendered
        rid = conn.execute(b.insert().values(
            week=built.week.label, revision=rev, status="draft", week_start=built.week.start, week_end=built.week.end,
            content=built.content, content_hash=built.content_hash, edits=None,
            topics=covered(built.content), subject=subject_for(built.content, "draft"),
            html=r.html, text=r.text, pdf=r.pdf, built_at=at, built_by=by,
        ).returning(b.c.id)).scalar_one()
        _event(conn, rid, "built", by, at, detail={"stages_s": {k: round(v, 3) for k, v in built.stages_s.items()},
                                                   "revision": rev})
        row = conn.execute(select(b).where(b.c.id == rid)).mappings().one()
    return dict(row), True


def covered(content: dict[str, Any]) -> list[str]:
    """The topics a briefing reported on: those with posts or alerts that week, most important first."""
    return [t["id"] for t in content["topics"] if t["posts"] or t["alerts"]]


def get(store: Store, ref: int | str | None = None) -> dict[str, Any]:
    """A briefing by id, by week (its latest revision), or the latest of all (None)."""
    q = select(b)
    if ref is None:
        q = q.order_by(b.c.week_start.desc(), b.c.revision.desc())
    elif isinstance(ref, int) or str(ref).isdigit():
        q = q.where(b.c.id == int(ref))
    else:
        q = q.where(b.c.week == Week.parse(str(ref)).label).order_by(b.c.revision.desc())
    with store.engine.connect() as conn:
        row = conn.execute(q.limit(1)).mappings().first()
    if row is None:
        raise BriefingError("no briefing " + (f"{ref}" if ref is not None else "has been built yet")
                            + " (build one with: earshot briefing build)")
    return dict(row)


def listing(store: Store, *, topic: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The archive, newest first, without the rendered parts."""
    cols = [b.c.id, b.c.week, b.c.revision, b.c.status, b.c.week_start, b.c.week_end, b.c.subject, b.c.topics,
            b.c.built_at, b.c.built_by, b.c.edited_by, b.c.edited_at, b.c.approved_at, b.c.approved_by, b.c.sent_at,
            b.c.sent_by, b.c.sent_to, b.c.content_hash]
    q = select(*cols).order_by(b.c.week_start.desc(), b.c.revision.desc()).limit(limit if topic is None else 10_000)
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    if topic is not None:
        rows = [r for r in rows if topic in (r["topics"] or [])][:limit]
    return rows


def events(store: Store, briefing_id: int) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(ev).where(ev.c.briefing_id == briefing_id).order_by(ev.c.id)).mappings()]


_CHARTS: dict[str, list] = {}  # content hash -> its charts (the same content draws the same charts)
_CHARTS_LOCK = threading.Lock()


def charts_of(row: dict[str, Any]) -> list:
    """The row's charts, drawn once per process for its content."""
    from briefings.charts import charts_for

    key = row["content_hash"]
    with _CHARTS_LOCK:  # a page asks for its charts all at once: draw them once
        if key not in _CHARTS:
            if len(_CHARTS) >= 16:
                _CHARTS.pop(next(iter(_CHARTS)))
            _CHARTS[key] = charts_for(row["content"])
        return _CHARTS[key]


def _rerender(row: dict[str, Any], edits: dict[str, Any] | None, status: str, pdf: bool = True) -> Rendered:
    return render_all(row["content"], edits=edits, status=status, charts=charts_of(row), pdf=pdf)


def ensure_pdf(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    """The row with its PDF: an edited draft's PDF is made when first asked for (an edit stays quick)."""
    if row["pdf"]:
        return row
    from briefings.render import render_pdf

    pdf = render_pdf(row["html"], charts_of(row))
    with store.engine.begin() as conn:  # unless the briefing changed meanwhile (then its own PDF comes)
        conn.execute(b.update().where(b.c.id == row["id"], b.c.html == row["html"]).values(pdf=pdf))
    return {**row, "pdf": pdf}


def story_ids(row: dict[str, Any]) -> dict[str, list[str]]:
    return {t["id"]: [s["id"] for s in t["stories"]] for t in row["content"]["topics"]}


def edit(store: Store, ref: int | str | None, *, by: str, note: str | None = None,
         key_messages: Iterable[str] | None = None, remove: Iterable[str] = (), order: Iterable[str] = (),
         restore: Iterable[str] = (), now: datetime | None = None) -> dict[str, Any]:
    """Change a draft (or an approved briefing, which goes back to draft): note, key messages, stories.

    ``order`` lists story ids to put first, in that order, within their topics; ``remove`` takes
    stories out, ``restore`` puts removed ones back. ``note=""`` clears the note.
    """
    row = get(store, ref)
    _not_sending(row)
    if row["status"] == "sent":
        raise BriefingError(f"briefing {row['week']} r{row['revision']} was sent on {row['sent_at']:%Y-%m-%d %H:%M}; "
                            "build the week again for a new revision to edit")
    known = {sid: tid for tid, ids in story_ids(row).items() for sid in ids}
    bad = [s for s in [*remove, *order, *restore] if s not in known]
    if bad:
        raise BriefingError(f"no story {', '.join(bad)} in this briefing (see: earshot briefing preview --stories)")
    edits = dict(row["edits"] or {})
    if note is not None:
        edits["note"] = note.strip() or None
    if key_messages is not None:
        edits["key_messages"] = [k.strip() for k in key_messages if k.strip()]
    removed = (set(edits.get("removed") or ()) | set(remove)) - set(restore)
    edits["removed"] = sorted(removed)
    if order:
        by_topic: dict[str, list[str]] = dict(edits.get("order") or {})
        for tid in {known[s] for s in order}:
            by_topic[tid] = [s for s in order if known[s] == tid]
        edits["order"] = by_topic
    at = _now(now)
    r = _rerender(row, edits, "draft", pdf=False)
    with store.engine.begin() as conn:
        conn.execute(b.update().where(b.c.id == row["id"]).values(
            edits=edits, status="draft", html=r.html, text=r.text, pdf=r.pdf, subject=subject_for(row["content"], "draft"),
            edited_at=at, edited_by=by, approved_at=None, approved_by=None))
        _event(conn, row["id"], "edited", by, at, note=note, detail={"edits": edits, "was": row["status"]})
    return get(store, row["id"])


def approve(store: Store, ref: int | str | None, *, by: str, note: str | None = None,
            now: datetime | None = None) -> dict[str, Any]:
    row = get(store, ref)
    _not_sending(row)
    if row["status"] == "sent":
        raise BriefingError(f"briefing {row['week']} r{row['revision']} was already sent")
    if row["status"] == "approved":
        raise BriefingError(f"briefing {row['week']} r{row['revision']} was already approved by {row['approved_by']}")
    at = _now(now)
    r = _rerender(row, row["edits"], "approved")
    with store.engine.begin() as conn:
        conn.execute(b.update().where(b.c.id == row["id"]).values(
            status="approved", approved_at=at, approved_by=by, html=r.html, text=r.text, pdf=r.pdf,
            subject=subject_for(row["content"], "approved")))
        _event(conn, row["id"], "approved", by, at, note=note)
    return get(store, row["id"])


def rendered(row: dict[str, Any]) -> Rendered:
    """The stored row's parts with its charts (drawn again from its content: the same bytes)."""
    return Rendered(row["html"], row["text"], row["pdf"], charts_of(row))


def message(store: Store, row: dict[str, Any], *, sender: str, to: list[str]):
    """The e-mail of a stored briefing (its PDF made first if an edit left it to be made)."""
    row = ensure_pdf(store, row)
    return message_for(row["content"], rendered(row), status=row["status"], sender=sender, to=to,
                       revision=row["revision"])


def _not_sending(row: dict[str, Any]) -> None:
    if row["status"] == "sending":
        raise BriefingError(f"briefing {row['week']} r{row['revision']} is being sent by {row['sent_by']} "
                            f"(since {row['sent_at']:%Y-%m-%d %H:%M:%S} UTC)")


def send(store: Store, smtp_settings: Any, bsettings: BriefingSettings, ref: int | str | None, *, by: str,
         now: datetime | None = None) -> dict[str, Any]:
    """Send the approved briefing to the recipients over SMTP (EARSHOT_SMTP_*); recorded, once.

    The row is claimed before the e-mail goes (``approved`` -> ``sending``, conditionally), so of two
    senders at once one sends and the other is told; a failed delivery is recorded and the briefing
    is ``approved`` again. A claim older than :data:`SEND_CLAIM_EXPIRES` (its process died) may be
    taken over.
    """
    from monitor.alerts.notify import DeliveryError, send_email

    row = get(store, ref)
    at = _now(now)
    stale = at - SEND_CLAIM_EXPIRES
    if row["status"] == "sending" and row["sent_at"] is not None and row["sent_at"] > stale:
        _not_sending(row)
    if row["status"] == "sent":
        raise BriefingError(f"briefing {row['week']} r{row['revision']} was already sent on "
                            f"{row['sent_at']:%Y-%m-%d %H:%M} to {', '.join(row['sent_to'] or [])}")
    if row["status"] not in ("approved", "sending"):
        raise BriefingError(f"briefing {row['week']} r{row['revision']} is a draft: an editor must approve it first "
                            f"(earshot briefing approve {row['week']} --by NAME)")
    if not bsettings.recipients:
        raise BriefingError("no recipients: list them under 'recipients:' in "
                            f"{bsettings.path or 'config/briefing.yaml'}")
    if not smtp_settings.smtp_host:
        raise BriefingError("EARSHOT_SMTP_HOST is not set: nowhere to send the briefing")
    sender = bsettings.sender or smtp_settings.smtp_from
    msg = message(store, {**row, "status": "approved"}, sender=sender, to=bsettings.recipients)
    with store.engine.begin() as conn:  # the claim: one sender only
        claimed = conn.execute(b.update().where(
            b.c.id == row["id"], b.c.html == row["html"],
            (b.c.status == "approved") | ((b.c.status == "sending") & (b.c.sent_at <= stale)),
        ).values(status="sending", sent_at=at, sent_by=by)).rowcount
    if claimed != 1:
        now_row = get(store, row["id"])
        _not_sending(now_row)
        raise BriefingError(f"briefing {row['week']} r{row['revision']} changed while it was being sent "
                            f"(now {now_row['status']}" + (f", by {now_row['sent_by']}" if now_row["sent_by"] else "")
                            + "): nothing sent")
    try:
        send_email(smtp_settings, msg)
    except DeliveryError as exc:
        with store.engine.begin() as conn:
            conn.execute(b.update().where(b.c.id == row["id"], b.c.status == "sending", b.c.sent_by == by,
                                          b.c.sent_at == at).values(status="approved", sent_at=None, sent_by=None))
            _event(conn, row["id"], "send_failed", by, at, note=str(exc))
        raise SendFailed(f"sending failed: {exc}") from exc
    with store.engine.begin() as conn:
        conn.execute(b.update().where(b.c.id == row["id"]).values(status="sent", sent_at=at, sent_by=by,
                                                                  sent_to=list(bsettings.recipients)))
        _event(conn, row["id"], "sent", by, at, detail={"to": list(bsettings.recipients), "message_id": msg["Message-ID"]})
    return get(store, row["id"])


def notify_editors(store: Store, smtp_settings: Any, bsettings: BriefingSettings, row: dict[str, Any], *,
                   now: datetime | None = None) -> str:
    """Tell the editors a draft is ready (the draft attached); recorded. Returns what happened."""
    from email.message import EmailMessage

    from monitor.alerts.notify import DeliveryError, send_email

    at = _now(now)
    if not bsettings.editors:
        outcome = "no editors listed in briefing.yaml: nobody told"
    elif not smtp_settings.smtp_host:
        outcome = "EARSHOT_SMTP_HOST is not set: editors not e-mailed"
    else:
        msg = EmailMessage()
        msg["Subject"] = f"Draft briefing ready for review: {row['content']['period']}"
        msg["From"] = bsettings.sender or smtp_settings.smtp_from
        msg["To"] = ", ".join(bsettings.editors)
        lines = [f"The draft weekly briefing for {row['content']['period']} ({row['week']}, revision {row['revision']}) "
                 "is ready for review.", "", "At a glance:"]
        lines += [f"- {t['headline']}" for t in row["content"]["topics"]]
        lines += ["", f"Read it: earshot briefing preview {row['week']}",
                  f"Change it: earshot briefing edit {row['week']} --by NAME --note ... --remove STORY",
                  f"Approve it: earshot briefing approve {row['week']} --by NAME",
                  "", "The draft is attached as a PDF."]
        msg.set_content("\n".join(lines))
        msg.add_attachment(ensure_pdf(store, row)["pdf"], maintype="application", subtype="pdf", filename=f"draft-briefing-{row['week']}.pdf")
        try:
            send_email(smtp_settings, msg)
            outcome = f"editors told: {', '.join(bsettings.editors)}"
        except DeliveryError as exc:
            outcome = f"telling the editors failed: {exc}"
    with store.engine.begin() as conn:
        _event(conn, row["id"], "notified", "earshot", at, note=outcome)
    return outcome


def apply_edits_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row's content as its readers see it (the editor's removals and order applied)."""
    from briefings.render import apply_edits

    return apply_edits(row["content"], row["edits"])


def browser_html(row: dict[str, Any]) -> str:
    """The stored HTML for reading in a browser: the ``cid:`` charts as ``data:`` images (e-mail keeps CIDs)."""
    import base64

    html = row["html"]
    for ch in charts_of(row):
        html = html.replace(f'src="cid:{ch.cid}"', f'src="data:image/png;base64,{base64.b64encode(ch.png).decode()}"')
    return html
