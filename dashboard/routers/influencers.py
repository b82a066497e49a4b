"""Influencer lookup (policy officials) and account pages.

- ``GET /influencers`` (page) and ``GET /api/influencers``: pick a topic and a window; the ranked
  voices from :mod:`influence` with the why (score parts, amplifiers and the influencers among them,
  channels, community, share of the conversation, flags), the communities and the network figure.
  Stored rankings answer when they cover the window; otherwise it is computed (and stored).
- ``GET /api/influencers/export?format=gexf|graphml|csv``: the network of the ranking shown, for Gephi
  (scores and communities as node attributes; CSV: the nodes, or ``part=edges``). Built once per stored
  run off the request (202 + ``Retry-After`` meanwhile), kept until the run is pruned. Audited.
- ``GET /accounts/{id}`` and ``GET /api/accounts/{id}``: an account's posts, channels, topics, flags
  and rank history across stored windows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from dashboard import audit, cache, charts, queries
from dashboard.links import account_url
from dashboard.web import AppState, RowId, State, Viewer, client_ip, render, render_cached

router = APIRouter(tags=["influencers"])

Window = Literal["7d", "30d", "90d"]
WINDOWS = {"7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90)}
WHY_TOP = 10  # accounts whose "why" the page offers to open (each is read when opened: about 0.5 s at 200k posts)


def _window(state: State, window: str, at: datetime | None) -> tuple[datetime | None, datetime | None, datetime]:
    """``(since, until, now)``: without ``at``, None, None (the lookup's default window of that length
    up to ``now``: a stored run ending less than two hours before it answers), where ``now`` is the
    pages' time (:func:`dashboard.charts.data_now`: now, or the end of the newest data's bucket for a
    past week, so batches of past data do not ask for a new ranking on each new bucket) to the
    5-minute bucket (the window a missing ranking is computed for is the same for every reader in
    that time); with ``at``, exactly the window ending then."""
    end = charts.data_now(state.store, at, state.config.topics)
    if at is None:
        return None, None, charts.floor_time(end, charts.BUCKET)
    return end - WINDOWS[window], end, end


class Computing(Exception):
    """No stored ranking answers and it is being computed (off the request path, :mod:`influence.jobs`)."""

    def __init__(self, pending):
        super().__init__(f"the ranking of {pending.topic} is being computed")
        self.pending = pending


def dispatcher(state: State):
    """How a missing window is computed: a thread of this process (embedded), or a Celery task."""
    from influence import jobs

    d = state.extra.get("influence_dispatch")
    if d is None:
        d = state.extra["influence_dispatch"] = jobs.dispatcher(state.store, state.settings)
    return d


def lookup(state: State, topic: str, window: str = "30d", platform: str | None = None,
           exclude_flagged: bool = False, limit: int = 50, at: datetime | None = None, why: int = 0):
    """``(topic, ranking, whys)`` from a stored run. None answers: the window is claimed and computed
    off the request (one computation for all readers and processes), and meanwhile the newest older
    ranking of the same length answers a lookup without ``at`` (its ``refreshing`` says what is being
    computed); with nothing to show, :class:`Computing` is raised."""
    from influence import InfluenceError, NotStored, explain, influencers, jobs, results

    t = state.config.topics.get(topic)
    if t is None:
        raise HTTPException(404, f"no topic {topic!r}")
    since, until, now = _window(state, window, at)
    refreshing = None
    try:
        ranking = influencers(state.store, topic, since=since, until=until, platform=platform or None, limit=limit,
                              exclude_flagged=exclude_flagged, stakeholders=t.stakeholders, label=t.label, now=now,
                              length=WINDOWS[window], compute=False)
    except InfluenceError as exc:
        raise HTTPException(422, str(exc)) from None
    except NotStored as ns:
        refreshing = jobs.request(state.store, topic, ns.since, ns.until, platform=ns.platform,
                                  exclude_flagged=exclude_flagged, stakeholders=t.stakeholders,
                                  dispatch=dispatcher(state))
        older = None
        if since is None:
            older = results.latest_run(state.store, topic, ns.platform, exclude_flagged, length=WINDOWS[window],
                                       ends_after=now - WINDOWS[window])
        if older is None:
            raise Computing(refreshing) from None
        ranking = results.load_run(state.store, older, limit=limit,
                                   stakeholders=frozenset(h.lower().lstrip("@") for h in t.stakeholders))
        ranking.source, ranking.label = "stored", t.label
    ranking.refreshing = refreshing
    whys = {}
    for a in ranking.accounts[:why]:
        try:
            whys[a.account_id] = explain(state.store, ranking, a.account_id)
        except InfluenceError:
            pass
    return t, ranking, whys


def computing_json(pending) -> "JSONResponse":
    """The API's answer while a ranking is computed: 202 with ``Retry-After``."""
    return JSONResponse(pending.to_dict(), status_code=202, headers={"Retry-After": str(pending.retry_after)})


def ranking_json(ranking, whys) -> dict[str, Any]:
    d = ranking.to_dict()
    pending = getattr(ranking, "refreshing", None)
    d["refreshing"] = pending.to_dict() if pending else None
    d["why"] = {str(k): v.to_dict() for k, v in whys.items()}
    return d


@router.get("/influencers", response_class=HTMLResponse, summary="Influencer lookup page")
def influencers_page(request: Request, user: Viewer, state: AppState,
                     topic: Annotated[str, Query(max_length=64)] = "", window: Window = "30d",
                     platform: Annotated[str, Query(max_length=16, pattern=r"^[a-z0-9_-]*$")] = "",
                     exclude_flagged: bool = False, at: datetime | None = None):
    if topic and topic not in state.config.topics:
        raise HTTPException(404, f"no topic {topic!r}")
    return render_cached(request, "influencers.html",
                         lambda: _lookup_context(state, topic, window, platform, exclude_flagged, at))


def _lookup_context(state: State, topic: str, window: str, platform: str, exclude_flagged: bool,
                    at: datetime | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"topics": state.config.topics, "topic": topic, "window": window, "platform": platform,
                           "exclude_flagged": exclude_flagged}
    if topic:
        from influence import network_figure

        qs = f"topic={topic}&window={window}" + (f"&platform={platform}" if platform else "") + \
             ("&exclude_flagged=true" if exclude_flagged else "") + (f"&at={at.isoformat()}" if at else "")
        try:
            t, ranking, whys = lookup(state, topic, window, platform, exclude_flagged, at=at)
        except Computing as c:
            ctx.update(t=state.config.topics[topic], pending=c.pending, qs=qs)
            return ctx
        why_accounts = ranking.accounts[:WHY_TOP]
        # the figure (a spring layout, and the interactions among the top accounts in the run's window:
        # 0.4 s at 2M posts) depends only on the stored run: drawn once per run, not once a minute
        fig_json, _ = cache.cached(("network", state.store.url, ranking.run_id, ranking.computed_at, ranking.source),
                                   lambda: charts.figure_json(network_figure(ranking, store=state.store, top=40)
                                                              .to_plotly_json()), ttl=None)
        rows = []
        for a in ranking.accounts:
            rows.append({"rank": a.rank, "handle": a.display, "handle_href": f"/accounts/{a.account_id}?topic={topic}",
                         "score": a.score, "score_digits": 1, "amplifiers": a.amplifiers, "community": a.community,
                         "change": a.rank_change, "followers": a.followers,
                         "flags": ", ".join(f["kind"] for f in a.flags) if a.flags else "",
                         "stakeholder": "yes" if a.stakeholder else ""})
        table = {"id": "ranking", "caption": "", "csv_url": f"/api/influencers/export?format=csv&{qs}",
                 "columns": [("rank", "Rank", True), ("handle", "Account", False), ("score", "Score (0-100)", True),
                             ("amplifiers", "Amplified by (accounts)", True), ("community", "Community", True),
                             ("change", "Places gained", True), ("followers", "Followers (not scored)", True),
                             ("flags", "Flags", False), ("stakeholder", "Stakeholder", False)],
                 "rows": rows}
        comm = {"id": "communities", "caption": "",
                "columns": [("id", "Community", True), ("size", "Accounts", True), ("label", "Who and what", False),
                            ("hashtags", "Hashtags", False)],
                "rows": [{"id": c.id, "size": c.size, "label": c.label,
                          "hashtags": ", ".join(f"#{h}" for h, _ in (c.hashtags or [])[:5])} for c in ranking.communities]}
        chart = {"id": "network", "title": f"{t.label}: who amplifies whom (the top 40 accounts)",
                 "figure": fig_json, "columns": table["columns"][:4],
                 "rows": rows[:40]}
        ctx.update(t=t, ranking=ranking, why_accounts=why_accounts, table=table, comm=comm, chart=chart, qs=qs,
                   pending=ranking.refreshing)
    return ctx


@router.get("/api/influencers", summary="The ranked influencers of a topic, with the why of the top accounts",
            responses={404: {"description": "No such topic"},
                       202: {"description": "No stored ranking answers yet: it is being computed (or its computation "
                                            "failed: `status`, `error`); ask again after `Retry-After` seconds"}})
def api_influencers(user: Viewer, state: AppState, topic: Annotated[str, Query(max_length=64)],
                    window: Window = "30d", platform: Annotated[str, Query(max_length=16, pattern=r"^[a-z0-9_-]*$")] = "",
                    exclude_flagged: bool = False, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                    why: Annotated[int, Query(ge=0, le=50, description="Explain this many of the top accounts")] = 0,
                    at: datetime | None = None) -> dict[str, Any]:
    if topic not in state.config.topics:
        raise HTTPException(404, f"no topic {topic!r}")

    def answer() -> dict[str, Any]:
        _t, ranking, whys = lookup(state, topic, window, platform, exclude_flagged, limit, at, why)
        return ranking_json(ranking, whys)

    try:
        return cache.json_response(state.store, ("influencers", topic, window, platform, exclude_flagged, limit, why,
                                                 at), answer)
    except Computing as c:
        return computing_json(c.pending)


@router.get("/influencers/why", response_class=HTMLResponse,
            summary="Why one account ranks where it does (an HTML fragment for the lookup page)",
            responses={404: {"description": "No such topic, or the account is not ranked"},
                       202: {"description": "The ranking is being computed"}})
def why_fragment(request: Request, user: Viewer, state: AppState, topic: Annotated[str, Query(max_length=64)],
                 account: Annotated[int, Query(ge=1, le=2**63 - 1)], window: Window = "30d",
                 platform: Annotated[str, Query(max_length=16, pattern=r"^[a-z0-9_-]*$")] = "",
                 exclude_flagged: bool = False, at: datetime | None = None):
    from influence import InfluenceError, explain

    try:
        _t, ranking, _ = lookup(state, topic, window, platform, exclude_flagged, limit=1000, at=at)
    except Computing as c:
        return HTMLResponse('<p class="govuk-body">The ranking is being computed: reload the page in a moment.</p>',
                            status_code=202, headers={"Retry-After": str(c.pending.retry_after)})
    try:
        w = explain(state.store, ranking, account)
    except InfluenceError as exc:
        raise HTTPException(404, str(exc)) from None
    return render(request, "partials/why.html", w=w)


def export_dispatcher(state: State):
    """How a missing export file is built: a thread of this process (embedded), or a Celery task."""
    from influence import export_jobs

    d = state.extra.get("influence_export_dispatch")
    if d is None:
        d = state.extra["influence_export_dispatch"] = export_jobs.dispatcher(state.store, state.settings)
    return d


_FORMAT_NAMES = {"gexf": "GEXF", "graphml": "GraphML", "csv": "CSV"}


def _export_pending(request: Request, t, ranking, fmt: str, part: str, what: str, pending,
                    body: dict[str, Any]):
    """202 + ``Retry-After``: JSON for the API, a page that says so and asks again by itself (a meta
    refresh: no script) for a browser following the lookup page's link."""
    headers = {"Retry-After": str(pending.retry_after)}
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(body, status_code=202, headers=headers)
    page = render(request, "influencer_export.html", status_code=202, t=t, ranking=ranking, pending=pending,
                  what=what, fmt_name=_FORMAT_NAMES[fmt] + (f" ({'accounts' if part == 'nodes' else 'interactions'})"
                                                            if fmt == "csv" else ""),
                  url=str(request.url.path) + "?" + str(request.url.query),
                  back="/influencers?" + urlencode([(k, v) for k, v in request.query_params.multi_items()
                                                    if k not in ("format", "part")]))
    page.headers.update(headers)
    return page


@router.get("/api/influencers/export", summary="The topic graph as GEXF, GraphML or CSV (for Gephi)",
            response_class=Response,
            responses={404: {"description": "No such topic"},
                       202: {"description": "The file is being prepared (built once per stored ranking, off the "
                                            "request), or the ranking itself is being computed: `status` "
                                            "(preparing, computing or failed), `error`; ask again after "
                                            "`Retry-After` seconds. A browser (Accept: text/html) gets a page "
                                            "that says so and asks again by itself."}})
def api_export(request: Request, user: Viewer, state: AppState, topic: Annotated[str, Query(max_length=64)],
               format: Literal["gexf", "graphml", "csv"] = "gexf", part: Literal["nodes", "edges"] = "nodes",
               window: Window = "30d", platform: Annotated[str, Query(max_length=16, pattern=r"^[a-z0-9_-]*$")] = "",
               exclude_flagged: bool = False, at: datetime | None = None,
               check: Annotated[bool, Query(description="Only say whether the file is ready (200 "
                                                       "{\"status\": \"ready\"}), without sending it")] = False):
    """The network of the ranking the lookup shows (the same stored run), every account and interacting
    pair of it. The file is built once per stored run off the request (:mod:`influence.export_jobs`) and
    kept until the run is pruned: never computed here."""
    from influence import export_jobs

    t = state.config.topics.get(topic)
    if t is None:
        raise HTTPException(404, f"no topic {topic!r}")
    try:
        _t, ranking, _ = lookup(state, topic, window, platform, exclude_flagged, limit=1, at=at)
    except Computing as c:
        return _export_pending(request, t, None, format, part, "ranking", c.pending, c.pending.to_dict())
    p = export_jobs.find(state.store, ranking.run_id, format)
    if p is None or p.state != "done":
        p = export_jobs.request(state.store, ranking.run_id, format, stakeholders=t.stakeholders,
                                dispatch=export_dispatcher(state))
    # the file is kept gzip: a client that takes gzip (every browser) gets it so (5 MB, not 130, for the
    # GEXF of a 48,000-account network), others the file itself
    gz = "gzip" in request.headers.get("accept-encoding", "")
    body = None if check or p.state != "done" else export_jobs.read(state.store, ranking.run_id, format, part,
                                                                    gzipped=gz)
    if p.state != "done" or (body is None and not check):  # (None when its run went in between)
        d = {**p.to_dict(), "topic": topic, "since": ranking.since.isoformat(), "until": ranking.until.isoformat(),
             "exclude_flagged": exclude_flagged}
        return _export_pending(request, t, ranking, format, part, "file", p, d)
    if check:
        return JSONResponse({"status": "ready", "run_id": ranking.run_id, "format": format, "topic": topic})
    name = f"influencers-{topic}" + (f"-{part}.csv" if format == "csv" else f".{format}")
    audit.record(state.store, "export", user=user.name, target=f"influencers:{topic}",
                 detail={"format": format, "part": part if format == "csv" else None,
                         "since": ranking.since.isoformat(), "until": ranking.until.isoformat(),
                         "run_id": ranking.run_id}, ip=client_ip(request))
    media = {"gexf": "application/gexf+xml", "graphml": "application/graphml+xml", "csv": "text/csv; charset=utf-8"}
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Vary": "Accept-Encoding"}
    if gz:
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media[format], headers=headers)


# ----------------------------------------------------------------------------- accounts
def account_detail(state: State, account_id: int, topic: str | None = None) -> dict[str, Any]:
    acc = queries.account(state.store, account_id)
    if acc is None:
        raise HTTPException(404, f"no account #{account_id}")
    end = charts.data_now(state.store, None, state.config.topics)
    posts = queries.posts_in(state.store, None, end - timedelta(days=90), end + timedelta(days=1),
                             account_id=account_id, limit=50)
    history = queries.rank_history(state.store, account_id)
    flags: dict[str, dict[str, Any]] = {}
    for h in history:
        for f in h.get("flags") or []:
            flags.setdefault(f.get("kind"), f)
    why = None
    if topic and topic in state.config.topics:
        from influence import InfluenceError, explain, stored

        t = state.config.topics[topic]
        ranking = stored(state.store, topic, limit=1000, stakeholders=t.stakeholders)
        if ranking is not None and ranking.find(account_id) is not None:
            try:
                why = explain(state.store, ranking, account_id)
            except InfluenceError:
                why = None
    return {"account": {**acc, "link": account_url(acc.get("platform"), acc.get("handle"), acc.get("url"))},
            "posts": posts, "channels": queries.account_channels(state.store, account_id),
            "topics": queries.account_topics(state.store, account_id), "rank_history": history,
            "flags": list(flags.values()), "why": why}


@router.get("/accounts/{account_id}", response_class=HTMLResponse, summary="Account page",
            responses={404: {"description": "No such account"}})
def account_page(request: Request, account_id: RowId, user: Viewer, state: AppState,
                 topic: Annotated[str, Query(max_length=64)] = ""):
    if queries.account(state.store, account_id) is None:
        raise HTTPException(404, f"no account #{account_id}")
    return render_cached(request, "account.html", lambda: _account_context(state, account_id, topic),
                         version=lambda: _account_version(state, account_id))


def _account_version(state: State, account_id: int):
    """An account page changes with the account's own posts (and influence runs, marks, the minute), not
    with every batch of other accounts' posts."""
    return cache.account_version(state.store, account_id, charts.data_now(state.store, None, state.config.topics))


def _account_context(state: State, account_id: int, topic: str) -> dict[str, Any]:
    d = account_detail(state, account_id, topic or None)
    labels = {tid: t.label for tid, t in state.config.topics.items()}
    hist = {"id": "rank-history", "caption": "",
            "columns": [("topic", "Topic", False), ("window", "Window", False), ("variant", "Variant", False),
                        ("rank", "Rank", True), ("score", "Score", True)],
            "rows": [{"topic": labels.get(h["topic"], h["topic"]),
                      "window": f"{h['window_start']:%d %b} – {h['window_end']:%d %b %Y}",
                      "variant": ("without flagged amplification" if h["exclude_flagged"] else "all") +
                                 ("" if h["platform"] == "all" else f", {h['platform']}"),
                      "rank": h["rank"], "score": h["score"], "score_digits": 1} for h in d["rank_history"]]}
    return dict(d=d, labels=labels, hist=hist, topic=topic)


@router.get("/api/accounts/{account_id}", summary="An account: posts, channels, topics, flags, rank history",
            responses={404: {"description": "No such account"}})
def api_account(account_id: RowId, user: Viewer, state: AppState,
                topic: Annotated[str, Query(max_length=64)] = "") -> dict[str, Any]:
    if queries.account(state.store, account_id) is None:
        raise HTTPException(404, f"no account #{account_id}")

    def answer() -> dict[str, Any]:
        d = account_detail(state, account_id, topic or None)
        d["why"] = d["why"].to_dict() if d["why"] else None
        return d

    return cache.json_response(state.store, ("account", account_id, topic), answer,
                               version=lambda: _account_version(state, account_id))
