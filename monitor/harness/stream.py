"""End to end, as the press office meets it: posts on a loopback X filtered stream -> ``earshot stream``
-> the alert event on the Redis push channel.

:class:`StreamRig` sets up, in a private folder:

- a private ``redis-server`` and a subscriber on :data:`monitor.alerts.notify.CHANNEL` that
  stamps each event with ``time.perf_counter()`` as it arrives;
- a :class:`monitor.harness.xapi.FakeX` on loopback serving a :class:`~monitor.harness.xapi.LiveStream`
  (and recent search);
- a configuration with the given topics (query ``word<topic>``) and the X stream on, a SQLite
  store holding ``history_days`` of history per topic (5-minute rollups drawn with the demo
  rhythm, :func:`monitor.alerts.synthetic.series`, written straight into the rollups: the
  detectors read nothing else) and the detectors primed on it;
- ``earshot stream`` run as its own process (the real CLI: rules synced through tweepy, the
  stream read by :class:`monitor.sources.x.XStreamSource`, batches stored, the after-batch
  alert hook) with ``EARSHOT_X_API_BASE`` pointing at the loopback server.

The clock is a parameter: ``now`` is the data time the history ends at and the posts are
dated from (the engine detects in data time), so a test can fix it; a benchmark passes the
real time. Posts are written to the stream with :meth:`StreamRig.post`; the time the first
of a spike left the server is :meth:`StreamRig.sent_at`, the time its alert arrived
:meth:`StreamRig.opened_at`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

from monitor.harness.services import start_redis
from monitor.harness.xapi import TOKEN, FakeX, LiveStream, serve

TWITTER_EPOCH_MS = 1288834974657


def snowflake(at: datetime, seq: int) -> str:
    """An X id for a tweet posted at ``at`` (ids sort by time, as X's do)."""
    ms = int(at.timestamp() * 1000) - TWITTER_EPOCH_MS
    return str((ms << 22) | (seq & 0x3FFFFF))


def stream_line(tweet_id: str, text: str, author: str, at: datetime, tag: str, rule_id: str = "1") -> bytes:
    """One filtered-stream line (X API v2: ``data``, ``includes.users``, ``matching_rules``)."""
    return json.dumps({
        "data": {"id": tweet_id, "text": text, "author_id": author, "lang": "en",
                 "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
                 "edit_history_tweet_ids": [tweet_id], "conversation_id": tweet_id,
                 "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0}},
        "includes": {"users": [{"id": author, "username": f"user{author}", "name": f"User {author}",
                                "created_at": "2015-01-01T00:00:00.000Z",
                                "public_metrics": {"followers_count": 100, "following_count": 100,
                                                   "tweet_count": 1000, "listed_count": 1}}]},
        "matching_rules": [{"id": rule_id, "tag": tag}],
    }).encode()


def _query_matches(query: str, tweet: dict) -> bool:
    """Whether a tweet's text holds a word of the (simple) search query, as X would match it."""
    words = {w.strip('()"').lower() for w in query.split() if not w.startswith("-") and ":" not in w}
    return bool(words & set(tweet.get("text", "").lower().split()))


class StreamRig:
    """See the module docstring. Use as a context manager.

    Parameters
    ----------
    work
        A folder of its own (the store, the configuration, redis's folder).
    levels
        Topic id -> mean posts per 5-minute bucket of its history (the daily rhythm around it).
    now
        The data time the history ends at (aware datetime).
    history_days
        Days of history per topic.
    """

    def __init__(self, work: Path, levels: Mapping[str, float], now: datetime, *, history_days: int = 8,
                 seed: int = 1):
        self.work = Path(work)
        self.levels = dict(levels)
        self.now = now
        self.history_days = history_days
        self.seed = seed
        self.events: list[tuple[float, dict[str, Any]]] = []  # (perf_counter at arrival, message)
        self._seq = 0
        self._stamps: dict[Any, None] = {}
        self._stop = threading.Event()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.work / "earshot-stream.log"

    # -------------------------------------------------------------- setup
    def _write_config(self) -> Path:
        cfg = self.work / "keywords.yaml"
        cfg.write_text("topics:\n" + "".join(f"  {t}:\n    label: Topic {t}\n    query: word{t}\n" for t in self.levels)
                       + "sources:\n  x:\n    stream:\n      enabled: true\n    search:\n      enabled: true\n")
        return cfg

    def _prime(self) -> None:
        """History rollups, then one detection run so every topic's detector has learnt its baseline."""
        from sqlalchemy import insert

        from monitor import models as m
        from monitor.alerts import engine
        from monitor.alerts.synthetic import series
        from monitor.config import load_config
        from monitor.settings import load_settings
        from monitor.store import Store

        store = Store(self.db_url)
        try:
            end = self.now.replace(second=0, microsecond=0)
            end -= timedelta(minutes=end.minute % 5)
            start = end - timedelta(days=self.history_days)
            rows = []
            for k, (topic, level) in enumerate(self.levels.items()):
                for t, n, neg in series(self.history_days, level, seed=self.seed * 100 + k, start=start):
                    if n:
                        rows.append({"topic": topic, "bucket": t, "posts": n, "authors": n, "sentiment_sum": 0.0,
                                     "negative": neg, "positive": 0})
            with store.engine.begin() as conn:
                for i in range(0, len(rows), 5000):
                    conn.execute(insert(m.rollups), rows[i:i + 5000])
            config = load_config(self.config_path)
            engine.detect(store, config, load_settings(), now=end, sources=False, dispatch=False)
        finally:
            store.dispose()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
        env.update({"EARSHOT_CONFIG": str(self.config_path), "EARSHOT_DATA_DIR": str(self.work / "var"),
                    "EARSHOT_DATABASE_URL": self.db_url, "EARSHOT_REDIS_URL": self.redis_url,
                    "EARSHOT_X_BEARER_TOKEN": TOKEN, "EARSHOT_X_API_BASE": self.base})
        return env

    def __enter__(self) -> "StreamRig":
        import redis

        from monitor.alerts import notify

        self.work.mkdir(parents=True, exist_ok=True)
        self.db_url = f"sqlite:///{self.work / 'earshot.db'}"
        self.config_path = self._write_config()
        self.redis_proc, self.redis_url = start_redis(self.work)
        self.x = FakeX(token=TOKEN, matches=_query_matches)
        self.live = LiveStream(keepalive=20.0)
        self.x.streams.append(self.live)
        self._serving = serve(self.x)
        self.base = self._serving.__enter__()
        saved = {k: os.environ.get(k) for k in ("EARSHOT_CONFIG", "EARSHOT_REDIS_URL", "EARSHOT_DATABASE_URL")}
        os.environ.update({"EARSHOT_CONFIG": str(self.config_path), "EARSHOT_REDIS_URL": "",
                           "EARSHOT_DATABASE_URL": self.db_url})
        try:
            self._prime()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self._client = redis.Redis.from_url(self.redis_url)  # kept: its pool holds the subscription
        self._sub = self._client.pubsub()
        self._sub.subscribe(notify.CHANNEL)
        self._sub.get_message(timeout=2)  # the subscription's confirmation
        self._listener = threading.Thread(target=self._listen, daemon=True)
        self._listener.start()
        self._log = open(self.log_path, "wb")
        exe = Path(sys.executable).parent / "earshot"  # the installed command, as a user runs it
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "monitor.cli"]
        self.proc = subprocess.Popen(cmd + ["stream"], env=self.env(),
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=str(self.work))
        deadline = time.monotonic() + 60
        while not self.x.served:  # the stream is connected: rules synced, the source reading
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"earshot stream did not connect (exit {self.proc.poll()}): {self.log()}")
            time.sleep(0.02)
        return self

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._sub.get_message(timeout=0.05)
            except (OSError, ValueError):  # closed at exit
                return
            if msg and msg["type"] == "message":
                self.events.append((time.perf_counter(), json.loads(msg["data"])))

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop_stream(self) -> None:
        """End the ``earshot stream`` process (as Ctrl-C would)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._log.closed:
            self._log.close()

    def search_pass(self) -> float:
        """One X recent-search poll, in this process, as ``earshot collect x-search`` and the beat's
        collect task run it (tweepy against the loopback server, batches stored, the alert hook
        after each); returns the time it started (``perf_counter``). Stop the stream first (one
        writer per SQLite file)."""
        from monitor.alerts import engine
        from monitor.collect import run_source, source_specs
        from monitor.config import load_config
        from monitor.durable import store_or_quarantine
        from monitor.pipeline import AFTER_BATCH
        from monitor.settings import load_settings
        from monitor.store import Store
        from monitor.topics import Matcher

        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env())
        hooks = list(AFTER_BATCH)
        AFTER_BATCH[:] = [engine.after_batch]
        try:
            config = load_config(self.config_path)
            settings = load_settings()
            store = Store(settings.database_url)
            matcher = Matcher(config.topics)
            started = time.perf_counter()
            try:
                run_source(source_specs(config, settings)["x-search"], store,
                           lambda b: store_or_quarantine(b, store, matcher).result)
            finally:
                store.dispose()
            return started
        finally:
            AFTER_BATCH[:] = hooks
            os.environ.clear()
            os.environ.update(saved)

    def search_posts(self, topic: str, times: list[datetime]) -> None:
        """Posts on ``topic`` dated ``times`` for recent search to find at the next poll."""
        tweets, users = [], []
        for at in sorted(times):
            self._seq += 1
            author = str(10_000 + (self._seq * 7919) % 5000)
            obj = json.loads(stream_line(snowflake(at, self._seq), f"word{topic} news number {self._seq}",
                                         author, at, topic))
            tweets.append(obj["data"])
            users += obj["includes"]["users"]
        self.x.post(tweets, users)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.stop_stream()
        self._listener.join(2)
        self._sub.close()
        self._serving.__exit__(None, None, None)
        self.redis_proc.terminate()
        self.redis_proc.wait(5)

    # -------------------------------------------------------------- use
    def post(self, topic: str, at: datetime, *, stamp: Any = None, author: int | None = None) -> None:
        """Put one post on ``topic`` dated ``at`` on the stream (``stamp``: record when it was written)."""
        self._seq += 1
        author = str(10_000 + (self._seq * 7919) % 5000 if author is None else author)
        text = f"word{topic} news number {self._seq}"
        self.live.put(stream_line(snowflake(at, self._seq), text, author, at, topic), stamp=stamp)

    def sent_at(self, stamp: Any) -> float | None:
        return self.live.written.get(stamp)

    def opened(self) -> dict[str, tuple[float, dict[str, Any]]]:
        """Topic -> (arrival, message) of the first ``opened`` alert event on each topic."""
        out: dict[str, tuple[float, dict[str, Any]]] = {}
        for at, ev in list(self.events):
            if ev.get("event") == "opened" and ev.get("alert", {}).get("topic"):
                out.setdefault(ev["alert"]["topic"], (at, ev))
        return out

    def opened_at(self, topic: str) -> float | None:
        hit = self.opened().get(topic)
        return hit[0] if hit else None
