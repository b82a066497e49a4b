"""Links to the originals of posts and accounts: only ``https:``, and only to the platform's own host.

A stored URL came from a stranger. It is shown as a link only when it is ``https://`` to a host
the post's platform owns (X: x.com, twitter.com and their subdomains); for RSS/Atom articles,
whose host is the feed's own, any ``https://`` host with a plain name is accepted. Everything
else (``javascript:``, ``data:``, ``http:``, user-info tricks such as ``https://x.com@evil``,
backslashes, control characters) gives no link at all.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

PLATFORM_HOSTS: dict[str, tuple[str, ...]] = {
    "x": ("x.com", "twitter.com"),
    "bluesky": ("bsky.app",),
    "mastodon": (),  # federated: any host
    "rss": (),  # the feed's own site: any host
}
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_BAD = re.compile(r"[\x00-\x20\x7f\\<>\"'`]")


def safe_url(url: str | None, platform: str | None = None) -> str | None:
    """``url`` if it is safe to link to for a post of ``platform``, else None."""
    if not url or not isinstance(url, str) or len(url) > 2048 or _BAD.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.netloc or "@" in parts.netloc or parts.port not in (None, 443):
        return None
    host = (parts.hostname or "").lower()
    if not _HOST.match(host):
        return None
    allowed = PLATFORM_HOSTS.get(platform or "", None)
    if allowed is None:  # an unknown platform: no link
        return None
    if allowed and not any(host == h or host.endswith("." + h) for h in allowed):
        return None
    return url


def post_url(platform: str | None, url: str | None, platform_id: str | None = None,
             handle: str | None = None) -> str | None:
    """The original of a post: its stored URL when safe, else one built for X from the ids."""
    ok = safe_url(url, platform)
    if ok:
        return ok
    if platform == "x" and platform_id and str(platform_id).isdigit():
        return f"https://x.com/i/web/status/{platform_id}"
    return None


def account_url(platform: str | None, handle: str | None, url: str | None = None) -> str | None:
    if platform == "x" and handle and re.fullmatch(r"[A-Za-z0-9_]{1,50}", handle):
        return f"https://x.com/{quote(handle)}"
    return safe_url(url, platform)


def original_link(item: dict | None) -> str | None:
    """Jinja filter: the safe original URL of a post-like dict (platform, url, platform_id)."""
    if not item:
        return None
    return post_url(item.get("platform"), item.get("url"), item.get("platform_id"), item.get("handle"))
