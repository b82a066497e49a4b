"""``earshot influencers``: the influencer lookup on the command line, and the summary lines.

Plugged into the ``earshot`` command through the ``earshot.commands`` entry
point, and into ``earshot demo`` / ``earshot status`` through ``earshot.summary``
(see :mod:`monitor.hooks`).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from influence.analysis import Ranking, analyse
from influence.bots import boost_label
from influence.export import FORMATS, export
from influence.graph import ALL_PLATFORMS
from influence.lookup import (DEFAULT_WINDOW, STALE_AFTER, InfluenceError, compute_run, explain, resolve_window,
                              stored)
from influence import results
from influence.scoring import MEASURES
from monitor.clean import display
from monitor.cliutil import WHEN, _fail, _topic_id
from monitor.cliutil import _context as _ctx


def _fmt_change(a) -> str:
    if a.rank_change is None:
        return "new"
    return f"{a.rank_change:+d}" if a.rank_change else "="


def format_header(r: Ranking) -> list[str]:
    """The lines that say what a ranking is of: topic, window, network, and when it was computed."""
    plat = "all platforms" if r.platform == ALL_PLATFORMS else f"platform {r.platform}"
    name = f"{r.label} ({r.topic})" if r.label else r.topic
    if r.exclude_flagged:
        counted = (f"{r.interactions - r.excluded_interactions:,} interactions scored ({r.excluded_interactions:,} "
                   f"by the {r.flagged_accounts} accounts flagged as automated or coordinated left out of "
                   f"{r.interactions:,} read)")
    else:
        counted = (f"{r.interactions:,} interactions; {r.flagged_accounts} accounts flagged as automated or "
                   f"coordinated")
    return [
        f"Influencers on {name}, {r.since:%Y-%m-%d %H:%M} \u2192 {r.until:%Y-%m-%d %H:%M} UTC, {plat}"
        + (", without flagged accounts' interactions" if r.exclude_flagged else ""),
        f"network: {r.network_accounts:,} accounts, {r.edges:,} links, {counted}",
        f"{'computed now' if r.source == 'fresh' else 'stored result'} (computed {r.computed_at:%Y-%m-%d %H:%M} UTC "
        f"in {r.seconds:.2f} s)",
    ]


def format_ranking(r: Ranking) -> list[str]:
    """The ranking as a text table with its header and legend."""
    lines = format_header(r)
    if not r.accounts:
        lines.append("no interactions on this topic in the window: nobody to rank")
        return lines
    w = r.weights
    lines.append("score = " + " + ".join(f"{w[k]:.0%} {k}" for k in MEASURES if w.get(k))
                 + " (each relative to the topic's top account; 0 for accounts nobody engaged with); "
                   "followers and retweets are shown, never scored")
    if r.constant:
        lines.append(f"not scored on this network: {', '.join(r.constant)} (the same for every account, "
                     f"so it tells nobody apart)")
    lines.append("")
    head = (f"{'#':>4} {'chg':>5}  {'account':<26} {'score':>6} {'pagerank':>9} {'engaged':>7} {'authority':>9} "
            f"{'between':>8} {'comm':>4} {'followers':>9} {'RT+QT':>6}  flags")
    lines.append(head)
    for a in r.accounts:
        disp = a.display + (" *" if a.stakeholder else "")
        if a.partial:
            disp += " (no profile)"
        flags = ("FLAGGED: " + ",".join(f["kind"] for f in a.flags)) if a.flagged else ""
        if a.boosted:
            flags = (flags + "; " if flags else "") + boost_label(a.boosted)
        lines.append(
            f"{a.rank:>4} {_fmt_change(a):>5}  {disp[:26]:<26} {a.score:>6.1f} {a.pagerank:>9.5f} {a.in_degree:>7} "
            f"{a.authority:>9.5f} {a.betweenness:>8.5f} {'' if a.community is None else a.community:>4} "
            f"{'?' if a.followers is None else a.followers:>9} {a.amplifications:>6}  {flags}")
    lines.append("")
    lines.append("* = on the topic's stakeholder list; chg = places gained since the previous window "
                 "(new = not ranked then); engaged = distinct accounts that retweeted, quoted, replied or mentioned;")
    lines.append("FLAGGED = automated or coordinated behaviour (evidence, and single signals that do not flag: --why);")
    lines.append("BOOSTED = most of its retweets and quotes come from flagged accounts (which ring, what share: --why)")
    rising = r.rising(5)
    if rising:
        lines.append("rising: " + ", ".join(f"{a.display} ({_fmt_change(a)})" for a in rising))
    return lines


def format_communities(r: Ranking) -> list[str]:
    lines = [f"communities ({len(r.communities)} shown, largest first; labelled by their top accounts and what "
             f"sets them apart from the topic as a whole):"]
    for c in r.communities:
        lines.append(f"  {c.id:>3}  {c.size:>6} accounts  {c.label}")
        apart = []
        for kind, shown in (("hashtags", "#{}"), ("words", "{}"), ("domains", "{}")):
            apart += [shown.format(f) + f" ({n})" for f, n, *_ in c.features.get(kind, [])[:4]]
        if apart:
            lines.append("        stands out for: " + ", ".join(apart))
        if c.bridges:
            lines.append("        bridges: " + ", ".join(
                f"{b.get('display') or 'account ' + str(b['account_id'])} \u2192 communities "
                f"{', '.join(map(str, b['communities']))}"
                for b in c.bridges))
    return lines


@click.command("influencers")
@click.argument("topic")
@click.option("--since", type=WHEN, help="Start of the window: 2026-11-01, 2026-11-01T09:00 or 30d (ago). "
                                         "Default: 30 days before --until.")
@click.option("--until", type=WHEN, help="End of the window (default: now).")
@click.option("--platform", default=None, help="Only this platform (x, rss, ...); default: all platforms.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Accounts to list.")
@click.option("--exclude-flagged", is_flag=True,
              help="Leave the interactions of accounts flagged as automated or coordinated out of the score.")
@click.option("--fresh", is_flag=True, help="Recompute even when a stored result answers.")
@click.option("--why", "why", multiple=True, metavar="ACCOUNT",
              help="Explain an account's place (handle or id); repeatable.")
@click.option("--communities", "show_communities", is_flag=True, help="List the communities and their bridges.")
@click.option("--export", "export_fmt", type=click.Choice(FORMATS, case_sensitive=False),
              help="Write the topic graph: gexf, graphml, csv (nodes and edges files) or html (network figure).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="File to export to (default: influencers-TOPIC.<format> in the current folder).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def influencers(topic: str, since, until, platform: str | None, limit: int, exclude_flagged: bool, fresh: bool,
                why: tuple[str, ...], show_communities: bool, export_fmt: str | None, out: Path | None,
                as_json: bool) -> None:
    """Rank the influential voices on TOPIC from the network of who amplifies, quotes, replies to and
    mentions whom (not from follower counts)."""
    ctx = _ctx(need_posts=True)
    t = ctx.config.topics[_topic_id(ctx, topic)]
    topic = t.id
    try:
        s, u = resolve_window(since, until)
    except InfluenceError as exc:
        _fail(str(exc))
    plat = platform or ALL_PLATFORMS
    store = ctx.store
    analysis = None
    default = since is None and until is None
    rid = None
    if not fresh:
        from datetime import datetime, timezone

        rid = (results.latest_run(store, topic, plat, exclude_flagged, length=DEFAULT_WINDOW,
                                  ends_after=datetime.now(timezone.utc) - STALE_AFTER) if default
               else results.find_run(store, topic, plat, s, u, exclude_flagged))
    computed = rid is None
    if computed:
        rid, analysis = compute_run(store, topic, s, u, platform=plat, exclude_flagged=exclude_flagged,
                                    stakeholders=t.stakeholders)
    include = [int(w) for w in why if w.isdigit()]
    ranking = results.load_run(store, rid, limit=limit, stakeholders=frozenset(t.stakeholders), include=tuple(include))
    ranking.source = "fresh" if computed else "stored"
    ranking.label = t.label
    whys, unknown = [], []
    everyone = None
    for w in why:
        if ranking.find(w) is None:  # below the limit: look at every stored account of the run
            if everyone is None:
                everyone = results.load_run(store, rid, limit=None, stakeholders=frozenset(t.stakeholders))
            hit = everyone.find(w)
            if hit is not None:
                ranking.accounts.append(hit)
        try:
            whys.append(explain(store, ranking, w))
        except InfluenceError:
            unknown.append(_not_ranked(store, ranking, w, stored=len(everyone.accounts) if everyone else None))
    files: list[Path] = []
    if export_fmt:
        if analysis is None:
            analysis = analyse(store, topic, ranking.since, ranking.until, platform=plat,
                               exclude_flagged=exclude_flagged, stakeholders=t.stakeholders)
        suffix = "csv" if export_fmt == "csv" else export_fmt
        target = out or Path(f"influencers-{topic}.{suffix}")
        try:
            files = export(analysis, target, export_fmt, store=store, label=t.label)
        except OSError as exc:
            _fail(f"cannot write {target}: {exc}")
    if as_json:
        payload: dict[str, Any] = ranking.to_dict()
        if why:
            payload["why"] = [w.to_dict() for w in whys]
            payload["not_ranked"] = unknown
        if files:
            payload["exported"] = [str(f) for f in files]
        click.echo(json.dumps(payload, default=str, indent=2))
        if unknown:
            raise SystemExit(1)
        return
    # --why asks about accounts: the context, then the accounts, not the whole table again
    # every line holds stranger text (names, handles, posts): no escape code reaches the terminal
    for line in (format_header(ranking) if why else format_ranking(ranking)):
        click.echo(display(line))
    if not ranking.accounts:
        for line in _elsewhere(store, topic, ranking):
            click.echo(display(line))
    if show_communities:
        click.echo("")
        for line in format_communities(ranking):
            click.echo(display(line))
    for w in whys:
        click.echo("")
        for line in w.lines():
            click.echo(display(line))
    for f in files:
        click.echo(f"wrote {f}" + (" (an empty network: the page says there is nobody to draw)"
                                   if export_fmt == "html" and not ranking.accounts else ""))
    if unknown:
        for msg in unknown:
            click.secho(display(msg), fg="red", err=True)
        raise SystemExit(1)


def _not_ranked(store, ranking: Ranking, account: str, *, stored: int | None) -> str:
    """Why ``account`` has no explanation: not in the store, not in this network, or ranked below what is kept."""
    from sqlalchemy import func, select

    from monitor import models as m

    known = True
    if not account.isdigit():
        with store.engine.connect() as conn:
            known = conn.execute(select(func.count()).select_from(m.accounts).where(
                func.lower(m.accounts.c.handle) == account.lstrip("@").lower())).scalar() > 0
    where = f"{ranking.label or ranking.topic} from {ranking.since:%Y-%m-%d} to {ranking.until:%Y-%m-%d}"
    if not known:
        return f"{account}: no account with that handle in the store"
    kept = stored if stored is not None else len(ranking.accounts)
    if kept >= ranking.network_accounts:
        return f"{account}: not in the network of {where} (nobody it interacted with, and nobody with it, on the topic)"
    return (f"{account}: not among the {kept:,} best-ranked accounts stored for {where} "
            f"(the network has {ranking.network_accounts:,}); it ranks lower, or is not in this network")


def _elsewhere(store, topic: str, ranking: Ranking) -> list[str]:
    """When a window holds nobody to rank: where in time the topic's stored posts are, and the command for it."""
    from monitor.health import topic_span

    span = topic_span(store, topic)
    if span is None:
        return [f"the store holds no posts on {topic} at all"]
    if span[0] < ranking.until and span[1] > ranking.since:
        return []  # posts in the window, but no interactions between accounts
    return [f"this topic's stored posts are from {span[0]:%Y-%m-%d} to {span[1] - timedelta(days=1):%Y-%m-%d}: "
            f"earshot influencers {topic} --since {span[0]:%Y-%m-%d} --until {span[1]:%Y-%m-%d}"]


def summary_lines(ctx, since=None, until=None) -> list[str]:
    """Lines for ``earshot demo`` / ``earshot status``: the top 5 stored influencers of each topic.

    A ranking covers a window of its own (30 days by default, or an import's span), which each
    line states; ``since`` and ``until`` (the window of the screen) are not used.
    """
    lines = ["", "top influencers per topic (stored rankings; `earshot influencers TOPIC` for more):"]
    any_stored = False
    for tid, t in ctx.config.topics.items():
        r = stored(ctx.store, tid, limit=5, stakeholders=t.stakeholders)
        if r is None:
            continue
        any_stored = True
        names = ", ".join(f"{a.display} {a.score:.0f}" + (f" ({boost_label(a.boosted)})" if a.boosted else "")
                          + (" (FLAGGED)" if a.flagged else "") for a in r.accounts) or "nobody (no interactions)"
        flagged = f"; {r.flagged_accounts} accounts flagged as automated or coordinated" if r.flagged_accounts else ""
        lines.append(f"  {t.label:<36} {names}  [{r.since:%d %b}\u2013{r.until:%d %b}]{flagged}")
    if not any_stored:
        return ["", "influencers: none computed yet \u2014 `earshot influencers TOPIC` computes a topic's ranking "
                    "(the scheduled task stores them hourly when a worker runs)"]
    return lines
