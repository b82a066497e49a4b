"""Telling people: the live push, e-mail and webhooks, with retries and a record of every try.

Channels
--------
**Dashboard push** (Redis, when ``EARSHOT_REDIS_URL`` -- or a ``redis://`` broker -- is set):
every alert event (opened, updated, escalated, reopened, closed, acknowledged,
resolved) is ``PUBLISH``-ed on the channel :data:`CHANNEL` and ``XADD``-ed to the
stream :data:`STREAM` (capped at about :data:`STREAM_MAXLEN` entries), so a
dashboard that was away catches up from the stream and then follows the channel.
Each message is one JSON object: ``{"type": "alert", "event": ..., "alert": {...}}``.
A push that fails is recorded as a delivery and retried.

**E-mail** to the topic's ``recipients`` (``EARSHOT_SMTP_*``), one message per
recipient, plain text and HTML; everything that came from strangers (post texts,
names, handles, links) is escaped, and links are shown only when they are http(s).

**Webhooks** (``EARSHOT_WEBHOOKS``): ``json`` (the alert as JSON), ``teams``
(a Microsoft Teams Adaptive Card message) or ``slack`` (Slack Block Kit), posted
with a timeout, redirects not followed. The database records a webhook by its
host and a hash only: a webhook URL is a secret.

E-mails and webhooks go out when an alert opens, reopens, escalates and closes
(updates only reach the dashboard), for alerts at or above the topic's
``notify_min_severity``. In the topic's ``quiet_hours``, those of info and
warning alerts wait until the quiet hours end; critical ones go at once.
Alerts found while replaying old data (more than :data:`NOTIFY_MAX_AGE` behind
the clock) reach the dashboard and the alert list but are not e-mailed.

Retries
-------
Every e-mail and webhook is a row of ``alert_deliveries`` before it is tried. A
try that fails is retried after 1, 2, 5, 15, 30, 60 and 60 minutes
(:data:`BACKOFF_SECONDS`; a row is claimed with a lease, so two workers never send it
twice); after :data:`MAX_ATTEMPTS` (8) tries it
is marked ``failed`` and logged as an error, and stays listed by ``earshot alerts
show``. What is recorded and logged of a failure has every URL cut to its scheme and
host (:func:`strip_urls`): a webhook's path is its secret. A webhook that answers 4xx
(other than 408 and 429) fails at once: trying again cannot help. ``sweep`` -- run every minute by the beat, and by ``earshot
alerts detect`` -- sends whatever is due, so nothing waits on a process that died.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import smtplib
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time as dtime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update

from monitor import models as m
from monitor.settings import Settings, redact
from monitor.store import Store

log = logging.getLogger(__name__)

CHANNEL = "earshot:alerts"  #: Redis pub/sub channel of alert events
STREAM = "earshot:alerts:stream"  #: Redis stream of the same events, for catching up
STREAM_MAXLEN = 10_000
BACKOFF_SECONDS = (60, 120, 300, 900, 1800, 3600, 3600)  #: waits after the 1st, 2nd, ... failure
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
LEASE_SECONDS = 300  #: a claimed delivery is tried again if its sender has not finished by then
NOTIFY_MAX_AGE = timedelta(hours=2)  #: older detections are not e-mailed (replayed history)
NOTIFY_EVENTS = ("opened", "reopened", "escalated", "closed")
FORMATS = ("json", "teams", "slack")
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


class DeliveryError(Exception):
    """A delivery failed; ``permanent`` when trying again cannot help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# ----------------------------------------------------------------------------- secrets out of errors
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://([^\s/?#'\"<>()\[\]]*)([^\s'\"<>()]*)")
_URL_FIELD = re.compile(r"(\burl:\s*)(\S+)", re.IGNORECASE)  # requests: "Max retries exceeded with url: /path"


def strip_urls(text: str) -> str:
    """``text`` with every URL cut to its scheme and host, and every ``url: ...`` field blanked.

    A webhook URL is a secret (its path is the credential, as with Slack and Teams), and
    so is a password in a Redis URL: connection errors quote both, and not only the URLs
    the settings know of (a redirect's target, a proxy's). Known secrets are removed by
    :func:`monitor.settings.redact`; this catches every URL-shaped rest.
    """

    def host_only(m: re.Match) -> str:
        host = m.group(2).rsplit("@", 1)[-1]
        return f"{m.group(1)}://{host}" + ("/[redacted]" if len(m.group(3)) > 1 else "")

    text = _URL.sub(host_only, text)
    return _URL_FIELD.sub(lambda m: m.group(1) + "[redacted]", text)


# ----------------------------------------------------------------------------- redis push
_redis_lock = threading.Lock()
_redis_clients: dict[str, Any] = {}


def redis_client(url: str):
    """A Redis client for ``url`` (cached per process), with short timeouts."""
    import redis

    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)
            _redis_clients[url] = client
        return client


def push(redis_url: str, message: Mapping[str, Any]) -> None:
    """Publish ``message`` on :data:`CHANNEL` and append it to :data:`STREAM` (raises on failure)."""
    body = json.dumps(message, default=_json_default, separators=(",", ":"))
    client = redis_client(redis_url)
    pipe = client.pipeline(transaction=False)
    pipe.xadd(STREAM, {"event": body}, maxlen=STREAM_MAXLEN, approximate=True)
    pipe.publish(CHANNEL, body)
    pipe.execute()


def push_or_record(store: Store, settings: Settings, alert_id: int, message: Mapping[str, Any],
                   event_id: int | None = None) -> bool:
    """Push to the dashboard; when Redis is configured but fails, record the push for the retry sweep.

    Returns True when the message was pushed (False also when no Redis is configured).
    """
    if not settings.redis_url:
        return False
    try:
        push(settings.redis_url, message)
        return True
    except Exception as exc:  # redis errors, timeouts, refused connections
        log.warning("dashboard push of alert %s failed, will retry: %s", alert_id, _short(exc))
        with store.engine.begin() as conn:
            conn.execute(m.alert_deliveries.insert().values(
                alert_id=alert_id, event_id=event_id, channel="redis", target=CHANNEL, format="redis",
                status="pending", attempts=1, last_error=_short(exc), payload=dict(message),
                next_attempt_at=now_utc() + timedelta(seconds=BACKOFF_SECONDS[0]), created_at=now_utc()))
        return False


# ----------------------------------------------------------------------------- webhooks
def parse_webhook(spec: str) -> tuple[str, str]:
    """``(format, url)`` of one ``EARSHOT_WEBHOOKS`` entry such as ``teams:https://...``."""
    spec = spec.strip()
    fmt = "json"
    head, sep, rest = spec.partition(":")
    if sep and head.lower() in FORMATS and not rest.startswith("//"):
        fmt, spec = head.lower(), rest.strip()
    u = urlparse(spec)
    if u.scheme not in ("http", "https") or not u.netloc:
        shown = f"{u.scheme}://{u.hostname}/..." if u.hostname else "an entry"  # the rest may be the secret
        raise ValueError(f"EARSHOT_WEBHOOKS: {shown} is not an http(s) URL (prefix it with json:, teams: or slack:)")
    return fmt, spec


def webhook_name(fmt: str, url: str) -> str:
    """What the database keeps of a webhook: its format, host and a short hash, never the secret URL."""
    u = urlparse(url)
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return f"{fmt}:{u.scheme}://{u.hostname}#{digest}"


def configured_webhooks(settings: Settings) -> list[tuple[str, str, str]]:
    """``(name, format, url)`` of each configured webhook; a bad entry is logged and skipped."""
    out = []
    for spec in settings.webhooks:
        try:
            fmt, url = parse_webhook(spec)
        except ValueError as exc:
            log.error("%s", strip_urls(str(exc)))
            continue
        out.append((webhook_name(fmt, url), fmt, url))
    return out


def post_webhook(url: str, body: Mapping[str, Any], timeout: float) -> None:
    """POST ``body`` as JSON; raise :class:`DeliveryError` unless the answer is 2xx."""
    import requests

    try:
        resp = requests.post(url, json=body, timeout=(min(5.0, timeout), timeout), allow_redirects=False,
                             headers={"User-Agent": "earshot-alerts/1"})
    except requests.RequestException as exc:  # its text quotes the URL, whose path is the webhook's secret
        u = urlparse(url)
        secret = [url, u.path + (f"?{u.query}" if u.query else "")]
        raise DeliveryError(strip_urls(redact(f"{type(exc).__name__}: {exc}", [s for s in secret if len(s) > 1]))
                            ) from None
    if 200 <= resp.status_code < 300:
        return
    text = strip_urls(redact((resp.text or "")[:200].replace("\n", " "), [url]))
    permanent = 400 <= resp.status_code < 500 and resp.status_code not in (408, 429)
    raise DeliveryError(f"HTTP {resp.status_code}: {text}", permanent=permanent)


# ----------------------------------------------------------------------------- e-mail
def send_email(settings: Settings, msg: EmailMessage) -> None:
    """Send ``msg`` through the configured SMTP server (STARTTLS as configured)."""
    if not settings.smtp_host:
        raise DeliveryError("EARSHOT_SMTP_HOST is not set", permanent=True)
    timeout = max(5.0, min(settings.http_timeout, 60.0))
    try:
        if settings.smtp_port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if settings.smtp_port != 465 and (settings.smtp_starttls == "yes" or
                                              (settings.smtp_starttls == "auto" and smtp.has_extn("starttls"))):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            refused = smtp.send_message(msg)
            if refused:
                raise DeliveryError(f"recipient refused: {refused}", permanent=True)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP login refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


# ----------------------------------------------------------------------------- rendering
def alert_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The public form of an alert row (what the push and the JSON webhook carry)."""
    keys = ("id", "topic", "source", "kind", "key", "state", "severity", "title", "started_at", "opened_at",
            "updated_at", "closed_at", "peak", "current", "expected", "ratio", "score", "details",
            "acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at")
    return {k: _json_default(row.get(k)) if isinstance(row.get(k), datetime) else row.get(k) for k in keys}


def event_message(event: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "alert", "event": event, "alert": alert_json(row)}


_SAFE_HEADER = re.compile(r"[\x00-\x1f\x7f]+")


def _summary_lines(row: Mapping[str, Any]) -> list[str]:
    """Plain lines describing the figures of an alert (no stranger text)."""
    kind = row.get("kind")
    out = []
    cur, exp, ratio, peak = row.get("current"), row.get("expected"), row.get("ratio"), row.get("peak")
    d = row.get("details") or {}
    if kind == "volume":
        out.append(f"Posts per hour now: {cur:.0f} (normally about {exp:.0f}) - {ratio:.1f} times normal" if cur is not None and exp is not None and ratio is not None else "")
        if peak is not None:
            out.append(f"Peak: {peak:.0f} posts per hour")
    elif kind == "sentiment":
        if cur is not None and exp is not None:
            out.append(f"Negative posts: {cur:.0%} (normally {exp:.0%})")
    elif kind == "silence":
        out.append(f"No posts for {d.get('silent_hours', 0):.1f} hours; about {exp or 0:.0f} were expected")
    elif kind == "voice":
        out.append(f"Amplified by {cur or 0:.0f} distinct accounts in the last hour (peak {peak or 0:.0f})")
    elif kind == "stakeholder":
        out.append(f"{d.get('posts_count', 1)} post(s) by the stakeholder")
    elif kind == "source":
        out.append(d.get("reason", ""))
    coord = d.get("coordination") or {}
    if coord.get("share"):
        rings = ", ".join(str(r["ring"]) for r in (coord.get("rings") or [])[:3])
        out.append(f"Coordinated: {coord['share']:.0%} of the rise ({coord.get('flagged_posts')} of "
                   f"{coord.get('posts')} posts) came from accounts flagged as coordinated"
                   + (f" (ring {rings})" if rings else ""))
    sent = d.get("sentiment") or {}
    if sent.get("negative_share") is not None and kind in ("volume", "sentiment"):
        out.append(f"Sentiment: {sent['negative_share']:.0%} negative (norm {sent.get('norm', 0):.0%}), "
                   f"mean {sent.get('mean', 0):+.2f}")
    return [x for x in out if x]


def _fmt_time(dt: Any, tz: str) -> str:
    if not isinstance(dt, datetime):
        return "-"
    try:
        zone = ZoneInfo(tz)
    except Exception:
        zone = ZoneInfo("UTC")
    return dt.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")


def _safe_url(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    u = urlparse(url.strip())
    return url.strip() if u.scheme in ("http", "https") and u.netloc else None


def subject_for(event: str, row: Mapping[str, Any]) -> str:
    sev = str(row.get("severity", "")).upper()
    title = str(row.get("title", ""))
    prefix = {"closed": "back to normal", "escalated": f"now {sev}", "reopened": f"{sev} again"}.get(event, sev)
    return _SAFE_HEADER.sub(" ", f"[Earshot] {prefix}: {title}")[:250]


def render_email(event: str, row: Mapping[str, Any], *, sender: str, recipient: str,
                 events: Sequence[Mapping[str, Any]] = (), tz: str = "Europe/London") -> EmailMessage:
    """The e-mail for ``event`` on the alert ``row``: a text part and an HTML part, stranger text escaped."""
    d = row.get("details") or {}
    msg = EmailMessage()
    msg["Subject"] = subject_for(event, row)
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="earshot.local")
    msg["X-Earshot-Alert"] = str(row.get("id"))
    state = row.get("state")
    lines = [str(row.get("title", "")), "",
             f"Alert #{row.get('id')} - {row.get('kind')} - {str(row.get('severity')).upper()} - {state}"
             + (" - back to normal" if row.get("closed_at") else ""),
             f"Topic: {d.get('label') or row.get('topic') or row.get('source')}",
             f"Started: {_fmt_time(row.get('started_at') or row.get('opened_at'), tz)}",
             f"Detected: {_fmt_time(row.get('opened_at'), tz)}"]
    if row.get("closed_at"):
        lines.append(f"Back to normal: {_fmt_time(row.get('closed_at'), tz)}")
    lines += _summary_lines(row)
    posts = d.get("top_posts") or []
    if posts:
        lines += ["", "Top posts:"]
        for p in posts[:5]:
            lines.append(f"- @{p.get('handle') or '?'} ({p.get('amplified', 0)} amplifications): "
                         f"{(p.get('text') or '').strip()[:280]}")
            if _safe_url(p.get("url")):
                lines.append(f"  {p['url']}")
    accounts = d.get("top_accounts") or []
    if accounts:
        lines += ["", "Accounts driving it:"]
        for a in accounts[:5]:
            lines.append(f"- @{a.get('handle') or '?'} {a.get('name') or ''}: amplified by {a.get('amplifiers', 0)}, "
                         f"{a.get('posts', 0)} posts")
    amps = d.get("top_amplifiers") or []
    if amps:
        lines += ["", "Most active amplifiers:"]
        for a in amps[:5]:
            lines.append(f"- @{a.get('handle') or '?'}: {a.get('amplifications', 0)} retweets/quotes")
    if events:
        lines += ["", "History:"]
        for e in events[-10:]:
            who = f" by {e.get('by')}" if e.get("by") and e.get("by") != "earshot" else ""
            note = f" - {e.get('note')}" if e.get("note") else ""
            lines.append(f"- {_fmt_time(e.get('at'), tz)}: {e.get('kind')}{who}{note}")
    lines += ["", f"Acknowledge: earshot alerts ack {row.get('id')} --by YOUR-NAME --note '...'",
              f"Resolve:     earshot alerts resolve {row.get('id')} --by YOUR-NAME"]
    msg.set_content("\n".join(lines))
    msg.add_alternative(_render_html(row, event, d, posts, accounts, amps, events, tz), subtype="html")
    return msg


def _render_html(row, event, d, posts, accounts, amps, events, tz) -> str:
    e = html.escape
    colour = {"critical": "#b00020", "warning": "#b35c00", "info": "#1f5fa8"}.get(row.get("severity"), "#333")
    parts = [
        "<!doctype html><html><body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222\">",
        f"<p style=\"color:{colour};font-weight:bold;text-transform:uppercase\">{e(str(row.get('severity')))}"
        f"{' &middot; back to normal' if row.get('closed_at') else ''}</p>",
        f"<h2 style=\"margin:0 0 8px\">{e(str(row.get('title', '')))}</h2>",
        "<table cellpadding=\"3\" style=\"border-collapse:collapse\">",
    ]
    rows = [("Alert", f"#{row.get('id')} ({row.get('kind')}, {row.get('state')})"),
            ("Topic", d.get("label") or row.get("topic") or row.get("source") or ""),
            ("Started", _fmt_time(row.get("started_at") or row.get("opened_at"), tz)),
            ("Detected", _fmt_time(row.get("opened_at"), tz))]
    if row.get("closed_at"):
        rows.append(("Back to normal", _fmt_time(row.get("closed_at"), tz)))
    for k, v in rows:
        parts.append(f"<tr><td style=\"color:#666\">{e(k)}</td><td>{e(str(v))}</td></tr>")
    parts.append("</table>")
    summary = _summary_lines(row)
    if summary:
        parts.append("<ul>" + "".join(f"<li>{e(s)}</li>" for s in summary) + "</ul>")
    if posts:
        parts.append("<h3>Top posts</h3><ol>")
        for p in posts[:5]:
            url = _safe_url(p.get("url"))
            link = f" <a href=\"{e(url, quote=True)}\">open</a>" if url else ""
            parts.append(f"<li><b>@{e(str(p.get('handle') or '?'))}</b> "
                         f"<span style=\"color:#666\">({int(p.get('amplified') or 0)} amplifications)</span><br>"
                         f"{e((p.get('text') or '').strip()[:280])}{link}</li>")
        parts.append("</ol>")
    if accounts:
        parts.append("<h3>Accounts driving it</h3><ul>")
        for a in accounts[:5]:
            parts.append(f"<li><b>@{e(str(a.get('handle') or '?'))}</b> {e(str(a.get('name') or ''))}: "
                         f"amplified by {int(a.get('amplifiers') or 0)}, {int(a.get('posts') or 0)} posts</li>")
        parts.append("</ul>")
    if amps:
        parts.append("<h3>Most active amplifiers</h3><ul>")
        for a in amps[:5]:
            parts.append(f"<li>@{e(str(a.get('handle') or '?'))}: {int(a.get('amplifications') or 0)} retweets/quotes</li>")
        parts.append("</ul>")
    if events:
        parts.append("<h3>History</h3><ul>")
        for ev in events[-10:]:
            who = f" by {e(str(ev.get('by')))}" if ev.get("by") and ev.get("by") != "earshot" else ""
            note = f" &mdash; {e(str(ev.get('note')))}" if ev.get("note") else ""
            parts.append(f"<li>{e(_fmt_time(ev.get('at'), tz))}: {e(str(ev.get('kind')))}{who}{note}</li>")
        parts.append("</ul>")
    parts.append(f"<p style=\"color:#666\">Acknowledge: <code>earshot alerts ack {int(row.get('id') or 0)} "
                 f"--by YOUR-NAME</code></p></body></html>")
    return "".join(parts)


def _md_escape(text: str) -> str:
    """Escape Markdown (Teams) so stranger text cannot make links, headings or emphasis."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", text)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_webhook(fmt: str, event: str, row: Mapping[str, Any], tz: str = "Europe/London") -> dict[str, Any]:
    """The body posted to a ``json``, ``teams`` or ``slack`` webhook."""
    if fmt == "json":
        return {"source": "earshot", **event_message(event, row)}
    d = row.get("details") or {}
    subject = subject_for(event, row).removeprefix("[Earshot] ")
    facts = [("Alert", f"#{row.get('id')} {row.get('kind')} ({row.get('state')})"),
             ("Topic", str(d.get("label") or row.get("topic") or row.get("source") or "")),
             ("Detected", _fmt_time(row.get("opened_at"), tz))]
    summary = _summary_lines(row)
    posts = (d.get("top_posts") or [])[:3]
    if fmt == "slack":
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{_slack_escape(v)}"} for k, v in facts]},
        ]
        if summary:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape("\n".join(summary))}})
        for p in posts:
            text = _slack_escape(f"@{p.get('handle') or '?'}: {(p.get('text') or '').strip()[:280]}")
            url = _safe_url(p.get("url"))
            if url:
                text += f" <{_slack_escape(url)}|open>"
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
        return {"text": _slack_escape(subject), "blocks": blocks}
    if fmt == "teams":
        body: list[dict[str, Any]] = [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True, "text": _md_escape(subject),
             "color": {"critical": "Attention", "warning": "Warning"}.get(row.get("severity"), "Default")},
            {"type": "FactSet", "facts": [{"title": k, "value": _md_escape(v)} for k, v in facts]},
        ]
        for s in summary:
            body.append({"type": "TextBlock", "wrap": True, "text": _md_escape(s)})
        for p in posts:
            body.append({"type": "TextBlock", "wrap": True, "isSubtle": True,
                         "text": _md_escape(f"@{p.get('handle') or '?'}: {(p.get('text') or '').strip()[:280]}")})
        card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                                "type": "AdaptiveCard", "version": "1.4", "body": body}
        url = next((_safe_url(p.get("url")) for p in posts if _safe_url(p.get("url"))), None)
        if url:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the top post", "url": url}]
        return {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}
    raise ValueError(f"unknown webhook format {fmt!r} (use json, teams or slack)")


# ----------------------------------------------------------------------------- planning
def parse_quiet_hours(spec: str | None) -> tuple[dtime, dtime] | None:
    if not spec:
        return None
    a, _, b = spec.partition("-")
    h1, m1 = a.strip().split(":")
    h2, m2 = b.strip().split(":")
    return dtime(int(h1), int(m1)), dtime(int(h2), int(m2))


def quiet_until(spec: str | None, tz: str, now: datetime) -> datetime | None:
    """When the quiet hours ``spec`` (``"22:00-07:00"``, local to ``tz``) around ``now`` end, or None if not quiet."""
    window = parse_quiet_hours(spec)
    if window is None:
        return None
    start, end = window
    if start == end:
        return None
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date()
    if start > end and t >= start:  # before midnight: ends tomorrow
        day = day + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(timezone.utc)


def plan(conn, *, alert_id: int, event_id: int | None, event: str, severity: str, recipients: Iterable[str],
         alert_settings: Mapping[str, Any], settings: Settings, now: datetime) -> list[int]:
    """Write the e-mail and webhook deliveries of one alert event; return their ids (those due now).

    Rows are written in the caller's transaction, so an event and its deliveries
    commit together or not at all.
    """
    if event not in NOTIFY_EVENTS:
        return []
    minimum = alert_settings.get("notify_min_severity") or "info"
    if SEVERITY_RANK.get(severity, 0) < SEVERITY_RANK.get(minimum, 0):
        return []
    tz = alert_settings.get("timezone") or "Europe/London"
    held = None if severity == "critical" else quiet_until(alert_settings.get("quiet_hours"), tz, now)
    rows = []
    for addr in dict.fromkeys(recipients):
        status, err = ("pending", None) if settings.smtp_host else ("skipped", "EARSHOT_SMTP_HOST is not set")
        rows.append({"channel": "email", "target": addr, "format": "email", "status": status, "last_error": err})
    for name, fmt, _url in configured_webhooks(settings):
        rows.append({"channel": "webhook", "target": name, "format": fmt, "status": "pending", "last_error": None})
    due = []
    for r in rows:
        res = conn.execute(m.alert_deliveries.insert().values(
            alert_id=alert_id, event_id=event_id, attempts=0, created_at=now,
            next_attempt_at=(held or now) if r["status"] == "pending" else None,
            payload={"event": event, **({"held_until": held.isoformat()} if held else {})}, **r))
        if r["status"] == "pending" and held is None:
            due.append(res.inserted_primary_key[0])
    return due


# ----------------------------------------------------------------------------- sending
Dispatcher = Callable[[Store, Sequence[int], Settings], None]
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def deliver_in_background(store: Store, ids: Sequence[int], settings: Settings) -> None:
    """The default dispatcher: send on a small background pool (the rows are safe in the database)."""
    global _executor
    if not ids:
        return
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="earshot-notify")
    _executor.submit(_safe_deliver, store, list(ids), settings)


def _safe_deliver(store: Store, ids: list[int], settings: Settings) -> None:
    try:
        deliver(store, ids, settings)
    except Exception as exc:  # pragma: no cover - logged; the sweep tries again
        log.error("alert delivery failed: %s", _short(exc))


def deliver_now(store: Store, ids: Sequence[int], settings: Settings) -> None:
    """A dispatcher that sends before returning (CLI commands, tests)."""
    deliver(store, ids, settings)


_dispatcher: Dispatcher = deliver_in_background


def set_dispatcher(fn: Dispatcher | None) -> Dispatcher:
    """Choose how new deliveries are sent (worker.py hands them to Celery); returns the previous one."""
    global _dispatcher
    old = _dispatcher
    _dispatcher = fn or deliver_in_background
    return old


def dispatch(store: Store, ids: Sequence[int], settings: Settings) -> None:
    if ids:
        _dispatcher(store, list(ids), settings)


def _claim(store: Store, ids: Sequence[int] | None, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Claim due deliveries (by id, or all due); return their rows. A claim is a lease."""
    d = m.alert_deliveries
    due = or_(and_(d.c.status == "pending", d.c.next_attempt_at <= now),
              and_(d.c.status == "sending", d.c.next_attempt_at <= now))
    q = select(d.c.id).where(due).order_by(d.c.next_attempt_at).limit(limit)
    if ids is not None:
        q = q.where(d.c.id.in_(list(ids)))
    claimed = []
    with store.engine.begin() as conn:
        candidates = [r.id for r in conn.execute(q)]
    for did in candidates:
        with store.engine.begin() as conn:
            res = conn.execute(update(d).where(d.c.id == did, due).values(
                status="sending", next_attempt_at=now + timedelta(seconds=LEASE_SECONDS)))
            if res.rowcount == 1:
                row = conn.execute(select(d).where(d.c.id == did)).mappings().first()
                claimed.append(dict(row))
    return claimed


def deliver(store: Store, ids: Sequence[int] | None, settings: Settings, *, now: datetime | None = None,
            limit: int = 200) -> dict[str, int]:
    """Send the given deliveries (or every due one when ``ids`` is None); record each outcome.

    Returns counts: ``sent``, ``retry`` (failed, will be tried again), ``failed`` (given up).
    """
    now = now or now_utc()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    rows = _claim(store, ids, now, limit)
    if not rows:
        return counts
    hooks = {name: (fmt, url) for name, fmt, url in configured_webhooks(settings)}
    alerts_cache: dict[int, dict[str, Any]] = {}
    for row in rows:
        try:
            _send_one(store, row, settings, hooks, alerts_cache)
        except DeliveryError as exc:
            outcome = _record_failure(store, row, exc, now)
            counts[outcome] += 1
        except Exception as exc:  # an unexpected bug must not lose the delivery either
            log.error("delivery %s raised %s", row["id"], _short(exc))  # no traceback: it would quote URLs
            counts[_record_failure(store, row, DeliveryError(f"{type(exc).__name__}: {exc}"), now)] += 1
        else:
            with store.engine.begin() as conn:
                conn.execute(update(m.alert_deliveries).where(m.alert_deliveries.c.id == row["id"]).values(
                    status="sent", attempts=row["attempts"] + 1, sent_at=now_utc(), last_error=None,
                    next_attempt_at=None))
            counts["sent"] += 1
    return counts


def sweep(store: Store, settings: Settings, *, now: datetime | None = None) -> dict[str, int]:
    """Send every due delivery: retries, held ones whose quiet hours are over, abandoned leases."""
    return deliver(store, None, settings, now=now)


def _alert_for(store: Store, alert_id: int, cache: dict[int, dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if alert_id not in cache:
        with store.engine.connect() as conn:
            row = conn.execute(select(m.alerts).where(m.alerts.c.id == alert_id)).mappings().first()
            events = [dict(e) for e in conn.execute(select(m.alert_events).where(
                m.alert_events.c.alert_id == alert_id).order_by(m.alert_events.c.id)).mappings()]
        if row is None:
            raise DeliveryError(f"alert {alert_id} no longer exists", permanent=True)
        cache[alert_id] = (dict(row), events)
    return cache[alert_id]


def _send_one(store: Store, row: Mapping[str, Any], settings: Settings, hooks, cache) -> None:
    channel = row["channel"]
    payload = row.get("payload") or {}
    if channel == "redis":
        if not settings.redis_url:
            raise DeliveryError("no Redis configured any more (EARSHOT_REDIS_URL)", permanent=True)
        try:
            push(settings.redis_url, payload)
        except Exception as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        return
    alert, events = _alert_for(store, row["alert_id"], cache)
    event = payload.get("event", "opened")
    tz = ((alert.get("details") or {}).get("timezone")) or "Europe/London"
    if channel == "email":
        msg = render_email(event, alert, sender=settings.smtp_from, recipient=row["target"], events=events, tz=tz)
        send_email(settings, msg)
    elif channel == "webhook":
        hook = hooks.get(row["target"])
        if hook is None:
            raise DeliveryError("this webhook is no longer configured in EARSHOT_WEBHOOKS", permanent=True)
        fmt, url = hook
        post_webhook(url, render_webhook(fmt, event, alert, tz), settings.http_timeout)
    else:
        raise DeliveryError(f"unknown channel {channel!r}", permanent=True)


def _record_failure(store: Store, row: Mapping[str, Any], exc: DeliveryError, now: datetime) -> str:
    attempts = row["attempts"] + 1
    give_up = exc.permanent or attempts >= MAX_ATTEMPTS
    values: dict[str, Any] = {"attempts": attempts, "last_error": _short(exc)}
    if give_up:
        values.update(status="failed", next_attempt_at=None)
        log.error("alert %s: %s delivery to %s failed for good after %d attempt(s): %s",
                  row["alert_id"], row["channel"], row["target"], attempts, _short(exc))
    else:
        wait = BACKOFF_SECONDS[min(attempts - 1, len(BACKOFF_SECONDS) - 1)]
        values.update(status="pending", next_attempt_at=now + timedelta(seconds=wait))
        log.warning("alert %s: %s delivery to %s failed (attempt %d, next in %ds): %s",
                    row["alert_id"], row["channel"], row["target"], attempts, wait, _short(exc))
    with store.engine.begin() as conn:
        conn.execute(update(m.alert_deliveries).where(m.alert_deliveries.c.id == row["id"]).values(**values))
    return "failed" if give_up else "retry"


def _short(exc: BaseException) -> str:
    """What is recorded and logged of a failure: its text, every URL in it redacted."""
    return strip_urls(str(exc))[:2000] or type(exc).__name__


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
