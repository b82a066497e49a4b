"""The error a query that cannot be parsed raises, with where the problem is."""

from __future__ import annotations


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
