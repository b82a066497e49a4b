"""The process-wide context: settings, configuration, store and matcher, built once.

CLI commands, Celery tasks and the dashboard all reach the store through
:func:`context`, so a worker opens one engine per process, not one per task.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from monitor.config import Config, ConfigError, load_config
from monitor.settings import Settings, load_settings, redact_logs
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
    #: why the configuration could not be read, when the context was built without it
    #: (``allow_broken_config``: no topics, for commands that only read the store)
    config_problem: ConfigError | None = None


def context(reload: bool = False, *, allow_broken_config: bool = False) -> Context:
    """The shared context, built on first use (raises ConfigError / StoreError with clear messages).

    With ``allow_broken_config`` a configuration that does not load gives a context without
    topics (``config_problem`` says why) instead of raising: for commands that only read the
    store. A context built that way is rebuilt (and raises) when a caller needs the configuration.
    """
    global _context
    with _lock:
        if _context is not None and _context.config_problem is not None and not allow_broken_config:
            reload = True
        if _context is None or reload:
            if _context is not None:
                _context.store.dispose()
                _context = None
            settings = load_settings()
            redact_logs(settings)  # no secret reaches a log
            logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
            problem = None
            try:
                config = load_config(settings.config_path)
            except ConfigError as exc:
                if not allow_broken_config:
                    raise
                config, problem = Config(path=settings.config_path, topics={}), exc
            store = Store(settings.database_url)
            _context = Context(settings=settings, config=config, store=store, matcher=Matcher(config.topics),
                               config_problem=problem)
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
