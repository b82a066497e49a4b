"""The public query object: :class:`Query`, parsed and compiled once.

A bad query raises :class:`QueryError` (a ``ValueError``) with ``position``, the 0-based offset,
and a message naming the 1-based column within its line ("unclosed quote starting at column 12").

A query is compiled once into closures: words are tested by set operations on
``Document.token_set`` (one C call for all the plain words of an OR or an AND); positions are
looked at only for phrases and NEAR, and only when their words are all present. A 25-term
topic costs about 1-5 µs per post that does not match; :meth:`Query.match` explains a match
with a second, slower pass (about 10 µs) that runs only for posts that match.
"""

from __future__ import annotations

from monitor.query.errors import QueryError
from monitor.query.parser import _check_not_only_negative, _Parser
from monitor.query.text import Document
from monitor.query.tree import Needs, _atoms, _explain, _needs
from monitor.query.x import _to_x, _x_render, _x_split


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
    >>> from monitor.query import document
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
