"""The schedule and the decisions: who posts what kind of post on which topic, when, amplifying whom.

Part of the demo scenario generator (:mod:`monitor.demo.generator`).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from itertools import accumulate
from typing import Any, Callable, Iterator

import numpy as np

from monitor.demo.spec import (
    CRISIS, DRIVER, LIVE, SLEEPER, K_BOT, K_CAMPAIGNER, K_CHARITY, K_CLINICIAN, K_COLLEGE, K_COMMENTATOR, K_INDUSTRY,
    K_JOURNALIST, K_MP, K_PUBLIC, K_THINK, K_TRUST, NEG, NEU, ORIG, POS, PROMO, QT, RP, RT, SPAM, ScenarioSpec,
    TOPICS, _DAY_MS, _HOURLY, _HOUR_MS, _MAX_AGE_MS, _NT, _P_APPEAL, _P_ORIGINAL, _P_QUOTE, _P_RETWEET,
    _REAPPEND_CAP, _RING, _SMOKING, _Sampler, _TOPIC_SHARE, _TW_EPOCH_MS, _WEEKDAY,
)
from monitor.demo.text import _DUAL
from monitor.demo.population import CAMP_TOPICS, _CLIQUE_SIZE, _Population


class _Ring:
    """The most recent posts (and re-appended, recently amplified ones) of a topic."""

    __slots__ = ("items", "pos")

    def __init__(self) -> None:
        self.items: list[_Post] = []
        self.pos = 0

    def add(self, p: "_Post") -> None:
        if len(self.items) < _RING:
            self.items.append(p)
        else:
            self.items[self.pos] = p
            self.pos = (self.pos + 1) % _RING

    def pick(self, r: float) -> "_Post | None":
        items = self.items
        return items[int(r * len(items))] if items else None


class _Post:
    """One generated tweet: the decisions (core) and, once rendered, its JSON (writer)."""

    __slots__ = ("n", "id", "ms", "kind", "author", "topic", "target", "tone", "mentions", "conv",
                 "conv_author", "m_rt", "m_rep", "m_qt", "rt_by", "reap", "ringable", "text", "head",
                 "urlmap", "uids", "rt_cache", "created", "extra", "dual")

    def __init__(self, n: int, ms: int, kind: int, author: int, topic: int, target: "_Post | None",
                 tone: int, mentions: tuple[int, ...]):
        self.n = n
        self.id = str(n)
        self.ms = ms
        self.kind = kind
        self.author = author
        self.topic = topic
        self.target = target
        self.tone = tone
        self.mentions = mentions
        self.conv = self.id
        self.conv_author = author
        self.m_rt = 0
        self.m_rep = 0
        self.m_qt = 0
        self.rt_by: set[int] | None = None
        self.reap = 0
        self.ringable = False
        self.text = ""
        self.head = ""
        self.urlmap: dict[str, str] | None = None
        self.uids: tuple[int, ...] = ()
        self.rt_cache: tuple[str, str, tuple[int, ...]] | None = None
        self.created = ""
        self.extra = 0  # driver: post number; otherwise unused
        self.dual = -1  # an original on two topics: its index in text._DUAL


# event codes
(_EV_BG, _EV_CRISIS, _EV_BOT, _EV_BURST_POST, _EV_BURST_RT, _EV_DRIVER, _EV_PLANTED, _EV_SEED_POST, _EV_SEED_AMP,
 _EV_SLEEPER) = range(10)
_N_ELITE = 3  # leading voices of a topic who pass on each post of its endorsed voice
_LIVE_MOMENTS = 3  # live-tweeted moments of the crisis (a statement in the House)
_P_CROSS_CAMP = 0.003  # chance that an amplification on a two-camp topic crosses camps
_P_DUAL = 0.05  # share of ordinary originals written on two topics at once
_MIN_CENTRAL_POSTS = 4  # at least this many originals for each central low-follower account
_MIN_RICH_POSTS = 6  # ... and for each follower-rich, unamplified account


class _Core:
    """Decides every tweet: when, what kind, which topic, by whom, aimed at which post, mentioning whom.

    Yields :class:`_Post` objects in time order. Uses its own random streams only, so the
    decisions are the same whether or not the tweets are rendered.
    """

    def __init__(self, spec: ScenarioSpec, pop: _Population):
        self.spec = spec
        self.pop = pop
        self.rng = random.Random(spec.seed * 104729 + 3)
        nrng = np.random.default_rng([spec.seed, 23])
        self.start_ms = int(spec.start_utc.timestamp() * 1000)
        self.minutes = spec.days * 1440
        self.end_ms = self.start_ms + self.minutes * 60_000
        self.crisis_topic = TOPICS.index(spec.crisis_topic)
        size = spec.size

        # ---- the rhythm of the background stream, by UTC time of day and day of the week
        self.midnight_ms = self.start_ms - self.start_ms % _DAY_MS  # midnight UTC of the first day
        offset = (self.start_ms - self.midnight_ms) // 60_000  # minute of the day the week starts at
        hourly = np.array(_HOURLY + (_HOURLY[0],))
        day_curve = np.interp(np.arange(1440) / 60.0, np.arange(25), hourly)
        minute = np.arange(self.minutes) + offset
        day_of = minute // 1440
        weekday = (spec.start_utc.weekday() + day_of) % 7
        noise = 0.96 + 0.08 * nrng.random(int(day_of[-1]) + 1)
        w = day_curve[minute % 1440] * np.array(_WEEKDAY)[weekday] * noise[day_of]
        p_bg = w / w.sum()

        # ---- crisis window and its shape (a quick rise, a slow decay, a short aftermath)
        cday = min(spec.crisis_day, spec.days - 1)
        cs = min(max(0, cday * 1440 + spec.crisis_hour * 60 - offset), self.minutes - 60)
        ce = min(self.minutes, cs + spec.crisis_hours * 60)
        ae = min(self.minutes, ce + 240)
        self.crisis_window = (self.start_ms + cs * 60_000, self.start_ms + ce * 60_000)
        L = ce - cs
        i = np.arange(L)
        shape_w = np.minimum(1.0, (i + 1) / 20.0) * np.exp(-1.1 * i / L)
        shape_a = 0.12 * np.exp(-np.arange(ae - ce) / 90.0)
        shape = np.concatenate([shape_w, shape_a])
        f_window = shape_w.sum() / shape.sum()

        # ---- planted streams
        self.ring_size = len(pop.bots)
        self.n_bursts = min(40, 3 + size // 50_000)
        n_drivers = 4
        self.driver_posts_each = min(6, 2 + size // 200_000)
        acc_mean = size / pop.n
        filler_each = max(2, round(1.2 * acc_mean))
        n_bot_filler = self.ring_size * filler_each
        planted = ([(v, _MIN_CENTRAL_POSTS) for v in pop.central.values()] +
                   [(v, _MIN_RICH_POSTS) for v in pop.rich.values()] +
                   [([pop.bot_target], spec.days)])  # the amplified account posts daily
        n_planted = sum(k * len(v) for v, k in planted)
        n_seeded = self._plan_seeded(spec, pop, filler_each)
        fixed = (self.n_bursts * (1 + self.ring_size) + n_drivers * self.driver_posts_each + n_bot_filler
                 + n_planted + n_seeded)
        share_c = _TOPIC_SHARE[self.crisis_topic] / sum(_TOPIC_SHARE)
        q = float(p_bg[cs:ce].sum())
        c = 5.0  # crisis events in the window, as a multiple of the topic's usual volume then
        # the bot ring posts on smoking around the clock: part of that topic's usual volume too
        bots_usual = 0.0
        if self.crisis_topic == _SMOKING:
            bots_usual = ((n_bot_filler + self.n_bursts * (1 + self.ring_size) + self.n_sleeper_posts)
                          * (ce - cs) / self.minutes)
        n_bg = int(round((size - fixed - c * bots_usual / f_window) / (1 + c * share_c * q / f_window)))
        n_crisis = size - fixed - n_bg
        if n_bg < size * 0.4:
            raise ValueError(f"ScenarioSpec.size={size} is too small for the planted structure")
        self.n_bg = n_bg
        self.counts_bg = nrng.multinomial(n_bg, p_bg)
        self.counts_crisis = np.zeros(self.minutes, dtype=np.int64)
        self.counts_crisis[cs:ae] = nrng.multinomial(n_crisis, shape / shape.sum())
        self.counts_bot = nrng.multinomial(n_bot_filler, np.full(self.minutes, 1.0 / self.minutes))

        # expected originals per topic (to size the planted accounts' activity)
        per_topic = [n_bg * _P_ORIGINAL * s / sum(_TOPIC_SHARE) for s in _TOPIC_SHARE]
        pop.plant_activity(per_topic)
        smp = pop.samplers()
        self.orig_s: list[_Sampler] = smp["orig"]
        self.appeal_s: list[_Sampler] = smp["appeal"]
        self.global_s: _Sampler = smp["global"]
        self.topic_cum = list(accumulate(s / sum(_TOPIC_SHARE) for s in _TOPIC_SHARE))

        # ---- special events: bursts and crisis drivers
        rng = self.rng
        self.specials: dict[int, list[tuple[int, int, Any]]] = {}
        seg = self.minutes * 60_000 // self.n_bursts
        self.bursts: list[list[int]] = []  # [first rt ms, last rt ms]
        for b in range(self.n_bursts):
            t0 = self.start_ms + b * seg + int(seg * (0.1 + 0.8 * rng.random()))
            self._special(t0, _EV_BURST_POST, b)
            t = t0 + 30_000 + int(150_000 * rng.random())
            order = list(range(self.ring_size))
            rng.shuffle(order)
            times = []
            for k in order:
                times.append(t)
                self._special(t, _EV_BURST_RT, (b, pop.bots[k]))
                t += 200 + int(2300 * rng.random())
            self.bursts.append([times[0], times[-1]])
        # minimum posts of the planted accounts, at daytime hours spread over the week
        for lst, k in planted:
            for a in lst:
                for j in range(k):
                    day = (j * spec.days) // k
                    t = self.midnight_ms + day * _DAY_MS + int((7.5 + 14 * rng.random()) * _HOUR_MS)
                    self._special(t, _EV_PLANTED, a)
        self.drivers = self._choose_drivers()
        cs_ms, ce_ms = self.crisis_window
        span = ce_ms - cs_ms
        offsets = (60_000, 900_000, 1_500_000, 2_400_000)  # journalist, charity, MP, clinician
        for d_i, d in enumerate(self.drivers):
            for j in range(self.driver_posts_each):
                if j == 0:
                    t = cs_ms + offsets[d_i] + int(120_000 * rng.random())
                else:
                    t = cs_ms + int(span * (0.1 + 0.6 * rng.random()))
                self._special(t, _EV_DRIVER, (d_i, j))
        self.driver_latest: list[_Post | None] = [None] * len(self.drivers)
        self._resolve_seeded(spec, pop)
        self.driver_weights = (0.42, 0.22, 0.2, 0.16)
        self.burst_posts: list[_Post | None] = [None] * self.n_bursts
        self.target_posts: list[_Post] = []  # the amplified account's latest posts

        # ---- state
        self.rings = [_Ring() for _ in range(_NT + 1)]
        self.reply_rings = [_Ring() for _ in range(_NT + 1)]
        self.last_post: list[dict[int, _Post]] = [{} for _ in range(_NT + 1)]
        self.last_n = 0
        self.seq = 0
        self.kind_counts = [0, 0, 0, 0]
        self.topic_counts = [0] * (_NT + 1)
        self.tracked = pop.tracked
        self.is_bot = pop.is_bot
        self.rich_set = {i for lst in pop.rich.values() for i in lst}
        # accounts whose posts only their planted audience amplifies (nobody else finds them)
        self.closed = (self.rich_set | {i for d in (pop.endorsed, pop.brokers, pop.clique_star, pop.clique)
                                        for lst in d.values() for i in lst} | {pop.sleeper_target})
        # the front-line voices post a lot and pass on little (what they pass on counts for more)
        self.shy = {i for lst in pop.central.values() for i in lst}
        self.camp = pop.camp
        self.camp_topic = [t in CAMP_TOPICS for t in range(_NT + 1)]
        self.dual_of = [[k for k, (a, b, _) in enumerate(_DUAL) if t in (a, b)] for t in range(_NT)]
        kinds = pop.kinds
        p_mention = {K_PUBLIC: 0.06, K_JOURNALIST: 0.3, K_MP: 0.35, K_CHARITY: 0.3, K_COLLEGE: 0.25,
                     K_TRUST: 0.2, K_THINK: 0.25, K_CLINICIAN: 0.2, K_CAMPAIGNER: 0.2, K_COMMENTATOR: 0.1,
                     K_INDUSTRY: 0.2, K_BOT: 0.0}
        self.p_mention = [p_mention[k] for k in kinds]

    # -- setup helpers
    def _daytime(self, day: int, lo: float = 7.5, hi: float = 21.5) -> int:
        return self.midnight_ms + day * _DAY_MS + int((lo + (hi - lo) * self.rng.random()) * _HOUR_MS)

    def _plan_seeded(self, spec: ScenarioSpec, pop: _Population, filler_each: int) -> int:
        """Plan the planted streams whose posts only their own audience amplifies; return how many tweets.

        Who plays a slot (a topic's leading voices, a broker's contacts, the crisis's live audience) is
        decided once the accounts' appeal and the crisis drivers are known (:meth:`_resolve_seeded`).
        """
        rng, size, days = self.rng, spec.size, spec.days
        plan: list[tuple[int, int, Any]] = []  # (ms, code, payload)
        self.seed_plan = plan

        def posts(key, author, topic: int, k: int, amps: list, lo_min: float, hi_min: float,
                  kinds=(0.7, 1.0)) -> None:
            """``k`` posts by ``author``, each amplified by every actor of ``amps(j)`` after a delay."""
            for j in range(k):
                day = (j * days) // k if k >= days else int(rng.random() * days)
                t = self._daytime(day)
                plan.append((t, _EV_SEED_POST, ((key, j), author, topic, None)))
                for actor in amps(j):
                    r = rng.random()
                    kind = RT if r < kinds[0] else (QT if r < kinds[1] else RP)
                    plan.append((t + int((lo_min + (hi_min - lo_min) * rng.random()) * 60_000), _EV_SEED_AMP,
                                 ((key, j), actor, kind)))

        # endorsed voices: each post passed on by the topic's leading voices (slots, resolved later)
        k_e = min(8, 3 + size // 100_000)
        for t in range(_NT):
            posts(("endorsed", t), pop.endorsed[t][0], t, k_e,
                  lambda j, t=t: [("elite", t, s) for s in range(_N_ELITE)], 3, 240)
        # brokers: each post amplified by two contacts in each camp
        k_b = min(8, 3 + size // 100_000)
        for t in CAMP_TOPICS:
            posts(("broker", t), pop.brokers[t][0], t, k_b,
                  lambda j, t=t: [("contact", t, c, s) for c in (0, 1) for s in range(2)], 5, 300, (0.8, 0.9))
        # follower-rich stars: every post retweeted by each of the clique, who also retweet each other
        k_s = min(10, 4 + size // 100_000)
        k_f = 1 + min(4, size // 200_000)
        for t, star in pop.clique_star.items():
            fans = pop.clique[t]
            posts(("star", t), star[0], t, k_s, lambda j, fans=fans: list(fans), 5, 300, (1.0, 1.0))
            for f_i, fan in enumerate(fans):
                others = [x for x in fans if x != fan]
                posts(("fan", t, f_i), fan, t, k_f,
                      lambda j, others=others: [others[(j + d) % len(others)] for d in (0, 1)], 10, 600, (1.0, 1.0))
        # the ring that looks human: its star posts by day, 60-90% of the ring retweets each within
        # a few seconds of the previous one (jittered, never in step), starting minutes later
        self.sleeper_bursts: list[list[int]] = []
        n_sb = min(40, 4 + size // 50_000)
        members = pop.sleepers
        for b in range(n_sb):
            day = (b * days) // n_sb
            t0 = self._daytime(day, 8.0, 21.0)
            plan.append((t0, _EV_SEED_POST, (("sleeper", b), pop.sleeper_target, _SMOKING, SLEEPER)))
            chosen = [m for m in members if rng.random() < 0.6 + 0.3 * rng.random()]
            if len(chosen) < 6:
                chosen = members[:6]
            rng.shuffle(chosen)
            t = t0 + 60_000 + int(240_000 * rng.random())
            times = []
            for m in chosen:
                plan.append((t, _EV_SEED_AMP, (("sleeper", b), m, RT)))
                times.append(t)
                t += 1500 + int(6500 * rng.random())
            self.sleeper_bursts.append([times[0], times[-1]])
        # ... and between bursts its members post like people: paraphrases by day, retweets of their camp
        n_filler = 0
        for m in members:
            for _ in range(filler_each):
                plan.append((self._daytime(int(rng.random() * days), 8.0, 22.0), _EV_SLEEPER, m))
                n_filler += 1
        self.n_sleeper_posts = n_filler + n_sb + sum(1 for _, c, pl in plan
                                                     if c == _EV_SEED_AMP and pl[0][0] == "sleeper")
        # the live event: the crisis MP live-tweets a statement in the House; viewers retweet each moment
        # 10-30 seconds apart (people reacting to television: fast, but not in step)
        n_watch = min(40, max(12, size // 150))
        self.n_watchers = n_watch
        cs_ms, ce_ms = self.crisis_window
        self.live_posts: list[int] = []
        for k in range(_LIVE_MOMENTS):
            t0 = cs_ms + int((ce_ms - cs_ms) * (0.15 + 0.2 * k)) + int(120_000 * rng.random())
            plan.append((t0, _EV_SEED_POST, (("live", k), ("mp",), self.crisis_topic, LIVE)))
            chosen = [w for w in range(n_watch) if rng.random() < 0.7]
            rng.shuffle(chosen)
            t = t0 + 20_000 + int(40_000 * rng.random())
            for w in chosen:
                plan.append((t, _EV_SEED_AMP, (("live", k), ("watcher", w), RT)))
                t += 10_500 + int(19_500 * rng.random())
        return len(plan)

    def _resolve_seeded(self, spec: ScenarioSpec, pop: _Population) -> None:
        """Cast the slots of the planted streams and schedule them."""
        rng = self.rng
        slot: dict[tuple, int] = {}
        closed = ({i for d in (pop.endorsed, pop.brokers, pop.clique_star, pop.clique, pop.rich)
                   for lst in d.values() for i in lst})
        for t in range(_NT):
            camp_t = t in CAMP_TOPICS
            elite = list(pop.central[t])  # on a two-camp topic, both camps' leading voices
            others = [i for i in range(pop.n)
                      if pop.prim[i] == t and pop.kinds[i] not in (K_PUBLIC, K_BOT) and pop.appeal[i] > 0
                      and i not in closed and i not in elite]
            # the most appealing accounts of its camp first (any camp when a small population has too few)
            others.sort(key=lambda i: (camp_t and pop.camp[i] != 0, -pop.appeal[i], i))
            elite += others[:_N_ELITE - len(elite)]
            elite += [i for i in pop.central[t] if i not in elite][:_N_ELITE - len(elite)]
            for s_i, a in enumerate(elite):
                slot[("elite", t, s_i)] = a
        for t in CAMP_TOPICS:
            for c in (0, 1):
                slot[("contact", t, c, 0)] = pop.central[t][c]
                pick = None
                for _ in range(400):
                    a = self.orig_s[t].draw()
                    if pop.kinds[a] == K_PUBLIC and pop.camp[a] == c and a not in closed:
                        pick = a
                        break
                slot[("contact", t, c, 1)] = pick if pick is not None else pop.central[t][c]
        watchers: list[int] = []
        seen = set(self.drivers)
        ct = self.crisis_topic
        for _ in range(200 * self.n_watchers):
            if len(watchers) >= self.n_watchers:
                break
            a = self.orig_s[ct].draw()
            if a not in seen and pop.kinds[a] == K_PUBLIC and a not in closed:
                seen.add(a)
                watchers.append(a)
        while len(watchers) < self.n_watchers:  # a tiny population: fall back to anyone public
            a = next(i for i in range(pop.n) if pop.kinds[i] == K_PUBLIC and i not in seen)
            seen.add(a)
            watchers.append(a)
        for w, a in enumerate(watchers):
            slot[("watcher", w)] = a
        self.watchers = watchers
        slot[("mp",)] = self.drivers[2]
        self.slot = slot
        self.seeded: dict[tuple, _Post] = {}
        for ms, code, payload in self.seed_plan:
            self._special(ms, code, payload)
        del self.seed_plan

    def _special(self, ms: int, code: int, payload: Any) -> None:
        ms = min(max(ms, self.start_ms), self.end_ms - 1)  # every planned tweet happens inside the week
        self.specials.setdefault((ms - self.start_ms) // 60_000, []).append((ms, code, payload))

    def _choose_drivers(self) -> list[int]:
        """A journalist, a charity, an MP and a clinician drive the crisis; they are put on its topic."""
        pop, t = self.pop, self.crisis_topic
        journalists = [i for lst in pop.journalists_by_outlet.values() for i in lst]
        journalist = min(journalists, key=lambda i: (pop.prim[i] != t, -pop.followers[i], i))
        charities = [i for i in range(pop.n) if pop.kinds[i] == K_CHARITY and pop.prim[i] == t]
        charity = charities[0]
        mp = min(pop.mps, key=lambda i: (pop.prim[i] != t, -pop.followers[i], i))
        clinician = min(pop.clinicians, key=lambda i: (pop.prim[i] != t, -pop.followers[i], i))
        drivers = [journalist, charity, mp, clinician]
        for i in drivers:
            if pop.prim[i] != t:
                pop.sec[i] = pop.prim[i]
                pop.prim[i] = t
        # rebuild the samplers now the drivers are on the topic
        smp = pop.samplers(generation=1)
        self.orig_s, self.appeal_s, self.global_s = smp["orig"], smp["appeal"], smp["global"]
        return drivers

    # -- post creation
    def _new(self, ms: int, kind: int, author: int, topic: int, target: _Post | None, tone: int,
             mentions: tuple[int, ...] = ()) -> _Post:
        self.seq += 1
        n = ((ms - _TW_EPOCH_MS) << 22) | ((self.seq * 2654435761) & 0x1FFFFF)
        if n <= self.last_n:
            n = self.last_n + 1
        self.last_n = n
        p = _Post(n, ms, kind, author, topic, target, tone, mentions)
        self.kind_counts[kind] += 1
        self.topic_counts[topic] += 1
        return p

    def _mentions(self, topic: int, author: int) -> tuple[int, ...]:
        rnd = self.rng.random
        if rnd() >= self.p_mention[author]:
            return ()
        s = self.appeal_s[topic]
        if not s:
            return ()
        out = []
        camp = self.camp[author] if self.camp_topic[topic] else -1
        for _ in range(2 if rnd() < 0.25 else 1):
            m = s.draw()
            if camp >= 0 and self.camp[m] != camp and self.camp[m] >= 0 and rnd() >= _P_CROSS_CAMP:
                continue
            if m != author and m not in out:
                out.append(m)
        return tuple(out)

    def _publish(self, p: _Post) -> None:
        """Make a post available for amplification."""
        a = p.author
        if a == self.pop.bot_target:
            self.target_posts.append(p)
            if len(self.target_posts) > 12:
                del self.target_posts[0]
        if self.is_bot[a] or a in self.closed:
            return
        p.ringable = True
        self.rings[p.topic].add(p)
        if self.tracked[a]:
            self.last_post[p.topic][a] = p

    def _original(self, ms: int, topic: int, author: int | None = None, tone: int | None = None) -> _Post:
        rnd = self.rng.random
        background = author is None
        if author is None:
            author = self.orig_s[topic].draw()
        if tone is None:
            r = rnd()
            tone = NEU if (r < 0.5 or topic == _NT) else (POS if r < 0.75 else NEG)
        dual = -1
        if background and topic < _NT and tone <= NEG and rnd() < _P_DUAL:
            options = self.dual_of[topic]
            dual = options[int(rnd() * len(options))]
            tone = NEU
        p = self._new(ms, ORIG, author, topic, None, tone, self._mentions(topic, author))
        if dual >= 0:
            p.dual = dual
            self.topic_counts[self._other_topic(p)] += 1
        self._publish(p)
        return p

    @staticmethod
    def _other_topic(p: _Post) -> int:
        a, b, _ = _DUAL[p.dual]
        return b if p.topic == a else a

    def _pick_target(self, topic: int, ms: int, reply: bool) -> _Post | None:
        rnd = self.rng.random
        r = rnd()
        if reply and r < 0.2:
            p = self.reply_rings[topic].pick(rnd())
            if p is not None and ms - p.ms < _MAX_AGE_MS:
                return p
        elif r < _P_APPEAL:
            s = self.appeal_s[topic]
            if s:
                p = self.last_post[topic].get(s.draw())
                if p is not None and ms - p.ms < _MAX_AGE_MS:
                    return p
        p = self.rings[topic].pick(rnd())
        if p is not None and ms - p.ms < _MAX_AGE_MS:
            return p
        return None

    def _pick_actor(self, topic: int, target: _Post, kind: int, cross: float, camps: bool = True) -> int | None:
        rnd = self.rng.random
        camp = self.camp[target.author] if camps and self.camp_topic[topic] else -1
        for _ in range(4 if camp < 0 else 10):
            if rnd() < cross:
                a = self.global_s.draw()
            else:
                a = self.orig_s[topic].draw()
            if a == target.author:
                continue
            if kind == RT and target.rt_by is not None and a in target.rt_by:
                continue
            if a in self.shy and rnd() < 0.8:
                continue
            if camp >= 0 and self.camp[a] != camp and self.camp[a] >= 0 and rnd() >= _P_CROSS_CAMP:
                continue
            return a
        return None

    def _amplify(self, ms: int, kind: int, actor: int, target: _Post, tone: int) -> _Post:
        topic = target.topic
        mentions = () if kind == RT else self._mentions(topic, actor)
        p = self._new(ms, kind, actor, topic, target, tone, mentions)
        bot = self.is_bot[actor]
        if kind == RT:
            if target.dual >= 0:
                self.topic_counts[self._other_topic(target)] += 1
            target.m_rt += 1
            if target.rt_by is None:
                target.rt_by = set()
            target.rt_by.add(actor)
        elif kind == QT:
            target.m_qt += 1
            self._publish(p)
        else:
            target.m_rep += 1
            p.conv = target.conv
            p.conv_author = target.conv_author
            if not bot and actor not in self.rich_set:
                self.reply_rings[topic].add(p)
        if not bot:
            if target.ringable and target.reap < _REAPPEND_CAP:
                target.reap += 1
                self.rings[topic].add(target)
        return p

    # -- event handlers
    def _bg(self, ms: int) -> _Post:
        rnd = self.rng.random
        r = rnd()
        topic = bisect_right(self.topic_cum, rnd())
        if topic > _NT:
            topic = _NT
        if r < _P_ORIGINAL:
            return self._original(ms, topic)
        kind = RT if r < _P_ORIGINAL + _P_RETWEET else (QT if r < _P_ORIGINAL + _P_RETWEET + _P_QUOTE else RP)
        target = self._pick_target(topic, ms, kind == RP)
        if target is None:
            return self._original(ms, topic)
        actor = self._pick_actor(topic, target, kind, 0.25)
        if actor is None:
            return self._original(ms, topic)
        tone = NEU
        if kind != RT:
            r = rnd()
            tone = NEU if (r < 0.45 or topic == _NT) else (POS if r < 0.75 else NEG)
        return self._amplify(ms, kind, actor, target, tone)

    def _crisis(self, ms: int) -> _Post:
        rnd = self.rng.random
        t = self.crisis_topic
        r = rnd()
        posted = [k for k, p in enumerate(self.driver_latest) if p is not None]
        if r < 0.16 or not posted:
            author = self.orig_s[t].draw() if rnd() < 0.65 else self.global_s.draw()
            return self._original(ms, t, author=author, tone=CRISIS)
        tot = sum(self.driver_weights[k] for k in posted)
        x = rnd() * tot
        for k in posted:
            x -= self.driver_weights[k]
            if x <= 0:
                break
        target = self.driver_latest[k]
        kind = RT if r < 0.74 else (QT if r < 0.86 else RP)
        actor = self._pick_actor(t, target, kind, 0.35, camps=False)  # a scandal crosses camps
        if actor is None:
            return self._original(ms, t, tone=CRISIS)
        return self._amplify(ms, kind, actor, target, CRISIS if kind != RT else NEU)

    def _driver(self, ms: int, payload: tuple[int, int]) -> _Post:
        d_i, j = payload
        author = self.drivers[d_i]
        mentions: tuple[int, ...] = ()
        if d_i > 0 and self.rng.random() < 0.5:
            mentions = (self.drivers[0],)
        p = self._new(ms, ORIG, author, self.crisis_topic, None, DRIVER, mentions)
        p.extra = j
        self._publish(p)
        self.driver_latest[d_i] = p
        return p

    def _planted(self, ms: int, author: int) -> _Post:
        tone = PROMO if author == self.pop.bot_target else None
        return self._original(ms, self.pop.prim[author], author=author, tone=tone)

    def _who(self, ref: Any) -> int:
        return ref if isinstance(ref, int) else self.slot[ref]

    def _seed_post(self, ms: int, payload: tuple) -> _Post:
        key, author, topic, tone = payload
        author = self._who(author)
        p = self._original(ms, topic, author=author, tone=tone)
        self.seeded[key] = p
        if tone == LIVE:
            self.driver_latest[2] = p
            p.ringable = True
        return p

    def _seed_amp(self, ms: int, payload: tuple) -> _Post:
        key, actor, kind = payload
        target = self.seeded[key]
        tone = NEU
        if kind != RT:
            tone = POS if self.rng.random() < 0.5 else NEU
        return self._amplify(ms, kind, self._who(actor), target, tone)

    def _sleeper(self, ms: int, member: int) -> _Post:
        """A member of the human-looking ring between bursts: a paraphrase, or a retweet of its camp."""
        rnd = self.rng.random
        if rnd() < 0.5:
            ring = self.rings[_SMOKING].items
            for _ in range(6):
                if not ring:
                    break
                target = ring[int(rnd() * len(ring))]
                if (self.camp[target.author] == 1 and ms - target.ms < _MAX_AGE_MS and target.author != member
                        and (target.rt_by is None or member not in target.rt_by)):
                    return self._amplify(ms, RT, member, target, NEU)
        return self._new(ms, ORIG, member, _SMOKING, None, SLEEPER)

    def _burst_post(self, ms: int, b: int) -> _Post:
        p = self._original(ms, _SMOKING, author=self.pop.bot_target, tone=PROMO)
        self.burst_posts[b] = p
        return p

    def _burst_rt(self, ms: int, payload: tuple[int, int]) -> _Post:
        b, bot = payload
        return self._amplify(ms, RT, bot, self.burst_posts[b], NEU)

    def _bot(self, ms: int) -> _Post:
        """A bot between bursts: retweets one of the amplified account's recent posts, else spams."""
        rnd = self.rng.random
        bots = self.pop.bots
        bot = bots[int(rnd() * len(bots))]
        if rnd() < 0.85:
            recent = self.target_posts
            for k in range(min(4, len(recent))):
                target = recent[-1 - int(rnd() * len(recent))]
                # (a post younger than 10 minutes may still be due for a coordinated burst)
                if ms - target.ms > 600_000 and (target.rt_by is None or bot not in target.rt_by):
                    return self._amplify(ms, RT, bot, target, NEU)
        return self._new(ms, ORIG, bot, _SMOKING, None, SPAM)

    def run(self) -> Iterator[_Post]:
        """All tweets of the scenario, oldest first."""
        rnd = self.rng.random
        bg, cr, bf = self.counts_bg.tolist(), self.counts_crisis.tolist(), self.counts_bot.tolist()
        handlers: list[Callable[..., _Post]] = [None, None, None, self._burst_post, self._burst_rt,  # type: ignore[list-item]
                                                 self._driver, self._planted, self._seed_post, self._seed_amp,
                                                 self._sleeper]
        h_bg, h_cr, h_bot = self._bg, self._crisis, self._bot
        specials = self.specials
        first = lambda e: e[0]  # noqa: E731
        for m in range(self.minutes):
            base = self.start_ms + m * 60_000
            evs: list[tuple[int, int, Any]] = []
            for _ in range(bg[m]):
                evs.append((base + int(rnd() * 60_000), _EV_BG, None))
            for _ in range(cr[m]):
                evs.append((base + int(rnd() * 60_000), _EV_CRISIS, None))
            for _ in range(bf[m]):
                evs.append((base + int(rnd() * 60_000), _EV_BOT, None))
            sp = specials.get(m)
            if sp:
                evs.extend(sp)
            evs.sort(key=first)
            for ms, code, payload in evs:
                if code == _EV_BG:
                    yield h_bg(ms)
                elif code == _EV_CRISIS:
                    yield h_cr(ms)
                elif code == _EV_BOT:
                    yield h_bot(ms)
                else:
                    yield handlers[code](ms, payload)
