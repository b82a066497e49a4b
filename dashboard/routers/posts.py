"""Post search, a post's own page, and people's checks of the machine's work (marks).

- ``GET /search`` (page) and ``GET /api/posts/search``: full-text search (:mod:`monitor.search`)
  with topic, platform, time, sentiment and kind filters, highlighted matches, pages of 20.
- ``GET /posts/{id}`` and ``GET /api/posts/{id}``: the post, its topics and why it matched, its
  marks (who, when, undone by whom).
- ``POST /api/posts/{id}/irrelevant`` (form: topic), ``POST /api/posts/{id}/sentiment`` (form:
  label), ``POST /api/marks/{id}/undo`` (press role, CSRF): see :mod:`monitor.marks`. The page's
  forms post to the same routes under ``/posts/...`` and come back to the post.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from dashboard import audit, cache, queries
from dashboard.web import AppState, RowId, PressWrite, State, Viewer, as_markup, client_ip, render, render_cached
from monitor import marks, models as m
from monitor.search import highlight_html, search

router = APIRouter(tags=["posts"])

PAGE = 20
Sentiment = Literal["negative", "neutral", "positive"]
Kind = Literal["original", "retweet", "quote", "reply", "article"]


def _search(state: State, q: str, topic, platform, since, until, sentiment, kind, order, page) -> dict[str, Any]:
    if topic and topic not in state.config.topics:
        raise HTTPException(404, f"no topic {topic!r}")
    r = search(state.store, q, topic=topic or None, platform=platform or None, since=since, until=until,
               sentiment=sentiment, kind=kind, order=order, limit=PAGE, offset=(page - 1) * PAGE)
    posts = []
    for p in r.posts:
        queries.with_link(p)
        p["snippet_html"] = highlight_html(p.pop("snippet"))
        p["title_html"] = highlight_html(p.pop("title_snippet")) if p.get("title") else ""
        posts.append(p)
    return {"query": q, "total": r.total, "more_than": r.capped, "page": page, "pages": max(1, -(-r.total // PAGE)),
            "terms": r.terms, "note": r.note, "posts": posts}


def _form_time(value: str, name: str, problems: list[str]) -> datetime | None:
    """A time from the search form (empty: none); one that does not parse is reported, not raised."""
    if not value.strip():
        return None
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        problems.append(f"{name}: {value!r} is not a date and time")
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


@router.get("/search", response_class=HTMLResponse, summary="Post search page (the form's fields; empty ones are ignored)")
def search_page(request: Request, user: Viewer, state: AppState,
                q: Annotated[str, Query(max_length=500)] = "",
                topic: Annotated[str, Query(max_length=64)] = "", platform: Annotated[str, Query(max_length=16)] = "",
                since: Annotated[str, Query(max_length=40)] = "", until: Annotated[str, Query(max_length=40)] = "",
                sentiment: Literal["", "negative", "neutral", "positive"] = "",
                kind: Literal["", "original", "retweet", "quote", "reply", "article"] = "",
                order: Literal["relevance", "newest"] = "relevance", page: Annotated[int, Query(ge=1, le=500)] = 1):
    if topic and topic not in state.config.topics:
        raise HTTPException(404, f"no topic {topic!r}")

    def build() -> dict[str, Any]:
        problems: list[str] = []
        t_since, t_until = _form_time(since, "From", problems), _form_time(until, "To", problems)
        result = None
        if q.strip():
            result = _search(state, q, topic, platform, t_since, t_until, sentiment or None, kind or None, order, page)
            for p in result["posts"]:
                p["snippet_html"] = as_markup(p["snippet_html"])
                p["title_html"] = as_markup(p["title_html"])
        params = {"q": q, "topic": topic, "platform": platform, "since": since, "until": until,
                  "sentiment": sentiment, "kind": kind, "order": order}
        return dict(result=result, params=params, topics=state.config.topics, problems=problems)

    return render_cached(request, "search.html", build)


@router.get("/api/posts/search", summary="Full-text search of stored posts")
def api_search(user: Viewer, state: AppState, q: Annotated[str, Query(max_length=500)],
               topic: Annotated[str, Query(max_length=64)] = "", platform: Annotated[str, Query(max_length=16)] = "",
               since: datetime | None = None, until: datetime | None = None,
               sentiment: Sentiment | None = None, kind: Kind | None = None,
               order: Literal["relevance", "newest"] = "relevance",
               page: Annotated[int, Query(ge=1, le=500)] = 1) -> dict[str, Any]:
    """Each post has ``snippet_html``: its text, escaped, with the matches in ``<mark>``."""
    if topic and topic not in state.config.topics:
        raise HTTPException(404, f"no topic {topic!r}")
    return cache.json_response(state.store, ("search", q, topic, platform, since, until, sentiment, kind, order, page),
                               lambda: _search(state, q, topic, platform, since, until, sentiment, kind, order, page))


# ----------------------------------------------------------------------------- one post
def post_detail(state: State, post_id: int) -> dict[str, Any]:
    p, a, pt = m.posts, m.accounts, m.post_topics
    with state.store.engine.connect() as conn:
        row = conn.execute(select(*queries.POST_COLUMNS, p.c.hashtags, p.c.links, p.c.retweets, p.c.likes,
                                  p.c.replies, p.c.quotes, p.c.source)
                           .select_from(p.join(a, a.c.id == p.c.account_id)).where(p.c.id == post_id)).mappings().first()
        if row is None:
            raise HTTPException(404, f"no post #{post_id}")
        topics = [{"topic": t, "terms": terms or []} for t, terms in
                  conn.execute(select(pt.c.topic, pt.c.terms).where(pt.c.post_id == post_id))]
    post = queries.with_link(dict(row))
    for t in topics:
        cfg = state.config.topics.get(t["topic"])
        t["label"] = cfg.label if cfg else t["topic"]
    post["sentiment_label"] = marks.label_of(post["sentiment"])
    return {"post": post, "topics": topics, "marks": marks.marks_of(state.store, post_id)}


@router.get("/posts/{post_id}", response_class=HTMLResponse, summary="A post: its topics, sentiment and marks",
            responses={404: {"description": "No such post"}})
def post_page(request: Request, post_id: RowId, user: Viewer, state: AppState,
              done: Annotated[Literal["irrelevant", "sentiment", "undo"] | None, Query()] = None):
    d = post_detail(state, post_id)
    labels = {tid: t.label for tid, t in state.config.topics.items()}
    flash = {"irrelevant": "Marked irrelevant: the topic's figures leave it out from now on.",
             "sentiment": "Sentiment recorded.", "undo": "Mark undone."}.get(done or "", "")
    can_mark = user.can("press")
    marks_table = {"id": "marks", "caption": "",
                   "columns": [("check", "Check", False), ("by", "By", False), ("at", "When (UTC)", False),
                               ("undone", "Undone", False)],
                   "rows": [{"check": (f"irrelevant to {labels.get(k['topic'], k['topic'])}" if k["kind"] == "irrelevant"
                                       else f"sentiment: {k['label']}"), "by": k["by"],
                             "at": k["at"].strftime("%Y-%m-%d %H:%M"),
                             "undone": f"{k['undone_by']}, {k['undone_at']:%Y-%m-%d %H:%M}" if k["undone_at"] else None}
                            for k in d["marks"]],
                   "actions": [[{"url": f"/posts/{post_id}/undo/{k['id']}", "label": "Undo", "hidden": "this check"}]
                               if can_mark and not k["undone_at"] else [] for k in d["marks"]]}
    return render(request, "post.html", d=d, can_mark=can_mark, labels=labels, flash=flash,
                  sentiments=marks.LABELS, marks_table=marks_table)


@router.get("/api/posts/{post_id}", summary="A post: its topics (and the terms that matched), sentiment and marks",
            responses={404: {"description": "No such post"}})
def api_post(post_id: RowId, user: Viewer, state: AppState) -> dict[str, Any]:
    return post_detail(state, post_id)


def _mark(request: Request, state: State, user, action: str, fn, target: str, detail: dict) -> dict[str, Any]:
    try:
        out = fn()
    except marks.MarkError as exc:
        raise HTTPException(404 if str(exc).startswith("no ") else 409, str(exc)) from None
    audit.record(state.store, action, user=user.name, target=target, detail=detail, ip=client_ip(request))
    return out


def _irrelevant(request, state, user, post_id, topic):
    if topic not in state.config.topics:
        raise HTTPException(422, f"no topic {topic!r}")
    return _mark(request, state, user, "mark", lambda: marks.mark_irrelevant(state.store, post_id, topic, user.name),
                 f"post:{post_id}", {"kind": "irrelevant", "topic": topic})


def _sentiment(request, state, user, post_id, label):
    return _mark(request, state, user, "mark", lambda: marks.correct_sentiment(state.store, post_id, label, user.name),
                 f"post:{post_id}", {"kind": "sentiment", "label": label})


def _undo(request, state, user, mark_id):
    return _mark(request, state, user, "unmark", lambda: marks.undo(state.store, mark_id, user.name),
                 f"mark:{mark_id}", {})


@router.post("/api/posts/{post_id}/irrelevant", summary="Mark a post irrelevant to a topic (press)",
             responses={404: {"description": "No such post"}, 409: {"description": "Not on that topic"}})
def api_irrelevant(request: Request, post_id: RowId, user: PressWrite, state: AppState,
                   topic: Annotated[str, Form(max_length=64)]) -> dict[str, Any]:
    return _irrelevant(request, state, user, post_id, topic)


@router.post("/api/posts/{post_id}/sentiment", summary="Record a person's sentiment for a post (press)",
             responses={404: {"description": "No such post"}})
def api_sentiment(request: Request, post_id: RowId, user: PressWrite, state: AppState,
                  label: Annotated[Sentiment, Form()]) -> dict[str, Any]:
    return _sentiment(request, state, user, post_id, label)


@router.post("/api/marks/{mark_id}/undo", summary="Undo a mark (press)",
             responses={404: {"description": "No such mark"}, 409: {"description": "Already undone"}})
def api_undo(request: Request, mark_id: RowId, user: PressWrite, state: AppState) -> dict[str, Any]:
    return _undo(request, state, user, mark_id)


@router.post("/posts/{post_id}/irrelevant", response_class=RedirectResponse, status_code=303,
             summary="Mark a post irrelevant from its page (form)")
def form_irrelevant(request: Request, post_id: RowId, user: PressWrite, state: AppState,
                    topic: Annotated[str, Form(max_length=64)]):
    _irrelevant(request, state, user, post_id, topic)
    return RedirectResponse(f"/posts/{post_id}?done=irrelevant", status_code=303)


@router.post("/posts/{post_id}/sentiment", response_class=RedirectResponse, status_code=303,
             summary="Record sentiment from a post's page (form)")
def form_sentiment(request: Request, post_id: RowId, user: PressWrite, state: AppState,
                   label: Annotated[Sentiment, Form()]):
    _sentiment(request, state, user, post_id, label)
    return RedirectResponse(f"/posts/{post_id}?done=sentiment", status_code=303)


@router.post("/posts/{post_id}/undo/{mark_id}", response_class=RedirectResponse, status_code=303,
             summary="Undo a mark from a post's page (form)")
def form_undo(request: Request, post_id: RowId, mark_id: RowId, user: PressWrite, state: AppState):
    mk = marks.get_mark(state.store, mark_id)
    if mk is None or mk["post_id"] != post_id:
        raise HTTPException(404, f"no mark #{mark_id} on post #{post_id}")
    _undo(request, state, user, mark_id)
    return RedirectResponse(f"/posts/{post_id}?done=undo", status_code=303)
