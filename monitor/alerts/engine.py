"""Detection runs: after each stored batch, and every minute on the beat.

A run takes each topic's saved detector (``alert_state``), feeds it the rollup
buckets it has not seen, looks at the newest buckets still filling, checks for
emerging voices and stakeholder posts, and turns the resulting transitions into
alert rows, history events and deliveries -- in one transaction guarded by the
state's version, so two workers running the same topic at once never both apply
(the loser re-reads and tries again). After the commit, the events are pushed to
the dashboard and the e-mails and webhooks are handed to the dispatcher.

Time
----
Detection runs in *data time*: after a batch, up to the newest post of the batch
(so replaying last month's files raises last month's alerts at the right
moments); on the beat, up to the clock (so a topic gone silent is noticed). A
bucket is *settled* -- learnt from, and able to close an incident -- once the
run's horizon is :data:`SETTLE` past its end, which leaves room for posts that
arrive late; newer buckets are looked at provisionally and can open an alert at
once. A topic seen for the first time is primed from up to :data:`CATCHUP_DAYS`
of stored rollups.

Emerging voices
---------------
Every :data:`VOICE_STEP` of data time, the accounts whose posts on the topic were
amplified (retweeted or quoted) by at least ``voice_min_amplifiers`` distinct
accounts within the last hour, and which are not among the topic's
:data:`VOICE_TOP_N` most amplified accounts of the previous week, raise a
``voice`` alert (warning). It closes after an hour below half that. Needs a day
of the topic's history.

Stakeholders
------------
A post on the topic by one of its ``stakeholders`` opens (or updates) an ``info``
alert for that stakeholder; it closes after :data:`STAKEHOLDER_QUIET` without
another.

Sources
-------
On the beat, each configured polled source is watched from its
``source_state``: an alert (warning) when it has not stored a new item for
``silence_hours`` although its own history says it normally brings at least 10
in that time, or when it has been failing (or not run) for an hour.
"""

from __future__ import annotations

import bisect
import logging
import math
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from monitor import models as m
from monitor.alerts import notify
from monitor.alerts.detector import (SEVERITIES, Incident, Params, TopicDetector, Transition, alert_figures, headline,
                                     rank)
from monitor.alerts.records import ENGINE_USER, add_event
from monitor.config import ALERT_DEFAULTS, Config, Topic, load_config
from monitor.items import Batch
from monitor.settings import Settings, load_settings
from monitor.store import Store, WriteResult

log = logging.getLogger(__name__)

B = m.BUCKET_SECONDS
SETTLE = timedelta(minutes=10)  #: how long after a bucket ends before it is settled
CATCHUP_DAYS = 28  #: history a topic seen for the first time is primed from
MAX_CLOCK_SKEW = timedelta(minutes=5)  #: posts dated further in the future are taken as "now"
DETAILS_SPAN = 3 * 3600  #: the longest stretch of an incident its top posts and accounts are drawn from
DETAILS_REFRESH = 300  #: seconds of data time between refreshes of an open alert's top posts and accounts
UPDATE_EVENT_SECONDS = 900  #: an "updated" history event at most this often per alert
VOICE_WINDOW = 3600
VOICE_STEP = 300
VOICE_BASELINE_DAYS = 7
VOICE_TOP_N = 20
USUAL_REFRESH = 6 * 3600  #: data time between recomputations of a topic's usual top voices
VOICE_KINDS = ("retweet", "quote")
VOICE_HISTORY = 86400  #: topic history needed before voices are judged
STAKEHOLDER_QUIET = 7200
SOURCE_FAIL_GRACE = 3600
SOURCE_MIN_EXPECTED = 10.0
SOURCE_HISTORY = 86400
RETRIES = 3


#: Kinds of alert that tell a story (the press office's to judge): back to normal, they stay open
#: (acknowledged or not) until someone resolves them with the outcome, so a crisis that ran and
#: calmed overnight is still on the live page in the morning. Silence, source and stakeholder
#: alerts, and info ones, are resolved by the engine when back to normal.
REVIEW_KINDS = ("volume", "sentiment", "voice")


def for_review(kind: str | None, severity: str) -> bool:
    """Whether an alert back to normal stays open for a person to resolve (see :data:`REVIEW_KINDS`)."""
    return kind in REVIEW_KINDS and rank(severity) >= rank("warning")


class _Conflict(Exception):
    """Another run saved this state first."""


@dataclass
class DetectSummary:
    """What a detection run did."""

    topics: int = 0
    buckets: int = 0
    opened: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    updated: int = 0
    deliveries: list[int] = field(default_factory=list)
    pushed: int = 0
    conflicts: int = 0

    def add(self, other: "DetectSummary") -> None:
        self.topics += other.topics
        self.buckets += other.buckets
        self.opened += other.opened
        self.closed += other.closed
        self.updated += other.updated
        self.deliveries += other.deliveries
        self.pushed += other.pushed
        self.conflicts += other.conflicts


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


# ----------------------------------------------------------------------------- runtime
_cfg_lock = threading.Lock()
_cfg_cache: dict[str, tuple[float, Config]] = {}


def runtime() -> tuple[Config, Settings]:
    """The configuration and settings in force: the app context's when built, else read (cached by mtime)."""
    app = sys.modules.get("monitor.app")
    ctx = getattr(app, "_context", None) if app is not None else None
    if ctx is not None:
        return ctx.config, ctx.settings
    settings = load_settings()
    path = Path(settings.config_path)
    mtime = path.stat().st_mtime if path.exists() else 0.0
    with _cfg_lock:
        hit = _cfg_cache.get(str(path))
        if hit is None or hit[0] != mtime:
            hit = (mtime, load_config(path))
            _cfg_cache[str(path)] = hit
    return hit[1], settings


def after_batch(store: Store, batch: Batch, result: WriteResult, *, now: datetime | None = None) -> None:
    """The ``earshot.after_batch`` hook: detect on the topics that got new posts, up to the batch's newest post.

    ``now`` is the clock (default: the real one): posts dated more than
    :data:`MAX_CLOCK_SKEW` after it are taken as arriving now, and alerts found more
    than ``notify.NOTIFY_MAX_AGE`` before it are recorded but not e-mailed.
    """
    topics = [t for t, n in result.topic_posts.items() if n]
    if not topics:
        return
    times = [p.created_at for p in batch.posts if p.created_at is not None]
    if not times:
        return
    wall = now or now_utc()
    horizon = min(max(times), wall + MAX_CLOCK_SKEW)
    config, settings = runtime()
    detect(store, config, settings, horizon=horizon, topics=topics, sources=False, now=wall)


# ----------------------------------------------------------------------------- the run
def detect(store: Store, config: Config, settings: Settings | None = None, *, now: datetime | None = None,
           horizon: datetime | None = None, topics: Iterable[str] | None = None, sources: bool = True,
           dispatch: bool = True) -> DetectSummary:
    """Run detection once.

    Parameters
    ----------
    now : datetime, optional
        The clock (default: the real one); quiet hours and source checks use it.
    horizon : datetime, optional
        Data time to detect up to (default ``now``).
    topics : iterable of str, optional
        Topic ids (default: all configured).
    sources : bool
        Also watch the configured sources for silence and failure.
    dispatch : bool
        Hand new e-mails and webhooks to the dispatcher (see :func:`notify.set_dispatcher`).
    """
    settings = settings or load_settings()
    wall = now or now_utc()
    horizon = horizon or wall
    summary = DetectSummary()
    # two passes: every topic's alerts are published first; a voice watch that needs the week's recount
    # of its usual voices (0.2-0.4 s a topic at 2M posts) leaves that look, and the later ones, to the
    # second pass, which runs those topics again (nothing new for their other detectors)
    later: list[Topic] = []
    for tid in (list(topics) if topics is not None else list(config.topics)):
        topic = config.topics.get(tid)
        if topic is None:
            continue
        if _run_topic(store, topic, settings, horizon, wall, summary, defer_usual=True):
            later.append(topic)
    if sources:
        summary.add(_run_sources(store, config, settings, wall))
    if dispatch and summary.deliveries:
        notify.dispatch(store, summary.deliveries, settings)
    if later:
        second = DetectSummary()
        for topic in later:
            _run_topic(store, topic, settings, horizon, wall, second, defer_usual=False)
        second.topics = 0  # the same topics, counted once
        if dispatch and second.deliveries:
            notify.dispatch(store, second.deliveries, settings)
        summary.add(second)
    return summary


def _run_topic(store: Store, topic: Topic, settings: Settings, horizon: datetime, wall: datetime,
               summary: DetectSummary, *, defer_usual: bool) -> bool:
    """Detect on one topic (retried when another run saved first); True when its voice watch left
    looks for a second pass."""
    for attempt in range(RETRIES):
        run = _TopicRun(store, topic, settings, horizon, wall, defer_usual=defer_usual)
        try:
            summary.add(run.run())
            return run.deferred
        except (_Conflict, IntegrityError):
            summary.conflicts += 1
            if attempt == RETRIES - 1:
                log.info("topic %s: detection skipped, another run saved first", topic.id)
    return False


def _load_state(store: Store, key: str) -> tuple[dict[str, Any] | None, int | None]:
    s = m.alert_state
    with store.engine.connect() as conn:
        row = conn.execute(select(s.c.state, s.c.version).where(s.c.key == key)).first()
    return (dict(row.state), row.version) if row else (None, None)


def _save_state(conn, key: str, state: dict[str, Any], version: int | None, wall: datetime) -> None:
    s = m.alert_state
    if version is None:  # a concurrent first run makes this fail with IntegrityError: the caller retries
        conn.execute(insert(s).values(key=key, state=state, version=1, updated_at=wall))
        return
    res = conn.execute(update(s).where(s.c.key == key, s.c.version == version)
                       .values(state=state, version=version + 1, updated_at=wall))
    if res.rowcount != 1:
        raise _Conflict(key)


class _Applier:
    """Turns transitions into alert rows, events and deliveries inside one transaction."""

    def __init__(self, conn, settings: Settings, wall: datetime, alert_settings: Mapping[str, Any],
                 recipients: Sequence[str]):
        self.conn = conn
        self.settings = settings
        self.wall = wall
        self.alert_settings = alert_settings
        self.recipients = list(recipients)
        self.messages: list[tuple[str, int, int | None]] = []  # (event, alert id, event id)
        self.summary = DetectSummary()

    def apply(self, transitions: list[Transition], describe) -> None:
        """Apply in order; consecutive updates of one incident collapse into the last."""
        pending: dict[str, Transition] = {}
        for tr in transitions:
            if tr.action == "update":
                pending[tr.key] = tr
                continue
            pending.pop(tr.key, None)
            self._apply_one(tr, describe)
        for tr in pending.values():
            self._apply_one(tr, describe)

    def _apply_one(self, tr: Transition, describe) -> None:
        a = m.alerts
        inc = tr.incident
        at = _dt(tr.at)
        fields, details_fn = describe(tr)
        severity = fields.pop("severity", None) or tr.severity  # the describer may lower it (coordination)
        row = None
        if inc.alert_id is not None:
            row = self.conn.execute(select(a).where(a.c.id == inc.alert_id)).mappings().first()
        snapshot = {k: fields.get(k) for k in ("current", "expected", "ratio", "peak", "score")}
        if row is None and tr.action in ("update", "close"):
            return  # nothing to update: its alert was deleted
        if row is not None and tr.action in ("update", "close"):
            severity = row["severity"]  # as it was set (perhaps lowered for coordination)
        # "open" is always a new alert, even when the incident still names the row of an earlier one:
        # one run can hold open, close and open again of the same key (a catch-up over days of history),
        # and the first open's row is what inc.alert_id points at by the time the second is applied
        if row is None or tr.action == "open":
            details = details_fn(None)
            res = self.conn.execute(a.insert().values(
                state="open", severity=severity, opened_at=at, updated_at=at, created_at=self.wall,
                started_at=_dt(inc.started_at) if inc.started_at else at, details=details, **fields))
            alert_id = res.inserted_primary_key[0]
            inc.alert_id = alert_id
            inc_meta(inc)["details_at"] = tr.at
            inc_meta(inc)["noted_at"] = tr.at
            ev = add_event(self.conn, alert_id, "opened", at, severity=severity, snapshot=snapshot)
            self.summary.opened.append(alert_id)
            self._notify("opened", alert_id, ev, severity, at)
            return
        alert_id = row["id"]
        meta = inc_meta(inc)
        values: dict[str, Any] = {"updated_at": at, **fields}
        # the details tell why: refreshed while the signal fires, kept as they were when it calms down
        firing = inc.last_hot_at == tr.at
        refresh = (tr.action in ("reopen", "escalate") or (inc.kind or tr.kind) == "stakeholder"
                   or (tr.action == "update" and firing and tr.at - meta.get("details_at", 0) >= DETAILS_REFRESH))
        if refresh:
            values["details"] = details_fn(row.get("details"))
            meta["details_at"] = tr.at
        if tr.action == "close" or (tr.action == "update" and (inc.kind or tr.kind) != "silence"):
            values.pop("title", None)  # the title tells the peak moment: set on open, reopen and escalate
            # (a silence's title counts its hours, so it follows them)
        if tr.action == "update":
            self.conn.execute(update(a).where(a.c.id == alert_id).values(**values))
            self.summary.updated += 1
            ev = None
            if tr.at - meta.get("noted_at", 0) >= UPDATE_EVENT_SECONDS:
                ev = add_event(self.conn, alert_id, "updated", at, severity=severity, snapshot=snapshot)
                meta["noted_at"] = tr.at
            self.messages.append(("updated", alert_id, ev))
            return
        if tr.action == "reopen":
            values.update(closed_at=None, severity=severity)
            if row["state"] == "resolved":
                values.update(state="open", resolved_by=None, resolved_at=None)
            event = "reopened"
        elif tr.action == "escalate":
            values.update(severity=severity)
            event = "escalated"
        elif tr.action == "close":
            values.update(closed_at=at)
            if row["state"] != "resolved" and not for_review(row["kind"], severity):
                values.update(state="resolved", resolved_by=ENGINE_USER, resolved_at=at)
            event = "closed"
            self.summary.closed.append(alert_id)
        else:  # pragma: no cover - the detector has no other actions
            raise ValueError(tr.action)
        self.conn.execute(update(a).where(a.c.id == alert_id).values(**values))
        note = None
        if event == "closed":
            note = "back to normal" + ("; open until someone resolves it with the outcome"
                                       if values.get("state") != "resolved" and row["state"] != "resolved" else "")
        ev = add_event(self.conn, alert_id, event, at, severity=severity, snapshot=snapshot, note=note)
        meta["noted_at"] = tr.at
        # a person resolved it while it ran: keep the record current, do not announce it again
        if not (row["state"] == "resolved" and row["resolved_by"] != ENGINE_USER and event == "escalated"):
            self._notify(event, alert_id, ev, severity, at)
        else:
            self.messages.append((event, alert_id, ev))

    def _notify(self, event: str, alert_id: int, event_id: int, severity: str, at: datetime) -> None:
        self.messages.append((event, alert_id, event_id))
        if at < self.wall - notify.NOTIFY_MAX_AGE:
            return  # replayed history: the dashboard and the list have it; nobody is e-mailed about last month
        self.summary.deliveries += notify.plan(
            self.conn, alert_id=alert_id, event_id=event_id, event=event, severity=severity,
            recipients=self.recipients, alert_settings=self.alert_settings, settings=self.settings, now=self.wall)


def inc_meta(inc: Incident) -> dict[str, Any]:
    """Bookkeeping the engine keeps with an incident (when details and history were last written)."""
    return inc.meta


def _inc_to_dict(inc: Incident) -> dict[str, Any]:
    return inc.to_dict()


def _inc_from_dict(d: Mapping[str, Any]) -> Incident:
    return Incident.from_dict(d)


def _push_messages(store: Store, settings: Settings, messages: list[tuple[str, int, int | None]]) -> int:
    if not messages or not settings.redis_url:
        return 0
    ids = sorted({a for _e, a, _ev in messages})
    with store.engine.connect() as conn:
        rows = {r["id"]: dict(r) for r in conn.execute(select(m.alerts).where(m.alerts.c.id.in_(ids))).mappings()}
    pushed = 0
    seen_updates: set[int] = set()
    for event, alert_id, event_id in messages:
        if alert_id not in rows:
            continue
        if event == "updated":
            if alert_id in seen_updates:
                continue
            seen_updates.add(alert_id)
        if notify.push_or_record(store, settings, alert_id, notify.event_message(event, rows[alert_id]), event_id):
            pushed += 1
    return pushed


# ----------------------------------------------------------------------------- one topic
class _TopicRun:
    def __init__(self, store: Store, topic: Topic, settings: Settings, horizon: datetime, wall: datetime, *,
                 defer_usual: bool = False):
        self.store = store
        self.topic = topic
        self.defer_usual = defer_usual
        self.deferred = False  # the voice watch left looks for the second pass (see _VoiceWatch.defer_usual)
        self.settings = settings
        self.wall = wall
        self.horizon = horizon
        self.alerts = {**ALERT_DEFAULTS, **topic.alerts}
        self.params = Params.from_alerts(self.alerts, bucket_seconds=B)
        self.key = f"topic:{topic.id}"

    # -- data
    def _rollups(self, conn, start: float, end: float) -> dict[float, tuple[int, int]]:
        r = m.rollups
        q = select(r.c.bucket, r.c.posts, r.c.negative).where(
            r.c.topic == self.topic.id, r.c.bucket >= _dt(start), r.c.bucket <= _dt(end))
        return {row.bucket.timestamp(): (row.posts, row.negative) for row in conn.execute(q)}

    def run(self) -> DetectSummary:
        state, version = _load_state(self.store, self.key)
        state = state or {}
        h = max(self.horizon.timestamp(), state.get("horizon") or 0.0)
        det = None
        if state.get("detector"):
            try:
                det = TopicDetector.from_dict(state["detector"], self.params)
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("topic %s: saved detector state unusable (%s); starting afresh", self.topic.id, exc)
        transitions: list[Transition] = []
        last_settled = math.floor((h - SETTLE.total_seconds() - B) / B) * B
        newest = math.floor(h / B) * B
        with self.store.engine.connect() as conn:
            if det is None or det.next_t is None:
                # a topic seen for the first time, or whose first runs held too little data to settle a
                # bucket (a first stream batch of seconds): primed from its stored history
                det = det or TopicDetector(self.params, key=self.topic.id)
                first = conn.execute(select(func.min(m.rollups.c.bucket)).where(
                    m.rollups.c.topic == self.topic.id,
                    m.rollups.c.bucket >= _dt(h - CATCHUP_DAYS * 86400))).scalar()
                if first is None:
                    return DetectSummary()
                start = first.timestamp()
            else:
                start = det.next_t if det.next_t is not None else newest
            data = self._rollups(conn, min(start, newest), newest) if start <= newest else {}
            n = 0
            t = start
            while t <= last_settled:
                p, neg = data.get(t, (0, 0))
                transitions += det.step(t, p, neg)
                t += B
                n += 1
            provisional = [(x, *data.get(x, (0, 0))) for x in range(int(max(t, det.next_t or t)), int(newest) + 1, B)]
            transitions += det.peek(provisional, at=h)
            voices = _VoiceWatch(self, conn, state.get("voices") or {}, det, h, defer_usual=self.defer_usual)
            transitions += voices.run()
            self.deferred = voices.deferred
            holders = _StakeholderWatch(self, conn, state.get("stakeholders") or {}, h)
            transitions += holders.run()
        summary = DetectSummary(topics=1, buckets=n)
        describer = _Describer(self, det, voices, holders)
        with self.store.engine.begin() as conn:
            describer.conn = conn
            applier = _Applier(conn, self.settings, self.wall, self.alerts, self.alerts.get("recipients") or [])
            applier.apply(transitions, describer.describe)
            new_state = {"horizon": h, "detector": det.to_dict(), "voices": voices.to_dict(),
                         "stakeholders": holders.to_dict()}
            _save_state(conn, self.key, new_state, version, self.wall)
        summary.add(applier.summary)
        summary.pushed += _push_messages(self.store, self.settings, applier.messages)
        return summary


# ----------------------------------------------------------------------------- voices
class _VoiceWatch:
    def __init__(self, run: _TopicRun, conn, state: Mapping[str, Any], det: TopicDetector, h: float, *,
                 defer_usual: bool = False):
        self.run_ = run
        self.conn = conn
        self.det = det
        self.h = h
        #: the week's recount of the usual voices (0.2-0.4 s a topic at 2M posts) is not done on the path
        #: of the alerts being published: the look that needs it, and every later one, is left for the
        #: second pass of :func:`detect`, after every topic's other alerts are published
        self.defer_usual = defer_usual
        self.deferred = False
        self.last = state.get("last")
        self.usual = set(state.get("usual") or [])
        self.usual_at = state.get("usual_at")
        self.incidents = {k: _inc_from_dict(v) for k, v in (state.get("incidents") or {}).items()}
        self.threshold = int(run.alerts.get("voice_min_amplifiers") or ALERT_DEFAULTS["voice_min_amplifiers"])
        self.window_rows: list[tuple[float, int, int]] = []
        self.latest: dict[int, int] = {}  # account -> amplifiers in the last evaluated window

    def to_dict(self) -> dict[str, Any]:
        keep = {}
        for k, inc in self.incidents.items():
            if inc.active or (inc.closed_at and self.h - inc.closed_at < inc.cooldown(
                    self.run_.params.cooldown_minutes * 60)):
                keep[k] = _inc_to_dict(inc)
        return {"last": self.last, "usual": sorted(self.usual), "usual_at": self.usual_at, "incidents": keep}

    def _amplifications(self, start: float, end: float) -> list[tuple[float, int, int]]:
        i, pt = m.interactions, m.post_topics
        q = (select(i.c.created_at, i.c.dst_account_id, i.c.src_account_id)
             .select_from(pt.join(i, i.c.post_id == pt.c.post_id))
             .where(pt.c.topic == self.run_.topic.id, pt.c.created_at >= _dt(start), pt.c.created_at < _dt(end),
                    i.c.kind.in_(VOICE_KINDS), i.c.src_account_id != i.c.dst_account_id))
        return sorted((r.created_at.timestamp(), r.dst_account_id, r.src_account_id) for r in self.conn.execute(q))

    def _usual(self, at: float) -> set[int]:
        i, pt = m.interactions, m.post_topics
        q = (select(i.c.dst_account_id, func.count(i.c.src_account_id.distinct()).label("n"))
             .select_from(pt.join(i, i.c.post_id == pt.c.post_id))
             .where(pt.c.topic == self.run_.topic.id, pt.c.created_at >= _dt(at - VOICE_BASELINE_DAYS * 86400),
                    pt.c.created_at < _dt(at - VOICE_WINDOW), i.c.kind.in_(VOICE_KINDS))
             .group_by(i.c.dst_account_id).order_by(func.count(i.c.src_account_id.distinct()).desc())
             .limit(VOICE_TOP_N))
        return {r.dst_account_id for r in self.conn.execute(q)}

    def run(self) -> list[Transition]:
        first = self.det.first_t
        if first is None:
            return []
        start_ok = first + VOICE_HISTORY
        last = self.last if self.last is not None else start_ok - VOICE_STEP
        last = max(last, self.h - VOICE_BASELINE_DAYS * 86400, start_ok - VOICE_STEP)
        ends = []
        e = math.floor(last / VOICE_STEP) * VOICE_STEP + VOICE_STEP
        while e <= self.h:
            ends.append(float(e))
            e += VOICE_STEP
        if not ends or ends[-1] < self.h:
            ends.append(self.h)  # the newest look (provisional)
        ends = [x for x in ends if x >= start_ok]
        if not ends:
            return []
        rows = self._amplifications(ends[0] - VOICE_WINDOW, self.h + 1)
        times = [r[0] for r in rows]
        out: list[Transition] = []
        cooldown = self.run_.params.cooldown_minutes * 60
        settle_limit = self.h - SETTLE.total_seconds()
        looked: list[float] = []
        for end in ends:
            lo = bisect.bisect_left(times, end - VOICE_WINDOW)
            hi = bisect.bisect_left(times, end)
            amps: dict[int, set[int]] = {}
            for _t, dst, src in rows[lo:hi]:
                amps.setdefault(dst, set()).add(src)
            counts = {dst: len(s) for dst, s in amps.items()}
            settled = end <= settle_limit
            loud = [d for d, c in counts.items() if c >= self.threshold]
            if loud and (self.usual_at is None or end - self.usual_at >= USUAL_REFRESH or end < self.usual_at):
                if self.defer_usual:
                    self.deferred = True  # this look and the later ones: in the second pass
                    break
                self.usual = self._usual(end)  # only needed when someone is loud: the week's query is not cheap
                self.usual_at = end
            looked.append(end)
            candidates = {d for d in loud if d not in self.usual}
            for dst in candidates | {int(k) for k, inc in self.incidents.items() if inc.active}:
                c = counts.get(dst, 0)
                inc = self.incidents.get(str(dst))
                if inc is None:
                    inc = Incident(key=f"{self.run_.topic.id}:voice:{dst}", kind="voice")
                    self.incidents[str(dst)] = inc
                hot = None
                if dst in candidates:
                    hot = {"kind": "voice", "severity": "warning", "started_at": end - VOICE_WINDOW,
                           "peak_value": float(c)}
                metrics = {"account_id": dst, "amplifiers": c, "window_end": end}
                out += inc.observe(end, hot, c < self.threshold / 2, settled=settled, cooldown_s=cooldown,
                                   metrics=metrics)
            self.latest = counts
        self.last = max(x for x in looked if x <= settle_limit) if any(x <= settle_limit for x in looked) else self.last
        return out


# ----------------------------------------------------------------------------- stakeholders
class _StakeholderWatch:
    def __init__(self, run: _TopicRun, conn, state: Mapping[str, Any], h: float):
        self.run_ = run
        self.conn = conn
        self.h = h
        self.last_id = state.get("last_id") or 0
        self.incidents = {k: _inc_from_dict(v) for k, v in (state.get("incidents") or {}).items()}
        self.posts: dict[int, list[dict[str, Any]]] = {}

    def to_dict(self) -> dict[str, Any]:
        keep = {k: _inc_to_dict(inc) for k, inc in self.incidents.items()
                if inc.active or (inc.closed_at and self.h - inc.closed_at < self.run_.params.cooldown_minutes * 60)}
        return {"last_id": self.last_id, "incidents": keep}

    def run(self) -> list[Transition]:
        handles = [h.lower() for h in self.run_.topic.stakeholders]
        out: list[Transition] = []
        cooldown = self.run_.params.cooldown_minutes * 60
        if handles:
            pt, p, a = m.post_topics, m.posts, m.accounts
            # the posts after the last seen are read by the tags' primary key (post_id, topic) from
            # last_id on: `topic || ''` keeps the planner off the (topic, created_at) index, which
            # made it walk every tag of the topic (0.12 s a query at 2M posts, twice after each batch)
            on_topic = pt.c.topic.concat("") == self.run_.topic.id
            top = self.conn.execute(select(func.max(pt.c.post_id)).where(
                on_topic, pt.c.post_id > self.last_id)).scalar()
            ids = [r.id for r in self.conn.execute(select(a.c.id).where(func.lower(a.c.handle).in_(handles)))]
            if top is not None and ids:
                q = (select(pt.c.post_id, pt.c.created_at, p.c.account_id, p.c.text, p.c.title, p.c.url, p.c.kind,
                            a.c.handle, a.c.name)
                     .select_from(pt.join(p, p.c.id == pt.c.post_id).join(a, a.c.id == p.c.account_id))
                     .where(on_topic, pt.c.post_id > self.last_id, pt.c.post_id <= top,
                            pt.c.account_id.in_(ids))
                     .order_by(pt.c.created_at))
                for r in self.conn.execute(q):
                    self.posts.setdefault(r.account_id, []).append({
                        "post_id": r.post_id, "created_at": r.created_at.isoformat(), "kind": r.kind,
                        "text": (r.title + " — " if r.title else "") + (r.text or "")[:500], "url": r.url,
                        "handle": r.handle, "name": r.name})
            if top is not None:
                self.last_id = top
            for acc, posts in self.posts.items():
                inc = self.incidents.get(str(acc))
                if inc is None:
                    inc = Incident(key=f"{self.run_.topic.id}:stakeholder:{acc}", kind="stakeholder")
                    self.incidents[str(acc)] = inc
                at = datetime.fromisoformat(posts[-1]["created_at"]).timestamp()
                at = max(at, inc.last_hot_at or 0)
                hot = {"kind": "stakeholder", "severity": "info", "peak_value": float(len(posts)),
                       "started_at": datetime.fromisoformat(posts[0]["created_at"]).timestamp()}
                out += inc.observe(at, hot, False, settled=True, cooldown_s=cooldown,
                                   metrics={"account_id": acc, "posts": posts})
        for acc, inc in self.incidents.items():
            if inc.active and int(acc) not in self.posts and self.h - (inc.last_hot_at or self.h) >= STAKEHOLDER_QUIET:
                out += inc.observe(self.h, None, True, settled=True, cooldown_s=cooldown, calm_needed=1,
                                   metrics={"account_id": int(acc), "posts": []})
        return out


# ----------------------------------------------------------------------------- describing alerts
class _Describer:
    """Fields and details of an alert row, per kind of incident."""

    def __init__(self, run: _TopicRun, det: TopicDetector, voices: _VoiceWatch, holders: _StakeholderWatch):
        self.run_ = run
        self.det = det
        self.voices = voices
        self.holders = holders
        self.conn = None  # the applying transaction's connection

    @property
    def label(self) -> str:
        return self.run_.topic.label

    def describe(self, tr: Transition):
        # the kind the incident had at this transition (a later one in the same run may change it):
        # the figures speak of the moment, whether detection ran per batch or over a day at once
        kind = tr.kind or tr.incident.kind
        mtr = tr.metrics
        topic = self.run_.topic.id
        base = {"topic": topic, "source": None, "key": tr.key, "kind": kind}
        inc = tr.incident
        conn_holder = self

        if kind in ("volume", "sentiment"):
            fig = alert_figures(kind, mtr)
            title = f"{self.label}: {headline(kind, fig)}"
            fields = {**base, "title": title, "current": _num(fig["current"]), "expected": _num(fig["expected"]),
                      "ratio": _num(fig["ratio"]), "peak": _num(inc.peak), "score": _num(fig["score"])}
            end = tr.at
            begun = inc.started_at if inc.started_at is not None else end - 3600
            start = min(end - 3600, max(begun, end - DETAILS_SPAN))  # the incident so far, 1 to 3 hours
            coord = None
            if tr.action in ("open", "reopen", "escalate"):  # the moments a title is set
                span = float(mtr.get("window_minutes") or 60) * 60  # the window that fired, and its rise
                coord = coordination(self.conn, topic, end - span, end, expected=_num(mtr.get("expected_posts")))
                alerts = self.run_.alerts
                if coord and coord["share"] >= float(alerts.get("coordinated_share") or 0.5):
                    fields["title"] = f"{title}{COORDINATION_SEPARATOR}{coordination_words(coord)}"
                    if alerts.get("coordinated_severity", "lower") == "lower":
                        fields["severity"] = SEVERITIES[max(0, rank(tr.severity) - 1)]

            def details(old):
                d = conn_holder._topic_details(start, end, mtr, inc, old)
                if coord is not None:
                    d["coordination"] = coord
                elif old and old.get("coordination"):
                    d["coordination"] = old["coordination"]
                return d
            return fields, details
        if kind == "silence":
            hours = mtr.get("silent_hours") or 0.0
            fields = {**base, "title": f"{self.label}: no posts for {hours:.0f} hours "
                                       f"(about {mtr.get('expected_posts', 0):.0f} expected)",
                      "current": 0.0, "expected": _num(mtr.get("expected_posts")), "ratio": 0.0,
                      "peak": _num(inc.peak), "score": None}
            return fields, lambda old: {"label": self.label, "silent_hours": hours,
                                        "expected_posts": mtr.get("expected_posts"),
                                        "timezone": self.run_.alerts.get("timezone"),
                                        "note": "often a collector that stopped or a revoked token, not a calm day"}
        if kind == "voice":
            acc = mtr.get("account_id")
            info = _account(self.conn, acc)
            c = mtr.get("amplifiers", 0)
            fields = {**base, "title": f"{self.label}: emerging voice @{info.get('handle') or acc} amplified by "
                                       f"{c} accounts in an hour",
                      "current": float(c), "expected": float(self.voices.threshold), "ratio": c / self.voices.threshold,
                      "peak": _num(inc.peak), "score": None}

            def vdetails(old):
                end = mtr.get("window_end", tr.at)
                return {"label": self.label, "account": info, "amplifiers": c, "threshold": self.voices.threshold,
                        "usual_voices": len(self.voices.usual), "timezone": self.run_.alerts.get("timezone"),
                        "top_posts": _top_posts(self.conn, topic, end - VOICE_WINDOW, end, author=acc),
                        "top_amplifiers": _top_amplifiers(self.conn, topic, end - VOICE_WINDOW, end, dst=acc)}
            return fields, vdetails
        if kind == "stakeholder":
            acc = mtr.get("account_id")
            new_posts = mtr.get("posts") or []
            info = _account(self.conn, acc)

            def sdetails(old):
                posts = list((old or {}).get("posts") or [])
                seen = {p.get("post_id") for p in posts}
                posts += [p for p in new_posts if p.get("post_id") not in seen]
                return {"label": self.label, "account": info, "posts": posts[-20:], "posts_count": len(posts),
                        "timezone": self.run_.alerts.get("timezone"),
                        "top_posts": [{"handle": p.get("handle"), "text": p.get("text"), "url": p.get("url"),
                                       "amplified": 0} for p in posts[-5:]]}
            n = len(new_posts)
            fields = {**base, "title": f"{self.label}: stakeholder @{info.get('handle') or acc} posted"
                                       + (f" ({n} posts)" if n > 1 else ""),
                      "current": float(n), "expected": None, "ratio": None, "peak": _num(inc.peak), "score": None}
            if tr.action == "close":
                fields.pop("title")
                fields["current"] = 0.0
            return fields, sdetails
        raise ValueError(f"unknown incident kind {kind!r}")

    def _topic_details(self, start: float, end: float, mtr: Mapping[str, Any], inc: Incident, old) -> dict[str, Any]:
        conn = self.conn
        topic = self.run_.topic.id
        r = m.rollups
        row = conn.execute(select(func.sum(r.c.posts), func.sum(r.c.sentiment_sum), func.sum(r.c.negative))
                           .where(r.c.topic == topic, r.c.bucket >= _dt(start), r.c.bucket < _dt(end))).first()
        posts = int(row[0] or 0)
        return {
            "label": self.label,
            "signals": list(inc.signals),
            "window_minutes": mtr.get("window_minutes"),
            "posts_in_window": mtr.get("posts"),
            "expected_in_window": _num(mtr.get("expected_posts")),
            "peak_at": _dt(inc.peak_at).isoformat() if inc.peak_at else None,
            "sentiment": {"negative_share": (row[2] or 0) / posts if posts else None,
                          "norm": _num(mtr.get("negative_norm")), "mean": (row[1] or 0.0) / posts if posts else None,
                          "posts": posts},
            "timezone": self.run_.alerts.get("timezone"),
            "top_posts": _top_posts(conn, topic, start, end),
            "top_accounts": _top_accounts(conn, topic, start, end),
            "top_amplifiers": _top_amplifiers(conn, topic, start, end),
        }


def coordination(conn, topic: str, start: float, end: float, *, expected: float | None = None
                 ) -> dict[str, Any] | None:
    """How much of a topic's rise in ``[start, end)`` came from accounts flagged as automated or
    coordinated by the topic's latest influence run (read from ``influence_flags``; monitor does not
    import influence).

    ``share`` is the flagged accounts' posts over the rise (the posts above ``expected``, at most 1),
    or over all the posts when ``expected`` is not given; ``posts_share`` over all the posts.
    Returns ``{"share", "posts_share", "posts", "flagged_posts", "rings": [{"ring", "posts"}],
    "run_id"}``, or None when no run has flagged anyone."""
    runs, flags, pt = m.influence_runs, m.influence_flags, m.post_topics
    run_id = conn.execute(select(runs.c.id).where(runs.c.topic == topic, runs.c.exclude_flagged.is_(False))
                          .order_by(runs.c.window_end.desc(), runs.c.id.desc()).limit(1)).scalar()
    if run_id is None:
        return None
    flagged = {r.account_id: r.ring for r in conn.execute(
        select(flags.c.account_id, flags.c.ring).where(flags.c.run_id == run_id,
                                                         (flags.c.flagged.is_(True)) | (flags.c.ring.is_not(None))))}
    if not flagged:
        return None
    rows = conn.execute(select(pt.c.account_id, func.count()).where(
        pt.c.topic == topic, pt.c.created_at >= _dt(start), pt.c.created_at < _dt(end)).group_by(pt.c.account_id))
    posts = flagged_posts = 0
    rings: dict[int, int] = {}
    for account_id, n in rows:
        posts += n
        if account_id in flagged:
            flagged_posts += n
            if flagged[account_id] is not None:
                rings[flagged[account_id]] = rings.get(flagged[account_id], 0) + n
    if not posts:
        return None
    rise = posts - expected if expected is not None else posts
    share = min(1.0, flagged_posts / rise) if rise > 0 else 0.0
    return {"share": share, "posts_share": flagged_posts / posts, "posts": posts, "flagged_posts": flagged_posts,
            "run_id": run_id,
            "rings": [{"ring": k, "posts": v} for k, v in sorted(rings.items(), key=lambda kv: -kv[1])]}


COORDINATION_SEPARATOR = " — "  #: between an alert's title and what it says of coordination


def relabel_coordination(store: Store, topic: str, since: datetime, until: datetime, *,
                         settings: Settings | None = None, alert_settings: Mapping[str, Any] | None = None,
                         ) -> list[int]:
    """Say what a new influence run found of coordination on the topic's volume and sentiment alerts.

    Alerts are labelled when they open, reopen or escalate, with the flags of the latest
    influence run at that moment; an alert raised before any run had flagged its accounts (the
    influence run is hourly; an import detects batch by batch, then ranks) is labelled here, once
    the run that flags them is stored: every volume or sentiment alert of ``topic`` opened in
    ``[since, until)`` or still unresolved, whose firing window (``details.window_minutes`` up to
    the moment its title was set) drew at least ``coordinated_share`` of its rise from flagged
    accounts, gets the coordination in its title, its details and an ``updated`` event, and is one
    severity lower when ``coordinated_severity`` is ``lower`` (once; see :func:`coordination`).
    The change is pushed to the dashboard. Returns the ids of the alerts relabelled.
    """
    settings = settings or load_settings()
    if alert_settings is None:
        config, _s = runtime()
        t = config.topics.get(topic)
        alert_settings = {**ALERT_DEFAULTS, **(t.alerts if t else {})}
    threshold = float(alert_settings.get("coordinated_share") or 0.5)
    lower = alert_settings.get("coordinated_severity", "lower") == "lower"
    a, ev = m.alerts, m.alert_events
    changed: list[int] = []
    messages: list[tuple[str, int, int | None]] = []
    with store.engine.begin() as conn:
        rows = conn.execute(select(a).where(
            a.c.topic == topic, a.c.kind.in_(("volume", "sentiment")),
            ((a.c.opened_at >= since) & (a.c.opened_at < until)) | (a.c.state != "resolved"))).mappings().all()
        for row in rows:
            details = dict(row["details"] or {})
            if (details.get("coordination") or {}).get("share", 0.0) >= threshold:
                continue  # labelled already
            moment = conn.execute(select(ev.c.at).where(ev.c.alert_id == row["id"],
                                                        ev.c.kind.in_(("opened", "reopened", "escalated")))
                                  .order_by(ev.c.at.desc(), ev.c.id.desc()).limit(1)).scalar() or row["opened_at"]
            end = moment.timestamp()
            span = float(details.get("window_minutes") or 60) * 60
            coord = coordination(conn, topic, end - span, end, expected=_num(details.get("expected_in_window")))
            if not coord or coord["share"] < threshold:
                continue
            title = row["title"].split(COORDINATION_SEPARATOR)[0] + COORDINATION_SEPARATOR + coordination_words(coord)
            severity = SEVERITIES[max(0, rank(row["severity"]) - 1)] if lower else row["severity"]
            details["coordination"] = {**coord, "found_after": True}
            conn.execute(update(a).where(a.c.id == row["id"]).values(title=title, severity=severity, details=details))
            at = row["updated_at"] or moment
            note = (f"the influence run of {since:%Y-%m-%d} to {until:%Y-%m-%d} found "
                    f"{coordination_words(coord)}" + (f"; severity {row['severity']} -> {severity}"
                                                      if severity != row["severity"] else ""))
            eid = add_event(conn, row["id"], "updated", at, severity=severity, note=note)
            messages.append(("updated", row["id"], eid))
            changed.append(row["id"])
    _push_messages(store, settings, messages)
    return changed


def coordination_words(coord: Mapping[str, Any]) -> str:
    """``62% of the rise from accounts flagged as coordinated (ring 1)``."""
    rings = [r["ring"] for r in coord.get("rings") or []][:3]
    which = f" (ring {', '.join(str(r) for r in rings)})" if rings else ""
    return f"{coord['share']:.0%} of the rise from accounts flagged as coordinated{which}"


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _account(conn, account_id: int | None) -> dict[str, Any]:
    if account_id is None:
        return {}
    a = m.accounts
    row = conn.execute(select(a.c.id, a.c.platform, a.c.platform_id, a.c.handle, a.c.name, a.c.followers,
                              a.c.verified, a.c.url).where(a.c.id == account_id)).mappings().first()
    return dict(row) if row else {"id": account_id}


def _top_posts(conn, topic: str, start: float, end: float, *, author: int | None = None,
               limit: int = 5) -> list[dict[str, Any]]:
    """The topic's most amplified posts in [start, end): referenced posts by retweets and quotes in the window."""
    i, pt, p, a = m.interactions, m.post_topics, m.posts, m.accounts
    q = (select(i.c.platform, i.c.ref_platform_id, i.c.dst_account_id, func.count().label("n"))
         .select_from(pt.join(i, i.c.post_id == pt.c.post_id))
         .where(pt.c.topic == topic, pt.c.created_at >= _dt(start), pt.c.created_at < _dt(end),
                i.c.kind.in_(VOICE_KINDS), i.c.ref_platform_id.is_not(None))
         .group_by(i.c.platform, i.c.ref_platform_id, i.c.dst_account_id)
         .order_by(func.count().desc()).limit(limit))
    if author is not None:
        q = q.where(i.c.dst_account_id == author)
    top = list(conn.execute(q))
    out = []
    for plat, ref, dst, n in top:
        row = conn.execute(select(p.c.id, p.c.text, p.c.title, p.c.url, p.c.created_at, a.c.handle, a.c.name)
                           .select_from(p.join(a, a.c.id == p.c.account_id))
                           .where(p.c.platform == plat, p.c.platform_id == ref)).mappings().first()
        if row is None:
            acc = _account(conn, dst)
            out.append({"platform_id": ref, "handle": acc.get("handle"), "name": acc.get("name"), "text": None,
                        "url": None, "amplified": int(n)})
        else:
            out.append({"id": row["id"], "platform_id": ref, "handle": row["handle"], "name": row["name"],
                        "text": ((row["title"] + " — ") if row["title"] else "") + (row["text"] or "")[:400],
                        "url": row["url"], "created_at": row["created_at"].isoformat(), "amplified": int(n)})
    if len(out) < limit and author is None:  # quiet amplification: fill with the window's newest originals
        have = {o.get("id") for o in out}
        q2 = (select(p.c.id, p.c.platform_id, p.c.text, p.c.title, p.c.url, p.c.created_at, a.c.handle, a.c.name)
              .select_from(pt.join(p, p.c.id == pt.c.post_id).join(a, a.c.id == p.c.account_id))
              .where(pt.c.topic == topic, pt.c.created_at >= _dt(start), pt.c.created_at < _dt(end),
                     p.c.kind != "retweet")
              .order_by(pt.c.created_at.desc()).limit(limit * 2))
        for row in conn.execute(q2).mappings():
            if row["id"] in have or len(out) >= limit:
                continue
            out.append({"id": row["id"], "platform_id": row["platform_id"], "handle": row["handle"],
                        "name": row["name"],
                        "text": ((row["title"] + " — ") if row["title"] else "") + (row["text"] or "")[:400],
                        "url": row["url"], "created_at": row["created_at"].isoformat(), "amplified": 0})
    return out


def _top_accounts(conn, topic: str, start: float, end: float, limit: int = 5) -> list[dict[str, Any]]:
    """Accounts driving the window: most distinct amplifiers of their posts, with their own post counts."""
    i, pt, a = m.interactions, m.post_topics, m.accounts
    q = (select(i.c.dst_account_id, func.count(i.c.src_account_id.distinct()).label("n"))
         .select_from(pt.join(i, i.c.post_id == pt.c.post_id))
         .where(pt.c.topic == topic, pt.c.created_at >= _dt(start), pt.c.created_at < _dt(end),
                i.c.kind.in_(VOICE_KINDS))
         .group_by(i.c.dst_account_id).order_by(func.count(i.c.src_account_id.distinct()).desc()).limit(limit))
    out = []
    for dst, n in conn.execute(q):
        acc = _account(conn, dst)
        posts = conn.execute(select(func.count()).select_from(pt).where(
            pt.c.topic == topic, pt.c.account_id == dst, pt.c.created_at >= _dt(start),
            pt.c.created_at < _dt(end))).scalar()
        out.append({"id": dst, "handle": acc.get("handle"), "name": acc.get("name"),
                    "followers": acc.get("followers"), "amplifiers": int(n), "posts": int(posts or 0)})
    return out


def _top_amplifiers(conn, topic: str, start: float, end: float, *, dst: int | None = None,
                    limit: int = 5) -> list[dict[str, Any]]:
    """The accounts doing the most retweeting and quoting in the window (a bot ring shows here)."""
    i, pt = m.interactions, m.post_topics
    q = (select(i.c.src_account_id, func.count().label("n"))
         .select_from(pt.join(i, i.c.post_id == pt.c.post_id))
         .where(pt.c.topic == topic, pt.c.created_at >= _dt(start), pt.c.created_at < _dt(end),
                i.c.kind.in_(VOICE_KINDS))
         .group_by(i.c.src_account_id).order_by(func.count().desc()).limit(limit))
    if dst is not None:
        q = q.where(i.c.dst_account_id == dst)
    out = []
    for src, n in conn.execute(q):
        acc = _account(conn, src)
        out.append({"id": src, "handle": acc.get("handle"), "name": acc.get("name"), "amplifications": int(n)})
    return out


# ----------------------------------------------------------------------------- sources
def _run_sources(store: Store, config: Config, settings: Settings, wall: datetime) -> DetectSummary:
    from monitor.collect import source_specs
    from monitor.health import source_state

    summary = DetectSummary()
    try:
        specs = source_specs(config, settings)
    except Exception as exc:  # pragma: no cover - a broken source config is reported elsewhere
        log.warning("source alerts skipped: %s", exc)
        return summary
    with store.engine.connect() as conn:
        rows = {r["source"]: dict(r) for r in conn.execute(select(m.source_state)).mappings()}
    defaults = {**ALERT_DEFAULTS, **(getattr(config, "alert_defaults", None) or {})}
    silence_h = float(defaults.get("silence_hours") or 0)
    cooldown = float(defaults.get("cooldown_minutes") or 60) * 60
    t = wall.timestamp()
    for name, spec in specs.items():
        if spec.disabled or not spec.interval:
            continue
        row = rows.get(name)
        if row is None:
            continue
        key = f"source:{name}"
        for attempt in range(RETRIES):
            state, version = _load_state(store, key)
            state = dict(state or {})
            inc = _inc_from_dict(state["incident"]) if state.get("incident") else Incident(key=key, kind="source")
            items = int(row.get("new_items") or 0)
            if "items" not in state:
                state.update(items=items, t=t, first=t, last_new_at=(row.get("last_ok_at") or wall).timestamp(),
                             rate=None, observed=0.0)
            else:
                delta, dt = items - state["items"], max(t - state["t"], 1.0)
                if delta > 0:
                    state["last_new_at"] = t
                if not inc.active and dt > 0:
                    hours = dt / 3600
                    state["observed"] = state.get("observed", 0.0) + hours
                    rate_now = max(delta, 0) / hours
                    w = 1 - math.exp(-dt / 86400)
                    state["rate"] = rate_now if state.get("rate") is None else state["rate"] + w * (rate_now - state["rate"])
                state.update(items=items, t=t)
            quiet_h = (t - state["last_new_at"]) / 3600
            expected = (state.get("rate") or 0.0) * silence_h
            silent = (silence_h > 0 and quiet_h >= silence_h and expected >= SOURCE_MIN_EXPECTED
                      and t - state["first"] >= SOURCE_HISTORY)
            health = source_state(row, spec.interval, None, wall)
            ok_at = (row.get("last_ok_at") or _dt(state["first"])).timestamp()
            failing = health in ("failing", "stale") and t - ok_at >= SOURCE_FAIL_GRACE
            hot = None
            reason = ""
            if silent or failing:
                if failing:
                    reason = (f"{name} has been {health} since {_dt(ok_at):%d %b %H:%M} UTC"
                              + (f": {row.get('last_error')[:300]}" if row.get("last_error") else ""))
                else:
                    reason = f"{name} has stored no new item for {quiet_h:.1f} hours (about {expected:.0f} expected)"
                hot = {"kind": "source", "severity": "warning", "peak_value": quiet_h, "started_at": ok_at}
            metrics = {"reason": reason, "quiet_hours": quiet_h, "expected": expected, "health": health}
            trs = inc.observe(t, hot, not (silent or failing), settled=True, cooldown_s=cooldown, calm_needed=1,
                              metrics=metrics)

            short = (f"{health} since {_dt(ok_at):%d %b %H:%M} UTC" if failing
                     else f"no new items for {quiet_h:.0f} hours (about {expected:.0f} expected)")
            metrics["short"] = short

            def describe(tr, name=name, metrics=metrics, inc=inc):
                fields = {"topic": None, "source": name, "key": tr.key, "kind": "source",
                          "title": f"Source {name}: {metrics['short']}",
                          "current": 0.0, "expected": _num(metrics["expected"]), "ratio": None,
                          "peak": _num(inc.peak), "score": None}
                if tr.action == "close":
                    fields.pop("title")
                return fields, lambda old: {"reason": metrics["reason"] or (old or {}).get("reason"),
                                            "health": metrics["health"], "quiet_hours": metrics["quiet_hours"],
                                            "label": name, "timezone": defaults.get("timezone")}
            try:
                with store.engine.begin() as conn:
                    applier = _Applier(conn, settings, wall, defaults, defaults.get("recipients") or [])
                    applier.apply(trs, describe)
                    state["incident"] = _inc_to_dict(inc)
                    _save_state(conn, key, state, version, wall)
            except (_Conflict, IntegrityError):
                summary.conflicts += 1
                continue
            summary.add(applier.summary)
            summary.pushed += _push_messages(store, settings, applier.messages)
            break
    return summary
