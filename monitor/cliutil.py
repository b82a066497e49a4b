"""What every ``earshot`` command group shares: failing with a message, opening the context, times.

Kept apart from :mod:`monitor.cli` so that the command groups it includes (alerts, influence)
import these without importing it.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from monitor.config import ConfigError, UnknownTopic
from monitor.store import StoreError


def _fail(msg: str, code: int = 2) -> None:
    click.secho(msg, fg="red", err=True)
    sys.exit(code)


def _warn(msg: str) -> None:
    click.secho(msg, fg="yellow", err=True)


def _context(*, read_only: bool = False, need_posts: bool = False):
    """The shared context for a command, or a clear message and exit.

    ``read_only``: the command only reads the store, so a configuration that does not load is
    warned about and the command goes on without topics. ``need_posts``: the command has
    nothing to show without posts, so an empty store (or none yet) says so and exits with 1,
    naming the store and how to fill it, instead of printing an empty result.
    """
    from monitor.app import context
    from monitor.settings import load_settings

    if need_posts:
        settings = load_settings()
        db = _sqlite_file(settings.database_url)
        if db is not None and not db.exists():
            _fail(f"there is no store yet at {db}: {_FILL_IT}", 1)
    try:
        ctx = context(allow_broken_config=read_only)
    except ConfigError as exc:
        _fail(f"configuration error:\n{exc}")
    except StoreError as exc:
        _fail(str(exc))
    if ctx.config_problem is not None:
        _warn(f"configuration error (going on without topics: this command only reads the store):\n"
              f"{ctx.config_problem}")
    if need_posts and store_is_empty(ctx.store):
        _fail(f"the store {ctx.store.safe_url} holds no posts: {_FILL_IT}", 1)
    return ctx


def _topic_id(ctx, name: str) -> str:
    """The id of the topic ``name`` names (id or label, any case: :meth:`monitor.config.Config.topic`), or exit 2.

    Without a configuration (a read-only command going on after a configuration error) only the
    ids of topics in the store are known.
    """
    if ctx.config_problem is None:
        try:
            return ctx.config.topic(name).id
        except UnknownTopic as exc:
            _fail(str(exc))
    from sqlalchemy import select

    from monitor import models as m

    with ctx.store.engine.connect() as conn:
        stored = sorted(conn.execute(select(m.rollups.c.topic).distinct()).scalars())
    if name in stored:
        return name
    _fail(f"no topic {name!r} in the store (the configuration could not be read, so only topic ids are known); "
          f"topics in the store: {', '.join(stored) or 'none'}")


_FILL_IT = ("`earshot demo` makes a demo week, `earshot import FILE` loads recorded data, `earshot collect` "
            "collects now (EARSHOT_DATA_DIR or EARSHOT_DATABASE_URL choose another store; `earshot status` shows it)")


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def store_is_empty(store) -> bool:
    """True when the store holds no post at all."""
    from sqlalchemy import select

    from monitor import models as m

    with store.engine.connect() as conn:
        return conn.execute(select(m.posts.c.id).limit(1)).first() is None


def parse_when(value: str | None) -> datetime | None:
    """``2026-11-16``, ``2026-11-16T09:00``, or relative: ``7d``, ``12h``, ``30m`` ago."""
    if not value:
        return None
    v = value.strip()
    if v[-1:] in "dhm" and v[:-1].isdigit():
        n = int(v[:-1])
        delta = {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[v[-1]]
        return datetime.now(timezone.utc) - delta
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (use 2026-11-16, 2026-11-16T09:00 or 7d)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class When(click.ParamType):
    name = "when"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime) or value is None:
            return value
        return parse_when(value)


WHEN = When()
