"""Collect posts from X (API v2) with tweepy: recent search per topic, and the filtered stream.

Both sources talk to X through tweepy (``tweepy.Client`` for search,
``tweepy.StreamingClient`` for stream rules and its session for the stream) with
``return_type=dict``, so each response page is the raw JSON that
:mod:`monitor.sources.xv2` reads. Authentication is an app bearer token
(``EARSHOT_X_BEARER_TOKEN``).

Rate limits, errors and gaps are handled here, not by tweepy:

- 429: wait until ``x-rate-limit-reset`` (through the injected ``sleep``, so a
  test does not really wait) and retry; the wait is recorded as a
  ``Gap(reason="rate_limited")`` in the next batch. tweepy's own
  ``wait_on_rate_limit`` is not used: it sleeps with ``time.sleep`` and records
  nothing.
- 5xx, timeouts, connection errors: retried with exponential backoff (2, 4, 8,
  ... seconds, at most 60); a recovered failure is recorded as
  ``Gap(reason="error")``; after ``max_retries`` failures in a row a
  :class:`~monitor.sources.base.SourceError` is raised.
- 401/403: :class:`~monitor.sources.base.AuthError` at once, no retry.
- 400 for one search query (X rejected the query): reported in
  ``Batch.errors`` naming the query; the other queries go on.

``api_base``: tweepy hard-codes ``https://api.twitter.com``. When ``api_base``
differs (a test server on loopback, or an egress proxy that forwards to X), a
``requests`` adapter mounted on the client's session for
``https://api.twitter.com/`` rewrites the scheme, host (and optional path
prefix) of every request to ``api_base``. The same adapter gives every request
a timeout (tweepy sets none), whether or not it rewrites.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests.utils import should_bypass_proxies

from monitor.items import Batch, Gap, parse_time
from monitor.sources.base import AuthError, SourceError
from monitor.sources.xv2 import TOO_DEEP, BatchAccumulator, line_to_batch, page_to_batch, snowflake_time

log = logging.getLogger(__name__)

X_HOST = "https://api.twitter.com"  # what tweepy 4.x sends every request to
TOKEN_HINT = "set EARSHOT_X_BEARER_TOKEN to the bearer token of an X app with API v2 access"

EXPANSIONS = [
    "author_id",
    "referenced_tweets.id",
    "referenced_tweets.id.author_id",
    "entities.mentions.username",
    "in_reply_to_user_id",
    "geo.place_id",
]
TWEET_FIELDS = [
    "author_id", "created_at", "lang", "public_metrics", "entities", "referenced_tweets",
    "conversation_id", "in_reply_to_user_id", "edit_history_tweet_ids", "withheld", "note_tweet",
    "possibly_sensitive", "reply_settings", "source", "geo",
]
USER_FIELDS = [
    "created_at", "description", "public_metrics", "verified", "verified_type", "location", "url",
    "entities", "withheld",
]
PLACE_FIELDS = ["full_name", "country_code", "id"]

BACKOFF_START = 2.0  # seconds before the first retry of a failed request; doubles each time
BACKOFF_MAX = 60.0
DEFAULT_RATE_LIMIT_WAIT = 60.0  # a 429 without x-rate-limit-reset
MAX_RATE_LIMIT_WAIT = 16 * 60.0  # X windows are 15 minutes

T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- HTTP plumbing


class XRoutingAdapter(HTTPAdapter):
    """A requests adapter that sends tweepy's ``https://api.twitter.com`` requests to ``api_base``.

    Mounted on a tweepy client's session for the prefix ``https://api.twitter.com/``.
    It rewrites scheme, host and port (and prepends ``api_base``'s path, if any)
    only when ``api_base`` differs from the real host, and always supplies a
    timeout to requests made without one.

    Parameters
    ----------
    api_base
        Where to send requests, e.g. ``http://127.0.0.1:8080`` or
        ``https://egress.example/x-api``.
    timeout
        Seconds, or a ``(connect, read)`` tuple, used when a request has none.
    """

    def __init__(self, api_base: str, timeout: float | tuple[float, float], **kwargs: Any):
        super().__init__(**kwargs)
        parts = urlsplit(api_base.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"api_base must be an http(s) URL like https://api.twitter.com, not {api_base!r}")
        self.base = parts
        self.rewrite = api_base.rstrip("/") != X_HOST
        self.timeout = timeout

    def rewrite_url(self, url: str) -> str:
        """Return ``url`` moved onto ``api_base`` (unchanged when no rewrite is needed)."""
        if not self.rewrite:
            return url
        parts = urlsplit(url)
        return urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path, parts.query, ""))

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        if self.rewrite:
            request.url = self.rewrite_url(request.url)
            if proxies and should_bypass_proxies(request.url, no_proxy=None):
                proxies = {}
        if timeout is None:
            timeout = self.timeout
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)


def install_adapter(session: requests.Session, api_base: str, timeout: float | tuple[float, float]) -> XRoutingAdapter:
    """Mount an :class:`XRoutingAdapter` on ``session`` for tweepy's X host and return it."""
    adapter = XRoutingAdapter(api_base, timeout)
    session.mount(X_HOST + "/", adapter)
    return adapter


def _api_detail(exc: tweepy.HTTPException) -> str:
    """What X said in an error response, in one line."""
    parts = [str(m) for m in (exc.api_messages or []) if m]
    if not parts:
        try:
            body = exc.response.json()
            parts = [str(body.get("detail") or body.get("title") or "")] if isinstance(body, dict) else []
        except ValueError:
            parts = [exc.response.text[:200]] if exc.response is not None else []
    text = "; ".join(p for p in parts if p)
    return text[:500]


def _status_text(exc: tweepy.HTTPException) -> str:
    resp = exc.response
    return f"{resp.status_code} {resp.reason}" if resp is not None else "HTTP error"


class _Retrier:
    """Runs one API call with X's error policy and gathers the gaps it causes.

    Used by both sources: ``call(fn, what)`` returns ``fn()``'s result, waiting
    out 429s and retrying 5xx/network failures; ``take_gaps()`` hands over the
    gaps recorded since the last call, for the next batch.
    """

    def __init__(self, source: str, sleep: Callable[[float], Any], max_retries: int):
        self.source = source
        self.sleep = sleep
        self.max_retries = max_retries
        self.gaps: list[Gap] = []

    def take_gaps(self) -> list[Gap]:
        gaps, self.gaps = self.gaps, []
        return gaps

    def call(self, fn: Callable[[], T], what: str) -> T:
        failures = 0
        failing_since: datetime | None = None
        slept = 0.0
        last_problem = ""
        while True:
            try:
                result = fn()
            except tweepy.TooManyRequests as exc:
                failures += 1
                if failures > self.max_retries:
                    raise SourceError(self.source, f"{what}: X kept answering 429 Too Many Requests "
                                                   f"({failures} times in a row); giving up for now") from None
                self._wait_rate_limit(exc.reset_time, what)
                continue
            except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
                status = _status_text(exc)
                detail = _api_detail(exc)
                raise AuthError(self.source, f"the X bearer token was refused ({status}) for {what}: "
                                             f"{TOKEN_HINT}" + (f". X said: {detail}" if detail else "")) from None
            except (tweepy.TwitterServerError, requests.RequestException) as exc:
                if isinstance(exc, tweepy.TwitterServerError):
                    last_problem = f"{_status_text(exc)}" + (f" ({_api_detail(exc)})" if _api_detail(exc) else "")
                else:
                    last_problem = f"{type(exc).__name__}: {exc}"
                failures += 1
                failing_since = failing_since or _now()
                if failures > self.max_retries:
                    raise SourceError(self.source, f"{what} failed {failures} times in a row, last: "
                                                   f"{last_problem}; giving up for now") from None
                delay = min(BACKOFF_START * 2 ** (failures - 1), BACKOFF_MAX)
                log.warning("%s: %s failed (%s); retrying in %.0f s", self.source, what, last_problem, delay)
                self.sleep(delay)
                slept += delay
                continue
            if failing_since is not None:
                end = max(_now(), failing_since + timedelta(seconds=slept))
                self.gaps.append(Gap(source=self.source, start=failing_since, end=end, reason="error",
                                     detail=f"{what}: failing requests, last {last_problem}; recovered"))
            return result

    def _wait_rate_limit(self, reset_time: int | None, what: str) -> None:
        now = time.time()
        wait = DEFAULT_RATE_LIMIT_WAIT if reset_time is None else reset_time - now + 1
        wait = min(max(wait, 1.0), MAX_RATE_LIMIT_WAIT)
        start = _now()
        log.warning("%s: rate limited on %s; waiting %.0f s", self.source, what, wait)
        self.sleep(wait)
        end = max(_now(), start + timedelta(seconds=wait))
        reset = (datetime.fromtimestamp(reset_time, timezone.utc).isoformat() if reset_time is not None
                 else "no x-rate-limit-reset header")
        self.gaps.append(Gap(source=self.source, start=start, end=end, reason="rate_limited",
                             detail=f"{what}: 429 Too Many Requests, waited {wait:.0f} s (reset {reset})"))


def _check_token(name: str, bearer_token: str) -> None:
    if not bearer_token or not bearer_token.strip():
        raise AuthError(name, f"no X bearer token configured: {TOKEN_HINT}")


# --------------------------------------------------------------------------- recent search


class XSearchSource:
    """Recent search (last 7 days) for each topic's X queries, resuming from ``since_id``.

    Parameters
    ----------
    name
        Name of this configured source (e.g. ``"x-search"``); names its errors and batches.
    bearer_token
        The X app bearer token.
    queries
        Topic id -> X search queries (already translated to X syntax and split to
        fit X's query length). A query string listed under several topics is
        fetched once; its posts carry all those topics in ``extra["x_topics"]``.
    api_base
        Base URL of the X API (see the module docstring).
    max_pages
        Pages fetched per query per :meth:`collect` call.
    page_size
        Tweets per page (X allows 10-100).
    sleep
        Called to wait (rate limits, backoff); tests pass a recorder.
    max_retries
        Failed attempts in a row (5xx, network, repeated 429) before giving up.
    timeout
        Seconds allowed for each request.

    Notes
    -----
    The cursor is ``{"since_id": {query: newest id fetched}, "resume": {query:
    {"newest_id": ..., "until_id": ...}}}``. ``since_id`` of a query moves to the
    newest id only once all its pages are read. While a query is being paged
    through, each batch's cursor records in ``resume`` the newest id of the run
    and the oldest id read so far, so after a crash the next run asks for
    ``since_id < id < until_id`` and fetches exactly what was not yet stored.
    When ``max_pages`` is reached with pages left, ``since_id`` moves to the
    newest id anyway (staying current matters more than a backlog) and the
    skipped range is recorded as ``Gap(reason="dropped")``; on the first run of
    a query there is no earlier position, so no gap is recorded.
    An X ``since_id`` older than search allows (7 days) is dropped with a gap.
    """

    platform = "x"

    def __init__(self, name: str, bearer_token: str, queries: dict[str, list[str]],
                 api_base: str = X_HOST, max_pages: int = 10, page_size: int = 100,
                 sleep: Callable[[float], Any] = time.sleep, max_retries: int = 5, timeout: float = 30):
        _check_token(name, bearer_token)
        if not 10 <= page_size <= 100:
            raise ValueError(f"{name}: page_size must be between 10 and 100 (X's limits), not {page_size}")
        if max_pages < 1:
            raise ValueError(f"{name}: max_pages must be at least 1, not {max_pages}")
        self.name = name
        self.queries = queries
        self.max_pages = max_pages
        self.page_size = page_size
        self.sleep = sleep
        self.client = tweepy.Client(bearer_token=bearer_token, return_type=dict, wait_on_rate_limit=False)
        self.adapter = install_adapter(self.client.session, api_base, timeout)
        self._retrier = _Retrier(name, sleep, max_retries)

    def _query_topics(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for topic, qs in self.queries.items():
            for q in qs:
                if q and q.strip():
                    out.setdefault(q, []).append(topic)
        return out

    def collect(self, cursor: dict | None) -> Iterator[Batch]:
        """Yield one :class:`Batch` per response page, query after query.

        Parameters
        ----------
        cursor
            The cursor of the last committed batch, or None the first time.

        Yields
        ------
        Batch
            Posts and accounts of one page; ``cursor`` to resume from once it is
            stored; ``gaps`` for rate-limit waits and failures met fetching it.

        Raises
        ------
        AuthError
            The bearer token was refused.
        SourceError
            X kept failing (after ``max_retries``) or answered an unexpected error.
        """
        wanted = self._query_topics()
        cursor = cursor or {}
        since = {q: str(v) for q, v in (cursor.get("since_id") or {}).items() if q in wanted and v}
        resume = {q: dict(v) for q, v in (cursor.get("resume") or {}).items() if q in wanted and isinstance(v, dict)}
        state = _SearchState(since, resume)
        for query, topics in wanted.items():
            yield from self._collect_query(query, topics, state)

    def _collect_query(self, query: str, topics: list[str], state: "_SearchState") -> Iterator[Batch]:
        since_id = state.since.get(query)
        resume = state.resume.get(query) or {}
        newest: str | None = resume.get("newest_id")
        until_id: str | None = resume.get("until_id")
        next_token: str | None = None
        what = f"search {query!r}"
        for page_no in range(1, self.max_pages + 1):
            params: dict[str, Any] = {
                "max_results": self.page_size, "expansions": EXPANSIONS, "tweet_fields": TWEET_FIELDS,
                "user_fields": USER_FIELDS, "place_fields": PLACE_FIELDS,
            }
            if since_id:
                params["since_id"] = since_id
            if until_id:
                params["until_id"] = until_id
            if next_token:
                params["next_token"] = next_token
            try:
                page = self._retrier.call(lambda: self.client.search_recent_tweets(query, **params), what)
            except tweepy.BadRequest as exc:
                detail = _api_detail(exc)
                if since_id and "since_id" in detail and page_no == 1:
                    # X no longer searches that far back: start again from the newest, and say what was lost
                    gap = Gap(source=self.name, start=snowflake_time(since_id) or _now(), end=_now(),
                              reason="dropped",
                              detail=f"{what}: since_id {since_id} is older than recent search allows ({detail}); "
                                     "posts between it and the first run since were not fetched")
                    state.since.pop(query, None)
                    state.resume.pop(query, None)
                    self._retrier.gaps.append(gap)
                    yield from self._collect_query(query, topics, state)
                    return
                yield Batch(source=self.name, cursor=state.snapshot(), fetched_at=_now(),
                            errors=[f"{self.name}: X rejected the query {query!r} (topics {', '.join(topics)}): "
                                    f"{_status_text(exc)}: {detail or 'no detail given'}"],
                            gaps=self._retrier.take_gaps())
                return
            except tweepy.HTTPException as exc:  # 404 and other surprises: not something a retry fixes
                raise SourceError(self.name, f"{what}: X answered {_status_text(exc)}: "
                                             f"{_api_detail(exc) or 'no detail given'}") from None
            if not isinstance(page, dict):
                raise SourceError(self.name, f"{what}: X answered something that is not a JSON object")
            batch = page_to_batch(page, self.name)
            for post in batch.posts:
                if not post.extra.get("referenced_only"):
                    post.extra["x_query"] = query
                    post.extra["x_topics"] = list(topics)
            meta = page.get("meta") if isinstance(page.get("meta"), dict) else {}
            if newest is None and meta.get("newest_id"):
                newest = str(meta["newest_id"])
            next_token = meta.get("next_token")
            oldest = str(meta["oldest_id"]) if meta.get("oldest_id") else until_id
            batch.gaps[:0] = self._retrier.take_gaps()
            batch.fetched_at = batch.fetched_at or _now()
            if next_token and page_no < self.max_pages:
                state.resume[query] = {"newest_id": newest, "until_id": oldest}
            else:
                if next_token and since_id:
                    batch.gaps.append(Gap(
                        source=self.name, start=snowflake_time(since_id) or _now(),
                        end=snowflake_time(oldest) if oldest else _now(), reason="dropped",
                        detail=f"{what}: stopped after {self.max_pages} pages; posts after id {since_id} and "
                               f"before id {oldest} were not fetched"))
                if newest:
                    state.since[query] = newest
                state.resume.pop(query, None)
            batch.cursor = state.snapshot()
            yield batch
            if not next_token:
                return


@dataclass
class _SearchState:
    since: dict[str, str] = field(default_factory=dict)
    resume: dict[str, dict[str, Any]] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {"since_id": dict(self.since)}
        if self.resume:
            out["resume"] = {q: dict(v) for q, v in self.resume.items()}
        return out


# --------------------------------------------------------------------------- filtered stream


class XStreamSource:
    """The filtered stream, with rules made from the topics.

    Parameters
    ----------
    name
        Name of this configured source (e.g. ``"x-stream"``).
    bearer_token
        The X app bearer token.
    rules
        ``(value, tag)`` pairs: the rules the stream should have (tag = topic id).
    api_base
        Base URL of the X API (see the module docstring).
    batch_size
        A batch is yielded when it holds this many posts...
    batch_seconds
        ...or when this many seconds have passed since its first item. The check
        runs as lines arrive; X sends a keep-alive every 20 s, so a quiet stream
        yields at most about 20 s late.
    max_batches
        Stop after yielding this many batches (None: run until closed).
    sleep
        Called to wait between reconnects; tests pass a recorder.
    max_retries
        Failed connection attempts in a row before giving up with a
        :class:`SourceError` (None: keep trying, as a stream should).
    timeout
        Seconds allowed to connect, and for each rules request.
    stream_timeout
        Seconds without any byte (tweet or keep-alive) after which the
        connection is taken as dead and reopened.

    Notes
    -----
    ``tweepy.StreamingClient`` (present in tweepy 4.17) is used for rule
    management and its session carries the stream. Its ``filter()`` loop is not
    used: it is callback-driven (a thread would be needed to yield batches),
    waits with a ``time.sleep`` we cannot inject, retries network errors
    forever and cannot record when a disconnect started and ended. The stream
    is read here with the client's session instead: reconnects follow X's
    guidance (network errors: +0.25 s a time up to 16 s; HTTP errors: from 5 s
    doubling to 320 s; 429: from 60 s) and every period without a connection is
    recorded as ``Gap(reason="disconnect", start, end)``.

    The cursor ``{"last_seen": <time>}`` only serves to record, on the next run,
    the time the stream was not connected between runs.
    """

    platform = "x"
    STREAM_PATH = "/2/tweets/search/stream"

    def __init__(self, name: str, bearer_token: str, rules: list[tuple[str, str]],
                 api_base: str = X_HOST, batch_size: int = 200, batch_seconds: float = 5.0,
                 max_batches: int | None = None, sleep: Callable[[float], Any] = time.sleep,
                 max_retries: int | None = None, timeout: float = 30, stream_timeout: float = 30):
        _check_token(name, bearer_token)
        self.name = name
        self.bearer_token = bearer_token
        self.rules = list(rules)
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.max_batches = max_batches
        self.sleep = sleep
        self.max_retries = max_retries
        self.timeout = timeout
        self.stream_timeout = stream_timeout
        self.client = tweepy.StreamingClient(bearer_token, return_type=dict, wait_on_rate_limit=False)
        self.adapter = install_adapter(self.client.session, api_base, timeout)
        self._retrier = _Retrier(name, sleep, 5 if max_retries is None else max_retries)

    # ----------------------------------------------------------------- rules

    def sync_rules(self) -> dict:
        """Make the stream's rules exactly :attr:`rules`: delete the others, add the missing ones.

        Returns
        -------
        dict
            ``{"added": n, "deleted": m, "kept": k}``, plus ``"errors"`` (a list
            of messages naming each rule X refused) when there were any.

        Raises
        ------
        AuthError, SourceError
        """
        current = self._retrier.call(lambda: self.client.get_rules(), "get stream rules")
        existing = (current or {}).get("data") or []
        wanted = list(dict.fromkeys((str(v), str(t) if t is not None else None) for v, t in self.rules))
        keep_ids: list[str] = []
        delete_ids: list[str] = []
        have: set[tuple[str, str | None]] = set()
        for rule in existing:
            key = (rule.get("value"), rule.get("tag"))
            if key in wanted and key not in have:
                have.add(key)
                keep_ids.append(str(rule["id"]))
            else:
                delete_ids.append(str(rule["id"]))
        to_add = [k for k in wanted if k not in have]
        out: dict[str, Any] = {"added": 0, "deleted": 0, "kept": len(keep_ids)}
        errors: list[str] = []
        try:
            if delete_ids:  # first, to free rule slots
                resp = self._retrier.call(lambda: self.client.delete_rules(delete_ids), "delete stream rules")
                summary = ((resp or {}).get("meta") or {}).get("summary") or {}
                out["deleted"] = int(summary.get("deleted", len(delete_ids)))
                errors += [f"could not delete a stream rule: {e}" for e in _rule_errors(resp)]
            if to_add:
                new = [tweepy.StreamRule(value=v, tag=t) for v, t in to_add]
                resp = self._retrier.call(lambda: self.client.add_rules(new), "add stream rules")
                summary = ((resp or {}).get("meta") or {}).get("summary") or {}
                out["added"] = int(summary.get("created", len((resp or {}).get("data") or [])))
                errors += [f"X refused a stream rule: {e}" for e in _rule_errors(resp)]
        except tweepy.HTTPException as exc:
            raise SourceError(self.name, f"updating the stream rules failed: {_status_text(exc)}: "
                                         f"{_api_detail(exc) or 'no detail given'}") from None
        if errors:
            out["errors"] = errors
            for e in errors:
                log.warning("%s: %s", self.name, e)
        return out

    # ----------------------------------------------------------------- stream

    def _open(self) -> requests.Response:
        params = {
            "expansions": ",".join(EXPANSIONS), "tweet.fields": ",".join(TWEET_FIELDS),
            "user.fields": ",".join(USER_FIELDS), "place.fields": ",".join(PLACE_FIELDS),
        }
        headers = {"Authorization": f"Bearer {self.bearer_token}", "User-Agent": self.client.user_agent}
        return self.client.session.get(X_HOST + self.STREAM_PATH, params=params, headers=headers,
                                       stream=True, timeout=(self.timeout, self.stream_timeout))

    def collect(self, cursor: dict | None) -> Iterator[Batch]:
        """Read the stream and yield batches until closed or ``max_batches`` is reached.

        Parameters
        ----------
        cursor
            ``{"last_seen": <iso time>}`` from the previous run, or None.

        Yields
        ------
        Batch
            Posts and accounts of the stream lines read; ``gaps`` for every
            period without a connection (``reason="disconnect"`` with its start
            and end, or ``"rate_limited"``); errors the stream reported.

        Raises
        ------
        AuthError
            The bearer token was refused.
        SourceError
            The stream answered an error a reconnect does not fix (e.g. 400), or
            ``max_retries`` connection attempts in a row failed.
        """
        pending = _Pending(self.name)
        yielded = 0
        gap: Gap | None = None
        if cursor and cursor.get("last_seen"):
            seen = parse_time(cursor["last_seen"])
            if seen:
                gap = Gap(source=self.name, start=seen, end=None, reason="disconnect",
                          detail="the stream was not connected between runs")
        failures = 0  # connection attempts in a row that gave nothing
        net_wait = 0.0  # X: back off network errors linearly, 0.25 s a time, up to 16 s
        http_wait = 0.0  # X: back off HTTP errors exponentially from 5 s (429: from 60 s), up to 320 s

        def out(batch: Batch) -> Batch:
            nonlocal yielded
            yielded += 1
            batch.cursor = {"last_seen": _now().isoformat()}
            return batch

        def done() -> bool:
            return self.max_batches is not None and yielded >= self.max_batches

        while True:
            try:
                resp = self._open()
            except requests.RequestException as exc:
                failures += 1
                net_wait = min(net_wait + 0.25, 16.0)
                wait, reason, problem = net_wait, "disconnect", f"could not connect: {type(exc).__name__}: {exc}"
            else:
                if resp.status_code != 200:
                    failures += 1
                    http_wait, reason, problem = self._refused(resp, http_wait)
                    wait = http_wait
                else:
                    lines_before = pending.lines
                    if gap is not None:  # connected again: the gap is over, say so at once
                        gap.end = _now()
                        pending.gaps.append(gap)
                        gap = None
                        yield out(pending.flush())
                        if done():
                            resp.close()
                            return
                    try:
                        for batch in self._read(resp, pending):
                            yield out(batch)
                            if done():
                                return
                        problem = pending.disconnect_detail or "the server closed the stream"
                    except (requests.RequestException, OSError) as exc:
                        problem = f"the connection dropped: {type(exc).__name__}: {exc}"
                    finally:
                        _close_stream(resp)
                    gap = Gap(source=self.name, start=pending.disconnected_at or _now(), end=None,
                              reason="disconnect", detail=problem)
                    pending.disconnect_detail = None
                    pending.disconnected_at = None
                    if not pending.empty:
                        yield out(pending.flush())
                        if done():
                            return
                    if pending.lines > lines_before:  # the connection worked: reconnect at once (almost)
                        failures, net_wait, http_wait = 0, 0.0, 0.0
                        log.warning("%s: %s; reconnecting", self.name, problem)
                        self.sleep(0.25)
                        continue
                    # connected, but not even a keep-alive came: back off as for an HTTP error
                    failures += 1
                    http_wait = min(max(http_wait * 2, 5.0), 320.0)
                    wait, reason = http_wait, "disconnect"
            if self.max_retries is not None and failures > self.max_retries:
                raise SourceError(self.name, f"could not connect to the filtered stream ({failures} attempts in a "
                                             f"row), last: {problem}")
            if gap is None:
                gap = Gap(source=self.name, start=_now(), end=None, reason=reason, detail=problem)
            elif reason == "rate_limited":
                gap.reason = "rate_limited"
            gap.detail = problem
            log.warning("%s: %s; reconnecting in %.2f s", self.name, problem, wait)
            self.sleep(wait)

    def _refused(self, resp: requests.Response, http_wait: float) -> tuple[float, str, str]:
        """Handle a non-200 answer to the stream request: raise, or return (wait, gap reason, problem)."""
        status = f"{resp.status_code} {resp.reason}"
        body = _short_body(resp)
        resp.close()
        if resp.status_code in (401, 403):
            raise AuthError(self.name, f"the X bearer token was refused ({status}) for the filtered "
                                       f"stream: {TOKEN_HINT}" + (f". X said: {body}" if body else ""))
        problem = f"the stream answered {status}" + (f": {body}" if body else "")
        if resp.status_code == 429:
            wait = max(http_wait * 2, 60.0)
            reset = resp.headers.get("x-rate-limit-reset", "")
            if reset.isdigit():
                wait = max(wait, float(reset) - time.time() + 1)
            return min(wait, MAX_RATE_LIMIT_WAIT), "rate_limited", problem
        if resp.status_code >= 500:
            return min(max(http_wait * 2, 5.0), 320.0), "disconnect", problem
        # 400 (bad parameters), 404, 409 (no rules) ...: reconnecting will not help
        raise SourceError(self.name, f"the filtered stream answered {status}: {body or 'no detail given'}")

    def _read(self, resp: requests.Response, pending: "_Pending") -> Iterator[Batch]:
        """Read one open stream, yielding batches as they fill up or age.

        The lines are read by a thread of this connection, so a batch is yielded once it is
        ``batch_seconds`` old even when no further line comes (X sends a keep-alive only every
        20 seconds: a spike's last posts on a quiet stream would otherwise wait for it). A read
        error of that thread is raised here.
        """
        lines: queue.Queue = queue.Queue()
        end = object()

        def pump() -> None:
            try:
                for line in resp.iter_lines(chunk_size=1024):
                    lines.put(line)
                lines.put(end)
            except BaseException as exc:  # the connection dropped, timed out or was closed under us
                lines.put(exc)

        threading.Thread(target=pump, name=f"{self.name}-reader", daemon=True).start()
        while True:
            wait = None
            if pending.since is not None and not pending.empty:
                wait = max(0.0, self.batch_seconds - (time.monotonic() - pending.since))
            try:
                raw = lines.get(timeout=wait)
            except queue.Empty:
                yield pending.flush()  # old enough, without waiting for the next line
                continue
            if raw is end:
                return
            if isinstance(raw, BaseException):
                raise raw
            pending.lines += 1
            if raw and raw.strip():
                pending.add_line(raw)
            if pending.ready(self.batch_size, self.batch_seconds):
                yield pending.flush()
            if pending.disconnect_detail:
                return  # X said it is closing this connection


class _Pending(BatchAccumulator):
    """Stream lines read but not yet yielded."""

    def __init__(self, source: str):
        self.disconnect_detail: str | None = None
        self.disconnected_at: datetime | None = None
        self.lines = 0  # lines read (keep-alives too), ever
        super().__init__(source)

    def _reset(self) -> None:
        super()._reset()
        self.since: float | None = None

    def add_line(self, raw: bytes) -> None:
        if self.since is None:
            self.since = time.monotonic()
        try:
            obj = json.loads(raw)
        except RecursionError:
            self.errors.append(f"{self.source}: a stream line was {TOO_DEEP}: {raw[:80]!r}")
            return
        except ValueError as exc:  # not JSON, or not UTF-8
            self.errors.append(f"{self.source}: a stream line is not JSON ({exc}): {raw[:80]!r}")
            return
        batch = line_to_batch(obj, self.source, None) if isinstance(obj, dict) else Batch(
            source=self.source, errors=[f"a stream line is not a JSON object: {raw[:80]!r}"])
        gaps, batch.gaps = batch.gaps, []
        self.add(batch)
        for g in gaps:  # a disconnect notice: the source records the gap itself, with its end
            if g.reason == "disconnect":
                self.disconnect_detail = g.detail
                self.disconnected_at = _now()
            else:
                self.gaps.append(g)

    def ready(self, batch_size: int, batch_seconds: float) -> bool:
        if len(self.posts) >= batch_size:
            return True
        return self.since is not None and not self.empty and time.monotonic() - self.since >= batch_seconds

    def flush(self) -> Batch:  # type: ignore[override]
        return super().flush(fetched_at=_now())


def _close_stream(resp: requests.Response) -> None:
    """Close a stream response whose lines a reader thread may still be waiting on: the socket is
    shut down first (the reader wakes up with an error and ends), else closing would wait for the
    reader's read (up to ``stream_timeout``) on the buffered file they share."""
    # urllib3's response -> http.client's -> its buffered reader -> the SocketIO -> the socket
    # (no public way to it; without it, closing just waits)
    sock = getattr(getattr(getattr(getattr(resp.raw, "_fp", None), "fp", None), "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed
    resp.close()


def _rule_errors(resp: Any) -> list[str]:
    out = []
    for e in (resp or {}).get("errors") or [] if isinstance(resp, dict) else []:
        if isinstance(e, dict):
            detail = "; ".join(str(d) for d in e.get("details") or []) or e.get("detail") or e.get("title") or ""
            value = e.get("value")
            out.append(f"{value!r}: {detail}" if value else str(detail))
    return out


def _short_body(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("title")
        if not detail and isinstance(body.get("errors"), list) and body["errors"]:
            first = body["errors"][0]
            detail = first.get("message") or first.get("detail") if isinstance(first, dict) else str(first)
        return str(detail or "")[:300]
    return str(body)[:200]
