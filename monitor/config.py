"""Loading and validating ``config/keywords.yaml``: topics and sources.

Every problem is reported with the file and line it comes from, all at once,
and nothing starts half-configured: :func:`load_config` either returns a whole
:class:`Config` or raises :class:`ConfigError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from monitor.query import Query, QueryError

TOPIC_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
HANDLE = re.compile(r"^@?[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?\s*$")
QUIET_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Alert tuning keys and their defaults; the alert engine documents what each does.
# (monitor/alerts/detector.py documents the detector; monitor/alerts/__init__.py the rest.)
ALERT_DEFAULTS: dict[str, Any] = {
    "sensitivity": 4.0,  # robust score the 3- and 6-hour volume windows must pass (5/15-minute bursts: twice it)
    "min_volume": 10,  # posts in the detection window below which nothing pages
    "quiet_hours": None,  # "22:00-07:00": e-mails and webhooks of non-critical alerts wait; critical ones still go
    "cooldown_minutes": 60,  # after an incident closes, a recurrence this soon reopens the same alert
    "recipients": [],  # press-office e-mail addresses for this topic
    "negative_share_delta": 0.2,  # rise in the share of negative posts that counts as a sentiment shift
    "silence_hours": 6,  # a topic that normally has traffic and has none for this long is "silent"
    "voice_min_amplifiers": 10,  # distinct accounts amplifying an unusual account within an hour
    "notify_min_severity": "info",  # lowest severity e-mailed and posted to webhooks (all go to the dashboard)
    "timezone": "Europe/London",  # local time for quiet hours and the time-of-day / day-of-week baseline
    "coordinated_share": 0.5,  # an alert whose rise comes this much from accounts flagged as coordinated says so
    "coordinated_severity": "lower",  # ... and is one severity lower ("same": as loud as any other)
}
ALERT_SEVERITIES = ("info", "warning", "critical")


class UnknownTopic(ValueError):
    """A topic named by neither the id nor the label of a configured topic (or by two topics' names)."""


def _topic_key(name: str) -> str:
    """How topic names compare: any case, ``_`` and ``-`` as spaces, runs of spaces as one."""
    return " ".join(name.casefold().replace("_", " ").replace("-", " ").split())


class ConfigError(Exception):
    """The configuration file is broken; ``problems`` holds (line, message) pairs."""

    def __init__(self, path: Path | str, problems: list[tuple[int | None, str]]):
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}" + (f" line {ln}" if ln else "") + f": {msg}" for ln, msg in problems]
        super().__init__("\n".join(lines))


@dataclass
class Topic:
    id: str
    label: str
    query: Query
    description: str = ""
    stakeholders: list[str] = field(default_factory=list)  # lower-case handles, no '@'
    languages: list[str] = field(default_factory=list)  # empty: any language
    alerts: dict[str, Any] = field(default_factory=lambda: dict(ALERT_DEFAULTS))
    line: int | None = None


@dataclass
class FeedSource:
    name: str
    url: str
    interval: int = 900


@dataclass
class XSearchConfig:
    enabled: bool = False
    interval: int = 300
    max_pages: int = 5


@dataclass
class XStreamConfig:
    enabled: bool = False


@dataclass
class Config:
    path: Path
    topics: dict[str, Topic]
    feeds: list[FeedSource] = field(default_factory=list)
    x_search: XSearchConfig = field(default_factory=XSearchConfig)
    x_stream: XStreamConfig = field(default_factory=XStreamConfig)
    alert_defaults: dict[str, Any] = field(default_factory=lambda: dict(ALERT_DEFAULTS))  # defaults.alerts (source alerts use it)
    # hosts feeds may be fetched from although they are (or resolve to) loopback, private or link-local addresses
    allow_private_hosts: list[str] = field(default_factory=list)

    def topic(self, name: str) -> Topic:
        """The topic called ``name``: its id or its label, in any case (``Vaccination``, ``"NHS waiting times"``,
        ``waiting_times``, ``Waiting Times``); the one resolver every command uses.

        Raises
        ------
        UnknownTopic
            Naming the topics there are, when ``name`` is none of them (or is two of them).

        Examples
        --------
        >>> config = parse_config("topics:\\n  waiting_times: {label: NHS waiting times, query: nhs}\\n")
        >>> config.topic("NHS Waiting Times").id, config.topic("WAITING_TIMES").id
        ('waiting_times', 'waiting_times')
        >>> config.topic("flu")
        Traceback (most recent call last):
        ...
        monitor.config.UnknownTopic: no topic 'flu'; topics: waiting_times (NHS waiting times)
        """
        if name in self.topics:
            return self.topics[name]
        key = _topic_key(name)
        hits = {t.id: t for t in self.topics.values() if key in (_topic_key(t.id), _topic_key(t.label))}
        if len(hits) == 1:
            return next(iter(hits.values()))
        if hits:
            raise UnknownTopic(f"{name!r} names more than one topic: {', '.join(hits)}; use the id")
        known = "; ".join(f"{t.id} ({t.label})" for t in self.topics.values()) or "none configured"
        raise UnknownTopic(f"no topic {name!r}; topics: {known}")


def parse_duration(value: Any) -> int:
    """Seconds in ``"15m"``, ``"1h"``, ``"90s"``, ``"2d"`` or a plain number of seconds."""
    m = DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 15m, 1h)")
    n = float(m.group(1))
    unit = (m.group(2) or "s")[0]
    return int(n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


class _Reader:
    """Walks a composed YAML node tree, so every value can be traced back to its line."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[tuple[int | None, str]] = []

    def fail(self, node: yaml.Node | None, msg: str) -> None:
        self.problems.append((node.start_mark.line + 1 if node is not None else None, msg))

    @staticmethod
    def mapping(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        return {k.value: (k, v) for k, v in node.value} if isinstance(node, yaml.MappingNode) else {}

    @staticmethod
    def value(node: yaml.Node | None) -> Any:
        return yaml.constructor.SafeConstructor().construct_document(node) if node is not None else None

    def check_keys(self, node: yaml.Node, allowed: set[str], where: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{where} must be a mapping of keys to values")
            return {}
        items = self.mapping(node)
        for key, (knode, _) in items.items():
            if key not in allowed:
                self.fail(knode, f"{where}: unknown key {key!r} (expected one of: {', '.join(sorted(allowed))})")
        return items


# What PyYAML's "while scanning/parsing ..." contexts open: an error inside one is reported where it
# starts (an unclosed quote is found only at the end of the file, but the mistake is the quote).
_OPENED = {"a quoted scalar": ("quoted text", 'is not closed: add the closing quote'),
           "a flow sequence": ("the [ list", "is not closed: add the ] (or put quotes around text holding [ or ,)"),
           "a flow mapping": ("the { mapping", "is not closed: add the } (or put quotes around text holding { or ,)"),
           "a block scalar": ("the | or > text block", "is not valid")}


def yaml_problem(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """(line, message) of a YAML syntax error, naming where the problem starts.

    Examples
    --------
    >>> try:
    ...     yaml.compose('topics:\\n  flu:\\n    label: Flu\\n    query: "flu OR\\n      influenza\\n')
    ... except yaml.YAMLError as exc:
    ...     yaml_problem(exc)
    (4, 'not valid YAML: quoted text starting at column 12 is not closed: add the closing quote (the file ends first)')
    """
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context, cmark = getattr(exc, "context", None) or "", getattr(exc, "context_mark", None)
    opened = next((v for k, v in _OPENED.items() if context.endswith(k)), None)
    if opened and cmark is not None:
        what, verdict = opened
        if "end of stream" in problem or "<stream end>" in problem:
            found = "the file ends first"
        else:
            found = problem + (f" at line {mark.line + 1}, column {mark.column + 1}" if mark else "")
        return cmark.line + 1, f"not valid YAML: {what} starting at column {cmark.column + 1} {verdict} ({found})"
    if mark is None:
        return None, f"not valid YAML: {problem}"
    return mark.line + 1, f"not valid YAML: {problem} (column {mark.column + 1})"


def load_config(path: str | Path) -> Config:
    """Read and validate the configuration file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [(None, "file not found (set EARSHOT_CONFIG or create it from the sample)")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [(None, f"cannot read the file: {exc}")]) from None
    return parse_config(text, path)


def parse_config(text: str, path: str | Path = "<config>") -> Config:
    path = Path(path)
    r = _Reader(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(path, [yaml_problem(exc)]) from None
    if root is None:
        raise ConfigError(path, [(None, "the file is empty: it needs at least a 'topics:' section")])
    top = r.check_keys(root, {"defaults", "topics", "sources"}, "top level")
    if r.problems:
        raise ConfigError(path, r.problems)

    defaults_langs: list[str] = []
    alert_defaults = dict(ALERT_DEFAULTS)
    if "defaults" in top:
        d = r.check_keys(top["defaults"][1], {"languages", "alerts"}, "defaults")
        if "languages" in d:
            defaults_langs = _languages(r, d["languages"][1], "defaults.languages")
        if "alerts" in d:
            alert_defaults = _alerts(r, d["alerts"][1], "defaults.alerts", alert_defaults)

    topics: dict[str, Topic] = {}
    if "topics" not in top:
        r.fail(root, "no 'topics:' section: nothing to watch")
    else:
        tnode = top["topics"][1]
        if not isinstance(tnode, yaml.MappingNode) or not tnode.value:
            r.fail(tnode, "'topics' must map topic ids to their settings, and have at least one")
        else:
            for knode, vnode in tnode.value:
                topic = _topic(r, knode, vnode, defaults_langs, alert_defaults)
                if topic is None:
                    continue
                if topic.id in topics:
                    r.fail(knode, f"topic {topic.id!r} is defined twice")
                topics[topic.id] = topic

    feeds: list[FeedSource] = []
    x_search, x_stream = XSearchConfig(), XStreamConfig()
    allow_private: list[str] = []
    if "sources" in top:
        s = r.check_keys(top["sources"][1], {"rss", "x", "allow_private_hosts"}, "sources")
        if "rss" in s:
            feeds = _feeds(r, s["rss"][1])
        if "allow_private_hosts" in s:
            hosts = r.value(s["allow_private_hosts"][1])
            if not isinstance(hosts, list) or not all(isinstance(h, str) and h.strip() for h in hosts):
                r.fail(s["allow_private_hosts"][1], "sources.allow_private_hosts must be a list of host names "
                       "or addresses, e.g. [intranet.example.org, 10.0.0.5]")
            else:
                allow_private = [h.strip() for h in hosts]
        if "x" in s:
            x_search, x_stream = _x(r, s["x"][1])
    if r.problems:
        raise ConfigError(path, r.problems)
    return Config(path=path, topics=topics, feeds=feeds, x_search=x_search, x_stream=x_stream,
                  alert_defaults=alert_defaults, allow_private_hosts=allow_private)


def _languages(r: _Reader, node: yaml.Node, where: str) -> list[str]:
    val = r.value(node)
    if isinstance(val, str):
        val = [val]
    if not isinstance(val, list) or not all(isinstance(x, str) and re.fullmatch(r"[a-z]{2,3}", x.lower()) for x in val):
        r.fail(node, f"{where} must be a list of language codes such as [en, cy]")
        return []
    return [x.lower() for x in val]


def _alerts(r: _Reader, node: yaml.Node, where: str, base: dict[str, Any]) -> dict[str, Any]:
    items = r.check_keys(node, set(ALERT_DEFAULTS), where)
    out = dict(base)
    for key, (_, vnode) in items.items():
        val = r.value(vnode)
        ok = True
        if key == "sensitivity":
            ok = isinstance(val, (int, float)) and not isinstance(val, bool) and 0 < val <= 20
            msg = "a number above 0 (higher = fewer alerts; 4 is the default)"
        elif key in ("min_volume", "cooldown_minutes", "silence_hours"):
            ok = isinstance(val, int) and not isinstance(val, bool) and val >= 0
            msg = "a whole number, 0 or more"
        elif key == "voice_min_amplifiers":
            ok = isinstance(val, int) and not isinstance(val, bool) and val >= 1
            msg = "a whole number, 1 or more"
        elif key == "notify_min_severity":
            ok = val in ALERT_SEVERITIES
            msg = "one of " + ", ".join(ALERT_SEVERITIES)
        elif key == "coordinated_share":
            ok = isinstance(val, (int, float)) and not isinstance(val, bool) and 0 < val <= 1
            msg = "a share above 0 and at most 1 (0.5: most of the rise)"
        elif key == "coordinated_severity":
            ok = val in ("lower", "same")
            msg = "lower or same"
        elif key == "timezone":
            ok = isinstance(val, str) and _is_timezone(val)
            msg = 'an IANA time zone such as "Europe/London"'

        elif key == "negative_share_delta":
            ok = isinstance(val, (int, float)) and not isinstance(val, bool) and 0 < val < 1
            msg = "a fraction between 0 and 1, e.g. 0.2"
        elif key == "quiet_hours":
            ok = val is None or (isinstance(val, str) and bool(QUIET_HOURS.match(val.strip())))
            msg = 'a time range such as "22:00-07:00"'
        elif key == "recipients":
            if isinstance(val, str):
                val = [val]
            ok = isinstance(val, list) and all(isinstance(x, str) and EMAIL.match(x) for x in val)
            msg = "a list of e-mail addresses"
        if not ok:
            r.fail(vnode, f"{where}.{key} must be {msg}, not {val!r}")
        else:
            out[key] = val
    return out


def _is_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def _topic(r: _Reader, knode, vnode, default_langs, alert_defaults) -> Topic | None:
    tid = knode.value
    where = f"topic {tid!r}"
    if not isinstance(tid, str) or not TOPIC_ID.match(tid):
        r.fail(knode, f"{where}: topic ids are lower case letters, digits and _ (e.g. waiting_times)")
        return None
    items = r.check_keys(vnode, {"label", "query", "description", "stakeholders", "languages", "alerts"}, where)
    if not items and not isinstance(vnode, yaml.MappingNode):
        return None
    label = r.value(items["label"][1]) if "label" in items else None
    if not isinstance(label, str) or not label.strip():
        r.fail(items["label"][1] if "label" in items else vnode, f"{where}: needs a 'label' (the name people read)")
        label = tid
    if "query" not in items:
        r.fail(vnode, f"{where}: needs a 'query'")
        return None
    qnode = items["query"][1]
    qtext = r.value(qnode)
    if not isinstance(qtext, str) or not qtext.strip():
        r.fail(qnode, f"{where}: 'query' must be a non-empty string")
        return None
    try:
        query = Query(qtext)
    except QueryError as exc:
        # block scalars (query: >) start on the next line
        r.problems.append((_query_line(qnode, qtext, exc.position), f"{where}: query: {exc}"))
        return None
    stakeholders: list[str] = []
    if "stakeholders" in items:
        snode = items["stakeholders"][1]
        val = r.value(snode)
        if not isinstance(val, list) or not all(isinstance(x, str) and HANDLE.match(x.strip()) for x in val):
            r.fail(snode, f"{where}: stakeholders must be a list of account handles such as '@NHSEngland'")
        else:
            stakeholders = [x.strip().lstrip("@").lower() for x in val]
    langs = _languages(r, items["languages"][1], f"{where}.languages") if "languages" in items else list(default_langs)
    alerts = _alerts(r, items["alerts"][1], f"{where}.alerts", alert_defaults) if "alerts" in items else dict(alert_defaults)
    desc = r.value(items["description"][1]) if "description" in items else ""
    return Topic(id=tid, label=label.strip(), query=query, description=str(desc or ""), stakeholders=stakeholders,
                 languages=langs, alerts=alerts, line=knode.start_mark.line + 1)


def _query_line(node: yaml.Node, text: str, position: int | None) -> int:
    line = node.start_mark.line + 1
    if node.style in ("|", ">"):
        line += 1
        if position is not None and node.style == "|":
            line += text[:position].count("\n")
    return line


def _feeds(r: _Reader, node: yaml.Node) -> list[FeedSource]:
    if not isinstance(node, yaml.SequenceNode):
        r.fail(node, "sources.rss must be a list of feeds, each with name, url and interval")
        return []
    feeds, names = [], set()
    for item in node.value:
        f = r.check_keys(item, {"name", "url", "interval"}, "sources.rss entry")
        if not f:
            continue
        name = r.value(f["name"][1]) if "name" in f else None
        url = r.value(f["url"][1]) if "url" in f else None
        if not isinstance(name, str) or not SOURCE_NAME.match(name):
            r.fail(item, "sources.rss entry: needs a 'name' of letters, digits, '-', '_' or '.'")
            continue
        if name in names:
            r.fail(f["name"][1], f"feed {name!r} is listed twice")
        names.add(name)
        parsed = urlparse(url) if isinstance(url, str) else None
        if not parsed or parsed.scheme not in ("http", "https") or not parsed.netloc:
            r.fail(f["url"][1] if "url" in f else item, f"feed {name!r}: 'url' must be an http(s) URL, not {url!r}")
            continue
        interval = 900
        if "interval" in f:
            try:
                interval = parse_duration(r.value(f["interval"][1]))
                if interval < 60:
                    raise ValueError("polling a feed more often than once a minute is rude; use 1m or more")
            except ValueError as exc:
                r.fail(f["interval"][1], f"feed {name!r}: interval: {exc}")
        feeds.append(FeedSource(name=name, url=url, interval=interval))
    return feeds


def _x(r: _Reader, node: yaml.Node) -> tuple[XSearchConfig, XStreamConfig]:
    x = r.check_keys(node, {"search", "stream"}, "sources.x")
    search, stream = XSearchConfig(), XStreamConfig()
    if "search" in x:
        s = r.check_keys(x["search"][1], {"enabled", "interval", "max_pages"}, "sources.x.search")
        if "enabled" in s:
            search.enabled = bool(r.value(s["enabled"][1]))
        if "interval" in s:
            try:
                search.interval = parse_duration(r.value(s["interval"][1]))
            except ValueError as exc:
                r.fail(s["interval"][1], f"sources.x.search.interval: {exc}")
        if "max_pages" in s:
            v = r.value(s["max_pages"][1])
            if not isinstance(v, int) or v < 1:
                r.fail(s["max_pages"][1], "sources.x.search.max_pages must be a whole number, 1 or more")
            else:
                search.max_pages = v
    if "stream" in x:
        s = r.check_keys(x["stream"][1], {"enabled"}, "sources.x.stream")
        if "enabled" in s:
            stream.enabled = bool(r.value(s["enabled"][1]))
    return search, stream
