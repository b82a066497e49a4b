"""Backtests: replay any count series through the detector the live engine uses.

Three ways in, one detector (:class:`monitor.alerts.detector.TopicDetector`):

- :func:`backtest_series` -- any iterable of ``(time, count)`` or
  ``(time, count, negative)``: times as datetimes, ISO-8601 strings or epoch
  seconds, at any spacing (they are summed into buckets);
- :func:`backtest_csv` -- a CSV file with a time column and a count column
  (``earshot alerts backtest-csv``), from Earshot or from anywhere else;
- :func:`backtest_topic` -- a topic's stored rollups (``earshot alerts backtest``),
  with the topic's own tuning unless overridden.

Each returns the alerts the detector would have raised, so the digital team can
try sensitivities before trusting one. Missing buckets count as empty: a gap in
a CSV reads as silence.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
>>> series = [(t0 + timedelta(hours=i), 200 if i == 24 * 10 + 9 else 20) for i in range(24 * 14)]
>>> result = backtest_series(series, bucket_seconds=3600)
>>> [(a.kind, a.severity, a.opened_at.isoformat()) for a in result.alerts]
[('volume', 'critical', '2026-01-15T10:00:00+00:00')]
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select

from monitor import models as m
from monitor.alerts.detector import Params, TopicDetector, Transition, alert_figures, headline, rank
from monitor.config import ALERT_DEFAULTS, Topic, parse_duration
from monitor.items import parse_time
from monitor.store import Store

DEFAULT_BUCKET = 300


class BacktestError(ValueError):
    """The series cannot be read (the message names the file, line and column)."""


@dataclass
class BacktestAlert:
    """An alert the detector would have raised."""

    kind: str
    severity: str
    opened_at: datetime
    started_at: datetime | None = None
    closed_at: datetime | None = None
    peak: float | None = None
    current: float | None = None
    expected: float | None = None
    ratio: float | None = None
    score: float | None = None
    window_minutes: float | None = None
    signals: list[str] = field(default_factory=list)
    reopened: int = 0
    posts: float | None = None  # posts in the window that fired, and its reference
    expected_posts: float | None = None
    figures_at: datetime | None = None  # the moment the figures speak of: when it opened or last escalated
    figures_event: str | None = None  # "opened", "reopened" or "escalated"
    figures_kind: str | None = None  # the incident's kind then (an angry incident may turn loud later)

    @property
    def headline(self) -> str:
        """What the live alert's title says of these figures (``3.6× the usual volume (...)``)."""
        return headline(self.figures_kind or self.kind, {"current": self.current, "expected": self.expected, "ratio": self.ratio,
                                    "posts": self.posts, "expected_posts": self.expected_posts,
                                    "window_minutes": self.window_minutes})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["headline"] = self.headline if self.kind in ("volume", "sentiment") else None
        for k in ("opened_at", "started_at", "closed_at", "figures_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


@dataclass
class BacktestResult:
    """The alerts, and what they were computed on."""

    alerts: list[BacktestAlert]
    params: Params
    start: datetime | None
    end: datetime | None
    buckets: int
    warm_from: datetime | None  # first moment anything could alert (after the warm-up)
    reported_from: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"params": asdict(self.params), "start": _iso(self.start), "end": _iso(self.end),
                "buckets": self.buckets, "warm_from": _iso(self.warm_from), "reported_from": _iso(self.reported_from),
                "alerts": [a.to_dict() for a in self.alerts]}


def _iso(x: datetime | None) -> str | None:
    return x.isoformat() if x else None


def _ts(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    dt = parse_time(value)
    if dt is None:
        raise BacktestError(f"{value!r} is not a time (use ISO 8601 such as 2026-11-16T09:00:00Z, or epoch seconds)")
    return dt.timestamp()


def infer_bucket(times: Sequence[float]) -> int:
    """The series' own spacing: the commonest gap between distinct times (at least a minute), else 5 minutes."""
    distinct = sorted(set(times))
    gaps = Counter(int(round(b - a)) for a, b in zip(distinct, distinct[1:]) if b > a)
    if not gaps:
        return DEFAULT_BUCKET
    gap, _ = gaps.most_common(1)[0]
    return gap if gap >= 60 else DEFAULT_BUCKET


def _bucketise(points: Iterable[Sequence[Any]], bucket_seconds: int | None) -> tuple[dict[float, list[int]], int]:
    rows = []
    for i, p in enumerate(points):
        if len(p) < 2:
            raise BacktestError(f"point {i + 1}: expected (time, count) or (time, count, negative), got {p!r}")
        t = _ts(p[0])
        try:
            n = int(p[1])
            neg = int(p[2]) if len(p) > 2 and p[2] not in (None, "") else 0
        except (TypeError, ValueError):
            raise BacktestError(f"point {i + 1}: counts must be whole numbers, got {p[1:]!r}") from None
        if n < 0 or neg < 0:
            raise BacktestError(f"point {i + 1}: counts cannot be negative")
        rows.append((t, n, neg))
    b = int(bucket_seconds or infer_bucket([r[0] for r in rows]))
    if b < 60:
        raise BacktestError("buckets shorter than a minute are not supported")
    agg: dict[float, list[int]] = {}
    for t, n, neg in rows:
        key = float(int(t // b) * b)
        a = agg.setdefault(key, [0, 0])
        a[0] += n
        a[1] += neg
    return agg, b


def backtest_series(points: Iterable[Sequence[Any]], *, bucket_seconds: int | None = None,
                    params: Params | None = None, report_from: datetime | None = None,
                    **overrides: Any) -> BacktestResult:
    """Replay a count series through the detector and list the alerts it raises.

    Parameters
    ----------
    points : iterable
        ``(time, count)`` or ``(time, count, negative)``; any order, any spacing.
    bucket_seconds : int, optional
        Bucket length; default: the series' own spacing (5 minutes for raw event times).
    params : Params, optional
        Detector parameters (``bucket_seconds`` is set from the series); else the
        configuration defaults with ``overrides`` (``sensitivity=``, ``min_volume=``...).
    report_from : datetime, optional
        Only list alerts opened from then on (the rest is warm-up history).
    """
    agg, b = _bucketise(points, bucket_seconds)
    if params is None:
        params = Params.from_alerts(ALERT_DEFAULTS, bucket_seconds=b, **overrides)
    else:
        params = Params(**{**asdict(params), **{k: v for k, v in overrides.items() if v is not None},
                           "bucket_seconds": b})
    if not agg:
        return BacktestResult([], params, None, None, 0, None, report_from)
    start, end = min(agg), max(agg)
    det = TopicDetector(params, key="backtest")
    alerts: dict[int, BacktestAlert] = {}
    order: list[int] = []
    t = start
    n = 0
    warm_from = None
    while t <= end:
        y, neg = agg.get(t, (0, 0))
        trs = det.step(t, y, neg)
        if warm_from is None and det.is_warm:
            warm_from = datetime.fromtimestamp(t + b, tz=timezone.utc)
        for tr in trs:
            _record(tr, alerts, order)
        t += b
        n += 1
    cutoff = report_from.timestamp() if report_from else None
    out = [alerts[i] for i in order if cutoff is None or alerts[i].opened_at.timestamp() >= cutoff]
    return BacktestResult(out, params, _utc(start), _utc(end + b), n, warm_from, report_from)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def _record(tr: Transition, alerts: dict[int, BacktestAlert], order: list[int]) -> None:
    """Fold one transition into the alert it belongs to.

    The figures are set when the alert opens, reopens or escalates -- the moments the live engine
    sets an alert's title -- from :func:`~monitor.alerts.detector.alert_figures` of that moment, so
    a backtest lists what the live alert's title says (``figures_at`` tells which moment)."""
    inc = tr.incident
    kind = tr.kind or inc.kind
    if tr.action == "open":
        inc.alert_id = len(order) + 1
        order.append(inc.alert_id)
        alerts[inc.alert_id] = BacktestAlert(kind=kind, severity=tr.severity, opened_at=_utc(tr.at),
                                             started_at=_utc(inc.started_at) if inc.started_at else None)
    a = alerts.get(inc.alert_id or -1)
    if a is None:
        return
    a.kind = kind or a.kind
    a.peak = inc.peak
    a.signals = list(inc.signals)
    if rank(tr.severity) > rank(a.severity):
        a.severity = tr.severity
    if tr.action in ("open", "reopen", "escalate"):
        fig = alert_figures(kind, tr.metrics)
        a.current, a.expected, a.ratio, a.score = fig["current"], fig["expected"], fig["ratio"], fig["score"]
        a.window_minutes, a.posts, a.expected_posts = fig["window_minutes"], fig["posts"], fig["expected_posts"]
        a.figures_kind = kind
        a.figures_at, a.figures_event = _utc(tr.at), {"open": "opened", "reopen": "reopened", "escalate": "escalated"}[tr.action]
    if tr.action == "close":
        a.closed_at = _utc(tr.at)
    elif tr.action == "reopen":
        a.closed_at = None
        a.reopened += 1


def read_csv(path: str | Path, *, time_col: str | None = None, count_col: str | None = None,
             negative_col: str | None = None) -> list[tuple[float, int, int]]:
    """Read ``time,count[,negative]`` rows from a CSV file (with a header line).

    Columns default to ``time``/``timestamp``/``date``/``bucket`` and ``count``/``posts``/``value``,
    else the first and second columns. Errors name the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BacktestError(f"{path}: cannot read: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise BacktestError(f"{path}: the file is empty") from None
    names = [h.strip().lower() for h in header]

    def pick(wanted: str | None, defaults: tuple[str, ...], fallback: int | None, what: str) -> int | None:
        if wanted:
            if wanted.lower() not in names:
                raise BacktestError(f"{path} line 1: no column {wanted!r} (columns: {', '.join(header)})")
            return names.index(wanted.lower())
        for d in defaults:
            if d in names:
                return names.index(d)
        if fallback is not None and fallback < len(names):
            return fallback
        return None

    ti = pick(time_col, ("time", "timestamp", "date", "datetime", "bucket"), 0, "time")
    ci = pick(count_col, ("count", "posts", "value", "n"), 1, "count")
    ni = pick(negative_col, ("negative",), None, "negative") if negative_col or "negative" in names else None
    if ti is None or ci is None or ti == ci:
        raise BacktestError(f"{path} line 1: needs a time column and a count column (columns: {', '.join(header)})")
    out = []
    for lineno, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            t = _ts(row[ti].strip())
        except (IndexError, BacktestError) as exc:
            raise BacktestError(f"{path} line {lineno}: {exc if isinstance(exc, BacktestError) else 'missing time'}") from None
        try:
            n = int(float(row[ci]))
            neg = int(float(row[ni])) if ni is not None and row[ni].strip() else 0
        except (IndexError, ValueError):
            raise BacktestError(f"{path} line {lineno}: count {row[ci] if ci < len(row) else ''!r} is not a number") from None
        if n < 0 or neg < 0:
            raise BacktestError(f"{path} line {lineno}: counts cannot be negative")
        out.append((t, n, neg))
    if not out:
        raise BacktestError(f"{path}: no data rows after the header")
    return out


def backtest_csv(path: str | Path, *, time_col: str | None = None, count_col: str | None = None,
                 negative_col: str | None = None, bucket: str | int | None = None, **overrides: Any) -> BacktestResult:
    """:func:`backtest_series` on a CSV file; ``bucket`` as seconds or ``"5m"``, ``"1h"``, ``"1d"``."""
    points = read_csv(path, time_col=time_col, count_col=count_col, negative_col=negative_col)
    b = parse_duration(bucket) if isinstance(bucket, str) else bucket
    return backtest_series(points, bucket_seconds=b, **overrides)


def backtest_topic(store: Store, topic: Topic, since: datetime, until: datetime | None = None, *,
                   warmup: timedelta = timedelta(days=7), now: datetime | None = None,
                   **overrides: Any) -> BacktestResult:
    """Replay a topic's stored rollups in ``[since - warmup, until)``; list alerts opened from ``since``.

    Uses the topic's ``alerts`` tuning from config/keywords.yaml, with ``overrides`` on top.
    ``until`` defaults to the end of the topic's stored data (not the clock: a replay that ran on
    past the data would find the data's end a "silence"). A period that is empty, backwards or
    in the future (after ``now``, default the clock) is a :class:`BacktestError`.
    """
    now = now or datetime.now(timezone.utc)
    if since > now:
        raise BacktestError(f"--since {since:%Y-%m-%d %H:%M} UTC is in the future")
    r = m.rollups
    data_end = until is None
    if until is None:
        with store.engine.connect() as conn:
            newest = conn.execute(select(func.max(r.c.bucket)).where(r.c.topic == topic.id)).scalar()
        if newest is None:
            raise BacktestError(f"topic {topic.id} has no stored posts to replay")
        until = newest + timedelta(seconds=m.BUCKET_SECONDS)
    if since >= until:
        raise BacktestError(f"--since {since:%Y-%m-%d %H:%M} UTC is not before --until {until:%Y-%m-%d %H:%M} UTC"
                            + (" (the end of the stored data)" if data_end else ""))
    q = (select(r.c.bucket, r.c.posts, r.c.negative)
         .where(r.c.topic == topic.id, r.c.bucket >= since - warmup, r.c.bucket < until).order_by(r.c.bucket))
    with store.engine.connect() as conn:
        rows = [(row.bucket.timestamp(), row.posts, row.negative) for row in conn.execute(q)]
    # the detector must see the whole span, empty buckets included: pin both ends
    first = min([rows[0][0]] if rows else [], default=None)
    points: list[tuple[float, int, int]] = list(rows)
    if first is not None:
        end_bucket = float(int((until.timestamp() - 1) // m.BUCKET_SECONDS) * m.BUCKET_SECONDS)
        if end_bucket > rows[-1][0]:
            points.append((end_bucket, 0, 0))
    params = Params.from_alerts({**ALERT_DEFAULTS, **topic.alerts}, bucket_seconds=m.BUCKET_SECONDS, **overrides)
    return backtest_series(points, bucket_seconds=m.BUCKET_SECONDS, params=params, report_from=since)
