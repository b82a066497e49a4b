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
