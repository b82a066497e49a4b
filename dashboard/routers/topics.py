"""Topic overview: volume against the expected level, last week, the 12-week trend, sentiment, what is
shared, stakeholders, influencers, alerts, and what people's checks say -- with time range and
platform filters. Every chart has its table; clicking a point lists the posts behind it.

Pages ``/topics`` and ``/topics/{topic}``; API ``/api/topics``, ``/api/topics/{topic}``,
``/api/topics/{topic}/volume`` (JSON, or ``.csv``) and ``/api/topics/{topic}/posts``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from dashboard import cache, charts, queries
from dashboard.web import AppState, State, Viewer, audited_csv, render, render_cached
from monitor import marks
from monitor.alerts import records
from monitor.health import gaps_between

router = APIRouter(tags=["topics"])

Range = Literal["24h", "7d", "30d", "90d"]
RANGES: dict[str, tuple[timedelta, int]] = {  # length, chart step (seconds)
    "24h": (timedelta(hours=24), 3600),
    "7d": (timedelta(days=7), 3600),
    "30d": (timedelta(days=30), 86400),
    "90d": (timedelta(days=90), 86400),
}
Platform = Annotated[str | None, Query(max_length=16, pattern=r"^[a-z0-9_-]*$",
                                       description="One platform (x, rss...); empty: all")]
At = Annotated[datetime | None, Query(description="End of the window (default: now, or the newest data of a past week)")]


def _topic(state: State, topic: str):
    t = state.config.topics.get(topic)
    if t is None:
        raise HTTPException(404, f"no topic {topic!r}")
    return t


def window(state: State, range_: str, at: datetime | None) -> tuple[datetime, datetime, int]:
    length, step = RANGES[range_]
    end = charts.data_now(state.store, at, state.config.topics)
    end = charts.floor_time(end, 3600) + timedelta(hours=1) if step == 3600 else charts.floor_time(end, 86400) + timedelta(days=1)
    return end - length, end, step


def overview(state: State, topic: str, range_: str = "7d", platform: str | None = None,
             at: datetime | None = None) -> dict[str, Any]:
    """Everything the topic page shows, as plain data (the API returns it as it is)."""
    t = _topic(state, topic)
    platform = platform or None
    start, end, step = window(state, range_, at)
    pts = queries.series(state.store, topic, start, end, step, platform)
    det = charts.detector_for(state.store, t)
    if platform is None:
        charts.expected_band(det, pts, step)
    else:
        for p in pts:
            p["expected"] = p["low"] = p["high"] = None
    length = end - start
    prev = queries.totals(queries.series(state.store, topic, start - length, start, step, platform))
    weeks = queries.series(state.store, topic, end - timedelta(weeks=12), end, 7 * 86400, platform)
    try:
        from influence import stored

        ranking = stored(state.store, topic, limit=10, stakeholders=t.stakeholders)
        influencers = [{"account_id": a.account_id, "rank": a.rank, "handle": a.handle, "name": a.name,
                        "score": a.score, "amplifiers": a.amplifiers, "flagged": a.flagged,
                        "stakeholder": a.stakeholder} for a in (ranking.accounts if ranking else [])]
        ranking_window = (ranking.since, ranking.until) if ranking else None
    except Exception:  # no stored ranking yet, or the influence package unavailable
        influencers, ranking_window = [], None
    review = marks.review_stats(state.store, since=start, until=end, topic=topic).get(topic, {})
    as_of = datetime.now(timezone.utc)  # the lists are counted now, from the share rollups
    shared_posts = queries.most_shared_posts(state.store, topic, start, end, platform=platform)
    shared_links = queries.most_shared_links(state.store, topic, start, end, platform=platform)
    return {
        "topic": {"id": t.id, "label": t.label, "description": t.description},
        "range": range_, "platform": platform, "start": start, "end": end, "step_seconds": step,
        "volume": pts,
        "totals": queries.totals(pts),
        "previous": {"start": start - length, "end": start, **prev},
        "weekly": weeks,
        "most_shared_posts": shared_posts,
        "most_shared_links": shared_links,
        "shared_as_of": as_of,
        "stakeholder_posts": queries.stakeholder_posts(state.store, topic, t.stakeholders, start, end, platform=platform),
        "influencers": influencers, "influencers_window": ranking_window,
        "alerts": [{"id": a["id"], "title": a["title"], "severity": a["severity"], "state": a["state"],
                    "opened_at": a["opened_at"], "kind": a["kind"]}
                   for a in records.list_alerts(state.store, topic=topic, since=start, until=end, limit=20)],
        "review": {"irrelevant": review.get("irrelevant", 0), "irrelevant_share": review.get("irrelevant_share"),
                   "sentiment_checked": review.get("sentiment_checked", 0),
                   "disagreement_rate": review.get("disagreement_rate")},
        "gaps": [{"source": g["source"], "reason": g["reason"], "start": g["start"], "end": g["end"]}
                 for g in gaps_between(state.store, start, end)],
    }


def _fmt_t(t: datetime, step: int) -> str:
    return t.strftime("%a %d %b %H:%M" if step < 86400 else "%a %d %b %Y")


# ----------------------------------------------------------------------------- pages
@router.get("/topics", response_class=HTMLResponse, summary="Topics page")
def topics_page(request: Request, user: Viewer, state: AppState, at: At = None):
    def build() -> dict[str, Any]:
        rows = topic_list(state, at)
        return {"table": {
            "id": "topics", "caption": "Topics, last 7 days", "csv_url": "/api/topics.csv",
            "columns": [("label", "Topic", False), ("posts", "Posts", True), ("authors", "Authors", True),
                        ("sentiment", "Mean sentiment", True), ("negative_pct", "Negative %", True),
                        ("irrelevant_pct", "Marked irrelevant %", True), ("disagree_pct", "Sentiment disagreement %", True)],
            "rows": [{**r, "label_href": f"/topics/{r['id']}", "sentiment_digits": 2} for r in rows]}}

    return render_cached(request, "topics.html", build)


def topic_list(state: State, at: datetime | None = None) -> list[dict[str, Any]]:
    """Each topic's last 7 days, from the rollups (posts, sentiment, and the distinct authors of
    ``rollup_authors``), with its review figures."""
    end = charts.data_now(state.store, at, state.config.topics)
    start = end - timedelta(days=7)
    counts = state.store.topic_counts(start, end)
    review = marks.review_stats(state.store, since=start, until=end)
    out = []
    for tid, t in state.config.topics.items():
        c, r = counts.get(tid, {}), review.get(tid, {})
        pct = lambda v: None if v is None else v * 100  # noqa: E731
        out.append({"id": tid, "label": t.label, "posts": c.get("posts", 0), "authors": c.get("authors", 0),
                    "sentiment": c.get("sentiment"), "negative_pct": pct(c.get("negative_share")),
                    "irrelevant_pct": pct(r.get("irrelevant_share")), "disagree_pct": pct(r.get("disagreement_rate"))})
    return out


@router.get("/topics/{topic}", response_class=HTMLResponse, summary="Topic overview page",
            responses={404: {"description": "No such topic"}})
def topic_page(request: Request, topic: str, user: Viewer, state: AppState, range: Range = "7d",
               platform: Platform = None, at: At = None):
    _topic(state, topic)
    return render_cached(request, "topic.html", lambda: _page_context(state, topic, range, platform, at))


def _page_context(state: State, topic: str, range: str, platform: str | None, at: datetime | None) -> dict[str, Any]:
    ov = overview(state, topic, range, platform, at)
    step = ov["step_seconds"]
    label = ov["topic"]["label"]
    qs = f"range={range}" + (f"&platform={platform}" if platform else "") + (f"&at={at.isoformat()}" if at else "")
    points_url = f"/topics/{topic}/points?step={step}" + (f"&platform={platform}" if platform else "")
    vol_rows = [{"t": _fmt_t(p["t"], step), "t_href": f"{points_url}&point={quote(p['t'].isoformat())}" if p["posts"] else None,
                 "posts": p["posts"], "expected": p["expected"], "low": p["low"],
                 "high": p["high"], "expected_digits": 1, "low_digits": 1, "high_digits": 1} for p in ov["volume"]]
    volume_chart = {
        "id": "volume", "title": f"{label}: posts per {'hour' if step < 86400 else 'day'} against the expected level",
        "figure": charts.figure_json(charts.volume_figure(ov["volume"], "Posts", band=platform is None)),
        "posts_url": points_url, "csv_url": f"/api/topics/{topic}/volume.csv?{qs}",
        "columns": [("t", "Time (UTC)", False), ("posts", "Posts", True), ("expected", "Expected", True),
                    ("low", "Normal from", True), ("high", "Normal to", True)], "rows": vol_rows}
    sent_series = {"mean sentiment": [(p["t"], p["sentiment"]) for p in ov["volume"]],
                   "negative share": [(p["t"], p["negative_share"]) for p in ov["volume"]]}
    sentiment_chart = {
        "id": "sentiment", "title": f"{label}: sentiment over time (mean score, -1 to 1; share of negative posts)",
        "figure": charts.figure_json(charts.line_figure(sent_series, "Sentiment", "score / share")),
        "posts_url": points_url, "csv_url": f"/api/topics/{topic}/volume.csv?{qs}",
        "columns": [("t", "Time (UTC)", False), ("sentiment", "Mean sentiment", True), ("negative_pct", "Negative %", True)],
        "rows": [{"t": _fmt_t(p["t"], step), "sentiment": p["sentiment"], "sentiment_digits": 2,
                  "negative_pct": None if p["negative_share"] is None else p["negative_share"] * 100}
                 for p in ov["volume"]]}
    weekly_chart = {
        "id": "weekly", "title": f"{label}: posts per week, last 12 weeks",
        "figure": charts.figure_json(charts.volume_figure(ov["weekly"], "Posts per week", band=False)),
        "csv_url": f"/api/topics/{topic}/volume.csv?range=90d&weekly=1" + (f"&platform={platform}" if platform else ""),
        "columns": [("t", "Week from", False), ("posts", "Posts", True), ("sentiment", "Mean sentiment", True)],
        "rows": [{"t": _fmt_t(p["t"], 86400), "posts": p["posts"], "sentiment": p["sentiment"], "sentiment_digits": 2}
                 for p in ov["weekly"]]}
    shared_posts = {"id": "shared-posts", "caption": "Most shared posts (retweets and quotes in the window)",
                    "columns": [("text", "Post", False), ("handle", "Account", False), ("shares", "Shares", True)],
                    "rows": [{"text": _short(p), "text_href": f"/posts/{p['id']}", "handle": "@" + (p["handle"] or "?"),
                              "handle_href": f"/accounts/{p['account_id']}", "shares": p["shares"]}
                             for p in ov["most_shared_posts"]]}
    shared_links = {"id": "shared-links", "caption": "Most shared links",
                    "columns": [("url", "Link", False), ("posts", "Posts", True)],
                    "rows": [{"url": x["url"], "url_href": x["link"], "posts": x["posts"]} for x in ov["most_shared_links"]]}
    links_chart = None
    if ov["most_shared_links"]:
        links_chart = {"id": "links-chart", "title": "Most shared links (posts)",
                       "figure": charts.figure_json(charts.bar_figure([x["url"][:80] for x in ov["most_shared_links"]],
                                                                      [x["posts"] for x in ov["most_shared_links"]],
                                                                      "Most shared links", "posts")),
                       **{k: shared_links[k] for k in ("columns", "rows")}}
    holders = {"id": "stakeholders", "caption": "Stakeholder posts",
               "columns": [("time", "Time (UTC)", False), ("handle", "Account", False), ("text", "Post", False)],
               "rows": [{"time": _fmt_t(p["created_at"], 3600), "handle": "@" + (p["handle"] or "?"),
                         "handle_href": f"/accounts/{p['account_id']}", "text": _short(p), "text_href": f"/posts/{p['id']}"}
                        for p in ov["stakeholder_posts"]]}
    infl = {"id": "influencers", "caption": "Top influencers (stored ranking)",
            "columns": [("rank", "Rank", True), ("handle", "Account", False), ("score", "Score", True),
                        ("amplifiers", "Amplifiers", True), ("flag", "Flagged", False)],
            "rows": [{"rank": a["rank"], "handle": "@" + (a["handle"] or str(a["account_id"])),
                      "handle_href": f"/accounts/{a['account_id']}", "score": a["score"], "score_digits": 1,
                      "amplifiers": a["amplifiers"], "flag": "yes" if a["flagged"] else ""} for a in ov["influencers"]]}
    return dict(ov=ov, range=range, ranges=list(RANGES), platform=platform or "",
                charts_=[volume_chart, sentiment_chart, weekly_chart] + ([links_chart] if links_chart else []),
                tables=[shared_posts, shared_links, holders, infl], qs=qs)


def _short(p: dict[str, Any], n: int = 140) -> str:
    text = ((p.get("title") + " — ") if p.get("title") else "") + (p.get("text") or "")
    return text if len(text) <= n else text[: n - 1] + "…"


@router.get("/topics/{topic}/points", response_class=HTMLResponse,
            summary="The posts behind one point of a topic chart (an HTML fragment)")
def points_fragment(request: Request, topic: str, user: Viewer, state: AppState,
                    point: Annotated[datetime, Query(description="Start of the chart step clicked")],
                    step: Annotated[int, Query(ge=300, le=7 * 86400)] = 3600, platform: Platform = None):
    t = _topic(state, topic)
    posts = queries.posts_in(state.store, topic, point, point + timedelta(seconds=step), platform=platform or None,
                             limit=50)
    heading = f"Posts from {_fmt_t(point, 3600)} UTC"
    if request.headers.get("sec-fetch-mode") == "navigate":  # opened as a page (a table's link), not by the chart
        return render(request, "topic_points.html", posts=posts, heading=heading, topic=t)
    return render(request, "partials/posts_list.html", posts=posts, heading=heading, more_url=None)


# ----------------------------------------------------------------------------- API
@router.get("/api/topics", summary="Topics with their last 7 days")
def api_topics(user: Viewer, state: AppState, at: At = None) -> list[dict[str, Any]]:
    return cache.json_response(state.store, ("topics", at), lambda: topic_list(state, at))


@router.get("/api/topics.csv", summary="Topics with their last 7 days (CSV)", response_class=Response)
def api_topics_csv(request: Request, user: Viewer, state: AppState, at: At = None):
    cols = ["id", "label", "posts", "authors", "sentiment", "negative_pct", "irrelevant_pct", "disagree_pct"]
    return audited_csv(request, state.store, user.name, "topics", "topics.csv", cols, topic_list(state, at))


@router.get("/api/topics/{topic}", summary="Topic overview", responses={404: {"description": "No such topic"}})
def api_topic(topic: str, user: Viewer, state: AppState, range: Range = "7d", platform: Platform = None,
              at: At = None) -> dict[str, Any]:
    _topic(state, topic)
    return cache.json_response(state.store, ("topic", topic, range, platform or None, at),
                               lambda: overview(state, topic, range, platform, at))


@router.get("/api/topics/{topic}/volume", summary="Posts, expected level and sentiment over time",
            responses={404: {"description": "No such topic"}})
def api_volume(topic: str, user: Viewer, state: AppState, range: Range = "7d", platform: Platform = None,
               at: At = None, hours: Annotated[int | None, Query(ge=1, le=24 * 90)] = None,
               weekly: bool = False) -> list[dict[str, Any]]:
    t = _topic(state, topic)
    start, end, step = window(state, range, at)
    if hours:
        start, step = end - timedelta(hours=hours), 3600
    if weekly:
        start, step = end - timedelta(weeks=12), 7 * 86400
    pts = queries.series(state.store, topic, start, end, step, platform or None)
    if not platform:
        charts.expected_band(charts.detector_for(state.store, t), pts, step)
    return [{k: p.get(k) for k in ("t", "posts", "expected", "low", "high", "sentiment", "negative_share")} for p in pts]


@router.get("/api/topics/{topic}/volume.csv", summary="Posts, expected level and sentiment over time (CSV)",
            response_class=Response, responses={404: {"description": "No such topic"}})
def api_volume_csv(request: Request, topic: str, user: Viewer, state: AppState, range: Range = "7d",
                   platform: Platform = None, at: At = None,
                   hours: Annotated[int | None, Query(ge=1, le=24 * 90)] = None, weekly: bool = False):
    pts = api_volume(topic, user, state, range, platform, at, hours, weekly)
    cols = ["t", "posts", "expected", "low", "high", "sentiment", "negative_share"]
    return audited_csv(request, state.store, user.name, f"topic:{topic}", f"{topic}-volume.csv", cols, pts,
                       range=range, platform=platform or None)


@router.get("/api/topics/{topic}/posts", summary="The topic's posts in a time range, newest first",
            responses={404: {"description": "No such topic"}})
def api_topic_posts(topic: str, user: Viewer, state: AppState, since: datetime, until: datetime,
                    platform: Platform = None, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    _topic(state, topic)
    return queries.posts_in(state.store, topic, since, until, platform=platform or None, limit=limit)
