"""Words and documents: how text and query terms are cut into words, and the matching view of a post.

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
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Iterable
from urllib.parse import urlsplit

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
