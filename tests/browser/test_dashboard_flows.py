"""What people do in the dashboard, in chromium: sign in, watch an alert arrive live and acknowledge
it, miss events while disconnected and get them on reconnecting, look up influencers and export,
search posts, mark a post irrelevant and see the counts change, approve and send the weekly
briefing (received by an SMTP server on loopback). Screenshots are saved as artefacts.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from monitor import hooks
from monitor.alerts import records
from monitor.config import load_config
from monitor.items import Account, Batch, Post
from monitor.pipeline import process_batch
from monitor.topics import Matcher
from tests.conftest import ROOT


def sign_in(page, dashboard, role: str) -> None:
    name, password = dashboard.info["users"][role]
    page.goto(dashboard.url + "/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/alerts")


def spike(start: datetime, n: int = 80, first: int = 70000) -> Batch:
    posts = [Post(platform="x", platform_id=str(9_100_000 + first + i), kind="original", author_id=str(first + i),
                  text=f"MMR vaccine clinics shut again, parents furious #{i}", created_at=start + timedelta(seconds=3 * i),
                  url=f"https://x.com/u{first + i}/status/{9_100_000 + first + i}") for i in range(n)]
    accounts = [Account(platform="x", platform_id=str(first + i), handle=f"parent{first + i}", name=f"Parent {i}")
                for i in range(n)]
    return Batch(source="test", posts=posts, accounts=accounts)


def test_an_alert_arrives_live_is_acknowledged_and_missed_events_come_on_reconnecting(dashboard, page, screenshot,
                                                                                     page_errors):
    hooks.register_after_batch()  # the pipeline's hooks: the alert engine, then the dashboard's wake-up
    matcher = Matcher(load_config(ROOT / "config" / "keywords.yaml").topics)
    end = datetime.fromisoformat(dashboard.info["end"])
    sign_in(page, dashboard, "press")
    page.wait_for_selector("#live-status:has-text('Live: connected')")
    before = {a["id"] for a in records.list_alerts(dashboard.store)}
    stream_requests = []
    page.on("request", lambda r: "/alerts/stream" in r.url and stream_requests.append(r))
    # a batch is processed (as a worker or `earshot run` does): the alert shows without a reload
    t0 = time.monotonic()
    process_batch(spike(end + timedelta(minutes=30)), dashboard.store, matcher)
    new = [a for a in records.list_alerts(dashboard.store) if a["id"] not in before and a["kind"] == "volume"]
    assert len(new) == 1 and new[0]["severity"] == "critical"
    alert_id = new[0]["id"]
    card = page.locator(f"#alert-{alert_id}")
    card.wait_for(timeout=5000)
    arrived = time.monotonic() - t0
    assert page.locator("#live-feed li").first.inner_text().startswith(tuple("0123456789"))
    assert f"alert {alert_id} opened (critical)" in page.locator("#live-feed").inner_text()
    assert page.locator("#critical-banner").is_visible()
    # the 24-hour charts are drawn again: the new alert's topic first (critical), its last hours holding the spike
    page.wait_for_selector("#day-charts[data-redrawn]", timeout=10000)
    topic = new[0]["topic"]
    first_chart = page.locator("#day-charts [data-plotly]").first
    assert first_chart.get_attribute("id") == f"vol-{topic}"
    first_chart.locator(".main-svg").first.wait_for()
    bars = page.evaluate(f"""() => document.getElementById('vol-{topic}').data
                             .filter(t => t.type === 'bar')[0].y""")
    assert sum(bars[-2:]) >= 80, bars  # the 80 posts of the spike, in the hours it fell in
    screenshot(page, "flow-alert-arrived-live")
    assert arrived < 5, arrived
    opened_id = records.events(dashboard.store, alert_id)[0]["id"]
    # the connection drops and cannot come back for a while; meanwhile a colleague acknowledges it
    page.route("**/alerts/stream*", lambda route: route.abort())
    stream_requests.clear()
    dashboard.app.state.earshot.hub.drop_subscribers()
    page.wait_for_selector("#live-status:has-text('reconnecting')", timeout=10000)
    records.acknowledge(dashboard.store, alert_id, "ada", "on it")
    page.wait_for_timeout(500)
    assert "Acknowledged by" not in card.inner_text()  # not seen yet
    page.unroute("**/alerts/stream*")
    # the browser reconnects by itself, says the last event it saw, and gets what it missed
    page.wait_for_selector(f"#alert-{alert_id}:has-text('Acknowledged by ada')", timeout=15000)
    assert f"alert {alert_id} acknowledged" in page.locator("#live-feed").inner_text()
    sent = [r.all_headers().get("last-event-id") for r in stream_requests]
    assert str(opened_id) in sent, sent
    screenshot(page, "flow-missed-events-after-reconnect")
    # resolve from the card, with a note: recorded with the signed-in name
    card = page.locator(f"#alert-{alert_id}")
    card.locator(f"#note-resolve-{alert_id}").fill("statement issued")
    card.locator("button:has-text('Resolve')").click()
    page.wait_for_url("**/alerts?done=resolve*")
    assert page.locator(f"#alert-{alert_id}").count() == 0
    assert f"Alert {alert_id} resolved" in page.locator(".govuk-notification-banner--success").inner_text()
    hist = [(e["kind"], e["by"], e["note"]) for e in records.events(dashboard.store, alert_id)]
    assert ("acknowledged", "ada", "on it") in hist and ("resolved", "percy", "statement issued") in hist
    assert not [e for e in page_errors if "alerts/stream" not in e], page_errors


def test_look_up_influencers_and_export(dashboard, page, screenshot, tmp_path, axe_check, page_errors, monkeypatch):
    import threading

    from influence import export_jobs

    gate, builds = threading.Event(), []
    real = export_jobs.build

    def held(*a, **k):  # the file's build (off the request) waits until the page has been seen waiting
        builds.append(a[1:3])
        assert gate.wait(60)
        return real(*a, **k)

    monkeypatch.setattr(export_jobs, "build", held)
    sign_in(page, dashboard, "viewer")
    page.click("a.govuk-service-navigation__link:has-text('Influencers')")
    page.select_option("#topic", "vaccination")
    page.select_option("#window", "7d")
    page.click("button:has-text('Look up')")
    page.wait_for_selector("#ranking-table tbody tr")
    rows = page.locator("#ranking-table tbody tr")
    assert rows.count() >= 10
    assert rows.first.locator("td").first.inner_text().strip() == "1"
    page.locator("details[data-why-url] summary").first.click()  # the why is read when opened
    page.wait_for_selector("details[data-why-url] >> text=Share of the conversation")
    assert "Amplified by" in page.locator("details[data-why-url]").first.inner_text()
    page.wait_for_selector("#network .main-svg")
    screenshot(page, "flow-influencers")
    # the sortable table: sort by score, lowest first
    page.click("#ranking-table th:nth-child(3) button")
    scores = [float(x.replace(",", "")) for x in page.locator("#ranking-table tbody tr td:nth-child(3)").all_inner_texts()]
    assert scores == sorted(scores)
    # the export: prepared once per ranking off the request; the page that opens says so, then downloads it
    assert "prepared once for the ranking" in page.locator("p:has(a:has-text('GEXF'))").inner_text()
    page.click("a:has-text('GEXF')")
    status = page.locator("#export-pending[role=status]")
    assert "GEXF file of the ranking" in status.inner_text() and "is being prepared" in status.inner_text()
    assert "the download starts by itself" in status.inner_text()
    axe_check(page)
    screenshot(page, "flow-influencers-export-preparing")
    page.locator("a:has-text('Download the GEXF file')").focus()  # reachable by keyboard
    with page.expect_download(timeout=60_000) as dl:
        gate.set()  # the page asks again by itself (a meta refresh, no script) and gets the file
    path = tmp_path / "out.gexf"
    dl.value.save_as(path)
    assert dl.value.suggested_filename == "influencers-vaccination.gexf"
    text = path.read_text()
    assert text.startswith("<?xml") and "<gexf" in text and "<node " in text
    # asked again: the kept file, at once
    page.click("a:has-text('go back to the influencers')")
    page.wait_for_selector("#ranking-table tbody tr")
    with page.expect_download() as again:
        page.click("a:has-text('GEXF')")
    assert again.value.suggested_filename == "influencers-vaccination.gexf" and len(builds) == 1
    assert not page_errors, page_errors


def test_a_ranking_nobody_stored_is_computed_while_the_page_waits(dashboard, page, screenshot, axe_check,
                                                                   page_errors, monkeypatch):
    import threading

    from influence import jobs

    gate, calls = threading.Event(), []
    real = jobs.compute_run

    def held(*a, **k):  # the computation waits until the page has been seen waiting
        calls.append(a[1])
        assert gate.wait(60)
        return real(*a, **k)

    monkeypatch.setattr(jobs, "compute_run", held)
    sign_in(page, dashboard, "viewer")
    page.goto(dashboard.url + "/influencers?topic=vaccination&window=90d&at=2026-11-20T12:00:00")
    status = page.locator("#ranking-pending[role=status]")
    assert "is being computed" in status.inner_text() and "checks every few seconds" in status.inner_text()
    assert page.locator("#ranking-table").count() == 0
    axe_check(page)
    screenshot(page, "flow-influencers-computing")
    page.locator("#ranking-pending a:has-text('Reload the page')").focus()  # reachable by keyboard
    gate.set()
    page.wait_for_selector("#ranking-table tbody tr", timeout=60_000)  # the page reloads itself when it is stored
    assert page.locator("#ranking-pending").count() == 0 and len(calls) == 1
    screenshot(page, "flow-influencers-computed")
    assert not page_errors, page_errors


def test_search_posts(dashboard, page, screenshot):
    sign_in(page, dashboard, "viewer")
    page.goto(dashboard.url + "/search")
    page.fill("#q", 'vaccin* "A&E"')
    page.click("button:has-text('Search')")
    page.wait_for_selector("#results-count")
    page.fill("#q", "vaccin*")
    page.select_option("#topic", "vaccination")
    page.click("button:has-text('Search')")
    page.wait_for_selector("#results li")
    assert page.locator("#results mark.earshot-hit").count() >= 5
    count = page.locator("#results-count").inner_text()
    assert "posts match" in count
    screenshot(page, "flow-search")
    if page.locator("a[rel=next]").count():
        page.click("a[rel=next]")
        page.wait_for_selector("#results li")
        assert "Page 2 of" in page.locator(".earshot-page-of").inner_text()


def test_mark_a_post_irrelevant_and_see_the_counts_change(dashboard, page, screenshot):
    sign_in(page, dashboard, "press")
    page.goto(dashboard.url + "/topics/vaccination?range=7d")
    before = int(page.locator("#total-posts").inner_text().replace(",", ""))
    page.goto(dashboard.url + "/search?q=vaccin*&topic=vaccination")
    page.locator("#results a:has-text('check this post')").first.click()
    page.wait_for_selector("#mark-topic")
    page.select_option("#mark-topic", "vaccination")
    page.click("button:has-text('Mark irrelevant')")
    page.wait_for_selector(".govuk-notification-banner--success")
    assert "irrelevant to Vaccination" in page.locator("#marks").inner_text()
    # the checks table sorts and downloads as shown (without its action column)
    page.click("#marks-table th:nth-child(2) button")
    assert page.locator("#marks-table th:nth-child(2)").get_attribute("aria-sort") == "ascending"
    with page.expect_download() as dl:
        page.click("#marks button:has-text('Download as shown (CSV)')")
    rows = open(dl.value.path(), encoding="utf-8").read().splitlines()
    assert rows[0] == '"Check","By","When (UTC)","Undone"' and "irrelevant to Vaccination" in rows[1], rows
    assert "Undo" not in rows[1]
    screenshot(page, "flow-marked-irrelevant")
    post_url = page.url.split("?")[0]
    page.goto(dashboard.url + "/topics/vaccination?range=7d")
    assert int(page.locator("#total-posts").inner_text().replace(",", "")) == before - 1
    assert "1 posts marked irrelevant" in page.locator("#review").inner_text()
    screenshot(page, "flow-topic-after-mark")
    # undone: the post counts again
    page.goto(post_url)
    page.click("#marks form button:has-text('Undo')")  # not the column heading's sort button
    page.wait_for_selector(".govuk-notification-banner--success")
    page.goto(dashboard.url + "/topics/vaccination?range=7d")
    assert int(page.locator("#total-posts").inner_text().replace(",", "")) == before


def test_under_live_collection_the_topic_page_says_as_of_while_it_is_recounted(dashboard, page, screenshot,
                                                                               axe_check, monkeypatch):
    import threading

    from dashboard.routers import topics

    sign_in(page, dashboard, "viewer")
    page.goto(dashboard.url + "/topics/vaccination?range=7d")
    before = int(page.locator("#total-posts").inner_text().replace(",", ""))
    assert page.locator("#as-of").count() == 0
    gate = threading.Event()
    real = topics._page_context
    monkeypatch.setattr(topics, "_page_context", lambda *a: gate.wait(30) and real(*a))
    start = datetime.fromisoformat(dashboard.info["end"]) - timedelta(hours=2)
    process_batch(spike(start, n=5, first=80000), dashboard.store, Matcher(load_config(ROOT / "config" / "keywords.yaml").topics),
                  run_hooks=False)
    page.goto(dashboard.url + "/topics/vaccination?range=7d")  # answered at once, as of the previous count
    notice = page.locator("#as-of")
    assert "Figures as of" in notice.inner_text() and "Reload the page" in notice.inner_text()
    assert int(page.locator("#total-posts").inner_text().replace(",", "")) == before
    axe_check(page)
    screenshot(page, "flow-topic-as-of")
    gate.set()
    for _ in range(60):
        page.reload()
        if page.locator("#as-of").count() == 0:
            break
        time.sleep(0.25)
    assert page.locator("#as-of").count() == 0
    assert int(page.locator("#total-posts").inner_text().replace(",", "")) == before + 5


def test_the_press_office_resolves_the_alerts_back_to_normal_at_once(dashboard, page, screenshot, axe_check):
    from sqlalchemy import update

    from monitor import models as m

    unresolved = records.list_alerts(dashboard.store, state="unresolved", limit=200)
    assert len(unresolved) >= 2
    ids = [a["id"] for a in unresolved if a["closed_at"]]
    if len(ids) < 2:  # two of them back to normal (the detector closed them)
        ids = [a["id"] for a in unresolved[:2]]
        with dashboard.store.engine.begin() as conn:
            conn.execute(update(m.alerts).where(m.alerts.c.id.in_(ids)).values(closed_at=unresolved[0]["updated_at"]))
    sign_in(page, dashboard, "press")
    form = page.locator("#resolve-normal")
    assert f"Resolve the {len(ids)} alerts back to normal" in form.inner_text()
    page.fill("#note-resolve-normal", "all quiet again")
    axe_check(page)
    screenshot(page, "flow-resolve-back-to-normal")
    page.locator("#resolve-normal button").press("Enter")  # by keyboard
    page.wait_for_selector(".govuk-notification-banner--success")
    assert f"{len(ids)} alerts back to normal resolved." in page.locator(".govuk-notification-banner--success").inner_text()
    assert page.locator("#resolve-normal").count() == 0
    for i in ids:
        a = records.get_alert(dashboard.store, i)
        assert (a["state"], a["resolved_by"]) == ("resolved", dashboard.info["users"]["press"][0])
    screenshot(page, "flow-resolved-back-to-normal")


def test_review_approve_and_send_the_briefing_from_its_page(request, monkeypatch, page, screenshot, axe_check):
    """A press officer approves the week's briefing on its page and sends it; the e-mail arrives (aiosmtpd)."""
    from briefings.settings import load_briefing_settings
    from dashboard import audit
    from tests.briefings.support import parse, smtp_sink

    ctl, received = smtp_sink()
    try:
        monkeypatch.setenv("EARSHOT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("EARSHOT_SMTP_PORT", str(ctl.port))
        monkeypatch.setenv("EARSHOT_SMTP_STARTTLS", "no")
        dashboard = request.getfixturevalue("dashboard")  # after the SMTP settings are in the environment
        to = load_briefing_settings(ROOT / "config" / "keywords.yaml").recipients
        assert to
        sign_in(page, dashboard, "press")
        page.goto(dashboard.url + "/briefings")
        page.locator("#briefings-table a:has-text('r1')").first.click()
        page.wait_for_selector("#briefing")
        assert page.locator("#status").inner_text().strip() == "draft"
        assert page.locator("button:has-text('Send to')").count() == 0
        page.fill("#approve-note", "Checked against the clippings")
        page.click("button:has-text('Approve for sending')", timeout=60_000)  # approving makes the PDF again
        page.wait_for_selector(".govuk-notification-banner--success")
        assert page.locator("#status").inner_text().strip() == "approved"
        assert page.locator("#recipients li").all_inner_texts() == to
        axe_check(page)
        screenshot(page, "flow-briefing-approved")
        page.click("button:has-text('Send to')", timeout=60_000)
        page.wait_for_selector(".govuk-notification-banner--success")
        assert page.locator("#status").inner_text().strip() == "sent"
        assert page.locator("button:has-text('Send to')").count() == 0
        history = page.locator("#history-table").inner_text()
        assert "approved" in history and "sent" in history and "percy" in history
        screenshot(page, "flow-briefing-sent")
        assert len(received) == 1 and sorted(received[0]["to"]) == sorted(to)
        msg = parse(received[0]["data"])
        assert "DRAFT" not in msg["Subject"] and msg.get_body(("html",)) is not None
        assert [e["action"] for e in audit.entries(dashboard.store) if e["action"].startswith("briefing-")] == [
            "briefing-send", "briefing-approve"]
    finally:
        ctl.stop()
