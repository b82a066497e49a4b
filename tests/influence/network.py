"""Small hand-built topic networks written through the real store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from monitor import models as m
from monitor.items import Account, Post, Reference
from monitor.store import Scored, Store

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)
TOPIC = "social_care"
ON = {TOPIC: ["carers"]}


def acc(pid: str, handle: str | None = None, followers: int | None = 100, partial: bool = False,
        platform: str = "x", created_at: datetime | None = None, posts_count: int | None = None) -> Account:
    return Account(platform=platform, platform_id=pid, handle=handle or pid, name=(handle or pid).title(),
                   followers=followers, partial=partial, created_at=created_at, posts_count=posts_count)


def post(pid: str, author: str, kind: str = "original", minutes: float = 0, *, ref: tuple | None = None,
         mentions: list[str] = (), text: str | None = None, topics=ON, platform: str = "x",
         hashtags: list[str] = (), sentiment: float = 0.0) -> Scored:
    """A post on the topic; ``ref`` = (kind, referenced post id, referenced author id)."""
    refs = [Reference(*ref)] if ref else []
    p = Post(platform, pid, kind, author, text or f"carers support post {pid}", T0 + timedelta(minutes=minutes),
             references=refs, mentions=list(mentions), mention_handles=list(mentions), hashtags=list(hashtags))
    return Scored(p, sentiment, dict(topics))


def ids(store: Store) -> dict[str, int]:
    """platform id -> account id."""
    with store.engine.connect() as conn:
        return {r.platform_id: r.id for r in conn.execute(select(m.accounts.c.id, m.accounts.c.platform_id))}


def hand_worked(store: Store) -> dict[str, int]:
    """The network every graph test works out by hand.

    x:  b retweets a's post 1; c quotes it twice (posts 3 and 7); d replies to it and mentions e
        (e: known only as a mention); a retweets its own post (self-loop); b retweets post 99 of z
        (z: deleted, no user object); an off-topic retweet by e... of a (not on the topic); a
        retweet by c of a two days later (outside the window).
    mastodon: m1 replies to m2.
    """
    posts = [
        post("1", "a", text="Unpaid carers need support now #carers", hashtags=["carers"]),
        post("2", "b", "retweet", 1, ref=("retweet", "1", "a")),
        post("3", "c", "quote", 2, ref=("quote", "1", "a")),
        post("4", "d", "reply", 3, ref=("reply", "1", "a"), mentions=["a", "e"]),
        post("5", "a", "retweet", 4, ref=("retweet", "1", "a")),
        post("6", "b", "retweet", 5, ref=("retweet", "99", "z")),
        post("7", "c", "quote", 6, ref=("quote", "1", "a")),
        post("8", "e", "retweet", 7, ref=("retweet", "1", "a"), topics={}),
        post("9", "c", "retweet", 2 * 24 * 60, ref=("retweet", "10", "a")),
        post("m-2", "m1", "reply", 8, ref=("reply", "m-1", "m2"), platform="mastodon"),
    ]
    accounts = [acc("a", "alice", 50), acc("b", "bob"), acc("c", "carol"), acc("d", "dave"),
                acc("e", "erin", None, partial=True), acc("m1", "mo", platform="mastodon"),
                acc("m2", "mia", platform="mastodon")]
    store.write_batch(posts, accounts)
    return ids(store)
