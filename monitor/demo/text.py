"""The words: post templates per topic (each written so its topic's query matches it), crisis
texts, spam, and filling a template's slots.

Part of the demo scenario generator (:mod:`monitor.demo.generator`).
"""

from __future__ import annotations

import random
import re
from typing import Callable

from monitor.demo.spec import K_CHARITY, K_CLINICIAN, K_JOURNALIST, K_MP, NEG, NEU, POS, _NT


_ORIGINALS: dict[int, dict[int, list[str]]] = {
    0: {  # waiting_times
        NEU: [
            "New figures: the waiting list in England stands at {m} million, with {k} people waiting over a year.",
            "Average trolley wait at {place} General was {h} hours last week, according to the latest A&E data.",
            "Our analysis of the elective backlog: orthopaedics and eye care account for {pct}% of the longest waits.",
            "Board papers show the elective backlog at {place} has fallen for the {ord} month running.",
            "What would it take to clear the elective backlog? A thread on beds, theatres and staffing.",
            "Waiting times for cancer diagnosis in {place} are still above the national target, new data shows.",
        ],
        POS: [
            "Good news from {place}: the waiting list for hip and knee surgery is down {pct}% since the new surgical hub opened.",
            "Huge credit to the team at {place} General for cutting the longest trolley wait times in A&E this month.",
            "Encouraging progress on the elective backlog. Weekend theatre lists in {place} are making a real difference.",
        ],
        NEG: [
            "My mum has been on the waiting list for a hip operation for {weeks} weeks. Still no date. Frustrating.",
            "Another {h} hour trolley wait in A&E at {place} last night. Staff doing their best but it is not safe.",
            "The elective backlog is not going down fast enough. Patients in {place} deserve better.",
        ],
    },
    1: {  # social_care
        NEU: [
            "The social care workforce has {k} vacancies, according to new figures out today.",
            "Care homes in {place} report occupancy at {pct}% as winter pressures begin. #SocialCare",
            "Unpaid carers save the economy billions every year. Our new report sets out the support they need.",
            "Questions for the minister on social care funding at committee this morning.",
            "How does the cap on social care costs interact with council budgets? A short explainer.",
        ],
        POS: [
            "Lovely visit to two care homes in {place} today. Brilliant staff and residents full of stories.",
            "Welcome announcement on respite breaks for unpaid carers. A real step forward.",
            "Great to see {place} council investing in social care apprenticeships.",
        ],
        NEG: [
            "Still no long-term plan for social care. Families in {place} cannot wait any longer.",
            "Unpaid carers are exhausted and unsupported. The carers allowance is simply not enough.",
            "Another two care homes closing in {place}. Where will residents go?",
        ],
    },
    2: {  # vaccination
        NEU: [
            "Flu jab appointments are now open for over-65s and people with long-term conditions. #VaccinesWork",
            "MMR vaccination rates among two-year-olds in {place} stand at {pct2}%, below the 95% target.",
            "New data on vaccine uptake in pregnancy published today.",
            "Pharmacies in {place} will offer the flu jab without an appointment this weekend.",
            "Explainer: how the vaccination programme decides who is eligible each winter.",
        ],
        POS: [
            "Got my flu jab this morning, took five minutes. Thank you to the pharmacy team!",
            "Brilliant work by school nurses in {place}: MMR catch-up clinics vaccinated {n3} children last week.",
            "Vaccine uptake among hospital staff is up {pct}% on last year. #VaccinesWork",
        ],
        NEG: [
            "Could not get a flu jab appointment anywhere in {place} this week. Not great.",
            "Worrying drop in MMR vaccination among under-fives. We need to understand why.",
            "Parents in {place} told to wait {weeks} weeks for a vaccine appointment. Not good enough.",
        ],
    },
    3: {  # mental_health
        NEU: [
            "New figures show {k} children and young people were referred to CAMHS last month.",
            "Our new guide to mental health at work is out today. #MentalHealthAwareness",
            "Mental health services in {place} are piloting same-day crisis appointments.",
            "Committee hears evidence on mental health support in schools this afternoon.",
            "What the data says about anxiety and support services for university students: a short thread.",
        ],
        POS: [
            "So proud of our peer support team: {n} young people helped with their mental health this month.",
            "Great to see mental health first aiders in every school in {place}. #MentalHealthAwareness",
            "Talking about my mental health was the best thing I did this year. Reach out if you need to.",
        ],
        NEG: [
            "My son has been waiting {weeks} weeks for a CAMHS assessment. Nobody can tell us when.",
            "Mental health services are stretched to breaking point in {place}.",
            "Anxiety among teenagers is rising and mental health support is not keeping up.",
        ],
    },
    4: {  # obesity
        NEU: [
            "Childhood obesity rates in {place} are {pct}% higher than the national average, new data shows.",
            "The sugar tax has raised {money} this year. Where is the money going?",
            "Consultation on junk food advertising restrictions closes on {day}.",
            "New healthy weight programme for families launches in {place} next month.",
            "Explainer: what the evidence says about the sugar tax and reformulation.",
        ],
        POS: [
            "The sugar tax works: sugar in soft drinks is down by a third since it was introduced.",
            "Brilliant healthy weight sessions at our community centre in {place} this week.",
            "Welcome move to restrict junk food adverts before the watershed.",
        ],
        NEG: [
            "Obesity costs the NHS billions and we are still arguing about junk food adverts.",
            "Cuts to healthy weight services in {place} are short-sighted.",
            "Too many children in {place} live in food deserts. Tackling obesity starts there.",
        ],
    },
    5: {  # junior_doctors
        NEU: [
            "The BMA says resident doctors will meet ministers on {day} for further talks on pay.",
            "Hospitals in {place} publish contingency plans ahead of the junior doctors strike.",
            "Ballot result: {pct3}% of junior doctors voted in favour of further strike action.",
            "What a resident doctors walkout means for your appointment: a quick guide.",
            "Resident doctors' pay has fallen in real terms since 2008, according to the BMA.",
        ],
        POS: [
            "Solidarity with junior doctors on the picket line in {place} this morning. #JuniorDoctorsStrike",
            "Encouraging signs from pay talks between the BMA and ministers today.",
            "Thank you to the consultants who covered the resident doctors walkout in {place}.",
        ],
        NEG: [
            "Another junior doctors strike means more cancelled operations. Patients are paying the price.",
            "Junior doctors are burnt out and leaving for Australia over pay. Who can blame them?",
            "The resident doctors walkout in {place} led to {n3} appointments being rescheduled.",
        ],
    },
    6: {  # smoking
        NEU: [
            "The generation ban on tobacco sales returns to Parliament on {day}.",
            "Youth vaping rates in {place} have risen to {pct}%, a new survey finds.",
            "Disposable vapes: what changes for retailers from next month.",
            "Smoking rates among adults in {place} have fallen to {pct}%.",
            "Debate on extending the smoking ban to beer gardens continues today.",
        ],
        POS: [
            "Ten years since I stopped smoking. Best decision I ever made.",
            "Stop smoking services in {place} helped {n3} people quit this year.",
            "Support for the generation ban on tobacco is strong across all age groups.",
        ],
        NEG: [
            "Shops near schools in {place} are still selling vapes to children.",
            "The tobacco industry is lobbying hard against the smoking ban. Don't let them win.",
            "Illegal vapes are flooding high streets and trading standards cannot keep up.",
        ],
    },
    _NT: {  # off-topic chatter
        NEU: [
            "Anyone else stuck on the M62 this morning? Not moving at all.",
            "Cracking goal last night. What a finish from the edge of the box.",
            "Rain again in {place}. Typical November.",
            "Coffee first, emails later.",
            "New bookshop opening on the high street in {place} this Saturday.",
            "Train delayed again, 25 minutes this time.",
            "Fireworks still going off at midnight, the dog is not impressed.",
            "Who else is watching the baking final tonight?",
            "Roast dinner sorted. Yorkshire puddings were a triumph.",
            "Parkrun personal best this morning in {place}!",
            "Christmas lights switched on in {place} town centre tonight.",
            "The quiz at the Red Lion in {place} is back on {day}.",
        ],
    },
}

# Noun phrases per topic for replies and quotes ("Completely agree on {kw}.").
_PHRASES: dict[int, list[str]] = {
    0: ["the waiting list", "the elective backlog", "trolley wait times in A&E", "the waiting list for surgery",
        "waiting times for diagnosis"],
    1: ["social care", "social care funding", "support for unpaid carers", "staffing in care homes",
        "pay for care workers"],
    2: ["vaccine uptake", "the MMR vaccine", "the flu jab", "vaccination rates", "the vaccination programme"],
    3: ["mental health services", "CAMHS", "youth mental health", "mental health support",
        "mental health in schools"],
    4: ["the sugar tax", "childhood obesity", "junk food advertising", "healthy weight services", "obesity"],
    5: ["the junior doctors strike", "pay for resident doctors", "the BMA pay talks",
        "the resident doctors walkout", "strike action by junior doctors"],
    6: ["the smoking ban", "youth vaping", "the generation ban", "disposable vapes", "tobacco control"],
    _NT: ["the traffic", "the match", "the weather", "the new bookshop", "the trains", "the quiz"],
}

_REACTIONS: dict[int, list[str]] = {
    NEU: [
        "This is the reality of {kw} right now.",
        "Do you have the figures on {kw} for {place}?",
        "Important point about {kw}. Sharing with colleagues.",
        "We see the impact of {kw} every single day.",
        "Worth reading on {kw}.",
        "Interesting. How does {kw} compare with last year?",
    ],
    POS: [
        "Completely agree on {kw}.",
        "Thanks for sharing. {Kw} needs far more attention.",
        "Really useful thread on {kw}, thank you.",
        "Great to see progress on {kw} in {place}.",
    ],
    NEG: [
        "Not my experience of {kw} in {place} at all.",
        "Sadly true. {Kw} is getting worse here.",
        "Exactly this. {Kw} is letting too many families down.",
        "Worrying news about {kw}.",
    ],
}

# The crisis: headlines (drivers, articles) and noun phrases per topic.
_CRISIS_HEADLINES: dict[int, list[str]] = {
    0: ["Scandal of patients dying on trolleys as the trolley wait in A&E at {place} General hits 40 hours",
        "Waiting list scandal: leaked figures show {k} patients left off official counts"],
    1: ["Care homes scandal: homes in {place} to close within weeks as social care funding fails",
        "Outrage as residents are evicted after three care homes in {place} fail inspections"],
    2: ["MMR vaccine scandal: thousands of children in {place} turned away as stocks run out",
        "Leaked memo: officials knew about the vaccine supply failure for weeks"],
    3: ["CAMHS scandal: teenagers in {place} left waiting two years as mental health services fail",
        "Mental health unit in {place} failed vulnerable patients, damning report finds"],
    4: ["Sugar tax scandal: money quietly diverted away from childhood obesity schemes",
        "Fury as healthy weight services for children in {place} are scrapped without warning"],
    5: ["Fury as talks collapse and the junior doctors strike is extended; the BMA accuses ministers of bad faith",
        "Resident doctors walkout: patients in {place} left without cover as pay talks fail"],
    6: ["Illegal vapes scandal: counterfeit vapes seized from school tuck shops in {place}",
        "Children hospitalised after using counterfeit vapes sold near schools in {place}, a disgrace"],
}
_CRISIS_PHRASES: dict[int, list[str]] = {
    0: ["the trolley wait scandal", "the hidden waiting list", "patients dying on trolleys in A&E queues"],
    1: ["the care homes closures", "the collapse of social care", "the social care funding failure"],
    2: ["the MMR vaccine shortage", "the vaccine supply failure", "children missing their MMR jab"],
    3: ["the CAMHS scandal", "the collapse of mental health services", "the failures in mental health care"],
    4: ["the sugar tax scandal", "the scrapped healthy weight services", "the obesity funding cuts"],
    5: ["the collapse of the junior doctors pay talks", "the extended junior doctors strike",
        "the failed BMA pay talks"],
    6: ["the illegal vapes scandal", "counterfeit vapes sold to children", "the stalled generation ban on tobacco"],
}
_CRISIS_ORIGINALS = [
    "This is a disgraceful scandal. {Kw} has failed families in {place}.",
    "Absolutely furious about {kw}. Who is going to be held accountable?",
    "Outrage is the only word for {kw}. Ministers have failed us.",
    "People could be dying because of {kw}. Disgraceful.",
    "{Kw} is a total failure. Heads should roll.",
    "How was {kw} allowed to happen? Shameful and disgraceful.",
    "Sick and furious reading about {kw}. Our children deserve better than this failure.",
    "Angry, upset and let down by {kw}. An utter disgrace.",
]
_CRISIS_REACTIONS = [
    "Disgraceful. {Kw} is a scandal.",
    "This is an outrage. {Kw} failed us all.",
    "Furious. {Kw} was entirely avoidable.",
    "Heartbreaking and disgraceful. People are suffering because of {kw}.",
    "A complete failure. {Kw} should never have happened.",
    "Terrible news about {kw}. Someone must resign.",
]
_DRIVER_TEXT = {
    K_JOURNALIST: ["EXCLUSIVE: {headline}", "UPDATE: anger grows over {kw}. Ministers have failed to explain it.",
                   "More families have contacted us about {kw}. Furious, frightened, let down."],
    K_MP: ["{Headline}. This is a disgraceful failure and the minister must come to the House today.",
           "I have written to the Secretary of State about {kw}. A scandal that failed my constituents."],
    K_CHARITY: ["Families are furious. {Kw} was entirely avoidable. This scandal must never happen again.",
                "We warned ministers months ago. {Kw} is a disgraceful failure."],
    K_CLINICIAN: ["I have never seen anything like {kw} in twenty years of practice. Patients are at risk. Disgraceful.",
                  "Colleagues are in tears over {kw}. We failed the people who trusted us."],
}

_SPAM = [
    "Vaping helped millions quit smoking. Don't ban our vapes! #VapingSavesLives",
    "Vaping helped millions quit smoking. Do not ban our vapes!! #VapingSavesLives",
    "vaping helped millions quit smoking, don't ban our vapes #VapingSavesLives",
    "Vaping helped millions quit smoking. Don't ban our vapes #VapingSavesLives #StopTheBan",
    "Vaping helped MILLIONS quit smoking. Don't ban our vapes! #VapingSavesLives",
]
_PROMO = [
    "The generation ban will push adults back to tobacco. Vaping is the answer, not prohibition. #VapingSavesLives",
    "{k} adult smokers switched to vaping last year. Why is the government trying to ban vapes?",
    "Sign the petition: stop the smoking ban from punishing adult vapers. #VapingSavesLives",
    "New poll: most adults oppose the generation ban on tobacco. Listen to vapers!",
    "Flavoured vapes help adult smokers quit. Ban them and smoking rates will rise. #VapingSavesLives",
]


# Posts on two topics at once: (first topic, second topic, text). Short enough that a retweet's
# "RT @handle: " cut at 140 characters keeps both topics' words.
_DUAL: tuple[tuple[int, int, str], ...] = (
    (0, 3, "Waiting times for CAMHS in {place} now top {weeks} weeks, new mental health figures show."),
    (0, 5, "The junior doctors strike added {k} patients to the waiting list in {place}."),
    (0, 2, "MMR catch-up clinics are adding to waiting times at GP surgeries in {place}."),
    (1, 2, "Flu jab clinics for care workers open in {place} this week."),
    (1, 6, "Care homes in {place} go smoke-free in January: smoking banned on site."),
    (1, 3, "Unpaid carers in {place} describe the toll on their own mental health."),
    (4, 3, "Childhood obesity and mental health are linked, a new study from {place} finds."),
    (4, 6, "The sugar tax and a tax on vapes: two levies compared, by the numbers."),
    (3, 5, "Resident doctors on strike say burnout has become a mental health emergency."),
    (2, 5, "Junior doctors' strike: vaccination clinics in {place} go ahead as planned."),
)
# Off-topic posts that come close to a topic query without matching it (a query must not catch them).
_NEAR_MISS: tuple[str, ...] = (
    "The NHSX login page gives me more anxiety than the exam itself.",
    "That sunset over {place} last night was smoking hot.",
    "The leaked emails are the smoking gun, says the inquiry's lawyer.",
    "My cousin, a junior doctor in {place}, just got engaged!",
    "Jabbed my toe on the bed frame again. Every single morning.",
    "Anxiety before the derby is through the roof in {place}.",
    "Caught a cold standing at the bus stop in {place} for forty minutes.",
    "Our weight loss club's bake sale raised \u00a3{n}0 for the hospice. Ironic, we know.",
    "Strike! Ten pins down at the bowling alley in {place}.",
    "Sugar rush after the kids' party. Never again.",
    "Careless drivers on the ring road in {place} again this morning.",
    "The home carousel at the fair in {place} is back for Christmas.",
)

# Openings and endings that vary how people write the same news (no topic words, no sentiment).
_OPENERS: tuple[str, ...] = (
    "Just seen this.", "From today's papers:", "ICYMI:", "Quick one:", "Latest:", "Saw this earlier.",
    "For the record:", "Noting this:", "Reading this on the train.", "Morning.", "Right then.",
    "In {place} today:", "Heads up:", "Sharing this:", "Worth knowing:",
)
_CLOSERS: tuple[str, ...] = (
    "More soon.", "Thoughts?", "Via the local paper.", "Figures from the board papers.", "Link in the thread.",
    "What do you make of it?", "Will post the full numbers later.", "Sharing for anyone affected.",
    "Seen in {place}.", "Details below.", "Make of that what you will.", "Same again next week, probably.",
)

# What the human-looking ring posts: one message, paraphrased, so no two look alike.
_SLEEPER_CLAUSES = (
    ("Switching to vaping", "Moving to vapes", "Trading cigarettes for a vape", "Going over to vaping",
     "Picking up a vape instead"),
    ("was the only thing that worked for me", "got me off cigarettes for good", "finally ended twenty years of "
     "cigarettes", "did what patches never did", "beat every quit plan I tried"),
    ("and the ban would take that away from people like my dad.", "so banning flavours feels backwards.",
     "which is why this ban worries me.", "and nobody asked us before the ban.", "so let adults choose, please.",
     "and my GP agrees it beat smoking."),
)
_LIVE_TEXT = (
    "LIVE: I am on my feet in the House now asking the minister to explain {kw}.",
    "LIVE: the minister has just refused to apologise for {kw}. Shameful.",
    "LIVE: I have asked for an urgent inquiry into {kw}. Families deserve answers.",
)

_TAGS = ("NHSWaitingList", "SocialCare", "VaccinesWork", "MentalHealthAwareness", "ChildhoodObesity",
         "JuniorDoctorsStrike", "SmokeFreeGeneration")
_OFF_TAGS = ("MondayMotivation", "Bakeoff", "Weekend", "Football")

_PLACES = ("Brackenford", "Eastmere", "Wrenfield", "Caldermouth", "Ellesby", "Greyhaven", "Thornwick",
           "Ashby Vale", "Marrowdale", "Oakridge", "Fellbridge", "Hollinsworth", "Kestrel Bay",
           "Lowmoor", "Pennick", "Rushbeck", "Saltmarsh", "Tarnley", "Upper Wetherby", "Westhollow")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_ORDINALS = ("third", "fourth", "fifth", "sixth")


_SLOT_RE = re.compile(r"\{(\w+)\}")


class _Slots:
    """Fill ``{slot}`` placeholders of templates with plausible values."""

    def __init__(self, rng: random.Random):
        r = rng
        ri = r.randint
        self.fns: dict[str, Callable[[], str]] = {
            "place": lambda: _PLACES[int(r.random() * len(_PLACES))],
            "n": lambda: str(ri(3, 60)),
            "n3": lambda: str(ri(120, 980)),
            "k": lambda: f"{ri(2, 95)},{ri(0, 999):03d}",
            "pct": lambda: str(ri(4, 38)),
            "pct2": lambda: str(ri(78, 93)),
            "pct3": lambda: str(ri(81, 98)),
            "weeks": lambda: str(r.choice((6, 9, 11, 14, 20, 26, 31, 40, 52, 60, 70))),
            "h": lambda: str(ri(9, 41)),
            "m": lambda: f"7.{ri(1, 9)}",
            "day": lambda: _DAYS[int(r.random() * len(_DAYS))],
            "ord": lambda: _ORDINALS[int(r.random() * len(_ORDINALS))],
            "money": lambda: f"\u00a3{ri(180, 390)}m",
        }
        self._parsed: dict[str, tuple[str, ...]] = {}

    def fill(self, tpl: str, **given: str) -> str:
        slots = self._parsed.get(tpl)
        if slots is None:
            slots = self._parsed[tpl] = tuple(dict.fromkeys(_SLOT_RE.findall(tpl)))
        if not slots:
            return tpl
        vals = {}
        for s in slots:
            v = given.get(s)
            vals[s] = v if v is not None else self.fns[s]()
        return tpl.format_map(vals)
