"""The browser harness itself, against a tiny ASGI app serving the vendored assets.

Proves: uvicorn on loopback and Debian's chromium work together; the vendored GOV.UK CSS,
JS and htmx with its SSE extension load under a strict nonce Content Security Policy and work
(system font, an SSE event swapped into the page); axe-core is injected past the CSP and
fails a page with a critical violation; screenshots land in the artefacts folder.
"""

from __future__ import annotations

import asyncio
import mimetypes

import pytest

from tests.conftest import ROOT

STATIC = ROOT / "dashboard" / "static"
NONCE = "harness-nonce-0123456789"
CSP = (f"default-src 'self'; script-src 'self' 'nonce-{NONCE}'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

GOOD_PAGE = f"""<!DOCTYPE html>
<html lang="en" class="govuk-template">
<head><meta charset="utf-8"><title>Harness check - Earshot</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{{"includeIndicatorStyles": false}}'>
<link rel="stylesheet" href="/static/vendor/govuk/govuk-frontend.min.css"></head>
<body class="govuk-template__body">
<script nonce="{NONCE}">document.body.className += ' js-enabled govuk-frontend-supported';</script>
<a href="#main-content" class="govuk-skip-link" data-module="govuk-skip-link">Skip to main content</a>
<header><div class="govuk-generic-header"><div class="govuk-generic-header__container govuk-width-container">
<div class="govuk-generic-header__logo"><a href="/" class="govuk-generic-header__homepage-link">Earshot</a></div>
</div></div></header>
<div class="govuk-width-container"><main class="govuk-main-wrapper" id="main-content">
<h1 class="govuk-heading-xl">Harness check</h1>
<p class="govuk-body" id="font-probe">GOV.UK Frontend with a system font.</p>
<div class="govuk-warning-text"><span class="govuk-warning-text__icon" aria-hidden="true">!</span>
<strong class="govuk-warning-text__text"><span class="govuk-visually-hidden">Warning</span>
A warning, styled.</strong></div>
<button type="button" class="govuk-button" data-module="govuk-button">Acknowledge</button>
<div hx-ext="sse" sse-connect="/events" aria-live="polite">
<p class="govuk-body" id="live" sse-swap="alert">Waiting for an event</p></div>
</main></div>
<script type="module" nonce="{NONCE}">
import {{ initAll }} from '/static/vendor/govuk/govuk-frontend.min.js';
initAll(); window.__govukReady = true;
</script>
<script src="/static/vendor/htmx/htmx.min.js" nonce="{NONCE}"></script>
<script src="/static/vendor/htmx/sse.min.js" nonce="{NONCE}"></script>
</body></html>"""

BAD_PAGE = """<!DOCTYPE html><html lang="en"><head><title>Bad</title></head>
<body><main><h1>Bad</h1><button type="button"></button><img src="/nothing.png"></main></body></html>"""


def harness_app():
    """A raw ASGI app: two pages, the static folder, an event stream sending one event."""
    requests: list[str] = []

    async def send_body(send, status, body: bytes, content_type: str, extra=()):
        headers = [(b"content-type", content_type.encode()), (b"content-security-policy", CSP.encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        path = scope["path"]
        requests.append(path)
        if path == "/":
            await send_body(send, 200, GOOD_PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/favicon.ico":
            await send_body(send, 204, b"", "image/x-icon")
        elif path == "/bad":
            await send_body(send, 200, BAD_PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/events":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "more_body": True,
                        "body": b"id: 1\nevent: alert\ndata: <strong id=\"arrived\">Alert 1 arrived</strong>\n\n"})
            while True:  # hold the stream open until the client goes
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
        elif path.startswith("/static/"):
            file = (STATIC / path.removeprefix("/static/")).resolve()
            if STATIC.resolve() in file.parents and file.is_file():
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                if file.suffix == ".js":
                    kind = "text/javascript"
                await send_body(send, 200, await asyncio.to_thread(file.read_bytes), kind)
            else:
                await send_body(send, 404, b"not found", "text/plain")
        else:
            await send_body(send, 404, b"not found", "text/plain")

    app.requests = requests
    return app


@pytest.fixture
def harness(live_server):
    app = harness_app()
    return live_server(lambda: app), app


def test_vendored_assets_work_under_a_nonce_csp(harness, page, page_errors, screenshot, axe_check):
    url, app = harness
    page.goto(url + "/")
    page.wait_for_function("() => window.__govukReady === true")
    # htmx's SSE extension connected and swapped the event's HTML into the live region.
    page.locator("#arrived").wait_for()
    assert page.locator("#live").inner_text() == "Alert 1 arrived"
    font = page.evaluate("() => getComputedStyle(document.getElementById('font-probe')).fontFamily")
    assert font == "arial, sans-serif"
    colour = page.evaluate("() => getComputedStyle(document.querySelector('.govuk-button')).backgroundColor")
    assert colour not in ("", "rgba(0, 0, 0, 0)", "rgb(239, 239, 239)"), "the GOV.UK button style did not apply"
    assert not [p for p in app.requests if "/fonts/" in p or p.endswith((".woff", ".woff2"))]
    shot = screenshot(page, "harness-check")
    assert shot.stat().st_size > 5_000
    violations = axe_check(page)
    assert all(v["impact"] not in ("serious", "critical") for v in violations)
    assert page_errors == [], "\n".join(page_errors)


def test_axe_check_fails_on_a_critical_violation(harness, page, axe_check):
    url, _ = harness
    page.goto(url + "/bad")
    with pytest.raises(pytest.fail.Exception) as failure:
        axe_check(page)
    message = str(failure.value)
    assert "critical" in message and "image-alt" in message and "button-name" in message


def test_an_inline_script_without_the_nonce_does_not_run(harness, page):
    url, _ = harness
    page.goto(url + "/")
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.__xss = 1'; document.body.append(s); }""")
    assert page.evaluate("() => window.__xss") is None
