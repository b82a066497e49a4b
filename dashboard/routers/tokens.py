"""API tokens (admins): what other tools use the JSON API with.

- ``GET /tokens`` (page) and ``GET /api/tokens``: every token with its role, who made it, when it
  was last used and its state; never the secret.
- ``POST /tokens`` (form) and ``POST /api/tokens``: a new token (name, role, optionally the days it
  lasts); the secret is shown once, in that answer. ``POST /tokens/{token_name}/revoke`` and
  ``POST /api/tokens/{token_name}/revoke``: it stops working at once.

Only a signed-in admin (a person, with the session's CSRF token) makes or revokes tokens, never a
token; each is recorded in the audit log (``token-add``, ``token-revoke``). The same is done on the
server with ``earshot tokens add|list|revoke``. See :mod:`dashboard.auth` for how tokens are kept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard import audit, auth
from dashboard.web import Admin, AdminPersonWrite, AppState, State, audited_csv, client_ip, render

router = APIRouter(tags=["API tokens"])

Role = Literal["viewer", "press", "admin"]
Days = Annotated[int | None, Form(ge=1, le=3660, description="Days the token lasts (empty: until revoked)")]


def _create(request: Request, state: State, user, name: str, role: str, days: int | None) -> tuple[str, dict]:
    try:
        secret, row = auth.create_token(state.store, name, role, created_by=user.name, days=days)
    except auth.AuthError as exc:
        raise HTTPException(409 if "already" in str(exc) else 422, str(exc)) from None
    audit.record(state.store, "token-add", user=user.name, target=row["name"],
                 detail={"role": role, "days": days}, ip=client_ip(request))
    return secret, row


def _revoke(request: Request, state: State, user, name: str) -> dict:
    try:
        row = auth.revoke_token(state.store, name, by=user.name)
    except auth.AuthError as exc:
        raise HTTPException(404, str(exc)) from None
    audit.record(state.store, "token-revoke", user=user.name, target=row["name"], ip=client_ip(request))
    return row


def _table(tokens: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "tokens", "caption": "", "csv_url": "/api/tokens.csv",
            "columns": [("name", "Name", False), ("prefix", "Starts", False), ("role", "Role", False),
                        ("state", "State", False), ("created_by", "Made by", False),
                        ("created", "Made (UTC)", False), ("expires", "Expires (UTC)", False),
                        ("last_used", "Last used (UTC)", False)],
            "rows": [{**t, "prefix": t["prefix"] + "…", "created": _t(t["created_at"]), "expires": _t(t["expires_at"], "never"),
                      "last_used": _t(t["last_used_at"], "never")} for t in tokens],
            "actions": [[{"url": f"/tokens/{t['name']}/revoke", "label": "Revoke", "hidden": t["name"]}]
                        if t["state"] == "live" else [] for t in tokens]}


def _t(v, none: str = "—") -> str:
    return v.strftime("%Y-%m-%d %H:%M") if v is not None else none


def _page(request: Request, state: State, *, secret: str = "", made: dict | None = None, flash: str = "",
          status_code: int = 200) -> HTMLResponse:
    return render(request, "tokens.html", table=_table(auth.list_tokens(state.store)), secret=secret, made=made,
                  flash=flash, roles=auth.ROLES, status_code=status_code)


@router.get("/tokens", response_class=HTMLResponse, summary="API tokens page (admin)")
def tokens_page(request: Request, user: Admin, state: AppState,
                revoked: Annotated[str, Query(max_length=48)] = ""):
    return _page(request, state, flash=f"Token {revoked} revoked." if revoked else "")


@router.post("/tokens", response_class=HTMLResponse, summary="Make an API token from the page (form; admin)")
def form_create(request: Request, user: AdminPersonWrite, state: AppState,
                name: Annotated[str, Form(max_length=48)], role: Annotated[Role, Form()], days: Days = None):
    secret, row = _create(request, state, user, name, role, days)
    return _page(request, state, secret=secret, made=row)


@router.post("/tokens/{token_name}/revoke", response_class=RedirectResponse, status_code=303,
             summary="Revoke an API token from the page (form; admin)", responses={404: {"description": "No such token"}})
def form_revoke(request: Request, token_name: str, user: AdminPersonWrite, state: AppState):
    row = _revoke(request, state, user, token_name)
    from urllib.parse import quote

    return RedirectResponse(f"/tokens?revoked={quote(row['name'])}", status_code=303)


@router.get("/api/tokens", summary="API tokens, newest first, without their secrets (admin)")
def api_tokens(user: Admin, state: AppState) -> list[dict[str, Any]]:
    return auth.list_tokens(state.store)


@router.get("/api/tokens.csv", summary="API tokens (CSV; admin)", response_class=Response)
def api_tokens_csv(request: Request, user: Admin, state: AppState):
    cols = ["name", "prefix", "role", "state", "created_by", "created_at", "expires_at", "last_used_at", "revoked_at",
            "revoked_by"]
    return audited_csv(request, state.store, user.name, "tokens", "tokens.csv", cols, auth.list_tokens(state.store))


@router.post("/api/tokens", summary="Make an API token (admin, signed in); the answer holds its secret, shown only once",
             responses={409: {"description": "The name is taken"}})
def api_create(request: Request, user: AdminPersonWrite, state: AppState,
               name: Annotated[str, Form(max_length=48)], role: Annotated[Role, Form()], days: Days = None
               ) -> dict[str, Any]:
    secret, row = _create(request, state, user, name, role, days)
    return {**row, "token": secret}


@router.post("/api/tokens/{token_name}/revoke", summary="Revoke an API token (admin, signed in)",
             responses={404: {"description": "No such token"}})
def api_revoke(request: Request, token_name: str, user: AdminPersonWrite, state: AppState) -> dict[str, Any]:
    return _revoke(request, state, user, token_name)
