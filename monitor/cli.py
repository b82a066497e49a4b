"""The ``earshot`` command.

Run ``earshot --help`` for the list. Commands that other packages add (such as
``earshot influencers``) plug in through the ``earshot.commands`` entry point
(see :mod:`monitor.hooks`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from monitor import hooks
from monitor.clean import display
from monitor.cliutil import WHEN, _context, _fail, _topic_id
from monitor.config import ConfigError, load_config
from monitor.query import QueryError
from monitor.settings import load_settings
from monitor.store import StoreError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="earshot")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="What to watch, for this command (default: EARSHOT_CONFIG, else config/keywords.yaml).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Earshot: social media monitoring and influencer mapping for the health department."""
    _quiet_logging()
    if config_path is not None:
        _use_config(ctx, config_path)


def _quiet_logging() -> None:
    """On the command line, log warnings and errors only, unless EARSHOT_LOG_LEVEL asks for more.

    What a command has to say it prints; the INFO lines workers log (tasks and their results)
    would only repeat it as raw records.
    """
    from monitor.settings import read_env_file

    if "EARSHOT_LOG_LEVEL" not in os.environ and "EARSHOT_LOG_LEVEL" not in read_env_file():
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _use_config(ctx: click.Context, path: Path) -> None:
    """``--config``: the command (and tasks it runs in-process) read this file; restored afterwards."""
    from monitor import app

    before = os.environ.get("EARSHOT_CONFIG")
    os.environ["EARSHOT_CONFIG"] = str(path.expanduser().absolute())
    app.reset()

    def restore() -> None:
        if before is None:
            os.environ.pop("EARSHOT_CONFIG", None)
        else:
            os.environ["EARSHOT_CONFIG"] = before
        app.reset()
    ctx.call_on_close(restore)


# ---------------------------------------------------------------------- topics
@cli.group()
def topics() -> None:
    """Check the topic configuration and try queries."""


@topics.command("check")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="File to check (default: EARSHOT_CONFIG).")
def topics_check(config_path: str | None) -> None:
    """Validate config/keywords.yaml: every topic, query, source and alert setting."""
    path = Path(config_path) if config_path else load_settings().config_path
    try:
        config = load_config(path)
    except ConfigError as exc:
        _fail(str(exc))
    click.echo(f"{path}: OK — {len(config.topics)} topics, {len(config.feeds)} feeds, "
               f"X search {'on' if config.x_search.enabled else 'off'}, X stream {'on' if config.x_stream.enabled else 'off'}")
    for t in config.topics.values():
        try:
            rules = t.query.x_rules(512)
            x = f"{len(rules)} X rule{'s' if len(rules) != 1 else ''}"
        except QueryError as exc:
            x = f"X: {exc}"
        extra = f", {len(t.stakeholders)} stakeholders" if t.stakeholders else ""
        click.echo(f"  {t.id:<16} {t.label:<36} {len(t.query.terms())} terms, {x}{extra}")


@topics.command("test")
@click.argument("text")
@click.option("--author", help="Author handle, for author: and @ terms.")
@click.option("--lang", help="Language code of the text, for topics limited to some languages.")
@click.option("--query", "query_text", help="Test this query instead of the configured topics.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
def topics_test(text: str, author: str | None, lang: str | None, query_text: str | None, config_path: str | None) -> None:
    """Say which topics TEXT matches, and which terms matched."""
    from monitor.query import Query, document

    if query_text:
        try:
            q = Query(query_text)
        except QueryError as exc:
            _fail(f"query: {exc}")
        terms = q.match(document(text, author=author, lang=lang))
        if terms is None:
            click.echo("no match")
            sys.exit(1)
        click.echo("match: " + ", ".join(terms))
        return
    from monitor.topics import Matcher

    path = Path(config_path) if config_path else load_settings().config_path
    try:
        config = load_config(path)
    except ConfigError as exc:
        _fail(str(exc))
    matched = Matcher(config.topics).match_text(text, author=author, lang=lang)
    if not matched:
        click.echo("no topic matches")
        sys.exit(1)
    for tid, terms in matched.items():
        click.echo(f"{tid} ({config.topics[tid].label}): {', '.join(terms)}")


# ---------------------------------------------------------------------- import / export
@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", help="Source name to record (default: import:<file name>).")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None, help="Posts per batch (default EARSHOT_BATCH_SIZE).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when the terminal is interactive).")
@click.option("--enqueue", is_flag=True, help="Send the batches to the Celery workers instead of storing them here.")
def import_cmd(files: tuple[Path, ...], source: str | None, batch_size: int | None, progress: bool | None,
               enqueue: bool) -> None:
    """Load recorded data: X API v2 JSONL (twarc2), RSS/Atom files, or an Earshot export."""
    from monitor.replay import import_files

    ctx = _context()
    show = sys.stderr.isatty() if progress is None else progress
    if enqueue:
        _import_enqueue(ctx, files, source, batch_size or ctx.settings.batch_size, show)
        return
    failed = 0

    def report(s):
        nonlocal failed
        if s.failed:
            failed += 1
            click.secho(f"{s.path}: skipped — {display(s.failed)}", fg="yellow")
            return
        promoted = f", {s.promoted} collected after being seen as references" if s.promoted else ""
        click.echo(f"{s.path}: {s.format}, {s.posts} posts ({s.new} new{promoted}, {s.duplicates} already stored), "
                   f"{s.interactions} new interactions, {s.skipped} skipped, {len(s.errors)} problems, "
                   f"{len(s.notes)} notes from the data, {s.seconds:.1f}s")
        for e in s.errors[:5]:
            click.echo(f"    {display(e)}")
        if len(s.errors) > 5:
            click.echo(f"    ... and {len(s.errors) - 5} more problems")
        if s.notes:
            click.echo("    notes (what the platform could not show: not problems):")
        for note in s.notes[:3]:
            click.echo(f"      {display(note)}")
        if len(s.notes) > 3:
            click.echo(f"      ... and {len(s.notes) - 3} more notes")
        if s.quarantined:
            click.secho(f"    {s.quarantined} posts quarantined, the store refused them (see above): "
                        "`earshot quarantine list`, then `earshot quarantine replay` once fixed", fg="red")
        if s.not_stored:
            click.secho(f"    {s.not_stored} posts not stored: their batch could not be written (see above)", fg="red")
        if s.quarantined or s.not_stored:
            failed += 1

    summaries = import_files(list(files), ctx.store, ctx.matcher, batch_size=batch_size or ctx.settings.batch_size,
                             source=source, progress=show, on_file=report)
    total = sum(s.posts for s in summaries)
    new = sum(s.new for s in summaries)
    skipped = sum(s.skipped for s in summaries)
    click.echo(f"{len(summaries)} files, {total} posts read, {new} new, {skipped} skipped; {failed} files failed")
    _import_figures(ctx, summaries)
    if new or any(s.promoted for s in summaries):
        _after_import(ctx, summaries)
    if failed:
        sys.exit(1)


def _import_figures(ctx, summaries) -> None:
    """What an import added, per topic, and the time span of the posts it read."""
    tagged: dict[str, int] = {}
    for s in summaries:
        for topic, n in s.topic_posts.items():
            tagged[topic] = tagged.get(topic, 0) + n
    firsts = [s.first for s in summaries if s.first]
    lasts = [s.last for s in summaries if s.last]
    if not firsts and not tagged:
        return
    click.echo("posts each topic matched (newly stored):")
    topics = ctx.config.topics
    width = max([len(t.label) + len(tid) + 3 for tid, t in topics.items()] + [10])
    for tid, t in topics.items():
        click.echo(f"  {f'{t.label} ({tid})':<{width}} {tagged.get(tid, 0):>7}")
    for tid in sorted(set(tagged) - set(topics)):  # a topic since taken out of the configuration
        click.echo(f"  {tid:<{width}} {tagged[tid]:>7}")
    if firsts:
        first, last = min(firsts), max(lasts)
        click.echo(f"time span imported: {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC")


def _import_enqueue(ctx, files, source, batch_size, show) -> None:
    """`earshot import --enqueue`: read the files as `earshot import` does, keep each batch in the store
    and queue its id for the workers (nothing is stored here)."""
    if ctx.settings.embedded:
        _fail("--enqueue needs a broker: set EARSHOT_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    from monitor.durable import hand_to_workers
    from monitor.replay import import_files
    from monitor.store import WriteResult
    from worker import send_batch

    failed = 0

    def keep_and_send(batch):
        hand_to_workers(ctx.store, batch, send_batch)  # raises when the store is away: reported per batch
        return WriteResult(posts_in=len(batch.posts))

    def report(s):
        nonlocal failed
        if s.failed:
            failed += 1
            click.secho(f"{s.path}: skipped — {display(s.failed)}", fg="yellow")
            return
        click.echo(f"{s.path}: {s.format}, {s.posts} posts in {s.batches - bool(s.not_stored)} batches queued, "
                   f"{len(s.errors)} problems, {s.seconds:.1f}s")
        for e in s.errors[:5]:
            click.echo(f"    {display(e)}")
        if s.not_stored:
            failed += 1
            click.secho(f"    {s.not_stored} posts not queued: the store could not keep them (see above)", fg="red")

    summaries = import_files(list(files), ctx.store, ctx.matcher, batch_size=batch_size, source=source,
                             progress=show, on_file=report, store_batch=keep_and_send)
    click.echo(f"{len(summaries)} files, {sum(s.posts for s in summaries)} posts kept and queued for the workers; "
               f"{failed} skipped or failed. `earshot status` shows what still waits.")
    if failed:
        sys.exit(1)


@cli.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--topic")
@click.option("--since", type=WHEN)
@click.option("--until", type=WHEN)
def export_cmd(out: Path, topic: str | None, since, until) -> None:
    """Write stored posts as an Earshot export (JSONL) that `earshot import` reads back."""
    from monitor.replay import export

    ctx = _context(read_only=True, need_posts=True)
    if topic:
        topic = _topic_id(ctx, topic)
    n = export(ctx.store, out, topic=topic, since=since, until=until)
    click.echo(f"wrote {n} posts to {out}")


# ---------------------------------------------------------------------- collection
@cli.command("collect")
@click.argument("sources", nargs=-1)
@click.option("--enqueue", is_flag=True, help="Send to the Celery workers instead of running here.")
def collect_cmd(sources: tuple[str, ...], enqueue: bool) -> None:
    """Run one collection pass of the named sources (default: all enabled)."""
    from monitor.collect import run_source, source_specs
    from monitor.durable import store_or_quarantine

    ctx = _context()
    specs = source_specs(ctx.config, ctx.settings)
    names = list(sources) or [n for n, s in specs.items() if s.interval]
    unknown = [n for n in names if n not in specs]
    if unknown:
        _fail(f"unknown source(s): {', '.join(unknown)}; configured: {', '.join(specs) or 'none'}")
    if enqueue:
        if ctx.settings.embedded:
            _fail("--enqueue needs a broker: set EARSHOT_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
        from worker import collect_source_task

        for n in names:
            collect_source_task.delay(n)
            click.echo(f"queued {n}")
        return
    for n in names:
        s = run_source(specs[n], ctx.store, lambda b: store_or_quarantine(b, ctx.store, ctx.matcher).result)
        if s.disabled:
            click.secho(f"{n}: disabled — {s.disabled}", fg="yellow")
        elif s.failed:
            click.secho(f"{n}: failed — {s.failed}", fg="red")
        else:
            click.echo(f"{n}: {s.posts} posts ({s.new} new) in {s.batches} batches, {len(s.errors)} problems")
            for e in s.errors[:5]:
                click.echo(f"    {e}")


def _seconds(schedule) -> float:
    """Seconds between runs of a beat entry's schedule (a number, a timedelta or a celery schedule)."""
    if isinstance(schedule, (int, float)):
        return float(schedule)
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    run_every = getattr(schedule, "run_every", None)
    if run_every is not None:
        return run_every.total_seconds()
    return 60.0


def _result_text(result) -> str:
    """What a scheduled job returned, in words: ``posts 120, new 40, topics vaccination 12, smoking 3``."""
    if not isinstance(result, dict):
        return "done" if result is None else str(result)
    parts = []
    for key, value in result.items():
        if value is None or value == {} or value == [] or key in ("since", "until") and not value:
            continue
        if isinstance(value, dict):
            flat = all(not isinstance(v, (dict, list)) for v in value.values())
            parts.append(f"{key} " + (", ".join(f"{k} {v}" for k, v in value.items()) if flat else str(len(value))))
        elif isinstance(value, (list, tuple)):
            parts.append(f"{key} {len(value)}")
        elif isinstance(value, float):
            parts.append(f"{key} {value:g}")
        elif isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and value[10:11] == "T":
            parts.append(f"{key} {value[:16].replace('T', ' ')}")  # an ISO time, to the minute
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts) or "done"


@cli.command("run")
@click.option("--once", is_flag=True, help="Run every scheduled job once, then stop.")
@click.option("--duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the dashboard beside collection.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Dashboard address (with --serve).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Dashboard port.")
def run_cmd(once: bool, duration: float | None, serve: bool, host: str, port: int) -> None:
    """Run the service in-process (embedded mode): every source at its poll interval, and the scheduled jobs.

    This is what `celery -A worker beat` plus workers do in production; with a broker
    configured, run those instead.
    """
    import time

    ctx = _context()
    if not ctx.settings.embedded:
        _fail("a broker is configured (EARSHOT_BROKER_URL): run `celery -A worker worker` and "
              "`celery -A worker beat` instead of `earshot run`")
    import worker

    try:  # the service must not run half-configured: every extension loads, or it does not start
        schedule = worker.beat_schedule(strict=True)
        hooks.load("earshot.after_batch", strict=True)
        hooks.load("earshot.tasks", strict=True)
    except hooks.PluginError as exc:
        _fail(f"cannot start: {exc}")
    if not schedule:
        _fail("nothing to run: no enabled source or scheduled job (see `earshot status`)")
    from monitor.collect import source_specs

    for name, spec in source_specs(ctx.config, ctx.settings).items():
        if spec.disabled:
            click.secho(f"{name}: disabled — {spec.disabled}", fg="yellow")
        elif spec.interval is None:
            click.echo(f"{name}: a long-running stream; run `earshot stream` beside this")
    stop_server = _serve(ctx, host, port, background=True) if serve and not once else None
    click.echo(f"running {len(schedule)} scheduled jobs in-process; Ctrl-C stops")
    due = {name: 0.0 for name in schedule}
    started = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            for name, entry in schedule.items():
                if now < due[name]:
                    continue
                task = worker.app.tasks[entry["task"]]
                try:
                    result = task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {})).get()
                    click.echo(f"{datetime.now(timezone.utc):%H:%M:%S} {name}: {_result_text(result)}"[:300])
                except Exception as exc:  # one job failing never stops the others
                    click.secho(f"{datetime.now(timezone.utc):%H:%M:%S} {name}: failed — {exc}", fg="red")
                due[name] = (float("inf") if once else time.monotonic() + _seconds(entry["schedule"]))
            if once and all(v == float("inf") for v in due.values()):
                return
            if duration is not None and time.monotonic() - started >= duration:
                return
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        if stop_server is not None:
            stop_server()


@cli.command("stream")
@click.option("--max-batches", type=click.IntRange(min=1), default=None, help="Stop after this many batches.")
def stream_cmd(max_batches: int | None) -> None:
    """Run the X filtered stream: sync its rules with the topics, then store (or enqueue) what arrives."""
    import time
    from dataclasses import replace

    from monitor.collect import run_source, source_specs
    from monitor.durable import store_or_quarantine
    from monitor.sources.base import SourceError

    ctx = _context()
    spec = source_specs(ctx.config, ctx.settings).get("x-stream")
    if spec is None:
        _fail("the X stream is off: set `sources: x: stream: enabled: true` in the configuration")
    if spec.disabled:
        _fail(f"x-stream: disabled — {spec.disabled}")
    source = spec.build()
    if max_batches is not None:
        source.max_batches = max_batches
    try:
        synced = source.sync_rules()
    except SourceError as exc:
        _fail(str(exc))
    click.echo(f"x-stream rules: {synced['added']} added, {synced['deleted']} deleted, {synced['kept']} kept")
    for err in synced.get("errors", []):
        click.secho(f"  refused: {err}", fg="yellow")
    if ctx.settings.embedded:
        def hand_on(batch):
            return store_or_quarantine(batch, ctx.store, ctx.matcher).result
    else:
        from monitor.durable import hand_to_workers, transient
        from worker import send_batch

        def hand_on(batch):
            # kept in the store, then queued by id; while the database is away the batch is held here
            wait = 1.0
            while True:
                try:
                    return hand_to_workers(ctx.store, batch, send_batch)
                except Exception as exc:
                    if not transient(exc):
                        raise
                    click.secho(f"x-stream: the store is away ({exc.__class__.__name__}); holding "
                                f"{len(batch.posts)} posts, trying again in {wait:.0f}s", fg="yellow", err=True)
                    time.sleep(wait)
                    wait = min(wait * 2, 60.0)

    try:
        s = run_source(replace(spec, build=lambda: source), ctx.store, hand_on)
    except KeyboardInterrupt:
        click.echo("stopped")
        return
    if s.failed:
        _fail(f"x-stream: failed — {s.failed}", code=1)
    click.echo(f"x-stream: {s.posts} posts ({s.new} new) in {s.batches} batches, {len(s.errors)} problems")


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True,
              help="Length of the window of the counts, gaps and alerts (ending at --until).")
@click.option("--since", type=WHEN, help="Start of the window (2020-01-01, 2026-11-16T09:00 or 30d); "
                                         "default: --days before its end.")
@click.option("--until", type=WHEN, help="End of the window; default: now, or the end of the newest data "
                                         "when that is older (an import of past data).")
def status_cmd(as_json: bool, days: int, since, until) -> None:
    """Health of collection: each source's last run, items, errors, waits, cursor; counts; gaps.

    Every count on the screen covers the one window it states.
    """
    from monitor.health import status_report

    ctx = _context(read_only=True)
    try:
        st = status_report(ctx, days=days, since=since, until=until)
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(st, default=str, indent=2))
        return
    for line in status_lines(st, ctx.settings):
        click.echo(line)
    for line in summary_lines(ctx, st["window"]["since"], st["window"]["until"]):
        click.echo(line)


def _when(dt) -> str:
    return f"{dt:%Y-%m-%d %H:%M} UTC" if isinstance(dt, datetime) else "never"


def _span(since: datetime, until: datetime) -> str:
    return f"{since:%a %d %b %Y %H:%M} \u2013 {until:%a %d %b %Y %H:%M} UTC"


_STATE_COLOURS = {"ok": None, "failing": "red", "disabled": "yellow", "stale": "yellow"}


def status_lines(st: dict, settings) -> list[str]:
    """The status screen as lines of text (:func:`monitor.health.status_report` is its data)."""
    t, store, w = st["totals"], st["store"], st["window"]
    lines = [f"store: {store['url']}  ({t['posts']} posts, {t['accounts']} accounts, {t['interactions']} interactions)",
             f"data folder: {store['data_dir']}  ({store['data_dir_origin']})"]
    if store["empty"]:
        lines.append("  the store holds no posts yet: `earshot demo` makes a demo week, `earshot import FILE` "
                     "loads recorded data")
    lines.append(f"configuration: {st['config']['path']}" + ("  (NOT LOADED: see the warning above)"
                                                           if st["config"]["problem"] else ""))
    lines.append(f"mode: {'embedded (tasks in-process)' if settings.embedded else 'Celery via ' + settings.broker_url}")
    how = {"now": "to now", "newest data": "to the end of the newest data (older than now)",
           "given": "as asked"}[w["basis"]]
    lines.append(f"window: {_span(w['since'], w['until'])}, {how}; counts, gaps and alerts below cover it "
                 f"(--days, --since, --until change it)")
    lines.append("")
    lines.append("sources:")
    if not st["sources"]:
        lines.append("  none configured or seen")
    width = max([24] + [len(s["name"]) for s in st["sources"]])
    for s in st["sources"]:
        lines.append(click.style(
            f"  {s['name']:<{width}} {s['state']:<9} last run {_when(s['last_run_at']):<20} "
            f"items {s['items']:<7} errors {s['errors']:<4} rate-limit waits {s['rate_limit_waits']} "
            f"({s['rate_limit_seconds']:.0f}s)", fg=_STATE_COLOURS.get(s["state"])))
        if s.get("last_error"):
            lines.append(f"      last error: {display(s['last_error'])[:200]}")
        if s.get("disabled"):
            lines.append(f"      {s['disabled']}")
        if s.get("cursor"):
            lines.append(f"      cursor: {json.dumps(s['cursor'], default=str)[:160]}")
    lines.append("")
    lines.append("posts per topic in the window:")
    for tid, c in st["topics"].items():
        lines.append(f"  {c['label'][:36]:<36} {c['posts']:>8} posts  {c.get('authors', 0):>6} authors  "
                     f"sentiment {c['sentiment']:+.2f}  negative {c['negative_share']:.0%}")
    lines.extend(_batch_lines(st["batches"]))
    lines.append("")
    lines.append("gaps in the window (what these figures did not see):")
    if not st["gaps"]:
        lines.append("  none recorded")
    for g in st["gaps"]:
        lines.append(f"  {g['source']:<24} {g['reason']:<13} {_when(g['start'])} \u2192 "
                     f"{_when(g['end']) if g['end'] else 'ongoing'}  {g['detail'] or ''}"[:200])
    return lines


def summary_lines(ctx, since: datetime | None, until: datetime | None) -> list[str]:
    """The lines the ``earshot.summary`` plugins add for the window ``[since, until)``."""
    lines: list[str] = []
    for _name, fn in hooks.load("earshot.summary"):
        try:
            lines.extend(fn(ctx, since, until))
        except Exception as exc:  # a plugin's problem, reported not raised
            lines.append(click.style(f"({_name}: {exc})", fg="yellow"))
    return lines


def _batch_lines(b: dict) -> list[str]:
    """The kept-batches part of `earshot status`: waiting, waiting too long, quarantined."""
    lines = ["", "batches kept for the workers:"]
    if b["waiting"]:
        lines.append(f"  {b['waiting']} waiting to be stored ({b['waiting_posts']} posts), "
                     f"oldest {b['oldest_waiting_s']:.0f}s ago")
    else:
        lines.append("  none waiting")
    if b["waiting_too_long"]:
        lines.append(click.style(f"  {b['waiting_too_long']} waiting too long (over {b['too_long_after_s']:.0f}s, "
                                 f"{b['waiting_too_long_posts']} posts): are the workers and the database up?",
                                 fg="red"))
    if b["quarantined"]:
        lines.append(click.style(f"  {b['quarantined']} quarantined ({b['quarantined_posts']} posts not stored): "
                                 "`earshot quarantine list`, then `earshot quarantine replay` once fixed", fg="red"))
        for q in b["quarantined_batches"][:5]:
            lines.append(f"    #{q['id']} {display(q['source'])} {q['posts']} posts: "
                         f"{display(q['reason'] or '')[:150]}")
    return lines


# ---------------------------------------------------------------------- quarantine
@cli.group()
def quarantine() -> None:
    """Batches that could not be stored: kept with the reason, replayed once fixed."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def quarantine_list(as_json: bool) -> None:
    """Every quarantined batch: id, source, posts, when, and why it could not be stored."""
    from monitor.durable import quarantined

    ctx = _context(read_only=True)
    rows = quarantined(ctx.store)
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        click.echo("no quarantined batches")
        return
    for q in rows:
        part = f" (part of batch #{q['parent_id']})" if q["parent_id"] else ""
        click.echo(f"#{q['id']} {display(q['source'])} {q['posts']} posts, {q['created_at']:%Y-%m-%d %H:%M} UTC, "
                   f"{q['attempts']} tries{part}")
        click.echo(f"    {display(q['reason'] or '')}")


@quarantine.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Every quarantined batch.")
def quarantine_replay(ids: tuple[int, ...], all_: bool) -> None:
    """Try quarantined batches again (after the cause is fixed); what still fails stays, with its reason."""
    from monitor.durable import replay

    if not ids and not all_:
        _fail("name the batches to replay (see `earshot quarantine list`), or --all")
    ctx = _context()
    outcomes = replay(ctx.store, ctx.matcher, None if all_ else list(ids))
    if not outcomes:
        _fail("no such quarantined batch" + ("es" if len(ids) != 1 else ""), code=1)
    left = 0
    for o in outcomes:
        if o.state == "stored":
            click.echo(f"#{o.raw_id}: stored ({o.result.posts_in} posts, {o.result.posts_new} new)")
        else:
            left += 1
            click.secho(f"#{o.raw_id}: {o.quarantined_posts} posts still quarantined "
                        f"({o.result.posts_in} stored): {display(o.quarantined[0]['reason'])[:200]}", fg="yellow")
    if left:
        sys.exit(1)


# ---------------------------------------------------------------------- demo
@cli.command("demo")
@click.option("--size", type=click.IntRange(1000, 50_000_000), default=5000, show_default=True, help="Tweets to generate.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the scenario (default: $EARSHOT_DATA_DIR/demo).")
@click.option("--progress/--no-progress", default=None)
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="End by serving the dashboard on the demo week (until Ctrl-C); --no-serve for scripts.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Dashboard address (with --serve).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Dashboard port.")
def demo_cmd(size: int, seed: int, out: Path | None, progress: bool | None, serve: bool, host: str, port: int) -> None:
    """Generate the demo week and run it through the whole pipeline, show what it found, then serve the dashboard."""
    from monitor.demo.generator import ScenarioSpec, generate
    from monitor.replay import import_files

    ctx = _context()
    out = out or ctx.settings.data_dir / "demo"
    show = sys.stderr.isatty() if progress is None else progress
    click.echo(f"generating a demo week of {size} posts into {out} ...")
    truth = generate(out, ScenarioSpec(size=size, seed=seed), progress=show)
    files = sorted((out / "x").glob("*.jsonl")) + sorted((out / "rss").glob("*.xml"))
    click.echo(f"importing {len(files)} files into {ctx.store.safe_url} ...")
    summaries = import_files(files, ctx.store, ctx.matcher, batch_size=ctx.settings.batch_size, progress=show)
    posts = sum(s.posts for s in summaries)
    new = sum(s.new for s in summaries)
    bad = [s for s in summaries if s.failed]
    click.echo(f"{posts} posts read, {new} new" + (f"; {len(bad)} files skipped" if bad else ""))
    _after_import(ctx, summaries, hints=False)  # the demo says what to run next itself
    start = datetime.fromisoformat(truth["start"])
    end = datetime.fromisoformat(truth["end"])
    counts = ctx.store.topic_counts(start, end)
    click.echo(f"\nposts per topic, {start:%a %d %b} – {end:%a %d %b %Y}:")
    for tid, t in ctx.config.topics.items():
        c = counts.get(tid, {"posts": 0, "sentiment": 0.0, "negative_share": 0.0})
        click.echo(f"  {t.label:<36} {c['posts']:>7} posts  {c.get('authors', 0):>6} authors  "
                   f"sentiment {c['sentiment']:+.2f}  negative {c['negative_share']:.0%}")
    for line in summary_lines(ctx, start, end):
        click.echo(line)
    click.echo("\nnext:")
    click.echo("  earshot status                       collection health, counts, gaps")
    click.echo('  earshot topics test "some post text"  which topics a text matches, and why')
    click.echo("  earshot alerts list                  alerts raised, open and closed")
    for name, _cmd in hooks.load("earshot.commands"):
        click.echo(f"  earshot {name} --help")
    click.echo(f"  ground truth of the scenario: {out / 'ground_truth.json'}")
    if serve:
        _serve(ctx, host, port, demo=True)


def _serve(ctx, host: str, port: int, *, demo: bool = False, background: bool = False):
    """Serve the dashboard through the ``earshot.serve`` hook (None when no dashboard is installed)."""
    servers = hooks.load("earshot.serve")
    if not servers:
        click.secho("(no dashboard installed: nothing to serve)", fg="yellow")
        return None
    try:
        return servers[0][1](ctx, host, port, demo=demo, background=background)
    except OSError as exc:
        _fail(f"cannot serve the dashboard on {host}:{port}: {exc}")


# ---------------------------------------------------------------------- db
@cli.group()
def db() -> None:
    """The store's schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (the other commands do this on their own)."""
    from monitor.store import Store, current_revision

    s = load_settings()
    try:
        store = Store(s.database_url)
    except StoreError as exc:
        _fail(str(exc))
    click.echo(f"{store.safe_url} at revision {current_revision(store.engine)}")


from monitor.alerts.cli import alerts as _alerts  # noqa: E402  (alerts live in the core)

cli.add_command(_alerts, "alerts")


def _after_import(ctx, summaries, *, hints: bool = True) -> None:
    """Run the ``earshot.after_import`` plugins; then, for data from the past, say how to see its span."""
    from monitor.health import LIVE_LAG
    from monitor.replay import import_window

    for name, fn in hooks.load("earshot.after_import"):
        try:
            for line in fn(ctx, summaries) or []:
                click.echo(line)
        except Exception as exc:  # a plugin's failure is reported; the import itself is stored
            click.secho(f"({name} after import: {exc})", fg="yellow")
    span = import_window(summaries)
    if not hints or span is None or span[1] >= datetime.now(timezone.utc) - LIVE_LAG:
        return
    since, until = f"{span[0]:%Y-%m-%d}", f"{span[1]:%Y-%m-%d}"
    click.echo(f"the imported posts are from {since} to {span[1] - timedelta(days=1):%Y-%m-%d}, before now; "
               "to see that span:")
    click.echo(f"  earshot status --since {since} --until {until}")
    click.echo(f"  earshot alerts list --since {since} --until {until}")
    for name, _cmd in hooks.load("earshot.commands"):
        if name == "influencers":
            click.echo(f"  earshot influencers TOPIC --since {since} --until {until}")


def _add_plugins() -> None:
    for name, cmd in hooks.load("earshot.commands"):
        if isinstance(cmd, click.Command) and name not in cli.commands:
            cli.add_command(cmd, name)


def main(argv: list[str] | None = None) -> None:
    _add_plugins()
    cli.main(args=argv, prog_name="earshot")


if __name__ == "__main__":  # pragma: no cover
    main()
