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
written so the topic queries of ``config/keywords.yaml`` put every post on the
topics it was generated for: most on one, some on two ("Waiting times for
CAMHS ..."), and off-topic chatter on none, near-misses included ("NHSX",
"smoking hot", a junior doctor's wedding). The same news is worded many ways
(openings, endings, slots), so texts rarely repeat.

What is planted
---------------
The truth is the role each account was given, not a count any scorer reads: a
method that ranks by amplifier counts or followers, or flags by account age and
copied text, gets parts of it wrong (``tests/influence/test_demo_truth.py``).

- **Accounts of many kinds** (:data:`KINDS`): journalists, MPs, charities,
  royal colleges, NHS trusts, think tanks, clinicians, campaigners, commentators,
  an industry lobby account, the public (most accounts) and two bot rings.
  Followers and activity are heavy-tailed (lognormal).
- **Communities**: every account follows one or two topics; who retweets,
  quotes or replies to whom follows preferential attachment inside topic
  communities (an account's appeal, plus a post's recent attention), with some
  cross-community traffic. Two topics (resident doctors' strikes, smoking) have
  two **camps** that amplify each other only rarely.
- **Central low-follower voices**: per topic, accounts with a few hundred
  followers whose posts are amplified by many distinct accounts across
  communities; they post a lot and pass on little.
- **Endorsed voices** (PageRank, not counts): per topic, an expert who posts
  rarely and whom only the topic's leading voices (the central voices and its
  most followed organisations) pass on: three amplifiers.
- **Brokers** (betweenness): on each two-camp topic, an account whom the leading
  voice and one member of each camp amplify: a handful of amplifiers.
- **Follower-rich, unamplified accounts**: per topic, an account with 100k+
  followers that posts a lot and that nobody retweets, quotes, replies to or
  mentions.
- **Follower-rich, clique-amplified accounts**: on three topics, a celebrity
  with 150k+ followers whose every post five superfans retweet (and who retweet
  each other): many retweets, few amplifiers, no standing.
- **A crisis**: on one topic, volume jumps several-fold for a few hours on day
  4 and sentiment sours, driven by a handful of accounts whose posts are widely
  retweeted. In it, a **live event**: the crisis MP live-tweets a statement in
  the House and a dozen or more people retweet each moment 10-30 s apart
  (people, not bots, however fast).
- **A loud bot ring**: 15-30 recently created accounts with default-looking
  names and pictures that post around the clock, mostly retweets of one lobby
  account, in coordinated bursts (all members retweet the same post within
  seconds) plus near-identical spam.
- **A bot ring that looks human**: 10-18 accounts created years ago with
  ordinary names, bios and pictures, posting paraphrases and retweets of their
  camp by day, that retweet a follower-rich creator's posts in bursts, each
  member a jittered 1.5-8 s after the previous.
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

Modules, by what they make
--------------------------
:mod:`monitor.demo.spec`
    the settings (:class:`ScenarioSpec`), topics, account kinds, the week's rhythm, outlets;
:mod:`monitor.demo.text`
    post templates and filling their slots;
:mod:`monitor.demo.population`
    the accounts, their followers, appeal and activity, the planted voices and the ring;
:mod:`monitor.demo.schedule`
    the decisions: who posts what, when, amplifying whom;
:mod:`monitor.demo.feeds`
    news articles and the RSS feeds;
:mod:`monitor.demo.xpages`
    X API v2 response pages as twarc2 writes them;
:mod:`monitor.demo.truth`
    ``ground_truth.json``;
this module
    the public API: :func:`generate`, :func:`iter_edges`, :func:`main`.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from monitor.demo.spec import FEEDS, KINDS, OFF_TOPIC, ScenarioSpec, TOPICS, _EDGE_NAMES, _ms_to_dt
from monitor.demo.population import _Population
from monitor.demo.schedule import _Core
from monitor.demo.feeds import _make_articles, _write_feeds
from monitor.demo.xpages import _Writer
from monitor.demo.truth import _ground_truth

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
        - ``influencers``: user ids, each also per topic under ``..._by_topic``: ``central_low_follower``,
          ``endorsed``, ``brokers``, ``follower_rich_unamplified``, ``follower_rich_clique`` (with
          ``clique_members_by_topic``), ``bot_boosted`` (the accounts the rings amplify);
        - ``voices_by_topic``: per topic, the accounts that matter (central, endorsed, brokers, and on the
          crisis topic its drivers); ``decoys_by_topic``: those that look as if they matter but do not
          (follower-rich unamplified or clique-amplified, bot-boosted);
        - ``camps``: per two-camp topic, the leading voice of each camp;
        - ``bot_ring`` (the loud ring) and ``bot_rings`` (both): ``name``, ``members``, ``amplifies``
          (user id), ``topic``, ``bursts`` ([first, last] retweet time of each burst); ``bots``: every member;
        - ``look_like_bots``: ``live_event`` (``topic``, ``accounts``: the people retweeting the live
          event, ``amplifies``: whom) and ``clique_members``: people who are not bots;
        - ``posts``: ``two_topics`` (tweet id -> its two topics) and ``near_miss`` (tweet ids);
        - ``counts``: ``posts`` (all tweets = size), ``originals``, ``retweets``, ``quotes``,
          ``replies``, ``articles`` (RSS items written), ``per_topic`` (tweets per topic),
          ``off_topic``, ``articles_per_topic``, ``two_topics``, ``near_miss`` (a post on two topics
          counts for each);
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
    truth = _ground_truth(spec, pop, core, articles, writer.files, rss_files, writer.dual_posts,
                          writer.near_miss_posts)
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    if progress:
        print(f"wrote {n} tweets in {writer.pages} pages, {len(rss_files)} feeds, to {out} "
              f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return truth


def iter_edges(spec: ScenarioSpec = ScenarioSpec()) -> Iterator[tuple[str, str, str, str, datetime]]:
    """The scenario's interactions without writing anything: ``(topic, kind, src, dst, time)``.

    Runs the same decision code as :func:`generate` (rendering skipped), so the edges are
    exactly those of the written files: for each retweet, quote and reply an edge of that kind
    from its author to the referenced post's author, and for each explicit mention an edge of
    kind ``"mention"``. The ``@handle`` X puts at the start of a reply and the ``RT @handle:`` of
    a retweet are not counted as mentions. ``topic`` is one of :data:`TOPICS` or
    :data:`OFF_TOPIC` (the topic the post was made for: the first of a post on two); ``src``/``dst``
    are user ids; ``time`` is an aware UTC datetime.

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
