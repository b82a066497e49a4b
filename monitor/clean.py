"""Cleaning what strangers send, in one place, before anything is matched, stored or shown.

Every source's batches pass through :func:`clean_batch` (``monitor.pipeline.process_batch`` calls
it first), so no field of a post, an account, an error or a gap reaches the store with a NUL (which
PostgreSQL refuses in text, failing the whole batch), another control character, an unpaired
surrogate (which cannot be encoded) or a value longer than its column. (Numbers are not
cleaned: a count no column holds is refused by the store and the post quarantined with the reason,
see :mod:`monitor.durable`.) The same :func:`clean_text` makes stranger text safe to print on a
terminal (:func:`display`): an escape sequence loses its ESC and cannot recolour, move or retitle
the user's terminal.

- Free text (a post's text, an account's description) keeps newlines and tabs.
- One-line fields (names, handles, ids, URLs, languages, titles) have newlines, tabs and the
  Unicode line and paragraph separators turned into spaces.
- Format characters (zero-width joiners in emoji, bidi marks in Arabic and Hebrew text) are kept:
  they are text.
- Text is NFC-normalised.
- An id longer than its column keeps its start and gains a hash of the whole, so distinct long
  ids (a feed entry's guid can be a long URL) stay distinct and the same id always maps the same.

>>> clean_text("Jo\\x00Reporter")
'JoReporter'
>>> clean_text("line one\\nline two\\x1b[31m", line=True)
'line one line two[31m'
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from monitor import models as m
from monitor.items import Account, Batch, Post

# C0/C1 control characters but newline and tab, and unpaired surrogates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# What a one-line field turns into spaces.
_BREAKS = re.compile("[\t\n\u2028\u2029]+")

MAX_TEXT = 20_000  # characters kept of one post (a pasted novel is not a post)
MAX_TITLE = 2_000
MAX_DESCRIPTION = 5_000


def _length(table, column: str) -> int | None:
    return getattr(table.c[column].type, "length", None)


def clean_text(value: str | None, *, line: bool = False, limit: int | None = None, strip: bool = True) -> str | None:
    """``value`` without control characters (but newline and tab unless ``line``), NFC, at most ``limit`` long
    (a one-line field whose breaks became spaces is stripped, unless ``strip`` is False)."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if not value.isprintable():  # a control character, a surrogate, a line break or tab (or a format character)
        if _CONTROL.search(value):
            value = _CONTROL.sub("", value)
        if line and _BREAKS.search(value):
            value = _BREAKS.sub(" ", value)
            if strip:
                value = value.strip()
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    if limit is not None and len(value) > limit:
        value = value[:limit]
    return value


def clean_id(value: str | None, limit: int = 128) -> str | None:
    """An identifier as stored: one line, clean, and at most ``limit`` characters (a longer one keeps
    its start and a hash of the whole, so it stays distinct and always maps the same)."""
    value = clean_text(value, line=True)
    if value is None or len(value) <= limit:
        return value
    digest = hashlib.sha1(value.encode("utf-8")).hexdigest()
    return f"{value[:limit - len(digest) - 1]}~{digest}"


def display(value: object) -> str:
    """Stranger text (a name, a handle, a post) made safe to print on a terminal, on one line."""
    return clean_text("" if value is None else str(value), line=True, strip=False) or ""


_POST_ID = _length(m.posts, "platform_id")
_ACCOUNT_ID = _length(m.accounts, "platform_id")
_SOURCE = _length(m.posts, "source")
_LANG = _length(m.posts, "lang")
_HANDLE = _length(m.accounts, "handle")
_NAME = _length(m.accounts, "name")
_LOCATION = _length(m.accounts, "location")


def clean_post(p: Post) -> Post:
    """Clean every text field of a post in place (its text keeps newlines; hashtags and handles are
    lower case without ``#`` and ``@``)."""
    p.platform_id = clean_id(p.platform_id, _POST_ID)
    p.author_id = clean_id(p.author_id, _ACCOUNT_ID)
    p.text = clean_text(p.text or "", limit=MAX_TEXT)
    if p.title:
        p.title = clean_text(p.title, line=True, limit=MAX_TITLE)
    p.lang = clean_text(p.lang, line=True, limit=_LANG)
    p.url = clean_text(p.url, line=True)
    p.source = clean_text(p.source, line=True, limit=_SOURCE)
    p.conversation_id = clean_id(p.conversation_id, _POST_ID)
    p.edit_of = clean_id(p.edit_of, _POST_ID)
    p.hashtags = sorted({clean_text(h, line=True).lower().lstrip("#") for h in p.hashtags if h} - {""})
    p.mention_handles = [h for h in (clean_text(h, line=True).lower().lstrip("@") for h in p.mention_handles if h) if h]
    p.mentions = [clean_id(x, _ACCOUNT_ID) for x in p.mentions if x]
    p.links = [clean_text(x, line=True) for x in p.links if x]
    p.withheld = [clean_text(x, line=True) for x in p.withheld if x]
    for r in p.references:
        r.platform_id = clean_id(r.platform_id, _POST_ID)
        r.author_id = clean_id(r.author_id, _ACCOUNT_ID)
    return p


def clean_account(a: Account) -> Account:
    """Clean every text field of an account in place."""
    a.platform_id = clean_id(a.platform_id, _ACCOUNT_ID)
    a.handle = clean_text(a.handle, line=True, limit=_HANDLE) or None
    a.name = clean_text(a.name, line=True, limit=_NAME) or None
    a.description = clean_text(a.description, limit=MAX_DESCRIPTION) or None
    a.url = clean_text(a.url, line=True) or None
    a.location = clean_text(a.location, line=True, limit=_LOCATION) or None
    return a


def clean_batch(batch: Batch) -> Batch:
    """Clean every post, account, error and gap of ``batch`` in place (see the module's docstring)."""
    for p in batch.posts:
        clean_post(p)
    for a in batch.accounts:
        clean_account(a)
    batch.source = clean_text(batch.source, line=True, limit=_SOURCE)
    batch.errors = [clean_text(e, limit=4000) for e in batch.errors]
    for g in batch.gaps:
        g.source = clean_text(g.source, line=True, limit=_SOURCE)
        g.detail = clean_text(g.detail, limit=4000)
    return batch
