"""The influencer lookup over past data (a replayed or demo week): a batch that moves the newest data
into a new bucket is answered from the stored 30-day ranking, not by computing a new one while
readers wait; an explicit window still gets its own."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitor.items import Account, Post, Reference
from monitor.store import Scored
from tests.dashboard.support import login

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)  # weeks before the wall clock: past data


def batch(store, minutes: int, n: int = 6) -> None:
    posts = [Scored(Post("x", "root", "original", "chief", "flu jabs open", T0), 0.0, {"flu": ["flu"]})]
    for i in range(n):
        posts.append(Scored(Post("x", f"rt{minutes}-{i}", "retweet", f"u{i}", "RT flu jabs open",
                                 T0 + timedelta(minutes=minutes, seconds=i), references=[Reference("retweet", "root", "chief")]),
                            0.0, {"flu": ["flu"]}))
    store.write_batch(posts, [Account("x", "chief", handle="ChiefMedic")] + [Account("x", f"u{i}", handle=f"u{i}")
                                                                             for i in range(n)])


def test_new_past_data_is_answered_from_the_stored_ranking(client, users, sqlite_store):
    login(client, *users["viewer"])
    batch(sqlite_store, 1)
    first = client.get("/api/influencers", params={"topic": "flu"}).json()
    assert first["source"] == "fresh" and first["accounts"][0]["handle"] == "ChiefMedic"
    batch(sqlite_store, 12)  # two buckets on: the pages' time moves on by 10 minutes
    again = client.get("/api/influencers", params={"topic": "flu"}).json()
    assert again["source"] == "stored" and again["run_id"] == first["run_id"]
    assert client.get("/influencers", params={"topic": "flu"}).status_code == 200
    week = client.get("/api/influencers", params={"topic": "flu", "window": "7d"}).json()
    assert week["source"] == "fresh" and week["run_id"] != first["run_id"]
    assert datetime.fromisoformat(week["until"]) == T0 + timedelta(minutes=15)  # the end of the newest bucket
