"""Replaying recorded data, and Earshot's own export format.

``earshot import FILE...`` reads, in any mix:

- JSONL of X API v2 response pages as twarc2 writes them, flattened or not;
- RSS or Atom feed files;
- Earshot's own export (``earshot export``): JSONL whose first line is
  ``{"earshot_export": 1, ...}`` and whose other lines are batches.

Each file goes through the same pipeline as live collection. A file that
cannot be read is reported and skipped; importing the same file twice adds
nothing twice.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import select

from monitor import models as m
from monitor.compression import READ_ERRORS, open_input, read_input
from monitor.items import Account, Batch, Post, Reference
from monitor.store import Store, WriteResult
from monitor.topics import Matcher

EXPORT_MARK = "earshot_export"
EXPORT_VERSION = 1
MAX_LINE = 256 * 1024 * 1024  # a longer "line" is not a response page


@dataclass
class FileSummary:
    path: str
    format: str = "unknown"
    posts: int = 0
    new: int = 0
    accounts: int = 0
    interactions: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)
    failed: str | None = None  # why the file was skipped, if it was
    not_stored: int = 0  # posts of batches that could not be stored nor kept (each named in ``errors``)
    quarantined: int = 0  # posts the store refused, kept in quarantine (``earshot quarantine list``)
    seconds: float = 0.0
    topic_posts: dict[str, int] = field(default_factory=dict)  # topic -> posts newly tagged (new or promoted)
    promoted: int = 0  # posts stored before only as a reference, collected by this file
    skipped: int = 0  # items read but not posts (a tweet without an author): each named in ``errors``
    notes: list[str] = field(default_factory=list)  # facts about the data (X's partial errors)
    first: datetime | None = None  # the time of the earliest collected post read
    last: datetime | None = None  # and of the latest

    @property
    def duplicates(self) -> int:
        return self.posts - self.new - self.promoted

    def add_span(self, posts) -> None:
        """Widen ``first``/``last`` to the times of ``posts``."""
        # not the posts only referred to (a retweet's original can be years old)
        times = [p.created_at for p in posts if p.created_at is not None and not p.extra.get("referenced_only")]
        if times:
            lo, hi = min(times), max(times)
            self.first = lo if self.first is None else min(self.first, lo)
            self.last = hi if self.last is None else max(self.last, hi)


def import_window(summaries) -> tuple[datetime, datetime] | None:
    """The whole UTC days an import's posts fall in: ``[first's midnight, the midnight after last)``.

    The window the commands after an import are told to look at (None when no post was read).
    """
    from monitor.health import whole_days

    firsts = [s.first for s in summaries if s.first is not None]
    lasts = [s.last for s in summaries if s.last is not None]
    return whole_days(min(firsts), max(lasts)) if firsts else None


SNIFF_LINES = 20  # non-blank lines looked at to tell a JSON lines file's format


def sniff(path: Path) -> str:
    """``x-v2``, ``earshot``, ``feed``, ``empty``; raises ValueError when it is none of them.

    A JSON lines file is known by its first line that reads as a JSON object or array: a first
    line that is not UTF-8, not JSON or nested too deeply to read does not hide the lines after it
    (the reader reports it by its number and imports the rest).
    """
    with open_input(path) as fh:
        head = fh.read(65536)
    if not head.strip():
        return "empty"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        low = stripped[:4096].lower()
        if b"<rss" in low or b"<feed" in low or b"<rdf" in low or b"<?xml" in low:
            return "feed"
        raise ValueError("looks like HTML or XML but not an RSS/Atom feed")
    obj, looked = _first_json_line(path)
    if obj is None:
        if stripped.startswith((b"{", b"[")):
            # one big JSON document (not JSONL), e.g. a single API response saved with indentation
            try:
                obj = json.loads(read_input(path))
            except (ValueError, RecursionError) as exc:
                raise ValueError(f"not JSON lines: none of the first {looked} lines reads as JSON "
                                 f"({exc.__class__.__name__})") from None
        else:
            raise ValueError("not a format Earshot reads (X API v2 JSONL, RSS/Atom, or an Earshot export)")
    if isinstance(obj, dict) and EXPORT_MARK in obj:
        return "earshot"
    from monitor.sources.xv2 import is_x_v2_line

    if isinstance(obj, dict) and is_x_v2_line(obj):
        return "x-v2"
    if isinstance(obj, list) and obj and isinstance(obj[0], dict) and is_x_v2_line({"data": obj}):
        return "x-v2"
    raise ValueError("JSON, but neither X API v2 responses nor an Earshot export")


def _first_json_line(path: Path) -> tuple[object, int]:
    """The first of the first :data:`SNIFF_LINES` non-blank lines that reads as a JSON object or array
    (None if none does), and how many lines were looked at."""
    looked = 0
    with open_input(path) as fh:
        while looked < SNIFF_LINES:
            line = fh.readline(MAX_LINE)  # however long (X pages run to megabytes)
            if not line:
                break
            if not line.strip():
                continue
            looked += 1
            try:
                obj = json.loads(line.decode("utf-8-sig" if looked == 1 else "utf-8"))
            except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deeply
                continue
            if isinstance(obj, (dict, list)):
                return obj, looked
    return None, looked


def iter_file_batches(path: Path, fmt: str, batch_size: int, source: str | None = None) -> Iterator[Batch]:
    name = source or f"import:{path.name}"
    if fmt == "x-v2":
        from monitor.sources.xv2 import iter_jsonl_batches

        yield from iter_jsonl_batches(path, name, batch_size=batch_size)
    elif fmt == "feed":
        from monitor.sources.rss import parse_feed_bytes

        yield parse_feed_bytes(read_input(path), source or _stem(path), None, source=name)
    elif fmt == "earshot":
        yield from read_export(path, name)
    elif fmt == "empty":
        return
    else:  # pragma: no cover - sniff() never returns anything else
        raise ValueError(fmt)


def _stem(path: Path) -> str:
    """A file's name without its extensions: ``health.xml.gz`` -> ``health``."""
    return path.name.split(".", 1)[0] or path.name


def import_files(
    paths: list[Path],
    store: Store,
    matcher: Matcher,
    *,
    batch_size: int = 500,
    source: str | None = None,
    progress: bool = True,
    on_file: Callable[[FileSummary], None] | None = None,
    store_batch: Callable[[Batch], WriteResult] | None = None,
) -> list[FileSummary]:
    """Import each file through the pipeline; one summary per file, failures included.

    ``store_batch`` stores one batch (default: :func:`monitor.durable.store_or_quarantine` into
    ``store``: posts the store refuses are quarantined with the reason, counted in ``quarantined``,
    the rest stored). A batch it raises for (the database away) is reported in the file's
    ``errors`` with the reason and its posts counted in ``not_stored``; the import goes on with
    the file's next batch and the next files.
    """
    from tqdm import tqdm

    if store_batch is None:
        from monitor.durable import store_or_quarantine

        def store_batch(batch: Batch) -> WriteResult:
            outcome = store_or_quarantine(batch, store, matcher)
            for q in outcome.quarantined:
                summary.quarantined += q["posts"]
                summary.errors.append(f"batch {summary.batches}: {q['posts']} posts quarantined "
                                      f"(batch {q['id']}): {q['reason']}")
            return outcome.result

    summaries = []
    for path in paths:
        path = Path(path)
        summary = FileSummary(path=str(path))
        t0 = time.perf_counter()
        try:
            if not path.exists():
                raise ValueError("no such file")
            if path.is_dir():
                raise ValueError("is a folder (give the files inside it, e.g. folder/*.jsonl)")
            summary.format = sniff(path)
            size = path.stat().st_size
            bar = tqdm(total=size, unit="B", unit_scale=True, desc=path.name[:30], disable=not progress, leave=False)
            with bar:
                for batch in iter_file_batches(path, summary.format, batch_size, source):
                    summary.batches += 1
                    summary.skipped += batch.skipped
                    summary.notes.extend(batch.notes)
                    try:
                        result: WriteResult = store_batch(batch)
                    except Exception as exc:  # one batch the store refuses must not cost the rest
                        summary.not_stored += len(batch.posts)
                        summary.errors.extend(batch.errors)
                        summary.errors.append(f"batch {summary.batches} ({len(batch.posts)} posts) not stored: "
                                              f"{error_reason(exc)}")
                        _advance(bar, batch)
                        continue
                    summary.posts += result.posts_in
                    summary.new += result.posts_new
                    summary.promoted += result.posts_promoted
                    summary.accounts += result.accounts
                    summary.interactions += result.interactions_new
                    for k, v in result.topic_posts.items():
                        summary.topic_posts[k] = summary.topic_posts.get(k, 0) + v
                    summary.errors.extend(batch.errors)
                    summary.add_span(batch.posts)
                    _advance(bar, batch)
                bar.update(size - bar.n)
        except (ValueError, RecursionError, *READ_ERRORS) as exc:
            summary.failed = str(exc) or exc.__class__.__name__
        summary.seconds = time.perf_counter() - t0
        summaries.append(summary)
        if on_file:
            on_file(summary)
    return summaries


def error_reason(exc: BaseException) -> str:
    """Why a write failed, in one line: the driver's own message, without the SQL or its parameters
    (they hold stranger text, and a URL could hold a password)."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first}"[:500]


def _advance(bar, batch: Batch) -> None:
    """Move the progress bar to the byte offset the file reader reports, if it does."""
    offset = batch.position
    if isinstance(offset, int) and offset > bar.n:
        bar.update(offset - bar.n)


# ---------------------------------------------------------------------- export
def export(store: Store, out: Path, *, topic: str | None = None, since: datetime | None = None,
           until: datetime | None = None, batch_size: int = 1000) -> int:
    """Write posts (and their authors and referenced accounts) as Earshot export JSONL; returns posts written."""
    p, a, pt = m.posts, m.accounts, m.post_topics
    q = select(p, a.c.platform_id.label("author_pid")).join(a, a.c.id == p.c.account_id).order_by(p.c.id)
    if topic:
        q = q.where(p.c.id.in_(select(pt.c.post_id).where(pt.c.topic == topic)))
    if since:
        q = q.where(p.c.created_at >= since)
    if until:
        q = q.where(p.c.created_at < until)
    n = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with store.engine.connect() as conn, open(out, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({EXPORT_MARK: EXPORT_VERSION, "topic": topic,
                             "since": since.isoformat() if since else None,
                             "until": until.isoformat() if until else None}) + "\n")
        rows = conn.execute(q).mappings()
        chunk: list = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch_size:
                n += _write_chunk(conn, fh, chunk)
                chunk = []
        if chunk:
            n += _write_chunk(conn, fh, chunk)
    return n


def _write_chunk(conn, fh, rows) -> int:
    i, a = m.interactions, m.accounts
    post_ids = [r["id"] for r in rows]
    edges: dict[int, list] = {}
    for e in conn.execute(
        select(i.c.post_id, i.c.kind, i.c.ref_platform_id, i.c.dst_account_id)
        .where(i.c.post_id.in_(post_ids))
    ):
        edges.setdefault(e.post_id, []).append(e)
    wanted = {r["account_id"] for r in rows} | {e.dst_account_id for lst in edges.values() for e in lst}
    acc_rows = {ar["id"]: ar for ar in conn.execute(select(a).where(a.c.id.in_(list(wanted)))).mappings()}
    posts = []
    for r in rows:
        refs, mentions, handles = [], [], []
        for e in edges.get(r["id"], []):
            dst = acc_rows[e.dst_account_id]
            if e.kind == "mention":
                mentions.append(dst["platform_id"])
                if dst["handle"]:
                    handles.append(dst["handle"])
            else:
                refs.append(Reference(kind=e.kind, platform_id=e.ref_platform_id, author_id=dst["platform_id"]))
        if r["ref_kind"] and not any(x.kind == r["ref_kind"] for x in refs):
            # the referenced post's author was unknown (deleted, withheld): keep the reference
            refs.insert(0, Reference(kind=r["ref_kind"], platform_id=r["ref_platform_id"], author_id=None))
        posts.append(Post(
            platform=r["platform"], platform_id=r["platform_id"], kind=r["kind"], author_id=r["author_pid"],
            text=r["text"], created_at=r["created_at"], lang=r["lang"], url=r["url"], title=r["title"],
            source=r["source"], hashtags=r["hashtags"] or [], mentions=mentions, mention_handles=handles,
            links=r["links"] or [], references=refs, retweets=r["retweets"], replies=r["replies"],
            likes=r["likes"], quotes=r["quotes"], conversation_id=r["conversation_id"], edit_of=r["edit_of"],
            withheld=r["withheld"] or [], extra={"referenced_only": True} if r["referenced_only"] else {},
        ))
    accounts = [
        Account(
            platform=ar["platform"], platform_id=ar["platform_id"], handle=ar["handle"], name=ar["name"],
            description=ar["description"], followers=ar["followers"], following=ar["following"],
            posts_count=ar["posts_count"], created_at=ar["created_at"], verified=ar["verified"], url=ar["url"],
            location=ar["location"], partial=bool(ar["partial"]),
        )
        for ar in acc_rows.values()
    ]
    batch = Batch(source="export", posts=posts, accounts=accounts)
    fh.write(json.dumps({"batch": batch.to_dict()}, ensure_ascii=False) + "\n")
    return len(posts)


def read_export(path: Path, source: str) -> Iterator[Batch]:
    """The batches of an Earshot export; a line that cannot be read (not UTF-8, not JSON, nested too
    deeply, not a batch) is reported by its number in an empty batch's errors, and reading goes on."""
    from monitor.sources.xv2 import TOO_DEEP

    with open_input(path) as fh:
        header = fh.readline(MAX_LINE)
        try:
            head = json.loads(header.decode("utf-8-sig"))
        except (ValueError, RecursionError):
            raise ValueError("line 1: not an Earshot export header") from None
        if not isinstance(head, dict) or head.get(EXPORT_MARK) != EXPORT_VERSION:
            version = head.get(EXPORT_MARK) if isinstance(head, dict) else None
            raise ValueError(f"line 1: export version {version!r}, this Earshot reads {EXPORT_VERSION}")
        for lineno, raw in enumerate(fh, start=2):
            if not raw.strip():
                continue
            where = f"{path.name} line {lineno}"
            try:
                batch = Batch.from_dict(json.loads(raw.decode("utf-8"))["batch"])
            except RecursionError:
                yield Batch(source=source, errors=[f"{where}: {TOO_DEEP}"])
                continue
            except UnicodeDecodeError as exc:
                yield Batch(source=source, errors=[f"{where}: not UTF-8 ({exc.reason} at byte {exc.start})"])
                continue
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                yield Batch(source=source, errors=[f"{where}: not an export batch ({exc.__class__.__name__})"])
                continue
            batch.source = source
            yield batch
