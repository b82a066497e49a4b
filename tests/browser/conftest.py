"""Browser-test harness: an ASGI app served on loopback, Debian's chromium driven by Playwright.

Fixtures
- ``live_server(factory)``: serves ``factory()`` (any ASGI app factory) under uvicorn on a
  free loopback port for the test; returns the base URL.
- ``browser`` (session): Debian's chromium (``/usr/bin/chromium``, or ``$EARSHOT_CHROMIUM``),
  headless. Playwright never downloads a browser of its own here.
- ``page``: a fresh browser context and page; JavaScript errors land in ``page_errors``; a
  failing test leaves a screenshot in the artefacts folder.
- ``artefacts``: the screenshots folder, ``$EARSHOT_ARTEFACTS`` or ``tests/artefacts``.
- ``screenshot(page, name)``: a full-page screenshot saved there.
- ``axe_check(page)``: runs the vendored axe-core on the page and fails on any serious or
  critical violation.
"""

from __future__ import annotations

import os
import re
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import ROOT
from monitor.harness.services import ServiceMissing, serve_asgi

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = os.environ.get("EARSHOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = ROOT / "tests" / "browser" / "vendor" / "axe.min.js"
AXE_FAILING_IMPACTS = ("serious", "critical")


@pytest.fixture
def live_server():
    """Start ``factory()`` (an ASGI app factory) on loopback; returns its base URL. Stopped after the test."""
    with ExitStack() as stack:
        def start(factory, **options) -> str:
            try:
                return stack.enter_context(serve_asgi(factory(), **options))
            except ServiceMissing as exc:
                pytest.fail(str(exc))

        yield start


@pytest.fixture(scope="session")
def artefacts() -> Path:
    folder = Path(os.environ.get("EARSHOT_ARTEFACTS") or ROOT / "tests" / "artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:150] or "page"


@pytest.fixture
def screenshot(artefacts):
    def take(page, name: str) -> Path:
        path = artefacts / f"{_safe(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"the browser tests need chromium at {CHROMIUM}: apt-get install chromium fonts-liberation "
                    "(scripts/test installs it when run as root), or set EARSHOT_CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need the playwright package: scripts/setup test")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_report_{report.when}", report)


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught JavaScript errors and console errors of ``page``, in order."""
    return []


@pytest.fixture
def page(browser, page_errors, request, artefacts):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="Europe/London")
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.on("pageerror", lambda exc: page_errors.append(f"pageerror: {exc}"))
    pg.on("console", lambda msg: msg.type == "error" and page_errors.append(f"console: {msg.text}"))
    yield pg
    report = getattr(request.node, "_report_call", None)
    if report is not None and report.failed and not pg.is_closed():
        try:
            pg.screenshot(path=str(artefacts / f"FAILED-{_safe(request.node.nodeid)}.png"), full_page=True)
        except Exception:  # the page may be what broke; the test's own failure is the message
            pass
    context.close()


def run_axe(page) -> list[dict]:
    """axe-core's violations on the page as it is now (the vendored copy, injected past any CSP)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, so the page's Content Security Policy
        # (script-src with nonces) neither blocks nor needs to allow it.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return result


@pytest.fixture
def axe_check():
    """``axe_check(page)`` fails the test on any serious or critical axe-core violation; returns all violations."""
    def check(page) -> list[dict]:
        violations = run_axe(page)
        bad = [v for v in violations if v["impact"] in AXE_FAILING_IMPACTS]
        if bad:
            lines = [f"- {v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in bad]
            pytest.fail(f"axe-core: {len(bad)} serious or critical violation(s) on {page.url}:\n" + "\n".join(lines))
        return violations

    return check


# ----------------------------------------------------------------------------- the dashboard
@pytest.fixture(scope="session")
def dashboard_base(tmp_path_factory):
    """A store built once a session (see dashboard_data): (path of the SQLite file, what is in it)."""
    from tests.browser.dashboard_data import build_store

    folder = tmp_path_factory.mktemp("dashboard-base")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EARSHOT_DATA_DIR", str(folder / "var"))
        for name in ("EARSHOT_DATABASE_URL", "EARSHOT_BROKER_URL", "EARSHOT_REDIS_URL", "EARSHOT_CONFIG"):
            mp.delenv(name, raising=False)
        info = build_store(folder / "store.db", folder, ROOT / "config" / "keywords.yaml")
    return folder / "store.db", info


class Dashboard:
    """The dashboard app served on loopback over a copy of the session's store."""

    def __init__(self, url: str, app, store, info: dict):
        self.url = url
        self.app = app
        self.store = store
        self.info = info
        self._values: dict[str, str] | None = None

    def path_values(self) -> dict[str, str]:
        """A real value for each path parameter the app's routes use: the hostile account and post,
        the alert raised by the hostile stakeholder post, the hostile topic, the spare account."""
        if self._values is None:
            from sqlalchemy import select

            from monitor import models as m
            from tests.browser.dashboard_data import HOSTILE_TOPIC, SPARE_TOKEN, SPARE_USER

            with self.store.engine.connect() as conn:
                alert_id = conn.execute(select(m.alerts.c.id).where(m.alerts.c.kind == "stakeholder")
                                        .order_by(m.alerts.c.id)).scalar()
                account_id = conn.execute(select(m.accounts.c.id).where(m.accounts.c.handle == "evil_handle")).scalar()
                post_id = conn.execute(select(m.posts.c.id).where(m.posts.c.platform_id == "990000101")).scalar()
                briefing_id = conn.execute(select(m.briefings.c.id).order_by(m.briefings.c.id)).scalar()
            values = {"alert_id": alert_id, "topic": HOSTILE_TOPIC, "topic_id": HOSTILE_TOPIC,
                      "account_id": account_id, "post_id": post_id, "name": SPARE_USER[0],
                      "user": SPARE_USER[0], "username": SPARE_USER[0], "platform": "x", "fmt": "csv",
                      "format": "csv", "mark_id": 1, "action": "revoke", "briefing_id": briefing_id,
                      "token_name": SPARE_TOKEN}
            missing = [k for k in ("alert_id", "account_id", "post_id", "briefing_id") if values[k] is None]
            assert not missing, f"the test store lacks the hostile {missing}"
            self._values = {k: str(v) for k, v in values.items()}
        return self._values

    def fill(self, template: str) -> str:
        """``template`` (``/accounts/{account_id}``) with real values (see :meth:`path_values`)."""
        values = self.path_values()
        missing = [p for p in re.findall(r"{(\w+)(?::\w+)?}", template) if p not in values]
        if missing:
            pytest.fail(f"{template}: no value for path parameter(s) {missing}: add one to Dashboard.path_values")
        return re.sub(r"{(\w+)(?::\w+)?}", lambda mt: values[mt.group(1)], template)

    def session(self, role: str) -> tuple[str, str]:
        """A new session of the user with ``role``: (cookie value, CSRF token)."""
        from dashboard import auth

        name = self.info["users"][role][0]
        token, sess = auth.start_session(self.store, auth.get_user(self.store, name))
        return token, sess.csrf_token

    def api_token(self, role: str) -> str:
        """A new API token of ``role`` (its secret)."""
        from dashboard import auth

        self._tokens = getattr(self, "_tokens", 0) + 1
        return auth.create_token(self.store, f"test-{role}-{self._tokens}", role, created_by="test")[0]

    @property
    def revoked_token(self) -> str:
        """The secret of a token made and revoked."""
        from dashboard import auth

        if not hasattr(self, "_revoked"):
            self._revoked = self.api_token("admin")
            auth.revoke_token(self.store, f"test-admin-{self._tokens}", by="test")
        return self._revoked

    def cookies(self, role: str | None) -> dict[str, str]:
        from dashboard.web import SESSION_COOKIE

        return {} if role is None else {SESSION_COOKIE: self.session(role)[0]}

    def sign_in(self, context, role: str) -> str:
        """Put a session cookie of ``role`` into a browser context; returns its CSRF token."""
        from dashboard.web import SESSION_COOKIE

        token, csrf = self.session(role)
        context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": self.url}])
        return csrf


@pytest.fixture
def dashboard(dashboard_base, live_server, tmp_path, monkeypatch):
    """The dashboard (``dashboard.app.create_app``) over a fresh copy of the session's store."""
    import shutil

    from dashboard.app import create_app
    from monitor.config import load_config
    from monitor.settings import load_settings
    from monitor.store import Store

    base, info = dashboard_base
    copy = tmp_path / "store.db"
    shutil.copyfile(base, copy)
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{copy}")
    settings = load_settings()
    store = Store(settings.database_url)
    app = create_app(settings, store=store, config=load_config(ROOT / "config" / "keywords.yaml"))
    url = live_server(lambda: app)
    yield Dashboard(url, app, store, info)
    store.dispose()
