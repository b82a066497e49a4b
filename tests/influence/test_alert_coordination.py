"""An alert driven by a coordinated ring says so, once the influence run that flags the ring is stored.

Detection runs batch by batch and the influence run later (hourly, or after an import), so an
alert is often raised before anyone is flagged: the run must relabel it. Driven through the
CLI (`earshot alerts show`), as a press officer reads it.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from click.testing import CliRunner

from monitor.alerts.cli import alerts
from tests.monitor.alerts_support import FIXED_NOW, config_file, fill, post, write

CONFIG = """
topics:
  flu:
    label: Flu
    query: flu
  vapes:
    label: Vapes
    query: vapes
    alerts:
      coordinated_severity: same
"""
RING = [7000 + i for i in range(120)]


def ring_burst(topic: str, original: tuple[str, int], at) -> list:
    """Every ring account retweets ``original`` within seconds of the previous one."""
    return [post(acc, at + timedelta(seconds=2 * i), topic, retweet_of=original) for i, acc in enumerate(RING)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("EARSHOT_CONFIG", str(config_file(tmp_path, CONFIG)))
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{tmp_path / 'ring.db'}")
    for v in ("EARSHOT_REDIS_URL", "EARSHOT_SMTP_HOST", "EARSHOT_WEBHOOKS"):
        monkeypatch.delenv(v, raising=False)
    return monkeypatch


@pytest.mark.parametrize("topic,before,after", [("flu", "CRITICAL", "WARNING"), ("vapes", "CRITICAL", "CRITICAL")])
def test_a_ring_driven_alert_is_labelled_when_the_influence_run_flags_the_ring(env, topic, before, after) -> None:
    from influence.tasks import recompute
    from monitor.config import load_config
    from monitor.store import Store

    store = Store(os.environ["EARSHOT_DATABASE_URL"])
    t0 = FIXED_NOW - timedelta(days=3)
    spike = FIXED_NOW - timedelta(hours=2)
    fill(store, topic, t0, spike - timedelta(hours=30), 4.0, seed=51)
    # the ring's earlier bursts (the evidence that its members act together), a day apart
    for k, at in enumerate((spike - timedelta(hours=30), spike - timedelta(hours=20))):
        write(store, [post(900 + k, at - timedelta(minutes=1), topic, pid=f"orig{k}")], now=at)
        write(store, ring_burst(topic, (f"orig{k}", 900 + k), at), now=at + timedelta(minutes=5))
    fill(store, topic, spike - timedelta(hours=30), spike, 4.0, seed=52)
    # the spike: the ring pushes four posts at once, four times its earlier bursts
    targets = [post(42, spike, topic, pid=f"target{k}", text=f"{topic}: a post the ring pushes ({k})") for k in range(4)]
    write(store, targets, now=spike)
    pushed = [r for k in range(4) for r in ring_burst(topic, (f"target{k}", 42), spike + timedelta(seconds=30 + k / 2))]
    write(store, pushed, now=spike + timedelta(minutes=5))
    fill(store, topic, spike + timedelta(minutes=5), spike + timedelta(hours=1), 4.0, seed=53)
    runner = CliRunner()
    listed = runner.invoke(alerts, ["list", "--json", "--kind", "volume", "--since", (spike - timedelta(hours=1)).isoformat()])
    (raised,) = [a for a in json.loads(listed.output) if a["topic"] == topic]
    shown = runner.invoke(alerts, ["show", str(raised["id"])]).output
    assert shown.startswith(f"#{raised['id']} {before} ") and "flagged as coordinated" not in shown.splitlines()[0]

    config = load_config(os.environ["EARSHOT_CONFIG"])
    summary = recompute(store, config, topics=[topic], until=FIXED_NOW, window=timedelta(days=3))
    assert raised["id"] in summary["topics"][topic]["alerts_relabelled"]  # (the earlier bursts' alerts too)
    store.dispose()

    shown = runner.invoke(alerts, ["show", str(raised["id"])]).output
    first = shown.splitlines()[0]
    assert first.startswith(f"#{raised['id']} {after} ")
    assert "of the rise from accounts flagged as coordinated (ring 1)" in first
    assert "coordinated: " in shown and "of the rise from accounts flagged as coordinated" in shown
    assert "found" in shown and "influence run" in shown  # the history says when and why it changed
    # a second run relabels nothing again
    store = Store(os.environ["EARSHOT_DATABASE_URL"])
    again = recompute(store, config, topics=[topic], until=FIXED_NOW + timedelta(hours=1), window=timedelta(days=3))
    store.dispose()
    assert again["topics"][topic].get("alerts_relabelled", []) == []
