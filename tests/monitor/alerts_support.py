"""Helpers for the alert tests: posts written straight into a store (the count series are in the package)."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from monitor.alerts.synthetic import B, poisson, rhythm
from monitor.items import Account, Batch, Post, Reference
from monitor.store import Scored, Store, WriteResult

#: The clock the engine tests run at: a Wednesday mid-morning, London time (= UTC in November).
#: Tests pass it (or another fixed time) as ``now``; none reads the wall clock to build history.
FIXED_NOW = datetime(2026, 11, 18, 10, 30, tzinfo=timezone.utc)


def flat(t: datetime) -> float:
    """A ``multiplier`` for :func:`fill` that divides the rhythm out: the same level at every hour and day."""
    return 1.0 / rhythm(t)


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
