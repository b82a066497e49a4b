"""Read X API v2 responses into normalised items.

Pure functions (no I/O except :func:`iter_jsonl_batches`, which reads a file)
that turn what the X API v2 returns, as the twarc2 collector writes it, into
:class:`~monitor.items.Batch` objects:

- a response *page* (``data``, ``includes`` with ``users``/``tweets``/``media``/
  ``places``, ``meta``, ``errors``, and twarc's ``__twarc`` stamp), from search,
  tweet lookup and timeline endpoints, or a filtered-stream line (``data`` is
  one tweet, plus ``includes`` and ``matching_rules``);
- a tweet already *flattened* by ``twarc2 flatten`` (author, mentioned users and
  referenced tweets expanded in place, one tweet a line);
- pages of other endpoints: users pages give accounts only; counts, lists and
  compliance-job lines give nothing and are reported as skipped.

The shape of ``includes`` and of twarc's flattening follows DocNow/twarc
``twarc/expansions.py``; the code here is our own.

Decisions worth knowing
-----------------------
- ``kind``: ``retweet`` if the tweet retweets; else ``quote`` if it quotes (a
  reply that also quotes is a **quote**: its own commentary on another post is
  what spreads; the reply is kept as a second reference); else ``reply`` if it
  replies to a tweet (``replied_to``) *or* has ``in_reply_to_user_id`` (X sets
  it only on replies; when the parent tweet is gone the ``replied_to`` reference
  can be missing, and the reply is then recorded as
  ``Reference("reply", None, in_reply_to_user_id)``); else ``original``.
- A reference to a tweet missing from ``includes`` keeps its ``platform_id``;
  its ``author_id`` is ``in_reply_to_user_id`` for a reply, the ``RT @handle:``
  mention X writes at the start of a retweet for a retweet, else None.
  ``references`` lists every reference, the one matching ``kind`` first (the
  store uses the first as the post's main reference).
- Referenced tweets found in ``includes.tweets`` are emitted as posts too, with
  ``extra["referenced_only"] = True`` (they were not matched by the query; they
  may be old). Their authors come from ``includes.users``.
- Every account a post refers to (author, mentioned, replied-to, author of a
  referenced tweet) is emitted; without a user object in ``includes.users`` it
  is ``partial=True`` (a mention at least gives its handle).
- ``text`` is ``note_tweet.text`` when present (long posts; its entities are used
  too), else ``text``. A retweet keeps its truncated ``"RT @x: ..."`` text.
- ``links`` are the ``expanded_url`` of ``entities.urls``, leaving out media
  links (``pic.twitter.com``) and links to the post's own status or to a tweet
  it references (the quoted tweet's URL that X appends to a quote).
- ``edit_of`` is the first id of ``edit_history_tweet_ids`` when it is not the
  tweet's own id.
- API ``errors`` entries become readable strings: X's partial errors (a referenced
  tweet deleted or protected, an account suspended: facts about the data) in
  ``Batch.notes``, the others in ``Batch.errors``; a tweet that cannot become a post
  (no author) is counted in ``Batch.skipped`` and named in ``errors``; a stream
  error line that says the stream was disconnected also gives a
  ``Gap(reason="disconnect")`` with ``end=None`` (the stream source closes it
  when it reconnects).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from os import PathLike
from pathlib import Path
from typing import Any, Iterable, Iterator

from monitor.compression import open_input, read_input
from monitor.items import (
    ORIGINAL,
    QUOTE,
    REPLY,
    RETWEET,
    Account,
    Batch,
    Gap,
    Post,
    Reference,
    merge_accounts,
    parse_time,
)

PLATFORM = "x"

#: What a line whose JSON nests too deeply to read is reported as (Python's parser recurses per level).
TOO_DEEP = "not read: the JSON nests too deeply (a hostile or broken line)"

_REF_KINDS = {"retweeted": RETWEET, "quoted": QUOTE, "replied_to": REPLY}
_KIND_ORDER = (RETWEET, QUOTE, REPLY)

# twitter.com / x.com status links: https://twitter.com/<user>/status/<id>[/photo/1]
_STATUS_URL = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/(?:i/web|[A-Za-z0-9_]+)/status(?:es)?/(\d+)", re.I
)
# Twitter epoch for snowflake ids (ms); ids below this were not snowflakes.
_TWEPOCH_MS = 1288834974657
_MIN_SNOWFLAKE = 1 << 40

# Keys of a compliance-job result line ({"id", "action", "created_at", "reason"[, "redacted_at"]}).
_COMPLIANCE_KEYS = {"id", "action", "created_at", "reason", "redacted_at"}
# Error titles/types that mean a stream connection ended.
_DISCONNECT_MARKERS = ("operational-disconnect", "connectionexception", "streaming-connection")


# --------------------------------------------------------------------------- public API


def is_x_v2_line(obj: Any) -> bool:
    """Tell whether one decoded JSON line looks like X API v2 output (for format sniffing).

    True for a twarc2 response page or stream line (``data`` with ``includes``,
    ``meta`` or ``matching_rules``, or a ``__twarc`` stamp of a ``/2/`` URL), an
    errors-only v2 answer (``errors`` entries with a ``/2/problems/`` type), a
    flattened or bare v2 tweet (string ``id`` and ``text`` plus a v2-only field,
    and none of the v1.1 fields ``id_str``/``user``), and an X compliance-job
    result line.

    Parameters
    ----------
    obj
        One decoded JSON value.

    Returns
    -------
    bool
    """
    if not isinstance(obj, dict):
        return False
    stamp = obj.get("__twarc")
    if isinstance(stamp, dict) and "/2/" in str(stamp.get("url", "")):
        return True
    data = obj.get("data")
    if isinstance(data, (list, dict)) and (
        "includes" in obj or "meta" in obj or "matching_rules" in obj or "errors" in obj
    ):
        return True
    if isinstance(data, (list, dict)) and data:
        first = data[0] if isinstance(data, list) else data
        if isinstance(first, dict) and (_looks_like_tweet(first) or _looks_like_user(first)):
            return True
    errors = obj.get("errors")
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        if any("/2/problems/" in str(e.get("type", "")) for e in errors):
            return True
    if _looks_like_tweet(obj):
        return True
    return _is_compliance_line(obj)


def page_to_batch(page: dict, source: str) -> Batch:
    """Turn one X API v2 response page (or stream line) into a :class:`Batch`.

    Tweet pages give posts and accounts; users pages give accounts; counts,
    lists and compliance lines give an empty batch whose ``errors`` says they
    were skipped. API ``errors`` entries are listed in ``Batch.errors``; a stream
    disconnect error also gives a ``Gap(reason="disconnect")``. Never raises on
    odd content: what cannot be read is reported in ``errors``.

    Parameters
    ----------
    page
        The decoded JSON of one response (twarc2 writes one a line).
    source
        Name of the configured source, stamped on the batch and its posts.

    Returns
    -------
    Batch

    Examples
    --------
    >>> b = page_to_batch({"data": [{"id": "1450000000000000000", "text": "hi", "author_id": "9",
    ...                              "created_at": "2021-10-18T09:00:00.000Z"}],
    ...                    "includes": {"users": [{"id": "9", "username": "Nine", "name": "N"}]}}, "x-search")
    >>> [(p.platform_id, p.kind, p.author_id) for p in b.posts], [a.handle for a in b.accounts]
    ([('1450000000000000000', 'original', '9')], ['Nine'])
    """
    return _page_to_batch(page, source, when=None)


def tweets_to_batch(
    tweets: list[dict], includes: dict, source: str, errors: list | None = None
) -> Batch:
    """Turn v2 tweet objects with their page's ``includes`` into a :class:`Batch`.

    Parameters
    ----------
    tweets
        The page's ``data`` tweets (not flattened).
    includes
        The page's ``includes`` (``users``, ``tweets``, ``places``, ...); may be empty.
    source
        Name of the configured source.
    errors
        The page's ``errors`` entries (dicts as X sends them, or strings); they
        are turned into readable strings in ``Batch.errors``.

    Returns
    -------
    Batch
        Posts for ``tweets`` and for every tweet of ``includes.tweets``
        (``extra["referenced_only"]``), deduplicated; the accounts they refer
        to, deduplicated with :func:`~monitor.items.merge_accounts`.
    """
    includes = includes if isinstance(includes, dict) else {}
    ctx = _Context(includes)
    batch = Batch(source=source)
    _add_errors(batch, errors or [])
    accounts: list[Account] = [a for a in (_account(u) for u in ctx.users.values()) if a]
    posts: dict[str, Post] = {}

    def add(tweet: Any, primary: bool) -> None:
        if not isinstance(tweet, dict):
            batch.errors.append(f"skipped a tweet that is not an object: {_short(tweet)}")
            return
        try:
            post, refs = _post(tweet, source, ctx, primary)
        except _Unreadable as exc:
            batch.errors.append(str(exc))
            batch.skipped += 1
            return
        except Exception as exc:  # odd content must not cost the rest of the page
            batch.errors.append(f"tweet {tweet.get('id', '?')}: could not be read ({type(exc).__name__}: {exc})")
            return
        accounts.extend(refs)
        have = posts.get(post.platform_id)
        if have is None or (have.extra.get("referenced_only") and primary):
            posts[post.platform_id] = post

    for tweet in tweets or []:
        add(tweet, primary=True)
    for tweet in ctx.tweets.values():
        add(tweet, primary=False)
    batch.posts = list(posts.values())
    batch.accounts = merge_accounts(accounts)
    return batch


def flat_tweet_to_batch(tweet: dict, source: str) -> Batch:
    """Turn one tweet flattened by ``twarc2 flatten`` into a :class:`Batch`.

    A flattened tweet carries its page's expansions in place: ``author``,
    ``in_reply_to_user``, mentioned users merged into ``entities.mentions``, and
    referenced tweets merged into ``referenced_tweets`` (themselves flattened).
    They are gathered back into ``includes`` and read like a page, so a flat file
    and the raw pages it came from give the same posts and accounts.

    Parameters
    ----------
    tweet
        One flattened tweet (a line of a ``flat.jsonl``).
    source
        Name of the configured source.

    Returns
    -------
    Batch
    """
    includes: dict[str, list[dict]] = {"users": [], "tweets": [], "places": []}
    _unflatten(tweet, includes, top=True)
    batch = tweets_to_batch([tweet], includes, source)
    batch.fetched_at = _retrieved_at(tweet)
    rules = tweet.get("matching_rules")  # a flattened stream tweet keeps the rules it matched
    if isinstance(rules, list):
        tags = [{"id": str(r.get("id")), "tag": r.get("tag")} for r in rules if isinstance(r, dict)]
        for p in batch.posts:
            if p.platform_id == str(tweet.get("id")):
                p.extra["matching_rules"] = tags
    return batch


def iter_jsonl_batches(path: str | PathLike[str], source: str, batch_size: int = 500) -> Iterator[Batch]:
    """Read a twarc2 JSONL file (raw pages, stream lines or flattened tweets) in batches.

    The format is detected line by line, so files mixing pages and flattened
    tweets work. Blank lines are skipped; a 0-byte file yields nothing. A line
    that is not UTF-8, not JSON or not X output is reported in ``Batch.errors``
    as ``"<file> line <n>: ..."`` and reading goes on; this never raises for bad
    content (only for a file that cannot be opened). A file holding one JSON
    document over many lines (an indented response, or an array of pages or
    tweets) is read as a whole. A truncated last line
    after stream lines (the recorder was cut off mid-tweet) also gives a
    ``Gap(reason="disconnect")``.

    Parameters
    ----------
    path
        The file to read.
    source
        Name of the configured source (e.g. ``"replay:brexit.jsonl"``).
    batch_size
        A batch is yielded once it holds at least this many posts (a page is
        never split, so a batch can be larger).

    Yields
    ------
    Batch
        With ``cursor={"file": <path>, "line": <last line read>}`` and
        ``fetched_at`` the newest ``__twarc.retrieved_at`` in the batch.
    """
    path = Path(path)
    name = path.name
    acc = BatchAccumulator(source)
    last_time: datetime | None = None
    stream_lines = 0
    seen_content = False
    with open_input(path) as fh:
        lineno = 0
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            first_line, seen_content = not seen_content, True
            where = f"{name} line {lineno}"
            truncated = not raw.endswith(b"\n")
            try:
                text = raw.decode("utf-8-sig" if first_line else "utf-8")
            except UnicodeDecodeError as exc:
                acc.add_error(f"{where}: not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            try:
                obj = json.loads(text)
            except RecursionError:
                acc.add_error(f"{where}: {TOO_DEEP}")
                continue
            except ValueError as exc:
                if first_line and text.lstrip().startswith(("{", "[")):
                    whole = _whole_document(path)
                    if whole is not None:  # one JSON document over many lines (a saved, indented response)
                        for item in whole if isinstance(whole, list) else [whole]:
                            acc.add(line_to_batch(item, source, None), name)
                            if acc.post_count >= batch_size:
                                yield acc.flush({"file": str(path), "line": None})
                        if not acc.empty:
                            yield acc.flush({"file": str(path), "line": None})
                        return
                if truncated:
                    acc.add_error(f"{where}: not JSON (truncated last line: {exc.msg})")
                    if stream_lines:
                        acc.add_gap(Gap(source=source, start=last_time or datetime.now(timezone.utc),
                                        end=None, reason="disconnect",
                                        detail=f"{where}: the recording ends mid-line; the stream was cut off"))
                else:
                    acc.add_error(f"{where}: not JSON ({exc.msg} at column {exc.colno})")
                continue
            for item in obj if isinstance(obj, list) else [obj]:
                batch = line_to_batch(item, source, last_time)
                if isinstance(item, dict):
                    if isinstance(item.get("data"), dict) and "matching_rules" in item:
                        stream_lines += 1
                    last_time = _retrieved_at(item) or _newest_created(batch) or last_time
                acc.add(batch, where)
            if acc.post_count >= batch_size:
                yield acc.flush({"file": str(path), "line": lineno})
        if not acc.empty:
            yield acc.flush({"file": str(path), "line": lineno})


# --------------------------------------------------------------------------- reading pages


def _whole_document(path: Path) -> Any:
    """The file parsed as one JSON document, or None when it is not one."""
    try:
        return json.loads(read_input(path))
    except (ValueError, RecursionError):
        return None


def line_to_batch(item: Any, source: str, when: datetime | None = None) -> Batch:
    """One decoded line of X output (a page, a stream line, a flattened tweet) as a :class:`Batch`;
    never raises for its content: what cannot be read is reported in ``errors``."""
    try:
        return _line_to_batch(item, source, when=when)
    except Exception as exc:  # never raise on content
        return Batch(source=source, errors=[f"could not be read ({type(exc).__name__}: {exc})"])


class _Unreadable(Exception):
    """A tweet that cannot become a Post (no id, no author)."""


class _Context:
    """A page's ``includes`` indexed for lookups."""

    def __init__(self, includes: dict):
        self.users: dict[str, dict] = {}
        self.users_by_name: dict[str, dict] = {}
        for u in includes.get("users") or []:
            if isinstance(u, dict) and u.get("id"):
                self.users.setdefault(str(u["id"]), u)
                if u.get("username"):
                    self.users_by_name.setdefault(str(u["username"]).lower(), u)
        self.tweets: dict[str, dict] = {}
        for t in includes.get("tweets") or []:
            if isinstance(t, dict) and t.get("id"):
                self.tweets.setdefault(str(t["id"]), t)
        self.places: dict[str, dict] = {
            str(p["id"]): p for p in includes.get("places") or [] if isinstance(p, dict) and p.get("id")
        }


def _line_to_batch(obj: Any, source: str, when: datetime | None) -> Batch:
    if not isinstance(obj, dict):
        return Batch(source=source, errors=[f"not an X API v2 object (a JSON {type(obj).__name__})"])
    if "data" in obj or "errors" in obj or "includes" in obj or "meta" in obj:
        if not _looks_like_tweet(obj):
            return _page_to_batch(obj, source, when)
    if _looks_like_tweet(obj):
        return flat_tweet_to_batch(obj, source)
    if _is_compliance_line(obj):
        return Batch(source=source, errors=["skipped: not tweets (compliance job result)"])
    keys = ", ".join(sorted(map(str, obj))[:8])
    return Batch(source=source, errors=[f"not an X API v2 object (keys: {keys})"])


def _page_to_batch(page: Any, source: str, when: datetime | None) -> Batch:
    if not isinstance(page, dict):
        return Batch(source=source, errors=[f"not an X API v2 page (a JSON {type(page).__name__})"])
    fetched = _retrieved_at(page)
    data = page.get("data")
    includes = page.get("includes") if isinstance(page.get("includes"), dict) else {}
    errors = page.get("errors") if isinstance(page.get("errors"), list) else []
    endpoint = _endpoint(page)

    if data is None or data == []:
        batch = tweets_to_batch([], {}, source, errors)
        batch.errors.extend(_top_level_error(page))
    else:
        items = data if isinstance(data, list) else [data]
        what = _data_kind(items, endpoint)
        if what == "tweets":
            batch = tweets_to_batch(items, includes, source, errors)
            rules = page.get("matching_rules")
            if isinstance(rules, list):
                tags = [{"id": str(r.get("id")), "tag": r.get("tag")} for r in rules if isinstance(r, dict)]
                ids = {str(t.get("id")) for t in items if isinstance(t, dict)}
                for p in batch.posts:
                    if p.platform_id in ids:
                        p.extra["matching_rules"] = tags
        elif what == "users":
            batch = Batch(source=source)
            _add_errors(batch, errors)
            batch.accounts = merge_accounts(a for a in (_account(u) for u in items if isinstance(u, dict)) if a)
        else:
            batch = Batch(source=source, errors=[f"skipped: not tweets ({what})"])
    batch.fetched_at = fetched
    for entry in errors:
        if _is_disconnect(entry):
            batch.gaps.append(Gap(source=source, start=fetched or when or datetime.now(timezone.utc), end=None,
                                  reason="disconnect", detail=_error_string(entry)))
    return batch


def _data_kind(items: list, endpoint: str | None) -> str:
    """What a page's ``data`` holds: "tweets", "users" or the name of a skipped endpoint."""
    if endpoint:
        return endpoint
    first = next((i for i in items if isinstance(i, dict)), {})
    if "text" in first:
        return "tweets"
    if "username" in first:
        return "users"
    if "tweet_count" in first and "start" in first:
        return "counts endpoint"
    if "member_count" in first or "owner_id" in first or "private" in first:
        return "lists endpoint"
    if "action" in first and "reason" in first:
        return "compliance job result"
    if "download_url" in first or "upload_url" in first:
        return "compliance jobs endpoint"
    if "id" in first and "created_at" in first and "author_id" in first:
        return "tweets"
    return "unknown endpoint"


def _endpoint(page: dict) -> str | None:
    """Name a non-tweet endpoint from twarc's ``__twarc.url`` (None: decide from the data)."""
    stamp = page.get("__twarc")
    url = str(stamp.get("url", "")) if isinstance(stamp, dict) else ""
    if "/2/tweets/counts/" in url:
        return "counts endpoint"
    if "/2/compliance/" in url:
        return "compliance jobs endpoint"
    if re.search(r"/2/lists|/2/users/[^/?]+/(?:owned_lists|followed_lists|pinned_lists|list_memberships)", url):
        return "lists endpoint"
    return None


def _looks_like_tweet(obj: dict) -> bool:
    """A bare or flattened v2 tweet (not a page, not a v1.1 status)."""
    if not (isinstance(obj.get("id"), str) and isinstance(obj.get("text"), str)):
        return False
    if "id_str" in obj or "user" in obj or "full_text" in obj:
        return False
    return any(k in obj for k in ("author_id", "author", "edit_history_tweet_ids", "public_metrics", "conversation_id"))


def _looks_like_user(obj: dict) -> bool:
    """A v2 user object (v1.1 users have ``screen_name`` and ``id_str``)."""
    return (isinstance(obj.get("id"), str) and isinstance(obj.get("username"), str)
            and "screen_name" not in obj and "id_str" not in obj)


def _is_compliance_line(obj: dict) -> bool:
    return bool(obj) and set(obj) <= _COMPLIANCE_KEYS and {"id", "action"} <= set(obj)


# --------------------------------------------------------------------------- tweets and users


def _post(tweet: dict, source: str, ctx: _Context, primary: bool) -> tuple[Post, list[Account]]:
    """Build a Post from a v2 tweet and list the accounts it refers to."""
    tid = tweet.get("id")
    if tid in (None, ""):
        raise _Unreadable(f"skipped a tweet without an id: {_short(tweet)}")
    tid = str(tid)
    author_id = tweet.get("author_id") or (tweet.get("author") or {}).get("id")
    if not author_id:
        raise _Unreadable(f"tweet {tid}: no author_id (request the author_id expansion); skipped")
    author_id = str(author_id)
    created = parse_time(tweet.get("created_at")) or _snowflake_time(tid)
    if created is None:
        raise _Unreadable(f"tweet {tid}: no created_at; skipped")

    refs_out: list[Account] = []
    if author_id not in ctx.users:
        refs_out.append(Account(platform=PLATFORM, platform_id=author_id, partial=True))

    # References and kind
    irt = tweet.get("in_reply_to_user_id")
    irt = str(irt) if irt else None
    references: list[Reference] = []
    for ref in tweet.get("referenced_tweets") or []:
        if not isinstance(ref, dict):
            continue
        kind = _REF_KINDS.get(ref.get("type"))
        rid = ref.get("id")
        if kind is None or not rid:
            continue
        rid = str(rid)
        target = ctx.tweets.get(rid)
        ref_author = str(target["author_id"]) if target and target.get("author_id") else None
        if kind == REPLY and ref_author is None:
            ref_author = irt
        elif kind == RETWEET and ref_author is None:
            ref_author = _rt_author(tweet, ctx)
        references.append(Reference(kind=kind, platform_id=rid, author_id=ref_author))
    if irt and not any(r.kind == REPLY for r in references):
        references.append(Reference(kind=REPLY, platform_id=None, author_id=irt))
    kinds = {r.kind for r in references}
    kind = next((k for k in _KIND_ORDER if k in kinds), ORIGINAL)
    references.sort(key=lambda r: r.kind != kind)  # main reference first (stable)
    for r in references:
        if r.author_id and r.author_id not in ctx.users:
            refs_out.append(Account(platform=PLATFORM, platform_id=r.author_id, partial=True))

    # Text and entities (a long post's note_tweet has the full text and its own entities)
    note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), dict) else {}
    text = note.get("text") or tweet.get("text") or ""
    entities = note.get("entities") if isinstance(note.get("entities"), dict) else tweet.get("entities")
    entities = entities if isinstance(entities, dict) else {}

    hashtags = _unique(str(h["tag"]).lower().lstrip("#") for h in entities.get("hashtags") or []
                       if isinstance(h, dict) and h.get("tag"))
    mention_ids: list[str] = []
    mention_handles: list[str] = []
    for m in entities.get("mentions") or []:
        if not isinstance(m, dict) or not m.get("username"):
            continue
        handle = str(m["username"])
        mid = m.get("id")
        user = ctx.users.get(str(mid)) if mid else ctx.users_by_name.get(handle.lower())
        if not mid and user:
            mid = user.get("id")
        mention_handles.append(handle.lower())
        if mid:
            mention_ids.append(str(mid))
            if str(mid) not in ctx.users:
                refs_out.append(Account(platform=PLATFORM, platform_id=str(mid), handle=handle, partial=True))
    skip_status = {tid} | {r.platform_id for r in references if r.platform_id}
    links = _unique(_links(entities.get("urls") or [], skip_status))

    metrics = tweet.get("public_metrics") if isinstance(tweet.get("public_metrics"), dict) else {}
    history = [str(i) for i in tweet.get("edit_history_tweet_ids") or []]
    withheld = tweet.get("withheld") if isinstance(tweet.get("withheld"), dict) else {}
    author = ctx.users.get(author_id) or {}
    handle = author.get("username")

    post = Post(
        platform=PLATFORM,
        platform_id=tid,
        kind=kind,
        author_id=author_id,
        text=str(text),
        created_at=created,
        lang=tweet.get("lang"),
        url=f"https://x.com/{handle}/status/{tid}" if handle else f"https://x.com/i/web/status/{tid}",
        source=source,
        hashtags=hashtags,
        mentions=_unique(mention_ids),
        mention_handles=_unique(mention_handles),
        links=links,
        references=references,
        retweets=_int(metrics.get("retweet_count")),
        replies=_int(metrics.get("reply_count")),
        likes=_int(metrics.get("like_count")),
        quotes=_int(metrics.get("quote_count")),
        conversation_id=str(tweet["conversation_id"]) if tweet.get("conversation_id") else None,
        edit_of=history[0] if history and history[0] != tid else None,
        withheld=[str(c) for c in withheld.get("country_codes") or []],
        extra=_extra(tweet, entities, history, withheld, ctx, primary),
    )
    return post, refs_out


def _extra(tweet: dict, entities: dict, history: list[str], withheld: dict, ctx: _Context,
           primary: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if not primary:
        extra["referenced_only"] = True
    for key in ("source", "possibly_sensitive", "reply_settings"):
        if tweet.get(key) is not None:
            extra["source_app" if key == "source" else key] = tweet[key]
    cashtags = _unique(str(c["tag"]).upper() for c in entities.get("cashtags") or [] if isinstance(c, dict) and c.get("tag"))
    if cashtags:
        extra["cashtags"] = cashtags
    metrics = tweet.get("public_metrics") or {}
    if isinstance(metrics, dict) and metrics.get("impression_count") is not None:
        extra["impressions"] = metrics["impression_count"]
    if len(history) > 1:
        extra["edit_history"] = history
    if withheld:
        if withheld.get("copyright"):
            extra["withheld_copyright"] = True
        if withheld.get("scope"):
            extra["withheld_scope"] = withheld["scope"]
    geo = tweet.get("geo") if isinstance(tweet.get("geo"), dict) else None
    if geo:
        place = ctx.places.get(str(geo.get("place_id"))) or geo  # flattened tweets carry the place inline
        info = {k: place.get(k) for k in ("full_name", "country_code") if place.get(k)}
        coords = (geo.get("coordinates") or {}).get("coordinates") if isinstance(geo.get("coordinates"), dict) else None
        if coords:
            info["coordinates"] = coords
        if info:
            extra["place"] = info
    return extra


def _rt_author(tweet: dict, ctx: _Context) -> str | None:
    """The retweeted author when the retweeted tweet is missing: X writes "RT @handle: " first."""
    text = tweet.get("text") or ""
    if not text.startswith("RT @"):
        return None
    for m in (tweet.get("entities") or {}).get("mentions") or []:
        if isinstance(m, dict) and m.get("start") == 3 and m.get("username"):
            mid = m.get("id") or (ctx.users_by_name.get(str(m["username"]).lower()) or {}).get("id")
            return str(mid) if mid else None
    return None


def _links(urls: Iterable[Any], skip_status: set[str]) -> Iterator[str]:
    for u in urls:
        if not isinstance(u, dict):
            continue
        link = u.get("expanded_url") or u.get("url")
        if not link:
            continue
        if u.get("media_key") or str(u.get("display_url", "")).startswith(("pic.twitter.com/", "pic.x.com/")):
            continue
        m = _STATUS_URL.match(link)
        if m and m.group(1) in skip_status:
            continue
        yield str(link)


def _account(user: dict) -> Account | None:
    """Build a full Account from a v2 user object (None without an id)."""
    uid = user.get("id")
    if not uid:
        return None
    metrics = user.get("public_metrics") if isinstance(user.get("public_metrics"), dict) else {}
    url = user.get("url") or None
    ents = user.get("entities") if isinstance(user.get("entities"), dict) else {}
    for u in ((ents.get("url") or {}).get("urls") or []) if isinstance(ents.get("url"), dict) else []:
        if isinstance(u, dict) and u.get("expanded_url") and (url is None or u.get("url") == url):
            url = u["expanded_url"]
            break
    verified: bool | None = None
    if user.get("verified") is not None or user.get("verified_type") is not None:
        vtype = user.get("verified_type")
        verified = bool(user.get("verified")) or (vtype not in (None, "", "none"))
    return Account(
        platform=PLATFORM,
        platform_id=str(uid),
        handle=user.get("username"),
        name=user.get("name"),
        description=user.get("description") or None,
        followers=_int(metrics.get("followers_count")),
        following=_int(metrics.get("following_count")),
        posts_count=_int(metrics.get("tweet_count")),
        created_at=parse_time(user.get("created_at")),
        verified=verified,
        url=url,
        location=user.get("location") or None,
        partial=False,
    )


# --------------------------------------------------------------------------- flattened tweets

_MENTION_ONLY = {"start", "end", "username", "id", "tag"}


def _unflatten(tweet: dict, includes: dict[str, list[dict]], top: bool) -> None:
    """Collect a flattened tweet's inline expansions into page-style ``includes``."""
    for key in ("author", "in_reply_to_user"):
        user = tweet.get(key)
        if isinstance(user, dict) and user.get("id"):
            includes["users"].append(user)
    ents = tweet.get("entities") if isinstance(tweet.get("entities"), dict) else {}
    note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), dict) else {}
    note_ents = note.get("entities") if isinstance(note.get("entities"), dict) else {}
    for m in (ents.get("mentions") or []) + (note_ents.get("mentions") or []):
        # twarc merges the mentioned user's object into the mention: keep it if there is more than the mention
        if isinstance(m, dict) and m.get("id") and set(m) - _MENTION_ONLY:
            includes["users"].append({k: v for k, v in m.items() if k not in ("start", "end")})
    geo = tweet.get("geo")
    if isinstance(geo, dict) and geo.get("place_id") and geo.get("full_name"):
        includes["places"].append({**geo, "id": geo["place_id"]})
    for ref in tweet.get("referenced_tweets") or []:
        # an unavailable referenced tweet stays {type, id}; an available one has its fields merged in
        if isinstance(ref, dict) and ref.get("id") and "text" in ref:
            inner = {k: v for k, v in ref.items() if k != "type"}
            includes["tweets"].append(inner)
            _unflatten(inner, includes, top=False)


# --------------------------------------------------------------------------- errors


# X's "partial errors": a resource a page refers to that X will not show (deleted, protected, suspended)
_PARTIAL_ERROR_TYPES = ("/2/problems/resource-not-found", "/2/problems/not-authorized-for-resource")


def is_partial_error(entry: Any) -> bool:
    """True for an error entry that is a fact about the data, not a problem: X could not show a
    resource the page refers to (a deleted or protected tweet, a suspended account)."""
    return (isinstance(entry, dict) and bool(entry.get("resource_type"))
            and any(t in str(entry.get("type", "")) for t in _PARTIAL_ERROR_TYPES))


def _add_errors(batch: Batch, errors: Iterable[Any]) -> None:
    """A page's ``errors`` entries: partial errors to ``batch.notes``, the rest to ``batch.errors``."""
    for e in errors:
        (batch.notes if is_partial_error(e) else batch.errors).append(_error_string(e))


def _error_string(entry: Any) -> str:
    """One API error entry as a readable sentence."""
    if isinstance(entry, str):
        return entry
    if not isinstance(entry, dict):
        return f"X API error: {_short(entry)}"
    title = entry.get("title")
    detail = entry.get("detail") or entry.get("message")
    if _is_disconnect(entry):
        kind = entry.get("disconnect_type") or entry.get("connection_issue")
        label = f"{title}, {kind}" if kind else str(title or "disconnect")
        return f"stream disconnected ({label}): {detail or 'no detail given'}"
    if title and detail:
        return f"{title}: {detail}"
    if detail:
        code = entry.get("code")
        return f"X API error {code}: {detail}" if code else f"X API error: {detail}"
    return f"X API error: {_short(entry)}"


def _top_level_error(page: dict) -> list[str]:
    """A whole-request problem answer ({"title", "detail", "type"} at top level)."""
    if page.get("title") and page.get("detail") and "data" not in page:
        return [f"{page['title']}: {page['detail']}"]
    return []


def _is_disconnect(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    text = f"{entry.get('title', '')} {entry.get('type', '')}".lower()
    return any(marker in text for marker in _DISCONNECT_MARKERS)


# --------------------------------------------------------------------------- small helpers


class BatchAccumulator:
    """Gathers the small batches of lines or pages into batches of about a batch size.

    A post delivered twice is kept once, its fullest copy (a post collected beats one seen only
    as a reference); accounts are merged when flushed. The file reader uses it as is, the X
    stream (:class:`monitor.sources.x.XStreamSource`) through a subclass.
    """

    def __init__(self, source: str):
        self.source = source
        self._reset()

    def _reset(self) -> None:
        self.posts: dict[str, Post] = {}
        self.accounts: list[Account] = []
        self.errors: list[str] = []
        self.gaps: list[Gap] = []
        self.notes: list[str] = []
        self.skipped = 0
        self.fetched: datetime | None = None

    @property
    def post_count(self) -> int:
        return len(self.posts)

    @property
    def empty(self) -> bool:
        return not (self.posts or self.accounts or self.errors or self.gaps or self.notes)

    def add_error(self, message: str) -> None:
        self.errors.append(message)

    def add_gap(self, gap: Gap) -> None:
        self.gaps.append(gap)

    def add(self, batch: Batch, where: str | None = None) -> None:
        """Take in ``batch``; its errors are prefixed with ``where`` (the file and line) when given."""
        for p in batch.posts:
            have = self.posts.get(p.platform_id)
            if have is None or (have.extra.get("referenced_only") and not p.extra.get("referenced_only")):
                self.posts[p.platform_id] = p
        self.accounts.extend(batch.accounts)
        self.errors.extend(batch.errors if where is None else (f"{where}: {e}" for e in batch.errors))
        self.notes.extend(batch.notes)
        self.skipped += batch.skipped
        self.gaps.extend(batch.gaps)
        if batch.fetched_at and (self.fetched is None or batch.fetched_at > self.fetched):
            self.fetched = batch.fetched_at

    def flush(self, cursor: dict[str, Any] | None = None, fetched_at: datetime | None = None) -> Batch:
        """The batch gathered so far (``fetched_at``: when, if not the newest of the parts); start afresh."""
        out = Batch(source=self.source, posts=list(self.posts.values()), accounts=merge_accounts(self.accounts),
                    cursor=cursor, errors=self.errors, gaps=self.gaps, fetched_at=fetched_at or self.fetched,
                    notes=self.notes, skipped=self.skipped)
        self._reset()
        return out


def _retrieved_at(obj: dict) -> datetime | None:
    stamp = obj.get("__twarc")
    return parse_time(stamp.get("retrieved_at")) if isinstance(stamp, dict) else None


def _newest_created(batch: Batch) -> datetime | None:
    times = [p.created_at for p in batch.posts if not p.extra.get("referenced_only")]
    return max(times) if times else None


def _snowflake_time(tweet_id: str) -> datetime | None:
    """The creation time encoded in a snowflake tweet id (None for pre-2010 ids)."""
    try:
        n = int(tweet_id)
    except (TypeError, ValueError):
        return None
    if n < _MIN_SNOWFLAKE:
        return None
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=(n >> 22) + _TWEPOCH_MS)


def snowflake_time(tweet_id: str | int) -> datetime | None:
    """The UTC time encoded in an X snowflake id (tweets since November 2010); None otherwise.

    >>> snowflake_time("1576994789110992896").isoformat()
    '2022-10-03T17:57:11.527000+00:00'
    """
    return _snowflake_time(str(tweet_id))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"
