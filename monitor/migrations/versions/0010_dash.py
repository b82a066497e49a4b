"""dashboard: users, sessions, sign-in failures, the audit log, post marks, full-text search of posts

Revision ID: 0010_dash
Revises: 0011_influence
Create Date: 2026-12-01 09:10:00
"""
from alembic import op
import sqlalchemy as sa
import monitor.models


revision = "0010_dash"
down_revision = "0011_influence"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
T = monitor.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("disabled_at", T(), nullable=True),
        sa.Column("last_login_at", T(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("expires_at", T(), nullable=False),
        sa.Column("last_seen_at", T(), nullable=False),
        sa.Column("revoked_at", T(), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name="uq_user_sessions_token_hash"),
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("at", T(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_name", "login_failures", ["name", "at"])
    op.create_index("ix_login_failures_ip", "login_failures", ["ip", "at"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", T(), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "post_marks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("post_id", BigId, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(64), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=True),
        sa.Column("label", sa.String(16), nullable=True),
        sa.Column("machine_sentiment", sa.Float(), nullable=True),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("at", T(), nullable=False),
        sa.Column("undone_by", sa.String(128), nullable=True),
        sa.Column("undone_at", T(), nullable=True),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_post_marks_post_id_posts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_marks")),
    )
    op.create_index("ix_post_marks_post", "post_marks", ["post_id", "kind"])
    op.create_index("ix_post_marks_topic", "post_marks", ["topic", "kind"])
    op.create_table(
        "search_state",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_search_state")),
    )
    # full-text search of posts (see monitor/search.py)
    if op.get_bind().dialect.name == "sqlite":
        # an external-content FTS5 index over posts.title and posts.text, filled up to
        # search_state.last_id before each search (no trigger: ingest counts its inserted rows)
        op.execute("CREATE VIRTUAL TABLE posts_fts USING fts5(title, text, content='posts', content_rowid='id', "
                   "tokenize='unicode61 remove_diacritics 2')")
    else:
        # '<', '>' and '&' become spaces first: PostgreSQL's parser would otherwise take "<script>...</script>"
        # as markup and index nothing inside it, and split "A&E" unlike the query side
        op.execute("ALTER TABLE posts ADD COLUMN search tsvector GENERATED ALWAYS AS "
                   "(to_tsvector('simple', translate(coalesce(title, '') || ' ' || text, '<>&', '   '))) STORED")
        op.execute("CREATE INDEX ix_posts_search ON posts USING GIN (search)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS posts_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_posts_search")
        op.execute("ALTER TABLE posts DROP COLUMN IF EXISTS search")
    op.drop_table("search_state")
    op.drop_index("ix_post_marks_topic", "post_marks")
    op.drop_index("ix_post_marks_post", "post_marks")
    op.drop_table("post_marks")
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_login_failures_ip", "login_failures")
    op.drop_index("ix_login_failures_name", "login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_user_sessions_user", "user_sessions")
    op.drop_table("user_sessions")
    op.drop_table("users")
