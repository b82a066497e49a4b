"""The briefing's own configuration: ``briefing.yaml`` beside ``keywords.yaml`` (``EARSHOT_CONFIG``'s folder).

Who receives it, who edits it, who may be named in it, and when the draft is built. Every key is
documented in the README ("Weekly briefing") and in the sample ``config/briefing.yaml``. A missing
file means the defaults (no recipients: ``earshot briefing send`` then refuses and says why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from monitor.config import EMAIL, HANDLE, ConfigError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

KEYS = {
    "recipients": "ministers' and officials' addresses the approved briefing is sent to",
    "editors": "addresses told when a draft is ready (and who may approve it)",
    "sender": "From address of the briefing (default: EARSHOT_SMTP_FROM)",
    "timezone": "the week runs Monday to Sunday in this time zone",
    "public_min_followers": "accounts with at least this many followers count as public figures and are named",
    "public_accounts": "organisations and public figures named whatever their followers (@handles)",
    "private_accounts": "accounts never named, whatever their followers (@handles)",
    "stories_per_topic": "top stories shown per topic",
    "voices_per_topic": "influential voices shown per topic",
    "build_weekday": "day the scheduled draft is built",
    "build_time": "local time (HH:MM) the scheduled draft is built",
    "dashboard_url": "https: address of the dashboard, for the 'read in the browser' link (empty: none)",
}


@dataclass
class BriefingSettings:
    path: Path | None = None
    recipients: list[str] = field(default_factory=list)
    editors: list[str] = field(default_factory=list)
    sender: str = ""
    timezone: str = "Europe/London"
    public_min_followers: int = 10_000
    public_accounts: set[str] = field(default_factory=set)  # lower case, no '@'
    private_accounts: set[str] = field(default_factory=set)
    stories_per_topic: int = 5
    voices_per_topic: int = 8
    build_weekday: str = "monday"
    build_time: str = "07:00"
    dashboard_url: str = ""

    @property
    def build_hour_minute(self) -> tuple[int, int]:
        h, m = self.build_time.split(":")
        return int(h), int(m)


def settings_path(config_path: Path) -> Path:
    return Path(config_path).parent / "briefing.yaml"


def load_briefing_settings(config_path: Path) -> BriefingSettings:
    """Read ``briefing.yaml`` beside the topics file; problems raise :class:`ConfigError` naming the line."""
    path = settings_path(config_path)
    if not path.is_file():
        return BriefingSettings()
    return parse_briefing_settings(path.read_text(encoding="utf-8"), path)


def _handles(value: Any, key: str, problems: list) -> set[str]:
    if not isinstance(value, list):
        problems.append((None, f"{key}: must be a list of @handles"))
        return set()
    out = set()
    for h in value:
        if not isinstance(h, str) or not HANDLE.match(h):
            problems.append((None, f"{key}: {h!r} is not an account handle"))
        else:
            out.add(h.lstrip("@").lower())
    return out


def _emails(value: Any, key: str, problems: list) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and EMAIL.match(v) for v in value):
        problems.append((None, f"{key}: must be a list of e-mail addresses"))
        return []
    return list(value)


def parse_briefing_settings(text: str, path: Path | str = "<briefing.yaml>") -> BriefingSettings:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(path, [(mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    if not isinstance(data, dict):
        raise ConfigError(path, [(None, "must be a mapping of settings")])
    data = data.get("briefing", data) if set(data) == {"briefing"} else data
    problems: list[tuple[int | None, str]] = []
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        problems.append((None, f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(KEYS)}"))
    s = BriefingSettings(path=Path(path))
    if "recipients" in data:
        s.recipients = _emails(data["recipients"], "recipients", problems)
    if "editors" in data:
        s.editors = _emails(data["editors"], "editors", problems)
    if data.get("sender"):
        s.sender = str(data["sender"])
        if not EMAIL.match(s.sender):
            problems.append((None, f"sender: {s.sender!r} is not an e-mail address"))
    if "timezone" in data:
        s.timezone = str(data["timezone"])
        try:
            ZoneInfo(s.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append((None, f"timezone: {s.timezone!r} is not an IANA time zone (e.g. Europe/London)"))
    for key in ("public_min_followers", "stories_per_topic", "voices_per_topic"):
        if key in data:
            v = data[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                problems.append((None, f"{key}: must be a whole number >= 0, not {v!r}"))
            else:
                setattr(s, key, v)
    if "public_accounts" in data:
        s.public_accounts = _handles(data["public_accounts"], "public_accounts", problems)
    if "private_accounts" in data:
        s.private_accounts = _handles(data["private_accounts"], "private_accounts", problems)
    if "build_weekday" in data:
        s.build_weekday = str(data["build_weekday"]).lower()
        if s.build_weekday not in WEEKDAYS:
            problems.append((None, f"build_weekday: {data['build_weekday']!r} is not a day of the week"))
    if "build_time" in data:
        s.build_time = str(data["build_time"])
        try:
            h, m = s.build_hour_minute
            assert 0 <= h < 24 and 0 <= m < 60
        except (ValueError, AssertionError):
            problems.append((None, f"build_time: {data['build_time']!r} is not a time (HH:MM)"))
    if data.get("dashboard_url"):
        s.dashboard_url = str(data["dashboard_url"]).rstrip("/")
        if not s.dashboard_url.startswith("https://"):
            problems.append((None, "dashboard_url: must start with https://"))
    if problems:
        raise ConfigError(path, problems)
    return s
