"""The application factory.

::

    from dashboard.app import create_app
    app = create_app()                                  # settings, configuration and store from the environment
    app = create_app(store=store, config=config)        # tests: a given store (and configuration)

``create_app`` returns a FastAPI app serving the pages (Jinja2 templates, GOV.UK Frontend), one
JSON API router per resource (``/api/...``, described by the OpenAPI document at ``/openapi.json``, for a signed-in
user), the live alert stream and every static asset (``/static/...``:
the app's own CSS and JS, the vendored GOV.UK Frontend and htmx under ``/static/vendor/``, and
plotly.js from the plotly package at ``/static/plotly.min.js``), so it runs on an air-gapped
network. The live hub (:mod:`dashboard.live`) starts and stops with the app (its lifespan).

Every response carries a Content Security Policy: scripts only from this origin or with the
request's nonce, no inline event handlers, no plugins, no framing, forms posting only here.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import plotly
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from dashboard import live
from dashboard.settings import WebSettings
from dashboard.web import HERE, NotSignedIn, State, new_nonce, render, require
from monitor.config import Config
from monitor.settings import Settings
from monitor.store import Store

log = logging.getLogger(__name__)

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


# plotly.min.js (7.x) appends one fixed <style> element (maplibre's CSS) when it loads; its hash allows
# exactly that text (the browser tests fail on any CSP violation, so a new plotly shows up there)
PLOTLY_STYLE_HASH = "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='"


def csp(nonce: str) -> str:
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            f"style-src 'self' 'nonce-{nonce}' {PLOTLY_STYLE_HASH}; "
            "style-src-attr 'unsafe-inline'; "  # plotly and GOV.UK set element styles; style elements need the nonce
            "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def create_app(settings: Settings | None = None, *, store: Store | None = None, config: Config | None = None,
               web: WebSettings | None = None, hub: bool = True, poll_seconds: float | None = None) -> FastAPI:
    """The dashboard app.

    Parameters
    ----------
    settings : Settings, optional
        Where the store and Redis are (default: :func:`monitor.settings.load_settings`).
    store : Store, optional
        The store to read (default: one opened from ``settings``; the process context's when it
        has one for the same URL).
    config : Config, optional
        The topic configuration (default: read from ``settings.config_path``).
    web : WebSettings, optional
        Session lifetimes, throttling and cookies (default: from the environment).
    hub : bool
        Start the live alert hub with the app (tests of plain pages may leave it off).
    poll_seconds : float, optional
        The hub's safety-net poll (default 1 s without Redis, 5 s with it).
    """
    from monitor.config import load_config
    from monitor.settings import load_settings

    import influence  # noqa: F401  (networkx, scipy, igraph: loaded now, not by the first request that needs them)

    settings = settings or load_settings()
    config = config or load_config(settings.config_path)
    store = store or Store(settings.database_url)
    web = web or WebSettings.from_env()
    state = State(store=store, config=config, settings=settings, web=web)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        indexer = asyncio.create_task(_index_posts(store)) if store.dialect == "sqlite" else None
        if hub:
            from dashboard.routers.alerts import card_html

            state.hub = live.Hub(store, settings.redis_url, render=lambda row: card_html(state, row),
                                 poll_seconds=poll_seconds)
            await state.hub.start()
        try:
            yield
        finally:
            if indexer is not None:
                indexer.cancel()
            if state.hub is not None:
                await state.hub.stop()
                state.hub = None

    app = FastAPI(title="Earshot", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None,
                  description="The Earshot dashboard's JSON API: alerts, topics, influencers, accounts, posts, "
                              "marks, collection status, audit. Every route but `GET /health` and sign-in needs a "
                              "signed-in session (cookie `earshot_session`) or an API token "
                              "(`Authorization: Bearer esk_...`, made by an admin on the accounts page or with "
                              "`earshot tokens add NAME --role ROLE`; the token's role decides what it may do). "
                              "With a session, state-changing requests need the session's CSRF token as the "
                              "`csrf_token` form field or the `X-CSRF-Token` header; a token needs none, and "
                              "cannot manage tokens or accounts.")
    app.state.earshot = state

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        nonce = new_nonce()
        request.state.csp_nonce = nonce
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", csp(nonce))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn):
        if _wants_json(request):
            return JSONResponse({"detail": "sign in first"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="earshot"'})
        from urllib.parse import quote

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _wants_json(request) or exc.status_code < 400:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))
        return render(request, "error.html", status_code=exc.status_code, status=exc.status_code, detail=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        if _wants_json(request):
            return JSONResponse({"detail": _plain_errors(exc)}, status_code=422)
        return render(request, "error.html", status_code=422, status=422,
                      detail="; ".join(f"{e['loc']}: {e['msg']}" for e in _plain_errors(exc)))

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require("viewer"))])
    def openapi_document():
        return JSONResponse(app.openapi())

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js():
        return FileResponse(PLOTLY_JS, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from dashboard.routers import ROUTERS

    for router in ROUTERS:
        app.include_router(router)
    return app


INDEX_EVERY = 15.0  #: seconds between runs of the background full-text indexer (SQLite)


async def _index_posts(store: Store) -> None:
    """Keep SQLite's full-text index of posts current (:func:`monitor.search.ensure_indexed`) in the background."""
    from monitor.search import ensure_indexed

    while True:
        try:
            await asyncio.to_thread(ensure_indexed, store)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database busy or away: next time
            log.warning("full-text indexing of posts failed, will retry: %s", exc)
        await asyncio.sleep(INDEX_EVERY)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path in ("/health", "/openapi.json") or path.endswith("/stream") \
        or "application/json" in request.headers.get("accept", "") and "text/html" not in request.headers.get("accept", "")


def _plain_errors(exc: RequestValidationError) -> list[dict]:
    out = []
    for e in exc.errors():
        out.append({"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": e.get("type")})
    return out
