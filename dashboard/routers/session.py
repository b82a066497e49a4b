"""Signing in and out (``/login``, ``/logout``) and the start page.

The sign-in form carries its own CSRF token (a random value in a short-lived cookie and in the
form, compared on submit), since there is no session yet; every other form carries the session's.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from dashboard import audit, auth
from dashboard.web import (LOGIN_CSRF_COOKIE, SESSION_COOKIE, AppState, Viewer, ViewerPersonWrite, client_ip,
                           current_session, render, safe_next)

router = APIRouter(tags=["session"])


def _secure(request: Request, state) -> bool:
    mode = state.web.cookie_secure
    return mode == "yes" or (mode == "auto" and request.url.scheme == "https")


def _login_page(request: Request, state, *, error: str = "", name: str = "", next_: str = "/alerts",
                status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", status_code=status, error=error, name=name, next=safe_next(next_),
                  login_csrf=token)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                    secure=_secure(request, state), path="/login")
    return resp


@router.get("/login", response_class=HTMLResponse, summary="The sign-in page")
def login_page(request: Request, state: AppState, next: str = "/alerts"):
    if current_session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, state, next_=next)


@router.post("/login", response_class=HTMLResponse, summary="Sign in (form: name, password, csrf_token)",
             responses={303: {"description": "Signed in: to the page asked for"},
                        400: {"description": "The form's CSRF token is missing or stale"},
                        401: {"description": "Wrong name or password"}, 429: {"description": "Too many failures"}})
def login(request: Request, state: AppState, name: Annotated[str, Form(max_length=200)] = "",
          password: Annotated[str, Form(max_length=1000)] = "",
          csrf_token: Annotated[str, Form(max_length=200)] = "", next: Annotated[str, Form(max_length=2000)] = "/alerts"):
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not csrf_token or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        return _login_page(request, state, error="The sign-in form had expired. Please try again.", name=name,
                           next_=next, status=400)
    ip = client_ip(request)
    try:
        user = auth.authenticate(state.store, name, password, ip=ip, settings=state.web)
    except auth.Throttled as exc:
        audit.record(state.store, "sign-in-throttled", user=None, target=name[:64], ip=ip)
        resp = _login_page(request, state, error=str(exc).capitalize() + ".", name=name, next_=next, status=429)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    if user is None:
        audit.record(state.store, "sign-in-failed", user=None, target=name[:64], ip=ip)
        return _login_page(request, state, error="The name or password is not right.", name=name, next_=next,
                           status=401)
    token, sess = auth.start_session(state.store, user, ip=ip, user_agent=request.headers.get("user-agent"),
                                     settings=state.web)
    audit.record(state.store, "sign-in", user=user["name"], ip=ip)
    resp = RedirectResponse(safe_next(next), status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, max_age=int(state.web.session_hours * 3600), httponly=True,
                    samesite="lax", secure=_secure(request, state), path="/")
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


@router.post("/logout", summary="Sign out (ends this session)", status_code=303,
             responses={303: {"description": "Signed out: to the sign-in page"}})
def logout(request: Request, state: AppState, user: ViewerPersonWrite):
    auth.revoke_session(state.store, user.id)
    audit.record(state.store, "sign-out", user=user.name, ip=client_ip(request))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/", summary="The start page: live alerts", response_class=RedirectResponse, status_code=303)
def home(user: Viewer):
    return RedirectResponse("/alerts", status_code=303)


@router.get("/api/me", summary="Who is signed in, and the session's CSRF token")
def me(user: Viewer) -> dict:
    return {"name": user.name, "role": user.role, "csrf_token": user.csrf_token, "expires_at": user.expires_at}
