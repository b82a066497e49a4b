"""The figures behind the charts: series read from the rollups, and plotly figures made from them.

Every chart on a page is a plotly figure *and* a data table of the same numbers (for screen
readers and for copying). Figures are built here as plain JSON (``plotly.graph_objects``) and drawn
by ``static/js/earshot.js``; any text that came from strangers is HTML-escaped before it goes into a
figure, since plotly reads a few HTML tags (links among them) in labels and hovers.

The **expected level** of a topic is its alert detector's (``monitor.alerts.detector``): the learnt
level times the time-of-day and day-of-week profile, from the detector state the alert engine
saved (``alert_state``). The **expected band** is the range the detector counts as normal: counts
whose Anscombe residual ``2(sqrt(y+3/8) - sqrt(E+3/8))`` over the topic's learnt noise scale is within
the topic's sensitivity -- outside it, the detector starts to alert.
"""

from __future__ import annotations

import html
import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select

from monitor import models as m
from monitor.alerts.detector import Params, TopicDetector
from monitor.config import Topic
from monitor.store import Store

BUCKET = m.BUCKET_SECONDS


def esc(text: Any) -> str:
    """Stranger text for a plotly label or hover: HTML-escaped (plotly shows entities as characters)."""
    return html.escape("" if text is None else str(text), quote=True)


def figure_json(fig: dict[str, Any]) -> str:
    """JSON safe to place inside ``<script type="application/json">`` (no ``<``, ``>`` or ``&``)."""
    return (json.dumps(fig, default=_default, separators=(",", ":"), allow_nan=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _default(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    raise TypeError(type(v))


def floor_time(t: datetime, step: int) -> datetime:
    ts = int(t.timestamp())
    return datetime.fromtimestamp(ts - ts % step, tz=timezone.utc)


def newest_bucket(store: Store, topics: Iterable[str] | None = None) -> datetime | None:
    """The newest rollup bucket (of ``topics``: one primary-key lookup each, instead of a scan)."""
    r = m.rollups
    with store.engine.connect() as conn:
        if topics is None:
            return conn.execute(select(func.max(r.c.bucket))).scalar()
        found = [conn.execute(select(func.max(r.c.bucket)).where(r.c.topic == t)).scalar() for t in topics]
    found = [f for f in found if f is not None]
    return max(found) if found else None


def data_now(store: Store, at: datetime | None = None, topics: Iterable[str] | None = None) -> datetime:
    """The time the pages are drawn at: ``at`` if given, else now -- or, when the newest stored post is
    more than a day old (a replayed or demo week), the end of its bucket, so the charts show data.
    ``topics``: the configured topics (their newest buckets are read by key)."""
    if at is not None:
        return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    newest = newest_bucket(store, topics)
    if newest is not None and newest < now - timedelta(days=1):
        return newest + timedelta(seconds=BUCKET)
    return now


def volume(store: Store, topic: str, start: datetime, end: datetime, step: int) -> list[dict[str, Any]]:
    """Posts, authors, mean sentiment and negative share per ``step`` seconds in [start, end) (empty steps are 0)."""
    r = m.rollups
    with store.engine.connect() as conn:
        rows = conn.execute(select(r.c.bucket, r.c.posts, r.c.sentiment_sum, r.c.negative, r.c.positive)
                            .where(r.c.topic == topic, r.c.bucket >= start, r.c.bucket < end)).all()
    first = floor_time(start, step)
    n = max(0, math.ceil((end - first).total_seconds() / step))
    out = [{"t": first + timedelta(seconds=i * step), "posts": 0, "sentiment_sum": 0.0, "negative": 0, "positive": 0}
           for i in range(n)]
    for b, posts, ssum, neg, pos in rows:
        i = int((b - first).total_seconds() // step)
        if 0 <= i < n:
            o = out[i]
            o["posts"] += posts
            o["sentiment_sum"] += ssum
            o["negative"] += neg
            o["positive"] += pos
    for o in out:
        p = o["posts"]
        o["sentiment"] = o["sentiment_sum"] / p if p else None
        o["negative_share"] = o["negative"] / p if p else None
    return out


_detectors: dict[tuple[str, str], tuple[int, TopicDetector | None]] = {}
_bands: "dict[tuple, tuple[TopicDetector, list[tuple[float, float, float]]]]" = {}


def detector_for(store: Store, topic: Topic) -> TopicDetector | None:
    """The topic's saved alert detector (None before the engine has run on it); rebuilt only when the
    engine has saved a new version of it."""
    s = m.alert_state
    key = f"topic:{topic.id}"
    with store.engine.connect() as conn:
        version = conn.execute(select(s.c.version).where(s.c.key == key)).scalar()
        if version is None:
            return None
        hit = _detectors.get((store.url, key))
        if hit is not None and hit[0] == version:
            return hit[1]
        row = conn.execute(select(s.c.state, s.c.version).where(s.c.key == key)).first()
    det = None
    if row is not None and row.state and row.state.get("detector"):
        try:
            det = TopicDetector.from_dict(row.state["detector"], Params.from_alerts(topic.alerts, BUCKET))
        except (KeyError, ValueError, TypeError):
            det = None
    if len(_detectors) > 256:
        _detectors.clear()
    _detectors[(store.url, key)] = (row.version if row is not None else version, det)
    return det


def expected_band(det: TopicDetector | None, points: Sequence[dict[str, Any]], step: int) -> None:
    """Add ``expected``, ``low`` and ``high`` (posts per step) to each point, from the detector
    (computed once per detector state, window and step)."""
    per = max(1, step // BUCKET)
    if det is None or not det.is_warm:
        for p in points:
            p["expected"] = p["low"] = p["high"] = None
        return
    key = (id(det), points[0]["t"].timestamp() if points else 0, len(points), step)
    hit = _bands.get(key)  # (detector, band): the entry keeps its detector alive, so its id is not reused
    band = hit[1] if hit is not None and hit[0] is det else None
    if band is None:
        # the noise scale of the detector window closest to the step
        window = min(det.params.windows, key=lambda w: abs(w - per))
        scale = max(1.0, 1.2533 * det.mabs.get(window, 0.8))
        z = float(det.params.sensitivity)
        band = []
        for p in points:
            t0 = p["t"].timestamp()
            e = sum(det.expected(t0 + k * BUCKET) for k in range(per))
            root = math.sqrt(e + 0.375)
            lo = root - z * scale / 2
            band.append((e, (root + z * scale / 2) ** 2 - 0.375, max(0.0, lo * lo - 0.375) if lo > 0 else 0.0))
        if len(_bands) > 512:
            _bands.clear()
        _bands[key] = (det, band)
    for p, (e, hi, lo) in zip(points, band):
        p["expected"], p["high"], p["low"] = e, hi, lo


def volume_figure(points: Sequence[dict[str, Any]], title: str, *, band: bool = True,
                  customdata: str | None = None) -> dict[str, Any]:
    """Posts per step (bars) against the expected level and band (lines)."""
    xs = [p["t"].isoformat() for p in points]
    data: list[dict[str, Any]] = []
    if band and any(p.get("expected") is not None for p in points):
        data.append({"type": "scatter", "mode": "lines", "x": xs, "y": [p.get("high") for p in points],
                     "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False, "name": "normal range (upper)"})
        data.append({"type": "scatter", "mode": "lines", "x": xs, "y": [p.get("low") for p in points],
                     "fill": "tonexty", "fillcolor": "rgba(29,112,184,0.15)", "line": {"width": 0},
                     "name": "normal range", "hoverinfo": "skip"})
        data.append({"type": "scatter", "mode": "lines", "x": xs, "y": [p.get("expected") for p in points],
                     "name": "expected", "line": {"color": "#1d70b8", "dash": "dash"}})
    data.append({"type": "bar", "x": xs, "y": [p["posts"] for p in points], "name": "posts",
                 "marker": {"color": "#505a5f"}, **({"customdata": [customdata] * len(xs)} if customdata else {})})
    return {"data": data, "layout": _layout(esc(title), "posts")}


def line_figure(series: dict[str, Sequence[tuple[Any, Any]]], title: str, ytitle: str) -> dict[str, Any]:
    data = [{"type": "scatter", "mode": "lines+markers", "name": esc(name), "x": [_x(x) for x, _ in pts],
             "y": [y for _, y in pts]} for name, pts in series.items()]
    return {"data": data, "layout": _layout(esc(title), esc(ytitle))}


def bar_figure(labels: Sequence[str], values: Sequence[float], title: str, xtitle: str, *,
               keys: Sequence[Any] | None = None) -> dict[str, Any]:
    """Horizontal bars; ``labels`` are stranger text (escaped here)."""
    d: dict[str, Any] = {"type": "bar", "orientation": "h", "y": [esc(x) for x in labels], "x": list(values),
                         "marker": {"color": "#1d70b8"}, "hovertemplate": "%{y}: %{x}<extra></extra>"}
    if keys is not None:
        d["customdata"] = list(keys)
    layout = _layout(esc(title), "")
    layout["xaxis"] = {"title": {"text": esc(xtitle)}}
    layout["yaxis"] = {"autorange": "reversed", "automargin": True}
    layout["height"] = max(260, 28 * len(labels) + 90)
    return {"data": [d], "layout": layout}


def _x(x: Any) -> Any:
    return x.isoformat() if isinstance(x, datetime) else x


def _layout(title: str, ytitle: str) -> dict[str, Any]:
    return {"title": {"text": title, "font": {"size": 16}}, "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
            "height": 320, "yaxis": {"title": {"text": ytitle}, "rangemode": "tozero"},
            "legend": {"orientation": "h", "y": -0.2}, "font": {"family": "Arial, sans-serif"},
            "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff", "bargap": 0.1}
