"""What every ``earshot`` command group shares: failing with a message, opening the context, times.

Kept apart from :mod:`monitor.cli` so that the command groups it includes (alerts, influence)
import these without importing it.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import click

from monitor.config import ConfigError
from monitor.store import StoreError


def _fail(msg: str, code: int = 2) -> None:
    click.secho(msg, fg="red", err=True)
    sys.exit(code)


def _context():
    from monitor.app import context

    try:
        return context()
    except ConfigError as exc:
        _fail(f"configuration error:\n{exc}")
    except StoreError as exc:
        _fail(str(exc))


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
