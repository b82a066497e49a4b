"""Building the configured sources and running one collection pass of a source.

Sources are named: ``x-search``, ``x-stream`` and ``rss:<feed name>`` (one
source per feed, so each feed keeps its own poll interval, cursor and health).
A source that lacks credentials disables itself and says why; it never stops
the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from monitor.config import Config
from monitor.items import Batch, Gap
from monitor.settings import Settings
from monitor.sources.base import AuthError, Source, SourceError
from monitor.store import Store

log = logging.getLogger(__name__)


@dataclass
class SourceSpec:
    """A configured source: how to build it, how often to run it, or why it is off."""

    name: str
    platform: str
    interval: int | None  # seconds between runs; None for a long-running stream
    build: Callable[[], Source] | None = None
    disabled: str | None = None  # why it does not run


def source_specs(config: Config, settings: Settings) -> dict[str, SourceSpec]:
    """Every source the configuration names, enabled or not."""
    specs: dict[str, SourceSpec] = {}
    for feed in config.feeds:
        def build(feed=feed):
            from monitor.sources.rss import FeedConfig, RSSSource

            return RSSSource([FeedConfig(name=feed.name, url=feed.url, interval=feed.interval)],
                             name=f"rss:{feed.name}", timeout=settings.http_timeout,
                             allow_hosts=config.allow_private_hosts)

        specs[f"rss:{feed.name}"] = SourceSpec(f"rss:{feed.name}", "rss", feed.interval, build)

    no_token = "no X bearer token: set EARSHOT_X_BEARER_TOKEN to collect from X"
    if config.x_search.enabled:
        def build_search():
            from monitor.sources.x import XSearchSource

            queries = {t.id: t.query.x_rules() for t in config.topics.values()}
            return XSearchSource("x-search", settings.x_bearer_token, queries, api_base=settings.x_api_base,
                                 max_pages=config.x_search.max_pages, timeout=settings.http_timeout)

        specs["x-search"] = SourceSpec("x-search", "x", config.x_search.interval, build_search,
                                       disabled=None if settings.x_bearer_token else no_token)
    if config.x_stream.enabled:
        def build_stream():
            from monitor.sources.x import XStreamSource

            return XStreamSource("x-stream", settings.x_bearer_token, stream_rules(config),
                                 api_base=settings.x_api_base)

        specs["x-stream"] = SourceSpec("x-stream", "x", None, build_stream,
                                       disabled=None if settings.x_bearer_token else no_token)
    return specs


def stream_rules(config: Config) -> list[tuple[str, str]]:
    """Filtered-stream rules ``(value, tag)`` for every topic; long queries become several rules."""
    rules = []
    for t in config.topics.values():
        parts = t.query.x_rules(512)
        for i, value in enumerate(parts):
            rules.append((value, t.id if len(parts) == 1 else f"{t.id}#{i + 1}"))
    return rules


@dataclass
class RunSummary:
    source: str
    batches: int = 0
    posts: int = 0
    new: int = 0
    errors: list[str] = field(default_factory=list)
    disabled: str | None = None
    failed: str | None = None


def run_source(
    spec: SourceSpec,
    store: Store,
    handle_batch: Callable[[Batch], Any],
) -> RunSummary:
    """One collection pass: read the stored cursor, collect, hand each batch on.

    ``handle_batch`` stores the batch (in process) or enqueues it (Celery); it
    returns a :class:`~monitor.store.WriteResult` when it stored it. A
    :class:`SourceError` ends the pass with the error and a gap recorded; any
    other exception propagates so the caller (a Celery task) can retry.
    """
    summary = RunSummary(spec.name)
    if spec.disabled or spec.build is None:
        summary.disabled = spec.disabled or "not configured"
        log.warning("source %s is disabled: %s", spec.name, summary.disabled)
        return summary
    store.record_source_run(spec.name, started=True)
    started = datetime.now(timezone.utc)
    try:
        source = spec.build()
        for batch in source.collect(store.cursor(spec.name)):
            batch.source = spec.name
            result = handle_batch(batch)
            summary.batches += 1
            summary.posts += len(batch.posts)
            summary.new += getattr(result, "posts_new", 0)
            summary.errors.extend(batch.errors)
    except SourceError as exc:
        summary.failed = str(exc)
        kind = "auth" if isinstance(exc, AuthError) else "error"
        log.error("source %s failed (%s): %s", spec.name, kind, exc)
        store.record_source_run(spec.name, error=str(exc), gaps=[
            Gap(source=spec.name, start=started, end=datetime.now(timezone.utc), reason="error", detail=str(exc))
        ])
    return summary
