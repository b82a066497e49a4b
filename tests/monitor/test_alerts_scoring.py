"""The benchmark's scoring, the Huginn reference, the widened synthetic set, and one real series."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.alerts.scoring import (EventCounts, StandardScore, detector_detections, event_counts, huginn_peaks,
                                    scaled_sigmoid, standard_score)
from monitor.alerts.synthetic import wide_series
from tests.conftest import SHARED_FIXTURES

T = [1_700_000_000 + 300 * i for i in range(1000)]  # 1000 rows: the first 150 are for learning
W = [(T[500], T[599])]  # one window of 100 rows


def test_the_standard_score_rewards_early_detection_and_charges_false_alarms():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5) and scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(5.0) == -1.0
    first = standard_score(T, W, [T[500]])
    assert (first.raw, first.null, first.perfect, first.found) == (pytest.approx(1.0), -1.0, 1.0, 1)
    assert first.normalised == pytest.approx(100.0)
    assert standard_score(T, W, []).normalised == 0.0  # detecting nothing
    late = standard_score(T, W, [T[590]])
    assert 0 < late.raw < standard_score(T, W, [T[550]]).raw < first.raw  # earlier is better
    # only the earliest detection in a window counts; one outside costs 0.11; the learning part is free
    s = standard_score(T, W, [T[10], T[300], T[520], T[540]])
    assert s.false_alarms == 1 and s.found == 1
    assert s.raw == pytest.approx(standard_score(T, W, [T[520]]).raw - 0.11)
    # a window inside the learning part is not scored
    assert standard_score(T, [(T[10], T[40])], []).null == 0.0
    total = first + late
    assert total.normalised == pytest.approx(100 * (first.raw + late.raw + 2) / 4)


def test_event_counts_count_every_alert_outside_the_windows():
    ec = event_counts([(10, 20), (50, 60)], [5, 12, 15, 30, 31, 55], since=6)
    assert (ec.incidents, ec.found, ec.false_alarms) == (2, 2, 2)
    assert ec.precision == 0.5 and ec.recall == 1.0
    assert (ec + EventCounts(1, 0, 2)).recall == pytest.approx(2 / 3)


def test_the_huginn_reference_is_mean_plus_three_deviations_with_two_days_between_peaks():
    times = [i * 3600.0 for i in range(24 * 10)]
    values = [10.0 + (i % 2) for i in range(len(times))]
    values[50] = 40.0  # a peak
    values[70] = 60.0  # under a day later: too close
    values[150] = 60.0  # more than two days later: a peak again
    assert huginn_peaks(times, values) == [times[50], times[150]]
    assert huginn_peaks(times, values, min_spacing_days=0.5) == [times[50], times[70], times[150]]
    assert huginn_peaks(times[:4], values[:4]) == []  # more than min_events values are needed


def test_the_widened_synthetic_set_has_what_real_traffic_has():
    s = wide_series(3)
    assert s == wide_series(3)  # deterministic in its seed
    shapes = {i.shape for i in s.incidents}
    assert "modest" in shapes and any(i.night for i in s.incidents) and "shift" in shapes  # seed 3: a level shift
    assert all(i.start >= s.learn_until and i.window[1] > i.end for i in s.incidents)
    gaps = [b - a for a, b in zip(s.times, s.times[1:])]
    assert max(gaps) > 300 or len(s.times) == 28 * 288  # missing buckets are absent rows
    # the series crosses a clock change in London
    offsets = {datetime.fromtimestamp(t, tz=timezone.utc).astimezone(ZoneInfo("Europe/London")).utcoffset()
               for t in (s.times[0], s.times[-1])}
    assert len(offsets) == 2
    quiet = wide_series(4, incidents=False)
    assert quiet.incidents == [] and quiet.windows == []


def _real(name: str):
    folder = SHARED_FIXTURES / "real-volume"
    if not (folder / "windows.json").is_file():
        pytest.fail(f"the real series are missing: expected {folder} (the shared/ folder beside the project)")

    def ts(text: str) -> float:
        return datetime.fromisoformat(text.split(".")[0]).replace(tzinfo=timezone.utc).timestamp()

    with open(folder / f"Twitter_volume_{name}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    windows = json.loads((folder / "windows.json").read_text())[f"Twitter_volume_{name}.csv"]
    return [ts(r["timestamp"]) for r in rows], [int(float(r["value"])) for r in rows], \
        [(ts(a), ts(b)) for a, b in windows]


def test_on_a_real_series_the_defaults_find_the_incidents_without_paging_daily():
    times, counts, windows = _real("KO")
    det = detector_detections(times, counts)
    ec = event_counts(windows, det)
    assert ec.found == 3  # all three labelled incidents
    assert ec.false_alarms <= 6  # eight weeks: under one a week (the earlier detector raised 80)
    assert standard_score(times, windows, det).normalised > 60
    ref = huginn_peaks(times, counts)
    assert event_counts(windows, ref).false_alarms > 3 * max(ec.false_alarms, 1)
    assert StandardScore().normalised == 0.0
