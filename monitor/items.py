"""The normalised items every source yields and the pipeline consumes.

A source turns whatever its platform returns into these plain dataclasses and
never touches the store. The pipeline matches topics, scores sentiment, derives
interaction edges and stores them. Everything here is plain data so it can
cross Celery as JSON (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

# Post kinds
ORIGINAL = "original"
RETWEET = "retweet"
QUOTE = "quote"
REPLY = "reply"
ARTICLE = "article"
POST_KINDS = (ORIGINAL, RETWEET, QUOTE, REPLY, ARTICLE)

# Interaction (edge) kinds: the source account acts on the target account.
EDGE_RETWEET = "retweet"
EDGE_QUOTE = "quote"
EDGE_REPLY = "reply"
EDGE_MENTION = "mention"
EDGE_KINDS = (EDGE_RETWEET, EDGE_QUOTE, EDGE_REPLY, EDGE_MENTION)


def utc(dt: datetime | None) -> datetime | None:
    """Return ``dt`` as an aware UTC datetime (naive datetimes are taken as UTC)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO-8601 string (``2021-01-01T00:00:00.000Z``), an epoch number or a datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        return None


@dataclass
class Account:
    """An author or an account referred to by a post (mentioned, retweeted, replied to)."""

    platform: str
    platform_id: str
    handle: str | None = None
    name: str | None = None
    description: str | None = None
    followers: int | None = None
    following: int | None = None
    posts_count: int | None = None
    created_at: datetime | None = None
    verified: bool | None = None
    url: str | None = None
    location: str | None = None
    # True when everything we know comes from a reference (a mention, a reply
    # target) rather than the platform's own user object.
    partial: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.platform_id)


@dataclass
class Reference:
    """A post this post refers to: the retweeted, quoted or replied-to post."""

    kind: str  # "retweet" | "quote" | "reply"
    platform_id: str | None  # the referenced post's id (None for a reply known only by account)
    author_id: str | None = None  # the referenced post's author (platform id), when known


@dataclass
class Post:
    """One post, article or repost, normalised across platforms."""

    platform: str  # "x", "rss", "bluesky", "mastodon"
    platform_id: str
    kind: str
    author_id: str  # platform id of the author Account
    text: str
    created_at: datetime
    lang: str | None = None
    url: str | None = None
    title: str | None = None  # articles
    source: str | None = None  # the configured source (feed name, "x-search", ...)
    hashtags: list[str] = field(default_factory=list)  # lower case, without '#'
    mentions: list[str] = field(default_factory=list)  # author platform ids mentioned
    mention_handles: list[str] = field(default_factory=list)  # lower case handles, without '@'
    links: list[str] = field(default_factory=list)  # expanded URLs
    references: list[Reference] = field(default_factory=list)
    retweets: int | None = None
    replies: int | None = None
    likes: int | None = None
    quotes: int | None = None
    conversation_id: str | None = None
    edit_of: str | None = None  # the first version's id when this is an edited version
    withheld: list[str] = field(default_factory=list)  # country codes where withheld
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.platform_id)

    def full_text(self, sep: str = ". ") -> str:
        """The text with the title (an article's) before it, joined by ``sep``, unless the text already holds it."""
        return self.text if not self.title or self.title in self.text else f"{self.title}{sep}{self.text}"


@dataclass
class Batch:
    """What a source yields: posts with the accounts they refer to, and where to resume.

    ``cursor`` is opaque to everyone but the source that made it; the pipeline
    stores it once the batch is committed. ``errors`` holds problems the source
    met but could go on from (a deleted referenced tweet, one bad entry).
    ``gaps`` records periods the source knows it did not see. ``notes`` holds facts about the
    data the platform reported, which are not problems (X's partial errors: a referenced tweet
    deleted or protected, an account suspended); ``skipped`` counts the items the source read but
    could not turn into posts (a tweet without an author), each also named in ``errors``.
    """

    source: str
    posts: list[Post] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    cursor: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    gaps: list["Gap"] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: int = 0
    fetched_at: datetime | None = None
    # bytes of the input read so far, for progress bars of file readers (not stored)
    position: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _to_jsonable(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Batch":
        return Batch(
            source=data["source"],
            posts=[_post_from_dict(p) for p in data.get("posts", [])],
            accounts=[_account_from_dict(a) for a in data.get("accounts", [])],
            cursor=data.get("cursor"),
            errors=list(data.get("errors", [])),
            gaps=[Gap(source=g["source"], start=parse_time(g["start"]), end=parse_time(g.get("end")),
                      reason=g["reason"], detail=g.get("detail")) for g in data.get("gaps", [])],
            fetched_at=parse_time(data.get("fetched_at")),
            notes=list(data.get("notes", [])),
            skipped=int(data.get("skipped", 0) or 0),
        )


@dataclass
class Gap:
    """A period a source did not see: failing, rate-limited, or dropped data."""

    source: str
    start: datetime
    end: datetime | None
    reason: str  # "error" | "rate_limited" | "disconnect" | "dropped"
    detail: str | None = None


def _to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime):
        return utc(obj).isoformat()
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_jsonable(v) for k, v in obj.items()}
    return obj


def _account_from_dict(data: dict[str, Any]) -> Account:
    data = dict(data)
    data["created_at"] = parse_time(data.get("created_at"))
    return Account(**data)


def _post_from_dict(data: dict[str, Any]) -> Post:
    data = dict(data)
    data["created_at"] = parse_time(data["created_at"])
    data["references"] = [Reference(**r) for r in data.get("references", [])]
    return Post(**data)


def merge_accounts(accounts: Iterable[Account]) -> list[Account]:
    """Deduplicate accounts by key, keeping the fullest record (a real user object beats a mention)."""
    best: dict[tuple[str, str], Account] = {}
    for acc in accounts:
        have = best.get(acc.key)
        if have is None or (have.partial and not acc.partial):
            best[acc.key] = acc
        elif have.partial == acc.partial:
            # fill holes in what we have from what we got
            for f in dataclasses.fields(acc):
                if getattr(have, f.name) in (None, "") and getattr(acc, f.name) not in (None, ""):
                    setattr(have, f.name, getattr(acc, f.name))
    return list(best.values())
