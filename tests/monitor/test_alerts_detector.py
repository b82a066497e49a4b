"""The detector on synthetic series: what must alert, what must not, and one alert per incident."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from monitor.alerts.backtest import BacktestError, backtest_csv, backtest_series, read_csv
from monitor.alerts.detector import Params, TopicDetector
from monitor.alerts.synthetic import MONDAY, feed, opened, series

DAY = 288


def at_bucket(i: int) -> datetime:
    return MONDAY + timedelta(minutes=5 * i)


@pytest.mark.parametrize("level,seed", [(0.5, 1), (4, 2), (30, 3)])
def test_daily_and_weekly_cycles_raise_nothing(level, seed):
    # three weeks of quiet nights, busy mornings and evenings, quieter weekends: no alert at all
    det = TopicDetector(Params())
    trs = feed(det, series(21, level, seed=seed))
    assert opened(trs) == []


def test_a_sharp_spike_is_one_critical_alert_within_half_an_hour_that_closes_and_stays_closed():
    start = 10 * DAY + 14 * 12  # day 10 (a Thursday), 14:00
    spike = lambda i, t: 6.0 if start <= i < start + 18 else 1.0  # six times normal for 90 minutes
    det = TopicDetector(Params())
    trs = feed(det, series(14, 8, seed=4, multiplier=spike))
    opens = opened(trs)
    assert len(opens) == 1
    o = opens[0]
    assert o.kind == "volume"
    delay = (o.at - at_bucket(start).timestamp()) / 300 - 1  # buckets after the first spiking one
    # a burst must be extreme to page within 15 minutes; six times normal is raised on the 3-hour window
    assert 0 <= delay <= 6
    assert o.incident.severity == "critical"
    closes = [tr for tr in trs if tr.action == "close"]
    assert len(closes) == 1 and closes[0].at > o.at
    assert closes[0].at - at_bucket(start + 18).timestamp() < 4 * 3600  # back to normal within hours
    assert not [tr for tr in trs if tr.action == "reopen"]


def test_the_spike_does_not_raise_its_own_baseline():
    start = 10 * DAY + 10 * 12
    spike = lambda i, t: 8.0 if start <= i < start + 36 else 1.0
    calm = TopicDetector(Params())
    feed(calm, series(14, 10, seed=5))
    hit = TopicDetector(Params())
    feed(hit, series(14, 10, seed=5, multiplier=spike))
    # three hours at eight times normal moved the level by less than a tenth
    assert hit.level == pytest.approx(calm.level, rel=0.1)


def test_a_gradual_rise_does_not_page():
    # +50% over two weeks, every day a little busier than the last (about 3% a day: the reference, the
    # median of the last five days of the same kind, lags three to four days behind such a rise)
    rise = lambda i, t: 1.0 + 0.5 * max(0, i - DAY) / (13 * DAY)
    det = TopicDetector(Params())
    trs = feed(det, series(14, 10, seed=6, multiplier=rise))
    assert opened(trs) == []
    assert det.level > 1.2 * series_level_of_first_day(10)  # it learnt the new normal


def series_level_of_first_day(level: float) -> float:
    return level * sum(x for x in (0.30, 0.18, 0.11, 0.08, 0.08, 0.13, 0.32, 0.68, 1.05, 1.20, 1.15, 1.05,
                                   1.08, 1.02, 0.96, 0.95, 1.00, 1.10, 1.22, 1.32, 1.36, 1.22, 0.92, 0.56)) / 24


def test_a_slow_build_is_caught_before_it_peaks():
    start = 9 * DAY + 9 * 12  # 09:00, building over three hours to four times normal
    build = lambda i, t: 1.0 + 3.0 * min(1.0, max(0, i - start) / 36) if start <= i < start + 60 else 1.0
    det = TopicDetector(Params())
    opens = opened(feed(det, series(12, 6, seed=7, multiplier=build)))
    assert len(opens) == 1
    assert at_bucket(start).timestamp() < opens[0].at <= at_bucket(start + 36).timestamp()


def test_a_sparse_topic_does_not_page_on_a_few_more_posts_but_does_on_a_real_burst():
    # a handful of posts a day (about 5); then a day with three times that, spread out
    more = lambda i, t: 3.0 if 9 * DAY <= i < 10 * DAY else 1.0
    det = TopicDetector(Params())
    assert opened(feed(det, series(12, 0.03, seed=8, multiplier=more))) == []
    # ... and three extra posts in one hour are no crisis either
    det = TopicDetector(Params())
    pts = series(10, 0.03, seed=9)
    i = 8 * DAY + 12 * 12
    pts[i] = (pts[i][0], pts[i][1] + 3, pts[i][2])
    assert opened(feed(det, pts)) == []
    # forty posts in half an hour is a story, however quiet the topic usually is
    det = TopicDetector(Params())
    pts = series(10, 0.03, seed=9)
    for k in range(6):
        pts[i + k] = (pts[i + k][0], 7, 2)
    opens = opened(feed(det, pts))
    assert len(opens) == 1 and opens[0].kind == "volume"


def test_min_volume_is_respected():
    i0 = 8 * DAY + 12 * 12
    pts = series(10, 0.03, seed=9)
    for k in range(3):
        pts[i0 + k] = (pts[i0 + k][0], 4, 0)  # 12 posts in 15 minutes on a topic with 5 a day
    assert len(opened(feed(TopicDetector(Params(min_volume=10)), pts))) == 1
    assert opened(feed(TopicDetector(Params(min_volume=20)), pts)) == []


def test_a_sentiment_shift_opens_a_sentiment_alert():
    start = 9 * DAY + 11 * 12
    angry = lambda i, t: 0.75 if start <= i < start + 24 else 0.25
    det = TopicDetector(Params())
    trs = feed(det, series(11, 6, seed=10, negative=angry))
    opens = opened(trs)
    assert len(opens) == 1
    assert opens[0].kind == "sentiment"
    assert opens[0].metrics["negative_share"] > opens[0].metrics["negative_norm"] + 0.2
    assert at_bucket(start).timestamp() < opens[0].at <= at_bucket(start + 12).timestamp()


def test_loud_and_angry_is_one_incident_not_two():
    start = 9 * DAY + 11 * 12
    loud = lambda i, t: 5.0 if start <= i < start + 24 else 1.0
    angry = lambda i, t: 0.8 if start <= i < start + 24 else 0.25
    trs = feed(TopicDetector(Params()), series(11, 6, seed=11, multiplier=loud, negative=angry))
    opens = opened(trs)
    assert len(opens) == 1
    assert opens[0].incident.kind == "volume"
    assert set(opens[0].incident.signals) == {"volume", "sentiment"}


def test_silence_of_a_busy_topic_is_an_alert_and_a_quiet_night_is_not():
    start = 9 * DAY + 9 * 12  # from 09:00 nothing at all for nine hours
    dark = lambda i, t: 0.0 if start <= i < start + 9 * 12 else 1.0
    det = TopicDetector(Params(silence_hours=6))
    trs = feed(det, series(11, 5, seed=12, multiplier=dark))
    silent = [tr for tr in trs if tr.kind == "silence" and tr.action == "open"]
    assert len(silent) == 1
    assert silent[0].at == pytest.approx(at_bucket(start + 6 * 12).timestamp(), abs=300)
    assert [tr for tr in trs if tr.kind == "silence" and tr.action == "close"]
    assert [tr for tr in opened(trs) if tr.kind != "silence"] == []  # and the return of posts is no spike
    # a quiet topic's empty nights are not silence
    assert opened(feed(TopicDetector(Params(silence_hours=6)), series(11, 0.2, seed=13))) == []


def test_a_level_shift_is_one_alert_that_closes_once_learnt():
    start = 8 * DAY + 10 * 12
    shift = lambda i, t: 2.5 if i >= start else 1.0  # and it stays
    trs = feed(TopicDetector(Params()), series(16, 10, seed=14, multiplier=shift))
    opens = opened(trs)
    assert len(opens) == 1
    assert opens[0].at - at_bucket(start).timestamp() <= 3600
    last = [tr for tr in trs if tr.incident is opens[0].incident and tr.action in ("close", "reopen")][-1]
    assert last.action == "close"  # the new normal was learnt, the alert closed, and stayed closed


def test_cooldown_reopens_the_same_alert_instead_of_opening_another():
    a, b = 9 * DAY + 10 * 12, 9 * DAY + 16 * 12  # two half-hour bursts six hours apart, the second louder
    bursts = lambda i, t: 6.0 if a <= i < a + 6 else 9.0 if b <= i < b + 6 else 1.0
    pts = series(11, 8, seed=15, multiplier=bursts)
    trs = feed(TopicDetector(Params(cooldown_minutes=360)), pts)
    assert len(opened(trs)) == 1
    assert [tr.action for tr in trs if tr.action in ("open", "close", "reopen")][:3] == ["open", "close", "reopen"]
    trs = feed(TopicDetector(Params(cooldown_minutes=0)), pts)
    assert len(opened(trs)) == 2


def test_a_filling_bucket_can_open_an_alert_but_never_close_one():
    det = TopicDetector(Params())
    pts = series(9, 6, seed=16)
    feed(det, pts)
    t = pts[-1][0].timestamp() + 300
    trs = det.peek([(t, 150, 10)], at=t + 120)  # two minutes into a bucket, already 150 posts
    assert [tr.action for tr in trs] == ["open"]
    assert det.topic.active
    assert all(tr.action != "close" for tr in det.peek([(t, 0, 0)], at=t + 60))
    assert det.topic.active


def test_state_survives_a_json_round_trip_mid_stream():
    spike = lambda i, t: 6.0 if 9 * DAY + 120 <= i < 9 * DAY + 140 else 1.0
    pts = series(11, 5, seed=17, multiplier=spike)
    whole = TopicDetector(Params())
    ref = [(tr.action, tr.at, tr.severity) for tr in feed(whole, pts)]
    cut = 9 * DAY + 125
    first = TopicDetector(Params())
    got = [(tr.action, tr.at, tr.severity) for tr in feed(first, pts[:cut])]
    again = TopicDetector.from_dict(json.loads(json.dumps(first.to_dict())), Params())
    got += [(tr.action, tr.at, tr.severity) for tr in feed(again, pts[cut:])]
    assert got == ref and ref


def test_seasonality_follows_local_time_across_the_clock_change():
    # London moves to summer time on 29 March 2026: the 09:00 local peak moves from 09:00 to 08:00 UTC
    start = datetime(2026, 3, 16, tzinfo=timezone.utc)
    pts = []
    import random

    rng = random.Random(3)
    from monitor.alerts.synthetic import poisson, rhythm

    for i in range(21 * DAY):
        t = start + timedelta(minutes=5 * i)
        pts.append((t, poisson(rng, 8 * rhythm(t)), 0))  # rhythm() keeps to London's wall clock
    assert opened(feed(TopicDetector(Params(timezone="Europe/London")), pts)) == []


def test_backtest_takes_any_series_and_any_bucket(tmp_path):
    # a daily series of a year (not Earshot's): one spike in August
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = ["date,count"]
    import random

    rng = random.Random(4)
    for d in range(365):
        day = t0 + timedelta(days=d)
        n = int(rng.gauss(200, 12) * (0.7 if day.weekday() >= 5 else 1.0))
        if day.date().isoformat() == "2025-08-12":
            n = 900
        if day.date().isoformat() == "2025-10-07":
            n = 340  # a smaller rise
        rows.append(f"{day.date().isoformat()},{n}")
    path = tmp_path / "daily.csv"
    path.write_text("\n".join(rows) + "\n")
    result = backtest_csv(path)
    assert result.params.bucket_seconds == 86400
    got = [(a.kind, a.severity, a.opened_at.date().isoformat()) for a in result.alerts]
    # a daily bucket is judged once it is complete
    assert got == [("volume", "critical", "2025-08-13"), ("volume", "warning", "2025-10-08")]
    # less sensitive: only the big one
    assert [a.opened_at.date().isoformat() for a in backtest_csv(path, sensitivity=16).alerts] == ["2025-08-13"]


def test_backtest_series_sums_raw_event_times_into_buckets():
    t0 = MONDAY
    events = [(t0 + timedelta(minutes=5 * i + 1), 1) for i in range(10 * DAY) for _ in range(3)]
    burst = [(t0 + timedelta(days=9, hours=14, seconds=s), 1) for s in range(0, 1800, 20)]  # 90 in 30 min
    result = backtest_series(events + burst, bucket_seconds=300)
    assert len(result.alerts) == 1
    assert result.alerts[0].opened_at - (t0 + timedelta(days=9, hours=14)) <= timedelta(minutes=30)


def test_backtest_csv_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,count\n2026-01-01T00:00:00Z,4\n2026-01-01T00:05:00Z,many\n")
    with pytest.raises(BacktestError, match=r"bad.csv line 3: count 'many' is not a number"):
        read_csv(bad)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("when,n\n2026-01-01,4\n")
    with pytest.raises(BacktestError, match=r"nocol.csv line 1: no column 'posts'"):
        read_csv(nocol, count_col="posts")
    badtime = tmp_path / "badtime.csv"
    badtime.write_text("time,count\nyesterday,4\n")
    with pytest.raises(BacktestError, match=r"badtime.csv line 2: .*not a time"):
        read_csv(badtime)


def test_params_come_from_the_topic_configuration():
    from monitor.config import parse_config

    cfg = parse_config("""
topics:
  a:
    label: A
    query: a
    alerts: {sensitivity: 5.5, min_volume: 3, quiet_hours: "21:00-06:00", timezone: Europe/Dublin,
             voice_min_amplifiers: 4, notify_min_severity: warning}
""")
    p = Params.from_alerts(cfg.topics["a"].alerts)
    assert (p.sensitivity, p.min_volume, p.timezone) == (5.5, 3, "Europe/Dublin")
    with pytest.raises(Exception, match="timezone must be"):
        parse_config("topics:\n  a:\n    label: A\n    query: a\n    alerts: {timezone: Mars/Olympus}\n")
    with pytest.raises(Exception, match="notify_min_severity must be"):
        parse_config("topics:\n  a:\n    label: A\n    query: a\n    alerts: {notify_min_severity: loud}\n")
