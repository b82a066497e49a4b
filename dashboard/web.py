"""What every page and API route shares: the app's state, sign-in and role dependencies, CSRF, templates.

Typed dependencies (FastAPI ``Annotated``) say what a route needs::

    @router.get("/api/things")
    def things(user: Viewer, state: AppState): ...

    @router.post("/api/things/{id}/ack")
    def ack(user: PressWrite, state: AppState): ...      # press role and a valid CSRF token

``Viewer``, ``Press``, ``Admin``: a live session with at least that role (viewer < press < admin).
``PressWrite``, ``AdminWrite`` (and ``ViewerWrite``): the same, for state-changing requests: the
session's CSRF token must come as the ``csrf_token`` form field or the ``X-CSRF-Token`` header.
An anonymous caller gets 401 from ``/api/...`` and is sent to ``/login`` from a page; a caller
without the role gets 403; a state-changing request without the token gets 403.

Other tools call the API with an API token (``Authorization: Bearer esk_...``, see
:mod:`dashboard.auth`) instead of a session cookie: the same roles apply, no CSRF token is needed
(a browser never sends the header by itself), and ``People`` routes (``AdminPerson``: tokens and
accounts; sign-out) refuse a token with 403.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Iterable, Sequence
from urllib.parse import quote, urlparse

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from dashboard import auth
from dashboard.settings import WebSettings
from monitor.config import Config
from monitor.settings import Settings
from monitor.store import Store

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "earshot_session"
LOGIN_CSRF_COOKIE = "earshot_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass
class State:
    """What the routes read: the store, the configuration, settings, the live hub (``app.state.earshot``)."""

    store: Store
    config: Config
    settings: Settings
    web: WebSettings
    hub: Any = None  # dashboard.live.Hub, started with the app
    extra: dict[str, Any] = field(default_factory=dict)


def get_state(request: Request) -> State:
    return request.app.state.earshot


AppState = Annotated[State, Depends(get_state)]


# ----------------------------------------------------------------------------- sign-in and roles
class NotSignedIn(Exception):
    """Raised by the role dependencies; answered 401 (API) or a redirect to the sign-in page (pages)."""


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def bearer_token(request: Request) -> str | None:
    """The API token of an ``Authorization: Bearer ...`` header, if there is one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_session(request: Request) -> auth.Session | None:
    """The caller: an API token when the request has an ``Authorization`` header (and then only it),
    else the session cookie's person."""
    if hasattr(request.state, "session"):
        return request.state.session
    st = get_state(request)
    if request.headers.get("authorization") is not None:
        sess = auth.session_for_token(st.store, bearer_token(request))
    else:
        sess = auth.session_for(st.store, request.cookies.get(SESSION_COOKIE), settings=st.web)
    request.state.session = sess
    return sess


async def _csrf_token_of(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded") or ctype.startswith("multipart/form-data"):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def require(role: str, *, csrf: bool = False, person: bool = False):
    """A dependency: the caller's session, refusing anonymous callers and those below ``role``
    (``person``: and API tokens)."""
    auth.check_role(role)

    async def dependency(request: Request) -> auth.Session:
        sess = current_session(request)
        if sess is None:
            raise NotSignedIn()
        if not sess.can(role):
            raise HTTPException(403, f"this needs the {role} role; you are signed in as {sess.role}")
        if person and sess.token:
            raise HTTPException(403, "this needs a person signed in: an API token cannot do it")
        if csrf and not sess.token and not auth.csrf_ok(sess, await _csrf_token_of(request)):
            raise HTTPException(403, "the form is out of date or not from this site (CSRF token missing or wrong): "
                                     "reload the page and try again")
        return sess

    dependency.__name__ = f"require_{role}{'_csrf' if csrf else ''}{'_person' if person else ''}"
    return dependency


Viewer = Annotated[auth.Session, Depends(require("viewer"))]
Press = Annotated[auth.Session, Depends(require("press"))]
Admin = Annotated[auth.Session, Depends(require("admin"))]
ViewerWrite = Annotated[auth.Session, Depends(require("viewer", csrf=True))]
PressWrite = Annotated[auth.Session, Depends(require("press", csrf=True))]
AdminWrite = Annotated[auth.Session, Depends(require("admin", csrf=True))]
#: A signed-in person, never an API token: managing tokens and accounts, signing out.
AdminPerson = Annotated[auth.Session, Depends(require("admin", person=True))]
AdminPersonWrite = Annotated[auth.Session, Depends(require("admin", csrf=True, person=True))]
ViewerPersonWrite = Annotated[auth.Session, Depends(require("viewer", csrf=True, person=True))]

#: The id of a stored row in a path (``/api/alerts/{alert_id}``): a number no database integer can
#: hold is refused (422) before it reaches the database, which would fail on it.
RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


def safe_next(target: str | None, default: str = "/alerts") -> str:
    """A local path to go to after sign-in (never another site: no scheme, no host, no ``//``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc:
        return default
    return target


# ----------------------------------------------------------------------------- templates
def _fmt_time(value: Any, fmt: str = "%a %d %b %H:%M") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime(fmt) + " UTC"


def _fmt_num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v or v in (float("inf"), float("-inf")):
        return "—"
    return f"{v:,.{digits}f}"


def _fmt_pct(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def _fmt_ratio(value: Any) -> str:
    if value is None:
        return "—"
    v = float(value)
    if v == float("inf") or v > 1e6:
        return "far above normal"
    return f"{v:.1f}× normal"


def pager_qs(params: dict[str, Any], page: int) -> str:
    """The query string of ``params`` (empty ones left out) at ``page``."""
    from urllib.parse import urlencode

    return urlencode([(k, v) for k, v in params.items() if v not in ("", None)] + [("page", page)])


def make_templates() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(["html", "xml", "j2"], default_for_string=True, default=True),
                      trim_blocks=True, lstrip_blocks=True)
    from dashboard.links import original_link
    from dashboard.pages import nav_items

    env.globals["nav_items"] = nav_items
    env.globals["pager_qs"] = pager_qs
    env.filters.update(time=_fmt_time, num=_fmt_num, pct=_fmt_pct, ratio=_fmt_ratio, original=original_link,
                       urlq=lambda s: quote(str(s), safe=""))
    return env


TEMPLATES = make_templates()


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page: ``template`` with the request, the signed-in user, the CSP nonce and the CSRF token."""
    sess = current_session(request) if hasattr(request.app.state, "earshot") else None
    ctx = {"request": request, "user": sess, "nonce": getattr(request.state, "csp_nonce", ""),
           "csrf_field": CSRF_FIELD, "csrf_token": sess.csrf_token if sess else "",
           "path": request.url.path, **context}
    html = TEMPLATES.get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status_code)


#: stand-ins for what differs between two requests for the same cached page (random per process, so no
#: stored text can contain them): the CSP nonce, the session's CSRF token, the signed-in name
_MARKS = {"nonce": "n" + secrets.token_hex(16), "csrf": "c" + secrets.token_hex(16), "name": "u" + secrets.token_hex(16),
          "as_of": "a" + secrets.token_hex(16)}


def as_of_notice(as_of: datetime) -> str:
    """What a page served from the previous data version says (see :func:`render_cached`)."""
    return (f'<p class="govuk-body-s earshot-as-of" id="as-of">Figures as of {_fmt_time(as_of, "%H:%M:%S")}: '
            'newer data is being counted. Reload the page in a few seconds to see it.</p>')


def render_cached(request: Request, template: str, build, *, status_code: int = 200, stale: bool = True,
                  version=None) -> HTMLResponse:
    """A page whose content depends only on its URL, the caller's role and the data: ``build()`` (its
    context) and the template are rendered once per data version and minute (:func:`dashboard.cache.versioned`)
    for everyone with that role; each request puts its own nonce, CSRF token and name in.

    ``stale`` (the default; not the live alerts): under live collection the page of the previous data
    version answers while the new one is built, saying "Figures as of ..." (:func:`as_of_notice`).
    ``version``: the page's own version (:func:`dashboard.cache.versioned_as_of`)."""
    from dataclasses import replace

    from dashboard import cache

    sess = current_session(request) if hasattr(request.app.state, "earshot") else None
    st = get_state(request)

    def make() -> str:
        stand_in = replace(sess, name=_MARKS["name"], csrf_token=_MARKS["csrf"]) if sess else None
        ctx = {"request": request, "user": stand_in, "nonce": _MARKS["nonce"], "csrf_field": CSRF_FIELD,
               "csrf_token": _MARKS["csrf"] if sess else "", "path": request.url.path, "as_of_mark": _MARKS["as_of"],
               **build()}
        return TEMPLATES.get_template(template).render(ctx)

    key = ("page", template, request.url.path, request.url.query, sess.role if sess else None)
    html, as_of = cache.versioned_as_of(st.store, key, make, stale=stale, version=version)
    html = (html.replace(_MARKS["nonce"], getattr(request.state, "csp_nonce", ""))
            .replace(_MARKS["csrf"], sess.csrf_token if sess else "")
            .replace(_MARKS["name"], sess.name if sess else "")
            .replace(_MARKS["as_of"], as_of_notice(as_of) if as_of is not None else ""))
    return HTMLResponse(html, status_code=status_code)


def render_fragment(template: str, **context: Any) -> str:
    return TEMPLATES.get_template(template).render(context)


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


# ----------------------------------------------------------------------------- CSV
def csv_safe(value: Any) -> Any:
    """A spreadsheet cell that cannot be a formula (``=``, ``+``, ``-``, ``@`` and tab/CR lead with a quote)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow([csv_safe(v) for v in r])
    safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "export.csv"
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})


def audited_csv(request: Request, store: Store, user: str, target: str, filename: str, cols: Sequence[str],
                rows: Iterable[dict[str, Any]], **detail: Any) -> Response:
    """``rows`` (dicts) as a CSV download of the columns ``cols``, recorded in the audit log as an export."""
    from dashboard import audit

    audit.record(store, "export", user=user, target=target, detail={"format": "csv", **detail}, ip=client_ip(request))
    return csv_response(filename, cols, ([r[c] for c in cols] for r in rows))


def as_markup(html: str) -> Markup:
    """HTML this app rendered itself (autoescaped templates), to place inside another template."""
    return Markup(html)
