"""The lexer and parser of the query language (see :mod:`monitor.query` for the syntax).

:class:`_Parser` turns query text into the tree of :mod:`monitor.query.tree`, raising
:class:`~monitor.query.errors.QueryError` with the position of the first problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.query.errors import QueryError
from monitor.query.text import _EMPTY, _MARKS, _norm_handle, _norm_tag, tokenize
from monitor.query.tree import _And, _Atom, _Field, _Mention, _Near, _Node, _Not, _Or, _Tag, _Text

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
