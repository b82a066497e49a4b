"""Synthetic count series for trying the detectors: the tests and ``bench/alerts.py`` share these.

Two families:

- :func:`series` -- the demo scenario's rhythm (the hourly and weekday tables below) with
  gamma-Poisson noise: simple, and close to the detector's own idea of a topic, so a test
  built on it says what the detector does on the traffic it was designed around.
- :func:`wide_series` -- a widened set drawn from a model that is *not* the detector's:
  a random smooth daily curve in local time (with a clock change inside the series), a
  random weekend dip, slow drift and a random walk of the level, negative-binomial noise
  with slow correlated swings, heavy-tailed retweet cascades as part of normal traffic,
  missing buckets, and incidents of every shape at any hour -- sharp spikes, slow builds,
  modest rises of 1.3 to 2 times normal for hours, and level shifts that become the new
  normal. Each incident comes with the window in which an alert finds it.

Everything here is deterministic in its seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

import numpy as np

# ----------------------------------------------------------------------------- the demo rhythm
#: Relative volume by hour of day and by weekday, like the demo scenario's.
HOURLY = (0.30, 0.18, 0.11, 0.08, 0.08, 0.13, 0.32, 0.68, 1.05, 1.20, 1.15, 1.05,
          1.08, 1.02, 0.96, 0.95, 1.00, 1.10, 1.22, 1.32, 1.36, 1.22, 0.92, 0.56)
WEEKDAY = (1.00, 1.03, 1.00, 0.98, 0.93, 0.70, 0.66)
MONDAY = datetime(2025, 11, 3, tzinfo=timezone.utc)  #: a Monday, outside summer time
LONDON = ZoneInfo("Europe/London")
B = 300


def rhythm(t: datetime) -> float:
    """Daily and weekly cycle at ``t``, in London local time (people keep to the clock on the wall)."""
    lt = t.astimezone(LONDON) if t.tzinfo is not None else t
    h = lt.hour + lt.minute / 60
    i = int(h)
    frac = h - i
    return (HOURLY[i] * (1 - frac) + HOURLY[(i + 1) % 24] * frac) * WEEKDAY[lt.weekday()]


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw from ``rng`` (normal approximation above 50)."""
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
    """``(bucket start, posts, negative posts)`` for ``days`` of 5-minute buckets with the demo rhythm.

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


# ----------------------------------------------------------------------------- the widened set
@dataclass
class PlantedIncident:
    shape: str  #: spike, build, modest, shift
    start: float  #: epoch seconds of its first bucket
    end: float  #: epoch seconds when the rise is over (a shift: when it has become the new normal)
    peak: float  #: the largest multiple of normal
    night: bool  #: starts between 22:00 and 06:00 local time

    @property
    def window(self) -> tuple[float, float]:
        """Where an alert finds it: from its start to two hours after its end."""
        return self.start, self.end + 2 * 3600


@dataclass
class SyntheticSeries:
    name: str
    times: list[float]  #: bucket starts (epoch seconds); missing buckets are absent
    counts: list[int]
    incidents: list[PlantedIncident] = field(default_factory=list)
    start: float = 0.0
    learn_until: float = 0.0  #: before this, nothing is planted (the detectors learn)

    @property
    def windows(self) -> list[tuple[float, float]]:
        return [i.window for i in self.incidents]


SHAPES = ("spike", "build", "modest")
_STARTS = (datetime(2026, 3, 9, tzinfo=timezone.utc), datetime(2026, 10, 5, tzinfo=timezone.utc))  # clock changes inside


def wide_series(seed: int, *, days: int = 28, incidents: bool = True, level: float | None = None,
                tz: str = "Europe/London") -> SyntheticSeries:
    """One series of the widened set (5-minute buckets); see the module documentation.

    Parameters
    ----------
    seed : int
        Everything follows from it.
    days : int
        Length; nothing is planted in the first 8 days (the detector learns).
    incidents : bool
        Plant incidents (three, of random shapes, at any hour, and in a third of the
        series a level shift); without, the series only counts against precision.
    level : float, optional
        Mean posts per 5 minutes (default: log-uniform from 0.3 to 60).
    """
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(tz)
    start = _STARTS[seed % 2] + timedelta(days=int(rng.integers(0, 10)))
    t0 = start.timestamp()
    n = days * 288
    times = t0 + B * np.arange(n)
    # local time of each bucket (the clock change moves the rhythm with the wall clock)
    offs = np.array([datetime.fromtimestamp(float(x), tz=timezone.utc).astimezone(zone).utcoffset().total_seconds()
                     for x in times[::12]])
    local = times + np.repeat(offs, 12)[:n]
    hour = (local % 86400) / 3600.0
    weekday = ((local // 86400).astype(int) + 3) % 7
    # a smooth random daily curve (two harmonics), a weekend dip
    a1, p1 = rng.uniform(0.4, 1.2), rng.uniform(12, 18)
    a2, p2 = rng.uniform(0.0, 0.45), rng.uniform(0, 12)
    curve = np.exp(a1 * np.cos(2 * np.pi * (hour - p1) / 24) + a2 * np.cos(4 * np.pi * (hour - p2) / 24))
    curve /= curve.mean()
    weekend = rng.uniform(0.55, 1.05)
    week = np.where(weekday >= 5, weekend, 1.0)
    if level is None:
        level = float(math.exp(rng.uniform(math.log(0.3), math.log(60.0))))
    # slow drift: a trend and a random walk of the log level (hourly steps), slow correlated swings
    trend = rng.uniform(-0.4, 0.6) * np.arange(n) / n
    walk = np.repeat(np.cumsum(rng.normal(0, rng.uniform(0.0, 0.08) / math.sqrt(24), n // 12 + 1)), 12)[:n]
    swing = np.zeros(n // 12 + 1)
    for k in range(1, len(swing)):
        swing[k] = 0.9 * swing[k - 1] + rng.normal(0, 0.06)
    base = level * curve * week * np.exp(trend + walk + np.repeat(swing, 12)[:n])
    mult = np.ones(n)
    planted: list[PlantedIncident] = []
    learn = 8 * 288
    if incidents:
        starts: list[int] = []
        night_done = False
        for k in range(3):
            for _ in range(1000):
                s = int(rng.integers(learn, n - 2 * 288))
                night = hour[s] >= 22 or hour[s] < 6
                if k == 2 and not night_done and not night:
                    continue  # at least one incident of each series starts at night
                if all(abs(s - u) > 3 * 288 for u in starts):
                    break
            starts.append(s)
            night_done = night_done or night
            shape = SHAPES[int(rng.integers(0, 3))] if k else "modest"  # every series has a modest one
            if shape == "spike":
                peak = rng.uniform(3, 8)
                dur = int(rng.integers(6, 25))  # 30 minutes to 2 hours
                i = np.arange(dur)
                prof = 1 + (peak - 1) * np.minimum(1.0, (i + 1) / 2) * np.exp(-2.0 * i / dur)
            elif shape == "build":
                peak = rng.uniform(2, 4)
                ramp, fade = int(rng.integers(24, 73)), int(rng.integers(24, 49))
                i = np.arange(ramp + fade)
                prof = np.where(i < ramp, 1 + (peak - 1) * (i + 1) / ramp, 1 + (peak - 1) * np.exp(-3 * (i - ramp) / fade))
            else:
                peak = rng.uniform(1.3, 2.0)
                prof = np.full(int(rng.integers(48, 145)), peak)  # 4 to 12 hours
            end = min(n, s + len(prof))
            mult[s:end] *= prof[: end - s]
            planted.append(PlantedIncident(shape, float(times[s]), float(times[end - 1] + B), float(peak),
                                           bool(hour[s] >= 22 or hour[s] < 6)))
        if seed % 3 == 0:  # a level shift that stays: the alert is due at its start, then it is the new normal
            for _ in range(1000):
                s = int(rng.integers(learn, n - 4 * 288))
                if all(abs(s - u) > 2 * 288 for u in starts):
                    break
            peak = rng.uniform(1.6, 2.5)
            mult[s:] *= peak
            planted.append(PlantedIncident("shift", float(times[s]), float(times[s] + 6 * 3600), float(peak),
                                           bool(hour[s] >= 22 or hour[s] < 6)))
    lam = base * mult
    cv = rng.uniform(0.1, 0.35)
    lam = lam * rng.gamma(1 / cv ** 2, cv ** 2, n)
    y = rng.poisson(lam).astype(np.int64)
    # retweet cascades: part of normal traffic, heavy-tailed (Pareto) sizes up to twice the hour's volume
    for _ in range(int(rng.poisson(days * rng.uniform(1, 6)))):
        k = int(rng.integers(0, n))
        hour_volume = 12 * base[k]
        size = min(hour_volume * 0.15 * (rng.pareto(1.5) + 1), 2 * hour_volume)
        tau = rng.uniform(1, 6)  # buckets
        span = int(min(n - k, 6 * tau + 1))
        w = np.exp(-np.arange(span) / tau)
        y[k:k + span] += rng.poisson(size * w / w.sum())
    # missing buckets: a collector that stopped for 5 minutes to 3 hours, up to three times
    keep = np.ones(n, dtype=bool)
    for _ in range(int(rng.integers(0, 4))):
        k = int(rng.integers(0, n))
        keep[k:k + int(rng.integers(1, 37))] = False
    for inc in planted:  # an outage never hides an incident's first hour (there would be nothing to find)
        s = int((inc.start - t0) // B)
        keep[s:s + 12] = True
    idx = np.nonzero(keep)[0]
    return SyntheticSeries(name=f"wide{seed}", times=[float(times[i]) for i in idx], counts=[int(y[i]) for i in idx],
                           incidents=planted, start=t0, learn_until=float(times[learn]))
