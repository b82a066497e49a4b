"""RSS and Atom news feeds as a source.

:class:`RSSSource` fetches each configured feed itself with :mod:`requests`
(timeouts, a size cap, http/https only, conditional GET with the stored ETag and
Last-Modified) and hands the bytes to :func:`feedparser.parse`, which does the
parsing. Each entry becomes an ``article`` :class:`~monitor.items.Post` written
by an :class:`~monitor.items.Account` (the entry's author, or the feed itself).

Only the feed URLs from the configuration are ever fetched; links inside
entries are recorded, never followed.

:func:`parse_feed_bytes` turns a feed document already in hand (a file given to
``earshot import``) into a :class:`~monitor.items.Batch` without any network.

Cursor
------
``{"feeds": {feed_name: {...}}}`` where each feed's state holds

``url``        the configured URL the state belongs to (validators are dropped when it changes)
``etag``       the last ``ETag`` the server sent, for ``If-None-Match``
``modified``   the last ``Last-Modified``, for ``If-Modified-Since``
``seen``       platform ids of recently seen entries, newest feed order first
``last_ok``    ISO time of the last successful fetch (200 or 304)
``last_attempt`` ISO time of the last fetch, successful or not
``last_error`` the last problem's message, ``None`` after a success
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import feedparser
import requests

from monitor.items import ARTICLE, Account, Batch, Gap, Post, parse_time
from monitor.sources.guard import GuardedSession, RefusedAddress

PLATFORM = "rss"

DEFAULT_USER_AGENT = "Earshot/0.1 (+health department media monitoring)"

#: How many entry ids a feed's cursor remembers (at least every entry of the last fetch).
SEEN_LIMIT = 500

#: Post text longer than this (title plus body) is cut, and ``extra["text_truncated"]`` set.
MAX_TEXT_CHARS = 20_000

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"

# Query parameters that only track the reader; dropped from canonical links.
# Keys starting with "utm_" are dropped too. Compared in lower case.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
    "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "li_fat_id",
    "oly_enc_id", "oly_anon_id", "vero_id", "vero_conv", "wickedid", "rb_clickid", "s_cid",
    "cmpid", "cmp", "ocid", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee",
    "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
    "at_link", "at_format", "at_bbc_team", "at_ptr_name", "at_link_origin", "at_link_type", "at_link_id",
    "ref_src", "ref_url", "feature", "xtor", "sr_share", "spm",
})

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class FeedConfig:
    """One configured feed.

    Parameters
    ----------
    name : str
        Unique name of the feed (``bbc-health``); used in messages, ``Post.source`` and the cursor.
    url : str
        The feed's http(s) URL.
    interval : int
        Seconds between polls. :meth:`RSSSource.collect` fetches every feed it is given each time it
        runs; the scheduler uses ``interval`` to decide when to run it.
    """

    name: str
    url: str
    interval: int = 900  # seconds


# --------------------------------------------------------------------------- URLs


def check_feed_url(url: str) -> str | None:
    """Return why ``url`` may not be fetched as a feed, or ``None`` when it may.

    Only absolute ``http`` and ``https`` URLs with a host are fetched: ``file:``,
    ``ftp:``, ``data:`` and the rest are refused.

    Examples
    --------
    >>> check_feed_url("https://feeds.bbci.co.uk/news/health/rss.xml") is None
    True
    >>> check_feed_url("file:///etc/passwd")
    "only http and https URLs are fetched, not 'file:'"
    """
    try:
        parts = urlsplit(url.strip())
    except (AttributeError, ValueError) as exc:
        return f"not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        if not parts.scheme:
            return "not an absolute http(s) URL"
        return f"only http and https URLs are fetched, not '{parts.scheme}:'"
    if not parts.hostname:
        return "the URL has no host"
    return None


def display_url(url: str | None) -> str:
    """``url`` with any password removed, for messages and logs."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit((parts.scheme, f"{user}:***@{netloc}", parts.path, parts.query, parts.fragment))
    except ValueError:
        return url


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """The canonical form of a link found in a feed, or ``None`` when it is not an http(s) link.

    Resolves ``url`` against ``base``; lower-cases scheme and host; drops the default port,
    the fragment, ``utm_*`` and the other :data:`TRACKING_PARAMS`. The remaining query is kept
    byte for byte in its order.

    Examples
    --------
    >>> canonical_url("HTTPS://News.Example.org:443/a?utm_source=rss&id=7#comments")
    'https://news.example.org/a?id=7'
    >>> canonical_url("../b", base="https://example.org/x/feed.xml")
    'https://example.org/b'
    >>> canonical_url("mailto:press@example.org") is None
    True
    """
    if not url:
        return None
    url = url.strip()
    try:
        if base:
            url = urljoin(base, url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        host = parts.hostname.lower()
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal
        return None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username:  # keep credentials if someone put them there; rare in article links
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
    kept = []
    for pair in parts.query.split("&"):
        if not pair:
            continue
        key = unquote_plus(pair.split("=", 1)[0]).lower()
        if key.startswith("utm_") or key in TRACKING_PARAMS:
            continue
        kept.append(pair)
    return urlunsplit((scheme, netloc, parts.path or "/", "&".join(kept), ""))


def _host_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host:
            return None
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        return f"{host}:{port}"
    return host


# --------------------------------------------------------------------------- HTML to text

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title", "iframe",
                        "object", "embed", "svg", "math", "select", "button", "canvas"})
_BLOCK_TAGS = frozenset({"p", "div", "br", "hr", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3",
                         "h4", "h5", "h6", "blockquote", "pre", "table", "tr", "section", "article",
                         "header", "footer", "aside", "nav", "figure", "figcaption", "address",
                         "main", "details", "summary", "form", "fieldset"})
_CELL_TAGS = frozenset({"td", "th"})
_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                        "param", "source", "track", "wbr"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


class _TextExtractor(HTMLParser):
    """Collects the readable text and the ``<a href>`` targets of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hrefs: list[str] = []
        self.skip_depth = 0
        self.skip_stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self.skip_stack.append(tag)
            return
        if self.skip_stack:
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")
        if tag == "a":
            for name, value in attrs:
                if name == "href" and value:
                    self.hrefs.append(value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <script/>: never opens anything that needs closing
        if tag in _SKIP_TAGS or self.skip_stack:
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_stack:
            if tag in self.skip_stack:
                # close up to the matching open tag (tolerates unclosed inner tags)
                while self.skip_stack and self.skip_stack.pop() != tag:
                    pass
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_stack:
            self.parts.append(data)

    def text(self) -> str:
        lines = []
        for line in "".join(self.parts).split("\n"):
            line = _SPACES.sub(" ", line).strip()
            if line:
                lines.append(line)
        return "\n".join(lines)


def _html_text_and_links(html: str) -> tuple[str, list[str]]:
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:  # very old Pythons raised on odd markup; keep what we have
        pass
    return parser.text(), parser.hrefs


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags removed, entities unescaped, script/style dropped.

    Block elements (``p``, ``br``, ``li``, headings...) become line breaks; runs of spaces
    collapse to one.

    Examples
    --------
    >>> html_to_text("<p>Costs rose to &pound;1.2bn &amp; more.</p><script>x()</script><p>Next</p>")
    'Costs rose to £1.2bn & more.\\nNext'
    """
    return _html_text_and_links(html or "")[0]


# --------------------------------------------------------------------------- entries


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict) and key in ("updated", "updated_parsed"):
        # feedparser maps a missing "updated" to "published" (with a DeprecationWarning); we want
        # to know whether the entry really has an updated date
        value = dict.get(obj, key, default)
        return default if value is None else value
    try:
        value = obj.get(key, default)
    except AttributeError:
        value = getattr(obj, key, default)
    return default if value is None else value


def _detail_text(entry: Any, key: str) -> str:
    """Plain text of a feedparser text construct (``title``, ``summary``), whatever its type."""
    value = _get(entry, key, "")
    if not value:
        return ""
    detail = _get(entry, f"{key}_detail", {}) or {}
    kind = (_get(detail, "type", "") or "").lower()
    if kind == "text/plain":
        return _SPACES.sub(" ", value).strip()
    return html_to_text(value)


def _body(entry: Any) -> tuple[str, list[str]]:
    """The entry's body as text, and the links in it: the fullest content, else the summary."""
    candidates: list[tuple[str, str]] = []
    for item in _get(entry, "content", []) or []:
        value = _get(item, "value", "")
        if value:
            candidates.append((value, (_get(item, "type", "") or "").lower()))
    summary = _get(entry, "summary", "")
    if summary:
        stype = (_get(_get(entry, "summary_detail", {}) or {}, "type", "") or "").lower()
        candidates.append((summary, stype))
    best_text, best_links = "", []
    for value, kind in candidates:
        if kind == "text/plain":
            text, links = _SPACES.sub(" ", value).strip(), []
        else:
            text, links = _html_text_and_links(value)
        if len(text) > len(best_text):
            best_text, best_links = text, links
    return best_text, best_links


def _alternate_link(entry: Any) -> str | None:
    """The entry's own page: feedburner's original link, else rel=alternate (HTML first), else ``link``."""
    orig = _get(entry, "feedburner_origlink")
    if orig:
        return orig
    alternates = [ln for ln in (_get(entry, "links", []) or [])
                  if (_get(ln, "rel", "alternate") or "alternate") == "alternate" and _get(ln, "href")]
    for ln in alternates:
        if (_get(ln, "type", "") or "").lower() in ("text/html", "application/xhtml+xml"):
            return _get(ln, "href")
    if alternates:
        return _get(alternates[0], "href")
    return _get(entry, "link") or None


def _struct_to_utc(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime(*tuple(value)[:6], tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def _slug(name: str) -> str:
    slug = re.sub(r"[\W_]+", "-", name.lower(), flags=re.UNICODE).strip("-")
    return slug or hashlib.sha1(name.encode("utf-8")).hexdigest()[:12]


def _lang(code: Any) -> str | None:
    """Primary language subtag in lower case: ``en-GB`` -> ``en``."""
    if not code or not isinstance(code, str):
        return None
    primary = re.split(r"[-_]", code.strip(), maxsplit=1)[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _feed_meta(feed: Any) -> tuple[Any, Mapping[str, Any]]:
    """Split what callers pass as ``feed``: a whole feedparser result, or its ``.feed`` part."""
    if isinstance(feed, Mapping) and ("entries" in feed or "bozo" in feed) and "feed" in feed:
        return feed["feed"], feed.get("headers", {}) or {}
    return feed or {}, {}


def _feed_host(meta: Any, feed_url: str | None, feed_name: str) -> str:
    """The host naming this feed: its URL's host, else its rel=self link's, else its site's, else its name."""
    host = _host_of(feed_url)
    if host:
        return host
    for ln in _get(meta, "links", []) or []:
        if _get(ln, "rel") == "self":
            host = _host_of(_get(ln, "href"))
            if host:
                return host
    return _host_of(_get(meta, "link")) or feed_name


def _entry_id(entry: Any, link: str | None, title: str, feed_host: str) -> str:
    guid = (_get(entry, "id", "") or "").strip()
    if guid:
        # URIs (http:, tag:, urn:) are globally unique; a bare "12345" is unique only within
        # its feed, so it is qualified with the feed's host.
        return guid if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", guid) else f"{feed_host}#{guid}"
    if link:
        return link
    stamp = _get(entry, "published", "") or _get(entry, "updated", "")
    digest = hashlib.sha1(f"{title}\n{stamp}".encode("utf-8")).hexdigest()
    return f"sha1:{digest}"


def feed_item_to_post(entry: Any, feed: Any, feed_name: str, *, feed_url: str | None = None,
                      fetched_at: datetime | None = None) -> tuple[Post, Account]:
    """Turn one feedparser entry into an article :class:`Post` and the :class:`Account` that wrote it.

    Parameters
    ----------
    entry : feedparser.FeedParserDict
        One item of ``result.entries``.
    feed : feedparser.FeedParserDict
        The whole ``feedparser.parse`` result, or just its ``.feed`` part.
    feed_name : str
        The configured feed name; becomes ``Post.source``.
    feed_url : str, optional
        Where the feed was fetched from: resolves relative links and names the feed's host.
        When the whole parse result is given, its ``Content-Location`` is used by default.
    fetched_at : datetime, optional
        Used as ``created_at`` when the entry has no date (``extra["date_from"] == "fetched"``).
        Defaults to now.

    Returns
    -------
    (Post, Account)
        ``Post.platform_id`` is the entry's guid/id (qualified with the feed host when it is not a
        URI), else its canonical link, else ``sha1:`` of title and date. The account is
        ``{feed_host}/{author-slug}`` for a named author, else ``{feed_host}`` for the feed itself.
    """
    meta, headers = _feed_meta(feed)
    if feed_url is None:
        feed_url = headers.get("content-location") or None
    fetched_at = fetched_at or datetime.now(timezone.utc)
    feed_host = _feed_host(meta, feed_url, feed_name)
    feed_title = _detail_text(meta, "title") or feed_name
    site = canonical_url(_get(meta, "link"), feed_url)

    title = _detail_text(entry, "title")
    body, body_links = _body(entry)
    link_base = feed_url
    url = canonical_url(_alternate_link(entry), link_base)

    text = f"{title}\n\n{body}" if title and body else (title or body)
    extra: dict[str, Any] = {"feed": feed_name}
    if feed_url:
        extra["feed_url"] = display_url(feed_url)
    if len(text) > MAX_TEXT_CHARS:
        text = text[: MAX_TEXT_CHARS - 1].rstrip() + "…"
        extra["text_truncated"] = True

    links: list[str] = []
    for href in ([url] if url else []) + [canonical_url(h, url or link_base) for h in body_links]:
        if href and href not in links:
            links.append(href)

    created = _struct_to_utc(_get(entry, "published_parsed")) or _struct_to_utc(_get(entry, "updated_parsed"))
    if created is None:
        created = fetched_at
        extra["date_from"] = "fetched"
    updated = _struct_to_utc(_get(entry, "updated_parsed"))
    if updated and updated != created:
        extra["updated_at"] = updated.isoformat()

    categories = [t for t in (_get(tag, "term") for tag in (_get(entry, "tags", []) or [])) if t]
    if categories:
        extra["categories"] = categories

    lang = None
    for key in ("title_detail", "summary_detail"):
        lang = lang or _lang(_get(_get(entry, key, {}) or {}, "language"))
    for item in _get(entry, "content", []) or []:
        lang = lang or _lang(_get(item, "language"))
    lang = lang or _lang(_get(meta, "language")) or _lang(headers.get("content-language"))

    author_name = ""
    detail = _get(entry, "author_detail", {}) or {}
    author_name = (_get(detail, "name", "") or _get(entry, "author", "") or "").strip()
    if not author_name:
        for a in _get(entry, "authors", []) or []:
            author_name = (_get(a, "name", "") or "").strip()
            if author_name:
                break
    all_authors = [n for n in ((_get(a, "name", "") or "").strip() for a in (_get(entry, "authors", []) or [])) if n]
    if len(all_authors) > 1:
        extra["authors"] = all_authors

    if author_name:
        account = Account(platform=PLATFORM, platform_id=f"{feed_host}/{_slug(author_name)}",
                          handle=author_name, name=author_name, url=site)
    else:
        account = Account(platform=PLATFORM, platform_id=feed_host, handle=feed_title, name=feed_title,
                          description=_detail_text(meta, "subtitle") or None, url=site)

    post = Post(
        platform=PLATFORM,
        platform_id=_entry_id(entry, url, title, feed_host),
        kind=ARTICLE,
        author_id=account.platform_id,
        text=text,
        created_at=created,
        lang=lang,
        url=url,
        title=title or None,
        source=feed_name,
        links=links,
        extra=extra,
    )
    return post, account


# --------------------------------------------------------------------------- parsing


@dataclass
class _Parsed:
    posts: list[Post] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ok: bool = True  # False: the document is not a usable feed


def _feed_label(feed_name: str, feed_url: str | None) -> str:
    return f"feed '{feed_name}' ({display_url(feed_url)})" if feed_url else f"feed '{feed_name}'"


def _describe_xml_error(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    get_message = getattr(exc, "getMessage", None)
    message = get_message() if callable(get_message) else str(exc)
    get_line = getattr(exc, "getLineNumber", None)
    line = get_line() if callable(get_line) else None
    if message == "no element found":
        message = "the document ends early (truncated?): no element found"
    return f"{message} (line {line})" if line else message


def _is_truncation(exc: BaseException | None) -> bool:
    get_message = getattr(exc, "getMessage", None)
    message = get_message() if callable(get_message) else str(exc or "")
    return message in ("no element found", "unclosed token")


def _last_entry_incomplete(data: bytes) -> bool:
    """For a truncated document: was the last entry cut off (opened but never closed)?"""
    lower = data.lower()
    last_open = max(lower.rfind(b"<item>"), lower.rfind(b"<item "), lower.rfind(b"<entry>"),
                    lower.rfind(b"<entry "))
    last_close = max(lower.rfind(b"</item>"), lower.rfind(b"</entry>"))
    return last_open > last_close


def _looks_like_html(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


def _parser_headers(content_type: str | None, content_language: str | None, feed_url: str | None) -> dict[str, str]:
    """Response headers for feedparser.

    A charset the server declares is passed on; without one, no Content-Type is passed so
    feedparser takes the encoding from the XML declaration (RFC 7303) rather than assuming
    us-ascii for ``text/xml`` (RFC 3023) and warning about a feed that is fine.
    """
    headers: dict[str, str] = {}
    if feed_url:
        headers["content-location"] = feed_url
    if content_language:
        headers["content-language"] = content_language
    if content_type:
        m = re.search(r"charset\s*=\s*\"?([A-Za-z0-9._:-]+)", content_type, flags=re.I)
        if m:
            headers["content-type"] = f"application/xml; charset={m.group(1)}"
    return headers


def _parse(data: bytes, feed_name: str, feed_url: str | None, *, fetched_at: datetime,
           content_type: str | None = None, content_language: str | None = None) -> _Parsed:
    """Parse a document; ``errors`` are messages without the feed label (callers add it)."""
    out = _Parsed()
    if not data.strip():
        out.ok = False
        out.errors.append(f"not a valid RSS/Atom feed: the document is empty ({len(data)} bytes)")
        return out
    result = feedparser.parse(io.BytesIO(data),
                              response_headers=_parser_headers(content_type, content_language, feed_url))
    entries = list(result.entries)
    exc = result.get("bozo_exception") if result.bozo else None
    if isinstance(exc, feedparser.NonXMLContentType):
        exc = None  # only says the server's Content-Type is odd; the document itself parsed
    dropped_last = False
    if exc is not None and _is_truncation(exc) and entries and _last_entry_incomplete(data):
        entries = entries[:-1]
        dropped_last = True
    if not entries:
        if exc is not None or not result.get("version"):
            out.ok = False
            if _looks_like_html(data):
                ctype = f" (Content-Type: {content_type})" if content_type else ""
                reason = f"got an HTML page{ctype}, not RSS or Atom"
            elif exc is not None:
                reason = _describe_xml_error(exc)
            else:
                reason = "no RSS or Atom elements found"
            out.errors.append(f"not a valid RSS/Atom feed: {reason}")
        return out  # a valid feed with no entries is fine
    if exc is not None:
        kept = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} read anyway"
        if dropped_last:
            kept += ", the last, incomplete entry dropped"
        if isinstance(exc, (feedparser.CharacterEncodingOverride, feedparser.CharacterEncodingUnknown)):
            out.errors.append(f"warning: character encoding: {exc}; {kept}")
        else:
            out.errors.append(f"warning: the feed is not well-formed XML ({_describe_xml_error(exc)}); {kept}")
    accounts: dict[tuple[str, str], Account] = {}
    seen_ids: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        try:
            post, account = feed_item_to_post(entry, result, feed_name, feed_url=feed_url, fetched_at=fetched_at)
        except Exception as exc_entry:  # one odd entry must not cost the whole feed
            ident = _get(entry, "id") or _get(entry, "link") or _get(entry, "title") or ""
            out.errors.append(f"entry {index} {ident!r} skipped: {type(exc_entry).__name__}: {exc_entry}")
            continue
        if not post.text and not post.url:
            out.errors.append(f"entry {index} skipped: it has no title, text or link")
            continue
        if post.platform_id in seen_ids:
            continue  # the same entry twice in one document
        seen_ids.add(post.platform_id)
        out.posts.append(post)
        accounts.setdefault(account.key, account)
    out.accounts = list(accounts.values())
    return out


def parse_feed_bytes(data: bytes, feed_name: str, feed_url: str | None = None, *, source: str = PLATFORM,
                     fetched_at: datetime | None = None, content_type: str | None = None,
                     content_language: str | None = None) -> Batch:
    """Parse a feed document in hand (no network) into a :class:`Batch`.

    Parameters
    ----------
    data : bytes
        The RSS or Atom document, undecoded: feedparser finds the encoding.
    feed_name : str
        Name for messages and ``Post.source`` (the configured name, or the file name on import).
    feed_url : str, optional
        The feed's URL: relative links resolve against it and it names the feed's host in ids.
    source : str
        ``Batch.source`` and ``Gap.source``.
    fetched_at : datetime, optional
        When the document was fetched (default now): ``Batch.fetched_at``, date of undated entries.
    content_type, content_language : str, optional
        The HTTP headers the document came with, if any.

    Returns
    -------
    Batch
        Never raises for a bad document: an empty, HTML or broken document gives a batch with no
        posts, an error naming the feed and the reason (with the line when known) and a
        ``Gap(reason="error")``. A broken document that still yields entries keeps them and adds
        a warning to ``errors``.
    """
    fetched_at = fetched_at or datetime.now(timezone.utc)
    parsed = _parse(data, feed_name, feed_url, fetched_at=fetched_at,
                    content_type=content_type, content_language=content_language)
    label = _feed_label(feed_name, feed_url)
    batch = Batch(source=source, posts=parsed.posts, accounts=parsed.accounts,
                  errors=[f"{label}: {e}" for e in parsed.errors], fetched_at=fetched_at)
    if not parsed.ok:
        batch.gaps.append(Gap(source=source, start=fetched_at, end=fetched_at, reason="error",
                              detail=batch.errors[-1]))
    return batch


# --------------------------------------------------------------------------- fetching


class _FetchError(Exception):
    def __init__(self, message: str, reason: str = "error"):
        super().__init__(message)
        self.message = message
        self.reason = reason  # Gap reason: "error" | "rate_limited"


@dataclass
class _Response:
    status: int
    body: bytes
    headers: Mapping[str, str]
    url: str
    hints: list[str]


def _connection_problem(exc: requests.ConnectionError) -> str:
    text = str(exc)
    lowered = text.lower()
    if any(s in lowered for s in ("name or service not known", "nodename nor servname", "getaddrinfo failed",
                                  "temporary failure in name resolution", "failed to resolve",
                                  "no address associated", "nameresolutionerror")):
        return "could not resolve the host name (DNS)"
    if "connection refused" in lowered:
        return "connection refused"
    if "timed out" in lowered:
        return "timed out"
    if "connection reset" in lowered:
        return "connection reset by the server"
    return f"could not connect: {text}"


def _retry_after(headers: Mapping[str, str]) -> str:
    value = headers.get("Retry-After")
    return f"; retry after {value}" + (" s" if value and value.strip().isdigit() else "") if value else ""


class RSSSource:
    """Polls RSS/Atom feeds and yields one :class:`Batch` per feed.

    Parameters
    ----------
    feeds : list of FeedConfig
        The feeds to poll (any objects with ``name`` and ``url``; names must be unique).
    name : str
        This source's name: ``Batch.source`` and the key its cursor is stored under.
    timeout : float
        Seconds allowed to connect and for each read; the whole download must finish within
        three times this.
    user_agent : str
        The ``User-Agent`` sent with every request.
    max_bytes : int
        Largest feed document accepted (after decompression).
    allow_hosts : list of str
        Hosts fetched even though they are, or resolve to, loopback, private or link-local
        addresses (the configuration's ``sources.allow_private_hosts``); every other such
        address is refused, after DNS resolution and after every redirect
        (:mod:`monitor.sources.guard`).

    Notes
    -----
    Only the configured feed URLs are fetched, and only over http/https; redirects are
    followed (at most 5). Links inside entries are never fetched.
    """

    platform = PLATFORM
    max_redirects = 5

    def __init__(self, feeds: Sequence[FeedConfig], name: str = "rss", timeout: float = 20.0,
                 user_agent: str = DEFAULT_USER_AGENT, max_bytes: int = 10_000_000,
                 allow_hosts: Sequence[str] = ()):
        names = [f.name for f in feeds]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source '{name}': feed names must be unique; listed more than once: {', '.join(dupes)}")
        self.feeds = list(feeds)
        self.name = name
        self.timeout = float(timeout)
        self.user_agent = user_agent
        self.max_bytes = int(max_bytes)
        self.session = GuardedSession(allow_hosts)
        self.session.max_redirects = self.max_redirects
        self.session.headers.update({"User-Agent": user_agent, "Accept": ACCEPT})

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self.session.close()

    def collect(self, cursor: dict[str, Any] | None) -> Iterator[Batch]:
        """Fetch every feed once; yield one :class:`Batch` per feed, in configuration order.

        Each batch's ``cursor`` is the whole cursor with that feed's state updated, so storing any
        batch's cursor records every feed handled so far. Entries seen before are not yielded
        again. A feed that fails (HTTP error, timeout, unparseable) yields a batch with no posts,
        the error in ``errors`` and a ``Gap``; the other feeds go on.
        """
        state: dict[str, Any] = copy.deepcopy(cursor) if cursor else {}
        feeds_state = state.setdefault("feeds", {})
        if not isinstance(feeds_state, dict):
            feeds_state = state["feeds"] = {}
        for feed in self.feeds:
            prev = feeds_state.get(feed.name)
            batch, new_state = self._collect_feed(feed, dict(prev) if isinstance(prev, dict) else {})
            feeds_state[feed.name] = new_state
            batch.cursor = copy.deepcopy(state)
            yield batch

    # -- one feed

    def _collect_feed(self, feed: Any, prev: dict[str, Any]) -> tuple[Batch, dict[str, Any]]:
        fetched_at = datetime.now(timezone.utc)
        label = _feed_label(feed.name, feed.url)
        same_url = prev.get("url") in (None, feed.url)
        st: dict[str, Any] = {
            "url": feed.url,
            "etag": prev.get("etag") if same_url else None,
            "modified": prev.get("modified") if same_url else None,
            "seen": list(prev.get("seen") or []),
            "last_ok": prev.get("last_ok"),
            "last_attempt": fetched_at.isoformat(),
            "last_error": None,
        }
        batch = Batch(source=self.name, fetched_at=fetched_at)

        def fail(message: str, reason: str = "error") -> tuple[Batch, dict[str, Any]]:
            full = f"{label}: {message}"
            batch.errors.append(full)
            start = parse_time(prev.get("last_attempt")) or fetched_at
            batch.gaps.append(Gap(source=self.name, start=start, end=fetched_at, reason=reason, detail=full))
            st["last_error"] = full
            return batch, st

        problem = check_feed_url(feed.url)
        if problem:
            return fail(f"refused to fetch: {problem}")
        try:
            resp = self._fetch(feed.url.strip(), st["etag"], st["modified"])
        except _FetchError as exc:
            return fail(exc.message, exc.reason)
        batch.errors.extend(f"{label}: {hint}" for hint in resp.hints)

        if resp.status == 304:
            st["etag"] = resp.headers.get("ETag") or st["etag"]
            st["modified"] = resp.headers.get("Last-Modified") or st["modified"]
            st["last_ok"] = fetched_at.isoformat()
            return batch, st

        parsed = _parse(resp.body, feed.name, resp.url, fetched_at=fetched_at,
                        content_type=resp.headers.get("Content-Type"),
                        content_language=resp.headers.get("Content-Language"))
        if not parsed.ok:
            # validators are not kept, so the next poll fetches (and reports) it again
            st["etag"] = st["modified"] = None
            batch.errors.extend(f"{label}: {e}" for e in parsed.errors[:-1])
            return fail(parsed.errors[-1])
        batch.errors.extend(f"{label}: {e}" for e in parsed.errors)
        seen = set(st["seen"])
        current = [p.platform_id for p in parsed.posts]
        batch.posts = [p for p in parsed.posts if p.platform_id not in seen]
        wanted = {p.author_id for p in batch.posts}
        batch.accounts = [a for a in parsed.accounts if a.platform_id in wanted]
        current_set = set(current)
        st["seen"] = (current + [i for i in st["seen"] if i not in current_set])[: max(SEEN_LIMIT, len(current))]
        st["etag"] = resp.headers.get("ETag")
        st["modified"] = resp.headers.get("Last-Modified")
        st["last_ok"] = fetched_at.isoformat()
        # a feed that works with warnings (or moved) keeps its first problem visible on the status page
        st["last_error"] = batch.errors[0] if batch.errors else None
        return batch, st

    def _fetch(self, url: str, etag: str | None, modified: str | None) -> _Response:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        deadline = time.monotonic() + 3 * self.timeout
        try:
            resp = self.session.get(url, headers=headers, timeout=(self.timeout, self.timeout), stream=True,
                                    allow_redirects=True)
        except RefusedAddress as exc:
            where = "" if exc.url.rstrip("/") == url.rstrip("/") else f"redirected to {display_url(exc.url)}: "
            raise _FetchError(f"refused to fetch: {where}{exc} (only public addresses are fetched; allow the host "
                              "in sources.allow_private_hosts to fetch it)") from None
        except requests.Timeout:
            raise _FetchError(f"timed out after {self.timeout:g} s") from None
        except requests.TooManyRedirects:
            raise _FetchError(f"too many redirects (more than {self.max_redirects})") from None
        except requests.exceptions.SSLError as exc:
            raise _FetchError(f"TLS/SSL error: {exc}") from None
        except requests.exceptions.InvalidSchema as exc:
            raise _FetchError(f"redirected to a URL that is not http(s): {exc}") from None
        except requests.ConnectionError as exc:
            raise _FetchError(_connection_problem(exc)) from None
        except requests.RequestException as exc:
            raise _FetchError(f"request failed: {type(exc).__name__}: {exc}") from None
        try:
            hints = self._redirect_hints(resp)
            status = resp.status_code
            if status == 304:
                return _Response(status, b"", resp.headers, resp.url, hints)
            if status == 410:
                raise _FetchError("feed has been removed (HTTP 410 Gone); take it out of the configuration"
                                  + "".join(f"; {h}" for h in hints))
            if status == 429:
                raise _FetchError(f"rate limited (HTTP 429 Too Many Requests){_retry_after(resp.headers)}",
                                  reason="rate_limited")
            if not 200 <= status < 300:
                extra = _retry_after(resp.headers) if status == 503 else ""
                raise _FetchError(f"HTTP {status} {resp.reason or ''}".rstrip() + extra
                                  + "".join(f"; {h}" for h in hints))
            length = resp.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > self.max_bytes:
                raise _FetchError(f"feed is too large: {int(length):,} bytes, the limit is {self.max_bytes:,}")
            body = bytearray()
            try:
                for chunk in resp.iter_content(chunk_size=65536):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise _FetchError(f"feed is too large: more than {self.max_bytes:,} bytes")
                    if time.monotonic() > deadline:
                        raise _FetchError(f"timed out: the download took longer than {3 * self.timeout:g} s")
            except requests.RequestException as exc:
                problem = _connection_problem(exc) if isinstance(exc, requests.ConnectionError) else str(exc)
                raise _FetchError(f"download interrupted: {problem}") from None
            return _Response(status, bytes(body), resp.headers, resp.url, hints)
        finally:
            resp.close()

    @staticmethod
    def _redirect_hints(resp: requests.Response) -> list[str]:
        history = list(resp.history)
        target = None
        for i, step in enumerate(history):
            if step.status_code in (301, 308):
                target = history[i + 1].url if i + 1 < len(history) else resp.url
        if target is None:
            return []
        return [f"moved permanently to {display_url(target)}; update config"]
