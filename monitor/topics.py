"""Matching posts against the configured topics.

A post is turned into a :class:`monitor.query.Document` once and tested
against every topic's compiled query; the result says which topics matched and
which query terms made them match (stored with the post, so "why is this post
on the topic?" always has an answer).
"""

from __future__ import annotations

from typing import Iterable

from monitor.config import Topic
from monitor.items import Post
from monitor.query import Document, document


# Language codes that say nothing about the language (X's "und", "zxx", and its q* codes).
UNKNOWN_LANGS = frozenset({"", "und", "zxx", "mul"})


class Matcher:
    """Match posts against a set of topics."""

    def __init__(self, topics: dict[str, Topic] | Iterable[Topic]):
        self.topics = dict(topics) if isinstance(topics, dict) else {t.id: t for t in topics}
        self._compiled = [(t.id, t.query, frozenset(t.languages)) for t in self.topics.values()]

    def document(self, post: Post, author_handle: str | None = None) -> Document:
        text = post.text if not post.title or post.title in post.text else f"{post.title}\n{post.text}"
        return document(text, hashtags=post.hashtags, mentions=post.mention_handles, links=post.links,
                        author=author_handle, lang=post.lang)

    def match_document(self, doc: Document) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        lang = (doc.lang or "").lower()
        if lang in UNKNOWN_LANGS or lang.startswith("q"):  # X's und/zxx/qme/qht...: not a language
            lang = ""
        lang = lang.split("-")[0]
        for tid, query, langs in self._compiled:
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
