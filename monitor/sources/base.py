"""The contract every source keeps.

A source is built from its configuration (one entry of ``sources:`` in
``config/keywords.yaml``) and settings (credentials, endpoints). ``collect``
takes the cursor stored after the last committed batch (``None`` the first time)
and yields :class:`~monitor.items.Batch` objects, each carrying the cursor to
resume from once it is stored. It never writes to the store; the pipeline
commits the batch and its cursor together, so a crash repeats at most one batch,
and writes are idempotent.

Errors a user can cause or fix (a bad token, a feed that does not parse) are
raised as :class:`SourceError` with a message naming the source; problems the
source can go on from are listed in ``Batch.errors``; periods it knows it did
not see (rate-limit waits, stream disconnects, failing requests) go in
``Batch.gaps``.
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol

from monitor.items import Batch


class SourceError(Exception):
    """A problem that stops one source (bad credentials, unreachable, unparseable). Names the source."""

    def __init__(self, source: str, message: str):
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class AuthError(SourceError):
    """The source's credentials were refused (401/403): retrying will not help."""


class Source(Protocol):
    name: str  # unique name of this configured source, e.g. "x-search", "rss:bbc-health"
    platform: str  # "x", "rss", "bluesky", "mastodon"

    def collect(self, cursor: dict[str, Any] | None) -> Iterator[Batch]:
        ...
