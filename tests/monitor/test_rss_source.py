"""Tests for the RSS/Atom source against a real HTTP server on 127.0.0.1.

The server serves the documents in ``tests/fixtures/feeds/`` with ETag and
Last-Modified, answers conditional requests with 304, and has routes for
status codes, redirects, a slow answer and a body without Content-Length.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest

from monitor.items import ARTICLE, Batch
from monitor.sources.rss import (
    FeedConfig,
    RSSSource,
    canonical_url,
    check_feed_url,
    feed_item_to_post,
    html_to_text,
    parse_feed_bytes,
)

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
LAST_MODIFIED = "Fri, 12 Apr 2024 09:30:00 GMT"

pytestmark = pytest.mark.timeout(30)


# --------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    server: "_FeedServer"

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              length: bool = True) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _file(self, name: str) -> bytes | None:
        for root in (self.server.dyn_dir, FEEDS):
            if root is not None and (root / name).is_file():
                return (root / name).read_bytes()
        return None

    def _route(self) -> None:
        parts = self.path.lstrip("/").split("/", 1)
        kind, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        if kind == "status":
            self._send(int(rest), b"<html><body>nope</body></html>", {"Content-Type": "text/html"})
            return
        if kind == "slow":
            time.sleep(2.0)
            self._send(200, b"<rss/>", {"Content-Type": "application/rss+xml"})
            return
        if kind == "moved":
            self._send(301, headers={"Location": f"/feeds/{rest}"})
            return
        if kind == "found":
            self._send(302, headers={"Location": f"/feeds/{rest}"})
            return
        body = self._file(rest)
        if body is None:
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        if kind == "feeds":  # a well-behaved server: validators and 304
            ctype = "text/html; charset=utf-8" if rest.endswith(".html") else "application/rss+xml; charset=utf-8"
            if rest == "latin1.xml":
                ctype = "application/rss+xml"
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            headers = {"Content-Type": ctype, "ETag": etag, "Last-Modified": LAST_MODIFIED}
            if self.headers.get("If-None-Match") == etag:
                self._send(304, headers={"ETag": etag})
                return
            self._send(200, body, headers)
        elif kind == "text-xml":  # text/xml without a charset (RFC 3023 says us-ascii)
            self._send(200, body, {"Content-Type": "text/xml"})
        elif kind == "dyn":  # no validators: always 200
            self._send(200, body, {"Content-Type": "application/xml"})
        elif kind == "nolength":  # HTTP/1.0, body ends when the connection closes
            self._send(200, body, {"Content-Type": "application/xml"}, length=False)
        else:
            self._send(404, b"no such route", {"Content-Type": "text/plain"})


class _FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.dyn_dir: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def seen(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p == path]


@pytest.fixture(scope="module")
def _server_module():
    server = _FeedServer()
    thread = threading.Thread(target=server.serve_forever, name="feed-server", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def server(_server_module, tmp_path):
    _server_module.requests.clear()
    _server_module.dyn_dir = tmp_path
    yield _server_module
    _server_module.dyn_dir = None


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _collect(feeds: list[FeedConfig], cursor=None, **kw) -> list[Batch]:
    kw.setdefault("allow_hosts", ["127.0.0.1"])  # the test server's host, allowed explicitly
    src = RSSSource(feeds, **kw)
    try:
        return list(src.collect(cursor))
    finally:
        src.close()


def _by_title(batch: Batch):
    return {p.title: p for p in batch.posts}


# --------------------------------------------------------------------------- items


def test_rss_items_fields(server):
    url = f"{server.base}/feeds/health_rss.xml"
    [batch] = _collect([FeedConfig("health-news", url)])
    assert batch.source == "rss"
    assert batch.errors == [] and batch.gaps == []
    posts = _by_title(batch)
    assert len(posts) == 3

    measles = posts["Measles cases rise as vaccination rates fall in London"]
    assert measles.platform == "rss" and measles.kind == ARTICLE
    assert measles.platform_id == "https://news.example.org/health/2024/04/12/measles-cases-rise"
    # utm_* and the fragment dropped, the real query parameter kept
    assert measles.url == "https://news.example.org/health/2024/04/12/measles-cases-rise?id=77"
    assert measles.created_at == datetime(2024, 4, 12, 7, 15, tzinfo=timezone.utc)  # 08:15 +0100
    assert measles.created_at.utcoffset().total_seconds() == 0
    assert measles.source == "health-news"
    assert measles.lang == "en"
    assert measles.text.startswith("Measles cases rise as vaccination rates fall in London\n\n")
    assert "children\u2019s MMR records & book catch-up jabs." in measles.text
    assert "<" not in measles.text and "&amp;" not in measles.text and "&#8217;" not in measles.text
    assert "trackReader" not in measles.text
    assert measles.links == [measles.url, "https://www.nhs.uk/conditions/measles/"]
    assert measles.extra["categories"] == ["Vaccination", "Public health"]

    gp = posts["GP appointment waits: what the new figures show"]
    # content:encoded is preferred over the shorter description
    assert "Costs rose to \u00a31.2bn." in gp.text
    assert "up from 1 in 8" in gp.text and "\u2014" in gp.text
    assert "color: red" not in gp.text and "document.write" not in gp.text
    assert "https://digital.example.gov.uk/data/gp-appointments?year=2024" in gp.links  # fbclid dropped
    # a bare guid is only unique within its feed: qualified with the feed's host
    host = server.base.removeprefix("http://")
    assert gp.platform_id == f"{host}#hn-2024-0411-gp"

    sugar = posts["Editorial: the case for a sugar tax review"]
    assert sugar.platform_id == "urn:uuid:8d4a3e0e-5b7f-4c2b-9a51-2f1f5b0c9e11"
    assert sugar.created_at == datetime(2024, 4, 10, 10, 0, tzinfo=timezone.utc)  # 06:00 -0400
    assert sugar.text.endswith("A short plain-text summary with an ampersand & nothing else.")

    accounts = {a.platform_id: a for a in batch.accounts}
    assert set(accounts) == {f"{host}/jane-o-neill", f"{host}/sam-patel", host}
    assert measles.author_id == f"{host}/jane-o-neill" and gp.author_id == f"{host}/sam-patel"
    jane = accounts[f"{host}/jane-o-neill"]
    assert (jane.platform, jane.handle, jane.name) == ("rss", "Jane O'Neill", "Jane O'Neill")
    assert jane.url == "https://news.example.org/health"
    feed_acc = accounts[host]  # the editorial has no author: written by the feed itself
    assert sugar.author_id == host
    assert feed_acc.handle == "Health News Daily" and feed_acc.url == "https://news.example.org/health"

    # the whole batch (cursor included) crosses Celery as JSON
    again = Batch.from_dict(json.loads(json.dumps(batch.to_dict())))
    assert [p.key for p in again.posts] == [p.key for p in batch.posts]
    assert again.posts[0].created_at == batch.posts[0].created_at


def test_atom_feed_links_authors_and_dates(server):
    [batch] = _collect([FeedConfig("policy-watch", f"{server.base}/feeds/atom.xml")])
    assert batch.errors == []
    posts = {p.platform_id: p for p in batch.posts}
    post = posts["tag:blog.example.net,2024:post-412"]
    # rel=alternate (not the enclosure or replies link), resolved against xml:base;
    # utm_source and gclid dropped, ref kept, fragment dropped
    assert post.url == "https://blog.example.net/nhs/posts/waiting-lists-winter?ref=home"
    assert post.title == "Waiting lists & the winter plan"  # type="html" title unescaped
    assert post.created_at == datetime(2024, 4, 12, 3, 30, tzinfo=timezone.utc)  # published 22:30 -05:00
    assert post.extra["updated_at"] == "2024-04-12T07:00:00+00:00"
    assert post.text == "Waiting lists & the winter plan\n\nThe waiting list data shows a rise.\nSee also last winter."
    assert post.links == [post.url, "https://blog.example.net/nhs/data/waiting-2024.csv",
                          "https://blog.example.net/nhs/related/winter-2023"]
    assert post.lang == "en"
    host = server.base.removeprefix("http://")
    assert post.author_id == f"{host}/dr-amira-khan"

    no_author = posts["tag:blog.example.net,2024:post-413"]
    assert no_author.url == "https://blog.example.net/nhs/posts/no-author"
    assert no_author.created_at == datetime(2024, 4, 12, 10, 0, tzinfo=timezone.utc)  # only <updated>
    assert no_author.text == "No-author post\n\nAn XHTML body."
    feed_account = next(a for a in batch.accounts if a.platform_id == no_author.author_id)
    assert feed_account.handle == "NHS Policy Watch"
    assert feed_account.url == "https://blog.example.net/nhs/"
    assert feed_account.description == "Analysis of health policy"


def test_rss_without_guids_gets_stable_ids(server):
    url = f"{server.base}/feeds/noguid_rss.xml"
    [first] = _collect([FeedConfig("council", url)])
    [second] = _collect([FeedConfig("council", url)])  # no cursor: all entries again
    posts = _by_title(first)
    flu = posts["Flu clinic opening hours"]
    assert flu.platform_id == "http://council.example.com/health/notices/flu-clinic?page=2"  # mc_cid dropped
    water = posts["Water quality advice"]  # no guid, no link: hash of title and date
    assert water.platform_id.startswith("sha1:") and len(water.platform_id) == 45
    assert water.url is None and water.links == []
    assert [p.platform_id for p in first.posts] == [p.platform_id for p in second.posts]


# --------------------------------------------------------------------------- cursor


def test_conditional_get_304_keeps_cursor(server):
    feed = FeedConfig("health-news", f"{server.base}/feeds/health_rss.xml")
    [first] = _collect([feed])
    state = first.cursor["feeds"]["health-news"]
    assert state["etag"] and state["modified"] == LAST_MODIFIED
    assert len(state["seen"]) == 3 and state["last_error"] is None
    assert server.seen("/feeds/health_rss.xml")[0].get("if-none-match") is None

    [second] = _collect([feed], cursor=first.cursor)
    sent = server.seen("/feeds/health_rss.xml")[1]
    assert sent["if-none-match"] == state["etag"]
    assert sent["if-modified-since"] == LAST_MODIFIED
    assert second.posts == [] and second.accounts == []
    assert second.errors == [] and second.gaps == []
    again = second.cursor["feeds"]["health-news"]
    assert again["etag"] == state["etag"] and again["modified"] == state["modified"]
    assert again["seen"] == state["seen"]
    assert again["last_ok"] >= state["last_ok"]
    assert first.cursor["feeds"]["health-news"] == state  # the earlier cursor was not mutated


def test_seen_entries_not_sent_again(server, tmp_path):
    """A server without validators answers 200 each time; only new entries are yielded."""
    doc = (FEEDS / "health_rss.xml").read_text(encoding="utf-8")
    (tmp_path / "live.xml").write_text(doc, encoding="utf-8")
    feed = FeedConfig("live", f"{server.base}/dyn/live.xml")
    [first] = _collect([feed])
    assert len(first.posts) == 3
    [same] = _collect([feed], cursor=first.cursor)
    assert same.posts == [] and same.accounts == [] and same.errors == []

    new_item = """<item><title>New: hay fever season starts early</title>
      <link>https://news.example.org/health/2024/04/13/hay-fever</link>
      <guid>https://news.example.org/health/2024/04/13/hay-fever</guid>
      <pubDate>Sat, 13 Apr 2024 06:00:00 GMT</pubDate><dc:creator>Jane O'Neill</dc:creator>
      <description>Pollen counts are high.</description></item>"""
    (tmp_path / "live.xml").write_text(doc.replace("<item>", new_item + "\n<item>", 1), encoding="utf-8")
    [third] = _collect([feed], cursor=same.cursor)
    assert [p.title for p in third.posts] == ["New: hay fever season starts early"]
    assert [a.handle for a in third.accounts] == ["Jane O'Neill"]
    assert third.cursor["feeds"]["live"]["seen"][0] == "https://news.example.org/health/2024/04/13/hay-fever"
    assert len(third.cursor["feeds"]["live"]["seen"]) == 4


def test_each_batch_carries_the_whole_cursor(server):
    feeds = [FeedConfig("a", f"{server.base}/feeds/health_rss.xml"),
             FeedConfig("b", f"{server.base}/feeds/atom.xml")]
    old = {"feeds": {"gone": {"seen": ["x"], "etag": None, "modified": None}}}
    first, second = _collect(feeds, cursor=old)
    assert set(first.cursor["feeds"]) == {"gone", "a"}
    assert set(second.cursor["feeds"]) == {"gone", "a", "b"}
    assert old == {"feeds": {"gone": {"seen": ["x"], "etag": None, "modified": None}}}


# --------------------------------------------------------------------------- bad feeds


def test_malformed_feeds_reported_while_others_go_on(server):
    names = ["good-rss", "truncated", "html-page", "empty", "good-atom"]
    files = ["health_rss.xml", "truncated.xml", "html_page.html", "empty.xml", "atom.xml"]
    feeds = [FeedConfig(n, f"{server.base}/feeds/{f}") for n, f in zip(names, files)]
    batches = _collect(feeds)
    by_name = dict(zip(names, batches))
    assert len(by_name["good-rss"].posts) == 3 and by_name["good-rss"].errors == []
    assert len(by_name["good-atom"].posts) == 2 and by_name["good-atom"].errors == []

    expected = {
        "truncated": "not a valid RSS/Atom feed: the document ends early (truncated?): no element found (line 7)",
        "html-page": "not a valid RSS/Atom feed: got an HTML page (Content-Type: text/html; charset=utf-8), "
                     "not RSS or Atom",
        "empty": "not a valid RSS/Atom feed: the document is empty (0 bytes)",
    }
    for name, reason in expected.items():
        batch = by_name[name]
        url = dict(zip(names, files))[name]
        assert batch.posts == []
        assert batch.errors == [f"feed '{name}' ({server.base}/feeds/{url}): {reason}"]
        [gap] = batch.gaps
        assert gap.reason == "error" and gap.source == "rss" and name in gap.detail
        state = batch.cursor["feeds"][name]
        assert state["last_error"] == batch.errors[0]
        assert state["etag"] is None and state["last_ok"] is None  # refetched, and reported, next time
    assert by_name["good-atom"].cursor["feeds"]["truncated"]["last_error"]


def test_bozo_feed_with_entries_keeps_them_with_a_warning(server):
    [batch] = _collect([FeedConfig("bulletin", f"{server.base}/feeds/bad_entity.xml")])
    [post] = batch.posts
    assert post.title == "R\u00e9sum\u00e9 of the week in health"  # &nbsp; read, as a plain space
    assert post.text.endswith("Vaccination update \u2013 see inside.")
    assert post.lang == "fr"
    assert post.author_id.endswith("/marie-dubois")  # "email (Name)" gives the name
    assert batch.errors == [f"feed 'bulletin' ({server.base}/feeds/bad_entity.xml): warning: the feed is not "
                            "well-formed XML (undefined entity (line 4)); 1 entry read anyway"]
    assert batch.gaps == []
    assert batch.cursor["feeds"]["bulletin"]["etag"]  # it worked: validators kept


def test_truncated_feed_keeps_complete_entries_drops_the_cut_one():
    data = (FEEDS / "health_rss.xml").read_bytes()
    cut = data[: data.index(b"<title>Editorial") + 20]
    batch = parse_feed_bytes(cut, "health-news", "https://feeds.example.org/health/rss.xml")
    assert [p.title for p in batch.posts] == ["Measles cases rise as vaccination rates fall in London",
                                              "GP appointment waits: what the new figures show"]
    [warning] = batch.errors
    assert warning.startswith("feed 'health-news' (https://feeds.example.org/health/rss.xml): warning:")
    assert "no element found (line 35)" in warning and "the last, incomplete entry dropped" in warning


@pytest.mark.parametrize("path, message", [
    ("/status/404", "HTTP 404 Not Found"),
    ("/status/500", "HTTP 500 Internal Server Error"),
    ("/status/410", "feed has been removed (HTTP 410 Gone); take it out of the configuration"),
])
def test_http_errors_reported_per_feed(server, path, message):
    feeds = [FeedConfig("broken", server.base + path), FeedConfig("ok", f"{server.base}/feeds/atom.xml")]
    broken, ok = _collect(feeds)
    assert broken.errors == [f"feed 'broken' ({server.base}{path}): {message}"]
    assert broken.posts == [] and [g.reason for g in broken.gaps] == ["error"]
    assert broken.cursor["feeds"]["broken"]["last_error"] == broken.errors[0]
    assert len(ok.posts) == 2 and ok.errors == []


def test_connection_refused_and_timeout(server, closed_port):
    feeds = [FeedConfig("refused", f"http://127.0.0.1:{closed_port}/feed.xml"),
             FeedConfig("slow", f"{server.base}/slow"),
             FeedConfig("ok", f"{server.base}/feeds/atom.xml")]
    started = time.monotonic()
    refused, slow, ok = _collect(feeds, timeout=0.3)
    assert time.monotonic() - started < 1.8  # did not wait for the slow server's 2 s
    assert refused.errors == [f"feed 'refused' (http://127.0.0.1:{closed_port}/feed.xml): connection refused"]
    assert slow.errors == [f"feed 'slow' ({server.base}/slow): timed out after 0.3 s"]
    for batch in (refused, slow):
        assert batch.posts == [] and [g.reason for g in batch.gaps] == ["error"]
    assert len(ok.posts) == 2


def test_permanent_redirect_followed_with_hint(server):
    [batch] = _collect([FeedConfig("moved", f"{server.base}/moved/health_rss.xml")])
    assert len(batch.posts) == 3
    assert batch.errors == [f"feed 'moved' ({server.base}/moved/health_rss.xml): moved permanently to "
                            f"{server.base}/feeds/health_rss.xml; update config"]
    assert batch.gaps == []
    [temporary] = _collect([FeedConfig("found", f"{server.base}/found/health_rss.xml")])
    assert len(temporary.posts) == 3 and temporary.errors == []  # a 302 needs no config change


@pytest.mark.parametrize("url, why", [
    ("file:///etc/passwd", "only http and https URLs are fetched, not 'file:'"),
    ("ftp://ftp.example.org/feed.xml", "only http and https URLs are fetched, not 'ftp:'"),
    ("feeds/health.xml", "not an absolute http(s) URL"),
    ("http:///feed.xml", "the URL has no host"),
])
def test_non_http_urls_refused(server, url, why):
    [batch] = _collect([FeedConfig("local", url)])
    assert batch.errors == [f"feed 'local' ({url}): refused to fetch: {why}"]
    assert batch.posts == [] and batch.gaps[0].reason == "error"
    assert check_feed_url(url) == why
    assert server.requests == []


def test_size_cap(server):
    url = f"{server.base}/feeds/huge.xml"
    [whole] = _collect([FeedConfig("big", url)])
    assert len(whole.posts) == 160 and whole.errors == []  # the document itself is fine
    size = (FEEDS / "huge.xml").stat().st_size
    [capped] = _collect([FeedConfig("big", url)], max_bytes=20_000)
    assert capped.errors == [f"feed 'big' ({url}): feed is too large: {size:,} bytes, the limit is 20,000"]
    assert capped.posts == [] and capped.gaps[0].reason == "error"
    streamed = f"{server.base}/nolength/huge.xml"  # no Content-Length: counted while reading
    [capped] = _collect([FeedConfig("big", streamed)], max_bytes=20_000)
    assert capped.errors == [f"feed 'big' ({streamed}): feed is too large: more than 20,000 bytes"]


def test_user_agent_and_accept_sent(server):
    _collect([FeedConfig("ua", f"{server.base}/feeds/atom.xml")], user_agent="Earshot-test/9")
    [headers] = server.seen("/feeds/atom.xml")
    assert headers["user-agent"] == "Earshot-test/9"
    assert "application/rss+xml" in headers["accept"]


def test_duplicate_feed_names_rejected():
    with pytest.raises(ValueError, match="listed more than once: a"):
        RSSSource([FeedConfig("a", "https://x.example/1"), FeedConfig("a", "https://x.example/2")])


# --------------------------------------------------------------------------- encodings


def test_iso_8859_1_feed_over_http(server):
    """Declared encoding="ISO-8859-1", served as text/xml without a charset (common in the wild)."""
    [batch] = _collect([FeedConfig("pharmacy", f"{server.base}/text-xml/latin1.xml")])
    [post] = batch.posts
    assert post.title == "Prescription charge rises to \u00a39.90"
    assert "(\u00a30.25)" in post.text and "caf\u00e9 pharmacy" in post.text
    assert batch.errors == []  # text/xml without charset is not second-guessed as us-ascii


def test_iso_8859_1_bytes_with_wrong_charset_header_warns_but_reads():
    data = (FEEDS / "latin1.xml").read_bytes()
    assert b"\xa39.90" in data  # really latin-1 on disk
    batch = parse_feed_bytes(data, "pharmacy", content_type="text/xml; charset=utf-8")
    assert batch.posts[0].title == "Prescription charge rises to \u00a39.90"
    assert batch.errors == ["feed 'pharmacy': warning: character encoding: document declared as utf-8, "
                            "but parsed as iso-8859-1; 1 entry read anyway"]


# --------------------------------------------------------------------------- offline pieces


def test_parse_feed_bytes_offline():
    data = (FEEDS / "health_rss.xml").read_bytes()
    when = datetime(2024, 4, 12, 12, 0, tzinfo=timezone.utc)
    batch = parse_feed_bytes(data, "health_rss.xml", fetched_at=when, source="import")
    assert batch.source == "import" and batch.fetched_at == when and batch.errors == []
    assert len(batch.posts) == 3
    # without a URL the feed's own rel=self link names its host
    assert {a.platform_id for a in batch.accounts} == {
        "feeds.example.org/jane-o-neill", "feeds.example.org/sam-patel", "feeds.example.org"}
    assert all(p.source == "health_rss.xml" for p in batch.posts)

    for name in ("truncated.xml", "html_page.html", "empty.xml"):
        bad = parse_feed_bytes((FEEDS / name).read_bytes(), name)
        assert bad.posts == [] and len(bad.errors) == 1
        assert bad.errors[0].startswith(f"feed '{name}': not a valid RSS/Atom feed: ")
        assert bad.gaps[0].reason == "error" and bad.gaps[0].source == "rss"


def test_undated_entry_falls_back_to_fetch_time_and_relative_links_resolve():
    doc = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Trust news</title>
      <link>/news/</link>
      <item><title>Visiting hours change</title><link>/news/visiting?utm_medium=rss</link>
      <description>&lt;a href="../docs/visiting.pdf"&gt;Details&lt;/a&gt;
        &lt;a href="mailto:pals@trust.example.nhs.uk"&gt;PALS&lt;/a&gt;</description></item>
      </channel></rss>"""
    when = datetime(2024, 4, 14, 8, 0, tzinfo=timezone.utc)
    batch = parse_feed_bytes(doc, "trust", "https://www.trust.example.nhs.uk/feeds/news.rss", fetched_at=when)
    [post] = batch.posts
    assert post.created_at == when and post.extra["date_from"] == "fetched"
    assert post.url == "https://www.trust.example.nhs.uk/news/visiting"
    assert post.links == [post.url, "https://www.trust.example.nhs.uk/docs/visiting.pdf"]  # no mailto:
    assert batch.accounts[0].url == "https://www.trust.example.nhs.uk/news/"


def test_feed_item_to_post_accepts_result_or_feed_part():
    data = (FEEDS / "atom.xml").read_bytes()
    result = feedparser.parse(io.BytesIO(data),
                              response_headers={"content-location": "https://blog.example.net/nhs/atom.xml"})
    post, account = feed_item_to_post(result.entries[0], result, "policy-watch")
    post2, account2 = feed_item_to_post(result.entries[0], result.feed, "policy-watch",
                                        feed_url="https://blog.example.net/nhs/atom.xml")
    assert post == post2 and account == account2
    assert account.platform_id == "blog.example.net/dr-amira-khan"
    assert post.platform_id == "tag:blog.example.net,2024:post-412"


def test_html_to_text():
    html = ("<div><h2>Heading</h2><p>Line&nbsp;one &amp; <b>bold</b> &lt;tag&gt; &eacute;</p>"
            "<script>var x = '<p>not text</p>';</script><style>.a{}</style>"
            "<ul><li>first</li><li>second</li></ul>A<br>B<br/>C"
            "<noscript><img src=x>tracking</noscript><p>end &#x2014; &#8220;q&#8221;</p></div>")
    assert html_to_text(html) == ("Heading\nLine one & bold <tag> \u00e9\nfirst\nsecond\nA\nB\nC\n"
                                  "end \u2014 \u201cq\u201d")
    assert html_to_text("") == ""
    assert html_to_text("<p>unclosed <script>alert(1)") == "unclosed"


@pytest.mark.parametrize("url, base, expected", [
    ("https://ex.org/a?utm_source=rss&utm_medium=x&id=7#frag", None, "https://ex.org/a?id=7"),
    ("HTTPS://Ex.ORG:443/a", None, "https://ex.org/a"),
    ("http://ex.org:8080", None, "http://ex.org:8080/"),
    ("https://www.bbc.co.uk/news/articles/c1?at_medium=RSS&at_campaign=rss", None,
     "https://www.bbc.co.uk/news/articles/c1"),
    ("https://ex.org/s?q=a%20b&fbclid=1&page=2", None, "https://ex.org/s?q=a%20b&page=2"),
    ("posts/1?ref=home", "https://ex.org/blog/feed.xml", "https://ex.org/blog/posts/1?ref=home"),
    ("javascript:alert(1)", None, None),
    ("mailto:a@ex.org", None, None),
    ("", None, None),
])
def test_canonical_url(url, base, expected):
    assert canonical_url(url, base) == expected
