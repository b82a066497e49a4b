"""What an alert card says: figures, top posts with safe links, and the share of coordinated amplification."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dashboard.routers.alerts import card
from monitor.alerts import engine, records
from monitor.config import load_config
from monitor.items import Account, Batch, Post, Reference
from monitor.pipeline import process_batch
from monitor.topics import Matcher
from tests.dashboard.support import make_app
from tests.monitor.alerts_support import fill

T = datetime(2026, 11, 18, 14, 0, tzinfo=timezone.utc)


def test_the_card_counts_retweets_in_bursts_as_coordinated(sqlite_store, topics_env):
    store = sqlite_store
    fill(store, "flu", T - timedelta(days=2), T - timedelta(minutes=10), 2.0, seed=8, hook=False)
    start = T - timedelta(minutes=5)
    posts = [Post(platform="x", platform_id=f"orig{i}", kind="original", author_id=str(100 + i),
                  text=f"flu wards full {i}", created_at=start + timedelta(seconds=4 * i),
                  url=f"https://x.com/u{100 + i}/status/{i}" if i else "javascript:alert(1)") for i in range(60)]
    # 20 accounts retweet o0 two seconds apart (a burst); 10 retweet o1 a minute apart (people)
    posts += [Post(platform="x", platform_id=f"burst{i}", kind="retweet", author_id=str(500 + i), text="RT flu wards full 0",
                   created_at=start + timedelta(seconds=30 + 2 * i), references=[Reference("retweet", "orig0", "100")])
              for i in range(20)]
    posts += [Post(platform="x", platform_id=f"slow{i}", kind="retweet", author_id=str(600 + i), text="RT flu wards full 1",
                   created_at=start + timedelta(seconds=20 + 25 * i), references=[Reference("retweet", "orig1", "101")])
              for i in range(10)]
    accounts = [Account(platform="x", platform_id=p.author_id, handle=f"u{p.author_id}") for p in posts]
    batch = Batch(source="test", posts=posts, accounts=accounts)
    config = load_config(topics_env)
    result = process_batch(batch, store, Matcher(config.topics), run_hooks=False)
    engine.after_batch(store, batch, result)
    (alert,) = [a for a in records.list_alerts(store) if a["kind"] == "volume"]
    app = make_app(store, topics_env, hub=False)
    c = card(app.state.earshot, alert)
    assert c["coordinated_share"] == pytest.approx(20 / 30)
    assert c["topic_label"] == "Flu" and c["ratio"] > 3
    assert c["top_posts"][0]["platform_id"] == "orig0" and c["top_posts"][0]["amplified"] == 20
    assert c["top_posts"][0]["link"] is None  # its stored URL is javascript:, and its id is not an X id
    assert c["top_posts"][1]["link"] == "https://x.com/u101/status/1"


def test_the_card_shows_the_engines_coordination_when_the_influence_run_flagged_accounts(sqlite_store, topics_env):
    app = make_app(sqlite_store, topics_env, hub=False)
    row = {"id": 1, "topic": "flu", "kind": "volume", "severity": "warning", "state": "open", "title": "Flu: 5× <b>",
           "opened_at": T, "updated_at": T, "started_at": T, "closed_at": None, "ratio": 5.0, "current": 50.0,
           "expected": 10.0, "details": {"coordination": {"share": 0.62, "rings": [{"ring": 1, "posts": 30}]}}}
    c = card(app.state.earshot, row)
    assert c["coordination_words"] == "62% of the rise from accounts flagged as coordinated (ring 1)"
    assert c["coordinated_share"] is None
