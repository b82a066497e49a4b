"""The briefing e-mail's HTML in headless chromium at desktop and phone widths, screenshotted as artefacts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from briefings import archive
from briefings.build import build
from briefings.settings import BriefingSettings
from briefings.week import Week
from monitor.config import load_config
from monitor.demo.generator import ScenarioSpec, generate
from monitor.pipeline import process_batch
from monitor.replay import import_files
from monitor.settings import PROJECT_ROOT
from monitor.store import Store
from monitor.topics import Matcher
from tests.briefings.support import WEEK, hostile_batch


@pytest.fixture(scope="module")
def briefing_row(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    generate(out, ScenarioSpec(size=1500, seed=3))
    store = Store(f"sqlite:///{out / 'store.db'}")
    config = load_config(PROJECT_ROOT / "config" / "keywords.yaml")
    m = Matcher(config.topics)
    import_files(sorted((out / "x").glob("*.jsonl")) + sorted((out / "rss").glob("*.xml")), store, m, progress=False)
    w = Week.parse(WEEK)
    process_batch(hostile_batch(w.start + timedelta(days=3, hours=8)), store, m, run_hooks=False)
    row, _ = archive.save_build(store, build(store, config, w, BriefingSettings()), by="test")
    yield row
    store.dispose()


@pytest.mark.parametrize("width,name", [(1280, "desktop"), (390, "phone")])
def test_briefing_renders_in_chromium(browser, briefing_row, screenshot, width, name):
    ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB", timezone_id="Europe/London",
                              java_script_enabled=False)
    try:
        page = ctx.new_page()
        requests: list[str] = []
        page.route("**/*", lambda route: (requests.append(route.request.url), route.abort()))
        page.set_content(archive.browser_html(briefing_row), wait_until="load")
        assert requests == []  # the briefing needs nothing from the network
        imgs = page.eval_on_selector_all("img", "els => els.map(e => [e.naturalWidth, e.clientWidth])")
        assert len(imgs) == 2 * len(briefing_row["content"]["topics"])
        assert all(nat > 0 and shown > 0 and shown <= width for nat, shown in imgs), imgs
        # nothing wider than the screen: no sideways scrolling on a phone
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        first = briefing_row["content"]["topics"][0]
        assert first["label"] in page.inner_text("h2")
        assert page.locator("text=DRAFT for review").count() == 1
        assert page.locator("script").count() == 0
        path = screenshot(page, f"briefing-{name}")
        assert path.stat().st_size > 20_000
    finally:
        ctx.close()
