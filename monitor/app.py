"""The process-wide context: settings, configuration, store and matcher, built once.

CLI commands, Celery tasks and the dashboard all reach the store through
:func:`context`, so a worker opens one engine per process, not one per task.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from monitor.config import Config, load_config
from monitor.settings import Settings, load_settings
from monitor.store import Store
from monitor.topics import Matcher

_lock = threading.Lock()
_context: "Context | None" = None


@dataclass
class Context:
    settings: Settings
    config: Config
    store: Store
    matcher: Matcher


def context(reload: bool = False) -> Context:
    """The shared context, built on first use (raises ConfigError / StoreError with clear messages)."""
    global _context
    with _lock:
        if _context is None or reload:
            if _context is not None:
                _context.store.dispose()
            settings = load_settings()
            logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
            config = load_config(settings.config_path)
            store = Store(settings.database_url)
            _context = Context(settings=settings, config=config, store=store, matcher=Matcher(config.topics))
            from monitor.hooks import register_after_batch

            register_after_batch()
        return _context


def reset() -> None:
    """Forget the context (tests, or after changing the environment)."""
    global _context
    with _lock:
        if _context is not None:
            _context.store.dispose()
        _context = None
