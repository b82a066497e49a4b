"""Helpers for dashboard tests (API, browser, authorisation): an app over a store, accounts with every
role and signing in (a real server on a free loopback port: ``monitor.harness.services.serve_asgi``).

::

    from tests.dashboard.support import make_app, add_role_users, login
    app = make_app(store, config)                 # dashboard.app.create_app over a given store
    users = add_role_users(store)                 # {"viewer": ("viewer1", password), "press": ..., "admin": ...}
    with TestClient(app) as client:
        csrf = login(client, *users["press"])     # signed in; returns the session's CSRF token
    with monitor.harness.services.serve_asgi(app) as url:   # uvicorn in a thread on a free loopback port
        url                                       # http://127.0.0.1:PORT
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from dashboard import auth
from dashboard.app import create_app
from dashboard.settings import WebSettings
from monitor.config import Config, load_config
from monitor.settings import load_settings
from monitor.store import Store

PASSWORD = "correct horse battery"  # test accounts only; the demo generates its own

TEST_TOPICS = """
defaults:
  alerts:
    recipients: []
topics:
  flu:
    label: Flu
    query: flu OR "A&E"
    stakeholders: ["@ChiefMedic"]
  care:
    label: Social care
    query: care
"""


def config_file(tmp: Path, body: str = TEST_TOPICS) -> Path:
    path = tmp / "keywords.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def make_app(store: Store, config: Config | Path | None = None, *, hub: bool = True, poll_seconds: float | None = None,
             web: WebSettings | None = None, redis_url: str = ""):
    """``create_app`` over ``store`` with settings from the environment (and ``redis_url`` for live push)."""
    settings = load_settings()
    settings.database_url = store.url
    settings.redis_url = redis_url
    if config is None or isinstance(config, Path):
        config = load_config(config or settings.config_path)
    return create_app(settings, store=store, config=config, hub=hub, poll_seconds=poll_seconds,
                      web=web or WebSettings())


def add_role_users(store: Store, password: str = PASSWORD) -> dict[str, tuple[str, str]]:
    """One account per role: ``{role: (name, password)}``."""
    out = {}
    for role in auth.ROLES:
        name = f"{role}1"
        if auth.get_user(store, name) is None:
            auth.add_user(store, name, password, role)
        out[role] = (name, password)
    return out


_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client, name: str, password: str, *, next_: str = "/alerts") -> str:
    """Sign ``client`` (TestClient or httpx.Client) in through the form; return the session's CSRF token."""
    page = client.get("/login")
    token = _CSRF_INPUT.search(page.text).group(1)
    r = client.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": next_},
                    follow_redirects=False)
    assert r.status_code == 303, (r.status_code, r.text[:500])
    me = client.get("/api/me")
    assert me.status_code == 200, me.text
    return me.json()["csrf_token"]


class SSEReader:
    """Reads a server-sent event stream in a thread: ``next(timeout)`` gives ``{"id", "event", "data"}``."""

    def __init__(self, base_url: str, path: str, cookies: dict, headers: dict | None = None):
        import queue

        import httpx

        self.events: "queue.Queue[dict]" = queue.Queue()
        self.client = httpx.Client(base_url=base_url, cookies=cookies, timeout=httpx.Timeout(5, read=None))
        self._resp_cm = self.client.stream("GET", path, headers=headers or {})
        self.response = self._resp_cm.__enter__()
        self.connected_at = time.monotonic()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        ev: dict = {}
        try:
            for line in self.response.iter_lines():
                if line == "":
                    if "data" in ev:
                        ev["received"] = time.monotonic()
                        self.events.put(ev)
                    ev = {}
                elif line.startswith(":"):
                    continue
                else:
                    key, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    ev[key] = ev.get(key, "") + ("\n" if key == "data" and key in ev else "") + value
        except Exception:
            pass

    def next(self, timeout: float = 10.0) -> dict:
        import json

        ev = self.events.get(timeout=timeout)
        ev["json"] = json.loads(ev["data"])
        return ev

    def close(self) -> None:
        try:
            self._resp_cm.__exit__(None, None, None)
        finally:
            self.client.close()


def when_ranked(client, path: str, params: dict | None = None, *, timeout: float = 60.0, until_failed: bool = False):
    """GET ``path`` until the influence ranking it needs is stored (a window nobody stored is computed
    off the request: the API answers 202 and the page says it is being computed meanwhile); with
    ``until_failed``, until the API says its computation failed."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        r = client.get(path, params=params)
        pending = r.status_code == 202 or (r.status_code == 200 and 'id="ranking-pending"' in r.text) or (
            r.status_code == 200 and r.headers.get("content-type", "").startswith("application/json")
            and isinstance(r.json(), dict) and r.json().get("refreshing"))
        if until_failed and r.status_code == 202 and r.json().get("status") == "failed":
            return r
        if not pending and not until_failed:
            return r
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} {params}: still being computed after {timeout} s: {r.text[:300]}")
        time.sleep(0.1)
