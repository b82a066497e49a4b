"""Live alerts: one listener per process, fanning alert events out to every open page.

The database is the record. Every alert event (``alert_events``: opened, updated, escalated,
reopened, closed, acknowledged, resolved) has an id, and that id is the server-sent event's id.
The :class:`Hub` of a process wakes up when

- a message arrives on the Redis channel ``earshot:alerts`` (:data:`monitor.alerts.notify.CHANNEL`,
  published by whichever worker or process changed an alert) -- one subscription per process,
  however many pages are open;
- this process itself stored a batch (embedded mode: :func:`after_batch`, an ``earshot.after_batch``
  hook that runs after the alert engine's) or acknowledged or resolved an alert;
- or, as a safety net, every :attr:`Hub.poll_seconds` (1 s without Redis, 5 s with it),

and then reads the events newer than the last it sent (one indexed query per process, not per
page), renders each once, and puts it in every subscriber's queue. Updates the engine does not
record as events (figures refreshed between history entries) are found by comparing the
running alerts' rows, and are sent without an id. A page that reconnects sends
``Last-Event-ID`` and gets, from the database, every event after it (:func:`replay`), so nothing
is missed across a dropped connection or a restarted server. A subscriber whose queue is full (a
stalled client) is dropped; its browser reconnects and replays.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

from sqlalchemy import func, select

from monitor import models as m
from monitor.alerts.notify import CHANNEL, alert_json
from monitor.store import Store

log = logging.getLogger(__name__)

REPLAY_LIMIT = 500  #: events a reconnecting page gets at most (then it reloads)
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class LiveEvent:
    """One message for the pages: ``id`` is the alert event's id (None for an unrecorded update)."""

    id: int | None
    kind: str  # opened | updated | escalated | reopened | closed | acknowledged | resolved
    alert: dict[str, Any]
    html: str = ""

    def data(self) -> str:
        """The event's JSON, encoded once for every page it goes to."""
        return self._data

    @cached_property
    def _data(self) -> str:
        return json.dumps({"id": self.id, "event": self.kind, "alert_id": self.alert["id"],
                           "severity": self.alert["severity"], "state": self.alert["state"],
                           "title": self.alert["title"], "html": self.html}, default=str, separators=(",", ":"))


def latest_event_id(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.max(m.alert_events.c.id))).scalar() or 0)


def events_after(store: Store, after: int, limit: int = REPLAY_LIMIT) -> list[tuple[int, str, dict[str, Any]]]:
    """(event id, event kind, the alert's current row) for alert events with id > ``after``, oldest first."""
    e, a = m.alert_events, m.alerts
    with store.engine.connect() as conn:
        rows = conn.execute(select(e.c.id, e.c.kind, e.c.alert_id).where(e.c.id > after).order_by(e.c.id)
                            .limit(limit)).all()
        ids = sorted({r.alert_id for r in rows})
        alerts = {r["id"]: dict(r) for r in conn.execute(select(a).where(a.c.id.in_(ids))).mappings()} if ids else {}
    return [(r.id, r.kind, alerts[r.alert_id]) for r in rows if r.alert_id in alerts]


def running_alerts(store: Store) -> dict[int, dict[str, Any]]:
    """Alerts not resolved or not closed: what an open page shows, keyed by id."""
    a = m.alerts
    with store.engine.connect() as conn:
        return {r["id"]: dict(r) for r in conn.execute(
            select(a).where((a.c.state != "resolved") | a.c.closed_at.is_(None))).mappings()}


def _fingerprint(row: dict[str, Any]) -> tuple:
    return (row["updated_at"], row["state"], row["severity"], row["current"], row["ratio"], row["closed_at"])


Renderer = Callable[[dict[str, Any]], str]


def replay(store: Store, last_event_id: int, render: Renderer | None = None) -> list[LiveEvent]:
    """What a page that last saw ``last_event_id`` missed."""
    return [LiveEvent(eid, kind, alert_json(row), render(row) if render else "")
            for eid, kind, row in events_after(store, last_event_id)]


class Hub:
    """The per-process fan-out (see the module's documentation).

    ``render`` turns an alert row into the HTML of its card (done once per event, not per page).
    """

    def __init__(self, store: Store, redis_url: str = "", *, render: Renderer | None = None,
                 poll_seconds: float | None = None):
        self.store = store
        self.redis_url = redis_url
        self.render = render
        self.poll_seconds = poll_seconds if poll_seconds is not None else (5.0 if redis_url else 1.0)
        self.subscribers: set[asyncio.Queue] = set()
        self.last_id = 0
        self.sent = 0
        self._seen: dict[int, tuple] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self.redis_connected = False

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.last_id = await asyncio.to_thread(latest_event_id, self.store)
        self._seen = {k: _fingerprint(v) for k, v in (await asyncio.to_thread(running_alerts, self.store)).items()}
        self._tasks.append(asyncio.create_task(self._run(), name="earshot-live-hub"))
        if self.redis_url:
            self._tasks.append(asyncio.create_task(self._listen(), name="earshot-live-redis"))
        _HUBS.add(self)

    async def stop(self) -> None:
        _HUBS.discard(self)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        for q in list(self.subscribers):
            q.put_nowait(None)  # tells the stream to end
        self.subscribers.clear()

    def drop_subscribers(self) -> None:
        """End every open stream (safe from any thread); browsers reconnect with ``Last-Event-ID`` and replay."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def drop() -> None:
            for q in list(self.subscribers):
                self.subscribers.discard(q)
                try:
                    q.put_nowait(None)
                except asyncio.QueueFull:
                    pass

        loop.call_soon_threadsafe(drop)

    def wake(self) -> None:
        """Look for new events now (safe from any thread)."""
        loop, ev = self._loop, self._wake
        if loop is None or ev is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(ev.set)
        except RuntimeError:  # the loop closed meanwhile
            pass

    # -------------------------------------------------------------- subscribers
    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.subscribers.discard(q)

    def _fan_out(self, ev: LiveEvent) -> None:
        for q in list(self.subscribers):
            try:
                q.put_nowait(ev)
            except asyncio.QueueFull:  # a stalled page: drop it; it reconnects and replays
                self.subscribers.discard(q)
                try:
                    q.get_nowait()
                    q.put_nowait(None)
                except (asyncio.QueueEmpty, asyncio.QueueFull):
                    pass
        self.sent += 1

    # -------------------------------------------------------------- the loop
    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                for ev in await asyncio.to_thread(self._collect):
                    self._fan_out(ev)
            except Exception as exc:  # the database away for a moment: try again at the next wake
                log.warning("live alerts: reading new events failed: %s", exc)
                await asyncio.sleep(self.poll_seconds)

    def _collect(self) -> list[LiveEvent]:
        """New events since the last sent, and unrecorded updates of running alerts (runs in a thread)."""
        out: list[LiveEvent] = []
        new = events_after(self.store, self.last_id)
        covered: set[int] = set()
        for eid, kind, row in new:
            out.append(LiveEvent(eid, kind, alert_json(row), self._render(row)))
            self.last_id = max(self.last_id, eid)
            covered.add(row["id"])
        running = running_alerts(self.store)
        for aid, row in running.items():
            fp = _fingerprint(row)
            if self._seen.get(aid) != fp and aid not in covered and aid in self._seen:
                out.append(LiveEvent(None, "updated", alert_json(row), self._render(row)))
        for eid, kind, row in new:
            running.setdefault(row["id"], row)
        self._seen = {k: _fingerprint(v) for k, v in running.items()}
        return out

    def _render(self, row: dict[str, Any]) -> str:
        if self.render is None:
            return ""
        try:
            return self.render(row)
        except Exception as exc:  # a card that cannot be drawn must not stop the feed
            log.exception("live alerts: rendering alert %s failed: %s", row.get("id"), exc)
            return ""

    async def _listen(self) -> None:
        """Follow the Redis channel; reconnect with backoff when Redis goes away."""
        import redis.asyncio as aioredis

        delay = 0.5
        while True:
            client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2, health_check_interval=30)
            try:
                async with client.pubsub() as ps:
                    await ps.subscribe(CHANNEL)
                    self.redis_connected = True
                    delay = 0.5
                    self.wake()  # anything published while not subscribed
                    async for msg in ps.listen():
                        if msg.get("type") == "message":
                            self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.redis_connected:
                    log.warning("live alerts: Redis %s lost (%s); polling the database until it is back",
                                self.redis_url, exc)
                self.redis_connected = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                self.redis_connected = False
                try:
                    await client.aclose()
                except Exception:
                    pass


# hubs of this process, woken by batches stored in-process (embedded mode)
_HUBS: "weakref.WeakSet[Hub]" = weakref.WeakSet()
_hubs_lock = threading.Lock()


def wake_all() -> None:
    for hub in list(_HUBS):
        hub.wake()


def after_batch(store, batch, result) -> None:
    """The ``earshot.after_batch`` hook: a batch stored in this process may have raised alerts."""
    if result.topic_posts:
        wake_all()
