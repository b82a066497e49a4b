"""Helpers for the alert tests: synthetic count series, and posts written straight into a store."""

from __future__ import annotations

import itertools
import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from monitor.items import Account, Batch, Post, Reference
from monitor.store import Scored, Store, WriteResult

# Relative volume by hour of day and by weekday, like the demo scenario's.
HOURLY = (0.30, 0.18, 0.11, 0.08, 0.08, 0.13, 0.32, 0.68, 1.05, 1.20, 1.15, 1.05,
          1.08, 1.02, 0.96, 0.95, 1.00, 1.10, 1.22, 1.32, 1.36, 1.22, 0.92, 0.56)
WEEKDAY = (1.00, 1.03, 1.00, 0.98, 0.93, 0.70, 0.66)
MONDAY = datetime(2025, 11, 3, tzinfo=timezone.utc)  # a Monday, outside summer time
#: The clock the engine tests run at: a Wednesday mid-morning, London time (= UTC in November).
#: Tests pass it (or another fixed time) as ``now``; none reads the wall clock to build history.
FIXED_NOW = datetime(2026, 11, 18, 10, 30, tzinfo=timezone.utc)
LONDON = ZoneInfo("Europe/London")
B = 300


def rhythm(t: datetime) -> float:
    """Daily and weekly cycle at ``t``, in London local time (people keep to the clock on the wall)."""
    lt = t.astimezone(LONDON) if t.tzinfo is not None else t
    h = lt.hour + lt.minute / 60
    i = int(h)
    frac = h - i
    return (HOURLY[i] * (1 - frac) + HOURLY[(i + 1) % 24] * frac) * WEEKDAY[lt.weekday()]


def flat(t: datetime) -> float:
    """A ``multiplier`` for :func:`fill` that divides the rhythm out: the same level at every hour and day."""
    return 1.0 / rhythm(t)


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    L, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


def series(days: int, level: float, *, seed: int = 1, start: datetime = MONDAY,
           multiplier: Callable[[int, datetime], float] | None = None, negative_share: float = 0.3,
           negative: Callable[[int, datetime], float] | None = None, overdispersion: float = 0.15,
           ) -> list[tuple[datetime, int, int]]:
    """``(bucket start, posts, negative posts)`` for ``days`` of 5-minute buckets with daily and weekly cycles.

    Counts are Poisson around ``level x rhythm x multiplier`` with a gamma-distributed
    extra noise (coefficient of variation ``overdispersion``), as real traffic is burstier
    than Poisson.
    """
    rng = random.Random(seed)
    out = []
    shape = 1 / overdispersion ** 2 if overdispersion > 0 else None
    for i in range(days * 288):
        t = start + timedelta(seconds=i * B)
        lam = level * rhythm(t) * (multiplier(i, t) if multiplier else 1.0)
        if shape:
            lam *= rng.gammavariate(shape, 1 / shape)
        n = poisson(rng, lam)
        share = negative(i, t) if negative else negative_share
        neg = sum(1 for _ in range(n) if rng.random() < share)
        out.append((t, n, neg))
    return out


def feed(detector, points: Iterable[tuple[datetime, int, int]]):
    """Step ``detector`` through ``points``; return all transitions."""
    out = []
    for t, n, neg in points:
        out += detector.step(t.timestamp(), n, neg)
    return out


def opened(transitions) -> list:
    return [tr for tr in transitions if tr.action == "open"]


# ----------------------------------------------------------------------------- posts in a store
_ids = itertools.count(1)


def account(pid: int | str, handle: str | None = None) -> Account:
    return Account(platform="x", platform_id=str(pid), handle=handle or f"user{pid}", name=f"User {pid}",
                   followers=100)


def post(author: int | str, when: datetime, topic: str, *, sentiment: float = 0.0, text: str | None = None,
         retweet_of: tuple[str, int | str] | None = None, pid: str | None = None) -> Scored:
    """A post on ``topic`` (already matched and scored); ``retweet_of`` = (post id, author id)."""
    pid = pid or f"p{next(_ids)}"
    refs = [Reference(kind="retweet", platform_id=retweet_of[0], author_id=str(retweet_of[1]))] if retweet_of else []
    p = Post(platform="x", platform_id=pid, kind="retweet" if retweet_of else "original", author_id=str(author),
             text=text or f"post {pid} about {topic}", created_at=when, references=refs,
             url=f"https://x.com/user{author}/status/{pid}")
    return Scored(post=p, sentiment=sentiment, topics={topic: ["test"]})


def write(store: Store, scored: list[Scored], *, now: datetime, hook: bool = True,
          source: str = "test") -> WriteResult:
    """Store posts as the pipeline does, then run the alert hook as the pipeline would, with the clock at ``now``."""
    from monitor.alerts import engine

    authors = {s.post.author_id for s in scored}
    accs = [account(a) for a in sorted(authors)]
    res = store.write_batch(scored, accs, source=source)
    if hook and res.posts_new:
        engine.after_batch(store, Batch(source=source, posts=[s.post for s in scored]), res, now=now)
    return res


def fill(store: Store, topic: str, start: datetime, end: datetime, level: float, *, seed: int = 1,
         batch_minutes: int = 60, multiplier: Callable[[datetime], float] | None = None,
         hook: bool = True, authors: int = 500, negative_share: float = 0.2) -> int:
    """Write posts on ``topic`` from ``start`` to ``end`` at ``level`` per 5 minutes (with the rhythm).

    Posts arrive as they would live: each hour's batch is stored (and the hook run)
    with the clock at the end of that hour. Nothing here reads the wall clock.
    """
    rng = random.Random(seed)
    t = start
    batch: list[Scored] = []
    n = 0
    next_flush = start + timedelta(minutes=batch_minutes)
    while t < end:
        lam = level * rhythm(t) * (multiplier(t) if multiplier else 1.0)
        for _ in range(poisson(rng, lam)):
            when = t + timedelta(seconds=rng.uniform(0, B - 1))
            batch.append(post(rng.randrange(authors) + 1000, when, topic,
                              sentiment=-0.6 if rng.random() < negative_share else 0.3))
            n += 1
        t += timedelta(seconds=B)
        if t >= next_flush:
            if batch:
                write(store, batch, hook=hook, now=t)
            batch = []
            next_flush = t + timedelta(minutes=batch_minutes)
    if batch:
        write(store, batch, hook=hook, now=max(t, end))
    return n


def config_file(tmp: Path, body: str) -> Path:
    path = tmp / "keywords.yaml"
    path.write_text(body, encoding="utf-8")
    return path


TEST_CONFIG = """
defaults:
  alerts:
    recipients: [press@health.example.gov.uk]
topics:
  flu:
    label: Flu
    query: flu
    stakeholders: ["@ChiefMedic"]
  quiet:
    label: Quiet topic
    query: quiet
  flat:
    label: Flat topic
    query: flat
"""
