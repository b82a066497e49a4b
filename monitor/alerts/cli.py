"""``earshot alerts``: list, inspect, acknowledge and resolve alerts; backtest; detect; test the channels.

Register in the main CLI with ``cli.add_command(alerts)`` (``from monitor.alerts.cli import alerts``).
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from monitor.cliutil import WHEN, _fail, _topic_id
from monitor.cliutil import _context as _ctx
from monitor.config import parse_duration


class _Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = _Duration()
SEVERITY_COLOURS = {"critical": "red", "warning": "yellow", "info": "cyan"}




def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no login name
        return ""


def _fmt(dt: Any) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if isinstance(dt, datetime) else "-"


def _jsonable(x: Any) -> Any:
    if isinstance(x, datetime):
        return x.isoformat()
    raise TypeError(type(x).__name__)


def _plural(n: Any, word: str) -> str:
    """``1 post``, ``2 posts``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def _num(x: Any, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


@click.group("alerts")
def alerts() -> None:
    """Crisis alerts: list, show, acknowledge, resolve; backtest the detector; test the channels."""


@alerts.command("list")
@click.option("--state", type=click.Choice(["open", "acknowledged", "resolved", "unresolved", "all"]),
              default="all", show_default=True)
@click.option("--topic")
@click.option("--kind", type=click.Choice(["volume", "sentiment", "voice", "silence", "stakeholder", "source"]))
@click.option("--since", type=WHEN, help="Opened since (2026-11-16, 7d...).")
@click.option("--until", type=WHEN)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_cmd(state: str, topic: str | None, kind: str | None, since, until, limit: int, as_json: bool) -> None:
    """Alerts, newest first."""
    from monitor.alerts.records import list_alerts

    ctx = _ctx(read_only=True)
    if topic:
        topic = _topic_id(ctx, topic)
    rows = list_alerts(ctx.store, state=None if state == "all" else state, topic=topic, kind=kind, since=since,
                       until=until, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, default=_jsonable, indent=2))
        return
    if not rows:
        click.echo("no alerts")
        return
    click.echo(f"{'id':>5}  {'severity':<8} {'state':<12} {'kind':<11} {'topic':<15} {'opened':<16} {'closed':<16} title")
    for a in rows:
        line = (f"{a['id']:>5}  {a['severity']:<8} {a['state']:<12} {a['kind']:<11} "
                f"{(a['topic'] or a['source'] or ''):<15.15} {_fmt(a['opened_at']):<16} "
                f"{(_fmt(a['closed_at']) if a['closed_at'] else 'ongoing'):<16} {a['title']}")
        click.secho(line, fg=SEVERITY_COLOURS.get(a["severity"]) if a["state"] != "resolved" else None)


@alerts.command("show")
@click.argument("alert_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show_cmd(alert_id: int, as_json: bool) -> None:
    """One alert: figures, why (top posts, accounts, sentiment), history and deliveries."""
    from monitor.alerts.records import deliveries, events, get_alert

    ctx = _ctx(read_only=True)
    a = get_alert(ctx.store, alert_id)
    if a is None:
        _fail(f"no alert #{alert_id}", 1)
    evs = events(ctx.store, alert_id)
    dels = deliveries(ctx.store, alert_id)
    if as_json:
        click.echo(json.dumps({"alert": a, "events": evs, "deliveries": dels}, default=_jsonable, indent=2))
        return
    d = a.get("details") or {}
    click.secho(f"#{a['id']} {a['severity'].upper()} {a['title']}", fg=SEVERITY_COLOURS.get(a["severity"]), bold=True)
    click.echo(f"  kind {a['kind']}, {a['topic'] and 'topic ' + a['topic'] or 'source ' + str(a['source'])}, "
               f"state {a['state']}" + (f" (acknowledged by {a['acknowledged_by']} {_fmt(a['acknowledged_at'])})"
                                        if a["acknowledged_by"] else "")
               + (f" (resolved by {a['resolved_by']} {_fmt(a['resolved_at'])})" if a["resolved_by"] else ""))
    click.echo(f"  started {_fmt(a['started_at'])} UTC, detected {_fmt(a['opened_at'])}, "
               f"{'back to normal ' + _fmt(a['closed_at']) if a['closed_at'] else 'still going'}")
    if a["kind"] in ("silence", "source"):
        hours = d.get("silent_hours") if a["kind"] == "silence" else d.get("quiet_hours")
        if hours is not None:
            click.echo(f"  silent for {hours:.0f} hours" + (f" (about {a['expected']:.0f} posts expected)"
                                                           if a.get("expected") is not None else ""))
    else:
        # the title speaks of the moment it was set (opened, reopened, escalated): show those figures first
        moment = next((e for e in reversed(evs) if e["kind"] in ("opened", "reopened", "escalated")
                       and e.get("snapshot")), None)
        if moment is not None:
            snap = moment["snapshot"]
            click.echo(f"  when {moment['kind']} ({_fmt(moment['at'])}): {_num(snap.get('current'), '.0f')} posts/hour, "
                       f"normally about {_num(snap.get('expected'), '.0f')} (ratio {_num(snap.get('ratio'))}, "
                       f"score {_num(snap.get('score'))})")
        label = "when it closed" if a["closed_at"] else "latest"
        click.echo(f"  {label}: {_num(a['current'], '.0f')} posts/hour, normally about {_num(a['expected'], '.0f')} "
                   f"(ratio {_num(a['ratio'])}); peak {_num(a['peak'], '.0f')} posts/hour")
    coord = d.get("coordination")
    if coord is None and a["topic"] and a["kind"] in ("volume", "sentiment") and a.get("started_at"):
        from monitor.alerts.engine import coordination

        end = a["closed_at"] or a["updated_at"] or a["opened_at"]
        with ctx.store.engine.connect() as conn:  # flags found since it was raised (the latest influence run)
            coord = coordination(conn, a["topic"], a["started_at"].timestamp(), end.timestamp())
    if coord and coord["share"] > 0:
        from monitor.alerts.engine import coordination_words

        click.echo(f"  coordinated: {coordination_words(coord)} — {coord['flagged_posts']} of {coord['posts']} posts")
    sent = d.get("sentiment") or {}
    if sent.get("negative_share") is not None:
        click.echo(f"  sentiment: {sent['negative_share']:.0%} negative (norm {_num(sent.get('norm'), '.0%')}), "
                   f"mean {_num(sent.get('mean'), '+.2f')}")
    if d.get("reason"):
        click.echo(f"  {d['reason']}")
    if d.get("account"):
        acc = d["account"]
        click.echo(f"  account @{acc.get('handle')} {acc.get('name') or ''} ({acc.get('followers') or '?'} followers)")
    for title, key, fmt in (("top posts", "top_posts", lambda p: f"@{p.get('handle')} ({p.get('amplified', 0)}): "
                                                                  f"{(p.get('text') or '').strip()[:160]}"),
                            ("accounts driving it", "top_accounts", lambda x: f"@{x.get('handle')}: amplified by "
                                                                             f"{x.get('amplifiers')}, {_plural(x.get('posts'), 'post')}"),
                            ("most active amplifiers", "top_amplifiers", lambda x: f"@{x.get('handle')}: "
                                                                                 f"{x.get('amplifications')}"),
                            ("posts", "posts", lambda p: f"{p.get('created_at', '')[:16]} {(p.get('text') or '')[:160]}")):
        items = d.get(key) or []
        if items:
            click.echo(f"  {title}:")
            for it in items[:5]:
                click.echo("    " + fmt(it).replace("\n", " "))
    click.echo("  history:")
    for e in evs:
        note = f" — {e['note']}" if e.get("note") else ""
        click.echo(f"    {_fmt(e['at'])} {e['kind']:<12} {e.get('by') or ''}{note}")
    if dels:
        click.echo("  deliveries:")
        for x in dels:
            err = f" — {x['last_error'][:120]}" if x.get("last_error") else ""
            when = f" next {_fmt(x['next_attempt_at'])}" if x["status"] == "pending" else ""
            click.echo(f"    {x['channel']:<8} {x['target'][:50]:<50} {x['status']:<8} attempts {x['attempts']}{when}{err}")


def _act(action: str, alert_id: int, by: str | None, note: str | None) -> None:
    from monitor.alerts.records import AlertError, acknowledge, resolve

    ctx = _ctx()
    fn = acknowledge if action == "ack" else resolve
    try:
        row = fn(ctx.store, alert_id, by or _user(), note, settings=ctx.settings)
    except AlertError as exc:
        _fail(str(exc), 1)
    click.echo(f"alert #{row['id']} {row['state']} by {row['acknowledged_by'] if action == 'ack' else row['resolved_by']}")


@alerts.command("ack")
@click.argument("alert_id", type=int)
@click.option("--by", help="Who (default: your login name).")
@click.option("--note", help="What is being done.")
def ack_cmd(alert_id: int, by: str | None, note: str | None) -> None:
    """Acknowledge an alert: someone is on it."""
    _act("ack", alert_id, by, note)


@alerts.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--by", help="Who (default: your login name).")
@click.option("--note")
def resolve_cmd(alert_id: int, by: str | None, note: str | None) -> None:
    """Resolve an alert."""
    _act("resolve", alert_id, by, note)


def _tuning_options(fn):
    for opt in reversed([
        click.option("--sensitivity", type=click.FloatRange(0.1, 20), help="Robust z-score to pass (default: the topic's)."),
        click.option("--min-volume", type=click.IntRange(0), help="Posts a window must hold."),
        click.option("--negative-share-delta", type=click.FloatRange(0.01, 0.99)),
        click.option("--silence-hours", type=click.IntRange(0)),
        click.option("--cooldown-minutes", type=click.IntRange(0)),
        click.option("--timezone", "tz", help="IANA zone of the daily and weekly rhythm."),
        click.option("--json", "as_json", is_flag=True),
    ]):
        fn = opt(fn)
    return fn


def _print_backtest(result, title: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    p = result.params
    click.echo(f"{title}: {result.buckets} buckets of {p.bucket_seconds // 60} min, "
               f"{_fmt(result.start)} – {_fmt(result.end)} UTC")
    click.echo(f"  sensitivity {p.sensitivity}, min_volume {p.min_volume}, negative_share_delta "
               f"{p.negative_share_delta}, silence_hours {p.silence_hours}, cooldown {p.cooldown_minutes} min, "
               f"timezone {p.timezone}")
    if result.warm_from is None:
        click.secho("  not enough history to learn a baseline (it needs a day): no alerts possible", fg="yellow")
        return
    click.echo(f"  baseline learnt from {_fmt(result.start)}; alerts possible from {_fmt(result.warm_from)}")
    if not result.alerts:
        click.echo("  no alerts would have been raised")
        return
    by = {}
    for a in result.alerts:
        by[a.severity] = by.get(a.severity, 0) + 1
    click.echo(f"  {_plural(len(result.alerts), 'alert')}: " + ", ".join(f"{by[s]} {s}" for s in ("critical", "warning", "info") if s in by))
    click.echo("  figures: the window that fired when each alert opened or last escalated, as a live alert's title "
               "gives them; live detection also looks at buckets still filling, so a live alert can open or "
               "escalate a few minutes earlier, with the figures of that moment, and it saw posts as they arrived "
               "(posts stored later into past buckets, such as an RSS import after an X one, only the replay sees)")
    click.echo(f"  {'opened (UTC)':<17} {'severity':<8} {'kind':<9} {'score':>6} {'peak/h':>7}  {'closed':<17} figures")
    for a in result.alerts:
        what = (f"{a.figures_event} {_fmt(a.figures_at)[11:]}: {a.headline}" if a.kind in ("volume", "sentiment")
                and a.figures_at else "")
        click.echo(f"  {_fmt(a.opened_at):<17} {a.severity:<8} {a.kind:<9} {_num(a.score):>6} "
                   f"{_num(a.peak, '.0f'):>7}  {_fmt(a.closed_at) if a.closed_at else 'still open at the end':<17} {what}")


def _overrides(**kw) -> dict[str, Any]:
    out = {k: v for k, v in kw.items() if v is not None}
    if "tz" in out:
        out["timezone"] = out.pop("tz")
    return out


@alerts.command("backtest")
@click.argument("topic")
@click.option("--since", type=WHEN, required=True, help="Start of the period to list alerts for.")
@click.option("--until", type=WHEN, help="End of the period (default: the end of the topic's stored data).")
@click.option("--warmup", type=DURATION, default="7d", show_default=True,
              help="History before --since the baseline learns from.")
@_tuning_options
def backtest_cmd(topic: str, since, until, warmup: int, as_json: bool, **tuning) -> None:
    """Replay TOPIC's stored history through the detector and list the alerts it would have raised."""
    from monitor.alerts.backtest import BacktestError, backtest_topic

    ctx = _ctx()
    t = ctx.config.topics[_topic_id(ctx, topic)]
    topic = t.id
    try:
        result = backtest_topic(ctx.store, t, since, until, warmup=timedelta(seconds=warmup), **_overrides(**tuning))
    except BacktestError as exc:
        _fail(str(exc))
    _print_backtest(result, f"backtest of {topic}", as_json)


@alerts.command("backtest-csv")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--time-col", help="Column of times (default: time/timestamp/date, else the first).")
@click.option("--count-col", help="Column of counts (default: count/posts/value, else the second).")
@click.option("--negative-col", help="Column of negative posts, for the sentiment test (default: negative if present).")
@click.option("--bucket", help="Bucket length, e.g. 5m, 1h, 1d (default: the series' own spacing).")
@click.option("--since", type=WHEN, help="List only alerts opened from then on.")
@_tuning_options
def backtest_csv_cmd(file: Path, time_col, count_col, negative_col, bucket, since, as_json: bool, **tuning) -> None:
    """Replay any time,count CSV through the detector and list the alerts it would have raised."""
    from monitor.alerts.backtest import BacktestError, backtest_series, read_csv

    try:
        points = read_csv(file, time_col=time_col, count_col=count_col, negative_col=negative_col)
        b = parse_duration(bucket) if bucket else None
        result = backtest_series(points, bucket_seconds=b, report_from=since, **_overrides(**tuning))
    except (BacktestError, ValueError) as exc:
        _fail(str(exc))
    _print_backtest(result, f"backtest of {file}", as_json)


@alerts.command("detect")
@click.option("--now", "now", type=WHEN, help="Detect as if the clock said this (default: the clock).")
@click.option("--topic", "topics", multiple=True, help="Only this topic (repeatable).")
@click.option("--sources/--no-sources", default=True, help="Also watch the sources for silence and failure.")
def detect_cmd(now, topics: tuple[str, ...], sources: bool) -> None:
    """Run detection once (what the beat does every minute), send what is due, and say what changed."""
    from monitor.alerts import notify
    from monitor.alerts.engine import detect

    ctx = _ctx()
    topics = tuple(dict.fromkeys(_topic_id(ctx, t) for t in topics))
    s = detect(ctx.store, ctx.config, ctx.settings, now=now, topics=topics or None, sources=sources, dispatch=False)
    sent = notify.deliver(ctx.store, None, ctx.settings, now=None)
    click.echo(f"{s.topics} topics, {s.buckets} new buckets: {len(s.opened)} opened, {len(s.closed)} closed, "
               f"{s.updated} updated; deliveries {sent['sent']} sent, {sent['retry']} to retry, "
               f"{sent['failed']} failed")
    for aid in s.opened:
        from monitor.alerts.records import get_alert

        a = get_alert(ctx.store, aid)
        if a:
            click.secho(f"  #{aid} {a['severity'].upper()} {a['title']}", fg=SEVERITY_COLOURS.get(a["severity"]))


@alerts.command("test-notify")
@click.option("--to", "to", multiple=True, help="E-mail address (default: the recipients of every topic).")
@click.option("--email/--no-email", default=True)
@click.option("--webhooks/--no-webhooks", default=True)
@click.option("--push/--no-push", default=True)
def test_notify_cmd(to: tuple[str, ...], email: bool, webhooks: bool, push: bool) -> None:
    """Send a test alert through every configured channel now, and say what worked (nothing is stored)."""
    from monitor.alerts import notify

    ctx = _ctx()
    s = ctx.settings
    now = datetime.now(timezone.utc)
    row = {"id": 0, "topic": "test", "source": None, "kind": "volume", "key": "test", "state": "open",
           "severity": "info", "title": "Test alert from Earshot: if you can read this, alerts reach you",
           "started_at": now, "opened_at": now, "updated_at": now, "closed_at": None, "peak": 0.0, "current": 0.0,
           "expected": 0.0, "ratio": 1.0, "score": 0.0, "details": {"label": "Test", "timezone": "Europe/London"}}
    failures = 0
    tried = 0

    def report(channel: str, target: str, error: str | None) -> None:
        nonlocal failures, tried
        tried += 1
        if error:
            failures += 1
            click.secho(f"{channel:<8} {target}: FAILED — {error}", fg="red")
        else:
            click.secho(f"{channel:<8} {target}: ok", fg="green")

    if push:
        if not s.redis_url:
            click.echo("push     no Redis configured (EARSHOT_REDIS_URL): the dashboard gets no live alerts")
        else:
            try:
                notify.push(s.redis_url, notify.event_message("test", row))
                report("push", f"{notify.CHANNEL} + {notify.STREAM}", None)
            except Exception as exc:
                report("push", notify.strip_urls(s.redis_url), notify.strip_urls(f"{type(exc).__name__}: {exc}"))
    if email:
        recipients = list(to) or sorted({r for t in ctx.config.topics.values() for r in t.alerts.get("recipients") or []})
        if not s.smtp_host:
            click.echo("email    EARSHOT_SMTP_HOST is not set: alerts are not e-mailed")
        elif not recipients:
            click.echo("email    no recipients configured (alerts: recipients: in config/keywords.yaml)")
        for r in recipients if s.smtp_host else []:
            try:
                notify.send_email(s, notify.render_email("opened", row, sender=s.smtp_from, recipient=r))
                report("email", r, None)
            except notify.DeliveryError as exc:
                report("email", r, str(exc))
    if webhooks:
        hooks = notify.configured_webhooks(s)
        if not hooks:
            click.echo("webhook  none configured (EARSHOT_WEBHOOKS)")
        for name, fmt, url in hooks:
            try:
                notify.post_webhook(url, notify.render_webhook(fmt, "opened", row), s.http_timeout)
                report("webhook", name, None)
            except notify.DeliveryError as exc:
                report("webhook", name, str(exc))
    if failures:
        sys.exit(1)
    if not tried:
        click.echo("nothing configured to test")
