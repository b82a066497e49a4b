"""The scenario's settings and what every part shares: topics, account kinds, the week's rhythm,
the outlets, small helpers.

Part of the demo scenario generator (:mod:`monitor.demo.generator`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

import numpy as np


#: Topic ids, in the order of ``config/keywords.yaml``.
TOPICS: tuple[str, ...] = (
    "waiting_times",
    "social_care",
    "vaccination",
    "mental_health",
    "obesity",
    "junior_doctors",
    "smoking",
)
#: Label of chatter that is on none of the topics (used by :func:`iter_edges`).
OFF_TOPIC = "off_topic"
_NT = len(TOPICS)  # index of the off-topic "topic" in per-topic arrays
_SMOKING = TOPICS.index("smoking")

#: Account kinds, as used in ``ground_truth.json["accounts"]``.
KINDS: tuple[str, ...] = (
    "public",
    "journalist",
    "mp",
    "charity",
    "royal_college",
    "nhs_trust",
    "think_tank",
    "clinician",
    "campaigner",
    "commentator",
    "industry",
    "bot",
)
(K_PUBLIC, K_JOURNALIST, K_MP, K_CHARITY, K_COLLEGE, K_TRUST, K_THINK, K_CLINICIAN,
 K_CAMPAIGNER, K_COMMENTATOR, K_INDUSTRY, K_BOT) = range(len(KINDS))

# Share of background posts per topic (last entry: off-topic chatter).
_TOPIC_SHARE = (0.19, 0.11, 0.14, 0.15, 0.08, 0.14, 0.09, 0.10)

# Relative volume by hour of day (UTC is UK time in November): quiet nights,
# a morning peak, an evening peak.
_HOURLY = (0.30, 0.18, 0.11, 0.08, 0.08, 0.13, 0.32, 0.68, 1.05, 1.20, 1.15, 1.05,
           1.08, 1.02, 0.96, 0.95, 1.00, 1.10, 1.22, 1.32, 1.36, 1.22, 0.92, 0.56)
# Monday .. Sunday
_WEEKDAY = (1.00, 1.03, 1.00, 0.98, 0.93, 0.70, 0.66)

# Kinds of tweets in the background stream.
_P_ORIGINAL = 0.37
_P_RETWEET = 0.46
_P_QUOTE = 0.06  # the rest are replies (0.11)

ORIG, RT, QT, RP = 0, 1, 2, 3
_EDGE_NAMES = (None, "retweet", "quote", "reply")

# Tones of generated text.
NEU, POS, NEG, CRISIS, DRIVER, SPAM, PROMO, LIVE, SLEEPER = range(9)

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_MAX_AGE_MS = 72 * _HOUR_MS  # posts older than this are no longer amplified
_RING = 256  # recent posts per topic that attention-driven picks choose among
_REAPPEND_CAP = 30  # times one post may re-enter the attention ring
_P_APPEAL = 0.65  # share of amplifications aimed by account appeal (the rest by recent attention)
_MAX_ACCOUNTS = 100_000
_TW_EPOCH_MS = 1288834974657  # X snowflake epoch


_MIN_SIZE = 1000


#: The fictional outlets whose RSS feeds are written: (file name, title, site URL, topic weights).
FEEDS: tuple[tuple[str, str, str, tuple[float, ...]], ...] = (
    ("herald-health", "The Northern Herald - Health", "https://www.herald.example/health",
     (1.0, 0.4, 1.0, 0.5, 0.8, 1.0, 1.0)),
    ("ledger-society", "The Ledger - Society", "https://www.theledger.example/society",
     (0.6, 1.0, 0.4, 1.0, 1.0, 0.5, 0.5)),
    ("ward-weekly", "Ward Weekly", "https://www.wardweekly.example/news",
     (0.8, 0.8, 0.8, 0.8, 0.2, 1.0, 0.3)),
)


@dataclass(frozen=True)
class ScenarioSpec:
    """What to generate.

    Parameters
    ----------
    size : int
        Number of tweets (originals, retweets, quotes and replies), at least 1000.
    seed : int
        Everything derives from it: the same spec gives byte-identical files.
    start : datetime
        Start of the week (UTC). The default, 2026-11-16, is a Monday.
    days : int
        Length of the scenario in days (at least 2).
    crisis_topic : str
        The topic (one of :data:`TOPICS`) on which the crisis is planted.
    with_rss : bool
        Write the RSS feeds (tweets link to their articles either way).
    crisis_day : int
        Day of the crisis, counted from the (UTC) date of ``start``: default 3, the Thursday.
        Clipped to the last day.
    crisis_hour : int
        UTC hour the crisis starts (the window is kept inside the scenario).
    crisis_hours : int
        Length of the spike window in hours (3-6 look realistic).
    """

    size: int = 1000
    seed: int = 7
    start: datetime = datetime(2026, 11, 16, tzinfo=timezone.utc)
    days: int = 7
    crisis_topic: str = "vaccination"
    with_rss: bool = True
    crisis_day: int = 3
    crisis_hour: int = 10
    crisis_hours: int = 5

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if not isinstance(self.size, int) or self.size < _MIN_SIZE:
            raise ValueError(f"ScenarioSpec.size must be an integer >= {_MIN_SIZE} (the planted structure "
                             f"needs it), got {self.size!r}")
        if self.days < 2:
            raise ValueError(f"ScenarioSpec.days must be at least 2, got {self.days!r}")
        if self.crisis_topic not in TOPICS:
            raise ValueError(f"ScenarioSpec.crisis_topic must be one of {', '.join(TOPICS)}; got {self.crisis_topic!r}")
        if not 0 <= self.crisis_hour <= 23:
            raise ValueError(f"ScenarioSpec.crisis_hour must be 0-23, got {self.crisis_hour!r}")
        if not 1 <= self.crisis_hours <= 12:
            raise ValueError(f"ScenarioSpec.crisis_hours must be 1-12, got {self.crisis_hours!r}")
        if self.crisis_day < 0:
            raise ValueError(f"ScenarioSpec.crisis_day must be >= 0, got {self.crisis_day!r}")

    @property
    def start_utc(self) -> datetime:
        s = self.start if self.start.tzinfo else self.start.replace(tzinfo=timezone.utc)
        return s.astimezone(timezone.utc)


class _Sampler:
    """Draw account numbers with probability proportional to their weights.

    Draws come from the sampler's own random stream, in vectorised batches, so a draw costs
    a list lookup; the sequence of draws depends only on the weights and the stream's seed.
    """

    __slots__ = ("items", "cum", "total", "gen", "buf", "pos")

    def __init__(self, weights: np.ndarray, seed: Sequence[int]):
        idx = np.nonzero(weights > 0)[0]
        self.items = idx
        self.cum = np.cumsum(weights[idx])
        self.total = float(self.cum[-1]) if len(idx) else 0.0
        self.gen = np.random.default_rng(list(seed))
        self.buf: list[int] = []
        self.pos = 0

    def draw(self) -> int:
        pos = self.pos
        if pos >= len(self.buf):
            n = 256 if not self.buf else min(8192, 2 * len(self.buf))
            i = np.searchsorted(self.cum, self.gen.random(n) * self.total, side="right")
            self.buf = self.items[np.minimum(i, len(self.items) - 1)].tolist()
            pos = 0
        self.pos = pos + 1
        return self.buf[pos]

    def __bool__(self) -> bool:
        return self.total > 0


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[int(rng.random() * len(seq))]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]
