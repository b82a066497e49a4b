"""The briefing's week: Monday 00:00 to the next Monday 00:00 in the briefing's time zone (ISO weeks).

>>> w = Week.parse("2026-W47")
>>> w.start.isoformat(), w.end.isoformat()
('2026-11-16T00:00:00+00:00', '2026-11-23T00:00:00+00:00')
>>> w.previous().label, str(Week.parse("2026-W14", "Europe/London").start)
('2026-W46', '2026-03-29 23:00:00+00:00')
>>> Week.last_complete(datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)).label
'2026-W47'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.I)
DEFAULT_TZ = "Europe/London"


@dataclass(frozen=True)
class Week:
    year: int
    number: int
    tz: str = DEFAULT_TZ

    @classmethod
    def parse(cls, text: str, tz: str = DEFAULT_TZ) -> "Week":
        """``2026-W47`` (or ``2026W47``); a week number the year does not have is an error."""
        m = WEEK.match(text.strip())
        if not m:
            raise ValueError(f"{text!r} is not an ISO week (use e.g. 2026-W47)")
        year, number = int(m.group(1)), int(m.group(2))
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ValueError(f"{text!r}: {year} has no week {number}") from None
        return cls(year, number, tz)

    @classmethod
    def containing(cls, when: datetime, tz: str = DEFAULT_TZ) -> "Week":
        y, n, _ = when.astimezone(ZoneInfo(tz)).date().isocalendar()
        return cls(y, n, tz)

    @classmethod
    def last_complete(cls, now: datetime, tz: str = DEFAULT_TZ) -> "Week":
        """The last week that has ended by ``now`` (on a Monday morning: the week just gone)."""
        return cls.containing(now, tz).previous()

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    def _local_midnight(self, d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(self.tz)).astimezone(timezone.utc)

    @property
    def start(self) -> datetime:
        """Monday 00:00 local time, as aware UTC."""
        return self._local_midnight(self.monday)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 local time (exclusive), as aware UTC."""
        return self._local_midnight(self.monday + timedelta(days=7))

    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]

    def previous(self, n: int = 1) -> "Week":
        y, w, _ = (self.monday - timedelta(weeks=n)).isocalendar()
        return Week(y, w, self.tz)

    def describe(self) -> str:
        """``16–22 November 2026`` (across months: ``30 November – 6 December 2026``)."""
        a, b = self.monday, self.monday + timedelta(days=6)
        if a.month == b.month:
            return f"{a.day}\u2013{b.day} {b:%B %Y}"
        if a.year == b.year:
            return f"{a.day} {a:%B} \u2013 {b.day} {b:%B %Y}"
        return f"{a.day} {a:%B %Y} \u2013 {b.day} {b:%B %Y}"

    def __str__(self) -> str:
        return self.label
