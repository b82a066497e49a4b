"""Topic queries: the boolean keyword language press officers write, and matching posts against it.

The syntax is the one of commercial listening tools (Brandwatch, Talkwalker, Meltwater)::

    ("waiting list*" OR "waiting time*" OR backlog OR #nhs) AND (hospital OR A&E OR nhs)
        NOT (strike NEAR/3 "junior doctors") NOT author:spambot lang:en

Operators
---------
``AND``, ``OR``, ``NOT``
    Upper case only: lower-case ``and``/``or``/``not`` are ordinary words. Precedence is
    ``NOT`` > ``AND`` > ``OR``, so ``a OR b AND c`` means ``a OR (b AND c)`` and
    ``NOT a b`` means ``(NOT a) AND b``. Parentheses group.
implicit AND
    Terms written side by side are ANDed: ``nurses pay`` means ``nurses AND pay``, and
    ``nhs NOT strike`` means ``nhs AND NOT strike``.
``-term``
    A leading minus is short for ``NOT`` (as on X): ``nhs -strike``, ``-(a OR b)``. A minus inside
    a word is part of the word (``covid-19``).
``"exact phrase"``
    Consecutive words. Straight or curly quotes. Inside quotes ``#``/``@`` and upper-case
    ``AND``/``OR`` are just words.
``a NEAR/n b``
    Both within ``n`` words of each other, in either order: at most ``n`` words *between* them
    (``NEAR/0`` is "next to each other"). Each side is a word, a phrase, a wildcard, or a
    parenthesised OR-group of those: ``(nurse* OR midwife) NEAR/5 (pay OR "pay rise")``. The two
    sides must be different occurrences (``nhs NEAR/3 nhs`` needs "nhs" twice). NEAR binds tighter
    than NOT and cannot be chained.
``#hashtag``
    Matches only the hashtag, not the plain word (``#nhs`` does not match "the nhs").
``@handle``
    Matches a post that mentions the account **or** is written by it.
``vaccin*``
    Trailing wildcard: any word starting with the stem (at least 3 letters before ``*``).
    Works inside phrases (``"waiting list*"``) and on hashtags (``#vaccin*``).
``site:example.com``
    A link in the post goes to that domain or one of its subdomains (``site:nhs.uk`` matches
    ``www.england.nhs.uk``). ``url:`` is accepted as another name for it.
``author:handle``
    The post's author handle (without ``@``). ``from:`` is accepted as another name for it.
``lang:en``
    The post's language (``lang:en`` also matches ``en-GB``).

A query must look for something: one made only of ``NOT`` terms (or with an ``OR`` branch
that is only ``NOT`` terms, like ``nhs OR NOT strike``) would match almost every post and is
rejected.

Matching words
--------------
Text and query are cut into words the same way (:func:`tokenize`): case-insensitively, accents
folded (``café`` = ``cafe``, ``Straße`` = ``strasse``), on word boundaries: ``nhs`` matches "NHS",
"#NHS" and "NHS's" but not "NHSX" or "nhs.uk" links (links are not words: use ``site:``).

* Possessive ``'s`` is dropped ("doctor's" is the word ``doctor``, "NHS's" is ``nhs``); any other
  apostrophe separates words ("doctors'" is ``doctors``, "O'Neill" is ``o`` ``neill``).
* Every other character that is not a letter or a digit separates words, in text and in
  queries alike. A query word that contains such characters therefore becomes a phrase of its
  parts: ``A&E`` is the phrase ``"a e"`` and matches "A&E", "A & E" and "a+e"; ``covid-19``
  matches "COVID-19" and "covid 19".
* ``_`` separates words too ("@NHS_England" holds the words ``nhs`` and ``england``); hashtags and
  handles as such keep it (``#nhs_strike``).
* Words of @mentions and #hashtags in the text are words of the text (``nhs`` matches "#NHS").
* HTML entities in post text are decoded (X sends ``&amp;``).
* Scripts written without spaces (Chinese, Japanese, Thai) are not split into words.

X rules
-------
:meth:`Query.to_x` translates to X API v2 search/filtered-stream syntax, and
:meth:`Query.x_rules` splits that into rules of at most 512 characters. The X rules are a
*prefilter*: every post collected from X is matched again locally, exactly. ``NEAR/n`` becomes
an AND of its sides (broader); a wildcard becomes an OR of the stem with common English
suffixes (``vaccin*`` → ``vaccine``, ``vaccines``, ``vaccinated``, ``vaccination``, ...), which can
miss rare forms; ``@handle`` becomes ``(@handle OR from:handle)``; a ``NEAR`` inside ``NOT`` is
left out of the X rule (the local match applies it). X does not promise that the keyword ``nhs``
matches "#NHS": add ``#nhs`` to the query if X should deliver hashtag-only posts. Splitting cuts
a top-level OR into chunks and cuts the OR factors of an AND into chunks whose pairings become
rules (NOT parts and other factors go into every rule).

Errors and speed
----------------
A bad query raises :class:`QueryError` (a ``ValueError``) with ``position``, the 0-based offset,
and a message naming the 1-based column within its line ("unclosed quote starting at column 12").

A query is compiled once into closures: words are tested by set operations on
``Document.token_set`` (one C call for all the plain words of an OR or an AND); positions are
looked at only for phrases and NEAR, and only when their words are all present. A 25-term
topic costs about 1-5 µs per post that does not match; :meth:`Query.match` explains a match
with a second, slower pass (about 10 µs) that runs only for posts that match.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence
from urllib.parse import urlsplit

__all__ = ["QueryError", "Document", "Query", "tokenize", "document", "parse"]


class QueryError(ValueError):
    """A query that cannot be parsed, with where the problem is.

    Attributes
    ----------
    message : str
        What is wrong, in words a press officer understands.
    position : int
        0-based character offset into the query text.
    column : int
        1-based column of ``position`` in its line (``str(err)`` names it).
    line : int
        1-based line of ``position`` in the query text (queries may span lines in YAML).
    query : str or None
        The query text, when known.
    """

    def __init__(self, message: str, position: int = 0, query: str | None = None, hint: str | None = None):
        self.message = message
        self.position = max(0, int(position))
        self.query = query
        self.hint = hint
        before = query[: self.position] if query is not None else ""
        self.line = before.count("\n") + 1
        self.column = self.position - (before.rfind("\n") + 1) + 1 if query is not None else self.position + 1
        text = f"{message} at column {self.column}"
        if hint:
            text += f": {hint}"
        super().__init__(text)

    def __reduce__(self) -> tuple:
        return (QueryError, (self.message, self.position, self.query, self.hint))

    def pointer(self) -> str:
        """The offending line of the query with a caret under the problem (for CLIs and logs)."""
        if self.query is None:
            return str(self)
        line = self.query.split("\n")[self.line - 1]
        return f"{line}\n{' ' * (self.column - 1)}^"


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------

# The blocks of the BMP that hold combining marks (Unicode 14/15); scanning only these keeps import fast.
_MARK_BLOCKS = ((0x300, 0x2000), (0x20D0, 0x2100), (0x2CE0, 0x2E00), (0x3000, 0x3100), (0xA600, 0xAC00),
                (0xFB00, 0xFE30))


def _combining_marks() -> str:
    """A regex character-class body of the combining marks (Mn, Mc, Me) of the BMP."""
    ranges: list[list[int]] = []
    for cp in (cp for a, b in _MARK_BLOCKS for cp in range(a, b)):
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


_MARKS = _combining_marks()
# Accents to drop after NFKD: the combining diacritical blocks (not the vowel signs of Indic scripts).
_FOLD: dict[int, str | None] = {cp: None for block in ((0x300, 0x370), (0x1AB0, 0x1B00), (0x1DC0, 0x1E00),
                                                      (0x20D0, 0x2100), (0xFE20, 0xFE30))
                                for cp in range(*block)}
_FOLD.update({ord(k): v for k, v in {"ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe",
                                      "þ": "th", "ð": "d", "ŀ": "l", "_": " "}.items()})
_APOSTROPHES = str.maketrans({c: "'" for c in "\u2019\u2018\u02bc\u02b9\u00b4\u0060\uff07\u201b\u2032"})
_WORD = re.compile(f"[\\w{_MARKS}]+")
# ASCII letters and digits to lower case, every other ASCII character to a space (what _WORD splits on)
_ASCII_WORDS = str.maketrans({i: chr(i).lower() if chr(i).isalnum() else " " for i in range(128)})
_POSSESSIVE = re.compile(r"(?<=\w)'s(?!\w)")


def _fold(text: str) -> str:
    """Lower-case and fold accents: ``"Café"`` → ``"cafe"``, ``"STRASSE"``/``"Straße"`` → ``"strasse"``."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.casefold().translate(_APOSTROPHES))
    return text.translate(_FOLD)


def tokenize(text: str) -> list[str]:
    """Cut text into lower-case, accent-folded word tokens.

    Parameters
    ----------
    text : str
        Any text: a post or a query term.

    Returns
    -------
    list of str
        The words in order. Letters and digits (any script) make words; everything else
        separates them. A possessive ``'s`` is dropped.

    Examples
    --------
    >>> tokenize("The NHS's #A&E waits — café-owners' view")
    ['the', 'nhs', 'a', 'e', 'waits', 'cafe', 'owners', 'view']
    """
    if text.isascii() and "'" not in text:  # most posts: one C pass maps every non-word character to a space
        return text.translate(_ASCII_WORDS).split()
    folded = _fold(text)
    if "_" in folded:
        folded = folded.replace("_", " ")
    if "'" in folded:
        folded = _POSSESSIVE.sub("", folded)
    return _WORD.findall(folded)


def _norm_handle(handle: str | None) -> str:
    return _fold((handle or "").strip().lstrip("@")).strip()


def _norm_tag(tag: str) -> str:
    return _fold((tag or "").strip().lstrip("#")).strip()


# ---------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------

class Document:
    """A post as the matcher sees it; build it once per post with :func:`document`.

    Read-only by convention (a plain class with slots: one is built for every post, and a
    frozen dataclass costs several times as much to make).

    Attributes
    ----------
    tokens : tuple of str
        Words of the text in order (see :func:`tokenize`), without links.
    token_set : frozenset of str
        The same words as a set, for the fast first check.
    hashtags : frozenset of str
        Hashtags, folded, without ``#``.
    mentions : frozenset of str
        Mentioned handles, folded, without ``@``.
    domains : tuple of str
        Domains of the post's links, lower case, without ``www.``.
    author : str or None
        The author's handle, folded, without ``@``.
    lang : str or None
        The post's language code, lower case.
    """

    __slots__ = ("tokens", "token_set", "hashtags", "mentions", "domains", "author", "lang", "_sorted")
    _FIELDS = __slots__[:-1]

    def __init__(self, tokens: tuple[str, ...], token_set: frozenset[str], hashtags: frozenset[str],
                 mentions: frozenset[str], domains: tuple[str, ...], author: str | None, lang: str | None):
        self.tokens = tokens
        self.token_set = token_set
        self.hashtags = hashtags
        self.mentions = mentions
        self.domains = domains
        self.author = author
        self.lang = lang
        self._sorted: tuple[str, ...] | None = None

    @property
    def _sorted_tokens(self) -> tuple[str, ...]:
        """Distinct words, sorted (wildcards look up their stem by bisection); made on first need."""
        if self._sorted is None:
            self._sorted = tuple(sorted(self.token_set))
        return self._sorted

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Document(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS) + ")"


_URL = re.compile(r"(?:\bhttps?://|\bwww\.)[^\s<>\"'“”‘’]+", re.IGNORECASE)
_URL_TRAIL = ".,;:!?)]}>…"
_HASHTAG = re.compile(f"(?<![\\w&#{_MARKS}])[#＃]([\\w{_MARKS}]+)")
_MENTION = re.compile(r"(?<![\w@])[@＠](\w+(?:[.\-]\w+)*(?:@\w+(?:[.\-]\w+)*)?)")


_PLAIN_HOST = re.compile(r"[A-Za-z0-9.\-]+")
_HOST_END = re.compile(r"[/?#]")


def _domain(url: str) -> str | None:
    url = url.strip().rstrip(_URL_TRAIL)
    if not url:
        return None
    scheme = url[:8].lower()
    if scheme.startswith(("http://", "https://")):  # the common case, without urlsplit
        rest = url[url.index("://") + 3:]
        end = _HOST_END.search(rest)
        host = rest[:end.start()] if end else rest
        if _PLAIN_HOST.fullmatch(host):  # no port, user, IPv6 or odd characters: urlsplit would agree
            host = host.lower().rstrip(".")
            return (host[4:] if host.startswith("www.") else host) or None
    if "://" not in url[:12]:
        url = "http://" + url
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host or None


def document(
    text: str,
    *,
    hashtags: Iterable[str] = (),
    mentions: Iterable[str] = (),
    links: Iterable[str] = (),
    author: str | None = None,
    lang: str | None = None,
) -> Document:
    """Build the matching view of one post.

    Parameters
    ----------
    text : str
        The post's text (HTML entities such as ``&amp;`` are decoded). Links in it are taken
        as links, not words; ``#tags`` and ``@handles`` in it are added to the hashtags and
        mentions (and their words stay words of the text).
    hashtags, mentions : iterable of str
        What the platform reported, with or without ``#``/``@``, any case.
    links : iterable of str
        URLs of the post (expanded); their domains are kept without ``www.``.
    author : str, optional
        The author's handle.
    lang : str, optional
        The post's language code.

    Returns
    -------
    Document
    """
    text = text or ""
    # each pattern is looked for only in text holding the character it starts with: most posts
    # have no entity, link, hashtag or mention, and a regex scan costs more than a `in`
    if "&" in text:
        text = html.unescape(text)
    urls = _URL.findall(text) if "://" in text or "ww." in text.lower() else ()
    if urls:
        text = _URL.sub(" ", text)
    tags = {_norm_tag(h) for h in hashtags}
    if "#" in text or "＃" in text:
        tags.update(_fold(t) for t in _HASHTAG.findall(text) if not t.isdigit())
    tags.discard("")
    handles = {_norm_handle(m) for m in mentions}
    if "@" in text or "＠" in text:
        handles.update(_fold(m) for m in _MENTION.findall(text))
    handles.discard("")
    domains: dict[str, None] = {}
    for url in (*links, *urls):
        d = _domain(url) if url else None
        if d:
            domains[d] = None
    tokens = tuple(tokenize(text))
    lang = (lang or "").strip().lower() or None
    return Document(tokens=tokens, token_set=frozenset(tokens), hashtags=frozenset(tags),
                    mentions=frozenset(handles), domains=tuple(domains), author=_norm_handle(author) or None,
                    lang=lang)


_EMPTY = document("")

# ---------------------------------------------------------------------------------------------
# The syntax tree, compiled to closures
# ---------------------------------------------------------------------------------------------

_Check = Callable[[Document], bool]


class _Node:
    pos: int = 0
    test: _Check
    has_not: bool = False  # a NOT somewhere inside (else nothing positive can explain it being false)


class _Atom(_Node):
    source: str  # as written in the query


class _Text(_Atom):
    """A word or phrase: a run of tokens, each either exact or a prefix (wildcard)."""

    def __init__(self, tokens: Sequence[str], prefix: Sequence[bool], source: str, pos: int, phrase: bool):
        self.tokens = tuple(tokens)
        self.prefix = tuple(prefix)
        self.source = source
        self.pos = pos
        self.phrase = phrase
        self.exact = frozenset(t for t, p in zip(self.tokens, self.prefix) if not p)
        anchors = [i for i, p in enumerate(self.prefix) if not p]
        self.anchor = anchors[0] if anchors else -1
        self.checks = tuple((i, t, p) for i, (t, p) in enumerate(zip(self.tokens, self.prefix)) if i != self.anchor)
        self.test = self._compile()

    @property
    def simple(self) -> bool:
        """One exact token: matched by set membership."""
        return len(self.tokens) == 1 and not self.prefix[0]

    def _compile(self) -> _Check:
        if self.simple:
            tok = self.tokens[0]
            return lambda d: tok in d.token_set
        if len(self.tokens) == 1:
            stem = self.tokens[0]

            def prefix_test(d: Document) -> bool:
                s = d._sorted_tokens
                i = bisect_left(s, stem)
                return i < len(s) and s[i].startswith(stem)
            return prefix_test
        exact = self.exact

        def phrase_test(d: Document) -> bool:
            return exact <= d.token_set and bool(self.starts(d, first=True))
        return phrase_test

    def starts(self, d: Document, first: bool = False) -> list[int]:
        """Positions in ``d.tokens`` where this word/phrase begins (only the first if ``first``)."""
        toks = d.tokens
        n, length = len(toks), len(self.tokens)
        if self.anchor >= 0:
            k = self.anchor
            candidates: Iterable[int] = (i - k for i in _occurrences(toks, self.tokens[k]))
        else:
            candidates = range(n - length + 1)
        out = []
        for s in candidates:
            if s < 0 or s + length > n:
                continue
            for i, t, p in self.checks:
                w = toks[s + i]
                if not (w.startswith(t) if p else w == t):
                    break
            else:
                out.append(s)
                if first:
                    break
        return out


def _occurrences(tokens: tuple[str, ...], word: str) -> Iterable[int]:
    """Positions of ``word`` in ``tokens`` (a scan in C: cheaper than an index for a post's few words)."""
    i = -1
    try:
        while True:
            i = tokens.index(word, i + 1)
            yield i
    except ValueError:
        return


class _Tag(_Atom):
    def __init__(self, tag: str, prefix: bool, source: str, pos: int):
        self.tag, self.prefix, self.source, self.pos = tag, prefix, source, pos
        if prefix:
            self.test = lambda d: any(h.startswith(tag) for h in d.hashtags)
        else:
            self.test = lambda d: tag in d.hashtags


class _Mention(_Atom):
    def __init__(self, handle: str, source: str, pos: int):
        self.handle, self.source, self.pos = handle, source, pos
        self.test = lambda d: handle in d.mentions or d.author == handle


class _Field(_Atom):
    def __init__(self, name: str, value: str, source: str, pos: int):
        self.name, self.value, self.source, self.pos = name, value, source, pos
        if name == "site":
            dotted = "." + value

            def site(d: Document) -> bool:
                for dom in d.domains:
                    if dom == value or dom.endswith(dotted):
                        return True
                return False
            self.test = site
        elif name == "author":
            self.test = lambda d: d.author == value
        else:
            dashed = value + "-"
            self.test = lambda d: d.lang is not None and (d.lang == value or d.lang.startswith(dashed))


# cost order for evaluating children of AND/OR: cheap checks first
def _cost(node: _Node) -> int:
    if isinstance(node, (_Mention, _Field, _Tag)):
        return 1
    if isinstance(node, _Text):
        return 2 if len(node.tokens) == 1 else 3
    if isinstance(node, _Not):  # exclusions usually hold: test what a post must contain first
        return 10 + _cost(node.child)
    if isinstance(node, _Near):
        return 6
    return 4


class _Not(_Node):
    has_not = True

    def __init__(self, child: _Node, pos: int):
        self.child, self.pos = child, pos
        inner = child.test
        self.test = lambda d: not inner(d)


class _And(_Node):
    def __init__(self, children: Sequence[_Node], pos: int):
        self.children, self.pos = tuple(children), pos
        self.ordered = tuple(sorted(self.children, key=lambda c: c.pos))
        self.has_not = any(c.has_not for c in self.children)
        words = frozenset(c.tokens[0] for c in self.children if isinstance(c, _Text) and c.simple)
        tags = frozenset(c.tag for c in self.children if isinstance(c, _Tag) and not c.prefix)
        rest = tuple(c.test for c in sorted(
            (c for c in self.children if not ((isinstance(c, _Text) and c.simple)
                                             or (isinstance(c, _Tag) and not c.prefix))), key=_cost))

        def and_test(d: Document) -> bool:
            if words and not words <= d.token_set:
                return False
            if tags and not tags <= d.hashtags:
                return False
            for t in rest:
                if not t(d):
                    return False
            return True
        self.test = and_test


class _Or(_Node):
    def __init__(self, children: Sequence[_Node], pos: int):
        self.children, self.pos = tuple(children), pos
        self.ordered = tuple(sorted(self.children, key=lambda c: c.pos))
        self.has_not = any(c.has_not for c in self.children)
        words = frozenset(c.tokens[0] for c in self.children if isinstance(c, _Text) and c.simple)
        tags = frozenset(c.tag for c in self.children if isinstance(c, _Tag) and not c.prefix)
        handles = frozenset(c.handle for c in self.children if isinstance(c, _Mention))
        # phrases with an exact word: none can match unless one of those words occurs
        phrases = [c for c in self.children if isinstance(c, _Text) and not c.simple and c.anchor >= 0]
        anchors = frozenset(c.tokens[c.anchor] for c in phrases)
        phrase_tests = tuple(c.test for c in phrases)
        rest = tuple(c.test for c in sorted(
            (c for c in self.children if not ((isinstance(c, _Text) and (c.simple or c.anchor >= 0))
                                             or isinstance(c, _Mention) or (isinstance(c, _Tag) and not c.prefix))),
            key=_cost))

        def or_test(d: Document) -> bool:
            if words and not words.isdisjoint(d.token_set):
                return True
            if tags and not tags.isdisjoint(d.hashtags):
                return True
            if handles and (not handles.isdisjoint(d.mentions) or d.author in handles):
                return True
            if phrase_tests and not anchors.isdisjoint(d.token_set):
                for t in phrase_tests:
                    if t(d):
                        return True
            for t in rest:
                if t(d):
                    return True
            return False
        self.test = or_test


class _Near(_Node):
    def __init__(self, left: Sequence[_Text], right: Sequence[_Text], distance: int, pos: int):
        self.left, self.right, self.distance, self.pos = tuple(left), tuple(right), distance, pos
        self.test = lambda d: bool(self.pairs(d, first=True))

    @staticmethod
    def _spans(alts: Sequence[_Text], d: Document) -> list[tuple[int, int, _Text]]:
        out = []
        for alt in alts:
            if alt.exact <= d.token_set:
                n = len(alt.tokens)
                out.extend((s, s + n, alt) for s in alt.starts(d))
        return out

    def pairs(self, d: Document, first: bool = False) -> list[tuple[_Text, _Text]]:
        """(left, right) alternatives that occur within the distance of each other."""
        a = self._spans(self.left, d)
        if not a:
            return []
        b = self._spans(self.right, d)
        out = []
        for s1, e1, t1 in a:
            for s2, e2, t2 in b:
                gap = s2 - e1 if s2 >= e1 else s1 - e2
                if 0 <= gap <= self.distance:
                    out.append((t1, t2))
                    if first:
                        return out
        return out


def _atoms(node: _Node, positive: bool = True) -> Iterable[tuple[_Atom, bool]]:
    """Every atom of the tree with its polarity (False under an odd number of NOTs), in query order."""
    if isinstance(node, _Atom):
        yield node, positive
    elif isinstance(node, _Not):
        yield from _atoms(node.child, not positive)
    elif isinstance(node, (_And, _Or)):
        for c in node.ordered:
            yield from _atoms(c, positive)
    elif isinstance(node, _Near):
        for c in (*node.left, *node.right):
            yield c, positive


def _explain(node: _Node, d: Document, want: bool, out: dict[str, None]) -> None:
    """Collect the positive atoms that make ``node`` evaluate to ``want`` (which it does)."""
    if not want and not node.has_not:
        return
    if isinstance(node, _Atom):
        out[node.source] = None
    elif isinstance(node, _Not):
        _explain(node.child, d, not want, out)
    elif isinstance(node, (_And, _Or)):
        every = isinstance(node, _And) == want  # AND true / OR false: every child counts
        for c in node.ordered:
            if isinstance(c, _Atom):
                if want and (every or c.test(d)):
                    out[c.source] = None
            elif every or c.test(d) == want:
                _explain(c, d, want, out)
    elif isinstance(node, _Near) and want:
        for t1, t2 in node.pairs(d):
            out[t1.source] = None
            out[t2.source] = None


@dataclass(frozen=True)
class Needs:
    """What a post must hold for a query to have any chance of matching: at least one of these.

    A necessary condition, never a sufficient one: :class:`monitor.topics.Matcher` indexes the
    needs of every topic so that a post is tested only against the topics it could match.

    Attributes
    ----------
    words : frozenset of str
        Words of the text (:attr:`Document.token_set`).
    stems : frozenset of str
        Word stems of wildcards (a word of the text starts with one).
    tags : frozenset of str
        Hashtags (:attr:`Document.hashtags`).
    handles : frozenset of str
        Handles mentioned or the author's (:attr:`Document.mentions`, :attr:`Document.author`).
    """

    words: frozenset[str] = frozenset()
    stems: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    handles: frozenset[str] = frozenset()

    def __or__(self, other: "Needs") -> "Needs":
        return Needs(self.words | other.words, self.stems | other.stems, self.tags | other.tags,
                     self.handles | other.handles)

    @property
    def cost(self) -> int:
        """How often these let a post through, roughly: more items, stems and short words let more through."""
        return (sum(1 if len(w) > 2 else 10 for w in self.words) + 2 * len(self.stems) + len(self.tags)
                + len(self.handles))


def _needs(node: _Node) -> Needs | None:
    """The :class:`Needs` of ``node``, or None when it can match without any indexed item."""
    if isinstance(node, _Text):
        if not node.tokens:
            return None
        if node.exact:  # every exact word of the phrase must be a word of the text: the longest will do
            return Needs(words=frozenset({max(node.exact, key=lambda w: (len(w), w))}))
        return Needs(stems=frozenset({node.tokens[0]}))  # every word is a wildcard: the first one
    if isinstance(node, _Tag):
        return None if node.prefix else Needs(tags=frozenset({node.tag}))
    if isinstance(node, _Mention):
        return Needs(handles=frozenset({node.handle}))
    if isinstance(node, _Field):
        return Needs(handles=frozenset({node.value})) if node.name == "author" else None
    if isinstance(node, _Or):  # one of the branches
        return _needs_any(node.children)
    if isinstance(node, _And):  # every branch: the needs of any one of them will do, the cheapest
        return _cheapest(map(_needs, node.children))
    if isinstance(node, _Near):  # one of the left side's alternatives, and one of the right's: the cheaper side
        return _cheapest((_needs_any(node.left), _needs_any(node.right)))
    return None  # NOT: holds for posts without any of its words


def _needs_any(alternatives: Iterable[_Node]) -> Needs | None:
    """What a post must hold for one of ``alternatives`` to hold: all their needs together."""
    out = Needs()
    for c in alternatives:
        n = _needs(c)
        if n is None:
            return None
        out = out | n
    return out


def _cheapest(needs: Iterable[Needs | None]) -> Needs | None:
    """Of needs that must all be met, the one that lets the fewest posts through."""
    known = [n for n in needs if n is not None]
    return min(known, key=lambda n: n.cost) if known else None


# ---------------------------------------------------------------------------------------------
# Lexer and parser
# ---------------------------------------------------------------------------------------------

_QUOTES = "\"“”„‟«»"
_FIELD_NAMES = {"site": "site", "url": "site", "author": "author", "from": "author", "lang": "lang"}
_FIELD = re.compile(r"([A-Za-z]+):(.*)", re.S)
_NEAR = re.compile(r"NEAR/([0-9]+)")
_DOMAIN = re.compile(r"[\w\-]+(?:\.[\w\-]+)*")
_HANDLE = re.compile(r"\w+(?:[.\-]\w+)*(?:@\w+(?:[.\-]\w+)*)?")
_LANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")
_MAX_DEPTH = 100
_MIN_STEM = 3


@dataclass
class _Tok:
    kind: str  # LP RP AND OR NOT NEAR TERM PHRASE FIELD
    value: object
    pos: int
    end: int
    text: str


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = self._lex(text)
        self.i = 0
        self.depth = 0

    def error(self, message: str, pos: int, hint: str | None = None) -> QueryError:
        return QueryError(message, pos, self.text, hint)

    # -- lexer ------------------------------------------------------------------------------
    def _closing_quote(self, start: int) -> int:
        for j in range(start + 1, len(self.text)):
            if self.text[j] in _QUOTES:
                return j
        raise self.error("unclosed quote starting", start, 'add the closing "')

    def _lex(self, text: str) -> list[_Tok]:
        out: list[_Tok] = []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c.isspace():
                i += 1
            elif c in "()":
                out.append(_Tok("LP" if c == "(" else "RP", c, i, i + 1, c))
                i += 1
            elif c in _QUOTES:
                j = self._closing_quote(i)
                out.append(_Tok("PHRASE", text[i + 1:j], i, j + 1, text[i:j + 1]))
                i = j + 1
            elif c == "-":
                if i + 1 >= n or text[i + 1].isspace() or text[i + 1] == ")":
                    raise self.error("- with nothing after it", i, "write -word or NOT word to leave posts out")
                out.append(_Tok("NOT", "-", i, i + 1, "-"))
                i += 1
            else:
                j = i
                while j < n and not text[j].isspace() and text[j] not in "()" and text[j] not in _QUOTES:
                    j += 1
                word = text[i:j]
                if word.endswith(":") and j < n and text[j] in _QUOTES and _FIELD.fullmatch(word):
                    k = self._closing_quote(j)
                    out.append(_Tok("FIELD", (word[:-1], text[j + 1:k]), i, k + 1, text[i:k + 1]))
                    i = k + 1
                    continue
                if word in ("AND", "OR", "NOT"):
                    out.append(_Tok(word, word, i, j, word))
                elif word == "NEAR" or word.startswith("NEAR/"):
                    m = _NEAR.fullmatch(word)
                    if not m:
                        raise self.error("NEAR/ needs a number", i, "write it like NEAR/5 (at most 5 words apart)")
                    out.append(_Tok("NEAR", int(m.group(1)), i, j, word))
                else:
                    out.append(_Tok("TERM", word, i, j, word))
                i = j
        return out

    # -- parser -----------------------------------------------------------------------------
    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def advance(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> _Node:
        if not self.toks:
            raise self.error("the query is empty", 0)
        node = self.parse_or()
        tok = self.peek()
        if tok is not None:
            if tok.kind == "RP":
                raise self.error("unexpected )", tok.pos, "there is no ( for it to close")
            raise self.error(f"unexpected {tok.text}", tok.pos)
        return node

    def _nothing_after(self) -> bool:
        nxt = self.peek()
        return nxt is None or nxt.kind in ("RP", "OR", "AND", "NEAR")

    def parse_or(self) -> _Node:
        first = self.parse_and()
        children = [first]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.advance()
            if self._nothing_after():
                raise self.error("OR with nothing after it", tok.pos)
            children.append(self.parse_and())
        if len(children) == 1:
            return first
        flat: list[_Node] = []
        for c in children:
            flat.extend(c.children if isinstance(c, _Or) else (c,))
        return _Or(flat, first.pos)

    def parse_and(self) -> _Node:
        tok = self.peek()
        if tok is None:
            raise self.error("the query ends too early", len(self.text))
        if tok.kind in ("OR", "AND"):
            raise self.error(f"{tok.text} with nothing before it", tok.pos)
        if tok.kind == "NEAR":
            raise self.error(f"{tok.text} with nothing before it", tok.pos)
        if tok.kind == "RP":
            raise self.error("unexpected )", tok.pos, "there is nothing before it in the brackets")
        children = [self.parse_unary()]
        while (tok := self.peek()) is not None:
            if tok.kind == "AND":
                self.advance()
                if self._nothing_after():
                    raise self.error("AND with nothing after it", tok.pos)
                children.append(self.parse_unary())
            elif tok.kind in ("TERM", "PHRASE", "FIELD", "LP", "NOT"):
                children.append(self.parse_unary())  # implicit AND
            else:
                break
        if len(children) == 1:
            return children[0]
        flat: list[_Node] = []
        for c in children:
            flat.extend(c.children if isinstance(c, _And) else (c,))
        return _And(flat, children[0].pos)

    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error("the query is nested too deeply", pos, f"use at most {_MAX_DEPTH} levels of brackets and NOT")

    def parse_unary(self) -> _Node:
        tok = self.peek()
        if tok is not None and tok.kind == "NOT":
            self.advance()
            if self._nothing_after():
                raise self.error(f"{'NOT' if tok.text == 'NOT' else '-'} with nothing after it", tok.pos)
            self._enter(tok.pos)
            child = self.parse_unary()
            self.depth -= 1
            return _Not(child, tok.pos)
        return self.parse_near()

    def parse_near(self) -> _Node:
        left = self.parse_atom()
        tok = self.peek()
        if tok is None or tok.kind != "NEAR":
            return left
        self.advance()
        nxt = self.peek()
        if nxt is None or nxt.kind not in ("TERM", "PHRASE", "LP", "FIELD"):
            raise self.error(f"{tok.text} with nothing after it", tok.pos,
                             "put a word, phrase or (word OR word) group on each side")
        right = self.parse_atom()
        after = self.peek()
        if after is not None and after.kind == "NEAR":
            raise self.error(f"{after.text} cannot follow another NEAR", after.pos,
                             "write (a NEAR/3 b) AND (b NEAR/3 c) instead")
        return _Near(self._near_side(left, tok), self._near_side(right, tok), tok.value, left.pos)

    def _near_side(self, node: _Node, near: _Tok) -> tuple[_Text, ...]:
        if isinstance(node, _Text):
            return (node,)
        if isinstance(node, _Or) and all(isinstance(c, _Text) for c in node.children):
            return tuple(node.children)  # type: ignore[arg-type]
        bad = node
        if isinstance(node, _Or):
            bad = next(c for c in node.children if not isinstance(c, _Text))
        raise self.error(f"{near.text} works only with words, phrases or (word OR \"phrase\") groups", bad.pos,
                         "#hashtags, @accounts, fields, AND, NOT and NEAR cannot be NEAR something")

    def parse_atom(self) -> _Node:
        tok = self.peek()
        if tok is None:
            raise self.error("the query ends too early", len(self.text))
        if tok.kind == "LP":
            self.advance()
            nxt = self.peek()
            if nxt is None:
                raise self.error("unclosed parenthesis opened", tok.pos, "add the closing )")
            if nxt.kind == "RP":
                raise self.error("empty parentheses", tok.pos)
            self._enter(tok.pos)
            inner = self.parse_or()
            self.depth -= 1
            close = self.peek()
            if close is None or close.kind != "RP":
                if close is None:
                    raise self.error("unclosed parenthesis opened", tok.pos, "add the closing )")
                raise self.error(f"unexpected {close.text}", close.pos)
            self.advance()
            return inner
        if tok.kind in ("TERM", "PHRASE", "FIELD"):
            self.advance()
            return self.atom(tok)
        if tok.kind == "RP":
            raise self.error("unexpected )", tok.pos)
        raise self.error(f"{tok.text} with nothing before it", tok.pos)

    # -- atoms ------------------------------------------------------------------------------
    def atom(self, tok: _Tok) -> _Atom:
        if tok.kind == "PHRASE":
            content = str(tok.value)
            if not content.strip():
                raise self.error("empty quotes", tok.pos)
            return self.text_atom(content, tok.pos + 1, tok.text, tok.pos, phrase=True)
        if tok.kind == "FIELD":
            name, value = tok.value  # type: ignore[misc]
            return self.field(name, value, tok)
        word = str(tok.value)
        if word[0] in "#＃":
            return self.hashtag(word, tok)
        if word[0] in "@＠":
            handle = word[1:]
            if not handle:
                raise self.error("@ needs an account name after it", tok.pos)
            if not _HANDLE.fullmatch(handle):
                raise self.error(f"{word!r} is not an account name", tok.pos, "write it like @NHSEngland")
            return _Mention(_norm_handle(handle), word, tok.pos)
        m = _FIELD.fullmatch(word)
        if m:
            return self.field(m.group(1), m.group(2), tok)
        return self.text_atom(word, tok.pos, word, tok.pos, phrase=False)

    def hashtag(self, word: str, tok: _Tok) -> _Tag:
        tag = word[1:]
        if not tag:
            raise self.error("# needs a hashtag after it", tok.pos)
        prefix = tag.endswith("*")
        if prefix:
            tag = tag[:-1]
        if "*" in tag:
            raise self.error("* only works at the end of a word", tok.pos + 1 + tag.index("*"))
        folded = _norm_tag(tag)
        if not re.fullmatch(f"[\\w{_MARKS}]+", folded) or folded.isdigit():
            raise self.error(f"{word!r} is not a hashtag", tok.pos, "a hashtag is # followed by letters, digits or _")
        if prefix and len(folded) < _MIN_STEM:
            raise self.error(f"wildcard needs at least {_MIN_STEM} letters before *", tok.pos)
        return _Tag(folded, prefix, word, tok.pos)

    def field(self, name: str, value: str, tok: _Tok) -> _Field:
        kind = _FIELD_NAMES.get(name.lower())
        if kind is None:
            raise self.error(f"unknown field {name}:", tok.pos,
                             'use site:, author: or lang:, or put the text in quotes to search for it')
        value = value.strip()
        if not value:
            raise self.error(f"{name}: needs a value", tok.pos, f"write it like {_FIELD_EXAMPLE[kind]}")
        if kind == "site":
            v = re.sub(r"^[a-z][a-z0-9+.\-]*://", "", value.lower()).rstrip("/")
            if v.startswith("www."):
                v = v[4:]
            if not _DOMAIN.fullmatch(v):
                raise self.error(f"{name}: takes a domain such as nhs.uk, not {value!r}", tok.pos)
            value = v
        elif kind == "author":
            v = _norm_handle(value)
            if not _HANDLE.fullmatch(v):
                raise self.error(f"{name}: takes an account name such as NHSEngland, not {value!r}", tok.pos)
            value = v
        else:
            v = value.lower()
            if not _LANG.fullmatch(v):
                raise self.error(f"{name}: takes a language code such as en or cy, not {value!r}", tok.pos)
            value = v
        return _Field(kind, value, tok.text, tok.pos)

    def text_atom(self, content: str, offset: int, source: str, pos: int, phrase: bool) -> _Text:
        tokens: list[str] = []
        prefix: list[bool] = []
        for m in re.finditer(r"\S+", content):
            word, at = m.group(), offset + m.start()
            if "*" in word:
                star = word.index("*")
                if star != len(word) - 1:
                    raise self.error("* only works at the end of a word", at + star)
                stem = tokenize(word[:-1])
                if not stem or len(stem[-1]) < _MIN_STEM:
                    raise self.error(f"wildcard needs at least {_MIN_STEM} letters before *", at)
                tokens.extend(stem)
                prefix.extend([False] * (len(stem) - 1) + [True])
            else:
                words = tokenize(word)
                tokens.extend(words)
                prefix.extend([False] * len(words))
        if not tokens:
            raise self.error(f"{source!r} has no letters or digits to search for", pos)
        return _Text(tokens, prefix, source, pos, phrase)


_FIELD_EXAMPLE = {"site": "site:nhs.uk", "author": "author:NHSEngland", "lang": "lang:en"}


def _check_not_only_negative(root: _Node, parser: _Parser) -> None:
    """Reject queries that match a post with none of their words (pure negations)."""
    if not root.test(_EMPTY):
        return
    node = root
    while isinstance(node, _Or):
        node = next(c for c in node.ordered if c.test(_EMPTY))
    raise parser.error("a query cannot be only NOT terms", node.pos,
                       "on its own that would match almost every post; add what to look for, e.g. nhs NOT strike")


# ---------------------------------------------------------------------------------------------
# X API v2 translation
# ---------------------------------------------------------------------------------------------

_X_SUFFIXES = ("", "s", "e", "es", "ed", "ing", "er", "ers", "ation", "ations", "ate", "ated", "ating")
_X_PLAIN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class _XAtom:
    text: str
    pos: int = field(compare=False)  # where in the query (for errors); not part of the meaning


@dataclass(frozen=True)
class _XAnd:
    children: tuple
    pos: int = field(compare=False)  # where in the query (for errors); not part of the meaning


@dataclass(frozen=True)
class _XOr:
    children: tuple
    pos: int = field(compare=False)  # where in the query (for errors); not part of the meaning


@dataclass(frozen=True)
class _XNot:
    child: object
    pos: int = field(compare=False)  # where in the query (for errors); not part of the meaning


def _x_join(items: Iterable[object], node: type, unit: bool) -> object:
    """Flatten ``items`` into one ``node`` (_XAnd with ``unit`` True, _XOr with False).

    ``unit`` parts (True in an AND, False in an OR) drop out; the opposite constant decides
    the whole; nested parts of the same kind are merged; nothing left is ``unit``.
    """
    out: list[object] = []
    for x in items:
        if x is unit:
            continue
        if x is (not unit):
            return not unit
        out.extend(x.children if isinstance(x, node) else (x,))
    out = list(dict.fromkeys(out))  # the same part twice says nothing more
    if not out:
        return unit
    return out[0] if len(out) == 1 else node(tuple(out), min(c.pos for c in out))  # type: ignore[attr-defined]


def _x_and(items: Iterable[object]) -> object:
    return _x_join(items, _XAnd, True)


def _x_or(items: Iterable[object]) -> object:
    return _x_join(items, _XOr, False)


def _x_not(x: object, pos: int) -> object:
    if isinstance(x, bool):
        return not x
    if isinstance(x, _XNot):
        return x.child
    return _XNot(x, pos)


def _x_expand(stem: str) -> list[str]:
    """Likely English words starting with ``stem``, for X, which has no wildcard (a prefilter only)."""
    if stem.endswith("e"):  # strike* -> strike strikes striked striker strikers striking
        forms = [stem, stem + "s", stem + "d", stem + "r", stem + "rs", stem[:-1] + "ing"]
    elif len(stem) > 1 and stem.endswith("y") and stem[-2] not in "aeiou":  # reply* -> replies replied replying
        forms = [stem, stem[:-1] + "ies", stem[:-1] + "ied", stem + "ing"]
    else:  # vaccin* -> vaccine vaccines vaccinated vaccination ...; ballot* -> ballots balloted balloting
        latinate = stem.endswith(("in", "is", "iz", "ic", "ul"))  # vaccin, immunis, medic, regul
        sibilant = stem.endswith(("s", "x", "z", "ch", "sh"))  # no "nurss": nurses comes from "es"
        forms = [stem + s for s in _X_SUFFIXES if (latinate or not s.startswith("at")) and not (sibilant and s == "s")]
    return list(dict.fromkeys(forms))


def _x_text(node: _Text) -> object:
    if not any(node.prefix):
        if not node.phrase and _X_PLAIN.fullmatch(node.source):
            return _XAtom(node.source, node.pos)
        if len(node.tokens) == 1:
            return _XAtom(node.tokens[0], node.pos)
        return _XAtom('"' + " ".join(node.tokens) + '"', node.pos)
    # wildcards: every combination of expansions (a phrase usually has one wildcard)
    forms: list[list[str]] = [[]]
    for tok, p in zip(node.tokens, node.prefix):
        forms = [f + [w] for f in forms for w in (_x_expand(tok) if p else [tok])]
    return _x_or(_XAtom(" ".join(f) if len(f) == 1 else '"' + " ".join(f) + '"', node.pos) for f in forms)


def _to_x(node: _Node, positive: bool) -> object:
    """The X form of ``node``: broader than it when ``positive``, narrower under NOT (bar wildcards)."""
    if isinstance(node, _Text):
        return _x_text(node)
    if isinstance(node, _Tag):
        if node.prefix:
            return _x_or(_XAtom("#" + w, node.pos) for w in _x_expand(node.tag))
        return _XAtom(node.source, node.pos)
    if isinstance(node, _Mention):
        mention = _XAtom("@" + node.handle, node.pos)
        return _x_or([mention, _XAtom("from:" + node.handle, node.pos)]) if positive else mention
    if isinstance(node, _Field):
        if node.name == "site":
            return _XAtom(f'url:"{node.value}"', node.pos)
        if node.name == "author":
            return _XAtom("from:" + node.value, node.pos)
        return _XAtom("lang:" + node.value.split("-")[0], node.pos)
    if isinstance(node, _And):
        return _x_and(_to_x(c, positive) for c in node.children)
    if isinstance(node, _Or):
        return _x_or(_to_x(c, positive) for c in node.children)
    if isinstance(node, _Not):
        return _x_not(_to_x(node.child, not positive), node.pos)
    if isinstance(node, _Near):
        if not positive:
            return False  # cannot say "near" on X: leave it to the local match
        return _x_and([_x_or(_x_text(t) for t in node.left), _x_or(_x_text(t) for t in node.right)])
    raise TypeError(f"unknown node {node!r}")


def _x_render(x: object, ctx: str = "top") -> str:
    if isinstance(x, _XAtom):
        return x.text
    if isinstance(x, _XNot):
        inner = x.child
        return "-" + (inner.text if isinstance(inner, _XAtom) else "(" + _x_render(inner) + ")")
    if isinstance(x, _XAnd):
        s = " ".join(_x_render(c, "and") for c in x.children)
        return s if ctx == "top" else f"({s})"
    if isinstance(x, _XOr):
        s = " OR ".join(_x_render(c, "or") for c in x.children)
        return s if ctx == "top" else f"({s})"
    raise TypeError(f"cannot render {x!r}")


def _x_chunks(factor: _XOr, budget: int) -> list[object] | None:
    """Cut an OR into ORs that each render within ``budget`` as an AND factor (None if a part is longer)."""
    chunks: list[object] = []
    chunk: list[object] = []
    size = first = 0  # rendered length of the chunk so far; of its first part inside an OR
    for c in factor.children:
        alone = len(_x_render(c, "and"))
        if alone > budget:
            return None
        part = len(_x_render(c, "or"))
        if not chunk:
            grown = alone
        elif len(chunk) == 1:  # "c0" becomes "(c0 OR c)"
            grown = 1 + first + 4 + part + 1
        else:  # "(... OR c)"
            grown = size + 4 + part
        if chunk and grown > budget:
            chunks.append(_x_or(chunk))
            chunk, grown = [], alone
        if not chunk:
            first = part
        chunk.append(c)
        size = grown
    if chunk:
        chunks.append(_x_or(chunk))
    return chunks


def _x_split_balanced(x: _XAnd, max_len: int) -> list[object] | None:
    """Split an AND of ORs by cutting every OR factor, sharing the length between them.

    ``(a1 OR .. a40) (b1 OR .. b60) -c`` becomes every pairing of a-chunks with b-chunks. Giving each
    factor an equal share of the room left by the rest (water-filling, short factors stay whole)
    keeps the number of rules small. Returns None when a single part does not fit its share.
    """
    ors = [i for i, c in enumerate(x.children) if isinstance(c, _XOr)]
    if not ors:
        return None
    fixed = sum(len(_x_render(c, "and")) for i, c in enumerate(x.children) if i not in ors)
    room = max_len - fixed - (len(x.children) - 1)
    lengths = {i: len(_x_render(x.children[i], "and")) for i in ors}
    share: dict[int, int] = {}
    left = len(ors)
    for i in sorted(ors, key=lengths.__getitem__):
        share[i] = min(lengths[i], room // left)
        room -= share[i]
        left -= 1
    pieces = []
    for i in ors:
        chunks = _x_chunks(x.children[i], share[i]) if share[i] > 0 else None
        if chunks is None:
            return None
        pieces.append(chunks)
    rules = []
    for combo in itertools.product(*pieces):
        kids = list(x.children)
        for i, piece in zip(ors, combo):
            kids[i] = piece
        rule = _x_and(kids)
        if len(_x_render(rule)) > max_len:  # pragma: no cover - the shares add up; stay safe anyway
            return None
        rules.append(rule)
    return rules


def _x_split(x: object, max_len: int, source: str) -> list[object]:
    """Rules (X trees) each rendering to at most ``max_len`` characters whose union is ``x``."""
    if len(_x_render(x)) <= max_len:
        return [x]
    if isinstance(x, _XOr):
        rules: list[object] = []
        chunk: list[object] = []
        for c in x.children:
            if len(_x_render(c)) > max_len:
                rules.extend(_x_split(c, max_len, source))
                continue
            if chunk and len(_x_render(_x_or(chunk + [c]))) > max_len:
                rules.append(_x_or(chunk))
                chunk = []
            chunk.append(c)
        if chunk:
            rules.append(_x_or(chunk))
        return rules
    if isinstance(x, _XAnd):
        balanced = _x_split_balanced(x, max_len)
        if balanced is not None:
            return balanced
        ors = [c for c in x.children if isinstance(c, _XOr)]
        if ors:
            factor = max(ors, key=lambda c: len(_x_render(c)))
            at = x.children.index(factor)

            def rule(parts: list[object]) -> object:  # the AND with the factor cut down to ``parts``
                return _x_and(x.children[:at] + (_x_or(parts),) + x.children[at + 1:])
            rules = []
            chunk = []
            for c in factor.children:
                if len(_x_render(rule(chunk + [c]))) <= max_len:
                    chunk.append(c)
                    continue
                if chunk:
                    rules.append(rule(chunk))
                    chunk = []
                if len(_x_render(rule([c]))) <= max_len:
                    chunk = [c]
                else:
                    rules.extend(_x_split(rule([c]), max_len, source))
            if chunk:
                rules.append(rule(chunk))
            return rules
    part = _x_render(x)
    short = part if len(part) <= 80 else part[:77] + "..."
    raise QueryError(f"part of this query is {len(part)} characters in X syntax, more than the "
                     f"{max_len} one X rule may have, and cannot be split", getattr(x, "pos", 0), source,
                     f"shorten it or move words into separate topics: {short}")


# ---------------------------------------------------------------------------------------------
# The public query object
# ---------------------------------------------------------------------------------------------

class Query:
    """A parsed, compiled topic query.

    Parameters
    ----------
    text : str
        The query (see the module documentation for the syntax).

    Raises
    ------
    QueryError
        With ``position`` (0-based) and a message naming the column.

    Examples
    --------
    >>> q = Query('("waiting list*" OR #nhs) NOT strike')
    >>> q.match(document("NHS waiting lists grow #NHS"))
    ['"waiting list*"', '#nhs']
    >>> q.match(document("Waiting lists and a strike")) is None
    True
    """

    source: str

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise TypeError(f"a query is text, not {type(text).__name__}")
        self.source = text
        parser = _Parser(text)
        self._root = parser.parse()
        _check_not_only_negative(self._root, parser)
        self._test = self._root.test
        #: what a post must hold to have a chance of matching (None: nothing indexable), see :class:`Needs`
        self.needs: Needs | None = _needs(self._root)

    def matches(self, doc: Document) -> bool:
        """Whether ``doc`` matches (the fast path of :meth:`match`, without the explanation)."""
        return self._test(doc)

    def match(self, doc: Document) -> list[str] | None:
        """Match one post.

        Returns
        -------
        list of str or None
            ``None`` when the post does not match; otherwise the positive terms, as written in
            the query, that made it match (never empty), in query order. For ``a NEAR/n b`` the
            words of each side that were found near each other are listed.
        """
        if not self._test(doc):
            return None
        out: dict[str, None] = {}
        _explain(self._root, doc, True, out)
        if not out:  # cannot happen for a query that passed the NOT-only check; stay truthful anyway
            out = {a.source: None for a, pos in _atoms(self._root) if pos and a.test(doc)}
        return list(out)

    def terms(self) -> list[str]:
        """Every positive term (not under NOT) as written, in query order, without repeats."""
        return list(dict.fromkeys(a.source for a, positive in _atoms(self._root) if positive))

    def _x_tree(self) -> object:
        x = _to_x(self._root, True)
        if isinstance(x, bool):  # pragma: no cover - excluded by the NOT-only check
            raise QueryError("this query has nothing X can search for", 0, self.source)
        return x

    def to_x(self) -> str:
        """The query in X API v2 search/filtered-stream syntax (a prefilter, see the module notes)."""
        return _x_render(self._x_tree())

    def x_rules(self, max_len: int = 512) -> list[str]:
        """Split :meth:`to_x` into X rules of at most ``max_len`` characters.

        A top-level OR is cut into chunks. An AND whose OR factors are too long is distributed:
        each long OR factor is cut into chunks (the room shared evenly between them) and every
        pairing of chunks becomes a rule, with the other factors, NOT parts included, in every
        rule; parts still too long are split the same way, recursively. The union of the rules
        matches exactly what :meth:`to_x` matches.

        Raises
        ------
        QueryError
            When one part cannot be split below ``max_len`` (a long NOT group, a long phrase).
        """
        if max_len < 1:
            raise ValueError("max_len must be positive")
        rules = _x_split(self._x_tree(), max_len, self.source)
        return list(dict.fromkeys(_x_render(r) for r in rules))

    def __repr__(self) -> str:
        return f"Query({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __reduce__(self) -> tuple:
        return (Query, (self.source,))


def parse(text: str) -> Query:
    """Parse and compile a query; the same as ``Query(text)``."""
    return Query(text)
