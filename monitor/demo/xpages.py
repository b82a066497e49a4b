"""Rendering posts as X API v2 response pages, exactly as twarc2 writes them.

Part of the demo scenario generator (:mod:`monitor.demo.generator`).
"""

from __future__ import annotations

import html
import json
import random
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote as _urlquote

from monitor.demo.spec import (
    CRISIS, DRIVER, LIVE, SLEEPER, K_BOT, K_CAMPAIGNER, K_CHARITY, K_CLINICIAN, K_COLLEGE, K_COMMENTATOR, K_INDUSTRY,
    K_JOURNALIST, K_MP, K_PUBLIC, K_THINK, K_TRUST, NEG, NEU, ORIG, QT, RP, RT, SPAM, ScenarioSpec, TOPICS, _HOUR_MS,
    _NT, _cap, _ms_to_dt, _pick,
)
from monitor.demo.text import (
    _CLOSERS, _CRISIS_HEADLINES, _CRISIS_ORIGINALS, _CRISIS_PHRASES, _CRISIS_REACTIONS, _DRIVER_TEXT, _DUAL, _LIVE_TEXT,
    _NEAR_MISS, _OFF_TAGS, _OPENERS, _ORIGINALS, _PHRASES, _PROMO, _REACTIONS, _SLEEPER_CLAUSES, _SPAM, _Slots, _TAGS,
)
from monitor.demo.population import _Population
from monitor.demo.schedule import _Core, _Post
from monitor.demo.feeds import _Article


_TWARC_VERSION = "2.14.0"


_SEARCH_URL = (
    "https://api.twitter.com/2/tweets/search/recent?expansions=author_id%2Cin_reply_to_user_id%2C"
    "referenced_tweets.id%2Creferenced_tweets.id.author_id%2Centities.mentions.username%2C"
    "attachments.poll_ids%2Cattachments.media_keys%2Cgeo.place_id%2Cedit_history_tweet_ids"
    "&tweet.fields=attachments%2Cauthor_id%2Ccontext_annotations%2Cconversation_id%2Ccreated_at%2C"
    "entities%2Cgeo%2Cid%2Cin_reply_to_user_id%2Clang%2Cpublic_metrics%2Ctext%2Cpossibly_sensitive%2C"
    "referenced_tweets%2Creply_settings%2Csource%2Cwithheld%2Cedit_controls%2Cedit_history_tweet_ids"
    "&user.fields=created_at%2Cdescription%2Centities%2Cid%2Clocation%2Cname%2Cpinned_tweet_id%2C"
    "profile_image_url%2Cprotected%2Cpublic_metrics%2Curl%2Cusername%2Cverified%2Cverified_type%2Cwithheld"
    "&max_results=100&query="
)
_SEARCH_QUERY = ("(#NHSWaitingList OR \"waiting list\" OR #SocialCare OR \"social care\" OR vaccine OR "
                 "#VaccinesWork OR \"mental health\" OR CAMHS OR obesity OR \"sugar tax\" OR "
                 "\"junior doctors\" OR \"resident doctors\" OR smoking OR vaping) lang:en -is:nullcast")


def _entities_member(mentions: list[str], tags: list[str], urls: list[str]) -> str:
    """The tweet's ``entities`` member from its JSON entity objects, with its leading comma, or "" when none."""
    members = [f'"{name}":[' + ",".join(items) + "]"
               for name, items in (("mentions", mentions), ("hashtags", tags), ("urls", urls)) if items]
    return ',"entities":{' + ",".join(members) + "}" if members else ""


def _x_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


_B62_PAIRS = [a + b for a in _B62 for b in _B62]


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(out)


def _escape(text: str) -> str:
    """Escape text the way X does in tweet texts (only &, < and >)."""
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


_MENTION_LEADS = (" cc", " via", " h/t", "")
_ELLIPSIS = "\u2026"
_SECONDS = tuple(f"{i:02d}" for i in range(60))
_ZERO_METRICS = tuple('{"retweet_count":0,"reply_count":0,"like_count":%d,"quote_count":0}}' % i for i in range(4))
_dumps = json.JSONEncoder().encode  # the C encoder; ensure_ascii as twarc writes


_ENT_RE = re.compile(r"(?<![\w@])@(\w{1,15})|(?<![\w&#])#([A-Za-z]\w*)|(https://t\.co/[A-Za-z0-9]{10})")


class _Writer:
    """Renders tweets (texts, entities, JSON) and writes twarc2-style pages, file by file."""

    def __init__(self, spec: ScenarioSpec, pop: _Population, core: _Core, articles: list[_Article],
                 x_dir: Path, per_page: int = 100, pages_per_file: int = 1000):
        self.spec = spec
        self.pop = pop
        self.core = core
        self.rng = random.Random(spec.seed * 2_000_003 + 9)
        self.slots = _Slots(self.rng)
        self.x_dir = x_dir
        self.per_page = per_page
        self.pages_per_file = pages_per_file
        self.ids = pop.ids
        self.handles = pop.handles
        self.handle_idx = pop.handle_idx
        self.kinds = pop.kinds
        self.user_json: list[str | None] = [None] * pop.n
        self.page: list[_Post] = []
        self.pages = 0
        self.files: list[str] = []
        self._fh = None
        self._iso_min = -1
        self._iso_prefix = ""
        self._tco_n = 0
        self.url_query = _SEARCH_URL + _urlquote(_SEARCH_QUERY, safe="")
        # articles per topic, in time order, and how far each topic's pointer has got
        self.art_by_topic: list[list[_Article]] = [[] for _ in range(_NT)]
        for a in articles:
            self.art_by_topic[a.topic].append(a)
        self.art_ptr = [0] * _NT
        self.crisis_article = next((a for a in articles if a.ms == core.crisis_window[0] + 30_000
                                    and a.topic == core.crisis_topic), None)
        p_link = {K_JOURNALIST: 0.6, K_THINK: 0.35, K_CHARITY: 0.25, K_COLLEGE: 0.25, K_MP: 0.2,
                  K_TRUST: 0.15, K_CLINICIAN: 0.12, K_PUBLIC: 0.05, K_CAMPAIGNER: 0.1, K_COMMENTATOR: 0.05,
                  K_INDUSTRY: 0.1, K_BOT: 0.0}
        self.p_link = [p_link[k] for k in pop.kinds]
        self.n_pages_written = 0
        self.dual_posts: dict[str, list[str]] = {}  # tweet id -> the two topics its text is on
        self.near_miss_posts: list[str] = []  # tweets whose text comes close to a topic query, matching none
        self._near: set[str] = set()

    # ---- text
    def _tco_next(self) -> str:
        self._tco_n += 1
        x = (self._tco_n * 0x9E3779B97F4A7C15 + self.spec.seed * 7) & 0xFFFFFFFFFFFFFFF
        pairs = _B62_PAIRS
        return ("https://t.co/" + pairs[(x & 0xFFF) % 3844] + pairs[((x >> 12) & 0xFFF) % 3844] +
                pairs[((x >> 24) & 0xFFF) % 3844] + pairs[((x >> 36) & 0xFFF) % 3844] +
                pairs[((x >> 48) & 0xFFF) % 3844])

    def _article_for(self, topic: int, ms: int) -> _Article | None:
        arts = self.art_by_topic[topic]
        ptr = self.art_ptr[topic]
        while ptr < len(arts) and arts[ptr].ms <= ms:
            ptr += 1
        self.art_ptr[topic] = ptr
        if ptr == 0:
            return None
        lo = max(0, ptr - 4)
        a = arts[lo + int(self.rng.random() * (ptr - lo))]
        return a if ms - a.ms < 48 * _HOUR_MS else None

    def _vary(self, text: str) -> str:
        """The same news as different people write it: an opening, an ending, or neither."""
        r = self.rng.random()
        if r < 0.35:
            return text
        fill = self.slots.fill
        if r < 0.65:
            return fill(_OPENERS[int(self.rng.random() * len(_OPENERS))]) + " " + text
        if r < 0.9:
            return text + " " + fill(_CLOSERS[int(self.rng.random() * len(_CLOSERS))])
        return (fill(_OPENERS[int(self.rng.random() * len(_OPENERS))]) + " " + text + " "
                + fill(_CLOSERS[int(self.rng.random() * len(_CLOSERS))]))

    def _body(self, p: _Post) -> str:
        rng = self.rng
        fill = self.slots.fill
        topic, tone, kind = p.topic, p.tone, p.kind
        if kind == ORIG:
            if p.dual >= 0:
                a, b, tpl = _DUAL[p.dual]
                self.dual_posts[p.id] = [TOPICS[a], TOPICS[b]]
                if rng.random() < 0.5:  # an opening only: a retweet's cut at 140 characters keeps both topics
                    return fill(_OPENERS[int(rng.random() * len(_OPENERS))]) + " " + fill(tpl)
                return fill(tpl)
            if tone <= NEG:
                if topic == _NT and rng.random() < 0.25:
                    self._near.add(p.id)
                    self.near_miss_posts.append(p.id)
                    return fill(_NEAR_MISS[int(rng.random() * len(_NEAR_MISS))])
                lst = _ORIGINALS[topic].get(tone) or _ORIGINALS[topic][NEU]
                return self._vary(fill(lst[int(rng.random() * len(lst))]))
            if tone == LIVE:
                kw = _CRISIS_PHRASES[topic][p.n % len(_CRISIS_PHRASES[topic])]
                return fill(_LIVE_TEXT[int(rng.random() * len(_LIVE_TEXT))], kw=kw)
            if tone == SLEEPER:
                return " ".join(c[int(rng.random() * len(c))] for c in _SLEEPER_CLAUSES)
            if tone == CRISIS:
                kw = _pick(rng, _CRISIS_PHRASES[topic])
                return fill(_pick(rng, _CRISIS_ORIGINALS), kw=kw, Kw=_cap(kw))
            if tone == DRIVER:
                akind = self.kinds[p.author]
                lst = _DRIVER_TEXT.get(akind, _DRIVER_TEXT[K_CHARITY])
                tpl = lst[0] if p.extra == 0 else lst[1 + int(rng.random() * (len(lst) - 1))]
                headline = fill(rng.choice(_CRISIS_HEADLINES[topic]))
                if akind == K_JOURNALIST and p.extra == 0 and self.crisis_article is not None:
                    headline = self.crisis_article.title
                kw = rng.choice(_CRISIS_PHRASES[topic])
                return fill(tpl, headline=headline, Headline=_cap(headline), kw=kw, Kw=_cap(kw))
            if tone == SPAM:
                return _SPAM[int(rng.random() * len(_SPAM))]
            return fill(_PROMO[int(rng.random() * len(_PROMO))])
        # quotes and replies
        if tone == CRISIS:
            kw = _pick(rng, _CRISIS_PHRASES[topic])
            return fill(_pick(rng, _CRISIS_REACTIONS), kw=kw, Kw=_cap(kw))
        kw = _pick(rng, _PHRASES[topic])
        lst = _REACTIONS[tone if tone in _REACTIONS else NEU]
        return self._vary(fill(lst[int(rng.random() * len(lst))], kw=kw, Kw=_cap(kw)))

    def _render(self, p: _Post) -> None:
        """Write the text of an original, quote or reply, its entities (offsets as built) and JSON head."""
        kind = p.kind
        if kind == RT:
            self._render_retweet(p)
            return
        rnd = self.rng.random
        handles, ids = self.handles, self.ids
        body = _escape(self._body(p))
        mentions: list[str] = []
        tags: list[str] = []
        urls: list[str] = []
        uids = [p.author]
        tgt = p.target
        prefix = ""
        if kind == RP:
            reply_to = [tgt.author]
            if tgt.conv_author != tgt.author and tgt.conv_author != p.author:
                reply_to.append(tgt.conv_author)
            for a in reply_to:
                h = handles[a]
                s = len(prefix)
                mentions.append(f'{{"start":{s},"end":{s + 1 + len(h)},"username":"{h}","id":"{ids[a]}"}}')
                uids.append(a)
                prefix += f"@{h} "
        pos = len(prefix)
        if "#" in body:
            for m in _ENT_RE.finditer(body):
                if m.group(2) is not None:
                    tags.append(f'{{"start":{pos + m.start()},"end":{pos + m.end()},"tag":"{m.group(2)}"}}')
        pos += len(body)
        suffix = ""
        tag = None
        if p.topic < _NT:
            if p.tone <= NEG and "#" not in body and rnd() < 0.2:
                tag = _TAGS[p.topic]
        elif rnd() < 0.05:
            tag = _OFF_TAGS[int(rnd() * len(_OFF_TAGS))]
        if tag is not None:
            tags.append(f'{{"start":{pos + 1},"end":{pos + 2 + len(tag)},"tag":"{tag}"}}')
            suffix = " #" + tag
            pos += 2 + len(tag)
        if p.mentions:
            lead = _MENTION_LEADS[int(rnd() * len(_MENTION_LEADS))]
            suffix += lead
            pos += len(lead)
            for a in p.mentions:
                h = handles[a]
                e = pos + 2 + len(h)
                mentions.append(f'{{"start":{pos + 1},"end":{e},"username":"{h}","id":"{ids[a]}"}}')
                uids.append(a)
                suffix += " @" + h
                pos = e
        urlmap = None
        if kind == ORIG:
            art = None
            if p.tone == DRIVER and p.extra == 0 and self.kinds[p.author] == K_JOURNALIST:
                art = self.crisis_article
            elif p.topic < _NT and p.tone <= NEG and rnd() < self.p_link[p.author]:
                art = self._article_for(p.topic, p.ms)
            if art is not None:
                tco = self._tco_next()
                urlmap = {tco: art.url_json}
                urls.append(f'{{"start":{pos + 1},"end":{pos + 24},"url":"{tco}",{art.url_json}}}')
                suffix += " " + tco
        elif kind == QT:
            tco = self._tco_next()
            path = f"/{handles[tgt.author]}/status/{tgt.id}"
            u = (f'"expanded_url":"https://twitter.com{path}","display_url":"twitter.com'
                 f'{path[:15] + _ELLIPSIS if len(path) > 15 else path}"')
            urlmap = {tco: u}
            urls.append(f'{{"start":{pos + 1},"end":{pos + 24},"url":"{tco}",{u}}}')
            suffix += " " + tco
        text = prefix + body + suffix if (prefix or suffix) else body
        p.text = text
        p.urlmap = urlmap
        ents = _entities_member(mentions, tags, urls)
        refs = ""
        if kind == QT:
            refs = f',"referenced_tweets":[{{"type":"quoted","id":"{tgt.id}"}}]'
        elif kind == RP:
            refs = (f',"referenced_tweets":[{{"type":"replied_to","id":"{tgt.id}"}}],'
                    f'"in_reply_to_user_id":"{ids[tgt.author]}"')
        p.uids = tuple(uids)
        p.created = created = self._created(p.ms)
        pid = p.id
        p.head = (f'{{"id":"{pid}","text":{_dumps(text)},"author_id":"{ids[p.author]}","created_at":"{created}",'
                  f'"lang":"en","conversation_id":"{p.conv}","edit_history_tweet_ids":["{pid}"]{refs}{ents},'
                  f'"possibly_sensitive":false,"reply_settings":"everyone","public_metrics":')

    def _render_retweet(self, p: _Post) -> None:
        tgt = p.target
        if tgt.dual >= 0:
            a, b, _ = _DUAL[tgt.dual]
            self.dual_posts[p.id] = [TOPICS[a], TOPICS[b]]
        elif tgt.id in self._near:
            self.near_miss_posts.append(p.id)
        c = tgt.rt_cache
        if c is None:
            raw = html.unescape(tgt.text) if "&" in tgt.text else tgt.text
            full = "RT @" + self.handles[tgt.author] + ": " + raw
            cut = len(full) > 140
            if cut:
                full = full[:139].rstrip() + "\u2026"
            esc = _escape(full)
            ents, uids = self._entities(esc, tgt.urlmap, len(esc) - 1 if cut else None)
            c = tgt.rt_cache = (json.dumps(esc), ents, uids)
        p.uids = (p.author,) + c[2]
        p.created = created = self._created(p.ms)
        pid = p.id
        p.head = (f'{{"id":"{pid}","text":{c[0]},"author_id":"{self.ids[p.author]}","created_at":"{created}",'
                  f'"lang":"en","conversation_id":"{pid}","edit_history_tweet_ids":["{pid}"],'
                  f'"referenced_tweets":[{{"type":"retweeted","id":"{tgt.id}"}}]{c[1]},'
                  f'"possibly_sensitive":false,"reply_settings":"everyone","public_metrics":')

    def _entities(self, text: str, urlmap: dict[str, str] | None, limit: int | None) -> tuple[str, tuple[int, ...]]:
        """The ``entities`` member (with its leading comma, or "") and the mentioned accounts."""
        if "@" not in text and "#" not in text and "https://t.co/" not in text:
            return "", ()
        mentions: list[str] = []
        tags: list[str] = []
        urls: list[str] = []
        uids: list[int] = []
        hidx, ids = self.handle_idx, self.ids
        for m in _ENT_RE.finditer(text):
            s, e = m.span()
            if limit is not None and e >= limit:
                continue
            h = m.group(1)
            if h is not None:
                i = hidx.get(h)
                if i is None:
                    continue
                mentions.append('{"start":%d,"end":%d,"username":"%s","id":"%s"}' % (s, e, h, ids[i]))
                uids.append(i)
            elif m.group(2) is not None:
                tags.append('{"start":%d,"end":%d,"tag":"%s"}' % (s, e, m.group(2)))
            else:
                u = urlmap.get(m.group(3)) if urlmap else None
                if u is None:
                    continue
                urls.append('{"start":%d,"end":%d,"url":"%s",%s}' % (s, e, m.group(3), u))
        return _entities_member(mentions, tags, urls), tuple(uids)

    def _created(self, ms: int) -> str:
        mnt = ms // 60_000
        if mnt != self._iso_min:
            self._iso_min = mnt
            self._iso_prefix = datetime.fromtimestamp(mnt * 60, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:")
        return f"{self._iso_prefix}{_SECONDS[(ms // 1000) % 60]}.000Z"

    # ---- users
    def _user(self, i: int) -> str:
        u = self.user_json[i]
        if u is None:
            pop = self.pop
            vtype = pop.verified[i]
            fol = pop.followers[i]
            loud = pop.kinds[i] == K_BOT and i not in pop.looks_human
            if loud:  # weeks old with thousands of posts
                tweets = 2000 + (int(pop.ids[i]) % 7000)
            elif i in pop.looks_human:
                tweets = 900 + int(pop.ids[i]) % 4000
            else:  # what it posts in a day (at most 30) over the account's life
                days = max(1.0, (self.spec.start_utc - pop.created[i]).total_seconds() / 86400.0)
                tweets = int(days * min(30.0, 0.3 + 1.5 * pop.activity[i])) + 40
            listed = fol // 120 + (int(pop.ids[i]) % 7)
            img = ("https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
                   if loud else
                   f"https://pbs.twimg.com/profile_images/{int(pop.ids[i]) % 10**18:018d}/{_b62(int(pop.ids[i]), 8)}_normal.jpg")
            u = ('{"id":"' + pop.ids[i] + '","username":"' + pop.handles[i] + '","name":' + json.dumps(pop.names[i]) +
                 ',"description":' + json.dumps(pop.bios[i]) + ',"created_at":"' + _x_time(pop.created[i]) +
                 '","location":' + json.dumps(pop.locations[i]) + ',"url":"","protected":false,"verified":' +
                 ("true" if vtype != "none" else "false") + ',"verified_type":"' + vtype +
                 '","profile_image_url":"' + img + '","public_metrics":{"followers_count":' + str(fol) +
                 ',"following_count":' + str(pop.following[i]) + ',"tweet_count":' + str(tweets) +
                 ',"listed_count":' + str(listed) + "}}")
            self.user_json[i] = u
        return u

    # ---- pages
    @staticmethod
    def _metrics(p: _Post) -> str:
        if p.kind == RT:
            return f'{{"retweet_count":{p.target.m_rt},"reply_count":0,"like_count":0,"quote_count":0}}}}'
        if not (p.m_rt or p.m_rep or p.m_qt):
            return _ZERO_METRICS[(p.n >> 22) % 4]
        likes = p.m_rt * (2 + p.n % 5) + p.m_rep + 2 * p.m_qt + (p.n >> 22) % 4
        return f'{{"retweet_count":{p.m_rt},"reply_count":{p.m_rep},"like_count":{likes},"quote_count":{p.m_qt}}}}}'

    def add(self, p: _Post) -> None:
        self._render(p)
        self.page.append(p)
        if len(self.page) >= self.per_page:
            self.flush()

    def flush(self) -> None:
        """Write the pending tweets as one response page (one line), with includes and the twarc stamp."""
        page = self.page
        if not page:
            return
        users: dict[int, None] = {}
        inc: dict[str, _Post] = {}
        metrics = self._metrics
        out = ['{"data":[']
        push = out.append
        for p in page:
            for u in p.uids:
                users[u] = None
            t = p.target
            if t is not None:
                if t.id not in inc:
                    inc[t.id] = t
                users[t.author] = None
            push(p.head)
            push(metrics(p))
            push(",")
        out[-1] = '],"includes":{"users":['
        uj = self.user_json
        for u in users:
            push(uj[u] or self._user(u))
            push(",")
        if inc:
            out[-1] = '],"tweets":['
            for t in inc.values():
                push(t.head)
                push(metrics(t))
                push(",")
        newest = page[-1]
        retrieved = _ms_to_dt(newest.ms + 15_000 + (newest.n % 45_000)).replace(microsecond=0)
        out[-1] = (']},"meta":{"result_count":' + str(len(page)) + ',"newest_id":"' + newest.id +
                   '","oldest_id":"' + page[0].id + '"},"__twarc":{"url":"' + self.url_query + "&since_id=" +
                   str(page[0].n - 1) + '","version":"' + _TWARC_VERSION + '","retrieved_at":"' +
                   retrieved.isoformat() + '"}}\n')
        if self._fh is None or self.pages % self.pages_per_file == 0:
            self._open_next()
        self._fh.write("".join(out))
        self.pages += 1
        for p in page:
            p.target = None  # drop the chain: only a page's direct references are needed
        self.page = []

    def _open_next(self) -> None:
        if self._fh is not None:
            self._fh.close()
        name = f"posts-{len(self.files):04d}.jsonl"
        self.files.append(name)
        self._fh = open(self.x_dir / name, "w", encoding="utf-8", newline="\n")

    def close(self) -> None:
        self.flush()
        if self._fh is not None:
            self._fh.close()
            self._fh = None
