"""Matching posts against the configured topics.

A post is turned into a :class:`monitor.query.Document` once and tested
against every topic's compiled query; the result says which topics matched and
which query terms made them match (stored with the post, so "why is this post
on the topic?" always has an answer).

Most posts can match only one or two of the topics: the matcher indexes what
each query needs (:class:`monitor.query.Needs`: a word, a wildcard stem, a
hashtag or a handle a matching post must hold) and tests a post only against
the topics whose needs it meets. The index only skips tests that would fail.
"""

from __future__ import annotations

from typing import Iterable

from monitor.config import Topic
from monitor.items import Post
from monitor.query import Document, Needs, document


# Language codes that say nothing about the language (X's "und", "zxx", and its q* codes).
UNKNOWN_LANGS = frozenset({"", "und", "zxx", "mul"})


class Matcher:
    """Match posts against a set of topics."""

    def __init__(self, topics: dict[str, Topic] | Iterable[Topic]):
        self.topics = dict(topics) if isinstance(topics, dict) else {t.id: t for t in topics}
        self._compiled = [(t.id, t.query, frozenset(t.languages)) for t in self.topics.values()]
        self._index([t.query.needs for t in self.topics.values()])

    _STEM_KEY = 3  # stems are looked up by their first letters

    def _index(self, needs: list[Needs | None]) -> None:
        """Bit masks of topics by needed word, stem, hashtag and handle; ``_always`` for the unindexable."""
        self._always = 0
        words: dict[str, int] = {}
        tags: dict[str, int] = {}
        handles: dict[str, int] = {}
        stems: dict[str, list[tuple[str, int]]] = {}
        short: list[tuple[str, int]] = []  # stems shorter than the key
        for i, n in enumerate(needs):
            bit = 1 << i
            if n is None:
                self._always |= bit
                continue
            for table, keys in ((words, n.words), (tags, n.tags), (handles, n.handles)):
                for k in keys:
                    table[k] = table.get(k, 0) | bit
            for stem in n.stems:
                if len(stem) >= self._STEM_KEY:
                    stems.setdefault(stem[:self._STEM_KEY], []).append((stem, bit))
                else:
                    short.append((stem, bit))
        self._words, self._tags, self._handles, self._stems, self._short = words, tags, handles, stems, short
        self._word_keys, self._tag_keys = frozenset(words), frozenset(tags)

    def _candidates(self, doc: Document) -> int:
        """The bit mask of topics whose needs ``doc`` meets."""
        mask = self._always
        words = self._words
        for w in self._word_keys.intersection(doc.token_set):
            mask |= words[w]
        if self._tag_keys and doc.hashtags:
            tags = self._tags
            for t in self._tag_keys.intersection(doc.hashtags):
                mask |= tags[t]
        if self._handles:
            handles = self._handles
            for h in doc.mentions:
                mask |= handles.get(h, 0)
            if doc.author:
                mask |= handles.get(doc.author, 0)
        if self._stems or self._short:
            stems, key = self._stems, self._STEM_KEY
            for tok in doc.token_set:
                for stem, bit in stems.get(tok[:key], ()):
                    if tok.startswith(stem):
                        mask |= bit
                for stem, bit in self._short:
                    if tok.startswith(stem):
                        mask |= bit
        return mask

    def document(self, post: Post, author_handle: str | None = None) -> Document:
        text = post.full_text("\n")
        return document(text, hashtags=post.hashtags, mentions=post.mention_handles, links=post.links,
                        author=author_handle, lang=post.lang)

    def match_document(self, doc: Document) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        lang = (doc.lang or "").lower()
        if lang in UNKNOWN_LANGS or lang.startswith("q"):  # X's und/zxx/qme/qht...: not a language
            lang = ""
        lang = lang.split("-")[0]
        candidates = self._candidates(doc)
        for i, (tid, query, langs) in enumerate(self._compiled):
            if not candidates >> i & 1:
                continue
            if langs and lang and lang not in langs:
                continue
            terms = query.match(doc)
            if terms is not None:
                out[tid] = terms
        return out

    def match(self, post: Post, author_handle: str | None = None) -> dict[str, list[str]]:
        """Topic id -> the query terms that matched, for every topic the post is on."""
        return self.match_document(self.document(post, author_handle))

    def match_text(self, text: str, *, author: str | None = None, lang: str | None = None) -> dict[str, list[str]]:
        """Match free text (``earshot topics test``)."""
        return self.match_document(document(text, author=author, lang=lang))
