"""The query expression tree, compiled to closures; the explanation of a match; the needs index.

Each node's ``test`` is a closure over a :class:`~monitor.query.text.Document`: words are tested
by set operations on ``Document.token_set`` (one C call for all the plain words of an OR or an
AND); positions are looked at only for phrases and NEAR, and only when their words are all
present. :func:`_explain` is the second, slower pass that names the terms of a match, and
:func:`_needs` what a post must hold for a query to have any chance (:class:`Needs`).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from monitor.query.text import Document

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
