"""Compose: the briefing's content, as plain JSON-able data, with private individuals already masked.

What a minister reads is decided here, once: the renderers (HTML e-mail, text, PDF) and the
archive only lay it out. Every account shown passes through :class:`briefings.privacy.Naming`
first, so no renderer can name a private individual by mistake.

Topics are ordered by :func:`importance`: how far the week's volume moved from last week and from
the 12-week average (log ratios), how far sentiment moved, and the week's alerts (critical 3,
warning 2, info 0.25 each).
"""

from __future__ import annotations

import html
import math
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select

from briefings.gather import Account, Gathered, TopicWeek, accounts_by_handle
from briefings.privacy import PUBLIC_LABEL, Naming, mentioned
from briefings.settings import BriefingSettings
from briefings.stories import Story, link_key
from monitor import models as m
from monitor.store import Store

TITLE_CHARS = 160
TEXT_CHARS = 280
ALERT_WEIGHT = {"critical": 3.0, "warning": 2.0, "info": 0.25}


def _pct(now: float, before: float | None) -> float | None:
    if not before:
        return None
    return (now - before) / before * 100.0


def importance(posts: int, last: int, avg: float | None, sentiment: float | None, sentiment_prev: float | None,
               alerts: Iterable[dict[str, Any]]) -> float:
    """How much a topic moved this week (higher first). See the module docstring."""
    score = abs(math.log2((posts + 1) / (last + 1)))
    if avg is not None:
        score += abs(math.log2((posts + 1) / (avg + 1)))
    if sentiment is not None and sentiment_prev is not None:
        score += 4 * abs(sentiment - sentiment_prev)
    score += sum(ALERT_WEIGHT.get(a.get("severity"), 0.0) for a in alerts)
    return round(score, 6)


def clip(text: str, n: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "\u2026"


def safe_https(url: str | None) -> str | None:
    """``url`` when it is an absolute https: link with a host and no spaces or quotes, else None."""
    if not url or not isinstance(url, str) or len(url) > 2000:
        return None
    from urllib.parse import urlsplit

    try:
        s = urlsplit(url)
    except ValueError:
        return None
    if s.scheme != "https" or not s.hostname or any(c in url for c in " \"'<>\\\n\r\t"):
        return None
    return url


class Composer:
    def __init__(self, store: Store, g: Gathered, settings: BriefingSettings, naming: Naming):
        self.store, self.g, self.settings, self.naming = store, g, settings, naming
        self.tz = ZoneInfo(g.week.tz)
        self._by_handle: dict[str, Account] = {}
        for a in g.accounts.values():
            if a.handle:
                self._by_handle.setdefault(a.handle.lower(), a)

    # ------------------------------------------------------------------ people and posts
    def is_named(self, a: Account | None) -> bool:
        return a is not None and self.naming.named(a.platform, a.handle, a.followers)

    def who(self, a: Account | None, topic: TopicWeek | None = None) -> dict[str, Any]:
        if not self.is_named(a):
            return {"name": PUBLIC_LABEL, "named": False, "stakeholder": False}
        sh = bool(topic and a.handle and a.handle.lower() in {s.lower() for s in topic.stakeholders})
        if a.platform == "rss":
            name = a.name or a.handle or "a news outlet"
        else:
            name = f"@{a.handle}" + (f" ({a.name})" if a.name and a.name.lower() != a.handle.lower() else "")
        return {"name": name, "named": True, "stakeholder": sh}

    def mask(self, text: str) -> str:
        handles = mentioned(text)
        missing = {h for h in handles if h not in self._by_handle}
        if missing:
            for h, a in accounts_by_handle(self.store, missing).items():
                self._by_handle[h] = a
        named = {h: self.is_named(self._by_handle.get(h)) or h in self.naming.public for h in handles}
        return self.naming.mask(text, named)

    def post_link(self, platform: str, platform_id: str, url: str | None, named: bool) -> str | None:
        if platform == "x":
            # a private individual's post is linked without its handle
            return safe_https(url) if named and url else f"https://x.com/i/web/status/{platform_id}"
        return safe_https(url)

    def fetch_posts(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Posts by (platform, platform id), with their authors, for what is shown."""
        by_plat: dict[str, set[str]] = defaultdict(set)
        for plat, pid in keys:
            by_plat[plat].add(pid)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        p, a = m.posts, m.accounts
        with self.store.engine.connect() as conn:
            for plat, pids in by_plat.items():
                ids = sorted(pids)
                for i in range(0, len(ids), 500):
                    q = (select(p.c.platform, p.c.platform_id, p.c.kind, p.c.text, p.c.title, p.c.url, p.c.created_at,
                                p.c.sentiment, p.c.retweets, p.c.quotes, p.c.likes, a.c.id, a.c.platform, a.c.handle,
                                a.c.name, a.c.followers, a.c.verified)
                         .select_from(p.join(a, a.c.id == p.c.account_id))
                         .where(p.c.platform == plat, p.c.platform_id.in_(ids[i:i + 500])))
                    for r in conn.execute(q):
                        out[(r[0], r[1])] = {"kind": r[2], "text": r[3], "title": r[4], "url": r[5], "created_at": r[6],
                                             "sentiment": r[7], "account": Account(*r[11:])}
        return out

    def show_post(self, row: dict[str, Any], key: tuple[str, str], topic: TopicWeek | None, **extra) -> dict[str, Any]:
        acc = row["account"]
        who = self.who(acc, topic)
        text = plain(key[0], row["title"] if row["kind"] == "article" and row.get("title") else row["text"])
        return {"who": who["name"], "named": who["named"], "stakeholder": who["stakeholder"],
                "text": clip(self.mask(text or ""), TEXT_CHARS), "url": self.post_link(key[0], key[1], row["url"], who["named"]),
                "time": self.local(row["created_at"]), **extra}

    def local(self, t: datetime | None) -> str | None:
        return t.astimezone(self.tz).strftime("%a %d %b %H:%M") if t else None

    # ------------------------------------------------------------------ a topic
    def topic(self, tw: TopicWeek, stories: list[Story], ranking: Any | None) -> dict[str, Any]:
        s = self.settings
        posts = tw.weekly_posts[-1]
        last = tw.weekly_posts[-2]
        hist = self._history_weeks(tw)
        prior = tw.weekly_posts[-1 - hist:-1] if hist else []
        avg = sum(prior) / len(prior) if prior else None
        sent, sent_prev = tw.weekly_sentiment[-1], tw.weekly_sentiment[-2]
        top = stories[: s.stories_per_topic]
        want = {k for st in top for k in st.key_posts}
        shared_posts = self._most_amplified(tw, 5)
        want |= {k for k, _ in shared_posts}
        stake = self._stakeholder_posts(tw, 5)
        rows = self.fetch_posts(want)
        story_out = []
        for st in top:
            rep = rows.get(st.representative)
            if st.article_index is not None:
                art = tw.posts[st.article_index]
                title = plain(art.platform, art.title or art.text or "")
            elif rep is not None:
                title = plain(st.representative[0], (rep["title"] if rep["kind"] == "article" and rep["title"] else rep["text"]) or "")
            else:
                title = ""
            title = clip(self.mask(title), TITLE_CHARS) or "(the post that started it was not collected)"
            key_posts = [self.show_post(rows[k], k, tw) for k in st.key_posts if k in rows]
            story_out.append({
                "id": st.id, "title": title, "size": st.size, "authors": st.authors, "reach": st.reach,
                "sentiment": round(st.sentiment, 3), "negative_share": round(st.negative_share, 3),
                "first": self.local(st.first), "peak": self.local(st.peak), "peak_posts": st.peak_posts,
                "key_posts": key_posts,
                "links": [u for u in (safe_https(x) for x in st.links) if u],
            })
        voices, rising = self._voices(tw, ranking)
        headline = self._headline(tw.label, posts, last, avg, hist, sent, sent_prev, story_out)
        out = {
            "id": tw.topic, "label": tw.label, "posts": posts, "last_week": last,
            "average": round(avg, 1) if avg is not None else None, "history_weeks": hist,
            "change_week_pct": _round(_pct(posts, last)), "change_average_pct": _round(_pct(posts, avg)),
            "sentiment": _round(sent, 3), "sentiment_prev": _round(sent_prev, 3),
            "sentiment_change": _round(sent - sent_prev, 3) if sent is not None and sent_prev is not None else None,
            "negative_share": _round(tw.weekly_negative[-1], 3),
            "importance": importance(posts, last, avg, sent, sent_prev, tw.alerts),
            "headline": headline,
            "stories": story_out,
            "shared_links": self._shared_links(tw, 5),
            "shared_posts": [self.show_post(rows[k], k, tw, amplifications=n) for k, n in shared_posts if k in rows],
            "stakeholders": [self.show_post(r, k, tw) for k, r in stake],
            "voices": voices, "rising": rising,
            "alerts": [self._alert(a) for a in tw.alerts],
            "trend": {"weeks": tw.weeks, "posts": tw.weekly_posts,
                      "sentiment": [_round(x, 3) for x in tw.weekly_sentiment]},
            "days": {"days": [d.strftime("%a %d") for d in tw.days], "posts": tw.daily_posts},
        }
        return out

    def _history_weeks(self, tw: TopicWeek) -> int:
        """Weeks before this one that the store has data for (at most 12): the average is over them."""
        hs = self.g.history_start
        if hs is None:
            return 0
        from briefings.week import Week

        first = Week.containing(hs, self.g.week.tz)
        n = 0
        for lab in tw.weeks[:-1]:
            w = Week.parse(lab, self.g.week.tz)
            if w.start >= first.start:
                n += 1
        return n

    def _headline(self, label, posts, last, avg, hist, sent, sent_prev, stories) -> str:
        if posts == 0:
            return f"{label}: no posts this week" + (f" (last week {last:,})." if last else ".")
        parts = [f"{label}: {posts:,} posts"]
        if last:
            ch = _pct(posts, last)
            parts.append(f"{'up' if ch >= 0 else 'down'} {abs(ch):.0f}% on last week ({last:,})")
        else:
            parts.append("none last week")
        if avg:
            parts.append(f"{posts / avg:.1f}\u00d7 the {hist}-week average ({avg:,.0f})")
        elif hist == 0:
            parts.append("no earlier weeks to compare")
        line = ", ".join(parts)
        if sent is not None:
            line += f"; sentiment {_tone(sent)} ({sent:+.2f}"
            if sent_prev is not None:
                d = sent - sent_prev
                line += f", {'up' if d >= 0 else 'down'} {abs(d):.2f} on last week"
            line += ")"
        if stories:
            line += f"; biggest story: \u201c{clip(stories[0]['title'], 90)}\u201d ({stories[0]['size']:,} posts)"
        return line + "."

    def _most_amplified(self, tw: TopicWeek, n: int) -> list[tuple[tuple[str, str], int]]:
        c: Counter = Counter()
        for p in tw.posts:
            if p.ref_id and p.ref_kind in ("retweet", "quote"):
                c[(p.platform, p.ref_id)] += 1
        return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def _shared_links(self, tw: TopicWeek, n: int) -> list[dict[str, Any]]:
        accounts: dict[str, set[int]] = defaultdict(set)
        example: dict[str, str] = {}
        for p in tw.posts:
            if p.kind == "retweet":
                continue
            for link in p.links or ():
                k = link_key(link)
                url = safe_https(link)
                if k and url:
                    accounts[k].add(p.account_id)
                    example.setdefault(k, url)
        ranked = sorted(accounts.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:n]
        return [{"url": example[k], "shown": clip(k, 80), "accounts": len(v)} for k, v in ranked]

    def _stakeholder_posts(self, tw: TopicWeek, n: int) -> list[tuple[tuple[str, str], dict[str, Any]]]:
        sh = {h.lower() for h in tw.stakeholders}
        if not sh:
            return []
        refs: Counter = Counter((p.platform, p.ref_id) for p in tw.posts if p.ref_id)
        mine = []
        for p in tw.posts:
            a = self.g.accounts.get(p.account_id)
            if p.kind != "retweet" and a and a.handle and a.handle.lower() in sh:
                mine.append(p)
        mine.sort(key=lambda p: (-refs.get((p.platform, p.platform_id), 0), p.created_at, p.id))
        out = []
        for p in mine[:n]:
            row = {"kind": p.kind, "text": p.text, "title": p.title, "url": p.url, "created_at": p.created_at,
                   "account": self.g.accounts[p.account_id]}
            out.append(((p.platform, p.platform_id), row))
        return out

    def _voices(self, tw: TopicWeek, ranking: Any | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if ranking is None:
            return [], []

        def show(a) -> dict[str, Any]:
            acc = Account(a.account_id, a.platform or "x", a.handle, a.name, a.followers, a.verified)
            who = self.who(acc, tw)
            return {"who": who["name"], "named": who["named"], "stakeholder": who["stakeholder"] or a.stakeholder,
                    "rank": a.rank, "score": round(a.score, 1), "amplifiers": a.amplifiers,
                    "change": "new" if a.previous_rank is None else a.rank_change,
                    "flagged": bool(a.flagged)}

        top = [a for a in ranking.accounts if not a.flagged][: self.settings.voices_per_topic]
        rising = [a for a in ranking.accounts[:50] if not a.flagged and
                  (a.previous_rank is None or (a.rank_change or 0) >= 5)]
        rising.sort(key=lambda a: (a.previous_rank is not None, -(a.rank_change or 0), a.rank))
        return [show(a) for a in top], [show(a) for a in rising[:5]]

    def _alert(self, a: dict[str, Any]) -> dict[str, Any]:
        if a["state"] == "resolved":
            ended = f"resolved by {a['resolved_by'] or 'earshot'} {self.local(a['resolved_at'])}"
        elif a["state"] == "acknowledged":
            ended = f"acknowledged by {a['acknowledged_by']} {self.local(a['acknowledged_at'])}, not resolved"
        else:
            ended = "still open, nobody has acknowledged it"
        if a.get("closed_at"):
            ended += f"; back to normal {self.local(a['closed_at'])}"
        return {"id": a["id"], "kind": a["kind"], "severity": a["severity"], "title": clip(self.mask(a["title"]), 200),
                "opened": self.local(a["opened_at"]), "ended": ended, "state": a["state"]}


def plain(platform: str, text: str | None) -> str:
    """Post text as people wrote it: X sends ``&amp;``, ``&lt;`` and ``&gt;`` escaped in its text (the
    renderers escape it again for HTML)."""
    if not text:
        return ""
    return html.unescape(text) if platform == "x" and "&" in text else text


def _round(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def _tone(s: float) -> str:
    if s <= -0.05:
        return "negative"
    if s >= 0.05:
        return "positive"
    return "neutral"


def coverage_lines(cov: dict[str, Any], total_posts: int) -> list[str]:
    """The coverage paragraph: what was watched and what the figures did not see."""
    srcs = cov["sources"]
    lines = []
    imported = [s for s in srcs if s["name"].startswith("import:")]
    live = [s for s in srcs if not s["name"].startswith("import:")]
    watched = [f"{s['name']} ({s['posts']:,} posts)" for s in live]
    if imported:
        watched.append(f"{len(imported)} imported files ({sum(s['posts'] for s in imported):,} posts)")
    lines.append("Sources: " + ("; ".join(watched) if watched else "none stored anything this week") + ".")
    down = [s for s in srcs if s["down_all_week"]]
    for s in down:
        why = f" (last error: {clip(s['last_error'], 120)})" if s.get("last_error") else ""
        lines.append(f"{s['name']} was down all week: nothing it would have brought is counted{why}.")
    gaps = [s for s in srcs if s["gaps"] and not s["down_all_week"]]
    if gaps:
        lines.append("Gaps: " + "; ".join(f"{s['name']} {s['gap_hours']} h ({', '.join(s['reasons'])})" for s in gaps) + ".")
    waits = [s for s in srcs if s["rate_limit_waits"]]
    if waits:
        lines.append("Rate-limit waits: " + "; ".join(f"{s['name']} {s['rate_limit_waits']} waits, {s['rate_limit_minutes']} min"
                                                      for s in waits) + ".")
    if not gaps and not waits and not down:
        lines.append("No gaps or rate-limit waits were recorded this week.")
    if cov.get("irrelevant"):
        per = "; ".join(f"{t} {n:,}" for t, n in sorted(cov["irrelevant_by_topic"].items()))
        lines.append(f"Posts people marked irrelevant, left out of every figure: {cov['irrelevant']:,} ({per}).")
    else:
        lines.append("No posts were marked irrelevant this week: every matched post is counted.")
    if total_posts == 0:
        lines.append("No posts were stored on any topic this week: the figures below are empty, not calm.")
    return lines


def compose(store: Store, g: Gathered, stories: dict[str, list[Story]], rankings: dict[str, Any],
            settings: BriefingSettings, naming: Naming) -> dict[str, Any]:
    """The whole briefing's content (JSON-able, deterministic for the same data)."""
    c = Composer(store, g, settings, naming)
    topics = [c.topic(g.topics[t], stories.get(t, []), rankings.get(t)) for t in g.topics]
    topics.sort(key=lambda t: (-t["importance"], t["id"]))
    total = sum(t["posts"] for t in topics)
    return {
        "week": g.week.label,
        "timezone": g.week.tz,
        "start": g.week.start.isoformat(),
        "end": g.week.end.isoformat(),
        "period": g.week.describe(),
        "title": f"Social and news media: the week of {g.week.describe()}",
        "total_posts": total,
        "topics": topics,
        "coverage": {**g.coverage, "lines": coverage_lines(g.coverage, total)},
    }
