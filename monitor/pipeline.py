"""The processing stage: clean, match topics, score sentiment, store, roll up.

``process_batch`` is the one function every source's batches go through, in
process (embedded mode, ``earshot import``) or in a Celery task. It is a plain
function of a batch and a store, so it is tested without a broker. After a
batch is committed, the functions registered in :data:`AFTER_BATCH` run (the
alert detectors hook in there); a failing hook is logged and never loses the
batch.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Callable, Mapping

from monitor import sentiment
from monitor.clean import clean_batch
from monitor.items import RETWEET, Batch
from monitor.store import Scored, Store, WriteResult, forget_oldest
from monitor.topics import Matcher

log = logging.getLogger(__name__)

# Called as hook(store, batch, result) after each committed batch with new (or promoted) posts.
AFTER_BATCH: list[Callable[[Store, Batch, WriteResult], None]] = []


class _Memo:
    """What a worker already worked out for a post, by post key: [topics matched or None, sentiment].

    X sends the post a retweet, quote or reply refers to on every page that refers to it (its
    ``includes.tweets``), and a popular post is retweeted all day, so the same post arrives in
    batch after batch. Its text does not change (an edit is a new post), so its sentiment and
    topics are the same each time: a worker works them out once. Keyed by the post, never by
    the text alone. One memo per :class:`~monitor.topics.Matcher` (a new topic configuration
    starts afresh); it keeps the most recent :attr:`LIMIT` posts (about 0.4 kB each).
    """

    LIMIT = 100_000

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], list] = {}
        self._lock = threading.Lock()

    def trim(self) -> None:
        if len(self.entries) > self.LIMIT:
            with self._lock:
                forget_oldest(self.entries, self.LIMIT)


_MEMOS: "weakref.WeakKeyDictionary[Matcher, _Memo]" = weakref.WeakKeyDictionary()


def _memo(matcher: Matcher) -> _Memo:
    memo = _MEMOS.get(matcher)
    if memo is None:
        memo = _MEMOS.setdefault(matcher, _Memo())
    return memo


def score_batch(batch: Batch, matcher: Matcher, skip: Mapping[tuple[str, str], bool] | None = None) -> list[Scored]:
    """Match topics and score sentiment for the posts of ``batch`` (cleaned: :func:`monitor.clean.clean_batch`),
    but those in ``skip``.

    A retweet carries the retweeted post's words, and X truncates them ("RT @a: ...");
    when the original is in the batch, the retweet is matched and scored on the
    original's full text, hashtags, mentions and links, as the platform itself does.
    A post seen only as the target of a retweet, quote or reply (X's ``includes.tweets``) is
    scored but not tagged, so it is matched only when a retweet in the batch takes its words.
    A post this worker has scored before is not scored again (see :class:`_Memo`). ``skip``
    holds the posts already stored (:meth:`Store.stored_post_keys`: True when stored as collected
    data); they are left out of the result, but for a post stored only as a reference that
    arrives now as collected data: it is scored, matched and kept, so the store promotes it.
    """
    handles: dict[str, str | None] | None = None  # author handles (for @handle and author: terms), on first need
    by_id = {p.platform_id: p for p in batch.posts}
    memo = _memo(matcher)
    entries = memo.entries
    out = []
    for post in batch.posts:
        key = (post.platform, post.platform_id)
        if skip:
            done = skip.get(key)
            if done or (done is not None and post.extra.get("referenced_only")):
                continue
        # A post a source saw only as the target of a retweet, quote or reply (X's includes.tweets)
        # is stored for its author and edges, but was not collected by any topic's query in this
        # window: it is not tagged, so it does not count in the topic's volume.
        content = post
        if post.kind == RETWEET and post.references and post.references[0].platform_id in by_id:
            content = by_id[post.references[0].platform_id]
            key = (content.platform, content.platform_id)
        tagged = not post.extra.get("referenced_only")
        entry = entries.get(key)
        if entry is None or (tagged and entry[0] is None):
            if entry is None:
                entry = entries[key] = [None, sentiment.score(content.full_text())]
            if tagged:
                if handles is None:
                    handles = {a.platform_id: (a.handle or "").lower() or None for a in batch.accounts}
                entry[0] = matcher.match(content, handles.get(content.author_id))
        out.append(Scored(post, entry[1], entry[0] if tagged else {}))
    memo.trim()
    return out


def process_batch(batch: Batch, store: Store, matcher: Matcher, *, run_hooks: bool = True,
                  claim: Callable | None = None) -> WriteResult:
    """Store one batch with its cursor in one transaction; then run the after-batch hooks.

    The batch is cleaned first (:func:`monitor.clean.clean_batch`): no field a stranger sent
    reaches the store with a NUL, a control character or more than its column holds.
    ``claim`` is passed to :meth:`~monitor.store.Store.write_batch` (a kept batch's claim, see
    :mod:`monitor.durable`).
    """
    clean_batch(batch)
    # posts this worker stored before (X repeats referenced posts on every page) are not scored again
    scored = score_batch(batch, matcher, skip=store.stored_post_keys())
    result = store.write_batch(
        scored, batch.accounts, source=batch.source, cursor=batch.cursor,
        gaps=batch.gaps, errors=batch.errors, received=len(batch.posts), claim=claim,
    )
    if run_hooks and result.posts_counted:
        for hook in AFTER_BATCH:
            try:
                hook(store, batch, result)
            except Exception:  # a hook must never cost us the batch
                log.exception("after-batch hook %s failed", getattr(hook, "__name__", hook))
    return result
