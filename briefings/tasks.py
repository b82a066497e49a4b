"""The scheduled draft: every Monday morning (Europe/London) the week just gone is built and the editors told.

The Celery task ``earshot.briefing_draft`` (:func:`celery_tasks`, entry point ``earshot.tasks``) is a thin wrapper over
:func:`scheduled_draft`; :func:`beat_entries` runs it every 15 minutes (``earshot.schedule`` entry
point). Each run first computes the week's influence rankings once the week has ended
(:func:`briefings.rankings.compute_week`, from an hour after the week's end: Monday about 01:00),
then builds the draft only once the build time of the week has passed and the previous week has
no briefing yet, so a missed beat catches up and a duplicated one builds nothing twice. A stored
ranking is never computed again, so the runs after the first cost a lookup per topic.
Celery's beat runs in UTC; deciding in the function, in the briefing's own time zone, keeps the
clock change out of the schedule.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from briefings.settings import WEEKDAYS, BriefingSettings, load_briefing_settings
from briefings.week import Week
from monitor import models as m
from monitor.store import Store

log = logging.getLogger(__name__)

TASK_NAME = "earshot.briefing_draft"
CHECK_EVERY = 900.0


def beat_entries(settings: Any, config: Any) -> dict[str, dict[str, Any]]:
    return {"briefing draft": {"task": TASK_NAME, "schedule": CHECK_EVERY,
                               "options": {"queue": "process", "expires": CHECK_EVERY}}}


def celery_tasks(app: Any) -> None:
    """``earshot.tasks`` hook: the scheduled draft's Celery task, a thin wrapper over :func:`scheduled_draft`."""

    @app.task(name=TASK_NAME, acks_late=True, ignore_result=True, soft_time_limit=20 * 60, time_limit=25 * 60)
    def briefing_draft() -> dict:
        """Build the week's draft briefing once its build time has passed, and tell the editors."""
        from monitor.app import context

        ctx = context()
        return scheduled_draft(ctx.store, ctx.config, ctx.settings)


def due_week(bs: BriefingSettings, now: datetime) -> Week | None:
    """The week whose draft is due at ``now``: the last complete week once this week's build time has passed."""
    tz = ZoneInfo(bs.timezone)
    local = now.astimezone(tz)
    this = Week.containing(now, bs.timezone)
    day = this.monday + timedelta(days=WEEKDAYS.index(bs.build_weekday))
    h, mi = bs.build_hour_minute
    build_at = datetime(day.year, day.month, day.day, h, mi, tzinfo=tz)
    return this.previous() if local >= build_at else None


def scheduled_draft(store: Store, config: Any, smtp_settings: Any, *, now: datetime | None = None,
                    bsettings: BriefingSettings | None = None) -> dict[str, Any]:
    """Build and store the due week's draft if there is none yet, and tell the editors."""
    from briefings.archive import notify_editors, save_build
    from briefings.build import build

    from briefings import rankings

    now = now or datetime.now(timezone.utc)
    bs = bsettings or load_briefing_settings(config.path)
    # first the rankings of the week that ended (hours before the build, which then reads them)
    rweek = rankings.due_week(bs.timezone, now)
    ranked = rankings.compute_week(store, config, Week(rweek.year, rweek.number, bs.timezone))
    week = due_week(bs, now)
    if week is None:
        return {"built": None, "why": "not yet build time this week", "rankings": {rweek.label: ranked}}
    with store.engine.connect() as conn:
        exists = conn.execute(select(m.briefings.c.id).where(m.briefings.c.week == week.label).limit(1)).first()
    if exists:
        return {"built": None, "week": week.label, "why": "already built", "rankings": {rweek.label: ranked}}
    built = build(store, config, Week(week.year, week.number, bs.timezone), bs)
    row, _new = save_build(store, built, by="earshot (scheduled)", now=now)
    told = notify_editors(store, smtp_settings, bs, row, now=now)
    log.info("briefing %s built (id %s): %s", week.label, row["id"], told)
    return {"built": row["id"], "week": week.label, "editors": told, "rankings": {rweek.label: ranked},
            "rankings_computed_by_the_build": built.rankings_computed}
