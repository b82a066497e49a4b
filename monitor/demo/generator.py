"""Generate a synthetic, realistic week of a health department's policy chatter.

The scenario is written in the formats Earshot reads from the real world, so the
demo, the tests and the benchmarks exercise the ordinary importers:

``x/posts-0000.jsonl`` ...
    X API v2 search response pages exactly as twarc2 writes them: one page a
    line, ``{"data": [...], "includes": {"users": [...], "tweets": [...]},
    "meta": {...}, "__twarc": {...}}``, about 100 tweets a page, oldest first.
    Tweets carry snowflake ids that grow with time and decode to their
    ``created_at``, entities with correct character offsets (in the text as X
    sends it, with ``&amp;`` for ``&``), ``referenced_tweets``, ``public_metrics``
    as they stood when the page was fetched. Retweets read
    ``"RT @handle: <text cut at 140 characters>…"``.
``rss/<feed>.xml``
    RSS 2.0 feeds of three fictional outlets; some tweets share their articles.
``ground_truth.json``
    What was planted, for tests and benchmarks to score against (see
    :func:`generate`).

Everyone in the scenario is fictional: people, organisations, handles, places
and outlets (links point at the reserved ``.example`` domain). Post texts are
written so the topic queries of ``config/keywords.yaml`` put every post on
exactly the topic it was generated for (off-topic chatter matches none).

What is planted
---------------
- **Accounts of many kinds** (:data:`KINDS`): journalists, MPs, charities,
  royal colleges, NHS trusts, think tanks, clinicians, campaigners, commentators,
  an industry lobby account, the public (most accounts) and a bot ring.
  Followers and activity are heavy-tailed (lognormal).
- **Communities**: every account follows one or two topics; who retweets,
  quotes or replies to whom follows preferential attachment inside topic
  communities (an account's appeal, plus a post's recent attention), with some
  cross-community traffic.
- **Central low-follower voices**: per topic, accounts with a few hundred
  followers whose posts are amplified by many distinct accounts across
  communities.
- **Follower-rich, unamplified accounts**: per topic, an account with 100k+
  followers that posts a lot and that nobody retweets, quotes, replies to or
  mentions.
- **A crisis**: on one topic, volume jumps several-fold for a few hours on day
  4 and sentiment sours, driven by a handful of accounts whose posts are widely
  retweeted.
- **A bot ring**: 15-30 recently created accounts with default-looking names
  that post around the clock, mostly retweets of one account, in coordinated
  bursts (all members retweet the same post within seconds) plus near-identical
  spam.
- **Daily and weekly cycles**: quiet nights, morning and evening peaks,
  quieter weekends.

Determinism and scale
---------------------
Everything derives from ``spec.seed``: the same spec gives byte-identical files.
Pages are written as they are generated; memory is bounded by the number of
accounts (capped at 100,000) and the posts still live for amplification, not by
``size``. Decisions (who posts what kind of post on which topic, to whom, when)
and rendering (texts, links) use separate random streams, so
:func:`iter_edges` replays the same interactions without rendering anything.
"""

from __future__ import annotations

import argparse
import gc
import html
import json
import math
import random
import re
import sys
import time
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import quote as _urlquote
from xml.sax.saxutils import escape as _xml_escape

import numpy as np

__all__ = [
    "TOPICS",
    "OFF_TOPIC",
    "KINDS",
    "FEEDS",
    "ScenarioSpec",
    "generate",
    "iter_edges",
    "main",
]

# ---------------------------------------------------------------------------------------------
# Topics, kinds, rhythm
# ---------------------------------------------------------------------------------------------

#: Topic ids, in the order of ``config/keywords.yaml``.
TOPICS: tuple[str, ...] = (
    "waiting_times",
    "social_care",
    "vaccination",
    "mental_health",
    "obesity",
    "junior_doctors",
    "smoking",
)
#: Label of chatter that is on none of the topics (used by :func:`iter_edges`).
OFF_TOPIC = "off_topic"
_NT = len(TOPICS)  # index of the off-topic "topic" in per-topic arrays
_SMOKING = TOPICS.index("smoking")

#: Account kinds, as used in ``ground_truth.json["accounts"]``.
KINDS: tuple[str, ...] = (
    "public",
    "journalist",
    "mp",
    "charity",
    "royal_college",
    "nhs_trust",
    "think_tank",
    "clinician",
    "campaigner",
    "commentator",
    "industry",
    "bot",
)
(K_PUBLIC, K_JOURNALIST, K_MP, K_CHARITY, K_COLLEGE, K_TRUST, K_THINK, K_CLINICIAN,
 K_CAMPAIGNER, K_COMMENTATOR, K_INDUSTRY, K_BOT) = range(len(KINDS))

# Share of background posts per topic (last entry: off-topic chatter).
_TOPIC_SHARE = (0.19, 0.11, 0.14, 0.15, 0.08, 0.14, 0.09, 0.10)

# Relative volume by hour of day (UTC is UK time in November): quiet nights,
# a morning peak, an evening peak.
_HOURLY = (0.30, 0.18, 0.11, 0.08, 0.08, 0.13, 0.32, 0.68, 1.05, 1.20, 1.15, 1.05,
           1.08, 1.02, 0.96, 0.95, 1.00, 1.10, 1.22, 1.32, 1.36, 1.22, 0.92, 0.56)
# Monday .. Sunday
_WEEKDAY = (1.00, 1.03, 1.00, 0.98, 0.93, 0.70, 0.66)

# Kinds of tweets in the background stream.
_P_ORIGINAL = 0.37
_P_RETWEET = 0.46
_P_QUOTE = 0.06  # the rest are replies (0.11)

ORIG, RT, QT, RP = 0, 1, 2, 3
_EDGE_NAMES = (None, "retweet", "quote", "reply")

# Tones of generated text.
NEU, POS, NEG, CRISIS, DRIVER, SPAM, PROMO = range(7)

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_MAX_AGE_MS = 72 * _HOUR_MS  # posts older than this are no longer amplified
_RING = 256  # recent posts per topic that attention-driven picks choose among
_REAPPEND_CAP = 30  # times one post may re-enter the attention ring
_P_APPEAL = 0.65  # share of amplifications aimed by account appeal (the rest by recent attention)
_MAX_ACCOUNTS = 100_000
_TW_EPOCH_MS = 1288834974657  # X snowflake epoch
_TWARC_VERSION = "2.14.0"
_MIN_SIZE = 1000

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

# ---------------------------------------------------------------------------------------------
# Text. Every template of a topic holds words its query in config/keywords.yaml matches (and no
# other topic's); keywords come early so a retweet's "RT @x: ..." cut at 140 characters keeps them.
# ---------------------------------------------------------------------------------------------

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

_ARTICLES: dict[int, list[tuple[str, str]]] = {
    0: [("Waiting list rises to {m} million as the elective backlog persists",
         "Official figures show {k} people waiting more than a year for planned treatment in England."),
        ("Trolley waits in A&E hit a winter high at {place} General",
         "Board papers show patients spent up to {h} hours on trolleys waiting for a bed."),
        ("Surgical hubs cut the waiting list for hip and knee operations",
         "Hospitals in {place} report a fall of {pct}% in the waiting list since dedicated theatres opened."),
        ("Ambulance crews in {place} wait hours outside A&E as trolley waits grow",
         "Paramedics say handover delays at {place} General are getting worse."),
        ("Elective backlog: {place} hospitals outsource operations to clear the waiting list",
         "The trust says {k} patients will be offered treatment at independent hospitals."),
        ("Waiting times for cancer tests miss target for {ord} month",
         "Figures show patients in {place} waited longer than the national standard.")],
    1: [("Social care vacancies top {k} as providers warn of winter pressures",
         "Care homes and home care agencies in {place} say recruitment is harder than ever."),
        ("Unpaid carers call for a rise in the carers allowance",
         "Charities say unpaid carers are being pushed into poverty."),
        ("Council plans for social care funding questioned by MPs",
         "The committee heard that care homes in {place} face rising costs."),
        ("Care homes in {place} struggle to recruit staff",
         "Providers say care workers are leaving for better pay in retail."),
        ("Unpaid carers in {place} describe life without respite",
         "A survey of {n3} unpaid carers found most had not had a break in a year."),
        ("Social care reform: what the new plan means for families",
         "Ministers have promised changes to how social care costs are capped.")],
    2: [("MMR vaccination rates fall below target in {place}",
         "Uptake of the MMR vaccine among two-year-olds has dropped to {pct2}%."),
        ("Flu jab campaign opens with pharmacies offering walk-in appointments",
         "The winter vaccination programme begins this week."),
        ("Vaccine uptake in pregnancy improves, figures show",
         "More expectant mothers are taking up the whooping cough vaccine."),
        ("Measles cases prompt MMR vaccine catch-up clinics in {place}",
         "Health officials urge parents to check their children are up to date with the MMR vaccine."),
        ("School vaccination teams in {place} reach record numbers",
         "The flu jab programme reached {pct2}% of primary pupils this autumn."),
        ("Pharmacists call for a bigger role in the vaccination programme",
         "Community pharmacies delivered {k} flu jabs last winter.")],
    3: [("CAMHS referrals reach record high",
         "{k} children and young people were referred to mental health services last month."),
        ("Schools in {place} trial mental health support teams",
         "The pilot puts a mental health practitioner in every secondary school."),
        ("Mental health services under strain as anxiety referrals rise",
         "Clinicians say mental health support for adults is stretched."),
        ("Mental health trust in {place} opens crisis cafe",
         "The service offers mental health support without an appointment in the evenings."),
        ("CAMHS waits: families in {place} describe months of uncertainty",
         "Parents say their children are waiting too long for mental health assessments."),
        ("Mental health support in universities under review",
         "Student anxiety and support services are the focus of a new inquiry.")],
    4: [("Sugar tax has cut sugar in soft drinks by a third",
         "Researchers say the sugar tax prompted reformulation across the industry."),
        ("Junk food advertising ban delayed again",
         "Campaigners say the delay will make childhood obesity worse."),
        ("Healthy weight programme for families launches in {place}",
         "The scheme offers support to families worried about childhood obesity."),
        ("Childhood obesity rates rise in {place}",
         "Figures show {pct}% of children leave primary school obese."),
        ("Councils in {place} use planning rules to limit junk food outlets",
         "New takeaways will be barred near schools to tackle childhood obesity."),
        ("Healthy weight services face cuts, charities warn",
         "Obesity programmes for families in {place} may close next year.")],
    5: [("Junior doctors vote for further strike action",
         "The BMA says {pct3}% of resident doctors backed more walkouts over pay."),
        ("Hospitals in {place} prepare for junior doctors strike",
         "Trusts warn that planned operations will be postponed during the walkout."),
        ("BMA and ministers resume pay talks with resident doctors",
         "Both sides say talks on pay for junior doctors were constructive."),
        ("Resident doctors in {place} join picket lines",
         "Junior doctors say the walkout is about pay and patient safety."),
        ("BMA ballot opens on further junior doctors strike action",
         "Resident doctors have until {day} to vote on industrial action over pay."),
        ("Junior doctors strike: {n3} operations postponed in {place}",
         "Hospital bosses say the walkout has added to pressure on services.")],
    6: [("Generation ban on tobacco sales returns to Parliament",
         "The bill would stop anyone born after 2008 from legally buying tobacco."),
        ("Youth vaping rises in {place}, survey finds",
         "Trading standards say disposable vapes are still sold to children."),
        ("Smoking rates fall to a record low",
         "Fewer than one in ten adults in {place} now report smoking."),
        ("Trading standards seize {n3} illegal vapes in {place}",
         "Officers found disposable vapes being sold to children near schools."),
        ("Smoking ban in beer gardens considered by ministers",
         "Publicans say an outdoor smoking ban would hit trade."),
        ("Stop smoking services in {place} see record demand",
         "Advisers say more smokers are using vapes to quit tobacco.")],
}

#: The fictional outlets whose RSS feeds are written: (file name, title, site URL, topic weights).
FEEDS: tuple[tuple[str, str, str, tuple[float, ...]], ...] = (
    ("herald-health", "The Northern Herald - Health", "https://www.herald.example/health",
     (1.0, 0.4, 1.0, 0.5, 0.8, 1.0, 1.0)),
    ("ledger-society", "The Ledger - Society", "https://www.theledger.example/society",
     (0.6, 1.0, 0.4, 1.0, 1.0, 0.5, 0.5)),
    ("ward-weekly", "Ward Weekly", "https://www.wardweekly.example/news",
     (0.8, 0.8, 0.8, 0.8, 0.2, 1.0, 0.3)),
)

_TAGS = ("NHSWaitingList", "SocialCare", "VaccinesWork", "MentalHealthAwareness", "ChildhoodObesity",
         "JuniorDoctorsStrike", "SmokeFreeGeneration")
_OFF_TAGS = ("MondayMotivation", "Bakeoff", "Weekend", "Football")

_PLACES = ("Brackenford", "Eastmere", "Wrenfield", "Caldermouth", "Ellesby", "Greyhaven", "Thornwick",
           "Ashby Vale", "Marrowdale", "Oakridge", "Fellbridge", "Hollinsworth", "Kestrel Bay",
           "Lowmoor", "Pennick", "Rushbeck", "Saltmarsh", "Tarnley", "Upper Wetherby", "Westhollow")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_ORDINALS = ("third", "fourth", "fifth", "sixth")

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
_RICH_PERSONAS = (
    ("Dr Val Ambrosen", "DrValOnTV", "TV doctor. Weekday mornings on breakfast television. Author."),
    ("Marcus Fennimore", "MarcusFennimore", "Broadcaster and columnist. Opinions: mine, loudly."),
    ("Lottie Brightmore", "LottieGlowsUp", "Wellness. Lifestyle. Positivity. Brand enquiries via email."),
    ("Gideon Larkspur", "GideonSaysSo", "Columnist, podcaster, occasional provocateur."),
    ("Chef Rory Goldhawk", "RoryCooksReal", "Chef, restaurateur and TV cook. New book out now."),
    ("Dr Anya Penhallow", "DrAnyaLive", "Doctor, presenter, bestselling author of The Calm Clinic."),
    ("Danny Treadgold", "DannyTreadgold", "Radio host. Phone-ins every weekday from 9."),
)


# ---------------------------------------------------------------------------------------------
# Spec
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScenarioSpec:
    """What to generate.

    Parameters
    ----------
    size : int
        Number of tweets (originals, retweets, quotes and replies), at least 1000.
    seed : int
        Everything derives from it: the same spec gives byte-identical files.
    start : datetime
        Start of the week (UTC). The default, 2026-11-16, is a Monday.
    days : int
        Length of the scenario in days (at least 2).
    crisis_topic : str
        The topic (one of :data:`TOPICS`) on which the crisis is planted.
    with_rss : bool
        Write the RSS feeds (tweets link to their articles either way).
    crisis_day : int
        Day of the crisis, counted from the (UTC) date of ``start``: default 3, the Thursday.
        Clipped to the last day.
    crisis_hour : int
        UTC hour the crisis starts (the window is kept inside the scenario).
    crisis_hours : int
        Length of the spike window in hours (3-6 look realistic).
    """

    size: int = 1000
    seed: int = 7
    start: datetime = datetime(2026, 11, 16, tzinfo=timezone.utc)
    days: int = 7
    crisis_topic: str = "vaccination"
    with_rss: bool = True
    crisis_day: int = 3
    crisis_hour: int = 10
    crisis_hours: int = 5

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if not isinstance(self.size, int) or self.size < _MIN_SIZE:
            raise ValueError(f"ScenarioSpec.size must be an integer >= {_MIN_SIZE} (the planted structure "
                             f"needs it), got {self.size!r}")
        if self.days < 2:
            raise ValueError(f"ScenarioSpec.days must be at least 2, got {self.days!r}")
        if self.crisis_topic not in TOPICS:
            raise ValueError(f"ScenarioSpec.crisis_topic must be one of {', '.join(TOPICS)}; got {self.crisis_topic!r}")
        if not 0 <= self.crisis_hour <= 23:
            raise ValueError(f"ScenarioSpec.crisis_hour must be 0-23, got {self.crisis_hour!r}")
        if not 1 <= self.crisis_hours <= 12:
            raise ValueError(f"ScenarioSpec.crisis_hours must be 1-12, got {self.crisis_hours!r}")
        if self.crisis_day < 0:
            raise ValueError(f"ScenarioSpec.crisis_day must be >= 0, got {self.crisis_day!r}")

    @property
    def start_utc(self) -> datetime:
        s = self.start if self.start.tzinfo else self.start.replace(tzinfo=timezone.utc)
        return s.astimezone(timezone.utc)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

class _Sampler:
    """Draw account numbers with probability proportional to their weights.

    Draws come from the sampler's own random stream, in vectorised batches, so a draw costs
    a list lookup; the sequence of draws depends only on the weights and the stream's seed.
    """

    __slots__ = ("items", "cum", "total", "gen", "buf", "pos")

    def __init__(self, weights: np.ndarray, seed: Sequence[int]):
        idx = np.nonzero(weights > 0)[0]
        self.items = idx
        self.cum = np.cumsum(weights[idx])
        self.total = float(self.cum[-1]) if len(idx) else 0.0
        self.gen = np.random.default_rng(list(seed))
        self.buf: list[int] = []
        self.pos = 0

    def draw(self) -> int:
        pos = self.pos
        if pos >= len(self.buf):
            n = 256 if not self.buf else min(8192, 2 * len(self.buf))
            i = np.searchsorted(self.cum, self.gen.random(n) * self.total, side="right")
            self.buf = self.items[np.minimum(i, len(self.items) - 1)].tolist()
            pos = 0
        self.pos = pos + 1
        return self.buf[pos]

    def __bool__(self) -> bool:
        return self.total > 0


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
                 "urlmap", "uids", "rt_cache", "created", "extra")

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


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


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


def _pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[int(rng.random() * len(seq))]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


_MENTION_LEADS = (" cc", " via", " h/t", "")
_ELLIPSIS = "\u2026"
_SECONDS = tuple(f"{i:02d}" for i in range(60))
_ZERO_METRICS = tuple('{"retweet_count":0,"reply_count":0,"like_count":%d,"quote_count":0}}' % i for i in range(4))
_dumps = json.JSONEncoder().encode  # the C encoder; ensure_ascii as twarc writes
_SLOT_RE = re.compile(r"\{(\w+)\}")
_ENT_RE = re.compile(r"(?<![\w@])@(\w{1,15})|(?<![\w&#])#([A-Za-z]\w*)|(https://t\.co/[A-Za-z0-9]{10})")


# ---------------------------------------------------------------------------------------------
# Accounts
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# The core: schedule and decisions
# ---------------------------------------------------------------------------------------------

# event codes
_EV_BG, _EV_CRISIS, _EV_BOT, _EV_BURST_POST, _EV_BURST_RT, _EV_DRIVER, _EV_PLANTED = range(7)
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
        fixed = (self.n_bursts * (1 + self.ring_size) + n_drivers * self.driver_posts_each + n_bot_filler
                 + n_planted)
        share_c = _TOPIC_SHARE[self.crisis_topic] / sum(_TOPIC_SHARE)
        q = float(p_bg[cs:ce].sum())
        c = 5.0  # crisis events in the window, as a multiple of the topic's usual volume then
        # the bot ring posts on smoking around the clock: part of that topic's usual volume too
        bots_usual = 0.0
        if self.crisis_topic == _SMOKING:
            bots_usual = (n_bot_filler + self.n_bursts * (1 + self.ring_size)) * (ce - cs) / self.minutes
        n_bg = int(round((size - fixed - c * bots_usual / f_window) / (1 + c * share_c * q / f_window)))
        n_crisis = size - fixed - n_bg
        if n_bg < size * 0.5:
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
        self.amplifiers: dict[tuple[int, int], set[int]] = {}
        self.tracked = pop.tracked
        self.is_bot = pop.is_bot
        self.rich_set = {i for lst in pop.rich.values() for i in lst}
        kinds = pop.kinds
        p_mention = {K_PUBLIC: 0.06, K_JOURNALIST: 0.3, K_MP: 0.35, K_CHARITY: 0.3, K_COLLEGE: 0.25,
                     K_TRUST: 0.2, K_THINK: 0.25, K_CLINICIAN: 0.2, K_CAMPAIGNER: 0.2, K_COMMENTATOR: 0.1,
                     K_INDUSTRY: 0.2, K_BOT: 0.0}
        self.p_mention = [p_mention[k] for k in kinds]

    # -- setup helpers
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
        for _ in range(2 if rnd() < 0.25 else 1):
            m = s.draw()
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
        if self.is_bot[a] or a in self.rich_set:
            return
        p.ringable = True
        self.rings[p.topic].add(p)
        if self.tracked[a]:
            self.last_post[p.topic][a] = p

    def _original(self, ms: int, topic: int, author: int | None = None, tone: int | None = None) -> _Post:
        rnd = self.rng.random
        if author is None:
            author = self.orig_s[topic].draw()
        if tone is None:
            r = rnd()
            tone = NEU if (r < 0.5 or topic == _NT) else (POS if r < 0.75 else NEG)
        p = self._new(ms, ORIG, author, topic, None, tone, self._mentions(topic, author))
        self._publish(p)
        return p

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

    def _pick_actor(self, topic: int, target: _Post, kind: int, cross: float) -> int | None:
        rnd = self.rng.random
        for _ in range(4):
            if rnd() < cross:
                a = self.global_s.draw()
            else:
                a = self.orig_s[topic].draw()
            if a == target.author:
                continue
            if kind == RT and target.rt_by is not None and a in target.rt_by:
                continue
            return a
        return None

    def _amplify(self, ms: int, kind: int, actor: int, target: _Post, tone: int) -> _Post:
        topic = target.topic
        mentions = () if kind == RT else self._mentions(topic, actor)
        p = self._new(ms, kind, actor, topic, target, tone, mentions)
        bot = self.is_bot[actor]
        if kind == RT:
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
            if self.tracked[target.author]:
                key = (topic, target.author)
                s = self.amplifiers.get(key)
                if s is None:
                    s = self.amplifiers[key] = set()
                s.add(actor)
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
        actor = self._pick_actor(t, target, kind, 0.35)
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
                                                 self._driver, self._planted]
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

    # -- results
    def expected_top(self, k: int = 10) -> dict[str, list[str]]:
        ids = self.pop.ids
        out: dict[str, list[str]] = {}
        for t in range(_NT):
            scored = [(len(s), a) for (tt, a), s in self.amplifiers.items() if tt == t]
            scored.sort(key=lambda x: (-x[0], ids[x[1]]))
            out[TOPICS[t]] = [ids[a] for n, a in scored[:k] if n > 0]
        return out

    def distinct_amplifiers(self, t: int, a: int) -> int:
        return len(self.amplifiers.get((t, a), ()))


# ---------------------------------------------------------------------------------------------
# Articles (RSS)
# ---------------------------------------------------------------------------------------------

@dataclass
class _Article:
    ms: int
    topic: int
    feed: int
    title: str
    description: str
    link: str
    creator: str
    url_json: str = ""


def _make_articles(spec: ScenarioSpec, pop: _Population, core: _Core) -> list[_Article]:
    """The outlets' articles of the week (a fixed number per size), plus the crisis story."""
    rng = random.Random(spec.seed * 15485863 + 5)
    n = min(600, max(40, spec.size // 100))
    start_ms = core.start_ms
    days = spec.days
    out: list[_Article] = []
    topic_w = [_TOPIC_SHARE[t] for t in range(_NT)]
    slots = _Slots(rng)
    seen_titles: set[str] = set()

    def byline(feed: int) -> str:
        js = pop.journalists_by_outlet.get(feed) or []
        if js and rng.random() < 0.8:
            return pop.names[js[int(rng.random() * len(js))]]
        return f"{FEEDS[feed][1].split(' - ')[0]} reporters"

    for _ in range(n):
        t = rng.choices(range(_NT), weights=topic_w)[0]
        feed = rng.choices(range(len(FEEDS)), weights=[f[3][t] for f in FEEDS])[0]
        day = int(rng.random() * days)
        weekday = (spec.start_utc.weekday() + day) % 7
        if weekday >= 5 and rng.random() < 0.5:
            day = max(0, day - (weekday - 4))
        ms = core.midnight_ms + day * _DAY_MS + int((6 + 15 * rng.random()) * _HOUR_MS)
        ms = min(max(ms, start_ms), core.end_ms - 1)
        for _try in range(8):  # different stories get different headlines
            title, desc = rng.choice(_ARTICLES[t])
            title = slots.fill(title)
            if title not in seen_titles:
                break
        seen_titles.add(title)
        out.append(_Article(ms, t, feed, title, slots.fill(desc), "", byline(feed)))
    # the crisis story, published as the crisis breaks, by the driving journalist's outlet
    journalist = core.drivers[0]
    feed = pop.outlet[journalist] if pop.outlet[journalist] >= 0 else 0
    ct = core.crisis_topic
    out.append(_Article(core.crisis_window[0] + 30_000, ct, feed, slots.fill(_CRISIS_HEADLINES[ct][0]),
                        slots.fill("Parents and staff say they are furious. " + _cap(_CRISIS_PHRASES[ct][0]) +
                                   " has left families in {place} without help."),
                        "", pop.names[journalist]))
    out.sort(key=lambda a: (a.ms, a.title))
    seen: set[str] = set()
    for k, a in enumerate(out):
        d = _ms_to_dt(a.ms)
        slug = re.sub(r"[^a-z0-9]+", "-", a.title.lower()).strip("-")[:60].rstrip("-")
        link = f"{FEEDS[a.feed][2]}/{d:%Y/%m/%d}/{slug}-{k + 1:05d}"
        while link in seen:
            link += "x"
        seen.add(link)
        a.link = link
        display = link.split("://", 1)[1]
        host, _, path = display.partition("/")
        display = host + "/" + (path[:15] + "\u2026" if len(path) > 15 else path)
        a.url_json = ('"expanded_url":' + json.dumps(link) + ',"display_url":' + json.dumps(display) +
                      ',"status":200,"title":' + json.dumps(a.title) + ',"description":' +
                      json.dumps(a.description) + ',"unwound_url":' + json.dumps(link))
    return out


def _write_feeds(out_dir: Path, articles: list[_Article], spec: ScenarioSpec) -> list[str]:
    """Write one RSS 2.0 file per outlet (newest item first); returns the file names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = []
    end = spec.start_utc + timedelta(days=spec.days)
    for f, (name, title, site, _w) in enumerate(FEEDS):
        items = [a for a in articles if a.feed == f]
        items.sort(key=lambda a: a.ms, reverse=True)
        last = _ms_to_dt(items[0].ms) if items else end
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">',
            "<channel>",
            f"<title>{_xml_escape(title)}</title>",
            f"<link>{_xml_escape(site)}</link>",
            f'<atom:link href="{_xml_escape(site)}/rss.xml" rel="self" type="application/rss+xml"/>',
            f"<description>{_xml_escape(title)}: news and analysis (fictional outlet, Earshot demo data)</description>",
            "<language>en-gb</language>",
            f"<lastBuildDate>{_rfc822(last)}</lastBuildDate>",
            "<ttl>15</ttl>",
        ]
        for a in items:
            lines += [
                "<item>",
                f"<title>{_xml_escape(a.title)}</title>",
                f"<link>{_xml_escape(a.link)}</link>",
                f'<guid isPermaLink="true">{_xml_escape(a.link)}</guid>',
                f"<description>{_xml_escape(a.description)}</description>",
                f"<pubDate>{_rfc822(_ms_to_dt(a.ms))}</pubDate>",
                f"<dc:creator>{_xml_escape(a.creator)}</dc:creator>",
                f"<category>{_xml_escape(_AREAS[a.topic])}</category>",
                "</item>",
            ]
        lines += ["</channel>", "</rss>", ""]
        path = out_dir / f"{name}.xml"
        path.write_text("\n".join(lines), encoding="utf-8", newline="\n")
        names.append(path.name)
    return names


def _rfc822(dt: datetime) -> str:
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    dt = dt.astimezone(timezone.utc)
    return f"{days[dt.weekday()]}, {dt.day:02d} {months[dt.month - 1]} {dt.year} {dt:%H:%M:%S} +0000"


# ---------------------------------------------------------------------------------------------
# Rendering and writing tweets
# ---------------------------------------------------------------------------------------------

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

    def _body(self, p: _Post) -> str:
        rng = self.rng
        fill = self.slots.fill
        topic, tone, kind = p.topic, p.tone, p.kind
        if kind == ORIG:
            if tone <= NEG:
                lst = _ORIGINALS[topic].get(tone) or _ORIGINALS[topic][NEU]
                return fill(lst[int(rng.random() * len(lst))])
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
        return fill(lst[int(rng.random() * len(lst))], kw=kw, Kw=_cap(kw))

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
        urls = ""
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
                urls = f'"urls":[{{"start":{pos + 1},"end":{pos + 24},"url":"{tco}",{art.url_json}}}]'
                suffix += " " + tco
        elif kind == QT:
            tco = self._tco_next()
            path = f"/{handles[tgt.author]}/status/{tgt.id}"
            u = (f'"expanded_url":"https://twitter.com{path}","display_url":"twitter.com'
                 f'{path[:15] + _ELLIPSIS if len(path) > 15 else path}"')
            urlmap = {tco: u}
            urls = f'"urls":[{{"start":{pos + 1},"end":{pos + 24},"url":"{tco}",{u}}}]'
            suffix += " " + tco
        text = prefix + body + suffix if (prefix or suffix) else body
        p.text = text
        p.urlmap = urlmap
        if mentions or tags or urls:
            members = []
            if mentions:
                members.append('"mentions":[' + ",".join(mentions) + "]")
            if tags:
                members.append('"hashtags":[' + ",".join(tags) + "]")
            if urls:
                members.append(urls)
            ents = ',"entities":{' + ",".join(members) + "}"
        else:
            ents = ""
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
        members = []
        if mentions:
            members.append('"mentions":[' + ",".join(mentions) + "]")
        if tags:
            members.append('"hashtags":[' + ",".join(tags) + "]")
        if urls:
            members.append('"urls":[' + ",".join(urls) + "]")
        if not members:
            return "", tuple(uids)
        return ',"entities":{' + ",".join(members) + "}", tuple(uids)

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
            tweets = int(pop.activity[i] * 900 + 40) if pop.kinds[i] != K_BOT else 2000 + (int(pop.ids[i]) % 7000)
            listed = fol // 120 + (int(pop.ids[i]) % 7)
            img = ("https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
                   if pop.kinds[i] == K_BOT else
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


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

def _setup(spec: ScenarioSpec) -> tuple[_Population, _Core]:
    spec.validate()
    pop = _Population(spec)
    core = _Core(spec, pop)
    return pop, core


def generate(out_dir: str | Path, spec: ScenarioSpec = ScenarioSpec(), progress: bool = False) -> dict[str, Any]:
    """Write the scenario into ``out_dir`` and return its ground truth.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if missing). ``x/posts-NNNN.jsonl`` files, the feeds
        ``rss/<feed>.xml`` of :data:`FEEDS` and ``ground_truth.json`` there are replaced (stale ones
        removed); other files are left alone.
    spec : ScenarioSpec
        What to generate.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    dict
        The ground truth, also written to ``ground_truth.json``:

        - ``seed``, ``size``, ``start``, ``end`` (ISO 8601, UTC), ``topics``, ``files``;
        - ``crisis``: ``topic``, ``start``/``end`` of the spike window, ``driver_accounts`` (user ids),
          ``expected_sentiment`` ("negative"), ``article`` (the story that broke it);
        - ``influencers``: ``central_low_follower`` and ``follower_rich_unamplified`` (user ids), and
          the same per topic under ``..._by_topic``;
        - ``expected_top_influencers``: per topic, up to 10 user ids ordered by how many distinct
          (non-bot) accounts retweeted, quoted or replied to them on the topic, among the accounts
          in public life, the planted ones and the ~3% most appealing members of the public;
        - ``bot_ring``: ``members``, ``amplifies`` (user id), ``topic``, ``bursts`` ([first, last]
          retweet time of each burst);
        - ``counts``: ``posts`` (all tweets = size), ``originals``, ``retweets``, ``quotes``,
          ``replies``, ``articles`` (RSS items written), ``per_topic`` (tweets per topic),
          ``off_topic``, ``articles_per_topic``;
        - ``accounts``: user id -> kind (one of :data:`KINDS`);
        - ``handles``: user id -> handle (what Earshot's output shows), for every id above.

    Examples
    --------
    >>> import tempfile
    >>> truth = generate(tempfile.mkdtemp(), ScenarioSpec(size=1000, seed=1))
    >>> truth["counts"]["posts"]
    1000
    >>> driver = truth["crisis"]["driver_accounts"][0]
    >>> truth["handles"][driver] != driver and len(truth["handles"]) == len(truth["accounts"])
    True
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    x_dir = out / "x"
    x_dir.mkdir(parents=True, exist_ok=True)
    for old in x_dir.glob("posts-*.jsonl"):
        old.unlink()
    for name, *_ in FEEDS:
        (out / "rss" / f"{name}.xml").unlink(missing_ok=True)
    pop, core = _setup(spec)
    articles = _make_articles(spec, pop, core)
    writer = _Writer(spec, pop, core, articles, x_dir)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=spec.size, unit="tweet", unit_scale=True, desc="demo week", file=sys.stderr)
    n = 0
    # The objects made here hold no reference cycles; pausing the cyclic GC (restored below)
    # saves its repeated scans of the many live posts.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        add = writer.add
        for p in core.run():
            add(p)
            n += 1
            if bar is not None and n % 10_000 == 0:
                bar.update(10_000)
        writer.close()
    finally:
        if gc_was_enabled:
            gc.enable()
    if bar is not None:
        bar.update(n - bar.n)
        bar.close()
    if n != spec.size:  # pragma: no cover - a bug in the schedule, not a user error
        raise RuntimeError(f"demo generator made {n} tweets instead of {spec.size}")
    rss_files: list[str] = []
    if spec.with_rss:
        rss_files = _write_feeds(out / "rss", articles, spec)
    truth = _ground_truth(spec, pop, core, articles, writer.files, rss_files)
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    if progress:
        print(f"wrote {n} tweets in {writer.pages} pages, {len(rss_files)} feeds, to {out} "
              f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return truth


def _ground_truth(spec: ScenarioSpec, pop: _Population, core: _Core, articles: list[_Article],
                  x_files: list[str], rss_files: list[str]) -> dict[str, Any]:
    ids = pop.ids
    start = spec.start_utc
    central_by = {TOPICS[t]: [ids[i] for i in pop.central[t]] for t in range(_NT)}
    rich_by = {TOPICS[t]: [ids[i] for i in pop.rich[t]] for t in range(_NT)}
    written = articles if rss_files else []
    art_per = {TOPICS[t]: sum(1 for a in written if a.topic == t) for t in range(_NT)}
    # the story exists (tweets link to it) even when the feeds are not written
    crisis_article = next((a.link for a in articles if a.ms == core.crisis_window[0] + 30_000), None)
    return {
        "seed": spec.seed,
        "size": spec.size,
        "start": _iso(start),
        "end": _iso(start + timedelta(days=spec.days)),
        "topics": list(TOPICS),
        "files": {"x": [f"x/{f}" for f in x_files], "rss": [f"rss/{f}" for f in rss_files]},
        "crisis": {
            "topic": spec.crisis_topic,
            "start": _iso(_ms_to_dt(core.crisis_window[0])),
            "end": _iso(_ms_to_dt(core.crisis_window[1])),
            "driver_accounts": [ids[i] for i in core.drivers],
            "expected_sentiment": "negative",
            "article": crisis_article,
        },
        "influencers": {
            "central_low_follower": [i for lst in central_by.values() for i in lst],
            "central_low_follower_by_topic": central_by,
            "follower_rich_unamplified": [i for lst in rich_by.values() for i in lst],
            "follower_rich_unamplified_by_topic": rich_by,
        },
        "expected_top_influencers": core.expected_top(),
        "bot_ring": {
            "members": [ids[i] for i in pop.bots],
            "amplifies": ids[pop.bot_target],
            "topic": TOPICS[_SMOKING],
            "bursts": [[_iso(_ms_to_dt(a)), _iso(_ms_to_dt(b))] for a, b in core.bursts],
        },
        "counts": {
            "posts": sum(core.kind_counts),
            "originals": core.kind_counts[ORIG],
            "retweets": core.kind_counts[RT],
            "quotes": core.kind_counts[QT],
            "replies": core.kind_counts[RP],
            "articles": len(written),
            "per_topic": {TOPICS[t]: core.topic_counts[t] for t in range(_NT)},
            "off_topic": core.topic_counts[_NT],
            "articles_per_topic": art_per,
        },
        "accounts": {ids[i]: KINDS[pop.kinds[i]] for i in range(pop.n)},
        "handles": {ids[i]: pop.handles[i] for i in range(pop.n)},
    }


def iter_edges(spec: ScenarioSpec = ScenarioSpec()) -> Iterator[tuple[str, str, str, str, datetime]]:
    """The scenario's interactions without writing anything: ``(topic, kind, src, dst, time)``.

    Runs the same decision code as :func:`generate` (rendering skipped), so the edges are
    exactly those of the written files: for each retweet, quote and reply an edge of that kind
    from its author to the referenced post's author, and for each explicit mention an edge of
    kind ``"mention"``. The ``@handle`` X puts at the start of a reply and the ``RT @handle:`` of
    a retweet are not counted as mentions. ``topic`` is one of :data:`TOPICS` or
    :data:`OFF_TOPIC`; ``src``/``dst`` are user ids; ``time`` is an aware UTC datetime.

    Examples
    --------
    >>> edges = list(iter_edges(ScenarioSpec(size=1000)))
    >>> sorted({kind for _, kind, _, _, _ in edges})
    ['mention', 'quote', 'reply', 'retweet']
    """
    pop, core = _setup(spec)
    ids = pop.ids
    names = TOPICS + (OFF_TOPIC,)
    for p in core.run():
        t = p.target
        if t is None and not p.mentions:
            continue
        dt = _ms_to_dt(p.ms)
        topic = names[p.topic]
        src = ids[p.author]
        if t is not None:
            yield topic, _EDGE_NAMES[p.kind], src, ids[t.author], dt
            p.target = None
        for m in p.mentions:
            yield topic, "mention", src, ids[m], dt


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m monitor.demo.generator OUT --size N --seed S``: write a scenario, print a summary."""
    ap = argparse.ArgumentParser(prog="python -m monitor.demo.generator",
                                 description="Write a synthetic week of health-policy posts and its ground truth.")
    ap.add_argument("out", type=Path, help="folder to write into")
    ap.add_argument("--size", type=int, default=1000, help="number of tweets (>= 1000; default 1000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default="2026-11-16", help="start of the week, ISO date or time (UTC)")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--crisis-topic", default="vaccination", choices=TOPICS)
    ap.add_argument("--no-rss", action="store_true", help="do not write the RSS feeds")
    ap.add_argument("--progress", action="store_true", help="show a progress bar")
    args = ap.parse_args(list(argv) if argv is not None else None)
    try:
        start = datetime.fromisoformat(args.start)
    except ValueError:
        ap.error(f"--start: not an ISO date or time: {args.start!r}")
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    spec = ScenarioSpec(size=args.size, seed=args.seed, start=start, days=args.days,
                        crisis_topic=args.crisis_topic, with_rss=not args.no_rss)
    try:
        spec.validate()
    except ValueError as exc:
        ap.error(str(exc))
    t0 = time.perf_counter()
    truth = generate(args.out, spec, progress=args.progress)
    secs = time.perf_counter() - t0
    c = truth["counts"]
    print(f"{c['posts']} tweets ({c['originals']} originals, {c['retweets']} retweets, {c['quotes']} quotes, "
          f"{c['replies']} replies), {c['articles']} articles, {len(truth['accounts'])} accounts "
          f"in {secs:.1f}s ({c['posts'] / max(secs, 1e-9):,.0f} tweets/s) -> {args.out}")
    print(f"crisis: {truth['crisis']['topic']} {truth['crisis']['start']} .. {truth['crisis']['end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
