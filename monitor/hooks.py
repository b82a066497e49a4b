"""Extension points, named in one place.

``monitor`` imports neither ``influence`` nor ``briefings`` nor ``dashboard``;
those packages plug in here instead, through entry points declared in
``pyproject.toml`` (so an installed package extends the CLI without the core
knowing it) and through :data:`monitor.pipeline.AFTER_BATCH` for work that
follows each stored batch.

Entry-point groups:

``earshot.commands``
    click commands or groups added to the ``earshot`` CLI.
``earshot.summary``
    ``fn(ctx) -> list[str]``: lines added to the summary ``earshot demo`` and
    ``earshot status`` print (top influencers, open alerts...).
``earshot.schedule``
    ``fn(settings, config) -> dict``: Celery beat entries added to the schedule.
``earshot.after_import``
    ``fn(ctx, summaries) -> list[str]``: runs after ``earshot import`` / ``earshot demo``
    (e.g. influence rankings recomputed for the topics that got posts); returns lines to print.
``earshot.after_batch``
    ``fn(store, batch, result)``: registered into ``AFTER_BATCH`` on first use.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)

GROUPS = ("earshot.commands", "earshot.summary", "earshot.schedule", "earshot.after_import", "earshot.after_batch")


def load(group: str) -> list[tuple[str, Any]]:
    """The objects registered under ``group``; one that fails to load is logged and skipped."""
    if group not in GROUPS:
        raise ValueError(f"unknown extension point {group!r}; known: {', '.join(GROUPS)}")
    out = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            out.append((ep.name, ep.load()))
        except Exception as exc:  # a broken plugin must not take the core down
            log.error("extension %s:%s failed to load: %s", group, ep.name, exc)
    return out


_after_batch_loaded = False


def register_after_batch() -> None:
    """Put the ``earshot.after_import``
    ``fn(ctx, summaries) -> list[str]``: runs after ``earshot import`` / ``earshot demo``
    (e.g. influence rankings recomputed for the topics that got posts); returns lines to print.
``earshot.after_batch`` hooks into the pipeline (once per process)."""
    global _after_batch_loaded
    if _after_batch_loaded:
        return
    from monitor.pipeline import AFTER_BATCH

    for _name, fn in load("earshot.after_batch"):
        if fn not in AFTER_BATCH:
            AFTER_BATCH.append(fn)
    _after_batch_loaded = True
