"""Full-text search of stored posts: SQLite FTS5, PostgreSQL ``tsvector`` with a GIN index.

What a person types is never handed to the engine as query syntax. It is split into terms --
words, and ``"quoted phrases"`` -- and each term is quoted for the engine, so ``A&E``,
``NHS-trust``, unbalanced quotes, ``OR``, ``NEAR``, ``(``, ``:``, ``^`` and a lone ``*`` all search
as text and never raise. A word ending in ``*`` (at least three characters before it) matches as a
prefix. All terms must match. Text the engine splits into several tokens (``A&E`` into ``a`` and
``e``) is searched as a phrase of them, both when indexing and when searching, so it matches
itself.

**SQLite**: an external-content FTS5 table ``posts_fts`` over ``posts.title`` and ``posts.text``
(``unicode61``, accents folded). It is filled from ``posts`` by :func:`ensure_indexed` -- in chunks;
``search_state.last_id`` remembers how far -- every few seconds by the dashboard and before each
search, not by a trigger, so storing a batch costs nothing more. **PostgreSQL**: the generated column
``posts.search`` (``to_tsvector('simple', title || ' ' || text)``, with ``<``, ``>`` and ``&`` read
as spaces, so text inside something that looks like markup is indexed too) with a GIN index,
queried with ``to_tsquery('simple', ...)`` built from quoted lexemes (``'a' <-> 'e'``), never from
the person's text; it is always current.

Matches are marked with :data:`HIT_START` / :data:`HIT_END` around the matched words (by FTS5's
``highlight()`` on SQLite, by :func:`mark_terms` on PostgreSQL); :func:`highlight_html` turns them
into ``<mark>`` after escaping the text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text as sql_text

from monitor.sentiment import NEGATIVE, POSITIVE
from monitor.store import Store, _naive_utc, _sqlite_time

HIT_START, HIT_END = "\x02", "\x03"
INDEX_CHUNK = 20_000
SEARCH_INDEX_ROWS = 100_000  #: posts a search indexes before answering (the rest: the dashboard's background indexer)
MAX_TERMS = 16
COUNT_CAP = 1_000  #: totals above this are reported as "more than" (counting every match of a common word is slow)

_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Term:
    words: list[str]  # the tokens, lower case
    prefix: bool = False


@dataclass
class SearchResult:
    total: int
    capped: bool
    posts: list[dict[str, Any]] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    note: str | None = None


def parse(query: str) -> list[Term]:
    """The terms of what a person typed (see the module documentation).

    >>> [(t.words, t.prefix) for t in parse('A&E "waiting list" NHS-trust vaccin* * OR')]
    [(['a', 'e'], False), (['waiting', 'list'], False), (['nhs', 'trust'], False), (['vaccin'], True), (['or'], False)]
    """
    terms: list[Term] = []
    for m in _TOKEN.finditer(query or ""):
        phrase, word = m.group(1), m.group(2)
        raw = phrase if phrase is not None else word
        prefix = word is not None and word.endswith("*")
        words = [w.lower() for w in _WORD.findall(raw.replace("_", " "))]
        if not words:
            continue
        if prefix and len(words[-1]) < 3:
            prefix = False
        terms.append(Term(words, prefix))
        if len(terms) >= MAX_TERMS:
            break
    return terms


def fts5_query(terms: list[Term]) -> str:
    """FTS5 MATCH text: each term a quoted string (a phrase when several tokens), optionally a prefix."""
    parts = []
    for t in terms:
        q = '"' + " ".join(w.replace('"', '""') for w in t.words) + '"'
        parts.append(q + ("*" if t.prefix else ""))
    return " AND ".join(parts)


def pg_query(terms: list[Term]) -> tuple[str, list[str]]:
    """A ``to_tsquery`` text built from quoted lexemes (``'a' <-> 'e' & 'vaccin':*``): no user syntax."""
    parts = []
    for t in terms:
        words = ["'" + w.replace("'", "''").replace("\\", "\\\\") + "'" for w in t.words]
        if t.prefix:
            words[-1] += ":*"
        parts.append("(" + " <-> ".join(words) + ")" if len(words) > 1 else words[0])
    return " & ".join(parts), []


def ensure_indexed(store: Store, max_rows: int | None = None) -> int:
    """SQLite: add posts stored since the last call to ``posts_fts`` (at most ``max_rows``, in chunks of
    :data:`INDEX_CHUNK`, one transaction each, so writers wait at most one chunk); return how many posts
    are still not indexed (0: all). Several processes may call it at once: each chunk's first statement
    is a write, so SQLite serialises them, and each reads how far the index got inside its own chunk.
    When the index is caught up it only reads (a search after it takes no write lock, so it never
    waits for a writer storing a batch)."""
    if store.dialect != "sqlite":
        return 0
    with store.engine.connect() as conn:  # caught up (the usual case): answered without a write lock
        last = conn.execute(sql_text("SELECT last_id FROM search_state WHERE name = 'posts'")).scalar()
        if last is not None and (conn.execute(sql_text("SELECT max(id) FROM posts")).scalar() or 0) <= last:
            return 0
    done = 0
    while True:
        with store.engine.begin() as conn:
            conn.execute(sql_text("INSERT INTO search_state(name, last_id) VALUES ('posts', 0) "
                                  "ON CONFLICT (name) DO NOTHING"))
            last = int(conn.execute(sql_text("SELECT last_id FROM search_state WHERE name = 'posts'")).scalar())
            newest = conn.execute(sql_text("SELECT max(id) FROM posts")).scalar() or 0
            if newest <= last:
                return 0
            if max_rows is not None and done >= max_rows:
                return int(conn.execute(sql_text("SELECT count(*) FROM posts WHERE id > :a"), {"a": last}).scalar())
            upto = min(newest, last + INDEX_CHUNK)
            conn.execute(sql_text("INSERT INTO posts_fts(rowid, title, text) SELECT id, title, text FROM posts "
                                  "WHERE id > :a AND id <= :b"), {"a": last, "b": upto})
            conn.execute(sql_text("UPDATE search_state SET last_id = :v WHERE name = 'posts'"), {"v": upto})
        done += upto - last


def search(store: Store, query: str, *, topic: str | None = None, platform: str | None = None,
           since: datetime | None = None, until: datetime | None = None, sentiment: str | None = None,
           kind: str | None = None, order: str = "relevance", limit: int = 20, offset: int = 0) -> SearchResult:
    """Posts matching ``query`` (see the module documentation), newest or most relevant first.

    ``sentiment`` is ``negative``, ``neutral`` or ``positive`` (the rollups' thresholds); ``kind`` a
    post kind (original, retweet, quote, reply, article). Each post comes with its author's handle
    and ``snippet``: the text with the matches between :data:`HIT_START` and :data:`HIT_END`.
    """
    terms = parse(query)
    if not terms:
        return SearchResult(0, False, note="Type at least one word to search for.")
    limit = max(1, min(limit, 100))
    offset = max(0, offset)
    where, params = [], {}
    if topic:
        where.append("EXISTS (SELECT 1 FROM post_topics pt WHERE pt.post_id = p.id AND pt.topic = :topic)")
        params["topic"] = topic
    if platform:
        # SQLite: the unary + keeps the platform index (platform, ref_platform_id) from driving the query
        where.append(("+" if store.dialect == "sqlite" else "") + "p.platform = :platform")
        params["platform"] = platform
    if kind:
        where.append("p.kind = :kind")
        params["kind"] = kind
    if since is not None:
        where.append("p.created_at >= :since")
        params["since"] = _t(store, since)
    if until is not None:
        where.append("p.created_at < :until")
        params["until"] = _t(store, until)
    if sentiment == "negative":
        where.append(f"p.sentiment <= {NEGATIVE}")
    elif sentiment == "positive":
        where.append(f"p.sentiment >= {POSITIVE}")
    elif sentiment == "neutral":
        where.append(f"p.sentiment > {NEGATIVE} AND p.sentiment < {POSITIVE}")
    extra = "".join(f" AND {w}" for w in where)
    cols = ("p.id, p.platform, p.platform_id, p.kind, p.created_at, p.url, p.sentiment, p.title, "
            "a.id AS account_id, a.handle, a.name")
    behind = 0
    if store.dialect == "sqlite":
        behind = ensure_indexed(store, max_rows=SEARCH_INDEX_ROWS)
        params["q"] = fts5_query(terms)
        base = f"FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid JOIN accounts a ON a.id = p.account_id " \
               f"WHERE posts_fts MATCH :q{extra}"
        order_sql = "posts_fts.rank" if order == "relevance" else "p.created_at DESC"
        marks_sql = (f"highlight(posts_fts, 1, '{HIT_START}', '{HIT_END}') AS snippet, "
                     f"highlight(posts_fts, 0, '{HIT_START}', '{HIT_END}') AS title_snippet")
        if not extra and order == "relevance":
            # no filter on the posts: the index alone finds, counts and ranks; 20 rows are joined after
            count_from = "FROM posts_fts WHERE posts_fts MATCH :q"
            rows_sql = (f"SELECT {cols}, hit.snippet, hit.title_snippet FROM (SELECT rowid AS id, rank AS r, {marks_sql} "
                        f"FROM posts_fts WHERE posts_fts MATCH :q ORDER BY rank LIMIT :limit OFFSET :offset) hit "
                        f"JOIN posts p ON p.id = hit.id JOIN accounts a ON a.id = p.account_id ORDER BY hit.r, p.id DESC")
        else:
            count_from = base
            rows_sql = f"SELECT {cols}, {marks_sql} {base} ORDER BY {order_sql}, p.id DESC LIMIT :limit OFFSET :offset"
    else:
        tsq, _ = pg_query(terms)
        params["q"] = tsq
        base = f"FROM posts p JOIN accounts a ON a.id = p.account_id WHERE p.search @@ to_tsquery('simple', :q){extra}"
        key = "ts_rank(p.search, to_tsquery('simple', :q))" if order == "relevance" else "p.created_at"
        count_from = base
        rows_sql = (f"SELECT {cols}, p.text AS snippet, p.title AS title_snippet "
                    f"FROM (SELECT p.id, {key} AS sort_key {base} ORDER BY sort_key DESC, p.id DESC "
                    f"LIMIT :limit OFFSET :offset) hit JOIN posts p ON p.id = hit.id JOIN accounts a ON a.id = p.account_id "
                    f"ORDER BY hit.sort_key DESC, p.id DESC")
    params.update(limit=limit, offset=offset)
    with store.engine.connect() as conn:
        total = conn.execute(sql_text(f"SELECT count(*) FROM (SELECT 1 {count_from} LIMIT {COUNT_CAP + 1}) c"),
                             params).scalar() or 0
        if store.dialect == "sqlite" and order == "newest" and total > COUNT_CAP:
            # a common word: walk the posts newest first by their time index and keep the matching ones
            # (the matches' ids looked up in a list the index makes once), stopping at the page's last
            # row, instead of joining and sorting every match; then the page's rows with their marks
            ids = [r[0] for r in conn.execute(sql_text(_newest_walk_sql(extra)), params)]
            rows = [dict(r) for r in conn.execute(sql_text(
                f"SELECT {cols}, {marks_sql} {base} AND posts_fts.rowid IN ({', '.join(str(int(i)) for i in ids) or 'NULL'}) "
                f"ORDER BY p.created_at DESC, p.id DESC"), params).mappings()]
        else:
            rows = [dict(r) for r in conn.execute(sql_text(rows_sql), params).mappings()]
    for r in rows:
        r["created_at"] = _dt(r["created_at"])
        if store.dialect != "sqlite":  # marked here: ts_headline's parser would hide text inside "<...>"
            r["snippet"] = mark_terms(r["snippet"], terms)
            r["title_snippet"] = mark_terms(r["title_snippet"], terms)
    note = (f"The search index is catching up: {behind:,} of the newest stored posts are not searchable yet."
            if behind else None)
    return SearchResult(min(total, COUNT_CAP), total > COUNT_CAP, rows, [" ".join(t.words) for t in terms], note)


def _newest_walk_sql(extra: str) -> str:
    """SQLite, newest first over many matches: the posts' time index read backwards (it gives the
    order, so nothing is sorted), each post kept when its id is among the matches and the filters
    (``extra``) hold, up to the page's last row."""
    return ("SELECT p.id FROM posts p INDEXED BY ix_posts_created_at "
            f"WHERE p.id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH :q){extra} "
            "ORDER BY p.created_at DESC, p.id DESC LIMIT :limit OFFSET :offset")


def mark_terms(text: str | None, terms: list[Term]) -> str | None:
    """``text`` with every match of ``terms`` between :data:`HIT_START` and :data:`HIT_END`."""
    if not text:
        return text
    pats = []
    for t in terms:
        words = [re.escape(w) for w in t.words]
        if t.prefix:
            words[-1] += r"\w*"
        pats.append(r"(?<!\w)" + r"\W+".join(words) + r"(?!\w)")
    rx = re.compile("|".join(pats), re.IGNORECASE)
    return rx.sub(lambda m: HIT_START + m.group(0) + HIT_END, text.replace(HIT_START, "").replace(HIT_END, ""))


def highlight_html(snippet: str | None) -> str:
    """Escape a snippet and turn its match markers into ``<mark>`` (safe to place in a page)."""
    if not snippet:
        return ""
    out = html.escape(snippet, quote=True)
    return out.replace(HIT_START, '<mark class="earshot-hit">').replace(HIT_END, "</mark>")


def _t(store: Store, value: datetime):
    """A time as the store keeps it, for a textual query."""
    return _sqlite_time(value) if store.dialect == "sqlite" else _naive_utc(value)


def _dt(value):
    from monitor.models import UTCDateTime

    return UTCDateTime().process_result_value(value, None)
