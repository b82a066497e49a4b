"""The data model: SQLAlchemy Core tables shared by SQLite and PostgreSQL.

Schema changes go through Alembic migrations in ``monitor/migrations``; the
tables here are what the newest migration builds (a test checks they agree).

Times are stored as naive UTC (:class:`UTCDateTime`) so SQLite and PostgreSQL
behave the same; they come back as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Integer primary keys: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

BUCKET_SECONDS = 300  # rollup bucket: 5 minutes


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out; stored naive UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text from a textual query
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc)


def bucket_start(dt: datetime, seconds: int = BUCKET_SECONDS) -> datetime:
    """The start of the rollup bucket holding ``dt`` (aware UTC)."""
    ts = int(dt.timestamp())
    return datetime.fromtimestamp(ts - ts % seconds, tz=timezone.utc)


accounts = Table(
    "accounts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("platform_id", String(128), nullable=False),
    Column("handle", String(255)),
    Column("name", String(255)),
    Column("description", Text),
    Column("followers", Integer),
    Column("following", Integer),
    Column("posts_count", Integer),
    Column("created_at", UTCDateTime),
    Column("verified", Boolean),
    Column("url", Text),
    Column("location", String(255)),
    # True while all we know of the account comes from references (mentions, reply targets)
    Column("partial", Boolean, nullable=False, default=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "platform_id", name="uq_accounts_platform_id"),
    Index("ix_accounts_handle", "platform", "handle"),
)

posts = Table(
    "posts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("platform_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),  # original | retweet | quote | reply | article
    Column("account_id", BigId, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("text", Text, nullable=False),
    Column("title", Text),
    Column("lang", String(16)),
    Column("url", Text),
    Column("source", String(128)),
    Column("hashtags", JSON),
    Column("links", JSON),
    Column("ref_kind", String(16)),  # the main reference: retweet | quote | reply
    Column("ref_platform_id", String(255)),
    Column("conversation_id", String(255)),
    Column("edit_of", String(255)),
    Column("withheld", JSON),
    Column("retweets", Integer),
    Column("replies", Integer),
    Column("likes", Integer),
    Column("quotes", Integer),
    Column("sentiment", Float, nullable=False),  # VADER compound, -1..1
    # seen only as the target of a retweet/quote/reply (X's includes.tweets): not topic-tagged or counted
    Column("referenced_only", Boolean, nullable=False, default=False),
    Column("stored_at", UTCDateTime, nullable=False),
    # the normalised text's signature for near-duplicate search (monitor.textsig): NULL for a retweet or
    # one not worked out yet, b"" for a text too short to compare
    Column("text_sig", LargeBinary),
    UniqueConstraint("platform", "platform_id", name="uq_posts_platform_id"),
    Index("ix_posts_created_at", "created_at"),
    Index("ix_posts_account", "account_id", "created_at"),
    Index("ix_posts_ref", "platform", "ref_platform_id"),
)

post_topics = Table(
    "post_topics",
    metadata,
    Column("post_id", BigId, ForeignKey("posts.id"), primary_key=True),
    Column("topic", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),  # copied from the post for range scans
    Column("account_id", BigId, nullable=False),
    Column("terms", JSON),  # the query terms that matched: why the post is on the topic
    Index("ix_post_topics_topic_time", "topic", "created_at"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("post_id", BigId, ForeignKey("posts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # retweet | quote | reply | mention
    Column("src_account_id", BigId, ForeignKey("accounts.id"), nullable=False),
    Column("dst_account_id", BigId, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("platform", String(16), nullable=False),
    Column("ref_platform_id", String(255)),  # the retweeted/quoted/replied-to post
    UniqueConstraint("post_id", "kind", "dst_account_id", name="uq_interactions_edge"),
    Index("ix_interactions_dst", "dst_account_id", "created_at"),
    Index("ix_interactions_src", "src_account_id", "created_at"),
)

rollups = Table(
    "rollups",
    metadata,
    Column("topic", String(64), primary_key=True),
    Column("bucket", UTCDateTime, primary_key=True),  # start of a 5-minute bucket
    Column("posts", Integer, nullable=False, default=0),
    Column("authors", Integer, nullable=False, default=0),  # distinct authors in the bucket
    Column("sentiment_sum", Float, nullable=False, default=0.0),
    Column("negative", Integer, nullable=False, default=0),  # compound <= -0.05
    Column("positive", Integer, nullable=False, default=0),  # compound >= 0.05
)

share_rollups = Table(
    # per topic and hour: how often each post was retweeted or quoted (kind "post": platform, its
    # platform id) and each http(s) link was in a post (kind "link": the url), counted over the
    # topic's tags as the topic page's most-shared lists count them (monitor.shares)
    "share_rollups",
    metadata,
    Column("topic", String(64), primary_key=True),
    Column("kind", String(8), primary_key=True),  # post | link
    Column("bucket", UTCDateTime, primary_key=True),  # start of the hour
    Column("platform", String(16), primary_key=True),
    Column("ref", String(600), primary_key=True),  # links longer are not counted (an index key's limit)
    Column("n", Integer, nullable=False),
)

rollup_authors = Table(
    "rollup_authors",
    metadata,
    Column("topic", String(64), primary_key=True),
    Column("bucket", UTCDateTime, primary_key=True),
    Column("account_id", BigId, primary_key=True),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(128), primary_key=True),
    Column("cursor", JSON),
    Column("last_run_at", UTCDateTime),
    Column("last_ok_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("runs", Integer, nullable=False, default=0),
    Column("items", BigInteger, nullable=False, default=0),
    Column("new_items", BigInteger, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("rate_limit_waits", Integer, nullable=False, default=0),
    Column("rate_limit_seconds", Float, nullable=False, default=0.0),
)

gaps = Table(
    "gaps",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(128), nullable=False),
    Column("start", UTCDateTime, nullable=False),
    Column("end", UTCDateTime),
    Column("reason", String(32), nullable=False),  # error | rate_limited | disconnect | dropped
    Column("detail", Text),
    UniqueConstraint("source", "start", "reason", name="uq_gaps_source_start"),
    Index("ix_gaps_source_time", "source", "start"),
)


# A batch kept in the store from the moment a source (or an import) hands it over until it is
# stored (see monitor/durable.py): the broker carries only its id, so a lost message, a killed
# worker or a database outage never loses it. ``state``: pending -> stored, or quarantined (it
# could not be stored: the reason is kept, and it is replayed once fixed). The payload (the
# batch's JSON, zlib-compressed) is dropped once it is stored.
raw_batches = Table(
    "raw_batches",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(128), nullable=False),
    Column("state", String(16), nullable=False),  # pending | stored | quarantined
    Column("posts", Integer, nullable=False, default=0),
    Column("payload", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),  # last handed to the broker
    Column("sends", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),  # tries that failed
    Column("last_error", Text),
    Column("stored_at", UTCDateTime),
    Column("reason", Text),  # why it is quarantined
    Column("parent_id", BigInteger),  # the batch a quarantined part was split from
    Index("ix_raw_batches_state_created", "state", "created_at"),
)

# --- influence ---
# Stored influence rankings (written by influence.tasks / influence.lookup, read by the CLI,
# the dashboard and the briefing). One run = one topic, platform and time window, with or
# without the amplification of flagged (automated or coordinated) accounts; it keeps the
# top accounts' scores and the topic's communities so a lookup is one indexed read.

influence_runs = Table(
    "influence_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("platform", String(16), nullable=False),  # "all" or one platform
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("exclude_flagged", Boolean, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
    Column("seconds", Float, nullable=False),  # how long the computation took
    Column("interactions", Integer, nullable=False),  # interaction rows read (self-loops included)
    Column("accounts", Integer, nullable=False),  # accounts in the topic's network
    Column("edges", Integer, nullable=False),  # distinct (source, target) pairs
    Column("flagged", Integer, nullable=False),  # accounts flagged as automated or coordinated
    Column("previous_run_id", BigId),  # the run of the previous window that rank changes compare with
    Column("params", JSON),  # score weights, betweenness sample, seed, thresholds
    UniqueConstraint("topic", "platform", "window_start", "window_end", "exclude_flagged",
                     name="uq_influence_runs_window"),
    Index("ix_influence_runs_lookup", "topic", "platform", "exclude_flagged", "window_end"),
)

influence_jobs = Table(
    # a ranking being computed off the request path (influence.jobs): one row per topic, platform,
    # window and variant claims it, so of many readers and processes one computes; deleted once the
    # run is stored, kept with its error when it failed
    "influence_jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("exclude_flagged", Boolean, nullable=False),
    Column("state", String(16), nullable=False),  # running | failed
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(128), nullable=False),  # host:pid, or the Celery task
    Column("finished_at", UTCDateTime),
    Column("error", Text),
    UniqueConstraint("topic", "platform", "window_start", "window_end", "exclude_flagged",
                     name="uq_influence_jobs_window"),
)

influence_exports = Table(
    # an influence run's export file (influence.export_jobs), built once off the request path: the row
    # claims the build (one process of many wins its insert), then holds the file until the run is pruned
    "influence_exports",
    metadata,
    Column("run_id", BigId, ForeignKey("influence_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("format", String(16), primary_key=True),  # gexf | graphml | csv
    Column("state", String(16), nullable=False),  # running | failed | done
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(128), nullable=False),  # host:pid, or the Celery task
    Column("finished_at", UTCDateTime),
    Column("error", Text),
    Column("body", LargeBinary),  # the file, gzip (csv: the accounts file)
    Column("edges", LargeBinary),  # csv only: the interactions file, gzip
)

influence_scores = Table(
    "influence_scores",
    metadata,
    Column("run_id", BigId, ForeignKey("influence_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("account_id", BigId, ForeignKey("accounts.id"), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("previous_rank", Integer),  # rank in the previous window (None: not ranked then)
    Column("score", Float, nullable=False),  # the combined influence score, 0-100
    Column("pagerank", Float, nullable=False),
    Column("in_degree", Integer, nullable=False),  # distinct accounts that retweeted, quoted, replied or mentioned
    Column("authority", Float, nullable=False),
    Column("betweenness", Float, nullable=False),
    Column("amplifiers", Integer, nullable=False),  # distinct accounts that retweeted or quoted it
    Column("amplifications", Integer, nullable=False),  # retweets and quotes received (shown, not scored)
    Column("replies", Integer, nullable=False),  # replies received
    Column("mentions", Integer, nullable=False),  # mentions received
    Column("posts", Integer, nullable=False),  # its own posts on the topic in the window
    Column("community", Integer),
    Column("flagged", Boolean, nullable=False),
    Column("flags", JSON),  # [{"kind": ..., "evidence": ...}, ...]
    Column("parts", JSON),  # {measure: points of the score} (influence.scoring)
    # its amplification comes mostly from flagged accounts: {"share", "rings": [{"ring", "share", ...}], ...}
    Column("boosted", JSON),
    Index("ix_influence_scores_rank", "run_id", "rank"),
)

# Automation and coordination found by a run (influence.bots), for every account with a signal or a
# boost (not only the top accounts), so alert texts and pages can say "amplified by ring 2" without
# importing influence.
influence_flags = Table(
    "influence_flags",
    metadata,
    Column("run_id", BigId, ForeignKey("influence_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("account_id", BigId, ForeignKey("accounts.id"), primary_key=True),
    Column("flagged", Boolean, nullable=False),  # automated or coordinated (its own behaviour)
    Column("ring", Integer),  # the coordinated group it belongs to (1 = the largest), None: none
    Column("signals", JSON),  # the signal kinds, e.g. ["coordinated", "new_account"]
    Column("evidence", JSON),  # [{"kind", "evidence" (a sentence), "data"}, ...]
    Column("boosted_share", Float),  # share of the retweets/quotes it received from flagged accounts (when boosted)
    Column("boosted_by", JSON),  # [{"ring", "size", "amplifications", "share"}, ...] (+ "other flagged")
    Index("ix_influence_flags_ring", "run_id", "ring"),
)

# Posts that a ring retweeted in coordinated bursts (the amplified post, by platform id).
influence_flagged_posts = Table(
    "influence_flagged_posts",
    metadata,
    Column("run_id", BigId, ForeignKey("influence_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("platform", String(16), primary_key=True),
    Column("platform_id", String(255), primary_key=True),  # the retweeted post
    Column("ring", Integer, primary_key=True),
    Column("account_id", BigId),  # the post's author (accounts.id), when known
    Column("accounts", Integer, nullable=False),  # the ring's members that retweeted it in bursts
    Column("bursts", Integer, nullable=False),
    Column("first_at", UTCDateTime, nullable=False),  # the first burst's first retweet
    Column("last_at", UTCDateTime, nullable=False),  # the last burst's last retweet
)

influence_communities = Table(
    "influence_communities",
    metadata,
    Column("run_id", BigId, ForeignKey("influence_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("community", Integer, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("label", Text, nullable=False),
    Column("top_accounts", JSON),  # account ids, highest score first
    Column("hashtags", JSON),  # [[tag, posts], ...]
    Column("bridges", JSON),  # [{"account_id": ..., "communities": [...]}, ...]
    Column("features", JSON),  # what sets it apart: {"hashtags"|"words"|"domains"|"accounts": [[f, n, z], ...]}
)


# --- alerts ---
# The alert engine (monitor/alerts): one row per incident, its history, who was told, and the
# detectors' state. An alert is opened, updated while the incident lasts and closed when the
# figures are back to normal (closed_at); people acknowledge and resolve it (state).

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("topic", String(64)),  # None for a source alert
    Column("source", String(128)),  # the collector, for source silence
    Column("kind", String(24), nullable=False),  # volume | sentiment | voice | silence | stakeholder | source
    Column("key", String(255), nullable=False),  # the incident: topic, kind and subject
    Column("state", String(16), nullable=False),  # open | acknowledged | resolved
    Column("severity", String(16), nullable=False),  # info | warning | critical (the peak)
    Column("title", Text, nullable=False),
    Column("started_at", UTCDateTime),  # where the unusual window began
    Column("opened_at", UTCDateTime, nullable=False),  # when the detector saw it (data time)
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),  # back to normal (None while it lasts)
    Column("peak", Float),  # the highest level seen (posts per hour, share, amplifiers...)
    Column("current", Float),
    Column("expected", Float),
    Column("ratio", Float),  # current / expected: "how many times normal"
    Column("score", Float),  # robust z-score of the moment
    Column("details", JSON),  # top posts, top accounts, sentiment, window, signals
    Column("acknowledged_by", String(128)),
    Column("acknowledged_at", UTCDateTime),
    Column("resolved_by", String(128)),
    Column("resolved_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),  # wall clock
    Index("ix_alerts_state", "state", "opened_at"),
    Index("ix_alerts_topic", "topic", "opened_at"),
    Index("ix_alerts_key", "key", "opened_at"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_id", BigId, ForeignKey("alerts.id"), nullable=False),
    # opened | reopened | escalated | updated | closed | acknowledged | resolved
    Column("kind", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),  # data time for the detector's events, wall clock for people's
    Column("by", String(128)),  # who (people), or "earshot"
    Column("note", Text),
    Column("severity", String(16)),
    Column("snapshot", JSON),  # current, expected, ratio, peak at that moment
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_alert_events_alert", "alert_id", "id"),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_id", BigId, ForeignKey("alerts.id"), nullable=False),
    Column("event_id", BigId, ForeignKey("alert_events.id")),
    Column("channel", String(16), nullable=False),  # email | webhook | redis
    Column("target", String(512), nullable=False),  # an address, or a webhook's redacted name (never its secret URL)
    Column("format", String(16), nullable=False),  # email | json | teams | slack | redis
    Column("status", String(16), nullable=False),  # pending | sending | sent | failed | skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", UTCDateTime),  # pending: when to try; sending: when the lease runs out
    Column("payload", JSON),  # what a redis push re-sends
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
    Index("ix_alert_deliveries_alert", "alert_id"),
)

alert_state = Table(
    "alert_state",
    metadata,
    Column("key", String(191), primary_key=True),  # topic:<id>, source:<name>
    Column("state", JSON, nullable=False),  # the detector's learnt baseline and open incidents
    Column("version", Integer, nullable=False),  # optimistic lock: concurrent runs never both apply
    Column("updated_at", UTCDateTime, nullable=False),
)


# --- people: dashboard accounts, sessions, the audit log, and people's checks of the machine's work ---
# Written by the dashboard (dashboard/), read by it and the briefing. Post marks change what every
# figure counts (see monitor/marks.py), so they live in the core.

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),  # the sign-in name, stored lower case
    Column("password_hash", Text, nullable=False),  # argon2id (PHC string)
    Column("role", String(16), nullable=False),  # viewer | press | admin
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),
    Column("last_login_at", UTCDateTime),
    UniqueConstraint("name", name="uq_users_name"),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False),  # SHA-256 of the cookie's random token (never the token)
    Column("user_id", BigId, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # absolute lifetime
    Column("last_seen_at", UTCDateTime, nullable=False),  # idle timeout counts from here
    Column("revoked_at", UTCDateTime),
    Column("ip", String(64)),
    Column("user_agent", String(255)),
    UniqueConstraint("token_hash", name="uq_user_sessions_token_hash"),
    Index("ix_user_sessions_user", "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(48), nullable=False),  # what the token is for (lower case), shown in the audit log
    Column("token_hash", String(64), nullable=False),  # SHA-256 of the secret (never the secret)
    Column("prefix", String(16), nullable=False),  # the secret's first characters, to tell tokens apart
    Column("role", String(16), nullable=False),  # viewer | press | admin: what the token may do
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),  # None: until revoked
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("revoked_by", String(64)),
    UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    UniqueConstraint("name", name="uq_api_tokens_name"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),  # the name tried (lower case), known or not
    Column("ip", String(64)),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_login_failures_name", "name", "at"),
    Index("ix_login_failures_ip", "ip", "at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("user_name", String(64)),  # None: someone not signed in (a failed sign-in)
    Column("action", String(32), nullable=False),  # sign-in | sign-in-failed | sign-out | ack | resolve | mark | unmark | export | user-...
    Column("target", String(255)),
    Column("detail", JSON),
    Column("ip", String(64)),
    Index("ix_audit_log_at", "at"),
)

post_marks = Table(
    "post_marks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("post_id", BigId, ForeignKey("posts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # irrelevant | sentiment
    Column("topic", String(64)),  # irrelevant: the topic it was removed from
    Column("terms", JSON),  # irrelevant: the matched terms, put back if undone
    Column("label", String(16)),  # sentiment: negative | neutral | positive, what the person said
    Column("machine_sentiment", Float),  # sentiment: the automatic score when the person looked
    Column("sentiment", Float),  # sentiment: the score now counted for the post
    Column("by", String(128), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("undone_by", String(128)),
    Column("undone_at", UTCDateTime),
    Index("ix_post_marks_post", "post_id", "kind"),
    Index("ix_post_marks_topic", "topic", "kind"),
)

search_state = Table(
    "search_state",
    metadata,
    Column("name", String(32), primary_key=True),  # "posts"
    Column("last_id", BigInteger, nullable=False),  # SQLite: the highest post id in the full-text index
)

# Full-text search objects that are not SQLAlchemy tables: SQLite's FTS5 table ``posts_fts`` (and
# its shadow tables), PostgreSQL's generated column ``posts.search`` and its GIN index. Built by
# migration 0010_dash; the schema comparison leaves them out (see :func:`include_name`).
SEARCH_OBJECTS = frozenset({"posts_fts", "posts_fts_data", "posts_fts_idx", "posts_fts_docsize",
                            "posts_fts_config", "posts_fts_content", "search", "ix_posts_search"})


def include_name(name, type_, parent_names) -> bool:
    """For Alembic's schema comparison: everything but the full-text search objects."""
    return name not in SEARCH_OBJECTS


# --- briefings ---
# The weekly ministerial briefing's archive (briefings/): one row per build of a week (a new
# revision when the data gave different content), with what was composed (private individuals
# already masked), the editor's changes, the rendered e-mail parts and PDF, and its review state;
# every action (built, edited, approved, sent, notified) is a briefing_events row.

briefings = Table(
    "briefings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("week", String(10), nullable=False),  # ISO week, e.g. 2026-W47
    Column("revision", Integer, nullable=False),  # 1, 2, ... per week
    Column("status", String(16), nullable=False),  # draft | approved | sent
    Column("week_start", UTCDateTime, nullable=False),
    Column("week_end", UTCDateTime, nullable=False),
    Column("content", JSON, nullable=False),  # what compose() made (JSON; nobody private named)
    Column("content_hash", String(64), nullable=False),  # of the content alone: the same data gives the same hash
    Column("edits", JSON),  # {"note", "key_messages", "removed", "order"}
    Column("topics", JSON),  # topic ids it reported on (posts or alerts that week), most important first
    Column("subject", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    Column("built_at", UTCDateTime, nullable=False),
    Column("built_by", String(128), nullable=False),
    Column("edited_at", UTCDateTime),
    Column("edited_by", String(128)),
    Column("approved_at", UTCDateTime),
    Column("approved_by", String(128)),
    Column("sent_at", UTCDateTime),
    Column("sent_by", String(128)),
    Column("sent_to", JSON),
    UniqueConstraint("week", "revision", name="uq_briefings_week_revision"),
    Index("ix_briefings_week", "week", "revision"),
)

briefing_events = Table(
    "briefing_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("briefing_id", BigId, ForeignKey("briefings.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # built | rebuilt | edited | approved | sent | send_failed | notified
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(128), nullable=False),
    Column("note", Text),
    Column("detail", JSON),
    Index("ix_briefing_events_briefing", "briefing_id", "id"),
)
