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

The package
-----------
One module for each idea; everything callers use is imported from ``monitor.query``:

:mod:`monitor.query.text`
    Text folding and words (:func:`tokenize`), and the matching view of a post
    (:class:`Document`, built by :func:`document`).
:mod:`monitor.query.tree`
    The expression tree, compiled to closures, with the explanation of a match and the needs
    index (:class:`Needs`: what a post must hold for a query to have a chance).
:mod:`monitor.query.parser`
    The lexer and parser that turn query text into the tree.
:mod:`monitor.query.x`
    The translation to X API v2 syntax and the splitting into rules of X's length limit.
:mod:`monitor.query.facade`
    :class:`Query`, the compiled query callers use, and :func:`parse`.
:mod:`monitor.query.errors`
    :class:`QueryError`.
"""

from monitor.query.errors import QueryError
from monitor.query.facade import Query, parse
from monitor.query.text import Document, document, tokenize
from monitor.query.tree import Needs

__all__ = ["QueryError", "Document", "Needs", "Query", "tokenize", "document", "parse"]
