"""End to end as the press office meets it: a spike on the X filtered stream is an alert on the push channel.

A loopback X API v2 server streams posts to the real ``earshot stream`` (its own process, real
tweepy, rules synced, batches stored, the after-batch alert hook), and a subscriber on the
private Redis's alert channel waits for the event. The clock is a parameter: the history and
the posts are dated from a fixed ``NOW`` (the engine detects in data time), so the test means
the same at any time of day.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from monitor.harness.stream import StreamRig

NOW = datetime(2026, 11, 18, 12, 2, 30, tzinfo=timezone.utc)  # a Wednesday, midday in London
WAIT = 90.0  # seconds allowed for the alert (a bound for a slow machine, not a figure)


def test_a_spike_on_the_stream_reaches_the_push_channel_and_normal_traffic_does_not(tmp_path) -> None:
    with StreamRig(tmp_path, {"spiky": 20, "calm": 20}, NOW) as rig:
        assert sorted(r["tag"] for r in rig.x.rules.values()) == ["calm", "spiky"]  # rules synced through tweepy
        for i in range(4):  # normal traffic on both
            rig.post("calm", NOW + timedelta(seconds=10 * i))
            rig.post("spiky", NOW + timedelta(seconds=10 * i + 5))
        for i in range(250):  # the spike: 250 posts in the next 50 seconds of data time (12x the bucket's usual)
            rig.post("spiky", NOW + timedelta(seconds=40 + i / 5), stamp=i)
        deadline = time.monotonic() + WAIT
        while rig.opened_at("spiky") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # anything else the same batches raised has arrived too
        opened = rig.opened()
        assert "spiky" in opened, f"no alert on the channel; earshot stream said: {rig.log()}"
        arrived, event = opened["spiky"]
        alert = event["alert"]
        assert event["type"] == "alert" and alert["kind"] == "volume" and alert["state"] == "open"
        assert alert["title"].startswith("Topic spiky: ") and "the usual volume" in alert["title"]
        assert datetime.fromisoformat(alert["opened_at"]) - NOW < timedelta(minutes=2)  # in data time
        assert arrived > rig.sent_at(0)  # after the spike's first post left the server
        assert "calm" not in opened  # normal traffic raised nothing
    assert rig.proc.returncode is not None
