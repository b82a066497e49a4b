"""``earshot briefing``: build, preview, list, edit, approve and send the weekly briefing.

Plugged into the ``earshot`` command through the ``earshot.commands`` entry point. Thin: every
command calls :mod:`briefings.build` / :mod:`briefings.archive`.
"""

from __future__ import annotations

import getpass
import json
import sys
import webbrowser
from datetime import datetime, timezone
from pathlib import Path

import click

from monitor.cliutil import _context, _fail, _topic_id


def _settings(ctx):
    from briefings.settings import load_briefing_settings
    from monitor.config import ConfigError

    try:
        return load_briefing_settings(ctx.settings.config_path)
    except ConfigError as exc:
        _fail(f"configuration error:\n{exc}")


def _week(value: str | None, bs) -> "Week":
    from briefings.week import Week

    if not value:
        return Week.last_complete(datetime.now(timezone.utc), bs.timezone)
    try:
        return Week.parse(value, bs.timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _row(ctx, ref):
    from briefings.archive import BriefingError, get

    try:
        return get(ctx.store, ref)
    except (BriefingError, ValueError) as exc:
        _fail(str(exc))


def write_files(store, row, out: Path, sender: str, to: list[str]) -> list[Path]:
    """``briefing-WEEK.eml``, ``.html``, ``.txt`` and ``.pdf`` of a stored briefing in ``out``."""
    from briefings import archive

    out.mkdir(parents=True, exist_ok=True)
    week = row["week"]
    row = archive.ensure_pdf(store, row)
    msg = archive.message(store, row, sender=sender, to=to)
    files = {"eml": msg.as_bytes(), "html": row["html"].encode(), "txt": row["text"].encode(), "pdf": row["pdf"]}
    paths = []
    for ext, data in files.items():
        p = out / f"briefing-{week}.{ext}"
        p.write_bytes(data)
        paths.append(p)
    return paths


@click.group("briefing")
def briefing() -> None:
    """The weekly ministerial briefing: build, review, approve, send, archive."""


@briefing.command("build")
@click.option("--week", "week_s", metavar="YYYY-Www", help="ISO week, e.g. 2026-W47 (default: the last complete week).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Also write briefing-WEEK.eml, .html, .txt and .pdf into this folder.")
@click.option("--by", "by", default=None, help="Who is building it (recorded; default: your login name).")
@click.option("--timings", is_flag=True, help="Show how long each stage took.")
def build_cmd(week_s, out, by, timings) -> None:
    """Build the week's briefing as a draft in the archive (the same data gives the same content)."""
    from briefings.archive import save_build
    from briefings.build import build

    ctx = _context()
    bs = _settings(ctx)
    week = _week(week_s, bs)
    built = build(ctx.store, ctx.config, week, bs)
    row, new = save_build(ctx.store, built, by=by or getpass.getuser())
    click.echo(f"briefing {row['week']} ({built.content['period']}) revision {row['revision']}: "
               + ("new draft" if new else f"same content as stored, kept ({row['status']})")
               + f"; {built.content['total_posts']:,} posts on {len(built.content['topics'])} topics")
    for t in built.content["topics"]:
        click.echo(f"  {t['headline']}")
    if timings:
        click.echo("stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in built.stages_s.items()))
    if out:
        for p in write_files(ctx.store, row, out, bs.sender or ctx.settings.smtp_from, bs.recipients):
            click.echo(f"wrote {p}")


@briefing.command("list")
@click.option("--topic", help="Only briefings covering this topic.")
@click.option("--json", "as_json", is_flag=True)
def list_cmd(topic, as_json) -> None:
    """The archive: every briefing built, newest first, with who built, edited, approved and sent it."""
    from briefings.archive import listing

    ctx = _context(read_only=True)
    rows = listing(ctx.store, topic=_topic_id(ctx, topic) if topic else None)
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=1))
        return
    if not rows:
        click.echo("no briefings yet (build one: earshot briefing build)")
        return
    for r in rows:
        who = [f"built {r['built_at']:%Y-%m-%d %H:%M} by {r['built_by']}"]
        if r["edited_by"]:
            who.append(f"edited by {r['edited_by']}")
        if r["approved_by"]:
            who.append(f"approved {r['approved_at']:%Y-%m-%d %H:%M} by {r['approved_by']}")
        if r["sent_by"]:
            who.append(f"sent {r['sent_at']:%Y-%m-%d %H:%M} by {r['sent_by']} to {len(r['sent_to'] or [])} recipients")
        click.echo(f"{r['id']:>4}  {r['week']} r{r['revision']}  {r['status']:<8}  {'; '.join(who)}")


@briefing.command("preview")
@click.argument("ref", required=False)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write it here (.html, .txt, .pdf or .eml).")
@click.option("--open", "open_", is_flag=True, help="Open the HTML in the browser.")
@click.option("--stories", is_flag=True, help="List the story ids (for edit --remove / --order).")
def preview_cmd(ref, out, open_, stories) -> None:
    """Read a briefing (default: the latest): its text, or written to a file, or opened in the browser."""
    from briefings import archive

    ctx = _context()
    row = _row(ctx, ref)
    if stories:
        for t in archive.apply_edits_row(row)["topics"]:
            click.echo(t["label"])
            for s in t["stories"]:
                click.echo(f"  {s['id']:<28} {s['size']:>6} posts  {s['title'][:80]}")
        return
    if out or open_:
        bs = _settings(ctx)
        path = out or (ctx.settings.data_dir / f"briefing-{row['week']}.html")
        path.parent.mkdir(parents=True, exist_ok=True)
        ext = path.suffix.lower()
        if ext == ".pdf":
            path.write_bytes(archive.ensure_pdf(ctx.store, row)["pdf"])
        elif ext == ".txt":
            path.write_text(row["text"], encoding="utf-8")
        elif ext == ".eml":
            path.write_bytes(archive.message(ctx.store, row, sender=bs.sender or ctx.settings.smtp_from, to=bs.recipients).as_bytes())
        else:
            path.write_text(archive.browser_html(row), encoding="utf-8")
        click.echo(f"wrote {path}")
        if open_:
            webbrowser.open(path.resolve().as_uri())
        return
    click.echo(row["text"])


@briefing.command("edit")
@click.argument("ref", required=False)
@click.option("--by", required=True, help="Your name (recorded).")
@click.option("--note", help="Editor's note at the top ('' clears it).")
@click.option("--key-message", "key_messages", multiple=True, help="A key message at the top (repeat; replaces the list).")
@click.option("--remove", multiple=True, help="Story id to take out (repeat).")
@click.option("--restore", multiple=True, help="Removed story id to put back (repeat).")
@click.option("--order", multiple=True, help="Story ids to put first, in this order, within their topic (repeat).")
def edit_cmd(ref, by, note, key_messages, remove, restore, order) -> None:
    """Change a draft: editor's note, key messages, stories removed or reordered (an approved one goes back to draft)."""
    from briefings.archive import BriefingError, edit

    ctx = _context()
    row = _row(ctx, ref)
    try:
        row = edit(ctx.store, row["id"], by=by, note=note, key_messages=list(key_messages) if key_messages else None,
                   remove=remove, order=order, restore=restore)
    except BriefingError as exc:
        _fail(str(exc))
    e = row["edits"] or {}
    click.echo(f"briefing {row['week']} r{row['revision']} edited by {by}: now {row['status']}; "
               f"note {'set' if e.get('note') else 'none'}, {len(e.get('key_messages') or [])} key messages, "
               f"{len(e.get('removed') or [])} stories removed")


@briefing.command("approve")
@click.argument("ref", required=False)
@click.option("--by", required=True, help="Your name (recorded).")
@click.option("--note", help="A note for the record.")
def approve_cmd(ref, by, note) -> None:
    """Approve a draft for sending."""
    from briefings.archive import BriefingError, approve

    ctx = _context()
    row = _row(ctx, ref)
    try:
        row = approve(ctx.store, row["id"], by=by, note=note)
    except BriefingError as exc:
        _fail(str(exc))
    click.echo(f"briefing {row['week']} r{row['revision']} approved by {by}; send it with: earshot briefing send {row['week']} --by NAME")


@briefing.command("send")
@click.argument("ref", required=False)
@click.option("--by", required=True, help="Your name (recorded).")
def send_cmd(ref, by) -> None:
    """Send the approved briefing to the recipients in briefing.yaml over SMTP (EARSHOT_SMTP_*)."""
    from briefings.archive import BriefingError, send

    ctx = _context()
    bs = _settings(ctx)
    row = _row(ctx, ref)
    try:
        row = send(ctx.store, ctx.settings, bs, row["id"], by=by)
    except BriefingError as exc:
        _fail(str(exc))
    click.echo(f"briefing {row['week']} r{row['revision']} sent by {by} to {', '.join(row['sent_to'])}")


@briefing.command("history")
@click.argument("ref", required=False)
def history_cmd(ref) -> None:
    """Who did what to a briefing, and when."""
    from briefings.archive import events

    ctx = _context()
    row = _row(ctx, ref)
    click.echo(f"briefing {row['week']} r{row['revision']} ({row['status']})")
    for e in events(ctx.store, row["id"]):
        click.echo(f"  {e['at']:%Y-%m-%d %H:%M:%S}  {e['kind']:<11} {e['by']}" + (f": {e['note']}" if e["note"] else ""))
