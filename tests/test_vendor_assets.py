"""The vendored front-end assets (scripts/build-assets) are what the dashboard promises.

No Transport font (services not on GOV.UK must not use it), every asset URL local, htmx 2.0
with its SSE extension (not htmx 4), licences beside each library.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "dashboard" / "static" / "vendor"
GOVUK_CSS = VENDOR / "govuk" / "govuk-frontend.min.css"


def test_govuk_css_uses_a_system_font_and_no_font_face():
    css = GOVUK_CSS.read_text(encoding="utf-8")
    assert "@font-face" not in css
    assert "GDS Transport" not in css and "/fonts/" not in css
    families = set(re.findall(r"font-family:([^;}]+)", css))
    assert families == {"arial,sans-serif", "sans-serif"}, families


def test_govuk_css_refers_only_to_local_assets():
    css = GOVUK_CSS.read_text(encoding="utf-8")
    urls = set(re.findall(r"url\(\"?([^\")]+)\"?\)", css))
    # The footer crest is the only image the CSS names; it is the royal arms, which a service
    # not on GOV.UK must not show, so it is deliberately not vendored (nor used by a template).
    assert urls == {"/static/vendor/govuk/assets/images/govuk-crest.svg"}, urls
    assert not (VENDOR / "govuk" / "assets").exists()


def test_govuk_js_is_the_es_module_of_the_same_release():
    js = (VENDOR / "govuk" / "govuk-frontend.min.js").read_text(encoding="utf-8")
    versions = (VENDOR / "VERSIONS.txt").read_text(encoding="utf-8")
    release = re.search(r'const version="([^"]+)"', js).group(1)
    assert f"govuk-frontend {release}" in versions
    assert re.search(r"export\s*\{", js), "govuk-frontend.min.js should be the ES module build"


def test_htmx_is_2_0_with_the_sse_extension():
    htmx = (VENDOR / "htmx" / "htmx.min.js").read_text(encoding="utf-8")
    assert re.search(r'version:"2\.0\.\d+"', htmx)
    sse = (VENDOR / "htmx" / "sse.min.js").read_text(encoding="utf-8")
    assert 'defineExtension("sse"' in sse


def test_every_vendored_library_has_its_licence():
    for path in ["govuk/LICENSE.txt", "htmx/LICENSE-htmx.txt", "htmx/LICENSE-htmx-ext-sse.txt"]:
        assert (VENDOR / path).stat().st_size > 100, path
    axe = ROOT / "tests" / "browser" / "vendor"
    assert (axe / "LICENSE-axe-core.txt").read_text(encoding="utf-8").startswith("Mozilla Public License")
    assert (axe / "axe.min.js").read_text(encoding="utf-8").startswith("/*! axe v")
