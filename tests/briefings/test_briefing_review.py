"""Review and sending: draft, edit, approve, send over a real SMTP server on loopback; the archive; empty weeks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from briefings import archive
from briefings.archive import BriefingError
from briefings.build import build
from briefings.settings import BriefingSettings, parse_briefing_settings
from briefings.tasks import due_week, scheduled_draft
from briefings.week import Week
from monitor.config import ConfigError, load_config
from monitor.items import Gap
from monitor.pipeline import process_batch
from monitor.settings import PROJECT_ROOT, load_settings
from monitor.topics import Matcher
from tests.briefings.support import HOSTILE, WEEK, hostile_batch, html_tags, parse, pdf_text, smtp_sink

W = Week.parse(WEEK)


@pytest.fixture
def config():
    return load_config(PROJECT_ROOT / "config" / "keywords.yaml")


@pytest.fixture
def week_store(store, config):
    """A store with a few posts on waiting times in the week (one of them hostile), on SQLite and PostgreSQL."""
    m = Matcher(config.topics)
    for n in range(3):
        process_batch(hostile_batch(W.start + timedelta(days=n, hours=10), n=n), store, m, run_hooks=False)
    return store


@pytest.fixture
def smtp():
    ctl, received = smtp_sink()
    yield ctl, received
    ctl.stop()


def smtp_settings(ctl):
    return replace(load_settings(), smtp_host="127.0.0.1", smtp_port=ctl.port, smtp_starttls="no",
                   smtp_from="earshot@health.example.gov.uk")


BS = BriefingSettings(recipients=["minister@health.example.gov.uk", "perm.sec@health.example.gov.uk"],
                      editors=["editor@health.example.gov.uk"])


def test_draft_edit_approve_send_received_and_recorded(week_store, config, smtp, tmp_path):
    ctl, received = smtp
    b = build(week_store, config, W, BS)
    row, new = archive.save_build(week_store, b, by="alice")
    assert new and row["status"] == "draft" and row["revision"] == 1
    with pytest.raises(BriefingError, match="draft: an editor must approve it first"):
        archive.send(week_store, smtp_settings(ctl), BS, row["id"], by="alice")
    assert not received
    story = row["content"]["topics"][0]["stories"][0]["id"]
    with pytest.raises(BriefingError, match="no story nope"):
        archive.edit(week_store, WEEK, by="bob", remove=["nope"])
    edited = archive.edit(week_store, WEEK, by="bob", note="Quiet week <b>overall</b>.",
                          key_messages=["Waits are the story", "Nothing on <script>x</script>"], remove=[story])
    assert edited["status"] == "draft" and edited["edited_by"] == "bob"
    assert story not in edited["html"] and "Quiet week &lt;b&gt;overall&lt;/b&gt;." in edited["html"]
    approved = archive.approve(week_store, WEEK, by="carol", note="fine")
    assert approved["status"] == "approved" and "DRAFT" not in approved["html"] and "DRAFT" not in approved["subject"]
    with pytest.raises(BriefingError, match="already approved"):
        archive.approve(week_store, WEEK, by="carol")
    sent = archive.send(week_store, smtp_settings(ctl), BS, WEEK, by="dave")
    assert sent["status"] == "sent" and sent["sent_by"] == "dave" and sent["sent_to"] == BS.recipients
    with pytest.raises(BriefingError, match="already sent"):
        archive.send(week_store, smtp_settings(ctl), BS, WEEK, by="dave")
    with pytest.raises(BriefingError, match="was sent"):
        archive.edit(week_store, WEEK, by="bob", note="too late")
    assert [(e["kind"], e["by"]) for e in archive.events(week_store, row["id"])] == [
        ("built", "alice"), ("edited", "bob"), ("approved", "carol"), ("sent", "dave")]

    # what the SMTP server received
    assert len(received) == 1 and sorted(received[0]["to"]) == sorted(BS.recipients)
    msg = parse(received[0]["data"])
    assert msg.get_content_type() == "multipart/mixed"
    alt, pdf = msg.get_payload()
    assert alt.get_content_type() == "multipart/alternative"
    plain, related = alt.get_payload()
    assert plain.get_content_type() == "text/plain" and related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html" and images
    assert pdf.get_content_type() == "application/pdf" and pdf.get_filename() == f"briefing-{WEEK}.pdf"
    html = html_part.get_content()
    cids = {i["Content-ID"].strip("<>") for i in images}
    assert all(i.get_content_type() == "image/png" and i.get_content().startswith(b"\x89PNG") for i in images)
    tags = html_tags(html)
    refs = [dict(a)["src"] for t, a in tags if t == "img"]
    assert refs and {r.removeprefix("cid:") for r in refs} == cids  # every image resolves, none left over
    assert all(dict(a).get("width") and dict(a).get("height") for t, a in tags if t == "img")
    hrefs = [dict(a)["href"] for t, a in tags if t == "a"]
    assert hrefs and all(h.startswith("https://") or h.startswith("#") for h in hrefs)
    assert not [t for t, _ in tags if t == "script"] and "<script" not in html.replace("&lt;script", "")
    assert "Nothing on &lt;script&gt;x&lt;/script&gt;" in html and "Waits are the story" in plain.get_content()
    assert HOSTILE.split("<img")[0] in plain.get_content()
    assert "style=" in html  # CSS inlined
    assert "DRAFT" not in msg["Subject"]
    assert "Waiting list" in pdf_text(pdf.get_content(), tmp_path)


def test_rebuilding_the_same_data_keeps_the_revision_new_data_makes_one(sqlite_store, config):
    week_store = sqlite_store
    for n in range(2):
        process_batch(hostile_batch(W.start + timedelta(days=n, hours=10), n=n), week_store, Matcher(config.topics),
                      run_hooks=False)
    row, new = archive.save_build(week_store, build(week_store, config, W, BS), by="a")
    again, new2 = archive.save_build(week_store, build(week_store, config, W, BS), by="b")
    assert new and not new2 and again["id"] == row["id"]
    process_batch(hostile_batch(W.start + timedelta(days=5), n=7), week_store, Matcher(config.topics), run_hooks=False)
    third, new3 = archive.save_build(week_store, build(week_store, config, W, BS), by="c")
    assert new3 and third["revision"] == 2
    assert [r["revision"] for r in archive.listing(week_store)] == [2, 1]
    assert archive.listing(week_store, topic="waiting_times") and not archive.listing(week_store, topic="nope")


def test_an_empty_week_says_so(sqlite_store, config, tmp_path):
    b = build(sqlite_store, config, Week.parse("2026-W10"), BS)
    assert b.content["total_posts"] == 0
    for t in b.content["topics"]:
        assert t["headline"] == f"{t['label']}: no posts this week."
        assert t["stories"] == [] and t["voices"] == []
    assert "No posts were stored on any topic this week" in b.rendered.text
    assert "No posts were stored on any topic this week" in pdf_text(b.rendered.pdf, tmp_path)


def test_a_source_down_all_week_is_named(sqlite_store, config, tmp_path):
    m = Matcher(config.topics)
    process_batch(hostile_batch(W.start + timedelta(days=1)), sqlite_store, m, run_hooks=False)
    sqlite_store.record_source_run("rss:bbc-health", error="HTTP 503 from the feed",
                                   gaps=[Gap("rss:bbc-health", W.start - timedelta(days=1), None, "error", "HTTP 503")])
    sqlite_store.record_source_run("x-search", gaps=[Gap("x-search", W.start + timedelta(days=2), W.start + timedelta(days=2, minutes=15),
                                                         "rate_limited", "429")])
    from sqlalchemy import select

    from monitor import models as mm

    with sqlite_store.engine.begin() as conn:  # a person marked one post irrelevant (as the dashboard does)
        pid = conn.execute(select(mm.posts.c.id).limit(1)).scalar_one()
        conn.execute(mm.post_marks.insert().values(post_id=pid, kind="irrelevant", topic="waiting_times", by="ed",
                                                   at=W.start + timedelta(days=2)))
    b = build(sqlite_store, config, W, BS)
    cov = {s["name"]: s for s in b.content["coverage"]["sources"]}
    assert cov["rss:bbc-health"]["down_all_week"] and not cov["x-search"]["down_all_week"]
    text = " ".join(b.rendered.text.split())
    assert "rss:bbc-health was down all week: nothing it would have brought is counted (last error: HTTP 503 from the feed)." in text
    assert "Rate-limit waits: x-search 1 waits, 15.0 min." in text
    assert "Posts people marked irrelevant, left out of every figure: 1 (waiting_times 1)." in text
    assert "rss:bbc-health was down all week" in pdf_text(b.rendered.pdf, tmp_path)


def test_scheduled_draft_monday_morning_london_once_and_editors_told(sqlite_store, config, smtp):
    ctl, received = smtp
    week_store = sqlite_store
    process_batch(hostile_batch(W.start + timedelta(hours=10)), week_store, Matcher(config.topics), run_hooks=False)
    # Monday 23 November 2026, 06:59 and 07:00 in London (GMT: UTC)
    before = datetime(2026, 11, 23, 6, 59, tzinfo=timezone.utc)
    at = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
    assert due_week(BS, before) is None and due_week(BS, at).label == WEEK
    # in summer London is UTC+1: 07:00 local is 06:00 UTC
    assert due_week(BS, datetime(2026, 6, 1, 6, 0, tzinfo=timezone.utc)).label == "2026-W22"
    assert due_week(BS, datetime(2026, 6, 1, 5, 59, tzinfo=timezone.utc)) is None
    s = smtp_settings(ctl)
    # the week's rankings: not in its first hour after the week ended, then once, before the build
    early = scheduled_draft(week_store, config, s, now=datetime(2026, 11, 23, 0, 59, tzinfo=timezone.utc), bsettings=BS)
    assert early["built"] is None and WEEK not in early["rankings"]
    first = scheduled_draft(week_store, config, s, now=datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc), bsettings=BS)
    assert first["built"] is None and first["rankings"][WEEK]["waiting_times"]["run_id"]
    assert {v for k, v in first["rankings"][WEEK].items() if k != "waiting_times"} == {"no posts"}
    again = scheduled_draft(week_store, config, s, now=before, bsettings=BS)
    assert again["built"] is None and again["rankings"][WEEK]["waiting_times"] == "already stored"
    done = scheduled_draft(week_store, config, s, now=at, bsettings=BS)
    assert done["built"] and done["week"] == WEEK
    assert done["rankings_computed_by_the_build"] == []  # the build read the stored rankings
    assert scheduled_draft(week_store, config, s, now=at + timedelta(minutes=15), bsettings=BS)["why"] == "already built"
    assert len(received) == 1 and received[0]["to"] == BS.editors
    told = parse(received[0]["data"])
    assert "Draft briefing ready for review" in told["Subject"]
    assert [e["kind"] for e in archive.events(week_store, done["built"])] == ["built", "notified"]


def test_briefing_settings_are_checked():
    s = parse_briefing_settings("recipients: [a@b.example]\npublic_accounts: ['@DrFamous']\npublic_min_followers: 500\n")
    assert s.recipients == ["a@b.example"] and s.public_accounts == {"drfamous"} and s.public_min_followers == 500
    with pytest.raises(ConfigError, match="recipients: must be a list of e-mail addresses"):
        parse_briefing_settings("recipients: [nope]\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        parse_briefing_settings("recipient: [a@b.example]\n")
    assert parse_briefing_settings((PROJECT_ROOT / "config" / "briefing.yaml").read_text()).recipients


def test_cli_build_out_list_preview_approve(sqlite_store, config, tmp_path, monkeypatch):
    from monitor.cli import _add_plugins, cli

    _add_plugins()

    monkeypatch.setenv("EARSHOT_DATABASE_URL", sqlite_store.url)
    process_batch(hostile_batch(W.start + timedelta(days=1)), sqlite_store, Matcher(config.topics), run_hooks=False)
    r = CliRunner().invoke(cli, ["briefing", "build", "--week", WEEK, "--out", str(tmp_path / "out"), "--by", "tess"])
    assert r.exit_code == 0, r.output
    assert "revision 1: new draft" in r.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"briefing-{WEEK}.{e}" for e in ("eml", "html", "pdf", "txt")]
    eml = parse((tmp_path / "out" / f"briefing-{WEEK}.eml").read_bytes())
    assert eml.get_content_type() == "multipart/mixed"
    r = CliRunner().invoke(cli, ["briefing", "list"])
    assert r.exit_code == 0 and f"{WEEK} r1  draft" in r.output and "by tess" in r.output
    r = CliRunner().invoke(cli, ["briefing", "preview", WEEK])
    assert r.exit_code == 0 and "DRAFT for review" in r.output
    r = CliRunner().invoke(cli, ["briefing", "send", WEEK, "--by", "x"])
    assert r.exit_code == 2 and "an editor must approve it first" in r.output
    r = CliRunner().invoke(cli, ["briefing", "approve", WEEK, "--by", "uma"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["briefing", "preview", WEEK, "--out", str(tmp_path / "b.html")])
    assert r.exit_code == 0 and "data:image/png;base64," in (tmp_path / "b.html").read_text()
    r = CliRunner().invoke(cli, ["briefing", "history", WEEK])
    assert "approved    uma" in r.output and "built       tess" in r.output
    r = CliRunner().invoke(cli, ["briefing", "build", "--week", "2026-W99"])
    assert r.exit_code != 0 and "has no week 99" in r.output


def test_every_briefing_setting_is_documented():
    from briefings.settings import KEYS

    readme = (PROJECT_ROOT / "README.md").read_text()
    sample = (PROJECT_ROOT / "config" / "briefing.yaml").read_text()
    for key in KEYS:
        assert f"| `{key}` |" in readme, f"briefing setting {key} is not in the README"
        assert key in sample, f"briefing setting {key} is not in config/briefing.yaml"


def test_two_senders_at_once_send_one_email_and_a_dead_claim_is_taken_over(week_store, config):
    """The send claims the row first: of two senders at once one sends, the other is told; a claim left
    by a process that died (older than SEND_CLAIM_EXPIRES) does not block the briefing for ever."""
    import asyncio
    import threading

    from aiosmtpd.controller import Controller

    from monitor import models as m
    from monitor.harness.services import free_port

    received: list[bytes] = []

    class SlowSink:  # a slow server keeps the first send in flight while the second tries
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(1.0)
            received.append(envelope.content)
            return "250 OK"

    ctl = Controller(SlowSink(), hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        row, _ = archive.save_build(week_store, build(week_store, config, W, BS), by="alice")
        archive.approve(week_store, row["id"], by="carol")
        outcomes: list[str] = []

        def sender(name):
            try:
                archive.send(week_store, smtp_settings(ctl), BS, row["id"], by=name)
                outcomes.append("sent")
            except BriefingError as exc:
                outcomes.append(str(exc))

        threads = [threading.Thread(target=sender, args=(n,)) for n in ("dave", "erin")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(received) == 1, outcomes
        assert sorted(outcomes)[1] == "sent" and "is being sent by" in sorted(outcomes)[0], outcomes
        assert [e["kind"] for e in archive.events(week_store, row["id"])].count("sent") == 1

        # a claim whose process died: refused while recent, taken over once older than the expiry
        row2, _ = archive.save_build(week_store, build(week_store, config, W, replace(BS, stories_per_topic=2)), by="alice")
        assert row2["id"] != row["id"]
        archive.approve(week_store, row2["id"], by="carol")
        claimed_at = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
        with week_store.engine.begin() as conn:
            conn.execute(m.briefings.update().where(m.briefings.c.id == row2["id"])
                         .values(status="sending", sent_at=claimed_at, sent_by="frank"))
        with pytest.raises(BriefingError, match="is being sent by frank"):
            archive.send(week_store, smtp_settings(ctl), BS, row2["id"], by="gina", now=claimed_at + timedelta(minutes=2))
        with pytest.raises(BriefingError, match="being sent"):
            archive.edit(week_store, row2["id"], by="bob", note="mid-send")
        assert len(received) == 1
        sent = archive.send(week_store, smtp_settings(ctl), BS, row2["id"], by="gina",
                            now=claimed_at + archive.SEND_CLAIM_EXPIRES + timedelta(seconds=1))
        assert sent["status"] == "sent" and sent["sent_by"] == "gina" and len(received) == 2
    finally:
        ctl.stop()
