"""The briefing built from the demo scenario: the planted crisis, the planted voices, nobody private named."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from briefings import archive
from briefings.build import build
from briefings.settings import BriefingSettings
from briefings.week import Week
from monitor import models as m
from monitor.config import load_config
from monitor.demo.generator import ScenarioSpec, generate
from monitor.pipeline import process_batch
from monitor.replay import import_files
from monitor.settings import PROJECT_ROOT
from monitor.store import Store
from monitor.topics import Matcher
from tests.briefings.support import HOSTILE, WEEK, hostile_batch, html_tags, pdf_text, word

SIZE = 5000


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    truth = generate(out, ScenarioSpec(size=SIZE, seed=7))
    store = Store(f"sqlite:///{out / 'store.db'}")
    config = load_config(PROJECT_ROOT / "config" / "keywords.yaml")
    matcher = Matcher(config.topics)
    files = sorted((out / "x").glob("*.jsonl")) + sorted((out / "rss").glob("*.xml"))
    import_files(files, store, matcher, progress=False)
    # a stakeholder's hostile post in the week
    process_batch(hostile_batch(datetime.fromisoformat(truth["start"]) + timedelta(days=2, hours=9)), store, matcher,
                  run_hooks=False)
    with store.engine.connect() as conn:
        accounts = {r.platform_id: r for r in conn.execute(select(m.accounts.c.id, m.accounts.c.platform_id,
                                                                  m.accounts.c.handle, m.accounts.c.name,
                                                                  m.accounts.c.followers))}
    yield store, config, truth, accounts, out
    store.dispose()


def planted_handles(truth, accounts):
    return {t: [accounts[x].handle for x in ids] for t, ids in truth["influencers"]["central_low_follower_by_topic"].items()}


@pytest.fixture(scope="module")
def built(demo):
    store, config, truth, accounts, _ = demo
    # the digital team lists the planted front-line voices as public figures; nobody else is added
    listed = {h.lower() for hs in planted_handles(truth, accounts).values() for h in hs}
    bs = BriefingSettings(public_accounts=listed)
    return build(store, config, Week.parse(WEEK), bs), bs


def test_the_planted_crisis_is_the_top_story_of_its_topic(demo, built):
    store, config, truth, accounts, _ = demo
    b, _ = built
    crisis = truth["crisis"]
    topic = next(t for t in b.content["topics"] if t["id"] == crisis["topic"])
    top = topic["stories"][0]
    platform, pid = top["id"].split(":", 1)
    with store.engine.connect() as conn:
        row = conn.execute(select(m.posts.c.created_at, m.accounts.c.platform_id)
                           .select_from(m.posts.join(m.accounts, m.accounts.c.id == m.posts.c.account_id))
                           .where(m.posts.c.platform == platform, m.posts.c.platform_id == pid)).one()
    start, end = datetime.fromisoformat(crisis["start"]), datetime.fromisoformat(crisis["end"])
    # the story is titled by a crisis driver's post, made in the crisis window
    assert row.platform_id in crisis["driver_accounts"]
    assert start <= row.created_at < end
    assert top["sentiment"] < 0 and top["size"] > 50
    # and the crisis topic's headline names that story; the topic is among the most important
    assert top["title"][:40] in topic["headline"]
    order = [t["id"] for t in b.content["topics"]]
    assert order.index(crisis["topic"]) <= 2, order


def test_the_planted_voices_are_among_the_influential_voices(demo, built):
    store, config, truth, accounts, _ = demo
    b, _ = built
    planted = planted_handles(truth, accounts)
    rich = {t: [accounts[x].handle for x in ids]
            for t, ids in truth["influencers"]["follower_rich_unamplified_by_topic"].items()}
    for t in b.content["topics"]:
        voices = " ".join(v["who"] for v in t["voices"])
        for h in planted[t["id"]]:
            assert f"@{h}" in voices, (t["id"], h, voices)
        for h in rich[t["id"]]:  # 100k+ followers, posting a lot, amplified by nobody: not a voice
            assert f"@{h}" not in voices


def test_no_private_individual_is_named_anywhere(demo, built, tmp_path):
    store, config, truth, accounts, _ = demo
    b, bs = built
    row, _ = archive.save_build(store, b, by="test")
    stored = archive.get(store, row["id"])
    texts = {
        "html": b.rendered.html,
        "text": b.rendered.text,
        "pdf": pdf_text(b.rendered.pdf, tmp_path),
        "archive": json.dumps(stored["content"], ensure_ascii=False) + stored["html"] + stored["text"],
    }
    named_names = {(a.name or "").lower() for a in accounts.values()
                   if (a.followers or 0) >= bs.public_min_followers or (a.handle or "").lower() in bs.public_accounts}
    private = [a for pid, a in accounts.items() if truth["accounts"].get(pid) in ("public", "bot")
               and (a.followers or 0) < bs.public_min_followers and (a.handle or "").lower() not in bs.public_accounts]
    assert len(private) > 500
    shown_public = sum(t.count("a member of the public") for t in texts.values())
    assert shown_public > 50  # they are there, unnamed: with what they said
    for where, text in texts.items():
        tokens = set(re.findall(r"[a-z0-9_]+", text.lower()))
        lowered = " ".join(text.lower().split())
        for a in private:
            assert a.handle.lower() not in tokens, (where, a.handle)
            if a.name and " " in a.name and a.name.lower() not in named_names:
                assert not word(lowered, a.name.lower()) if a.name.lower() in lowered else True, (where, a.name)
        # their posts are linked without their handle
        for url in re.findall(r"https://x\.com/([A-Za-z0-9_]+)/status/", text):
            assert url == "i" or url.lower() in {(x.handle or "").lower() for x in accounts.values()
                                                  if (x.followers or 0) >= bs.public_min_followers
                                                  or (x.handle or "").lower() in bs.public_accounts
                                                  or (x.handle or "").lower() == "nhsengland"}


def test_without_the_list_the_planted_voices_are_members_of_the_public(demo, built):
    store, config, truth, accounts, _ = demo
    b = build(store, config, Week.parse(WEEK), BriefingSettings(voices_per_topic=8), topics=[truth["crisis"]["topic"]])
    t = b.content["topics"][0]
    planted = planted_handles(truth, accounts)[t["id"]]
    assert all(accounts[x].followers < 10_000 for x in truth["influencers"]["central_low_follower_by_topic"][t["id"]])
    blob = json.dumps(b.content) + b.rendered.html + b.rendered.text
    for h in planted:
        assert not word(blob, h)
    assert any(v["who"] == "a member of the public" and not v["named"] for v in t["voices"][:5])


def test_hostile_text_is_escaped_and_shown_as_text(demo, built, tmp_path):
    b, _ = built
    tags = html_tags(b.rendered.html)
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "form")]
    assert not [(t, k) for t, attrs in tags for k, _ in attrs if k.startswith("on")]
    imgs = [dict(a)["src"] for t, a in tags if t == "img"]
    assert imgs and all(src.startswith("cid:") for src in imgs)  # the hostile <img> is text, not an image
    hrefs = [dict(a).get("href") for t, a in tags if t == "a"]
    bad = [h for h in hrefs if not (h.startswith("https://") or h.startswith("#"))]
    assert hrefs and not bad, bad
    # the words are there for the reader, escaped
    assert '&lt;script&gt;alert("x")&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;' in b.rendered.html
    assert HOSTILE.split("<img")[0] in b.rendered.text
    assert 'alert("x")' in pdf_text(b.rendered.pdf, tmp_path)


def test_pdf_opens_and_holds_the_headlines(built, tmp_path):
    b, _ = built
    assert b.rendered.pdf.startswith(b"%PDF-")
    text = pdf_text(b.rendered.pdf, tmp_path)
    for t in b.content["topics"]:
        assert " ".join(t["headline"].split())[:60] in text, t["headline"]
    assert "What these figures did not see" in text


def test_same_week_same_data_same_briefing(demo, built):
    store, config, *_ = demo
    b, bs = built
    again = build(store, config, Week.parse(WEEK), bs)
    assert again.content_hash == b.content_hash
    assert again.rendered.html == b.rendered.html and again.rendered.text == b.rendered.text
    assert again.rendered.pdf == b.rendered.pdf
    assert [c.png for c in again.rendered.charts] == [c.png for c in b.rendered.charts]
