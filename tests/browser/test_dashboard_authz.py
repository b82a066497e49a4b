"""Every route of the dashboard, called anonymously and as each role, answers as the issue says.

The rules are written here from the issue, not read from the code: every page and API route but
sign-in and ``GET /health`` refuses an anonymous caller (401 from ``/api/...`` and the event
stream, a redirect to ``/login`` from a page); viewers read; press officers also acknowledge,
resolve and mark posts (every other state-changing request); admins also manage accounts and
read the audit log. A caller without the role gets 403; one with it gets neither 401 nor 403
nor a server error, and a state-changing request without the session's CSRF token gets 403.

Other tools call with an API token of a role instead (``Authorization: Bearer ...``): the same
answers as a session of that role, without a CSRF token; but a token never makes or revokes
tokens, changes accounts or signs out (403), and a revoked token is nobody (401 from the API).

The routes are the app's own (every route it serves, with those of its OpenAPI document among
them), so a route added later is checked without editing this file, and one this file cannot
classify or fill in fails the test with what to add.
"""

from __future__ import annotations

import re

import httpx

ROLES = ("viewer", "press", "admin")
RANK = {None: -1, "viewer": 0, "press": 1, "admin": 2}
PUBLIC = {("GET", "/health"), ("GET", "/login"), ("POST", "/login")}
ADMIN_PATHS = re.compile(r"^(/api)?/(users|audit|tokens)(/|\.csv$|$)")
#: state-changing routes only a signed-in person may call (never an API token)
PEOPLE_ONLY = re.compile(r"^((/api)?/(users|tokens)(/|$)|/logout$)")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def needed_role(method: str, path: str) -> str | None:
    """The least role a route needs, by the issue's rules (None: anyone)."""
    if (method, path) in PUBLIC:
        return None
    if ADMIN_PATHS.match(path):
        return "admin"
    if method in WRITES and path != "/logout":
        return "press"
    return "viewer"


def routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves but its static files.

    The app's own routes and those of every resource router (``dashboard.routers.ROUTERS``, whose
    routes FastAPI nests inside the app), documented in the OpenAPI document or not.
    """
    from fastapi.routing import APIRoute

    from dashboard.routers import ROUTERS

    out = set()
    for route in [*app.routes, *(r for router in ROUTERS for r in router.routes)]:
        if isinstance(route, APIRoute) and not route.path.startswith("/static/"):
            for method in route.methods - {"HEAD", "OPTIONS"}:
                out.add((method, route.path))
    return sorted(out)


def call(client: httpx.Client, method: str, url: str, *, cookies=None, csrf: str | None = None,
         token: str | None = None) -> httpx.Response:
    """One request; an event stream is closed as soon as its status and headers are in."""
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    client.cookies.clear()
    client.cookies.update(cookies or {})
    with client.stream(method, url, headers=headers,
                       data={} if method in WRITES else None) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
        return response


def test_every_route_answers_each_caller_as_the_issue_says(dashboard):
    from dashboard.web import SESSION_COOKIE

    found = routes(dashboard.app)
    with httpx.Client(base_url=dashboard.url, follow_redirects=False, timeout=20) as client:
        doc = call(client, "GET", "/openapi.json", cookies=dashboard.cookies("admin"))
        assert doc.status_code == 200, doc.text
        documented = {(method.upper(), path) for path, ops in doc.json()["paths"].items() for method in ops
                      if method.upper() not in ("HEAD", "OPTIONS", "PARAMETERS")}
        assert documented <= set(found), f"in the OpenAPI document but not served: {documented - set(found)}"
        assert len(documented) >= 5, f"the OpenAPI document names only {sorted(documented)}"
        problems = []
        for method, template in found:
            path = dashboard.fill(template)
            need = needed_role(method, template)
            # anonymous
            r = call(client, method, path)
            if need is None:
                if r.status_code in (401, 403) or r.status_code >= 500:
                    problems.append(f"{method} {path} anonymous: {r.status_code}, should be open to anyone")
            elif path.startswith("/api/") or path.endswith("/stream") or path == "/openapi.json":
                if r.status_code != 401:
                    problems.append(f"{method} {path} anonymous: {r.status_code}, expected 401")
            elif not (r.status_code in (302, 303, 307) and r.headers.get("location", "").startswith("/login")) \
                    and r.status_code != 401:
                problems.append(f"{method} {path} anonymous: {r.status_code} "
                                f"{r.headers.get('location', '')}, expected a redirect to /login or 401")
            # each role, with a fresh session (a route may end the session or change the account)
            for role in ROLES:
                cookie, csrf = dashboard.session(role)
                r = call(client, method, path, cookies={SESSION_COOKIE: cookie}, csrf=csrf)
                if RANK[role] < RANK[need]:
                    if r.status_code != 403:
                        problems.append(f"{method} {path} as {role}: {r.status_code}, expected 403 (needs {need})")
                elif r.status_code in (401, 403) or r.status_code >= 500:
                    problems.append(f"{method} {path} as {role}: {r.status_code}, should be allowed: "
                                    f"{r.text[:200] if r.is_stream_consumed else ''}")
            if method in WRITES and need is not None:
                r = call(client, method, path, cookies=dashboard.cookies("admin"))
                if r.status_code != 403:
                    problems.append(f"{method} {path} as admin without the CSRF token: {r.status_code}, expected 403")
            # an API token of each role (a fresh one: a route may revoke the token it is given)
            for role in ROLES:
                token = dashboard.api_token(role)
                r = call(client, method, path, token=token)
                people_only = method in WRITES and PEOPLE_ONLY.match(template)
                if need is None:
                    continue
                if RANK[role] < RANK[need] or people_only:
                    if r.status_code != 403:
                        problems.append(f"{method} {path} with a {role} token: {r.status_code}, expected 403"
                                        + (" (people only)" if people_only else f" (needs {need})"))
                elif r.status_code in (401, 403) or r.status_code >= 500:
                    problems.append(f"{method} {path} with a {role} token: {r.status_code}, should be allowed: "
                                    f"{r.text[:200] if r.is_stream_consumed else ''}")
            if need is not None and (path.startswith("/api/") or path.endswith("/stream")):
                r = call(client, method, path, token=dashboard.revoked_token)
                if r.status_code != 401:
                    problems.append(f"{method} {path} with a revoked token: {r.status_code}, expected 401")
    assert not problems, f"{len(problems)} wrong answers of {len(found)} routes:\n" + "\n".join(problems)
