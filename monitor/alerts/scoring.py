"""Scoring detectors against labelled incident windows: the benchmark's standard score and event counts.

Used by ``bench/alerts.py`` on the real series in ``../shared/fixtures/real-volume/`` (five
series of the Numenta Anomaly Benchmark, NAB) and on the synthetic set of
:mod:`monitor.alerts.synthetic`.

*Detections* are the moments alerts opened or reopened (a reopened alert pages the press
office again, so it counts like a new one).

Standard score (NAB's "standard" profile, as the issue defines it)
    The first 15 % of each series is for learning: detections there are ignored, and so is
    any window, or part of a window, in it. In each remaining window the earliest detection
    scores ``S(p) / S(-1)`` with ``S(p) = 2 / (1 + exp(5 p)) - 1`` and ``p`` the detection's
    position in the window (-1 at its start, 0 past its end); each detection outside every
    window costs 0.11; a window without a detection costs 1. Summed over a corpus and
    normalised so that detecting nothing scores 0 and detecting every window at its first
    moment scores 100.

Event counts
    An incident is *found* when an alert opens inside its window; every detection outside
    every window is a *false alarm*. Precision = found / (found + false alarms), recall =
    found / incidents.

Reference: Huginn's PeakDetectorAgent rule (a value above the mean plus 3 standard
deviations of the previous 14 days' values, at least 2 days after the previous peak, once
more than 4 values are known), applied to the same buckets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

A_TP, A_FP, A_FN = 1.0, 0.11, 1.0  #: the standard profile's weights
PROBATION = 0.15  #: the first part of a series, for learning


def scaled_sigmoid(position: float) -> float:
    """NAB's ``S(p)``: 0.987 at a window's start (p = -1), 0 at its end (p = 0), -1 far after it."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass
class StandardScore:
    """One series' (or a corpus's, when added) raw score and what normalises it."""

    raw: float = 0.0
    null: float = 0.0  #: the raw score of detecting nothing
    perfect: float = 0.0  #: the raw score of detecting every window at its start
    found: int = 0
    false_alarms: int = 0
    missed: int = 0

    def __add__(self, other: "StandardScore") -> "StandardScore":
        return StandardScore(self.raw + other.raw, self.null + other.null, self.perfect + other.perfect,
                             self.found + other.found, self.false_alarms + other.false_alarms,
                             self.missed + other.missed)

    @property
    def normalised(self) -> float:
        """0 = detecting nothing, 100 = perfect."""
        if self.perfect == self.null:
            return 0.0
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def standard_score(times: Sequence[float], windows: Iterable[tuple[float, float]], detections: Iterable[float],
                   *, probation: float = PROBATION) -> StandardScore:
    """Score ``detections`` (times of the rows that raised them) on one series of rows at ``times``.

    A detection's position in a window counts in rows, as NAB counts it: rows from it to
    the window's last row, over the window's rows.
    """
    ts = np.asarray(times, dtype=float)
    if len(ts) == 0:
        return StandardScore()
    learn_end = ts[int(math.floor(probation * len(ts)))]
    scored = []
    for a, b in windows:
        if b < learn_end:
            continue
        scored.append((max(a, learn_end), b))
    best: dict[int, float] = {}
    fp = 0
    max_tp = scaled_sigmoid(-1.0)
    for d in sorted(detections):
        if d < learn_end:
            continue
        hit = next((k for k, (a, b) in enumerate(scored) if a <= d <= b), None)
        if hit is None:
            fp += 1
            continue
        a, b = scored[hit]
        right = int(np.searchsorted(ts, b, side="right")) - 1
        left = int(np.searchsorted(ts, a, side="left"))
        i = int(np.searchsorted(ts, d, side="left"))
        width = right - left + 1
        pos = -(right - i + 1) / width
        s = scaled_sigmoid(pos) * A_TP / max_tp
        best[hit] = max(best.get(hit, -math.inf), s)
    missed = len(scored) - len(best)
    raw = sum(best.values()) - A_FP * fp - A_FN * missed
    return StandardScore(raw=raw, null=-A_FN * len(scored), perfect=A_TP * len(scored), found=len(best),
                         false_alarms=fp, missed=missed)


@dataclass
class EventCounts:
    incidents: int = 0
    found: int = 0
    false_alarms: int = 0

    def __add__(self, other: "EventCounts") -> "EventCounts":
        return EventCounts(self.incidents + other.incidents, self.found + other.found,
                           self.false_alarms + other.false_alarms)

    @property
    def precision(self) -> float:
        return self.found / (self.found + self.false_alarms) if self.found + self.false_alarms else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.incidents if self.incidents else 1.0


def event_counts(windows: Sequence[tuple[float, float]], detections: Iterable[float], *,
                 since: float | None = None) -> EventCounts:
    """Incidents found and false alarms (detections before ``since`` are not counted)."""
    found: set[int] = set()
    fa = 0
    for d in detections:
        if since is not None and d < since:
            continue
        hits = [k for k, (a, b) in enumerate(windows) if a <= d <= b]
        if hits:
            found.update(hits)
        else:
            fa += 1
    return EventCounts(incidents=len(windows), found=len(found), false_alarms=fa)


def huginn_peaks(times: Sequence[float], values: Sequence[float], *, window_days: float = 14.0,
                 std_multiple: float = 3.0, min_spacing_days: float = 2.0, min_events: int = 4) -> list[float]:
    """Times at which Huginn's PeakDetectorAgent (its defaults) would report a peak.

    A value is a peak when more than ``min_events`` values are known, it exceeds the
    mean plus ``std_multiple`` standard deviations of the values of the previous
    ``window_days`` (not counting itself), and the previous peak is more than
    ``min_spacing_days`` old.
    """
    ts = np.asarray(times, dtype=float)
    vs = np.asarray(values, dtype=float)
    c1 = np.concatenate([[0.0], np.cumsum(vs)])
    c2 = np.concatenate([[0.0], np.cumsum(vs * vs)])
    peaks: list[float] = []
    lo = 0
    span = window_days * 86400
    for i in range(len(ts)):
        while ts[lo] < ts[i] - span:
            lo += 1
        n = i - lo  # previous values in the window
        if i + 1 <= min_events or n < 1:
            continue
        if peaks and peaks[-1] >= ts[i] - min_spacing_days * 86400:
            continue
        mean = (c1[i] - c1[lo]) / n
        var = max((c2[i] - c2[lo]) / n - mean * mean, 0.0)
        if vs[i] > mean + std_multiple * math.sqrt(var):
            peaks.append(float(ts[i]))
    return peaks


def detector_detections(times: Sequence[float], counts: Sequence[int], params=None, *,
                        kinds: tuple[str, ...] = ("volume", "sentiment")) -> list[float]:
    """Times of the rows whose completion opened or reopened an alert, with the Earshot detector.

    ``times`` are the rows' bucket starts at a fixed spacing (``params.bucket_seconds``);
    absent rows are taken as empty buckets, as a backtest takes them.
    """
    from monitor.alerts.detector import Params, TopicDetector

    params = params or Params()
    det = TopicDetector(params, key="score")
    B = params.bucket_seconds
    out = []
    for t, y in zip(times, counts):
        for tr in det.step(float(t), int(y), 0):
            if tr.action in ("open", "reopen") and (tr.incident.kind or tr.kind) in kinds:
                out.append(tr.at - B)
    return out
