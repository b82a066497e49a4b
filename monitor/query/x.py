"""X API v2 translation and rule splitting.

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
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Iterable

from monitor.query.errors import QueryError
from monitor.query.tree import _And, _Field, _Mention, _Near, _Node, _Not, _Or, _Tag, _Text

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
