"""The people and organisations: names, kinds, followers, appeal, activity, topics followed,
the planted voices and the bot ring.

Part of the demo scenario generator (:mod:`monitor.demo.generator`).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from monitor.demo.spec import (
    FEEDS, K_BOT, K_CAMPAIGNER, K_CHARITY, K_CLINICIAN, K_COLLEGE, K_COMMENTATOR, K_INDUSTRY, K_JOURNALIST, K_MP,
    K_PUBLIC, K_THINK, K_TRUST, ScenarioSpec, _MAX_ACCOUNTS, _NT, _SMOKING, _Sampler, _TOPIC_SHARE, _TW_EPOCH_MS,
)
from monitor.demo.text import _PLACES


_FIRST = ("Amelia", "Oliver", "Isla", "Harry", "Ava", "Jack", "Mia", "George", "Ivy", "Noah", "Grace", "Leo",
          "Sophie", "Arthur", "Lily", "Oscar", "Freya", "Charlie", "Emily", "Jacob", "Ella", "Thomas", "Ruby",
          "Alfie", "Poppy", "Henry", "Evie", "James", "Chloe", "William", "Aisha", "Mohammed", "Priya",
          "Ravi", "Zara", "Imran", "Siobhan", "Callum", "Niamh", "Rhys", "Megan", "Owen", "Hannah", "Liam",
          "Sarah", "Daniel", "Rachel", "David", "Laura", "Paul", "Helen", "Mark", "Claire", "Steve",
          "Karen", "Gareth", "Fiona", "Kwame", "Ngozi", "Tomasz")
_SURNAMES = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
             "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
             "Wood", "Jackson", "Clarke", "Khan", "Lewis", "Harris", "Turner", "Hill", "Cooper", "Ward",
             "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "Scott",
             "Young", "Mitchell", "Kelly", "Carter", "Phillips", "Begum", "Shaw", "Lloyd", "Murphy", "Ali",
             "Hughes", "Edwards", "Hussain", "Fletcher", "Reid", "Bell", "Mason", "Kaur", "Owen", "Price")
# Unusual surnames for people who would be public figures, to keep them clear of real ones.
_RARE_SURNAMES = ("Quarrington", "Ashbolt", "Pellingham", "Thistlewood", "Marchbank", "Ravensholt",
                  "Fennimore", "Oakhurst", "Bramblecombe", "Wexley", "Hollinrake", "Cadwallon",
                  "Merriweather", "Stonebridge", "Larkspur", "Penhallow", "Whitlock-Day", "Crannoch",
                  "Delacourt", "Farrowby", "Gillanders", "Haverstock", "Ingleby-Rowe", "Jessamy",
                  "Kettleborough", "Lanyon", "Mortlake-Shaw", "Nettlefold", "Orwin", "Pendry",
                  "Quillian", "Rockcliffe", "Sallowby", "Treadgold", "Umbers", "Vantreight",
                  "Wolstenholme-Key", "Yarwood-Bell", "Ambrosen", "Brightmore", "Coldwell-Ames",
                  "Drysdale-Ng", "Eskdale", "Fairbrass", "Goldhawk", "Harrowgate", "Illingsworth",
                  "Juniper-Lowe", "Kilbride-Osei", "Ludworth")
_LOCATIONS = ("London", "Manchester", "Leeds", "Bristol", "Birmingham", "Newcastle", "Sheffield",
              "Norwich", "Brighton", "Nottingham", "Liverpool", "York", "England", "UK", "", "", "")
_PUBLIC_BIOS = ("Mum of two. Tea drinker.", "Retired teacher. Gardening, cricket and the odd rant.",
                "Views my own.", "Season ticket holder.", "", "", "Dad, runner, coffee.",
                "Nurse. Tweets are my own.", "Bookworm and dog walker.", "Northerner in the south.",
                "Football, politics, food.", "Just here for the news.", "Proud grandparent.",
                "Student. Probably procrastinating.", "Small business owner.")

# Organisations: (name, handle, kind, topic index).
_ORGS: tuple[tuple[str, str, int, int], ...] = (
    ("Patients First Forum", "PatientsFirstFm", K_CHARITY, 0),
    ("Shorter Waits Campaign", "ShorterWaitsUK", K_CHARITY, 0),
    ("Kinship Network", "KinshipNetwork", K_CHARITY, 1),
    ("Hearth and Home Alliance", "HearthHomeAlly", K_CHARITY, 1),
    ("Every Child Protected", "EveryChildProt", K_CHARITY, 2),
    ("Parents for Protection", "ParentsProtect", K_CHARITY, 2),
    ("Mindbridge", "MindbridgeUK", K_CHARITY, 3),
    ("Hopeway Youth", "HopewayYouth", K_CHARITY, 3),
    ("Fairweight Trust", "FairweightTrust", K_CHARITY, 4),
    ("Clearbreath Foundation", "ClearbreathFdn", K_CHARITY, 6),
    ("Medics Together", "MedicsTogether", K_CHARITY, 5),
    ("College of Urgent and Emergency Practice", "CUEPractice", K_COLLEGE, 0),
    ("Royal College of Ward Nursing", "RCWardNursing", K_COLLEGE, 1),
    ("Royal College of Community Practitioners", "RCCommPract", K_COLLEGE, 2),
    ("Royal Society of Youth Psychiatry", "RSYouthPsych", K_COLLEGE, 3),
    ("College of Public Health Practice", "CollegePHP", K_COLLEGE, 4),
    ("Resident Medics Forum", "ResMedicsForum", K_COLLEGE, 5),
    ("The Calloway Institute", "CallowayInst", K_THINK, 0),
    ("Brightwater Health Foundation", "BrightwaterHF", K_THINK, 1),
    ("Northgate Policy Unit", "NorthgatePU", K_THINK, 4),
    ("Meridian Social Research", "MeridianSR", K_THINK, 3),
)
_TRUST_TOPICS = (0, 0, 5, 3, 2, 1)

_BIO = {
    K_JOURNALIST: "{beat} correspondent, {outlet}. Views my own. Tips: DMs open.",
    K_MP: "Member of Parliament for {place} {side}. {role}.",
    K_CLINICIAN: "{role} in {place}. Tweets are my own and not my employer's.",
    K_TRUST: "Official account of {name}. Not monitored 24/7; in an emergency call 999.",
    K_CHARITY: "{name}: independent charity working on {area}. Registered charity no. {num}.",
    K_COLLEGE: "{name}: the professional body for practitioners working on {area}.",
    K_THINK: "{name}: independent research and analysis on {area}.",
}
_AREAS = ("NHS waiting times", "adult social care", "immunisation", "mental health", "healthy weight",
          "the medical workforce", "tobacco and nicotine")
_BEATS = ("Health", "Social affairs", "Health and science", "Political", "NHS")
_MP_ROLES = ("Shadow minister for public health", "Member of the Health and Social Care Committee",
             "Chair of the cross-party group on patient safety", "Backbench MP", "Former health minister")
_CLIN_ROLES = ("GP", "A&E consultant", "Paediatric nurse", "Psychiatrist", "Public health registrar",
               "Resident doctor", "Practice nurse", "Health visitor", "Pharmacist")
_CENTRAL_PERSONAS = (
    ("Ward sister writing about what really happens on the front line. Small account, honest posts.", K_CLINICIAN),
    ("Carer for my dad. Writing about what social care is like from the inside.", K_CAMPAIGNER),
    ("School nurse. Myth-busting about vaccines one post at a time.", K_CLINICIAN),
    ("Peer support worker. Lived experience of mental illness. Here to help.", K_CAMPAIGNER),
    ("Community dietitian. Evidence, not fads.", K_CLINICIAN),
    ("Resident doctor, year 3. Writing about rotas, pay and patients.", K_CLINICIAN),
    ("Ex-smoker, now a stop smoking adviser. Ask me anything.", K_CAMPAIGNER),
)
#: Topics with two camps that rarely amplify each other (strike supporters and critics; tobacco control
#: and vapers), each with a broker whom both camps amplify.
CAMP_TOPICS = (5, 6)
_ENDORSED_PERSONAS = (
    "Professor of health services research. I post the data, rarely.",
    "Social care economist. Long reads, few posts.",
    "Epidemiologist. Vaccine data, explained slowly.",
    "Clinical psychologist and researcher. Posting the evidence now and then.",
    "Nutrition scientist. Occasional threads on the evidence.",
    "Labour economist: NHS workforce and pay. Infrequent poster.",
    "Tobacco control researcher. Posting papers, not opinions.",
)
_BROKER_PERSONAS = {
    5: ("Former NHS employer negotiator, now an independent mediator. Both sides have a point.", K_COMMENTATOR),
    6: ("Stop smoking nurse and harm reduction researcher. Vapes for quitting, not for kids.", K_CLINICIAN),
}
# Follower-rich accounts whom only a small clique of superfans amplifies: (topic, name, handle, bio).
_CLIQUE_PERSONAS = (
    (1, "Portia Sallowby", "PortiaSallowby", "Author, patron, columnist. 200k followers can't be wrong."),
    (3, "Jonty Rockcliffe", "JontyLiveLoud", "Reality TV. Gym. Mindset. Link in bio."),
    (4, "Bella Fairbrass", "BellaFitFairy", "Fitness influencer. Meal plans. Discount codes in bio."),
)
_CLIQUE_SIZE = 5
_RICH_PERSONAS = (
    ("Dr Val Ambrosen", "DrValOnTV", "TV doctor. Weekday mornings on breakfast television. Author."),
    ("Marcus Fennimore", "MarcusFennimore", "Broadcaster and columnist. Opinions: mine, loudly."),
    ("Lottie Brightmore", "LottieGlowsUp", "Wellness. Lifestyle. Positivity. Brand enquiries via email."),
    ("Gideon Larkspur", "GideonSaysSo", "Columnist, podcaster, occasional provocateur."),
    ("Chef Rory Goldhawk", "RoryCooksReal", "Chef, restaurateur and TV cook. New book out now."),
    ("Dr Anya Penhallow", "DrAnyaLive", "Doctor, presenter, bestselling author of The Calm Clinic."),
    ("Danny Treadgold", "DannyTreadgold", "Radio host. Phone-ins every weekday from 9."),
)


class _Population:
    """All accounts, as parallel lists indexed by account number, and the planted roles."""

    def __init__(self, spec: ScenarioSpec):
        self.spec = spec
        size = spec.size
        nrng = np.random.default_rng([spec.seed, 11])
        start = spec.start_utc
        n_acc = min(max(300, size // 5), _MAX_ACCOUNTS)

        self.ids: list[str] = []
        self.handles: list[str] = []
        self.names: list[str] = []
        self.bios: list[str] = []
        self.kinds: list[int] = []
        self.prim: list[int] = []
        self.sec: list[int] = []
        self.activity: list[float] = []
        self.appeal: list[float] = []
        self.followers: list[int] = []
        self.following: list[int] = []
        self.created: list[datetime] = []
        self.verified: list[str] = []  # verified_type: none | blue | business | government
        self.locations: list[str] = []
        self.outlet: list[int] = []  # journalists: index in FEEDS, else -1
        self.tracked: list[bool] = []  # candidates for the expected-influencer ranking
        self._used_handles: set[str] = set()
        self.handle_idx: dict[str, int] = {}

        topic_p = np.array(_TOPIC_SHARE[:_NT]) / sum(_TOPIC_SHARE[:_NT])
        topic_cum = np.cumsum(topic_p)

        def topic_draw() -> int:
            return min(_NT - 1, int(np.searchsorted(topic_cum, nrng.random(), side="right")))

        def topics_pair(primary: int | None = None, p_sec: float = 0.5) -> tuple[int, int]:
            p = topic_draw() if primary is None else primary
            s = -1
            if nrng.random() < p_sec:
                s = topic_draw()
                if s == p:
                    s = -1
            return p, s

        def lognorm(median: float, sigma: float, lo: float, hi: float) -> int:
            return int(min(hi, max(lo, median * math.exp(sigma * float(nrng.standard_normal())))))

        def created_between(y0: int, y1: int) -> datetime:
            a = datetime(y0, 1, 1, tzinfo=timezone.utc).timestamp()
            b = datetime(y1, 12, 31, tzinfo=timezone.utc).timestamp()
            return datetime.fromtimestamp(int(a + (b - a) * float(nrng.random())), tz=timezone.utc)

        def person(rare: bool) -> tuple[str, str]:
            first = _FIRST[int(nrng.integers(len(_FIRST)))]
            last = (_RARE_SURNAMES if rare else _SURNAMES)[int(nrng.integers(len(_RARE_SURNAMES if rare else _SURNAMES)))]
            return first, last

        def add(kind: int, name: str, handle: str, bio: str, followers: int, activity: float, appeal: float,
                prim: int, sec: int, created: datetime, vtype: str = "none", outlet: int = -1,
                tracked: bool = False, location: str | None = None, following: int | None = None) -> int:
            i = len(self.ids)
            handle = self._unique_handle(handle, nrng)
            self.ids.append("")  # assigned below, once creation times are known
            self.handles.append(handle)
            self.handle_idx[handle] = i
            self.names.append(name)
            self.bios.append(bio)
            self.kinds.append(kind)
            self.prim.append(prim)
            self.sec.append(sec)
            self.activity.append(activity)
            self.appeal.append(appeal)
            self.followers.append(followers)
            if following is None:
                following = lognorm(400 if kind != K_BOT else 2500, 0.9 if kind != K_BOT else 0.3, 12, 7500)
            self.following.append(following)
            self.created.append(created)
            self.verified.append(vtype)
            self.locations.append(location if location is not None else _LOCATIONS[int(nrng.integers(len(_LOCATIONS)))])
            self.outlet.append(outlet)
            self.tracked.append(tracked)
            return i

        def act(mult: float, sigma: float = 0.5) -> float:
            return mult * math.exp(sigma * float(nrng.standard_normal()))

        # ---- bot ring and the account it amplifies
        ring = min(30, 15 + size // 100_000)
        self.bots: list[int] = []
        for _ in range(ring):
            first = _FIRST[int(nrng.integers(len(_FIRST)))]
            digits = "".join(str(int(d)) for d in nrng.integers(0, 10, size=8))
            name = first if nrng.random() < 0.6 else f"{first} {_SURNAMES[int(nrng.integers(len(_SURNAMES)))]}"
            days_ago = int(nrng.integers(12, 80))
            created = start - timedelta(days=days_ago, seconds=int(nrng.integers(0, 86400)))
            bio = ("", "", "Freedom. Family. Vaping.", "Adult vaper. No DMs.", "Just a regular person")[int(nrng.integers(5))]
            self.bots.append(add(K_BOT, name, f"{first}{digits}", bio, int(nrng.integers(0, 40)), 0.0, 0.0,
                                 _SMOKING, -1, created, location=""))
        self.bot_target = add(K_INDUSTRY, "Vapour Liberty Alliance", "VapourLibertyAll",
                              "Standing up for adult vapers. Vaping saved millions from smoking. Funded by supporters.",
                              int(nrng.integers(3000, 8000)), act(3.0), 0.25, _SMOKING, -1,
                              created_between(2019, 2022), vtype="blue", tracked=True, location="London")

        # ---- a second ring that looks human: old accounts with ordinary names, bios and pictures,
        # posting paraphrased texts in daytime hours and retweeting within a few seconds of each other
        self.sleepers: list[int] = []
        for _ in range(min(18, 10 + size // 200_000)):
            first, last = person(False)
            handle = (f"{first}{last}{int(nrng.integers(60, 100))}" if nrng.random() < 0.5
                      else f"{first.lower()}_{last.lower()}")
            self.sleepers.append(add(K_BOT, f"{first} {last}", handle,
                                     _PUBLIC_BIOS[int(nrng.integers(len(_PUBLIC_BIOS)))],
                                     lognorm(350, 0.7, 60, 3000), 0.0, 0.0, _SMOKING, -1, created_between(2011, 2019),
                                     following=lognorm(400, 0.9, 12, 7500)))
        self.sleeper_target = add(K_COMMENTATOR, "Skye Drysdale-Ng", "SkyeCloudChaser",
                                  "Creator. Flavours, festivals, freedom. Collabs via email.",
                                  int(math.exp(math.log(180_000) + float(nrng.random()) * math.log(2.5))), act(2.0),
                                  0.0, _SMOKING, -1, created_between(2012, 2015), vtype="blue", location="London")
        self.looks_human = set(self.sleepers)

        # ---- planted influencers
        self.central: dict[int, list[int]] = {t: [] for t in range(_NT)}
        self.rich: dict[int, list[int]] = {t: [] for t in range(_NT)}
        for t in range(_NT):
            bio, kind = _CENTRAL_PERSONAS[t]
            for _ in range(2):
                first, last = person(False)
                handle = f"{first}{last[:1]}_{('RN', 'cares', 'SN', 'peer', 'RD', 'Doc', 'quits')[t]}"
                self.central[t].append(add(kind, f"{first} {last}", handle, bio, int(nrng.integers(150, 900)),
                                           0.0, 0.0, t, -1, created_between(2014, 2021), tracked=True))
            name, handle, bio = _RICH_PERSONAS[t]
            self.rich[t].append(add(K_COMMENTATOR, name, handle, bio,
                                    int(math.exp(math.log(120_000) + float(nrng.random()) * math.log(8))),
                                    0.0, 0.0, t, -1, created_between(2009, 2013), vtype="blue", tracked=True))

        # voices who matter because the topic's leading voices pass them on (few amplifiers, PageRank)
        self.endorsed: dict[int, list[int]] = {}
        for t in range(_NT):
            first, last = person(True)
            self.endorsed[t] = [add(K_CLINICIAN, f"Prof {first} {last}", f"Prof{last}".replace("-", ""),
                                    _ENDORSED_PERSONAS[t], int(nrng.integers(300, 1500)), 0.0, 0.0, t, -1,
                                    created_between(2012, 2020))]
        # brokers: amplified a little by both camps of a two-camp topic (betweenness, modest in-degree)
        self.brokers: dict[int, list[int]] = {}
        for t in CAMP_TOPICS:
            bio, kind = _BROKER_PERSONAS[t]
            first, last = person(True)
            self.brokers[t] = [add(kind, f"{first} {last}", f"{first[:1]}{last}Talks".replace("-", ""), bio,
                                   int(nrng.integers(400, 2500)), 0.0, 0.0, t, -1, created_between(2012, 2020))]
        # follower-rich accounts amplified only by a small clique of superfans (who also amplify each other)
        self.clique_star: dict[int, list[int]] = {}
        self.clique: dict[int, list[int]] = {}
        for t, name, handle, bio in _CLIQUE_PERSONAS:
            self.clique_star[t] = [add(K_COMMENTATOR, name, handle, bio,
                                       int(math.exp(math.log(150_000) + float(nrng.random()) * math.log(3))),
                                       0.0, 0.0, t, -1, created_between(2010, 2014), vtype="blue")]
            fans = []
            for _ in range(_CLIQUE_SIZE):
                first, last = person(False)
                fans.append(add(K_PUBLIC, f"{first} {last}", f"{first}{last[:1]}_fan{int(nrng.integers(10, 99))}",
                                _PUBLIC_BIOS[int(nrng.integers(len(_PUBLIC_BIOS)))], lognorm(150, 0.8, 10, 3000),
                                0.0, 0.0, t, -1, created_between(2012, 2022)))
            self.clique[t] = fans

        # ---- organisations
        for name, handle, kind, t in _ORGS:
            med = {K_CHARITY: 25_000, K_COLLEGE: 60_000, K_THINK: 30_000}[kind]
            bio = _BIO[kind].format(name=name, area=_AREAS[t], num=1_000_000 + int(nrng.integers(0, 190_000)))
            add(kind, name, handle, bio, lognorm(med, 0.6, 3000, 300_000),
                               act({K_CHARITY: 4.0, K_COLLEGE: 3.0, K_THINK: 2.0}[kind]),
                               {K_CHARITY: 1.0, K_COLLEGE: 0.9, K_THINK: 0.7}[kind] * math.exp(0.4 * float(nrng.standard_normal())),
                               t, -1, created_between(2009, 2015), vtype="business", tracked=True)
        n_trusts = max(6, n_acc // 600)
        for j in range(n_trusts):
            place = _PLACES[j % len(_PLACES)]
            if j >= len(_PLACES):
                place = f"{place} and {_PLACES[(j * 7 + 3) % len(_PLACES)]}"
            name = f"{place} Hospitals NHS Trust" if j % 3 else f"{place} NHS Foundation Trust"
            handle = place.replace(" and ", "").replace(" ", "")[:11] + "NHS"
            bio = _BIO[K_TRUST].format(name=name)
            add(K_TRUST, name, handle, bio, lognorm(12_000, 0.6, 1500, 90_000), act(2.5), 0.5 * math.exp(0.4 * float(nrng.standard_normal())),
                _TRUST_TOPICS[j % len(_TRUST_TOPICS)], -1, created_between(2010, 2016), vtype="business",
                tracked=True, location=place)

        # ---- people in public life
        n_journalists = max(10, n_acc // 250)
        self.journalists_by_outlet: dict[int, list[int]] = {f: [] for f in range(len(FEEDS))}
        for j in range(n_journalists):
            first, last = person(True)
            outlet = j % (len(FEEDS) + 2)
            outlet = outlet if outlet < len(FEEDS) else -1
            outlet_name = FEEDS[outlet][1].split(" - ")[0] if outlet >= 0 else "freelance"
            p, s = topics_pair(p_sec=0.8)
            bio = _BIO[K_JOURNALIST].format(beat=_BEATS[int(nrng.integers(len(_BEATS)))], outlet=outlet_name)
            i = add(K_JOURNALIST, f"{first} {last}", f"{first}{last}".replace("-", "")[:15], bio,
                    lognorm(15_000, 1.0, 1500, 95_000), act(6.0), 1.0 * math.exp(0.6 * float(nrng.standard_normal())),
                    p, s, created_between(2008, 2016), vtype="blue", outlet=outlet, tracked=True)
            if outlet >= 0:
                self.journalists_by_outlet[outlet].append(i)
        n_mps = max(6, n_acc // 400)
        self.mps: list[int] = []
        for j in range(n_mps):
            first, last = person(True)
            place = _PLACES[int(nrng.integers(len(_PLACES)))]
            bio = _BIO[K_MP].format(place=place, side=("North", "South", "East", "West", "Central")[j % 5],
                                    role=_MP_ROLES[j % len(_MP_ROLES)])
            p, s = topics_pair(p_sec=0.7)
            self.mps.append(add(K_MP, f"{first} {last} MP", f"{first[:1]}{last}MP".replace("-", "")[:15], bio,
                                lognorm(12_000, 0.8, 2000, 90_000), act(4.0),
                                0.8 * math.exp(0.6 * float(nrng.standard_normal())), p, s,
                                created_between(2009, 2019), vtype="government", tracked=True))
        n_clin = max(12, n_acc // 100)
        self.clinicians: list[int] = []
        for j in range(n_clin):
            first, last = person(j % 3 == 0)
            role = _CLIN_ROLES[j % len(_CLIN_ROLES)]
            bio = _BIO[K_CLINICIAN].format(role=role, place=_PLACES[int(nrng.integers(len(_PLACES)))])
            p, s = topics_pair(p_sec=0.5)
            prefix = "Dr" if role in ("GP", "A&E consultant", "Psychiatrist", "Public health registrar", "Resident doctor") else ""
            handle = f"{prefix}{first}{last}".replace("-", "")[:15]
            self.clinicians.append(add(K_CLINICIAN, f"{prefix + ' ' if prefix else ''}{first} {last}", handle, bio,
                                       lognorm(3_000, 1.0, 200, 60_000), act(3.0),
                                       0.6 * math.exp(0.6 * float(nrng.standard_normal())), p, s,
                                       created_between(2010, 2020), vtype="blue" if nrng.random() < 0.3 else "none",
                                       tracked=True))

        # ---- the public (drawn in bulk: there may be ~100,000 of them)
        n_public = max(0, n_acc - len(self.ids))
        amp_public = max(5, n_public // 33)
        if n_public:
            firsts = nrng.integers(len(_FIRST), size=n_public).tolist()
            lasts = nrng.integers(len(_SURNAMES), size=n_public).tolist()
            styles = nrng.integers(6, size=n_public).tolist()
            yys = nrng.integers(60, 100, size=n_public).tolist()
            nums = nrng.integers(1, 999, size=n_public).tolist()
            full = (nrng.random(n_public) < 0.8).tolist()
            prims = nrng.choice(_NT, p=topic_p, size=n_public)
            secs = nrng.choice(_NT, p=topic_p, size=n_public)
            secs = np.where((nrng.random(n_public) < 0.45) & (secs != prims), secs, -1).tolist()
            prims = prims.tolist()
            bios = nrng.integers(len(_PUBLIC_BIOS), size=n_public).tolist()
            followers = np.clip(180 * np.exp(1.5 * nrng.standard_normal(n_public)), 0, 60_000).astype(int).tolist()
            following = np.clip(400 * np.exp(0.9 * nrng.standard_normal(n_public)), 12, 7500).astype(int).tolist()
            activity = np.exp(1.3 * nrng.standard_normal(n_public)).tolist()
            appeal = (0.4 * np.exp(0.5 * nrng.standard_normal(n_public))).tolist()
            t_lo = datetime(2009, 1, 1, tzinfo=timezone.utc).timestamp()
            t_hi = datetime(2025, 12, 31, tzinfo=timezone.utc).timestamp()
            created = (t_lo + (t_hi - t_lo) * nrng.random(n_public)).astype(np.int64).tolist()
            blue = (nrng.random(n_public) < 0.04).tolist()
            locs = nrng.integers(len(_LOCATIONS), size=n_public).tolist()
            utc = timezone.utc
            for j in range(n_public):
                first, last, yy = _FIRST[firsts[j]], _SURNAMES[lasts[j]], yys[j] % 100
                style = styles[j]
                if style == 0:
                    handle = f"{first}{last}{yy:02d}"
                elif style == 1:
                    handle = f"{first.lower()}_{last.lower()}"
                elif style == 2:
                    handle = f"{first}_{last[:1]}{yy:02d}"
                elif style == 3:
                    handle = f"{last}{first[:1]}"
                elif style == 4:
                    handle = f"{first.lower()}{last.lower()}{nums[j]}"
                else:
                    handle = f"the{first}{last}"
                amplifiable = j < amp_public
                i = add(K_PUBLIC, f"{first} {last}" if full[j] else first, handle, _PUBLIC_BIOS[bios[j]],
                        followers[j], activity[j], appeal[j] if amplifiable else 0.0, prims[j], secs[j],
                        datetime.fromtimestamp(created[j], tz=utc), "blue" if blue[j] else "none",
                        tracked=amplifiable, location=_LOCATIONS[locs[j]], following=following[j])

        self.n = len(self.ids)
        self._assign_ids(nrng)
        self.is_bot = [k == K_BOT for k in self.kinds]
        # camps (on CAMP_TOPICS only): who amplifies whom there; planted voices are placed by hand
        self.camp = nrng.integers(0, 2, size=self.n).tolist()
        for t in CAMP_TOPICS:
            for k, i in enumerate(self.central[t]):
                self.camp[i] = k % 2
            for i in self.endorsed[t]:
                self.camp[i] = 0
            for i in self.brokers[t]:
                self.camp[i] = -1  # both
        for i in self.bots + self.sleepers + [self.bot_target, self.sleeper_target]:
            self.camp[i] = 1

    def _unique_handle(self, handle: str, nrng: np.random.Generator) -> str:
        handle = re.sub(r"[^A-Za-z0-9_]", "", handle)[:15] or "user"
        base = handle
        while handle.lower() in self._used_handles:
            suffix = str(int(nrng.integers(1, 9999)))
            handle = base[: 15 - len(suffix)] + suffix
        self._used_handles.add(handle.lower())
        return handle

    def _assign_ids(self, nrng: np.random.Generator) -> None:
        """User ids: small numbers for accounts made before late 2013, snowflakes after (as on X)."""
        cutoff = datetime(2013, 11, 1, tzinfo=timezone.utc).timestamp()
        first = datetime(2008, 1, 1, tzinfo=timezone.utc).timestamp()
        n = len(self.created)
        ts = np.array([c.timestamp() for c in self.created])
        jitter = nrng.integers(0, 50_000, size=n)
        low = nrng.integers(0, 1 << 22, size=n)
        old = (10_000_000 + (ts - first) / (cutoff - first) * 2_100_000_000).astype(np.int64) + jitter
        seen: set[str] = set()
        for i in range(n):
            if ts[i] < cutoff:
                v = int(old[i])
            else:
                v = ((int(ts[i] * 1000) - _TW_EPOCH_MS) << 22) | int(low[i])
            while str(v) in seen:
                v += 1
            self.ids[i] = str(v)
            seen.add(self.ids[i])

    # ---- samplers
    def samplers(self, generation: int = 0) -> dict[str, Any]:
        """Who posts on a topic, who amplifies, whose posts attract amplification, for each topic.

        ``generation`` seeds a fresh set of random streams when the samplers are rebuilt.
        """
        seed = self.spec.seed
        prim = np.array(self.prim)
        sec = np.array(self.sec)
        act = np.array(self.activity)
        app = np.array(self.appeal)
        not_bot = ~np.array(self.is_bot)
        public = np.array(self.kinds) == K_PUBLIC
        orig: list[_Sampler] = []
        appeal: list[_Sampler] = []
        for t in range(_NT):
            share = np.where(prim == t, 1.0, np.where(sec == t, 0.35, 0.0)) * not_bot
            orig.append(_Sampler(act * share, (seed, 31, generation, t)))
            appeal.append(_Sampler(app * share, (seed, 37, generation, t)))
        # off-topic chatter: everyone but bots, organisations and people in public life posting less of it
        orig.append(_Sampler(act * not_bot * np.where(public, 1.0, 0.15), (seed, 31, generation, _NT)))
        appeal.append(_Sampler(app * public, (seed, 37, generation, _NT)))
        return {"orig": orig, "appeal": appeal, "global": _Sampler(act * not_bot, (seed, 41, generation))}

    def plant_activity(self, topic_originals: list[float]) -> None:
        """Give planted accounts their posting rates and appeal, relative to their topic's size.

        On top of this, :class:`_Core` schedules a minimum number of posts for each of them,
        so the structure holds at the smallest sizes too.
        """
        prim = np.array(self.prim)
        sec = np.array(self.sec)
        act = np.array(self.activity)
        app = np.array(self.appeal)
        not_bot = ~np.array(self.is_bot)
        notable = np.array(self.kinds) != K_PUBLIC
        for t in range(_NT):
            share_w = np.where(prim == t, 1.0, np.where(sec == t, 0.35, 0.0)) * not_bot
            total_act = float((act * share_w).sum())
            expected = max(1.0, topic_originals[t])
            # central and rich accounts: each ~4% of the topic's originals, at most ~110 posts a week
            share = min(0.04, 110.0 / expected)
            a = share * total_act / (1 - 3 * share)
            in_topic = (share_w > 0) & notable
            top_appeal = float(app[in_topic].max()) if in_topic.any() else 1.0
            for i in self.central[t]:
                self.activity[i] = a
                self.appeal[i] = 2.5 * top_appeal
            for i in self.rich[t]:
                self.activity[i] = a * 1.3
                self.appeal[i] = 0.0
