"""Every dashboard page in chromium: accessible (axe-core), and hostile input stays text.

The pages are the app's own list (``dashboard.pages.PAGES``, with the sign-in page), opened
with the hostile account, post and topic of the test store (``dashboard_data``), plus searches
for the hostile text, each as a user with the role the page needs. A screenshot of every page
is saved as a test artefact.

- **axe-core** (vendored) reports no serious or critical violation on any page.
- **XSS**: the stored posts and accounts hold ``<script>``, ``onerror=``/``onload=`` handlers,
  attribute breakouts and ``javascript:`` links. With the page's Content Security Policy switched
  off (so escaping, not the CSP, is what is tested), on every page no payload runs
  (``window.__xss`` stays unset, no dialog opens), no link or form points at ``javascript:``,
  every link to a post's original is ``https:`` to the platform's own host, no
  element carries an inline event handler, and the hostile text is shown as text where posts
  and accounts are shown.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from tests.browser.dashboard_data import HOSTILE, SCRIPT

SETTLE_MS = 400  # after "load": charts drawn, htmx fragments swapped
# originals: X posts on x.com (or twitter.com); the scenario's feeds are on .example hosts
ORIGINAL_HOSTS = re.compile(r"^https://((www\.)?(x|twitter)\.com|[a-z0-9.-]+\.example)/")

# what the page holds that could run: javascript: URLs anywhere, inline handlers, scripts carrying a payload
PROBE = """() => {
  const bad = [], originals = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.getAttributeNames()) {
      const value = (el.getAttribute(attr) || '').replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (attr.startsWith('on')) bad.push(`${el.tagName} has ${attr}=${value.slice(0, 60)}`);
      if (/^(href|src|action|formaction|xlink:href|data|srcdoc)$/.test(attr) && value.startsWith('javascript:'))
        bad.push(`${el.tagName} ${attr}=${value.slice(0, 60)}`);
    }
    if (el.tagName === 'A' && el.hasAttribute('href') && /original/i.test(el.textContent || ''))
      originals.push(el.href);
    // a JSON data block (a chart's numbers: a hostile link is a label there) never runs, but must stay
    // whole JSON: text that broke out of it would be a script element of its own, caught by the next check
    if (el.tagName === 'SCRIPT' && el.type === 'application/json') {
      try { JSON.parse(el.textContent || ''); } catch (e) { bad.push(`a JSON block is not JSON: ${e}`); }
    } else if (el.tagName === 'SCRIPT' && (el.textContent || '').includes('__xss')) bad.push('a script element holds a payload');
    if (el.tagName === 'IFRAME' || el.tagName === 'OBJECT' || el.tagName === 'EMBED') bad.push(`${el.tagName} element`);
  }
  return {bad, originals, xss: window.__xss === undefined ? null : String(window.__xss), text: document.body.innerText};
}"""


def page_list(dashboard) -> list[tuple[str, str, str]]:
    """(name, path, role) of every page to open (every page of ``PAGES`` the app serves)."""
    from dashboard import pages
    from tests.browser.test_dashboard_authz import routes

    served = {path for method, path in routes(dashboard.app) if method == "GET"}
    listed = [p for p in pages.PAGES if p.path in served]
    out = [("login", "/login", None)]
    for p in listed:
        out.append((p.title, dashboard.fill(p.path), p.role))
    searches = [p for p in listed if p.path == "/search"]
    if searches:
        for q in ("scandal", SCRIPT, "waiting list", "\"A&E\" *"):
            out.append((f"search {q[:20]}", f"/search?q={quote(q)}", searches[0].role))
    return out


def open_page(browser, dashboard, path: str, role: str | None, *, bypass_csp: bool):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="Europe/London", bypass_csp=bypass_csp)
    context.set_default_timeout(15_000)
    if role is not None:
        dashboard.sign_in(context, role)
    page = context.new_page()
    events: list[str] = []
    page.on("dialog", lambda d: (events.append(f"dialog {d.type}: {d.message}"), d.dismiss()))
    page.on("pageerror", lambda exc: events.append(f"pageerror: {exc}"))
    response = page.goto(dashboard.url + path, wait_until="load")
    page.wait_for_timeout(SETTLE_MS)
    return context, page, response, events


def test_every_page_has_no_serious_accessibility_violation(browser, dashboard, screenshot):
    from tests.browser.conftest import run_axe

    problems = []
    for name, path, role in page_list(dashboard):
        context, page, response, events = open_page(browser, dashboard, path, role, bypass_csp=False)
        try:
            assert response is not None and response.status == 200, f"{path} as {role}: {response and response.status}"
            screenshot(page, f"page-{name}")
            bad = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
            problems += [f"{path}: {v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in bad]
            problems += [f"{path}: {e}" for e in events]
            # every table of the dashboard's own (GOV.UK tables: not the layout tables of a briefing's e-mail)
            # sorts (a button in each heading but an actions column) and downloads as CSV
            for t in page.evaluate("""() => [...document.querySelectorAll('table.govuk-table')].map(t => {
                    const wrap = t.closest('[data-sortable-table]');
                    const dl = wrap && wrap.querySelector('[data-csv-download]');
                    return {id: t.id, sortable: !!wrap,
                            unsortable: [...t.querySelectorAll('thead th')].filter(
                                th => !th.hasAttribute('data-no-sort') && !th.querySelector('button.earshot-sort-button')).length,
                            csv: !!dl && !dl.hidden};
                })"""):
                if not (t["sortable"] and t["csv"] and t["unsortable"] == 0):
                    problems.append(f"{path}: table #{t['id']} does not sort and download as CSV: {t}")
        finally:
            context.close()
    assert not problems, f"{len(problems)} accessibility problems or page errors:\n" + "\n".join(problems)


def test_hostile_posts_and_accounts_never_run_on_any_page(browser, dashboard, screenshot):
    problems = []
    shown = []
    for name, path, role in page_list(dashboard):
        context, page, response, events = open_page(browser, dashboard, path, role, bypass_csp=True)
        try:
            assert response is not None and response.status == 200, f"{path} as {role}: {response and response.status}"
            # hover what shows more on hover (tooltips, chart points), so hover text is drawn too
            for el in page.locator("[title], .js-plotly-plot").all()[:12]:
                try:
                    el.hover(timeout=300)
                except Exception:  # hidden or covered: nothing to hover  # noqa: BLE001
                    pass
            found = page.evaluate(PROBE)
            screenshot(page, f"xss-{name}")
            if found["xss"] is not None:
                problems.append(f"{path}: a payload ran (window.__xss = {found['xss']})")
            problems += [f"{path}: {b}" for b in found["bad"]]
            problems += [f"{path}: a link to an original that is not https: to the platform: {h}"
                         for h in found["originals"] if not ORIGINAL_HOSTS.match(h)]
            if path == f"/posts/{dashboard.path_values()['post_id']}" and not found["originals"]:
                problems.append(f"{path}: the hostile X post has no link to its original")
            problems += [f"{path}: {e}" for e in events if e.startswith("dialog")]
            if any(h in found["text"] for h in HOSTILE):
                shown.append(path)
        finally:
            context.close()
    assert not problems, f"{len(problems)} XSS problems:\n" + "\n".join(problems)
    # the payloads reached the pages (as text): where the hostile post and account are shown
    values = dashboard.path_values()
    for must in (f"/accounts/{values['account_id']}", f"/posts/{values['post_id']}", "/search?q=scandal"):
        if any(p == must for _, p, _ in page_list(dashboard)):
            assert must in shown, f"{must} does not show the hostile text as text (shown on: {shown})"
    assert shown, "the hostile text was shown as text on no page: the test store or the pages changed"


def test_a_hostile_alert_pushed_live_stays_text(browser, dashboard, screenshot):
    """A stakeholder post full of markup arrives while /alerts is open: its card, pushed by the
    event stream, shows the markup as text and runs nothing."""
    from datetime import datetime, timedelta

    from monitor.alerts.engine import detect
    from monitor.config import load_config
    from monitor.pipeline import process_batch
    from monitor.settings import load_settings
    from monitor.topics import Matcher
    from tests.browser.dashboard_data import LIVE_STAKEHOLDER, live_hostile_batch
    from tests.conftest import ROOT

    context, page, response, events = open_page(browser, dashboard, "/alerts", "viewer", bypass_csp=True)
    try:
        assert response.status == 200
        assert LIVE_STAKEHOLDER not in page.inner_text("body")
        config = load_config(ROOT / "config" / "keywords.yaml")
        when = datetime.fromisoformat(dashboard.info["end"]) + timedelta(minutes=5)
        process_batch(live_hostile_batch(when), dashboard.store, Matcher(config.topics), run_hooks=False)
        summary = detect(dashboard.store, config, load_settings(), horizon=when, now=when,
                         topics=["waiting_times"], sources=False, dispatch=False)
        assert summary.opened, "the hostile stakeholder post opened no alert"
        page.get_by_text(f"@{LIVE_STAKEHOLDER}", exact=False).first.wait_for(timeout=10_000)
        page.wait_for_timeout(SETTLE_MS)
        found = page.evaluate(PROBE)
        screenshot(page, "xss-live-alert")
        assert found["xss"] is None, f"a payload ran: {found['xss']}"
        assert not found["bad"], found["bad"]
        assert not [e for e in events if e.startswith("dialog")], events
        assert "Live: the waiting list grows <script>" in found["text"]
    finally:
        context.close()
