"""Stranger text renders as text on every page and API; links go only to https: on the platform's host."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from dashboard.links import post_url, safe_url
from dashboard.pages import concrete_paths
from monitor.alerts import engine
from monitor.config import load_config
from monitor.items import Account, Batch, Post, Reference
from monitor.pipeline import process_batch
from monitor.topics import Matcher
from tests.dashboard.support import add_role_users, login, make_app, when_ranked
from tests.monitor.alerts_support import fill

T = datetime(2026, 11, 18, 14, 0, tzinfo=timezone.utc)
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)> "><svg onload=alert(2)>'
EVIL_URL = "javascript:alert(document.cookie)"


class Tags(HTMLParser):
    """Every tag and attribute of a page, as a browser would parse them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def check_page(html: str, where: str) -> None:
    p = Tags()
    p.feed(html)
    for tag, attrs in p.tags:
        assert tag not in ("img", "svg", "iframe", "object", "embed") or attrs.get("src", "").startswith("/static/"), (where, tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (where, tag, name, value)
            if name in ("href", "src", "action", "formaction"):
                v = (value or "").strip().lower()
                assert not v.startswith(("javascript:", "data:", "vbscript:")), (where, tag, name, value)
                assert v.startswith(("/", "#", "https://")) or v == "", (where, tag, name, value)
        if tag == "script":
            # only the app's own scripts: from /static, a nonce'd one, or JSON data
            assert attrs.get("src", "").startswith("/static/") or "nonce" in attrs or \
                attrs.get("type") == "application/json", (where, attrs)


@pytest.fixture
def hostile(sqlite_store, topics_env):
    store = sqlite_store
    fill(store, "flu", T - timedelta(days=2), T - timedelta(minutes=10), 2.0, seed=5, hook=False)
    evil_acc = Account(platform="x", platform_id="666", handle="evil_handle", name=EVIL, description=EVIL,
                       url=EVIL_URL)
    posts, accounts = [], [evil_acc]
    for i in range(80):
        posts.append(Post(platform="x", platform_id=f"e{i}", kind="original", author_id="666" if i == 0 else str(8000 + i),
                          text=f"flu {EVIL} A&E {i}", title=None, created_at=T - timedelta(minutes=5) + timedelta(seconds=3 * i),
                          url=EVIL_URL if i % 2 else "https://x.com.evil.example/steal", links=[EVIL_URL, "https://ok.example/a"],
                          hashtags=["<b>tag</b>"]))
        accounts.append(Account(platform="x", platform_id=str(8000 + i), handle=f"h{i}", name=EVIL))
    for i in range(30):  # retweets of the evil post: it is "most shared", its author an influencer
        posts.append(Post(platform="x", platform_id=f"r{i}", kind="retweet", author_id=str(8100 + i), text=f"RT flu {EVIL}",
                          created_at=T - timedelta(minutes=4) + timedelta(seconds=5 * i),
                          references=[Reference("retweet", "e0", "666")]))
        accounts.append(Account(platform="x", platform_id=str(8100 + i), handle=f"r{i}", name=EVIL))
    config = load_config(topics_env)
    batch = Batch(source="test", posts=posts, accounts=accounts)
    result = process_batch(batch, store, Matcher(config.topics), run_hooks=False)
    engine.after_batch(store, batch, result)
    return store


def test_no_script_runs_and_no_javascript_link_on_any_page(hostile, topics_env):
    from monitor.alerts import records

    assert records.list_alerts(hostile), "the hostile spike should raise an alert (its card is checked too)"
    users = add_role_users(hostile)
    app = make_app(hostile, topics_env, hub=False)
    with TestClient(app) as c:
        login(c, *users["admin"])
        with hostile.engine.connect() as conn:
            from sqlalchemy import select

            from monitor import models as m

            evil_post = conn.execute(select(m.posts.c.id).where(m.posts.c.platform_id == "e0")).scalar()
            evil_acc = conn.execute(select(m.accounts.c.id).where(m.accounts.c.platform_id == "666")).scalar()
        paths = concrete_paths(hostile, load_config(topics_env)) + [
            f"/posts/{evil_post}", f"/accounts/{evil_acc}", f"/accounts/{evil_acc}?topic=flu",
            "/search?q=alert", "/search?q=%3Cscript%3E", "/topics/flu?range=24h&at=2026-11-18T14:00:00",
            "/influencers?topic=flu&window=7d&at=2026-11-18T14:00:00", "/alerts?at=2026-11-18T14:00:00",
            "/topics/flu/points?point=2026-11-18T13:00:00&step=3600"]
        for path in paths:
            r = when_ranked(c, path) if path.startswith("/influencers") else c.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            check_page(r.text, path)
            for bad in ("<script>alert", "<img src=x onerror", "<svg onload"):
                i = r.text.find(bad)
                assert i < 0, (path, r.text[max(0, i - 300):i + 100])
        # the texts are there, as text
        page = c.get(f"/posts/{evil_post}").text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page or "&lt;script&gt;alert(&quot;x&quot;)" in page
        # chart labels and hovers carry escaped text (plotly reads some HTML in labels)
        infl = c.get("/influencers?topic=flu&window=7d&at=2026-11-18T14:00:00").text
        data = infl.split('id="network-data"')[1].split("</script>")[0]
        assert "\\u0026lt;script" in data and "\\u003cscript" not in data  # hover text: escaped, then JSON-escaped
        # the JSON API returns the text as it is (JSON is not HTML), with no link but a safe one
        js = c.get("/api/posts/search", params={"q": "alert"}).json()
        assert js["posts"] and all(p["link"] is None or p["link"].startswith("https://x.com/") for p in js["posts"])
        assert all("<script>" not in p["snippet_html"] for p in js["posts"])


@pytest.mark.parametrize("url,platform,ok", [
    ("https://x.com/a/status/1", "x", True),
    ("https://mobile.twitter.com/a/status/1", "x", True),
    ("http://x.com/a/status/1", "x", False),
    ("javascript:alert(1)", "x", False),
    ("JAVASCRIPT:alert(1)", "rss", False),
    ("data:text/html,<script>", "rss", False),
    ("https://x.com.evil.example/", "x", False),
    ("https://x.com@evil.example/", "x", False),
    ("https://evil.example/x.com", "x", False),
    ("https://x.com:8443/", "x", False),
    ("https://x.com\\@evil.example", "x", False),
    (" https://x.com/a", "x", False),
    ("https://www.bbc.co.uk/news/health-1", "rss", True),
    ("https://www.bbc.co.uk/news/health-1", "x", False),
    ("https://x.com/a", "unknown-platform", False),
    ("https://x.com/a\nb", "x", False),
])
def test_links_to_originals(url, platform, ok):
    assert (safe_url(url, platform) == url) is ok


def test_an_x_post_without_a_safe_url_links_to_its_id():
    assert post_url("x", "javascript:alert(1)", "123") == "https://x.com/i/web/status/123"
    assert post_url("x", None, "12ab") is None
    assert post_url("rss", "javascript:alert(1)", "guid") is None
