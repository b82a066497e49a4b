"""What the generic dashboard tests run over: a small demo week, hostile posts and accounts, users.

Plain functions (no pytest): ``tests/browser/conftest.py`` builds the store once a session and
copies it for each test.

Hostile input (:data:`HOSTILE`) is stored through the ordinary pipeline, on a topic (so it is
counted, searchable, ranked) and by one of the topic's stakeholders (so it raises an alert whose
card quotes it). Each payload, if it ever ran, would set ``window.__xss`` or open a dialog.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from monitor.harness.week import load_week
from monitor.items import ORIGINAL, QUOTE, RETWEET, Account, Batch, Post, Reference

DEMO_SIZE = 2000
DEMO_SEED = 5
HOSTILE_TOPIC = "waiting_times"
HOSTILE_STAKEHOLDER = "NHSEngland"  # a stakeholder of waiting_times in config/keywords.yaml

#: role -> (account name, password)
USERS = {
    "viewer": ("vera", "viewer-password-1"),
    "press": ("percy", "press-password-22"),
    "admin": ("ada", "admin-password-333"),
}

SCRIPT = "<script>window.__xss='script';alert('script')</script>"
IMG = "<img src=x onerror=\"window.__xss='img';alert('img')\">"
SVG = "\"><svg onload=\"window.__xss='svg'\">"
ATTR = "' onmouseover='window.__xss=\"attr\"' x='"
JS_URL = "javascript:window.__xss='href';alert('href')"
JS_URL_MIXED = " JaVaScRiPt:window.__xss='href2'"
TEMPLATE = "{{ 7*7 }}${7*7}"
#: an account only for routes that act on an account (disable, revoke), so no test user is locked out
SPARE_USER = ("spare", "spare-password-4444", "viewer")
#: an API token only for the routes that revoke one
SPARE_TOKEN = "spare-token"
#: every hostile payload, for tests that look for them as text
HOSTILE = (SCRIPT, IMG, SVG, ATTR, TEMPLATE)


def hostile_batch(when: datetime) -> Batch:
    """Posts and accounts full of markup, event handlers and ``javascript:`` links, on :data:`HOSTILE_TOPIC`."""
    evil = Account(platform="x", platform_id="990000001", handle="evil_handle", name=f"Evil {IMG} {SCRIPT}",
                   description=f"Bio {SVG} {ATTR}", followers=12, following=3, posts_count=40,
                   created_at=when - timedelta(days=30), url=JS_URL, location=SCRIPT)
    holder = Account(platform="x", platform_id="990000002", handle=HOSTILE_STAKEHOLDER,
                     name=f"NHS England {SVG}", description=IMG, followers=900_000, url=JS_URL_MIXED)
    amplifiers = [Account(platform="x", platform_id=f"99000010{i}", handle=f"amp{i}", name=f"Amp {i} {IMG}")
                  for i in range(6)]
    posts = [
        Post(platform="x", platform_id="990000101", kind=ORIGINAL, author_id=evil.platform_id,
             text=f"The waiting list is a scandal {SCRIPT} {IMG} trolley waits {ATTR} {TEMPLATE}",
             created_at=when, lang="en", url=JS_URL, hashtags=["waitinglist", "<script>x</script>"],
             links=[JS_URL, "https://evil.example/\"><script>window.__xss='link'</script>"],
             mention_handles=[HOSTILE_STAKEHOLDER.lower()], retweets=50, likes=10),
        Post(platform="x", platform_id="990000102", kind=ORIGINAL, author_id=holder.platform_id,
             text=f"Our statement on the waiting list {SVG} {IMG}", created_at=when + timedelta(minutes=1),
             lang="en", url=JS_URL_MIXED, links=["javascript:void(window.__xss='stake')"], retweets=5),
    ]
    for i, amp in enumerate(amplifiers):
        posts.append(Post(platform="x", platform_id=f"99000020{i}", kind=RETWEET, author_id=amp.platform_id,
                          text=f"RT @evil_handle: The waiting list is a scandal {SCRIPT}",
                          created_at=when + timedelta(minutes=2 + i), lang="en",
                          references=[Reference(RETWEET, "990000101", evil.platform_id)]))
    posts.append(Post(platform="x", platform_id="990000301", kind=QUOTE, author_id=amplifiers[0].platform_id,
                      text=f"Waiting list truth {ATTR} {SCRIPT}", created_at=when + timedelta(minutes=9),
                      lang="en", references=[Reference(QUOTE, "990000101", evil.platform_id)]))
    return Batch(source="x-search", posts=posts, accounts=[evil, holder, *amplifiers])


LIVE_STAKEHOLDER = "TheKingsFund"  # another stakeholder of waiting_times: its post opens a new alert


def live_hostile_batch(when: datetime) -> Batch:
    """A hostile stakeholder post arriving while a page is open (its alert card is pushed live)."""
    holder = Account(platform="x", platform_id="990000003", handle=LIVE_STAKEHOLDER,
                     name=f"The King's Fund {IMG}", description=SCRIPT, url=JS_URL)
    post = Post(platform="x", platform_id="990000401", kind=ORIGINAL, author_id=holder.platform_id,
                text=f"Live: the waiting list grows {SCRIPT} {SVG} {ATTR}", created_at=when, lang="en",
                url=JS_URL, links=[JS_URL_MIXED])
    return Batch(source="x-search", posts=[post], accounts=[holder])


def build_store(path: Path, work: Path, config_path: Path) -> dict:
    """Fill a new SQLite store at ``path``: the demo week, the hostile batch, alerts, rankings, users.

    Returns what the tests need to know about it (the week, ids of hostile things, users).
    """
    from monitor.config import load_config
    from monitor.demo.generator import ScenarioSpec
    from monitor.store import Store

    store = Store(f"sqlite:///{path}")
    spec = ScenarioSpec(size=DEMO_SIZE, seed=DEMO_SEED)
    end = spec.start_utc + timedelta(days=spec.days)
    truth, _ = load_week(store, load_config(config_path), work, DEMO_SIZE, DEMO_SEED,
                         before_detect=[hostile_batch(end - timedelta(hours=3))])
    assert datetime.fromisoformat(truth["end"]) == end
    from briefings.archive import save_build
    from briefings.build import build
    from briefings.settings import BriefingSettings
    from briefings.week import Week

    week = Week.containing(datetime.fromisoformat(truth["start"]))
    save_build(store, build(store, load_config(config_path), week, BriefingSettings()), by="test")  # hostile post in it
    users = _add_users(store)
    store.dispose()
    return {"start": truth["start"], "end": truth["end"], "users": users}


def _add_users(store) -> dict:
    from dashboard import auth

    for role, (name, password) in USERS.items():
        auth.add_user(store, name, password, role)
    auth.add_user(store, *SPARE_USER)
    auth.create_token(store, SPARE_TOKEN, "viewer", created_by="test")
    return dict(USERS)
