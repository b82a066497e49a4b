"""The detectors: what the alert engine computes from a topic's counts, and why.

Everything here is pure Python over plain numbers (no database, no clock), so
live detection, ``earshot alerts backtest`` and ``bench/alerts.py`` run the very
same code: :class:`TopicDetector` is fed one bucket at a time (5 minutes in
Earshot; any length in a backtest).

The seasonal baseline: a robust EWMA
------------------------------------
For every bucket the detector predicts the number of posts

    e(t) = L x P_k(hour of day) x W(day of week)

- ``L``, the *level* (posts per bucket, seasonality removed): an exponentially
  weighted moving average with a time constant of :data:`LEVEL_DAYS` (2 days),
  so a topic whose normal level drifts is followed -- a gradual rise over days
  is learnt, not paged.
- ``P_k``, the *time-of-day profile*: 24 hourly factors, interpolated between
  hour centres, one profile for weekdays and one for weekends (``k``) -- a
  Monday 9am is not a Sunday 3am. Each factor learns about a quarter of its
  error a day; a kind of day seen for the first time (the first weekend) learns
  as a running mean.
- ``W``, 7 *day-of-week* factors (quieter weekends), learning about half their
  error each time that weekday comes round (the first time, the ratio of its posts
  to what the level and profile expect, so its quiet night weighs little).
  Each day the factors are rescaled to a mean of 1, their mean going into the
  level, so the expectation itself never jumps.
- Time of day and day of week are local (``timezone``, default Europe/London):
  the clocks going forward do not shift the profile.

The first day of a topic (:data:`WARMUP_HOURS`) sets the baseline: its mean is
the level, its hourly counts (smoothed) both profiles, its median residuals the
noise scales. Nothing is alerted during the warm-up.

Robust to the spike itself
    Updates are *winsorised*: an observation more than :data:`WINSOR` (2)
    robust standard deviations from the prediction enters the update clipped at
    that distance. While an incident is open the profiles, the day-of-week
    factors, the noise scales and the sentiment norm learn nothing, and the level
    is frozen for its first :data:`FREEZE_HOURS` (6) hours; after that the level
    learns again (clipped), so a lasting *level shift* is in time accepted as the
    new normal and its alert closes, while an outbreak of a few hours never
    raises its own baseline.

The volume test
---------------
Judged against the topic's own recent days, not against a model of it. For windows of 5
and 15 minutes and 3 and 6 hours ending at the newest bucket, with ``Y`` posts observed:

- the *reference* ``E`` is the median of the posts in the same local hours on the last
  five days of the same kind (weekdays for a weekday, weekend days for a weekend; the
  window's kind is that of its middle) within the last 14 days -- a daily rhythm, a quiet
  weekend, last Tuesday's story and a single bad day do not move a median, and a level
  shift becomes the reference within three to five days (:class:`VolumeReference`);
- the score is the Anscombe residual ``r = 2 (sqrt(Y + 3/8) - sqrt(E + 3/8))`` over the
  window's *noise scale*: the larger of the median absolute residual (x 1.4826) and the 95th
  percentile of the absolute residuals over 1.96, read from a histogram of the topic's own
  residuals forgetting with a time constant of 3.5 days -- matched at the tail, so a topic
  whose normal traffic is heavy-tailed (retweet cascades, bot floods) needs a
  proportionally larger rise, and a calm topic a smaller one.

A window *fires* when ``Y >= min_volume`` and ``Y >= MIN_RATIO x E`` (1.5) and

- the 3- and 6-hour windows: the score passes ``sensitivity`` (default 4) while the last
  hour is itself not calm (a burst two hours ago is over) -- a story that runs for hours;
- the 5- and 15-minute windows (*bursts*): the score passes twice ``sensitivity``, posts
  are at least :data:`BURST_RATIO` (3) times the reference, and the residual beats the
  topic's largest recent burst (remembered with a half-life of three weeks) -- a topic that
  floods every few days is not paged for each flood.

Why these: on the real series of the Numenta Anomaly Benchmark (tweet volume, labelled
incidents; ``bench/alerts.py``) the labelled incidents are rises that last hours, and
the commonest false alarm is a short burst of the kind the topic has every few days:
judging the hours, and asking bursts to be extreme and new, is what keeps the pager
quiet for nothing. A first weekday after a weekend-only history (or the reverse) is
compared with the other kind of day scaled by the weekday factors of the seasonal
baseline above, and judged on bursts alone until a day of its kind has been seen. The
volume test waits for a day of history and 7 hours of residuals.

Severity: *critical* when some window holds at least :data:`CRITICAL_RATIO` (3) times its
reference with a score of at least :data:`CRITICAL_FACTOR` (1.5) times the sensitivity,
*warning* otherwise. The figures of an alert are those of the window that fired hardest
(posts and reference in it, their ratio, per hour).

The seasonal baseline above is what silence and the sentiment norm use (``expected``);
the volume test uses only its weekday factors.

The sentiment test
------------------
The share of negative posts (VADER compound <= -0.05) over the last 15 and 60
minutes against the topic's norm (a volume-weighted EWMA over two days). It
fires when the window holds at least twice ``min_volume`` posts, the share is at
least ``negative_share_delta`` (default 0.2) above the norm, and the
variance-stabilised binomial score ``2 sqrt(n) (asin sqrt(share) - asin
sqrt(norm))`` -- divided by its own learnt scale -- passes ``sensitivity + 1``
(shares of small counts have heavy tails). Critical when the rise is at least
twice ``negative_share_delta`` and the score twice the sensitivity.

A topic's volume and sentiment signals make **one** incident: an outbreak that
is both loud and angry is one alert (kind ``volume``; ``sentiment`` when only
the sentiment moved), not two.

Silence
-------
A run of empty buckets is *silence* when it has lasted ``silence_hours`` (default
6) and the baseline expected at least ``max(min_volume, 10)`` posts in it: a
quiet night on a quiet topic is not silence, a busy topic going dark in the
afternoon (a broken collector, a revoked token) is. Nothing is learnt from an
empty run that had become unlikely (5 posts expected).

One alert per incident
----------------------
:class:`Incident` turns the signals into transitions: ``open`` when a signal
first fires; ``update`` while it lasts (current, expected, ratio, peak);
``escalate`` when the severity rises; ``close`` after an hour of calm buckets
(12 of 5 minutes, one of an hour); ``reopen`` -- the *same* alert -- when the signal returns
within the cool-down. *Calm* needs evidence: the test looks back at least an
hour and as far as it takes (up to 6 hours) to cover 10 expected posts, and is
calm when those posts are within 1.2 times the expected or score below half the
sensitivity -- a hysteresis, so an incident hovering at the threshold does not
flap, and a quiet night neither closes a lasting rise nor keeps a finished one
open. The cool-down is ``cooldown_minutes`` (default 60), or half the incident's
length when longer (at most 12 hours): a day-long level shift that dips at night
is still one incident the next morning.

Buckets still filling can be looked at with :meth:`TopicDetector.peek`: against
the full bucket's expectation a partial count can only understate a rise, so a
provisional look may open or escalate an incident, never close it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from monitor.config import ALERT_DEFAULTS

# ----------------------------------------------------------------------------- constants
SEVERITIES = ("info", "warning", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}

WINDOWS = (1, 3, 12)  #: windows of the seasonal baseline's noise and the sentiment test, in buckets
SENTIMENT_WINDOWS = (3, 12)  #: sentiment windows, in buckets
WINSOR = 2.0  #: robust standard deviations at which updates are clipped
MIN_RATIO = 1.5  #: a hot window holds at least this many times the expected posts
CRITICAL_RATIO = 3.0  #: a critical window holds this many times the expected posts ...
CRITICAL_FACTOR = 1.5  #: ... with a score of at least this times the sensitivity
SENTIMENT_EXTRA = 1.0  #: the sentiment score must pass sensitivity + this (share tails are heavier)
SENTIMENT_VOLUME = 2.0  #: ... over at least this many times min_volume posts
CALM_FRACTION = 0.5  #: calm = the hour's score below this fraction of the sensitivity ...
CALM_RATIO = 1.2  #: ... or its posts within this multiple of the expected
CALM_BUCKETS = 12  #: consecutive calm buckets before an incident closes (the detector asks for an hour's worth)
LONG_COOLDOWN_HOURS = 12.0  #: the longest cool-down a long incident earns
CALM_EXPECTED = 10.0  #: the calm test covers at least this many expected posts ...
CALM_LOOKBACK_HOURS = 6.0  #: ... looking back at most this far
FREEZE_HOURS = 6.0  #: the level does not learn for this long after an incident opens
SILENCE_MIN_EXPECTED = 10.0  #: posts the baseline must expect in a silent run before it is silence
SILENCE_SUSPECT = 5.0  #: expected posts in an empty run beyond which nothing is learnt from it
LEVEL_DAYS = 2.0  #: time constant of the level
PRIOR_BUCKETS = 12  #: a seasonal factor seen for the first time learns as a running mean with this prior
SCALE_DAYS = 2.0  #: time constant of the noise scale
SENTIMENT_DAYS = 2.0  #: time constant of the negative-share norm
WARMUP_HOURS = 24.0  #: history needed before anything is alerted
MIN_SCALE = 1.0  #: the noise scale is never taken below Poisson noise
_ABS_TO_SD = 1.2533  # E|X| = 0.798 sd for a normal variable
_MAD_TO_SD = 1.4826  # median |X| = 0.674 sd for a normal variable
_DAY = 86400


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def rank(severity: str) -> int:
    """Order of a severity: info < warning < critical."""
    return SEVERITY_RANK.get(severity, 0)


# ----------------------------------------------------------------------------- what an alert says
def alert_figures(kind: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The figures an alert of ``kind`` shows for one evaluation's ``metrics`` (see :meth:`TopicDetector.reading`).

    The one reading of the figures, for the live engine and for backtests alike: a volume alert's
    are those of the window that fired (posts per hour now and normally, their ratio, the score,
    the window and its posts); a sentiment alert's the negative share against its norm.
    """
    if kind == "sentiment":
        cur, exp = metrics.get("negative_share") or 0.0, metrics.get("negative_norm") or 0.0
        return {"current": cur, "expected": exp, "ratio": cur / exp if exp else None,
                "score": metrics.get("sentiment_z"), "window_minutes": metrics.get("window_minutes"),
                "posts": None, "expected_posts": None}
    return {"current": metrics.get("current"), "expected": metrics.get("expected"), "ratio": metrics.get("ratio"),
            "score": metrics.get("z"), "window_minutes": metrics.get("window_minutes"),
            "posts": metrics.get("posts"), "expected_posts": metrics.get("expected_posts")}


def headline(kind: str, figures: Mapping[str, Any]) -> str:
    """What a volume or sentiment alert's title says of its figures (:func:`alert_figures`).

    >>> headline("volume", {"ratio": 3.56, "posts": 82, "window_minutes": 180, "expected_posts": 23})
    '3.6× the usual volume (82 posts in 3 hours, normally about 23)'
    >>> headline("sentiment", {"current": 0.93, "expected": 0.58})
    'negative posts at 93% (normally 58%)'
    """
    if kind == "sentiment":
        return f"negative posts at {figures.get('current') or 0.0:.0%} (normally {figures.get('expected') or 0.0:.0%})"
    return (f"{_fmt_ratio(figures.get('ratio'))} the usual volume ({_n(figures.get('posts'))} posts in "
            f"{_span(figures.get('window_minutes'))}, normally about {_n(figures.get('expected_posts'))})")


def _n(x: Any) -> str:
    return f"{x:.0f}" if isinstance(x, (int, float)) and math.isfinite(x) else "?"


def _span(minutes: Any) -> str:
    """``5 minutes``, ``1 hour``, ``6 hours``."""
    if not isinstance(minutes, (int, float)) or minutes <= 0:
        return "the last hour"
    if minutes < 60:
        return f"{minutes:.0f} minutes"
    hours = minutes / 60
    if hours < 48:
        return "1 hour" if hours == 1 else f"{hours:.0f} hours"
    return f"{hours / 24:.0f} days"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None or ratio == float("inf"):
        return "far above"
    return f"{ratio:.1f}×"


# ----------------------------------------------------------------------------- parameters
@dataclass
class Params:
    """The tunable parameters of one topic's detector (``alerts:`` in config/keywords.yaml).

    Parameters
    ----------
    sensitivity : float
        Robust score the 3- and 6-hour volume windows must pass (default 4; the 5- and
        15-minute bursts need twice it; higher means fewer alerts).
    min_volume : int
        Posts a window must hold before volume or sentiment can alert (default 10).
    cooldown_minutes : int
        After an incident closes, a recurrence within this time reopens the same alert.
    negative_share_delta : float
        Rise of the negative share above its norm that counts as a sentiment shift.
    silence_hours : float
        Empty hours (on a topic expected to be busy) before a silence alert; 0 turns it off.
    timezone : str
        IANA zone in which the time of day and the day of week are taken.
    bucket_seconds : int
        Length of one bucket (300 for Earshot's rollups; anything for a backtest).
    """

    sensitivity: float = ALERT_DEFAULTS["sensitivity"]
    min_volume: int = ALERT_DEFAULTS["min_volume"]
    cooldown_minutes: float = ALERT_DEFAULTS["cooldown_minutes"]
    negative_share_delta: float = ALERT_DEFAULTS["negative_share_delta"]
    silence_hours: float = ALERT_DEFAULTS["silence_hours"]
    timezone: str = ALERT_DEFAULTS["timezone"]
    bucket_seconds: int = 300

    @classmethod
    def from_alerts(cls, alerts: Mapping[str, Any], bucket_seconds: int = 300, **overrides: Any) -> "Params":
        """Parameters from a topic's ``alerts`` settings, with optional overrides (None = keep)."""
        names = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in alerts.items() if k in names and v is not None}
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["bucket_seconds"] = int(bucket_seconds)
        return cls(**values)

    # derived, per bucket length (cached: the detector asks for them on every bucket) ---
    @cached_property
    def windows(self) -> tuple[int, ...]:
        """Windows (in buckets) no longer than a day, always including the single bucket."""
        b = self.bucket_seconds
        return tuple(w for w in WINDOWS if w == 1 or w * b <= _DAY)

    @cached_property
    def volume_windows(self) -> tuple[tuple[int, float], ...]:
        """The volume test's windows as (buckets, threshold factor), one per length (the lowest factor kept)."""
        out: dict[int, float] = {}
        for secs, factor in VOLUME_WINDOWS:
            w = max(1, int(round(secs / self.bucket_seconds)))
            out[w] = min(factor, out.get(w, factor))
        return tuple(sorted(out.items()))

    @cached_property
    def calm_window(self) -> int:
        return max(1, int(round(CALM_WINDOW / self.bucket_seconds)))

    @cached_property
    def reference_windows(self) -> tuple[int, ...]:
        return tuple(sorted({w for w, _f in self.volume_windows} | {self.calm_window}))

    @cached_property
    def sentiment_windows(self) -> tuple[int, ...]:
        ws = self.windows
        return tuple(w for w in SENTIMENT_WINDOWS if w in ws) or (ws[-1],)

    @property
    def seasonal_hours(self) -> bool:
        """Whether buckets are short enough for a time-of-day profile."""
        return self.bucket_seconds < _DAY

    @property
    def seasonal_days(self) -> bool:
        return self.bucket_seconds <= _DAY

    @property
    def warmup_buckets(self) -> int:
        return max(int(math.ceil(WARMUP_HOURS * 3600 / self.bucket_seconds)), 14)

    def rate(self, days: float, floor_buckets: int = 14) -> float:
        """EWMA weight per bucket for a time constant of ``days`` (at least ``floor_buckets`` buckets)."""
        cache = self.__dict__.setdefault("_rates", {})
        r = cache.get((days, floor_buckets))
        if r is None:
            r = cache[(days, floor_buckets)] = 1.0 / max(days * _DAY / self.bucket_seconds, floor_buckets)
        return r


# ----------------------------------------------------------------------------- incidents
@dataclass
class Transition:
    """What happened to an incident at one evaluation.

    ``action`` is ``open``, ``reopen``, ``update``, ``escalate`` or ``close``; ``at``
    is the time (epoch seconds) the evaluation speaks for; ``metrics`` holds the
    figures of that moment (see :meth:`TopicDetector.reading`).
    """

    action: str
    key: str
    kind: str
    at: float
    severity: str
    metrics: dict[str, Any]
    incident: "Incident"


@dataclass
class Incident:
    """The life of one alert: open while the signal lasts, closed after calm, cool-down reopen."""

    key: str
    kind: str = ""
    active: bool = False
    alert_id: int | None = None
    opened_at: float | None = None
    started_at: float | None = None
    closed_at: float | None = None
    last_hot_at: float | None = None
    calm_run: int = 0
    severity: str = "info"
    peak: float = 0.0
    peak_at: float | None = None
    signals: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # the engine's bookkeeping (when details were written...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Incident":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def observe(self, at: float, hot: Mapping[str, Any] | None, calm: bool, *, settled: bool,
                cooldown_s: float, calm_needed: int = CALM_BUCKETS, metrics: Mapping[str, Any] | None = None,
                ) -> list[Transition]:
        """Feed one evaluation; return the transitions it causes.

        Parameters
        ----------
        at : float
            Epoch seconds the evaluation speaks for.
        hot : mapping or None
            The firing signal (``kind``, ``severity``, ``peak_value``, ``started_at`` and
            the metrics), or None when nothing fires.
        calm : bool
            Whether the figures are back to normal (only settled evaluations may close).
        settled : bool
            False for a provisional look at buckets still filling: such a look may open
            or escalate an incident but never counts towards closing it.
        """
        out: list[Transition] = []
        m = dict(metrics or hot or {})
        if hot is not None:
            sev = hot["severity"]
            kind = hot["kind"]
            value = float(hot.get("peak_value", 0.0))
            if not self.active:
                reopen = self.closed_at is not None and at - self.closed_at < self.cooldown(cooldown_s)
                self.active = True
                self.calm_run = 0
                self.closed_at = None
                self.last_hot_at = at
                if not reopen:
                    self.alert_id = None
                    self.opened_at = at
                    self.started_at = hot.get("started_at", at)
                    self.severity = sev
                    self.kind = kind
                    self.peak, self.peak_at = value, at
                    self.signals = [kind]
                else:
                    self.severity = max(self.severity, sev, key=rank)
                    if value > self.peak:
                        self.peak, self.peak_at = value, at
                    self._signal(kind)
                out.append(Transition("reopen" if reopen else "open", self.key, self.kind, at, self.severity, m, self))
                return out
            self.last_hot_at = at
            self.calm_run = 0
            self._signal(kind)
            if value > self.peak:
                self.peak, self.peak_at = value, at
            if rank(sev) > rank(self.severity):
                self.severity = sev
                out.append(Transition("escalate", self.key, self.kind, at, self.severity, m, self))
            else:
                out.append(Transition("update", self.key, self.kind, at, self.severity, m, self))
            return out
        if not self.active:
            return out
        if settled:
            self.calm_run = self.calm_run + 1 if calm else 0
            if self.calm_run >= calm_needed:
                self.active = False
                self.closed_at = at
                self.calm_run = 0
                out.append(Transition("close", self.key, self.kind, at, self.severity, m, self))
                return out
        out.append(Transition("update", self.key, self.kind, at, self.severity, m, self))
        return out

    def cooldown(self, cooldown_s: float) -> float:
        """The cool-down after this incident: the configured one, or half the incident's length
        (at most :data:`LONG_COOLDOWN_HOURS`) when longer -- a day-long level shift that dips
        at night is still one incident the next morning."""
        if self.opened_at is None or self.closed_at is None:
            return cooldown_s
        return max(cooldown_s, min(0.5 * (self.closed_at - self.opened_at), LONG_COOLDOWN_HOURS * 3600))

    def _signal(self, kind: str) -> None:
        if kind not in self.signals:
            self.signals.append(kind)
        if kind == "volume":  # a loud incident is a volume incident, whatever it started as
            self.kind = "volume"


# ----------------------------------------------------------------------------- the volume reference
#: Volume windows as (length in seconds, threshold as a multiple of the sensitivity). A story that runs
#: for hours is judged on 3 and 6 hours (a lower bar over 6: more evidence); a burst must be extreme to
#: page within 15 minutes. The hour is the calm test's window and what an alert's figures speak for.
VOLUME_WINDOWS = ((300, 2.0), (900, 2.0), (3 * 3600, 1.0), (6 * 3600, 1.0))
CALM_WINDOW = 3600
REFERENCE_DAYS = 14  #: the reference looks back this many days ...
REFERENCE_COUNT = 5  #: ... for up to this many days of the same kind (weekdays for a weekday, weekends for a weekend)
TAIL_QUANTILE = 0.95  #: the noise scale is matched at this quantile of the topic's own residuals ...
TAIL_Z = 1.959964  #: ... against a normal distribution's (so heavy tails raise the bar)
TAIL_DAYS = 3.5  #: time constant of the residual histograms
BURST_RATIO = 3.0  #: a short window pages only at this many times its reference ...
PEAK_HALF_LIFE_DAYS = 21.0  #: a burst must beat the topic's recent bursts, remembered with this half-life
MIN_RESIDUAL_HOURS = 6.0  #: the volume test waits for this many hours of residuals after the first day
_HIST_EDGES = [0.0] + [0.05 * (10000 ** (k / 63)) for k in range(64)]  # 0, 0.05 ... 500 (Anscombe units)


def _bin(x: float) -> int:
    lo, hi = 0, len(_HIST_EDGES) - 1
    if x >= _HIST_EDGES[-1]:
        return hi - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _HIST_EDGES[mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo


def _hist_quantile(h: list[float], q: float) -> float | None:
    total = sum(h)
    if total <= 0:
        return None
    target = q * total
    acc = 0.0
    for k, c in enumerate(h):
        if acc + c >= target and c > 0:
            frac = (target - acc) / c
            return _HIST_EDGES[k] + frac * (_HIST_EDGES[k + 1] - _HIST_EDGES[k])
        acc += c
    return _HIST_EDGES[-1]


class VolumeReference:
    """What the volume test compares with: the same hours on the previous days, and how noisy that is.

    For a window of ``w`` buckets ending at the newest bucket, the *reference* is the median of
    the posts in the same local hours on each of the last :data:`REFERENCE_DAYS` days (as many
    as there are), so a daily rhythm, a quiet weekend inside a busy week and a story of last
    Tuesday do not move it, and a level shift becomes the reference in four days. The score is
    the Anscombe residual ``r = 2 (sqrt(Y + 3/8) - sqrt(E + 3/8))`` divided by the window's noise
    scale: the larger of the median absolute residual (x 1.4826) and the 95th percentile of the
    absolute residuals over 1.96 -- both read from a histogram of the topic's own residuals
    that forgets with a time constant of :data:`TAIL_DAYS` -- so a topic whose normal traffic
    has heavy tails (retweet cascades) needs a proportionally larger rise.
    """

    def __init__(self, bucket_seconds: int, local: "_LocalTime", windows: tuple[int, ...]):
        self.B = bucket_seconds
        self.local = local
        self.windows = windows  # in buckets
        self.day = max(1, int(round(_DAY / bucket_seconds))) if bucket_seconds < _DAY else 1
        self.cap = self.day * REFERENCE_DAYS + max(windows) + 2
        self.counts: list[int] = []
        self.last_t: float | None = None  # start of counts[-1]
        self.hist = {w: [0.0] * (len(_HIST_EDGES) - 1) for w in windows}
        self.hinc = 1.0
        self.scales = {w: MIN_SCALE for w in windows}
        self.since_scale = 0
        self.seen = 0  # residuals entered
        self.peaks = {w: 0.0 for w in windows}  # the largest recent residual per window, fading
        self._cum: list[int] | None = None
        self._shift_t: float | None = None  # shift() of the bucket last asked about, by days back
        self._shifts: dict[int, int] = {}

    # -- state
    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "last_t": self.last_t,
                "hist": {str(w): [x / self.hinc for x in h] for w, h in self.hist.items()},
                "scales": {str(w): s for w, s in self.scales.items()}, "since_scale": self.since_scale,
                "seen": self.seen, "peaks": {str(w): x for w, x in self.peaks.items()}}

    def load(self, d: Mapping[str, Any]) -> None:
        self.counts = [int(x) for x in d.get("counts") or []][-self.cap:]
        self.last_t = d.get("last_t")
        for w in self.windows:
            h = (d.get("hist") or {}).get(str(w))
            if h and len(h) == len(_HIST_EDGES) - 1:
                self.hist[w] = [float(x) for x in h]
            s = (d.get("scales") or {}).get(str(w))
            if s is not None:
                self.scales[w] = float(s)
        self.hinc = 1.0
        self.since_scale = int(d.get("since_scale") or 0)
        self.seen = int(d.get("seen") or 0)
        for w in self.windows:
            self.peaks[w] = float((d.get("peaks") or {}).get(str(w), 0.0))
        self._cum = None

    def ready(self) -> bool:
        """A day to compare with, and :data:`MIN_RESIDUAL_HOURS` of residuals to know the noise by."""
        # the scales are refreshed hourly: one refresh past the minimum has read them from enough residuals
        return self.days_seen() >= 1 and self.seen * self.B >= (MIN_RESIDUAL_HOURS + 1) * 3600

    # -- data
    def push(self, t: float, y: int) -> None:
        self.counts.append(int(y))
        self.last_t = t
        if len(self.counts) > 2 * self.cap:
            del self.counts[: len(self.counts) - self.cap]
            self._cum = None
        elif self._cum is not None:
            self._cum.append(self._cum[-1] + int(y))

    def cum(self) -> list[int]:
        if self._cum is None or len(self._cum) != len(self.counts) + 1:
            c = [0]
            for y in self.counts:
                c.append(c[-1] + y)
            self._cum = c
        return self._cum

    def days_seen(self) -> int:
        return len(self.counts) // self.day

    def shift(self, t: float, k: int) -> int:
        """Buckets back to the same local time ``k`` days before the bucket starting at ``t``."""
        if self.B >= _DAY:
            return k
        back = k * _DAY - (self.local.offset(t) - self.local.offset(t - k * _DAY))
        return max(1, int(round(back / self.B)))

    def stats(self, w: int, extra: Sequence[int] = (), t_last: float | None = None,
              day_factor: Callable[[int], float] | None = None) -> tuple[float, float, bool] | None:
        """(posts, reference, whether days of the same kind made it) of the window of ``w`` buckets ending at the newest bucket (``extra``
        buckets still filling appended), or None without a day of history.

        Without a day of the same kind yet (a first Monday after a weekend), the other days are
        taken, each scaled by ``day_factor(today) / day_factor(that day)`` (the weekday factors
        the seasonal baseline has learnt so far)."""
        cum = self.cum()
        n = len(self.counts)
        extra_sum = [0]
        for y in extra:
            extra_sum.append(extra_sum[-1] + y)
        m = len(extra)
        end = n + m  # index one past the newest, in the extended series
        if end < w:
            return None

        def wsum(stop: int) -> float:
            start = stop - w
            if start < 0:
                return float("nan")
            a = cum[min(stop, n)] - cum[min(start, n)]
            b = extra_sum[max(0, stop - n)] - extra_sum[max(0, start - n)] if stop > n else 0
            return float(a + b)

        Y = wsum(end)
        t = t_last if t_last is not None else (self.last_t or 0.0)
        mid = t + self.B - w * self.B / 2  # a window's kind of day is that of its middle (6 hours to 1am: the evening)
        weekend = self.local.parts(mid)[1] >= 5
        same, other = [], []
        if self._shift_t != t:  # the same for every window of this bucket
            self._shift_t = t
            self._shifts = {}
        shifts = self._shifts
        for k in range(1, REFERENCE_DAYS + 1):
            s = shifts.get(k)
            if s is None:
                s = shifts[k] = self.shift(t, k)
            if end - s - w < 0:
                break
            wd = self.local.weekday(mid - k * _DAY)
            if (wd >= 5) == weekend:
                same.append(wsum(end - s))
            else:
                other.append((wsum(end - s), wd))
            if len(same) >= REFERENCE_COUNT:
                break
        if same:
            return Y, _median(same), True
        if not other:
            return None
        today = self.local.parts(mid)[1]
        refs = [v * (day_factor(today) / max(day_factor(wd), 1e-6) if day_factor else 1.0)
                for v, wd in other[:REFERENCE_COUNT]]
        return Y, _median(refs), False

    def learn(self, rs: Mapping[int, float]) -> None:
        """Enter the residuals of one settled bucket into the histograms; refresh the scales hourly."""
        a = min(0.5, self.B / (TAIL_DAYS * _DAY))
        self.hinc /= (1 - a)
        fade = 0.5 ** (self.B / (PEAK_HALF_LIFE_DAYS * _DAY))
        for w, r in rs.items():
            self.hist[w][_bin(abs(r))] += self.hinc
            self.peaks[w] = max(self.peaks[w] * fade, r)
        if self.hinc > 1e9:
            for w in self.windows:
                self.hist[w] = [x / self.hinc for x in self.hist[w]]
            self.hinc = 1.0
        self.seen += 1
        self.since_scale += 1
        if self.since_scale * self.B >= 3600:
            self.since_scale = 0
            for w in self.windows:
                med = _hist_quantile(self.hist[w], 0.5)
                tail = _hist_quantile(self.hist[w], TAIL_QUANTILE)
                if med is not None:
                    self.scales[w] = max(MIN_SCALE, _MAD_TO_SD * med, tail / TAIL_Z)


# ----------------------------------------------------------------------------- the detector
class _LocalTime:
    """Local hour of day and weekday of epoch seconds; UTC offsets cached per hour, shared per zone."""

    _caches: dict[str, dict[int, int]] = {}

    def __init__(self, tz: str):
        self.zone = ZoneInfo(tz)
        self._cache = self._caches.setdefault(tz, {})

    def offset(self, t: float) -> int:
        h = int(t // 3600)
        off = self._cache.get(h)
        if off is None:
            if len(self._cache) > 200_000:  # about 23 years of hours
                self._cache.clear()
            dt = datetime.fromtimestamp(h * 3600, tz=timezone.utc).astimezone(self.zone)
            off = int(dt.utcoffset().total_seconds())
            self._cache[h] = off
        return off

    def weekday(self, t: float) -> int:
        """Local weekday (0=Monday) at ``t``: ``parts(t)[1]``."""
        return int(((t + self.offset(t)) // _DAY + 3) % 7)

    def parts(self, t: float) -> tuple[float, int]:
        """(hour of day as a float, weekday 0=Monday) of the local time at ``t``."""
        lt = t + self.offset(t)
        days, rem = divmod(lt, _DAY)
        return rem / 3600.0, int((days + 3) % 7)  # 1970-01-01 was a Thursday


class TopicDetector:
    """One topic's baseline, scores and incidents (see the module documentation).

    Feed settled buckets in time order with :meth:`step`; look at buckets still
    filling with :meth:`peek`. The state round-trips through :meth:`to_dict` /
    :meth:`from_dict` (JSON), so live detection picks up where it left off.

    Examples
    --------
    >>> p = Params(bucket_seconds=3600)
    >>> d = TopicDetector(p, key="demo")
    >>> t0 = 1_700_000_000 - 1_700_000_000 % 3600
    >>> opened = []
    >>> for i in range(24 * 14):
    ...     y = 200 if i == 24 * 10 else 20
    ...     opened += [tr for tr in d.step(t0 + i * 3600, y) if tr.action == "open"]
    >>> [(tr.kind, tr.severity, (tr.at - t0) // 3600 - 1) for tr in opened]
    [('volume', 'critical', 240)]
    """

    def __init__(self, params: Params, key: str = "topic"):
        self.params = params
        self.key = key
        self.local = _LocalTime(params.timezone)
        self.next_t: float | None = None  # start of the next bucket step() expects
        self.first_t: float | None = None
        self.n = 0
        self.warm: list[tuple[float, int, int]] | None = []  # warm-up buffer; None once warm
        self.level = 0.0
        self.profile = [[1.0] * 24, [1.0] * 24]  # [weekday, weekend]
        self.dow = [1.0] * 7
        self.profile_n = [[0.0] * 24, [0.0] * 24]  # updates seen per slot: a fast start, then EWMA
        self.dow_n = [0.0] * 7
        self.dow_acc: list[list[float] | None] = [None] * 7  # a weekday's first time: [posts, base, prior factor]
        self.mabs = {w: 0.8 for w in params.windows}
        self.sent_mabs = 0.8
        self.neg_avg = 0.0
        self.posts_avg = 0.0
        self.ring: list[tuple[float, int, int, float]] = []  # (t, posts, negative, expected), newest last
        self.zero_run = 0
        self.zero_expected = 0.0
        self.since_norm = 0
        self.topic = Incident(key=f"{key}")
        self.silence = Incident(key=f"{key}:silence", kind="silence")
        self.vref = VolumeReference(params.bucket_seconds, self.local, params.reference_windows)

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        return {
            "v": 1, "key": self.key, "next_t": self.next_t, "first_t": self.first_t, "n": self.n,
            "warm": self.warm, "level": self.level, "profile": self.profile, "dow": self.dow,
            "profile_n": self.profile_n, "dow_n": self.dow_n, "dow_acc": self.dow_acc,
            "mabs": {str(k): v for k, v in self.mabs.items()}, "sent_mabs": self.sent_mabs,
            "neg_avg": self.neg_avg, "posts_avg": self.posts_avg, "ring": self.ring,
            "zero_run": self.zero_run, "zero_expected": self.zero_expected, "since_norm": self.since_norm,

            "bucket_seconds": self.params.bucket_seconds, "reference": self.vref.to_dict(),
            "topic": self.topic.to_dict(), "silence": self.silence.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], params: Params) -> "TopicDetector":
        """Rebuild a detector; ``params`` may differ from the saved run's (a re-tuned topic keeps its baseline)."""
        if int(d.get("bucket_seconds", params.bucket_seconds)) != params.bucket_seconds:
            raise ValueError("saved detector state is for another bucket length")
        det = cls(params, key=d.get("key", "topic"))
        det.next_t, det.first_t, det.n = d["next_t"], d["first_t"], d["n"]
        det.warm = [tuple(x) for x in d["warm"]] if d.get("warm") is not None else None
        det.level = d["level"]
        det.profile = [list(p) for p in d["profile"]]
        det.dow = list(d["dow"])
        det.profile_n = [list(x) for x in d.get("profile_n", [[0.0] * 24, [0.0] * 24])]
        det.dow_n = list(d.get("dow_n", [0.0] * 7))
        det.dow_acc = [list(x) if x else None for x in d.get("dow_acc") or [None] * 7]
        saved = {int(k): v for k, v in d.get("mabs", {}).items()}
        det.mabs = {w: saved.get(w, 0.8) for w in params.windows}
        det.sent_mabs = d.get("sent_mabs", 0.8)
        det.neg_avg, det.posts_avg = d["neg_avg"], d["posts_avg"]
        det.ring = [tuple(x) for x in d["ring"]]
        det.zero_run, det.zero_expected = d["zero_run"], d["zero_expected"]
        det.since_norm = d.get("since_norm", 0)
        det.vref.load(d.get("reference") or {})
        det.topic = Incident.from_dict(d["topic"])
        det.silence = Incident.from_dict(d["silence"])
        return det

    @property
    def _ring_len(self) -> int:
        p = self.params
        return max(p.windows[-1], int(CALM_LOOKBACK_HOURS * 3600 // p.bucket_seconds))

    @property
    def is_warm(self) -> bool:
        return self.warm is None

    # ------------------------------------------------------------------ the baseline
    def seasonal(self, t: float) -> float:
        """The seasonal factor P_k(hour) x W(weekday) of the bucket starting at ``t``."""
        p = self.params
        if not p.seasonal_days:
            return 1.0
        hour, wd = self.local.parts(t + p.bucket_seconds / 2)
        f = self.dow[wd]
        if p.seasonal_hours:
            prof = self.profile[1 if wd >= 5 else 0]
            x = hour - 0.5
            i0 = int(math.floor(x)) % 24
            frac = x - math.floor(x)
            f *= prof[i0] * (1 - frac) + prof[(i0 + 1) % 24] * frac
        return f

    def expected(self, t: float) -> float:
        """Posts expected in the bucket starting at ``t`` (0 during the warm-up)."""
        if not self.is_warm:
            return 0.0
        return self.level * self.seasonal(t)

    def _init_from_warmup(self) -> None:
        buf = self.warm or []
        p = self.params
        ys = [y for _, y, _ in buf]
        self.level = max(sum(ys) / len(ys), 1e-3)
        self.posts_avg = sum(ys) / len(ys)
        self.neg_avg = sum(n for _, _, n in buf) / len(buf)
        if p.seasonal_hours:
            sums, counts = [0.0] * 24, [0] * 24
            for t, y, _ in buf:
                h, _ = self.local.parts(t + p.bucket_seconds / 2)
                sums[int(h) % 24] += y
                counts[int(h) % 24] += 1
            k = 0.2  # prior weight towards a flat profile, so an empty hour is not "never"
            raw = []
            for h in range(24):
                if counts[h]:
                    raw.append((sums[h] + k * self.level * counts[h]) / ((1 + k) * self.level * counts[h]))
                else:
                    raw.append(1.0)
            smooth = [0.25 * raw[(h - 1) % 24] + 0.5 * raw[h] + 0.25 * raw[(h + 1) % 24] for h in range(24)]
            mean = sum(smooth) / 24
            prof = [max(v / mean, 0.02) for v in smooth]
            self.profile = [list(prof), list(prof)]
            # the warm-up day counts as seen for its kind of day; the other kind starts fast
            wd_kind = 1 if self.local.parts(buf[-1][0])[1] >= 5 else 0
            self.profile_n[wd_kind] = [float(c) for c in counts]
        if p.seasonal_days:
            for t, _y, _n in buf:
                self.dow_n[self.local.parts(t + p.bucket_seconds / 2)[1]] += 1
        self.warm = None
        # a first look at the noise: the median absolute residual of each window over the
        # warm-up (a median, so a burst in the first day does not inflate it)
        ring: list[tuple[float, int, int, float]] = []
        res: dict[int, list[float]] = {w: [] for w in p.windows}
        sres: list[float] = []
        for t, y, n in buf:
            ring.append((t, y, n, self.expected(t)))
            ring = ring[-max(p.windows):]
            sums = self._sums(ring)
            for w, (Y, E, N, _t) in sums.items():
                if len(ring) >= w:
                    res[w].append(abs(self._anscombe(Y, E)))
            w = p.sentiment_windows[-1]
            if w in sums and sums[w][0] >= 5:
                sres.append(abs(self._binom(sums[w][2], sums[w][0])))
        for w, xs in res.items():
            if xs:
                self.mabs[w] = _median(xs) * _MAD_TO_SD / _ABS_TO_SD
        if len(sres) >= 12:
            self.sent_mabs = _median(sres) * _MAD_TO_SD / _ABS_TO_SD
        self.ring = ring

    # ------------------------------------------------------------------ scoring
    @staticmethod
    def _anscombe(y: float, e: float) -> float:
        return 2.0 * (math.sqrt(y + 0.375) - math.sqrt(e + 0.375))

    def _scale(self, w: int) -> float:
        return max(MIN_SCALE, _ABS_TO_SD * self.mabs.get(w, 0.8))

    def _sums(self, ring: list[tuple[float, int, int, float]]) -> dict[int, tuple[float, float, float, float]]:
        """Per window: (posts, expected, negative, start time) over the newest buckets of ``ring``."""
        out = {}
        Y = E = N = 0.0
        ws = self.params.windows
        wmax = ws[-1]
        k = 0
        for t, y, n, e in reversed(ring):
            k += 1
            Y += y
            E += e
            N += n
            if k in ws:
                out[k] = (Y, E, N, t)
            if k >= wmax:
                break
        return out

    def _update_scales(self, ring, sums: dict[int, tuple[float, float, float, float]] | None = None) -> None:
        p = self.params
        a = p.rate(SCALE_DAYS)
        if sums is None:
            sums = self._sums(ring)
        for w, (Y, E, _N, _t) in sums.items():
            if len(ring) < w:
                continue
            s = self._scale(w)
            r = abs(self._anscombe(Y, E))
            self.mabs[w] += a * (min(r, WINSOR * s) - self.mabs[w])
        w = p.sentiment_windows[-1]
        if w in sums:
            Y, _E, N, _t = sums[w]
            if Y >= 5:
                zb = abs(self._binom(N, Y))
                s = max(MIN_SCALE, _ABS_TO_SD * self.sent_mabs)
                self.sent_mabs += a * (min(zb, WINSOR * s) - self.sent_mabs)

    def _norm_share(self) -> float:
        if self.posts_avg <= 0:
            return 0.3
        return min(max(self.neg_avg / self.posts_avg, 0.02), 0.98)

    def _binom(self, neg: float, posts: float) -> float:
        """Variance-stabilised binomial score of ``neg`` negative posts out of ``posts``.

        The arcsine transform, ``2 sqrt(n) (asin sqrt(share) - asin sqrt(norm))``, is close to
        a standard normal even for the small shares where the plain binomial z-score
        overstates a handful of angry posts.
        """
        p0 = self._norm_share()
        if posts <= 0:
            return 0.0
        share = min(max(neg / posts, 0.0), 1.0)
        return 2.0 * math.sqrt(posts) * (math.asin(math.sqrt(share)) - math.asin(math.sqrt(p0)))

    def volume_stats(self, extra: Sequence[int] = (), t_last: float | None = None
                     ) -> dict[int, tuple[float, float, float, bool]]:
        """Per reference window (buckets): (posts, reference, residual, whether the reference days were
        of the same kind) ending at the newest bucket."""
        out = {}
        if self.vref.days_seen() < 1:
            return out
        factor = (lambda wd: self.dow[wd]) if self.params.seasonal_days else None
        for w in self.params.reference_windows:
            st = self.vref.stats(w, extra, t_last, factor)
            if st is not None:
                Y, E, same = st
                out[w] = (Y, E, self._anscombe(Y, E), same)
        return out

    def reading(self, ring: list[tuple[float, int, int, float]], *, need_calm: bool = True,
                sums: dict[int, tuple[float, float, float, float]] | None = None,
                vstats: dict[int, tuple[float, float, float, bool]] | None = None, extra: Sequence[int] = (),
                t_last: float | None = None) -> dict[str, Any]:
        """Scores of the newest bucket: the volume and sentiment tests, and their figures.

        ``ring`` holds the newest buckets for the sentiment test; the volume test reads the
        reference (:class:`VolumeReference`), with ``extra`` buckets still filling appended and
        ``t_last`` the start of the newest. Returns a dict with ``volume`` / ``sentiment`` (the
        hot signal or None), ``calm`` and the figures shown in an alert: ``current`` and
        ``expected`` posts per hour, ``ratio``, ``z``, ``window_minutes``, ``negative_share``,
        ``negative_norm``.
        """
        p = self.params
        if sums is None:
            sums = self._sums(ring)
        if vstats is None:
            vstats = self.volume_stats(extra, t_last)
        per_hour = 3600.0 / p.bucket_seconds
        ready = self.vref.ready()
        scales = self.vref.scales
        cw = p.calm_window
        recent = vstats.get(cw)
        # a long window fires only while the last hour is itself not calm (a burst two hours ago is over)
        recent_up = recent is None or (recent[0] > CALM_RATIO * recent[1]
                                       and recent[2] / scales[cw] >= CALM_FRACTION * p.sensitivity)
        best = None  # (distance, w, z, Y, E)
        critical = False
        if ready:
            for w, factor in p.volume_windows:
                if w not in vstats:
                    continue
                Y, E, r, same = vstats[w]
                if factor <= 1.0 and not same:
                    continue  # a first weekday after a weekend (or the reverse) is judged on bursts alone
                z = r / scales[w]
                thr = factor * p.sensitivity
                # a burst (a short window) must be at least BURST_RATIO times normal and beat the recent ones
                burst_ok = factor <= 1.0 or (r > self.vref.peaks.get(w, 0.0) and Y >= BURST_RATIO * E)
                if z >= thr and Y >= p.min_volume and Y >= MIN_RATIO * E and (w <= cw or recent_up) and burst_ok:
                    if best is None or z / thr > best[0]:
                        best = (z / thr, w, z, Y, E)
            if best is not None:
                critical = any(vstats[w][0] >= CRITICAL_RATIO * vstats[w][1]
                               and vstats[w][2] / scales[w] >= CRITICAL_FACTOR * p.sensitivity
                               for w, _f in p.volume_windows if w in vstats)
        calm = not (need_calm and ready and not self._volume_calm(vstats))
        # figures: the hot window, else the hour
        if best is not None:
            _d, w, z, Y, E = best
        elif cw in vstats:
            w = cw
            Y, E, r, _same = vstats[cw]
            z = r / scales[cw]
        else:
            w, Y, E, z = cw, 0.0, 0.0, 0.0
        t_end = (t_last if t_last is not None else (ring[-1][0] if ring else 0.0)) + p.bucket_seconds
        t0 = t_end - w * p.bucket_seconds
        ratio = Y / E if E > 0 else (float("inf") if Y > 0 else 1.0)
        volume = None
        if best is not None:
            volume = {"kind": "volume", "severity": "critical" if critical else "warning",
                      "started_at": t0, "z": z}
        # sentiment
        norm = self._norm_share()
        sent = None
        s_scale = max(MIN_SCALE, _ABS_TO_SD * self.sent_mabs)
        share_now, share_z = None, 0.0
        for w2 in p.sentiment_windows:
            if w2 not in sums:
                continue
            Y2, _E2, N2, t2 = sums[w2]
            if Y2 <= 0:
                continue
            share = N2 / Y2
            zs = self._binom(N2, Y2) / s_scale
            if w2 == p.sentiment_windows[-1] or share_now is None:
                share_now, share_z = share, zs
            if Y2 >= p.min_volume * SENTIMENT_VOLUME and share - norm >= p.negative_share_delta and \
                    zs >= p.sensitivity + SENTIMENT_EXTRA:
                crit = share - norm >= 2 * p.negative_share_delta and zs >= 2 * p.sensitivity
                cand = {"kind": "sentiment", "severity": "critical" if crit else "warning", "started_at": t2,
                        "z": zs, "share": share}
                if sent is None or rank(cand["severity"]) > rank(sent["severity"]) or zs > sent["z"]:
                    sent = cand
                share_now, share_z = share, zs
            if w2 == p.sentiment_windows[-1] and share - norm >= p.negative_share_delta / 2 and \
                    zs >= CALM_FRACTION * p.sensitivity:
                calm = False
        return {
            "volume": volume, "sentiment": sent, "calm": calm,
            "current": Y * per_hour / w, "expected": E * per_hour / w, "ratio": ratio, "z": z,
            "window_minutes": w * p.bucket_seconds / 60, "posts": Y, "expected_posts": E,
            "negative_share": share_now, "negative_norm": norm, "sentiment_z": share_z,
        }

    def _volume_calm(self, vstats: Mapping[int, tuple[float, float, float, bool]]) -> bool:
        """Whether volume is back to normal, on evidence.

        The test looks back at least an hour and as far as it takes (up to the longest
        window) to cover :data:`CALM_EXPECTED` posts of reference, so a quiet night's handful
        of posts neither closes a lasting rise nor keeps a finished one open: calm is within
        :data:`CALM_RATIO` of the reference, or scoring less than :data:`CALM_FRACTION` of the
        sensitivity.
        """
        p = self.params
        ws = [w for w in p.reference_windows if w >= p.calm_window and w in vstats]
        if not ws:
            return True
        w = next((x for x in ws if vstats[x][1] >= CALM_EXPECTED), ws[-1])
        Y, E, r, _same = vstats[w]
        return not (Y > CALM_RATIO * E and r / self.vref.scales[w] >= CALM_FRACTION * p.sensitivity)

    def _topic_signal(self, r: Mapping[str, Any]) -> dict[str, Any] | None:
        v, s = r["volume"], r["sentiment"]
        if v is None and s is None:
            return None
        main = v or s
        sev = max((x["severity"] for x in (v, s) if x), key=rank)
        starts = [x["started_at"] for x in (v, s) if x]
        return {"kind": main["kind"], "severity": sev, "started_at": min(starts),
                "z": max(x["z"] for x in (v, s) if x),
                "peak_value": r["current"] if v is not None else (r["negative_share"] or 0.0),
                "signals": [x["kind"] for x in (v, s) if x]}

    # ------------------------------------------------------------------ feeding
    def step(self, t: float, posts: int, negative: int = 0) -> list[Transition]:
        """Consume the settled bucket starting at ``t`` (epoch seconds); return the transitions.

        Buckets must come in order; a skipped bucket is taken as empty.
        """
        p = self.params
        B = p.bucket_seconds
        out: list[Transition] = []
        if self.next_t is not None and t < self.next_t:
            raise ValueError(f"bucket {t} comes before the next expected bucket {self.next_t}")
        if self.next_t is not None and t > self.next_t:
            # empty buckets in between (no rollup row means no posts)
            gap = int((t - self.next_t) // B)
            for i in range(gap):
                out += self._step(self.next_t + i * B, 0, 0)
        out += self._step(t, posts, negative)
        return out

    def _step(self, t: float, y: int, n: int) -> list[Transition]:
        p = self.params
        B = p.bucket_seconds
        if self.first_t is None:
            self.first_t = t
        self.next_t = t + B
        self.n += 1
        self.vref.push(t, y)
        if self.warm is not None:
            self.warm.append((t, y, n))
            if len(self.warm) >= p.warmup_buckets and t + B - self.first_t >= min(WARMUP_HOURS * 3600, p.warmup_buckets * B):
                self._init_from_warmup()
            return []
        e = self.expected(t)
        self.ring.append((t, y, n, e))
        if len(self.ring) > self._ring_len:
            del self.ring[0]
        sums = self._sums(self.ring)
        vstats = self.volume_stats(t_last=t)
        r = self.reading(self.ring, need_calm=self.topic.active, sums=sums, vstats=vstats, t_last=t)
        at = t + B
        cooldown = p.cooldown_minutes * 60
        out = self.topic.observe(at, self._topic_signal(r), r["calm"], settled=True,
                                 cooldown_s=cooldown, calm_needed=p.calm_window, metrics=r)  # an hour calm
        # silence
        if y == 0:
            self.zero_run += 1
            self.zero_expected += e
        else:
            self.zero_run = 0
            self.zero_expected = 0.0
        silent = None
        if p.silence_hours > 0 and self.zero_run * B >= p.silence_hours * 3600 and \
                self.zero_expected >= max(p.min_volume, SILENCE_MIN_EXPECTED):
            silent = {"kind": "silence", "severity": "warning", "started_at": at - self.zero_run * B,
                      "peak_value": self.zero_run * B / 3600.0}
        sm = {"silent_hours": self.zero_run * B / 3600.0, "expected_posts": self.zero_expected,
              "current": 0.0, "expected": self.zero_expected, "ratio": 0.0}
        out += self.silence.observe(at, silent, y > 0, settled=True, cooldown_s=cooldown, calm_needed=1, metrics=sm)
        if vstats and not (self.zero_expected >= SILENCE_SUSPECT or self.silence.active):  # not from an outage
            self.vref.learn({w: v[2] for w, v in vstats.items()})
        self._learn(t, y, n, e, sums)
        return out

    def _learn(self, t: float, y: int, n: int, e: float, sums=None) -> None:
        p = self.params
        suspect = self.zero_expected >= SILENCE_SUSPECT or self.silence.active
        if suspect:
            return
        inc = self.topic
        in_incident = inc.active
        s1 = self._scale(1)
        r1 = self._anscombe(y, e)
        lim = WINSOR * s1
        if r1 > lim:
            yw = (math.sqrt(e + 0.375) + lim / 2) ** 2 - 0.375
        elif r1 < -lim:
            yw = max((math.sqrt(e + 0.375) - lim / 2), 0.0) ** 2
            yw = max(yw - 0.375, 0.0)
        else:
            yw = float(y)
        learn_level = not in_incident or (inc.opened_at is not None and t - inc.opened_at >= FREEZE_HOURS * 3600)
        if learn_level:
            self.level = max(self.level + p.rate(LEVEL_DAYS) * (yw - e), 1e-3)
        if in_incident:
            return
        L = self.level
        if p.seasonal_days:
            hour, wd = self.local.parts(t + p.bucket_seconds / 2)
            if p.seasonal_hours:
                kind = 1 if wd >= 5 else 0
                prof, pn = self.profile[kind], self.profile_n[kind]
                x = hour - 0.5
                i0 = int(math.floor(x)) % 24
                frac = x - math.floor(x)
                denom = L * self.dow[wd]
                if denom > 0:
                    g = (yw - e) / denom
                    a_p = min(0.5, p.bucket_seconds / (4 * 3600))
                    j = (i0 + 1) % 24
                    for i, wgt in ((i0, 1 - frac), (j, frac)):
                        rate = max(a_p, 1.0 / (pn[i] + PRIOR_BUCKETS))
                        prof[i] = max(prof[i] + rate * wgt * g, 0.02)
                        pn[i] += wgt
            if self.dow_n[wd] * p.bucket_seconds < _DAY:
                # the first time this weekday comes round: the ratio of its posts to what the level and
                # profile expect (a ratio of sums with a prior of 2 hours at the old factor), so its quiet
                # night buckets weigh as little as they hold and its busy morning is learnt by mid-morning
                acc = self.dow_acc[wd] or [0.0, 0.0, self.dow[wd]]
                base = e / self.dow[wd] if self.dow[wd] > 0 else e
                acc[0] += yw
                acc[1] += base
                prior = PRIOR_BUCKETS * 2 * L
                self.dow[wd] = max((acc[0] + prior * acc[2]) / (acc[1] + prior), 0.05)
                self.dow_acc[wd] = acc
            else:
                self.dow_acc[wd] = None
                a_w = min(0.3, p.bucket_seconds / (2 * _DAY))
                self.dow[wd] = max(self.dow[wd] + a_w * (yw - e) / L, 0.05)
            self.dow_n[wd] += 1
        self._update_scales(self.ring, sums)
        a_s = p.rate(SENTIMENT_DAYS)
        self.neg_avg += a_s * (n - self.neg_avg)
        self.posts_avg += a_s * (y - self.posts_avg)
        self.since_norm += 1
        if self.since_norm * p.bucket_seconds >= _DAY:
            self.since_norm = 0
            self._normalise()

    def _normalise(self) -> None:
        """Keep each profile's and the day factors' means at 1 without changing any expectation.

        A profile's mean goes into the day factors of its kind of day, the day factors'
        mean into the level: a rise the profiles picked up is kept, not thrown away.
        """
        for kind, prof in enumerate(self.profile):
            m = sum(prof) / 24
            if m <= 0:
                continue
            for i in range(24):
                prof[i] /= m
            for d in range(7):
                if (d >= 5) == bool(kind):
                    self.dow[d] *= m
        m = sum(self.dow) / 7
        if m > 0:
            self.dow = [x / m for x in self.dow]
            self.level *= m
            for acc in self.dow_acc:  # a first-time ratio keeps its meaning: its base was at the old level
                if acc:
                    acc[1] *= m
                    acc[2] /= m

    def peek(self, buckets: Iterable[tuple[float, int, int]], at: float) -> list[Transition]:
        """Look at buckets not settled yet (the newest may still be filling) without learning from them.

        Each is scored as the end of its windows against the full-bucket expectation,
        so a partial bucket can only under-state a rise: a provisional look may open,
        update or escalate the topic incident, never close it.
        """
        if not self.is_warm:
            return []
        ring = list(self.ring)
        out: list[Transition] = []
        cooldown = self.params.cooldown_minutes * 60
        B = self.params.bucket_seconds
        extra: list[int] = []
        for t, y, n in buckets:
            if self.next_t is not None and t < self.next_t:
                continue
            while self.next_t is not None and self.next_t + len(extra) * B < t:  # an empty bucket between
                extra.append(0)
            extra.append(int(y))
            ring.append((t, y, n, self.expected(t)))
            ring = ring[-self._ring_len:]
            r = self.reading(ring, extra=extra, t_last=t)
            sig = self._topic_signal(r)
            if sig is None and not self.topic.active:
                continue
            out += self.topic.observe(at, sig, False, settled=False, cooldown_s=cooldown, metrics=r)
        return out
