"""The news articles and the RSS feeds of the fictional outlets.

Part of the demo scenario generator (:mod:`monitor.demo.generator`).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape as _xml_escape

from monitor.demo.spec import FEEDS, ScenarioSpec, _DAY_MS, _HOUR_MS, _NT, _TOPIC_SHARE, _cap, _ms_to_dt
from monitor.demo.text import _CRISIS_HEADLINES, _CRISIS_PHRASES, _Slots
from monitor.demo.population import _AREAS, _Population
from monitor.demo.schedule import _Core


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
