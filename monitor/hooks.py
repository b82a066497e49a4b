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
    ``fn(ctx, since, until) -> list[str]``: lines added to the summary ``earshot demo`` and
    ``earshot status`` print (top influencers, open alerts...); ``[since, until)`` is the one
    window the screen's other figures cover (a line about another window says which).
``earshot.schedule``
    ``fn(settings, config) -> dict``: Celery beat entries added to the schedule.
``earshot.after_import``
    ``fn(ctx, summaries) -> list[str]``: runs after ``earshot import`` / ``earshot demo``
    (e.g. influence rankings recomputed for the topics that got posts); returns lines to print.
``earshot.after_batch``
    ``fn(store, batch, result)``: registered into ``AFTER_BATCH`` on first use.
``earshot.tasks``
    ``fn(app)``: defines the package's Celery tasks on the worker's Celery ``app``
    (thin wrappers over its plain functions), so ``worker.py`` names no package but the core.
``earshot.serve``
    ``fn(ctx, host, port, *, demo=False, background=False)``: serve the web dashboard over the
    context's store -- until Ctrl-C, or in a thread (returning a function that stops it) for
    ``earshot run``; ``demo`` also prints the demo sign-in. ``earshot demo`` and ``earshot run``
    call the first one registered.

A worker or the beat (``worker.py``) and the embedded service (``earshot run``) load the groups
they use strictly: an extension that fails to load stops them from starting, with a message
naming the extension and the error (alerting must never stop silently). Other commands log the
failure and go on without it.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)

GROUPS = ("earshot.commands", "earshot.summary", "earshot.schedule", "earshot.after_import", "earshot.after_batch",
          "earshot.tasks", "earshot.serve")


class PluginError(RuntimeError):
    """An extension failed to load where every extension must (a worker, the beat)."""


def load(group: str, *, strict: bool = False) -> list[tuple[str, Any]]:
    """The objects registered under ``group``.

    One that fails to load is logged and skipped, or, with ``strict``, raises
    :class:`PluginError` naming every extension of the group that failed and why.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown extension point {group!r}; known: {', '.join(GROUPS)}")
    out = []
    failed = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            out.append((ep.name, ep.load()))
        except Exception as exc:  # a broken plugin must not take an interactive command down
            failed.append(f"{group} extension {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}")
            log.error("%s", failed[-1])
    if strict and failed:
        raise PluginError("; ".join(failed))
    return out


_after_batch_loaded = False


def register_after_batch(*, strict: bool = False) -> None:
    """Put the ``earshot.after_batch`` hooks into the pipeline's ``AFTER_BATCH`` (once per process).

    With ``strict`` (a worker), a hook that fails to load raises :class:`PluginError`.
    """
    global _after_batch_loaded
    if _after_batch_loaded:
        return
    from monitor.pipeline import AFTER_BATCH

    for _name, fn in load("earshot.after_batch", strict=strict):
        if fn not in AFTER_BATCH:
            AFTER_BATCH.append(fn)
    _after_batch_loaded = True
